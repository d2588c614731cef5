//! Certificates, receipts and deployments as the contracts take them (ABI calldata).
//!
//! A certificate (`nexus_mpc::certificate::Certificate`, FROST(secp256k1, Keccak-256) suite) becomes a
//! [`CertificateCalldata`]: the batch message field by field (the contract rebuilds its 152 signed bytes), the
//! group key as x and the parity of y ([`EvmKey`]), and the signature with R uncompressed ([`EvmSignature`]). A
//! receipt proof adds the log index, the receipt's bytes and its Merkle path ([`ReceiptCalldata`]).

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolCall, SolConstructor};
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::{AffinePoint, EncodedPoint};
use nexus_mpc::batch::{BatchMessage, MerklePath};
use nexus_mpc::certificate::{Certificate, ReceiptProof};
use nexus_mpc::evm::{EvmKey, EvmSignature};

use crate::BridgeError;
use crate::abi;
use crate::artifacts;

/// The batch message's fields as the contract's `Batch`.
pub fn batch(message: &BatchMessage) -> abi::Batch {
    abi::Batch {
        clusterId: B256::from(message.cluster_id),
        chainId: message.chain_id,
        keyEpoch: message.key_epoch,
        firstIndex: message.first_index,
        lastIndex: message.last_index,
        receiptsRoot: B256::from(message.receipts_root),
        stateRoot: B256::from(message.state_root),
    }
}

/// A group key as the contract's `GroupKey`.
pub fn group_key(key: &EvmKey) -> abi::GroupKey {
    abi::GroupKey { x: U256::from_be_bytes(key.x), yParity: key.y_parity }
}

/// A signature as the contract's `Signature`.
pub fn signature(signature: &EvmSignature) -> abi::Signature {
    abi::Signature {
        rx: U256::from_be_bytes(signature.rx),
        ry: U256::from_be_bytes(signature.ry),
        z: U256::from_be_bytes(signature.z),
    }
}

/// A Merkle path as the contract's `MerklePath`.
pub fn merkle_path(path: &MerklePath) -> abi::MerklePath {
    abi::MerklePath {
        leafIndex: path.leaf_index,
        leafCount: path.leaf_count,
        siblings: path.siblings.iter().copied().map(B256::from).collect(),
    }
}

/// A group key as the contracts take it, from its 33-byte compressed SEC1 form (tag 0x02 or 0x03, then x), if
/// it is usable on Ethereum ([`nexus_mpc::evm::evm_key_usable`]). Other 33-byte SEC1 forms (the "compact" tag
/// 0x05) are refused: the parity of y is read from the tag.
pub fn evm_key(compressed: &[u8]) -> Result<EvmKey, BridgeError> {
    match compressed {
        [0x02 | 0x03, ..] if compressed.len() == 33 => {
            EvmKey::from_compressed(compressed).ok_or(BridgeError::UnusableKey)
        }
        _ => Err(BridgeError::UnusableKey),
    }
}

/// A group key's affine coordinates (x, y), from its 33-byte compressed form, if it is usable on Ethereum
/// (a valid point with 0 < x < n: [`nexus_mpc::evm::evm_key_usable`]). The contracts take y when a key is
/// installed, to check it is on the curve without computing a square root.
pub fn key_coordinates(compressed: &[u8]) -> Result<(U256, U256), BridgeError> {
    evm_key(compressed)?;
    let encoded = EncodedPoint::from_bytes(compressed).map_err(|_| BridgeError::UnusableKey)?;
    let point =
        Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&encoded)).ok_or(BridgeError::UnusableKey)?;
    let uncompressed = point.to_encoded_point(false);
    let (Some(x), Some(y)) = (uncompressed.x(), uncompressed.y()) else { return Err(BridgeError::UnusableKey) };
    Ok((U256::from_be_slice(x), U256::from_be_slice(y)))
}

/// A certificate in calldata form: the contracts' `Certificate`.
pub type CertificateCalldata = abi::Certificate;

impl abi::Certificate {
    /// From a FROST(secp256k1, Keccak-256) certificate. Checks the formats only (epochs agree, the index range
    /// is not empty, the key is usable on Ethereum, the signature decodes): whether it verifies is the
    /// contract's (or `Certificate::verify`'s) business.
    pub fn from_certificate(certificate: &Certificate) -> Result<Self, BridgeError> {
        if certificate.key_epoch != certificate.message.key_epoch {
            return Err(BridgeError::EpochMismatch {
                certificate: certificate.key_epoch,
                message: certificate.message.key_epoch,
            });
        }
        certificate.message.check()?;
        let key = evm_key(&certificate.group_key)?;
        let sig = EvmSignature::from_frost(&certificate.signature).map_err(BridgeError::Signature)?;
        Ok(abi::Certificate { batch: batch(&certificate.message), key: group_key(&key), signature: signature(&sig) })
    }

    /// `NexusVerifier.verifyCertificate(certificate)`.
    pub fn verify_certificate_call(&self) -> Vec<u8> {
        abi::NexusVerifier::verifyCertificateCall { certificate: self.clone() }.abi_encode()
    }
}

/// A receipt with its path and certificate, in calldata form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptCalldata {
    pub certificate: CertificateCalldata,
    pub log_index: u64,
    pub receipt: Bytes,
    pub path: abi::MerklePath,
}

impl ReceiptCalldata {
    /// From a receipt proof whose certificate is of the FROST(secp256k1, Keccak-256) suite.
    pub fn from_proof(proof: &ReceiptProof) -> Result<Self, BridgeError> {
        Ok(ReceiptCalldata {
            certificate: CertificateCalldata::from_certificate(&proof.certificate)?,
            log_index: proof.log_index,
            receipt: Bytes::copy_from_slice(&proof.receipt),
            path: merkle_path(&proof.path),
        })
    }

    /// `NexusVerifier.verifyReceipt(certificate, logIndex, receipt, path)`.
    pub fn verify_receipt_call(&self) -> Vec<u8> {
        abi::NexusVerifier::verifyReceiptCall {
            certificate: self.certificate.clone(),
            logIndex: self.log_index,
            receipt: self.receipt.clone(),
            path: self.path.clone(),
        }
        .abi_encode()
    }

    /// `NexusConsumer.fulfill(requestId, certificate, logIndex, receipt, path)`.
    pub fn fulfill_call(&self, request_id: U256) -> Vec<u8> {
        abi::NexusConsumer::fulfillCall {
            requestId: request_id,
            certificate: self.certificate.clone(),
            logIndex: self.log_index,
            receipt: self.receipt.clone(),
            path: self.path.clone(),
        }
        .abi_encode()
    }
}

/// The creation transaction's data for a `NexusVerifier` of `cluster_id` trusting `group_key` (compressed,
/// FROST(secp256k1, Keccak-256)) at `key_epoch`.
pub fn verifier_deployment(cluster_id: [u8; 32], group_key: &[u8], key_epoch: u64) -> Result<Vec<u8>, BridgeError> {
    let (x, y) = key_coordinates(group_key)?;
    let mut code = artifacts::NEXUS_VERIFIER.creation_code()?;
    code.extend(
        abi::NexusVerifier::constructorCall { cluster: B256::from(cluster_id), x, y, epoch: key_epoch }.abi_encode(),
    );
    Ok(code)
}

/// The creation transaction's data for a `NexusConsumer` of the Nexus app `app` whose cluster's verifier is at
/// `verifier`.
pub fn consumer_deployment(verifier: Address, app: [u8; 32]) -> Result<Vec<u8>, BridgeError> {
    let mut code = artifacts::NEXUS_CONSUMER.creation_code()?;
    code.extend(abi::NexusConsumer::constructorCall { verifier_: verifier, app_: B256::from(app) }.abi_encode());
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_mpc::CertificateError;

    const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    const G_Y: &str = "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";

    fn certificate() -> Certificate {
        let message = BatchMessage {
            cluster_id: [1; 32],
            chain_id: 1,
            key_epoch: 2,
            first_index: 3,
            last_index: 4,
            receipts_root: [5; 32],
            state_root: [6; 32],
        };
        // R = G, z = 1: well formed (not a valid signature, which encoding does not check).
        let mut signature = hex::decode(G).unwrap();
        signature.extend([0u8; 31]);
        signature.push(1);
        Certificate { message, signature, group_key: hex::decode(G).unwrap(), key_epoch: 2 }
    }

    #[test]
    fn a_well_formed_certificate_encodes_field_by_field() {
        let c = abi::Certificate::from_certificate(&certificate()).unwrap();
        assert_eq!(c.batch, batch(&certificate().message));
        assert_eq!((c.key.x, c.key.yParity), (U256::from_be_slice(&hex::decode(&G[2..]).unwrap()), 0));
        assert_eq!(c.signature.ry, U256::from_be_slice(&hex::decode(G_Y).unwrap()));
        assert_eq!(c.signature.z, U256::from(1));
        // The calldata is the selector and the certificate in place (12 words).
        assert_eq!(c.verify_certificate_call().len(), 4 + 12 * 32);
    }

    #[test]
    fn malformed_certificates_are_refused_with_the_reason() {
        let mut c = certificate();
        c.key_epoch = 3;
        assert_eq!(
            abi::Certificate::from_certificate(&c),
            Err(BridgeError::EpochMismatch { certificate: 3, message: 2 })
        );
        let mut c = certificate();
        c.message.first_index = 5;
        assert!(matches!(abi::Certificate::from_certificate(&c), Err(BridgeError::Batch(_))));
        let mut c = certificate();
        c.group_key[0] = 5;
        assert_eq!(abi::Certificate::from_certificate(&c), Err(BridgeError::UnusableKey));
        let mut c = certificate();
        c.signature.pop();
        assert_eq!(
            abi::Certificate::from_certificate(&c),
            Err(BridgeError::Signature(CertificateError::MalformedSignature(64)))
        );
        let mut c = certificate();
        c.signature[0] = 9;
        assert_eq!(abi::Certificate::from_certificate(&c), Err(BridgeError::Signature(CertificateError::BadSignature)));
    }

    #[test]
    fn key_coordinates_decompress() {
        let (x, y) = key_coordinates(&hex::decode(G).unwrap()).unwrap();
        assert_eq!(x, U256::from_be_slice(&hex::decode(&G[2..]).unwrap()));
        assert_eq!(y, U256::from_be_slice(&hex::decode(G_Y).unwrap()));
        assert_eq!(key_coordinates(&[2u8; 5]), Err(BridgeError::UnusableKey));
    }
}
