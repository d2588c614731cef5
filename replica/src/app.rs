//! Apps as the replicated state records them.

use std::fmt;

use nexus_wasm_host::CodeHash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An app's identity: derived from its deploy request (deployer and nonce), so it is known before the
/// deploy is applied and never collides (a signer never reuses a nonce).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppId(pub [u8; 32]);

impl AppId {
    pub fn derive(deployer: &[u8; 32], nonce: u64) -> Self {
        let mut h = Sha256::new();
        h.update(b"nexus/app-id/v1\0");
        h.update(deployer);
        h.update(nonce.to_le_bytes());
        Self(h.finalize().into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppId({})", self.to_hex())
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What the state records for an app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// The deployer; the only key allowed to upgrade the app.
    pub owner: [u8; 32],
    /// The current module.
    pub code_hash: CodeHash,
    /// 1 at deploy, +1 per upgrade.
    pub version: u32,
    /// Log index of the deploy.
    pub deployed_at: u64,
    /// The NVM build, if the app was deployed with one.
    pub program: Option<crate::zk::ProgramRecord>,
}
