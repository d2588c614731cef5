//! The certified receipt file (`receipt.json`): what `nexus call --out` and `nexus receipt --out` write and
//! `nexus verify` checks offline, with no replica.
//!
//! The file carries the receipt's canonical bytes (what the Merkle leaf commits to), its Merkle path, and the
//! certificate, all in hex; plus a readable copy of the receipt's fields. Verification decodes the bytes, checks
//! the readable copy says the same (so a reader cannot be shown one output while the signature covers
//! another), then checks the path to the certified receipts root and the group's signature with a plain
//! Ed25519 verifier ([`ReceiptProof::verify_ed25519`]). Every failure names what is wrong.

use nexus_replica::nexus_mpc::batch::{BatchMessage, MerklePath};
use nexus_replica::nexus_mpc::certificate::{Certificate, CertificateError, ReceiptProof, TrustedKey};
use nexus_replica::{Receipt, ZkClaim};
use serde::{Deserialize, Serialize};

/// The format tag of a receipt file.
pub const FORMAT: &str = "nexus-receipt/v1";
/// The certification suite receipt files of this format use.
pub const SUITE: &str = "FROST-ED25519-SHA512-v1";
/// Largest receipt file `nexus verify` reads (a proven call's file carries its proof, tens of MiB, in hex).
pub const MAX_RECEIPT_FILE_BYTES: u64 = 256 << 20;

/// A receipt's fields, readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    pub call_id: u64,
    pub app: String,
    pub function: String,
    pub caller: String,
    pub input_digest: String,
    /// Hex of the output, if the call returned.
    pub output: Option<String>,
    /// How the call ended if it trapped.
    pub trap: Option<String>,
    pub fuel_used: u64,
    pub state_root: String,
    /// For a proven call: the program (SHA-256 digest and image root) and NVM input its proof is of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zk: Option<ZkView>,
}

/// A receipt's [`ZkClaim`], readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZkView {
    pub program_digest: String,
    pub image_root: String,
    pub nvm_input_digest: String,
    pub steps: u64,
}

impl ReceiptView {
    pub fn of(receipt: &Receipt) -> Self {
        Self {
            call_id: receipt.call_id,
            app: receipt.app.to_hex(),
            function: receipt.function.clone(),
            caller: hex::encode(receipt.caller),
            input_digest: hex::encode(receipt.input_digest),
            output: receipt.output.as_ref().map(hex::encode),
            trap: receipt.trap.as_ref().map(|t| t.to_string()),
            fuel_used: receipt.fuel_used,
            state_root: hex::encode(receipt.state_root),
            zk: receipt.zk.as_deref().map(|z| ZkView {
                program_digest: hex::encode(z.program_digest),
                image_root: hex::encode(z.image_root),
                nvm_input_digest: hex::encode(z.nvm_input_digest),
                steps: z.steps,
            }),
        }
    }

    /// The first field in which `self` differs from `other`.
    fn first_difference(&self, other: &Self) -> Option<&'static str> {
        [
            ("call_id", self.call_id != other.call_id),
            ("app", self.app != other.app),
            ("function", self.function != other.function),
            ("caller", self.caller != other.caller),
            ("input_digest", self.input_digest != other.input_digest),
            ("output", self.output != other.output),
            ("trap", self.trap != other.trap),
            ("fuel_used", self.fuel_used != other.fuel_used),
            ("state_root", self.state_root != other.state_root),
            ("zk", self.zk != other.zk),
        ]
        .into_iter()
        .find_map(|(name, differs)| differs.then_some(name))
    }
}

/// The Merkle path, in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathView {
    pub leaf_index: u64,
    pub leaf_count: u64,
    pub siblings: Vec<String>,
}

/// The certificate and the batch message it signs, in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    pub cluster_id: String,
    pub key_epoch: u64,
    pub first_index: u64,
    pub last_index: u64,
    pub receipts_root: String,
    pub state_root: String,
    pub group_key: String,
    pub signature: String,
}

/// A certified receipt file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFile {
    pub format: String,
    pub suite: String,
    /// The log index of the call (its call id).
    pub log_index: u64,
    /// The receipt's canonical bytes (postcard), in hex: what the Merkle leaf commits to.
    pub receipt_bytes: String,
    /// The same receipt, readable; must agree with `receipt_bytes`.
    pub receipt: ReceiptView,
    pub merkle_path: PathView,
    pub certificate: CertificateView,
    /// For a proven call: its NVM proof file, in hex (see [`ReceiptFile::verify_proof`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

/// Why a receipt file does not verify. Each names the part at fault.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("not a receipt file: {0}")]
    Parse(String),
    #[error("unsupported receipt file format {0:?}, expected {FORMAT:?}")]
    Format(String),
    #[error("unsupported certification suite {0:?}, expected {SUITE:?}")]
    Suite(String),
    #[error("field {field} is not valid hex of the right length")]
    Hex { field: &'static str },
    #[error("receipt_bytes do not decode as a receipt: {0}")]
    ReceiptBytes(String),
    #[error("the readable receipt's {0} does not match the certified receipt bytes")]
    ViewMismatch(&'static str),
    #[error("log_index {log_index} is not the receipt's call id {call_id}")]
    LogIndex { log_index: u64, call_id: u64 },
    #[error("the group key given is not 64 hex digits")]
    TrustedKey,
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    #[error("the certified receipt names no NVM program: the call was not made with --zk, or not proven")]
    NotProven,
    #[error("the proof does not verify against the certified image root: {0}")]
    Proof(String),
    #[error("the proof is of another NVM input than the certified one")]
    ProofInput,
    #[error("the proof's output differs from the certified output")]
    ProofOutput,
}

/// What a verified proof of a receipt states, with the certified receipt.
#[derive(Clone, Debug)]
pub struct ProvenCall {
    pub receipt: Receipt,
    pub claim: ZkClaim,
    pub statement: nexus_nvm_circuit::verify::Statement,
    pub proof_bytes: usize,
}

fn hex_array<const N: usize>(value: &str, field: &'static str) -> Result<[u8; N], VerifyError> {
    hex::decode(value).ok().and_then(|b| b.try_into().ok()).ok_or(VerifyError::Hex { field })
}

fn hex_vec(value: &str, field: &'static str) -> Result<Vec<u8>, VerifyError> {
    hex::decode(value).map_err(|_| VerifyError::Hex { field })
}

impl ReceiptFile {
    /// The file for a receipt (its canonical bytes), its path and its batch's certificate.
    pub fn new(receipt_bytes: &[u8], receipt: &Receipt, path: &MerklePath, certificate: &Certificate) -> Self {
        let m = &certificate.message;
        Self {
            format: FORMAT.into(),
            suite: SUITE.into(),
            log_index: receipt.call_id,
            receipt_bytes: hex::encode(receipt_bytes),
            receipt: ReceiptView::of(receipt),
            merkle_path: PathView {
                leaf_index: path.leaf_index,
                leaf_count: path.leaf_count,
                siblings: path.siblings.iter().map(hex::encode).collect(),
            },
            proof: None,
            certificate: CertificateView {
                cluster_id: hex::encode(m.cluster_id),
                key_epoch: certificate.key_epoch,
                first_index: m.first_index,
                last_index: m.last_index,
                receipts_root: hex::encode(m.receipts_root),
                state_root: hex::encode(m.state_root),
                group_key: hex::encode(&certificate.group_key),
                signature: hex::encode(&certificate.signature),
            },
        }
    }

    /// Parses a receipt file's text.
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        serde_json::from_str(text).map_err(|e| VerifyError::Parse(e.to_string()))
    }

    /// The proof the file describes, after checking the format and that the readable receipt matches its bytes.
    pub fn proof(&self) -> Result<(Receipt, ReceiptProof), VerifyError> {
        if self.format != FORMAT {
            return Err(VerifyError::Format(self.format.clone()));
        }
        if self.suite != SUITE {
            return Err(VerifyError::Suite(self.suite.clone()));
        }
        let bytes = hex_vec(&self.receipt_bytes, "receipt_bytes")?;
        let receipt: Receipt = postcard::from_bytes(&bytes).map_err(|e| VerifyError::ReceiptBytes(e.to_string()))?;
        if postcard::to_allocvec(&receipt).ok().as_deref() != Some(bytes.as_slice()) {
            return Err(VerifyError::ReceiptBytes("not in canonical form".into()));
        }
        if let Some(field) = self.receipt.first_difference(&ReceiptView::of(&receipt)) {
            return Err(VerifyError::ViewMismatch(field));
        }
        if self.log_index != receipt.call_id {
            return Err(VerifyError::LogIndex { log_index: self.log_index, call_id: receipt.call_id });
        }
        let c = &self.certificate;
        let siblings = self
            .merkle_path
            .siblings
            .iter()
            .map(|s| hex_array::<32>(s, "merkle_path.siblings"))
            .collect::<Result<_, _>>()?;
        let certificate = Certificate {
            message: BatchMessage {
                cluster_id: hex_array(&c.cluster_id, "certificate.cluster_id")?,
                chain_id: 0,
                key_epoch: c.key_epoch,
                first_index: c.first_index,
                last_index: c.last_index,
                receipts_root: hex_array(&c.receipts_root, "certificate.receipts_root")?,
                state_root: hex_array(&c.state_root, "certificate.state_root")?,
            },
            signature: hex_vec(&c.signature, "certificate.signature")?,
            group_key: hex_vec(&c.group_key, "certificate.group_key")?,
            key_epoch: c.key_epoch,
        };
        let path =
            MerklePath { leaf_index: self.merkle_path.leaf_index, leaf_count: self.merkle_path.leaf_count, siblings };
        Ok((receipt, ReceiptProof { log_index: self.log_index, receipt: bytes, path, certificate }))
    }

    /// Verifies the file offline: the proof is well formed, the receipt is in the certified batch, and the
    /// group signed the batch. With `group_key` (64 hex digits) the certificate must be by that key;
    /// without, by the key the file names (then the caller must compare it with the key it trusts).
    pub fn verify(&self, group_key: Option<&str>) -> Result<Receipt, VerifyError> {
        let (receipt, proof) = self.proof()?;
        let trusted = match group_key {
            Some(key) => Some(TrustedKey {
                group_key: hex_array::<32>(key, "group key").map_err(|_| VerifyError::TrustedKey)?.to_vec(),
                key_epoch: proof.certificate.key_epoch,
            }),
            None => None,
        };
        proof.verify_ed25519(trusted.as_ref())?;
        Ok(receipt)
    }

    /// Verifies the file's proof after the certificate ([`Self::verify`]): the proof verifies against the
    /// certified image root, is of the certified NVM input (the call envelope with the state the call saw),
    /// exited 0, and its result envelope carries the certified output. The certified program digest is the
    /// app's, as the replicas recorded it at deploy; the image root is computed from the same ELF.
    pub fn verify_proof(&self, group_key: Option<&str>) -> Result<ProvenCall, VerifyError> {
        use nexus_nvm_circuit::proof::{NvmParams, NvmProof, verify_image};
        let receipt = self.verify(group_key)?;
        let claim = receipt.zk.as_deref().copied().ok_or(VerifyError::NotProven)?;
        let hex_proof = self.proof.as_deref().ok_or(VerifyError::NotProven)?;
        let bytes = hex_vec(hex_proof, "proof")?;
        let proof = NvmProof::from_bytes(&bytes).map_err(|e| VerifyError::Proof(e.to_string()))?;
        let folding = proof.folding().ok_or_else(|| VerifyError::Proof("no single folding proof".into()))?;
        let params = NvmParams::new(proof.k, folding).map_err(|e| VerifyError::Proof(e.to_string()))?;
        let root = nexus_nvm_circuit::image::fr_from_bytes(&claim.image_root)
            .ok_or_else(|| VerifyError::Proof("the certified image root is not a field element".into()))?;
        let statement = verify_image(&params, root, &proof).map_err(|e| VerifyError::Proof(e.to_string()))?;
        if statement.input_digest != claim.nvm_input_digest {
            return Err(VerifyError::ProofInput);
        }
        let returned: Option<nexus_sdk::nvm_envelope::NvmReturn> = postcard::from_bytes(&proof.output).ok();
        if statement.exit_code != 0 || returned.map(|r| r.output) != receipt.output {
            return Err(VerifyError::ProofOutput);
        }
        Ok(ProvenCall { receipt, claim, statement, proof_bytes: bytes.len() })
    }
}
