//! The replica's tables in redb, and read-only views of them.
//!
//! Everything a log entry changes is written in one write transaction together with the applied index, so
//! a crash leaves either all of a batch or none of it.

use std::ops::Bound;
use std::sync::Arc;

use nexus_wasm_host::{StateError, StateView};
use redb::{ReadTransaction, TableDefinition};

use crate::app::AppId;

/// Small values by name: applied index, state root.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// App id → postcard(AppRecord).
pub const APPS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("apps");
/// Code hash → module bytes.
pub const MODULES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("modules");
/// App id ‖ key → value: all app state.
pub const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("app_state");
/// Signer → last nonce used.
pub const NONCES: TableDefinition<&[u8], u64> = TableDefinition::new("nonces");
/// Call id (log index) → postcard(Receipt).
pub const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");

/// Seal index (the batch's last log index) → postcard(BatchMessage): the sealed batches.
pub const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");

/// Key epoch → postcard(GroupKeyRecord): the group keys adopted through the log.
pub const GROUP_KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("group_keys");
/// Seal index → postcard(Certificate): the certified batches.
pub const CERTIFICATES: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");
/// Seal index → postcard(Certificate): the batches certified for Ethereum (FROST-secp256k1-Keccak256).
pub const EVM_CERTIFICATES: TableDefinition<u64, &[u8]> = TableDefinition::new("evm_certificates");

/// Program digest → ELF bytes: the apps' NVM builds.
pub const PROGRAMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("programs");
/// Call id → postcard(ZkJob): the proving jobs of calls made with `zk`.
pub const ZK_JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("zk_jobs");

/// The table of a suite's certificates.
pub fn certificates_table(suite: crate::group_key::CertSuite) -> TableDefinition<'static, u64, &'static [u8]> {
    match suite {
        crate::group_key::CertSuite::Ed25519 => CERTIFICATES,
        crate::group_key::CertSuite::Evm => EVM_CERTIFICATES,
    }
}

pub const META_APPLIED: &str = "applied_index";
pub const META_ROOT: &str = "state_root";

/// The key under which an app's state key is stored: the fixed-size app id keeps each app's keys
/// contiguous and in the app's own key order.
pub fn state_key(app: &AppId, key: &[u8]) -> Vec<u8> {
    [app.0.as_slice(), key].concat()
}

fn fault(e: impl std::fmt::Display) -> StateError {
    StateError(e.to_string())
}

/// One app's committed state, read through a read transaction (a consistent snapshot).
pub struct AppSnapshot {
    pub read: Arc<ReadTransaction>,
    pub app: AppId,
}

impl StateView for AppSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let table = match self.read.open_table(STATE) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(fault(e)),
        };
        Ok(table.get(state_key(&self.app, key).as_slice()).map_err(fault)?.map(|v| v.value().to_vec()))
    }

    fn next_key(&self, from: Bound<&[u8]>) -> Result<Option<Vec<u8>>, StateError> {
        let table = match self.read.open_table(STATE) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(fault(e)),
        };
        let start = match from {
            Bound::Included(k) => Bound::Included(state_key(&self.app, k)),
            Bound::Excluded(k) => Bound::Excluded(state_key(&self.app, k)),
            Bound::Unbounded => Bound::Included(self.app.0.to_vec()),
        };
        let range = (start.as_ref().map(Vec::as_slice), Bound::Unbounded::<&[u8]>);
        let mut iter = table.range::<&[u8]>(range).map_err(fault)?;
        match iter.next() {
            Some(entry) => {
                let (key, _) = entry.map_err(fault)?;
                let key = key.value();
                Ok(key.strip_prefix(self.app.0.as_slice()).map(<[u8]>::to_vec))
            }
            None => Ok(None),
        }
    }
}
