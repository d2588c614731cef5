//! The certification state in the replicated log: the group key the DKG produced and the certificates of
//! sealed batches. Pure and deterministic: every replica accepts or ignores the same entries.
//!
//! The group key enters the state through a [`LogCommand::GroupKey`](crate::raft::LogCommand) once every DKG
//! participant confirmed it; from then on seals carry its epoch and certificates are checked against it on
//! apply. Certificates are metadata about the state, not state: they are not in the state root (the root is
//! what they sign), but they are in snapshots, so a replica that catches up serves them too.

use nexus_mpc::certificate::{Certificate, CertificateError, TrustedKey};
use nexus_mpc::evm::Secp256k1EvmVerifier;
use nexus_mpc::{Ed25519Verifier, ParticipantId};
use serde::{Deserialize, Serialize};

/// The certification suite every group has (FROST over Ed25519 with SHA-512): what clients verify offline.
pub type Suite = nexus_mpc::frost_ed25519::Ed25519Sha512;
/// The Ethereum suite (FROST over secp256k1 with a Keccak-256 challenge), when configured.
pub type EvmSuite = nexus_mpc::frost_secp256k1_evm::Secp256K1Keccak256;

/// Which of the group's keys a certificate (or a signing session) is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CertSuite {
    /// [`Suite`], batch messages with chain id 0.
    Ed25519,
    /// [`EvmSuite`], batch messages with the configured chain id.
    Evm,
}

impl CertSuite {
    /// The suite's number in the `Mpc` protocol.
    pub fn to_wire(self) -> u32 {
        match self {
            CertSuite::Ed25519 => 0,
            CertSuite::Evm => 1,
        }
    }

    pub fn from_wire(suite: u32) -> Option<Self> {
        match suite {
            0 => Some(CertSuite::Ed25519),
            1 => Some(CertSuite::Evm),
            _ => None,
        }
    }
}

/// The group's Ethereum key: from the same DKG ceremony as the Ed25519 key, certifying batch messages for one
/// chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmGroupKey {
    /// The EIP-155 chain id its certificates are for (the `chain_id` of the messages it signs).
    pub chain_id: u64,
    /// The compressed secp256k1 group key (33 bytes); its x-coordinate is below the group order, as
    /// `ecrecover` needs.
    pub group_key: Vec<u8>,
    /// frost's serialized `PublicKeyPackage` for this suite.
    pub public_key_package: Vec<u8>,
}

/// Largest serialized public key package accepted in the log (it lists one verifying share per participant).
pub const MAX_PUBLIC_KEY_PACKAGE_BYTES: usize = 64 * 1024;

/// The group key of one epoch, as the log carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupKeyRecord {
    pub key_epoch: u64,
    /// Signers needed for a certificate (t).
    pub threshold: u16,
    /// The DKG participants (replica node id + 1), ascending.
    pub participants: Vec<ParticipantId>,
    /// The group's verifying key (32 bytes for Ed25519).
    pub group_key: Vec<u8>,
    /// frost's serialized `PublicKeyPackage`: the group key and every participant's verifying share, which a
    /// coordinator needs to aggregate and to identify cheaters.
    pub public_key_package: Vec<u8>,
    /// The Ethereum key of the same ceremony, if the replicas certify for a chain.
    pub evm: Option<EvmGroupKey>,
}

/// Why a group key entry is ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupKeyError {
    #[error("key epoch {got} is not after the current epoch {current}")]
    StaleEpoch { got: u64, current: u64 },
    #[error("public key package is {0} bytes, the limit is {MAX_PUBLIC_KEY_PACKAGE_BYTES}")]
    TooLarge(usize),
    #[error("malformed public key package: {0}")]
    Malformed(String),
    #[error("the group key does not match the public key package")]
    KeyMismatch,
    #[error("threshold {threshold} with {participants} participants")]
    Threshold { threshold: u16, participants: usize },
    #[error("the Ethereum key is malformed, does not match its package, or is not usable with ecrecover: {0}")]
    Evm(String),
}

impl GroupKeyRecord {
    /// Checks the record is well formed and follows `current` (the epoch in force, 0 if none).
    pub fn check(&self, current: u64) -> Result<(), GroupKeyError> {
        if self.key_epoch <= current {
            return Err(GroupKeyError::StaleEpoch { got: self.key_epoch, current });
        }
        if self.public_key_package.len() > MAX_PUBLIC_KEY_PACKAGE_BYTES {
            return Err(GroupKeyError::TooLarge(self.public_key_package.len()));
        }
        let package = self.decode_package()?;
        let key = package.verifying_key().serialize().map_err(|e| GroupKeyError::Malformed(e.to_string()))?;
        if key != self.group_key {
            return Err(GroupKeyError::KeyMismatch);
        }
        let n = self.participants.len();
        if self.threshold < 2
            || usize::from(self.threshold) > n
            || package.verifying_shares().len() != n
            || package.min_signers() != Some(self.threshold)
            || !self.participants.windows(2).all(|w| w[0] < w[1])
        {
            return Err(GroupKeyError::Threshold { threshold: self.threshold, participants: n });
        }
        if let Some(evm) = &self.evm {
            let package =
                nexus_mpc::frost_core::keys::PublicKeyPackage::<EvmSuite>::deserialize(&evm.public_key_package)
                    .map_err(|e| GroupKeyError::Evm(e.to_string()))?;
            let key = package.verifying_key().serialize().map_err(|e| GroupKeyError::Evm(e.to_string()))?;
            if key != evm.group_key || !nexus_mpc::evm::evm_key_usable(&key) {
                return Err(GroupKeyError::Evm("key".into()));
            }
            if package.verifying_shares().len() != n || package.min_signers() != Some(self.threshold) {
                return Err(GroupKeyError::Evm("participants or threshold differ from the Ed25519 key's".into()));
            }
        }
        Ok(())
    }

    /// The frost public key package.
    pub fn decode_package(&self) -> Result<nexus_mpc::frost_core::keys::PublicKeyPackage<Suite>, GroupKeyError> {
        nexus_mpc::frost_core::keys::PublicKeyPackage::<Suite>::deserialize(&self.public_key_package)
            .map_err(|e| GroupKeyError::Malformed(e.to_string()))
    }

    /// The key as a verifier trusts it.
    pub fn trusted(&self) -> TrustedKey {
        TrustedKey { group_key: self.group_key.clone(), key_epoch: self.key_epoch }
    }

    /// Checks `certificate` is a valid signature by this group's key of `suite` over a well-formed batch
    /// message for that suite's chain (0 for Ed25519).
    pub fn verify(&self, suite: CertSuite, certificate: &Certificate) -> Result<(), CertificateError> {
        match suite {
            CertSuite::Ed25519 => {
                if certificate.message.chain_id != 0 {
                    return Err(CertificateError::WrongChain { got: certificate.message.chain_id, expected: 0 });
                }
                certificate.verify::<Ed25519Verifier>(Some(&self.trusted()))
            }
            CertSuite::Evm => {
                let evm = self.evm.as_ref().ok_or(CertificateError::WrongGroupKey)?;
                if certificate.message.chain_id != evm.chain_id {
                    return Err(CertificateError::WrongChain {
                        got: certificate.message.chain_id,
                        expected: evm.chain_id,
                    });
                }
                let trusted = TrustedKey { group_key: evm.group_key.clone(), key_epoch: self.key_epoch };
                certificate.verify::<Secp256k1EvmVerifier>(Some(&trusted))
            }
        }
    }

    /// The message `suite` certifies for a batch this replica sealed (sealed messages have chain id 0).
    pub fn message_for(
        &self,
        suite: CertSuite,
        sealed: nexus_mpc::batch::BatchMessage,
    ) -> nexus_mpc::batch::BatchMessage {
        match (suite, &self.evm) {
            (CertSuite::Evm, Some(evm)) => nexus_mpc::batch::BatchMessage { chain_id: evm.chain_id, ..sealed },
            _ => sealed,
        }
    }
}

/// What applying a certificate entry did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertifyOutcome {
    /// Stored. `matches_own` is false if this replica sealed a different message for the batch: its own
    /// execution diverged from the group's, and the receipts it serves will not verify under the certificate.
    Stored { last_index: u64, matches_own: bool },
    /// A certificate for this batch was already stored (several coordinators may certify one batch).
    Duplicate { last_index: u64 },
    /// Not a certificate of the group key in force, or for no batch this replica sealed.
    Ignored(String),
}
