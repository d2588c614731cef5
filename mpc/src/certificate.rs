//! Certificates and receipt proofs, and their offline verification.
//!
//! Nothing here runs FROST: an aggregated FROST-Ed25519 signature is a standard Ed25519 signature, so
//! [`Ed25519Verifier`] checks it with `ed25519-dalek`'s `verify_strict` alone, and a client can verify a
//! receipt with no replica and no threshold code.

use serde::{Deserialize, Serialize};

use crate::batch::{BatchMessage, MerkleError, MerklePath, receipt_digest, verify_path};

/// A threshold signature over one batch message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The certified batch.
    pub message: BatchMessage,
    /// The aggregated signature over `message.encode()`, in the suite's standard encoding (64 bytes for
    /// Ed25519).
    pub signature: Vec<u8>,
    /// The group public key, in the suite's standard encoding (32 bytes for Ed25519).
    pub group_key: Vec<u8>,
    /// Epoch of the group key; must equal `message.key_epoch`.
    pub key_epoch: u64,
}

/// A group key the verifier trusts (from its configuration, `--group-key`, or the replicated state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// The group public key bytes.
    pub group_key: Vec<u8>,
    /// Its epoch.
    pub key_epoch: u64,
}

/// Why a certificate or receipt proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("the group key is not a valid public key")]
    MalformedGroupKey,
    #[error("the signature is malformed ({0} bytes)")]
    MalformedSignature(usize),
    #[error("the signature does not verify for this message and group key")]
    BadSignature,
    #[error("the certificate's group key is not the trusted group key")]
    WrongGroupKey,
    #[error("the certificate is for chain {got}, expected chain {expected}")]
    WrongChain { got: u64, expected: u64 },
    #[error("the certificate is for key epoch {got}, the trusted key is epoch {trusted}")]
    WrongKeyEpoch { got: u64, trusted: u64 },
    #[error("the certificate's key epoch {certificate} differs from its message's key epoch {message}")]
    EpochMismatch { certificate: u64, message: u64 },
    #[error("the certified message is invalid: {0}")]
    BadMessage(#[from] crate::batch::BatchError),
    #[error("receipt log index {index} is not in the certified range {first}..={last}")]
    IndexNotInRange { index: u64, first: u64, last: u64 },
    #[error("bad Merkle path: {0}")]
    BadMerklePath(MerkleError),
    #[error("the receipt and its Merkle path do not lead to the certified receipts root")]
    ReceiptMismatch,
}

/// A verifier for one suite's aggregated signatures that uses no FROST code.
///
/// Contract (the shared test suite checks it): a key that does not decode is
/// [`CertificateError::MalformedGroupKey`], a signature of the wrong length is
/// [`CertificateError::MalformedSignature`], and any other failure is [`CertificateError::BadSignature`].
pub trait OfflineVerifier {
    /// The suite's name, for messages and encodings.
    const SUITE: &'static str;
    /// Checks `signature` over `message` under `group_key`.
    fn verify(group_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), CertificateError>;
}

/// Ed25519 (RFC 8032) with `ed25519-dalek`'s strict verification: FROST-Ed25519 output is a standard Ed25519
/// signature.
#[derive(Clone, Copy, Debug)]
pub struct Ed25519Verifier;

impl OfflineVerifier for Ed25519Verifier {
    const SUITE: &'static str = "FROST-ED25519-SHA512-v1";

    fn verify(group_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), CertificateError> {
        let key: &[u8; 32] = group_key.try_into().map_err(|_| CertificateError::MalformedGroupKey)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| CertificateError::MalformedGroupKey)?;
        let signature = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|_| CertificateError::MalformedSignature(signature.len()))?;
        key.verify_strict(message, &signature).map_err(|_| CertificateError::BadSignature)
    }
}

impl Certificate {
    /// Verifies the certificate: the group key is the trusted one (if given) of the same epoch, the epochs
    /// agree, the message is well formed, and the signature verifies.
    pub fn verify<V: OfflineVerifier>(&self, trusted: Option<&TrustedKey>) -> Result<(), CertificateError> {
        if let Some(trusted) = trusted {
            if self.group_key != trusted.group_key {
                return Err(CertificateError::WrongGroupKey);
            }
            if self.key_epoch != trusted.key_epoch {
                return Err(CertificateError::WrongKeyEpoch { got: self.key_epoch, trusted: trusted.key_epoch });
            }
        }
        if self.key_epoch != self.message.key_epoch {
            return Err(CertificateError::EpochMismatch {
                certificate: self.key_epoch,
                message: self.message.key_epoch,
            });
        }
        self.message.check()?;
        V::verify(&self.group_key, &self.message.encode(), &self.signature)
    }

    /// [`Certificate::verify`] for Ed25519.
    pub fn verify_ed25519(&self, trusted: Option<&TrustedKey>) -> Result<(), CertificateError> {
        self.verify::<Ed25519Verifier>(trusted)
    }
}

/// A receipt with everything needed to check offline that the group certified it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptProof {
    /// Log index of the entry the receipt is for.
    pub log_index: u64,
    /// The receipt's canonical bytes.
    pub receipt: Vec<u8>,
    /// Path from the receipt's digest to the certified receipts root.
    pub path: MerklePath,
    /// The certificate of the batch holding the receipt.
    pub certificate: Certificate,
}

impl ReceiptProof {
    /// Verifies the certificate, that the receipt's index is in the certified range, and that the receipt is
    /// in the certified receipts tree at its path.
    pub fn verify<V: OfflineVerifier>(&self, trusted: Option<&TrustedKey>) -> Result<(), CertificateError> {
        self.certificate.verify::<V>(trusted)?;
        let m = &self.certificate.message;
        if !m.contains_index(self.log_index) {
            return Err(CertificateError::IndexNotInRange {
                index: self.log_index,
                first: m.first_index,
                last: m.last_index,
            });
        }
        // A batch holds at most one receipt per log entry.
        if self.path.leaf_count > (m.last_index - m.first_index).saturating_add(1) {
            return Err(CertificateError::BadMerklePath(MerkleError::TooManyLeaves(self.path.leaf_count)));
        }
        let digest = receipt_digest(self.log_index, &self.receipt);
        verify_path(&m.receipts_root, &digest, &self.path).map_err(|e| match e {
            MerkleError::RootMismatch => CertificateError::ReceiptMismatch,
            other => CertificateError::BadMerklePath(other),
        })
    }

    /// [`ReceiptProof::verify`] for Ed25519.
    pub fn verify_ed25519(&self, trusted: Option<&TrustedKey>) -> Result<(), CertificateError> {
        self.verify::<Ed25519Verifier>(trusted)
    }
}
