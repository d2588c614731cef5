//! Raft's own records in the state machine's database: the last applied log id and the last applied
//! membership.
//!
//! They are written in the same write transaction as the entries they describe (through
//! `StateMachine::apply_log_entries`' `extra` hook) and as an installed snapshot, so after any crash the
//! applied log id, the membership and the state they describe agree: openraft re-applies exactly the entries
//! after the recorded log id, never one twice and never one too few.

use redb::{ReadTransaction, TableDefinition, WriteTransaction};

use super::{LogId, RaftStoreError, StoredMembership};

/// Name → postcard value. Its own table, so the state machine's tables stay exactly the state.
pub(crate) const RAFT_APPLIED: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_applied");

const LAST_APPLIED: &str = "last_applied_log_id";
const MEMBERSHIP: &str = "last_membership";

/// What the state machine has applied, from Raft's point of view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

impl Applied {
    pub(crate) fn read(read: &ReadTransaction) -> Result<Self, RaftStoreError> {
        let table = match read.open_table(RAFT_APPLIED) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Self::default()),
            Err(e) => return Err(e.into()),
        };
        let last_applied = match table.get(LAST_APPLIED)? {
            Some(v) => postcard::from_bytes(v.value())
                .map_err(|e| RaftStoreError::Corrupt(format!("last applied log id: {e}")))?,
            None => None,
        };
        let membership = match table.get(MEMBERSHIP)? {
            Some(v) => postcard::from_bytes(v.value())
                .map_err(|e| RaftStoreError::Corrupt(format!("last applied membership: {e}")))?,
            None => StoredMembership::default(),
        };
        Ok(Self { last_applied, membership })
    }

    pub(crate) fn write(&self, txn: &WriteTransaction) -> Result<(), RaftStoreError> {
        let mut table = txn.open_table(RAFT_APPLIED)?;
        let last = postcard::to_allocvec(&self.last_applied).map_err(|e| RaftStoreError::Storage(e.to_string()))?;
        let membership = postcard::to_allocvec(&self.membership).map_err(|e| RaftStoreError::Storage(e.to_string()))?;
        table.insert(LAST_APPLIED, last.as_slice())?;
        table.insert(MEMBERSHIP, membership.as_slice())?;
        Ok(())
    }
}
