//! The Raft log on redb: vote, committed log id, entries and the last purged log id, in a database of its own.
//!
//! Every write is one redb write transaction committed with the default `Immediate` durability (fsync) before
//! the call returns, and openraft issues log writes one at a time, awaiting each: so a vote and the entries
//! around it reach the disk in the order openraft asked for, and a crash never leaves a later write without an
//! earlier one. A vote must be on disk before the node answers for it; an entry before the node acknowledges
//! it to the leader.
//!
//! Entries are postcard-encoded under their index. Truncation and purge remove ranges from the end and the
//! start in one transaction each, so the log never has a hole; purge records the purged log id in the same
//! transaction, so `get_log_state` stays right after a crash.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::IOFlushed;
use openraft::{LogState, OptionalSend, RaftLogReader};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Entry, LogId, RaftStoreError, TypeConfig, Vote, blocking};
use crate::request::MAX_REQUEST_BYTES;

/// Index → postcard(Entry).
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Name → postcard value: vote, committed log id, last purged log id.
const LOG_META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_log_meta");

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged_log_id";

/// Largest encoded log entry stored or read back: a request of the largest accepted size plus room for the
/// log id and framing. Entries come from the leader over the network; a larger one is refused, not stored.
pub const MAX_LOG_ENTRY_BYTES: usize = MAX_REQUEST_BYTES + (64 << 10);

/// How many bytes of entries one `limited_get_log_entries` call returns at most (always at least one entry),
/// so replication to a follower that is far behind sends bounded batches.
pub const MAX_READ_BATCH_BYTES: usize = 16 << 20;

/// The log store. Cheap to clone: clones share the database, which serves any number of readers (replication
/// tasks) concurrently with the one writer.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    /// The committed index as last saved, and when it was last written to disk (see `save_committed`).
    committed: Arc<std::sync::Mutex<(Option<LogId>, Option<std::time::Instant>)>>,
}

/// How often the committed index is written to disk at most.
pub const COMMITTED_WRITE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

fn corrupt(what: &str, e: impl std::fmt::Display) -> RaftStoreError {
    RaftStoreError::Corrupt(format!("{what}: {e}"))
}

fn encode<T: serde::Serialize>(what: &str, value: &T) -> Result<Vec<u8>, RaftStoreError> {
    postcard::to_allocvec(value).map_err(|e| RaftStoreError::Storage(format!("encoding {what}: {e}")))
}

fn decode_entry(index: u64, bytes: &[u8]) -> Result<Entry, RaftStoreError> {
    if bytes.len() > MAX_LOG_ENTRY_BYTES {
        return Err(corrupt("log entry", format!("entry {index} is {} bytes", bytes.len())));
    }
    let entry: Entry = postcard::from_bytes(bytes).map_err(|e| corrupt("log entry", format!("entry {index}: {e}")))?;
    if entry.log_id.index != index {
        return Err(corrupt("log entry", format!("entry stored at {index} has index {}", entry.log_id.index)));
    }
    Ok(entry)
}

impl LogStore {
    /// Opens (or creates) the log database at `path`.
    pub fn open(path: &Path) -> Result<Self, RaftStoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        // Create the tables up front, so readers never meet a missing one.
        txn.open_table(LOG)?;
        txn.open_table(LOG_META)?;
        txn.commit()?;
        Ok(Self { db: Arc::new(db), committed: Default::default() })
    }

    fn read_meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, RaftStoreError> {
        let read = self.db.begin_read()?;
        let meta = read.open_table(LOG_META)?;
        match meta.get(key)? {
            Some(v) => postcard::from_bytes(v.value()).map(Some).map_err(|e| corrupt(key, e)),
            None => Ok(None),
        }
    }

    /// Writes one meta record; `durable: false` skips the fsync (the record may be lost in a crash).
    async fn write_meta<T: serde::Serialize>(
        &self,
        key: &'static str,
        value: &T,
        durable: bool,
    ) -> Result<(), RaftStoreError> {
        let bytes = encode(key, value)?;
        let db = self.db.clone();
        blocking(move || {
            let mut txn = db.begin_write()?;
            if !durable {
                txn.set_durability(redb::Durability::None).map_err(|e| corrupt("durability", e))?;
            }
            txn.open_table(LOG_META)?.insert(key, bytes.as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Entries in `range`, in order; at most `max_bytes` of them (at least one) if given. A hole is corruption.
    fn read_entries(
        &self,
        range: (Bound<u64>, Bound<u64>),
        max_bytes: Option<usize>,
    ) -> Result<Vec<Entry>, RaftStoreError> {
        let read = self.db.begin_read()?;
        let log = read.open_table(LOG)?;
        let mut entries: Vec<Entry> = Vec::new();
        let mut bytes = 0usize;
        for item in log.range::<u64>(range)? {
            let (index, value) = item?;
            let (index, value) = (index.value(), value.value());
            if let Some(prev) = entries.last()
                && prev.log_id.index + 1 != index
            {
                return Err(corrupt("log", format!("hole between {} and {index}", prev.log_id.index)));
            }
            bytes = bytes.saturating_add(value.len());
            if max_bytes.is_some_and(|max| bytes > max) && !entries.is_empty() {
                break;
            }
            entries.push(decode_entry(index, value)?);
        }
        Ok(entries)
    }

    fn log_state(&self) -> Result<LogState<TypeConfig>, RaftStoreError> {
        let last_purged: Option<LogId> = self.read_meta(LAST_PURGED)?;
        let read = self.db.begin_read()?;
        let log = read.open_table(LOG)?;
        let last = match log.last()? {
            Some((index, value)) => Some(decode_entry(index.value(), value.value())?.log_id),
            None => None,
        };
        Ok(LogState { last_log_id: last.or(last_purged), last_purged_log_id: last_purged })
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let range = (range.start_bound().cloned(), range.end_bound().cloned());
        Ok(self.read_entries(range, None)?)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.read_meta(VOTE)?)
    }

    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> Result<Vec<Entry>, io::Error> {
        Ok(self.read_entries((Bound::Included(start), Bound::Excluded(end)), Some(MAX_READ_BATCH_BYTES))?)
    }
}

impl openraft::storage::RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        Ok(self.log_state()?)
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        Ok(self.write_meta(VOTE, vote, true).await?)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // Saved on every commit, so kept in memory and written at most once a second, without fsync: losing it
        // in a crash is safe. openraft then re-applies fewer entries at startup (never more than the state
        // machine has), and the leader commits them again.
        let due = {
            let mut saved = self.committed.lock().unwrap_or_else(|p| p.into_inner());
            saved.0 = committed;
            let due = saved.1.is_none_or(|at| at.elapsed() >= COMMITTED_WRITE_INTERVAL);
            if due {
                saved.1 = Some(std::time::Instant::now());
            }
            due
        };
        if due {
            self.write_meta(COMMITTED, &committed, false).await?;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        if let Some(committed) = self.committed.lock().unwrap_or_else(|p| p.into_inner()).0 {
            return Ok(Some(committed));
        }
        Ok(self.read_meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    /// Encodes and writes all entries in one transaction and returns once it is committed (durable), so the
    /// entries are readable and flushed at once; the callback is told before returning.
    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded = entries
            .into_iter()
            .map(|entry| {
                let index = entry.log_id.index;
                let bytes = encode("log entry", &entry)?;
                if bytes.len() > MAX_LOG_ENTRY_BYTES {
                    return Err(RaftStoreError::EntryTooLarge {
                        index,
                        bytes: bytes.len(),
                        limit: MAX_LOG_ENTRY_BYTES,
                    });
                }
                Ok((index, bytes))
            })
            .collect::<Result<Vec<_>, _>>();
        let db = self.db.clone();
        let result = match encoded {
            Ok(encoded) => {
                blocking(move || {
                    let txn = db.begin_write()?;
                    {
                        let mut log = txn.open_table(LOG)?;
                        for (index, bytes) in &encoded {
                            log.insert(*index, bytes.as_slice())?;
                        }
                    }
                    txn.commit()?;
                    Ok(())
                })
                .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.io_completed(Err(io::Error::other(e.to_string())));
                Err(e.into())
            }
        }
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index + 1);
        let db = self.db.clone();
        Ok(blocking(move || {
            let txn = db.begin_write()?;
            txn.open_table(LOG)?.retain_in(from.., |_, _| false)?;
            txn.commit()?;
            Ok(())
        })
        .await?)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let purged = encode(LAST_PURGED, &log_id)?;
        let db = self.db.clone();
        Ok(blocking(move || {
            let txn = db.begin_write()?;
            txn.open_table(LOG_META)?.insert(LAST_PURGED, purged.as_slice())?;
            txn.open_table(LOG)?.retain_in(..=log_id.index, |_, _| false)?;
            txn.commit()?;
            Ok(())
        })
        .await?)
    }
}
