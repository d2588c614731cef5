//! The state-machine side for openraft: applies committed entries to [`StateMachine`], builds and installs
//! snapshots.
//!
//! Applying: openraft hands over a stream of committed entries with their responders. They are taken in
//! chunks of at most [`MAX_APPLY_BATCH_ENTRIES`] and each chunk is applied in one write transaction
//! (`StateMachine::apply_log_entries`): a normal entry's [`SignedRequest`] through the same code as
//! `apply_batch`; a blank or membership entry as a no-op that only advances the applied index. Raft's last
//! applied log id and last membership are written in that same transaction (table `raft_applied`, see
//! `applied.rs`), so after a restart they agree with the state exactly. Every responder of the chunk is then
//! answered: `Some(outcome)` for a request, `None` for the others.
//!
//! Snapshots: the builder takes a redb read transaction when openraft asks for it (a consistent view that
//! later applies do not change), and encodes it on a blocking thread without holding any lock. The last built
//! or installed snapshot is kept in one file, replaced atomically (write, fsync, rename, fsync the directory).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use futures::{Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use redb::{ReadTransaction, ReadableDatabase};

use super::LogCommand;
use super::applied::Applied;
use super::snapshot;
use super::{LogId, RaftStoreError, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig, blocking};
use crate::error::ReplicaError;
use crate::request::ClusterId;
use crate::state_machine::{LogItem, StateMachine};

/// Most entries applied in one write transaction: bounds the transaction's size and the time readers wait
/// for the write lock, while still amortizing one fsync over many entries.
pub const MAX_APPLY_BATCH_ENTRIES: usize = 1024;

/// The state machine shared between Raft (which applies, holding the write lock briefly per chunk) and the
/// read side of the replica (status, receipts, queries under the read lock). Never hold either lock across an
/// `.await`.
pub type SharedStateMachine = Arc<RwLock<StateMachine>>;

/// openraft's state machine: [`StateMachine`] plus Raft's applied records and the current snapshot file.
pub struct StateMachineStore {
    sm: SharedStateMachine,
    cluster: ClusterId,
    /// Cache of what the `raft_applied` table holds; updated only after a commit.
    applied: Applied,
    snapshots: SnapshotFile,
}

impl StateMachineStore {
    /// Wraps `sm`, keeping the current snapshot at `snapshot_path`. Refuses a state database whose applied
    /// index disagrees with Raft's record of it (state written outside Raft cannot be continued by Raft).
    pub fn new(mut sm: StateMachine, snapshot_path: &Path) -> Result<Self, RaftStoreError> {
        sm.set_log_backed();
        let applied = Applied::read(&sm.database().begin_read()?)?;
        let recorded = applied.last_applied.map_or(0, |id| id.index);
        if recorded != sm.status().applied_index {
            return Err(RaftStoreError::Corrupt(format!(
                "the state is applied up to index {} but Raft's record says {:?}",
                sm.status().applied_index,
                applied.last_applied
            )));
        }
        let cluster = *sm.cluster();
        let snapshots = SnapshotFile::open(snapshot_path)?;
        Ok(Self { sm: Arc::new(RwLock::new(sm)), cluster, applied, snapshots })
    }

    /// The state machine, for reads (status, receipts, queries) while Raft applies.
    pub fn state_machine(&self) -> SharedStateMachine {
        self.sm.clone()
    }

    /// Raft's last applied log id and membership, as stored with the state.
    pub fn applied(&self) -> (Option<LogId>, &StoredMembership) {
        (self.applied.last_applied, &self.applied.membership)
    }

    async fn apply_chunk(&mut self, chunk: Vec<EntryResponder<TypeConfig>>) -> Result<(), RaftStoreError> {
        let mut last = self.applied.last_applied;
        let mut membership = self.applied.membership.clone();
        let mut items: Vec<(u64, Option<LogCommand>)> = Vec::with_capacity(chunk.len());
        let mut responders = Vec::with_capacity(chunk.len());
        for (entry, responder) in chunk {
            let log_id = entry.log_id;
            if let Some(last) = last
                && log_id.index <= last.index
            {
                return Err(RaftStoreError::OutOfOrder { index: log_id.index, last_applied: Some(last.index) });
            }
            let request = match entry.payload {
                EntryPayload::Normal(request) => Some(request),
                EntryPayload::Blank => None,
                EntryPayload::Membership(m) => {
                    membership = StoredMembership::new(Some(log_id), m);
                    None
                }
            };
            items.push((log_id.index, request));
            responders.push(responder);
            last = Some(log_id);
        }
        let applied = Applied { last_applied: last, membership };
        let record = applied.clone();
        let sm = self.sm.clone();
        let outcomes = blocking(move || {
            let mut sm = sm.write().unwrap_or_else(PoisonError::into_inner);
            let refs: Vec<(u64, LogItem<'_>)> = items
                .iter()
                .map(|(i, command)| {
                    let item = match command {
                        Some(LogCommand::Request(request)) => LogItem::Request(request),
                        Some(LogCommand::Seal) => LogItem::Seal,
                        Some(LogCommand::GroupKey(record)) => LogItem::GroupKey(record),
                        Some(LogCommand::Certify(suite, certificate)) => LogItem::Certify(*suite, certificate),
                        Some(LogCommand::ZkResult(result)) => LogItem::ZkResult(result),
                        None => LogItem::Nothing,
                    };
                    (*i, item)
                })
                .collect();
            let outcomes =
                sm.apply_log_entries(&refs, |txn| record.write(txn).map_err(|e| ReplicaError::Storage(e.to_string())))?;
            Ok(outcomes)
        })
        .await?;
        self.applied = applied;
        for (responder, outcome) in responders.into_iter().zip(outcomes) {
            if let Some(responder) = responder {
                responder.send(outcome);
            }
        }
        Ok(())
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        Ok((self.applied.last_applied, self.applied.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        loop {
            let mut chunk = Vec::new();
            while chunk.len() < MAX_APPLY_BATCH_ENTRIES {
                match entries.next().await {
                    Some(item) => chunk.push(item?),
                    None => break,
                }
            }
            let more = chunk.len() == MAX_APPLY_BATCH_ENTRIES;
            if !chunk.is_empty() {
                self.apply_chunk(chunk).await?;
            }
            if !more {
                return Ok(());
            }
        }
    }

    async fn try_create_snapshot_builder(&mut self, _force: bool) -> Option<Self::SnapshotBuilder> {
        Some(self.get_snapshot_builder().await)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // The read transaction is the snapshot's view: taken now, so what is applied later is not in it. The
        // state is made durable first: Raft purges the log up to a snapshot, so a snapshot must never cover
        // applied entries that a crash could still take back.
        let sm = self.sm.clone();
        let read = blocking(move || {
            let mut sm = sm.write().unwrap_or_else(PoisonError::into_inner);
            sm.make_durable()?;
            Ok(sm.database().begin_read()?)
        })
        .await;
        SnapshotBuilder {
            read: Some(read.map_err(|e| e.to_string())),
            cluster: self.cluster,
            snapshots: self.snapshots.clone(),
        }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotData) -> Result<(), io::Error> {
        let sm = self.sm.clone();
        let cluster = self.cluster;
        let snapshots = self.snapshots.clone();
        let meta = meta.clone();
        let applied = Applied { last_applied: meta.last_log_id, membership: meta.last_membership.clone() };
        blocking(move || {
            // Checked before taking the lock: a corrupt snapshot never gets near the state.
            let verified = snapshot::verify(&snapshot)?;
            {
                let mut sm = sm.write().unwrap_or_else(PoisonError::into_inner);
                let txn = sm.database().begin_write()?;
                snapshot::install(&verified, &meta, &cluster, &txn)?;
                txn.commit()?;
                sm.reload()?;
            }
            // After the commit: if we crash before this, the older snapshot file stays current, which is
            // still a valid snapshot of an earlier state.
            snapshots.save(&meta, &snapshot)
        })
        .await?;
        self.applied = applied;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let snapshots = self.snapshots.clone();
        let loaded = blocking(move || snapshots.load()).await?;
        Ok(loaded.map(|(meta, snapshot)| Snapshot { meta, snapshot }))
    }
}

/// Builds one snapshot from the read transaction taken when openraft asked for it.
pub struct SnapshotBuilder {
    read: Option<Result<ReadTransaction, String>>,
    cluster: ClusterId,
    snapshots: SnapshotFile,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let read = self
            .read
            .take()
            .ok_or_else(|| RaftStoreError::Task("a snapshot builder builds once".into()))?
            .map_err(RaftStoreError::Storage)?;
        let cluster = self.cluster;
        let snapshots = self.snapshots.clone();
        let (meta, snapshot) = blocking(move || {
            let (meta, bytes) = snapshot::build(&read, &cluster)?;
            drop(read);
            snapshots.save(&meta, &bytes)?;
            Ok((meta, bytes))
        })
        .await?;
        Ok(Snapshot { meta, snapshot })
    }
}

/// The current snapshot, one file. Saving keeps whichever of the current and the new one is newer, because
/// a builder working from an older view can finish after a newer snapshot was installed.
#[derive(Clone)]
struct SnapshotFile {
    path: PathBuf,
    current: Arc<Mutex<Option<SnapshotMeta>>>,
}

fn file_error(e: io::Error) -> RaftStoreError {
    RaftStoreError::Io(e)
}

impl SnapshotFile {
    /// Opens the snapshot file at `path` if there is one. A file that does not verify is moved aside (to
    /// `….corrupt`, for inspection) rather than refused: the state database, not this file, is the replica's
    /// state, and openraft builds a new snapshot when it needs one.
    fn open(path: &Path) -> Result<Self, RaftStoreError> {
        let file = Self { path: path.to_path_buf(), current: Arc::new(Mutex::new(None)) };
        let meta = match fs::read(path) {
            Ok(bytes) => match snapshot::verify(&bytes) {
                Ok(verified) => Some(verified.meta().clone()),
                Err(_) => {
                    fs::rename(path, path.with_extension("corrupt")).map_err(file_error)?;
                    None
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(file_error(e)),
        };
        *file.current.lock().unwrap_or_else(PoisonError::into_inner) = meta;
        Ok(file)
    }

    fn load(&self) -> Result<Option<(SnapshotMeta, SnapshotData)>, RaftStoreError> {
        // Under the lock, so a concurrent save cannot swap the file between the check and the read.
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.is_none() {
            return Ok(None);
        }
        let bytes = fs::read(&self.path).map_err(file_error)?;
        let meta = snapshot::verify(&bytes)?.meta().clone();
        Ok(Some((meta, bytes)))
    }

    fn save(&self, meta: &SnapshotMeta, bytes: &[u8]) -> Result<(), RaftStoreError> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|c| c.last_log_id > meta.last_log_id) {
            return Ok(());
        }
        let tmp = self.path.with_extension("tmp");
        let mut file = File::create(&tmp).map_err(file_error)?;
        file.write_all(bytes).map_err(file_error)?;
        file.sync_all().map_err(file_error)?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(file_error)?;
        if let Some(dir) = self.path.parent() {
            // The rename is durable only once the directory is.
            File::open(dir).and_then(|d| d.sync_all()).map_err(file_error)?;
        }
        *current = Some(meta.clone());
        Ok(())
    }
}
