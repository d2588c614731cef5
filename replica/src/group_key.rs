//! The certification state in the replicated log: the group key the DKG produced and the certificates of
//! sealed batches. Pure and deterministic: every replica accepts or ignores the same entries.
//!
//! The group key enters the state through a [`LogCommand::GroupKey`](crate::raft::LogCommand) once every DKG
//! participant confirmed it; from then on seals carry its epoch and certificates are checked against it on
//! apply. Certificates are metadata about the state, not state: they are not in the state root (the root is
//! what they sign), but they are in snapshots, so a replica that catches up serves them too.

use nexus_mpc::certificate::{Certificate, CertificateError, TrustedKey};
use nexus_mpc::{Ed25519Verifier, ParticipantId};
use serde::{Deserialize, Serialize};

/// The certification suite of the group key (FROST over Ed25519 with SHA-512).
pub type Suite = nexus_mpc::frost_ed25519::Ed25519Sha512;

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

    /// Checks `certificate` is a valid signature by this group key over a well-formed batch message.
    pub fn verify(&self, certificate: &Certificate) -> Result<(), CertificateError> {
        certificate.verify::<Ed25519Verifier>(Some(&self.trusted()))
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
