//! What applying a log entry produces.

use nexus_wasm_host::{CodeHash, Trap};
use serde::{Deserialize, Serialize};

use crate::app::AppId;

/// The result of one call, as every replica computes it. The call id is the log index of the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub call_id: u64,
    pub app: AppId,
    pub function: String,
    pub caller: [u8; 32],
    /// SHA-256 of the call input.
    pub input_digest: [u8; 32],
    /// The output if the call returned.
    pub output: Option<Vec<u8>>,
    /// How the call ended if it did not return; its state writes were discarded.
    pub trap: Option<Trap>,
    pub fuel_used: u64,
    /// The state root after this call.
    pub state_root: [u8; 32],
    /// For a call made with `zk` whose NVM run agreed with the wasm run: the program and NVM input its proof
    /// is of (boxed: most receipts have none). Last, so the fields before keep their offsets in the encoding (the
    /// bridge parses that prefix).
    pub zk: Option<Box<crate::zk::ZkClaim>>,
}

/// Why a request in the log was refused. Deterministic: every replica refuses the same requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("signature does not verify")]
    BadSignature,
    #[error("nonce {nonce} is not above the signer's last nonce {last}")]
    ReplayedNonce { nonce: u64, last: u64 },
    #[error("unknown app {0}")]
    UnknownApp(AppId),
    #[error("only the app's owner may upgrade it")]
    NotOwner,
    #[error("module refused: {0}")]
    InvalidModule(String),
    #[error("call refused: {0}")]
    BadCall(String),
    #[error("NVM program refused: {0}")]
    InvalidProgram(String),
    #[error("app {0} was deployed without an NVM build (its .elf), so its calls cannot be proven")]
    NotProvable(AppId),
}

/// The result of applying one log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyOutcome {
    Deployed {
        app: AppId,
        code_hash: CodeHash,
    },
    Upgraded {
        app: AppId,
        code_hash: CodeHash,
        version: u32,
    },
    Called(Receipt),
    Rejected(Rejection),
    /// A seal closed a batch; the message every replica built for it.
    Sealed(nexus_mpc::batch::BatchMessage),
    /// A group key entry: adopted, or ignored with the reason (stale epoch, malformed).
    GroupKey {
        key_epoch: u64,
        adopted: Result<(), String>,
    },
    /// A certificate entry.
    Certify(crate::group_key::CertifyOutcome),
    /// A proving job's result entry: whether it ended the job (a job ends once).
    ZkResult {
        call_id: u64,
        ended: bool,
    },
}
