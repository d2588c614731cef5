//! Raft storage for the replica, on openraft `=0.10.0-alpha.37` (the maintained line; its API moves between
//! alphas, hence the exact pin).
//!
//! ```text
//!  openraft ──append/vote/purge──> LogStore            raft-log.redb (vote, committed, entries, last purged)
//!           ──apply(stream)──────> StateMachineStore ──> StateMachine (state.redb) + table `raft_applied`
//!           ──build/install──────> snapshot.rs          snapshot.bin (the current snapshot, checksummed)
//! ```
//!
//! The log and the state machine live in separate databases because they have different lifetimes: the log
//! is truncated and purged by Raft, the state is replaced wholesale by a snapshot. Each has every write
//! committed durably (redb's default `Immediate` durability) before openraft is told it is done.
//!
//! The network layer plugs in through [`TypeConfig`]: a `RaftNetworkFactory<TypeConfig>` whose connections
//! carry [`Entry`]s, [`Vote`]s and snapshots as [`SnapshotData`] (the bytes of one snapshot file, verified on
//! install), and nodes described by [`ReplicaNode`] (the node's gRPC address).

mod applied;
mod log_store;
mod snapshot;
mod state_machine_store;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use nexus_wasm_host::Host;
use serde::{Deserialize, Serialize};

use crate::error::ReplicaError;
use crate::receipt::ApplyOutcome;
use crate::request::{ClusterId, Request, SignedRequest};
use crate::state_machine::StateMachine;

pub use log_store::{LogStore, MAX_LOG_ENTRY_BYTES, MAX_READ_BATCH_BYTES};
pub use snapshot::{MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_RECORD_BYTES, SNAPSHOT_FORMAT_VERSION, SnapshotError};
pub use state_machine_store::{MAX_APPLY_BATCH_ENTRIES, SharedStateMachine, SnapshotBuilder, StateMachineStore};

/// What Raft answers for an applied entry: the command's outcome, or `None` for an entry that carries no
/// command (the leader's blank entry, a membership change). `client_write` of a [`LogCommand`] always gets
/// `Some`; `change_membership` gets `None`.
pub type Response = Option<ApplyOutcome>;

/// What the replica's Raft log carries besides Raft's own entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogCommand {
    /// A client's signed request (deploy, upgrade, call).
    Request(SignedRequest),
    /// Closes the current batch: every replica builds the batch message (index range, receipts root, state
    /// root) at this entry, from its own execution, for certification. Proposed by the leader.
    Seal,
    /// Adopts the group key a DKG produced (proposed once every participant confirmed it).
    GroupKey(crate::group_key::GroupKeyRecord),
    /// Stores the certificate of a sealed batch by the group's key of that suite (checked on apply).
    Certify(crate::group_key::CertSuite, nexus_mpc::certificate::Certificate),
    /// Ends a proving job (proposed by the leader that coordinated it).
    ZkResult(crate::zk::ZkResult),
}

impl fmt::Display for LogCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogCommand::Request(request) => request.fmt(f),
            LogCommand::Seal => f.write_str("seal"),
            LogCommand::GroupKey(record) => write!(f, "group key of epoch {}", record.key_epoch),
            LogCommand::ZkResult(r) => write!(f, "result of proving job {}", r.call_id),
            LogCommand::Certify(suite, c) => {
                write!(f, "{suite:?} certificate of batch {}..={}", c.message.first_index, c.message.last_index)
            }
        }
    }
}

openraft::declare_raft_types!(
    /// The replica's Raft types: the log carries [`LogCommand`]s, applying one answers a [`Response`].
    pub TypeConfig:
        D = LogCommand,
        R = Response,
        NodeId = u64,
        Node = ReplicaNode,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A log entry of this replica's Raft.
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
/// A log id (leader term and node, index).
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
/// A vote, as stored by the log store.
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
/// A membership config with the id of the log entry that set it.
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
/// What a snapshot covers: last log id and membership.
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
/// The bytes of one snapshot in the format of [`snapshot`](self) (versioned, checksummed): what the network
/// sends whole and what [`StateMachineStore`] verifies before installing.
pub type SnapshotData = Vec<u8>;
/// A snapshot with its metadata.
pub type Snapshot = openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotData>;
/// A Raft node of this replica.
pub type ReplicaRaft = openraft::Raft<TypeConfig, StateMachineStore>;
/// What a replica's Raft reports about itself (leader, term, membership, log and snapshot positions).
pub type RaftMetrics = openraft::RaftMetrics<TypeConfig>;

/// A replica as the cluster's membership records it: where its gRPC server listens (`host:port`). Part of the
/// replicated membership, so every replica knows how to reach every other.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplicaNode {
    pub grpc_addr: String,
}

impl fmt::Display for ReplicaNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.grpc_addr)
    }
}

/// openraft logs entries with `Display`: a short summary, never the payload (modules are megabytes).
impl fmt::Display for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signer = hex::encode(&self.signer[..4]);
        match &self.request {
            Request::Deploy { module, .. } => write!(f, "deploy({} bytes) by {signer}… #{}", module.len(), self.nonce),
            Request::Upgrade { app, module, .. } => {
                write!(f, "upgrade({app}, {} bytes) by {signer}… #{}", module.len(), self.nonce)
            }
            Request::Call { app, function, input, .. } => {
                write!(f, "call({app}.{function}, {} bytes) by {signer}… #{}", input.len(), self.nonce)
            }
        }
    }
}

/// Failures of the Raft storage layer. openraft sees them as `io::Error`s whose source is this type.
#[derive(Debug, thiserror::Error)]
pub enum RaftStoreError {
    #[error("raft storage failed: {0}")]
    Storage(String),
    #[error("stored raft data is corrupt: {0}")]
    Corrupt(String),
    #[error("log entry {index} encodes to {bytes} bytes, more than the limit of {limit} bytes")]
    EntryTooLarge { index: u64, bytes: usize, limit: usize },
    #[error("log entry {index} arrived after {last_applied:?}; entries are applied in order")]
    OutOfOrder { index: u64, last_applied: Option<u64> },
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("snapshot refused: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("file system: {0}")]
    Io(#[source] io::Error),
    #[error("a storage task failed: {0}")]
    Task(String),
}

impl From<RaftStoreError> for io::Error {
    fn from(e: RaftStoreError) -> Self {
        io::Error::other(e)
    }
}

crate::error::redb_errors_into!(RaftStoreError);

/// Runs blocking storage work (fsyncs, wasm execution, snapshot encoding) off the async worker threads, so a
/// slow disk never stalls timers and network tasks that share them.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RaftStoreError> + Send + 'static,
) -> Result<T, RaftStoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| RaftStoreError::Task(e.to_string()))?
}

/// Where a replica keeps its data, under one directory.
pub const LOG_FILE: &str = "raft-log.redb";
pub const STATE_FILE: &str = "state.redb";
pub const SNAPSHOT_FILE: &str = "snapshot.bin";

/// Opens (or creates) a replica's Raft storage under `data_dir`: the log store and the state machine store
/// wrapping the state machine, ready for `openraft::Raft::new`.
pub fn open_storage(
    data_dir: &Path,
    cluster: ClusterId,
    host: Arc<Host>,
) -> Result<(LogStore, StateMachineStore), RaftStoreError> {
    std::fs::create_dir_all(data_dir).map_err(RaftStoreError::Io)?;
    let log = LogStore::open(&data_dir.join(LOG_FILE))?;
    let sm = StateMachine::open(&data_dir.join(STATE_FILE), cluster, host)?;
    let sm = StateMachineStore::new(sm, &data_dir.join(SNAPSHOT_FILE))?;
    Ok((log, sm))
}
