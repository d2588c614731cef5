//! Key rotation: the message the key in force signs to hand over to the next key, and the call that installs it.
//!
//! The message is abi.encodePacked(bytes24 "nexus/bridge/rotate/v1\0\0", bytes32 clusterId, uint64 chainId,
//! uint64 oldEpoch, uint64 newEpoch, bytes32 newKeyX, uint8 newKeyParity) (113 bytes), signed with FROST
//! (secp256k1, Keccak-256) by the group key of `oldEpoch`, exactly as a batch message is. Its own domain tag
//! means a rotation signature is never a certificate and the other way round; the cluster and chain ids bind
//! it to one cluster's verifiers on one chain. `NexusVerifier.rotateKey` rebuilds the message from its own
//! state (cluster, chain, epoch in force) and the call's arguments, so nothing in it can be swapped.

use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use nexus_mpc::OfflineVerifier;
use nexus_mpc::evm::{EvmKey, EvmSignature, Secp256k1EvmVerifier};

use crate::calldata::{evm_key, group_key, key_coordinates, signature};
use crate::{BridgeError, abi};

/// Domain tag of a rotation message.
pub const ROTATION_DOMAIN: &[u8; 24] = b"nexus/bridge/rotate/v1\0\0";
/// Length of an encoded [`RotationMessage`].
pub const ROTATION_MESSAGE_LEN: usize = ROTATION_DOMAIN.len() + 32 + 8 + 8 + 8 + 32 + 1;

/// What the key of `old_epoch` signs to make `new_key` the key of `new_epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationMessage {
    pub cluster_id: [u8; 32],
    /// The chain (EIP-155 id) of the verifier that is to rotate.
    pub chain_id: u64,
    pub old_epoch: u64,
    pub new_epoch: u64,
    pub new_key: EvmKey,
}

impl RotationMessage {
    /// The rotation to `new_group_key` (compressed), which must be usable on Ethereum, at a later epoch.
    pub fn new(
        cluster_id: [u8; 32],
        chain_id: u64,
        old_epoch: u64,
        new_epoch: u64,
        new_group_key: &[u8],
    ) -> Result<Self, BridgeError> {
        if new_epoch <= old_epoch {
            return Err(BridgeError::EpochNotIncreasing { old: old_epoch, new: new_epoch });
        }
        let new_key = evm_key(new_group_key)?;
        Ok(RotationMessage { cluster_id, chain_id, old_epoch, new_epoch, new_key })
    }

    /// The signed bytes.
    pub fn encode(&self) -> [u8; ROTATION_MESSAGE_LEN] {
        let mut out = [0u8; ROTATION_MESSAGE_LEN];
        let parts: [&[u8]; 7] = [
            ROTATION_DOMAIN,
            &self.cluster_id,
            &self.chain_id.to_be_bytes(),
            &self.old_epoch.to_be_bytes(),
            &self.new_epoch.to_be_bytes(),
            &self.new_key.x,
            &[self.new_key.y_parity],
        ];
        let mut at = 0;
        for part in parts {
            out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        out
    }

    /// Checks a 65-byte FROST signature over the message by `old_group_key` (compressed), with the same plain
    /// verifier as certificates (k256 and Keccak-256, no FROST code).
    pub fn verify(&self, old_group_key: &[u8], frost_signature: &[u8]) -> Result<(), BridgeError> {
        Secp256k1EvmVerifier::verify(old_group_key, &self.encode(), frost_signature).map_err(BridgeError::Signature)
    }

    /// `NexusVerifier.rotateKey(current, signature, newEpoch, newX, newY)`: `old_group_key` is the key in force
    /// (compressed), `frost_signature` its 65-byte signature over this message, `new_group_key` the new key
    /// (compressed; the contract takes its y to check it is on the curve).
    pub fn rotate_call(
        &self,
        old_group_key: &[u8],
        frost_signature: &[u8],
        new_group_key: &[u8],
    ) -> Result<Vec<u8>, BridgeError> {
        let current = evm_key(old_group_key)?;
        if evm_key(new_group_key)? != self.new_key {
            return Err(BridgeError::KeyMismatch);
        }
        let (new_x, new_y): (U256, U256) = key_coordinates(new_group_key)?;
        let sig = EvmSignature::from_frost(frost_signature).map_err(BridgeError::Signature)?;
        Ok(abi::NexusVerifier::rotateKeyCall {
            current: group_key(&current),
            signature: signature(&sig),
            newEpoch: self.new_epoch,
            newX: new_x,
            newY: new_y,
        }
        .abi_encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator, compressed: a usable key with a known x.
    const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    #[test]
    fn the_message_is_abi_encode_packed_of_its_fields() {
        let key = hex::decode(G).unwrap();
        let m = RotationMessage::new([7; 32], 31_337, 3, 4, &key).unwrap();
        let bytes = m.encode();
        assert_eq!(bytes.len(), 113);
        assert_eq!(&bytes[..24], b"nexus/bridge/rotate/v1\0\0");
        assert_eq!(&bytes[24..56], &[7; 32]);
        assert_eq!(&bytes[56..64], &31_337u64.to_be_bytes());
        assert_eq!(&bytes[64..72], &3u64.to_be_bytes());
        assert_eq!(&bytes[72..80], &4u64.to_be_bytes());
        assert_eq!(&bytes[80..112], &key[1..]);
        assert_eq!(bytes[112], 0);
    }
}
