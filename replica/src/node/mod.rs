//! The replica on the network: Raft between replicas and the client API, both gRPC (tonic, `proto/`).
//!
//! ```text
//!  peers ──Raft.AppendEntries/Vote/InstallSnapshot──> raft_service ──> openraft
//!  openraft ──RaftNetworkV2 (network.rs)──> peers' Raft services
//!  clients ──Client.Submit/Query/GetReceipt/Status──> client_service ──> openraft (writes; forwarded to the leader
//!                                                                      by followers) / state machine (reads)
//!  operators ──Admin.AddReplica/RemoveReplica──> admin_service ──> openraft membership (admin keys only)
//!  peers ──Mpc.Dkg/Commit/Sign/Propose──> mpc_service ──> certify (DKG, signing sessions; certificates logged
//!                                                                  through the leader)
//! ```
//!
//! Deploys are compiled off the apply path: the replica a client submits to validates and compiles the module
//! before it is proposed (an invalid module never reaches the log), and a follower starts compiling the
//! modules in an AppendEntries as it receives them, while the entries are still being committed. Applying
//! then finds the module in the host's cache.
//!
//! Messages between replicas are openraft's own types, postcard-encoded inside the proto's opaque `payload`.

mod admin_service;
pub mod certify;
mod client_service;
mod mpc_service;
mod network;
pub mod prover_service;
mod raft_service;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nexus_proto::MAX_MESSAGE_BYTES;
use nexus_proto::v1::Member;
use nexus_proto::v1::admin_server::AdminServer;
use nexus_proto::v1::client_server::ClientServer;
use nexus_proto::v1::mpc_server::MpcServer;
use nexus_proto::v1::prover_server::ProverServer;
use nexus_proto::v1::raft_server::RaftServer;
use nexus_wasm_host::Host;
use openraft::async_runtime::WatchReceiver;
use tonic::Status;

pub use admin_service::AdminService;
pub use certify::{Certifier, CertifyConfig};
pub use client_service::ClientService;
pub use mpc_service::MpcService;
pub use network::GrpcNetwork;
pub use prover_service::{Coordinator, ProofStore, ProverConfig, ProverService};
pub use raft_service::RaftService;

use crate::admin::AdminGate;
use crate::raft::{LogCommand, RaftStoreError, ReplicaNode, ReplicaRaft, SharedStateMachine, open_storage};
use crate::request::ClusterId;

/// Deadline for one RPC between replicas; well above an append's latency, below the election timeout.
pub const PEER_RPC_TIMEOUT: Duration = Duration::from_millis(1_000);
/// How long a submitted request may wait to be committed and applied before the client is told.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a linearizable query may wait for the leader to confirm its read index.
pub const READ_INDEX_TIMEOUT: Duration = Duration::from_secs(5);
/// How long adding a replica may take, catching up included; and removing one.
pub const ADMIN_CHANGE_TIMEOUT: Duration = Duration::from_secs(120);
/// The server's deadline on any RPC (a backstop above the ones above; a client's shorter deadline wins).
pub const SERVER_RPC_TIMEOUT: Duration = Duration::from_secs(150);

/// How a replica is started.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub node_id: u64,
    pub cluster: ClusterId,
    pub data_dir: PathBuf,
    /// Raft timing: heartbeat < election_min / 2, election ≥ 10× append latency (see NOTES).
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// Build a snapshot once this many entries were applied since the last one; then purge the log before it,
    /// keeping `logs_kept_after_snapshot` entries for followers that are only a little behind.
    pub snapshot_every_entries: u64,
    pub logs_kept_after_snapshot: u64,
    /// Public keys allowed to add and remove replicas (none: membership changes are refused).
    pub admins: Vec<[u8; 32]>,
    /// Threshold certification of sealed batches.
    pub certify: CertifyConfig,
    /// Proving jobs: how the leader cuts and leases them, and this replica's own worker.
    pub prover: ProverConfig,
}

impl NodeConfig {
    pub fn new(node_id: u64, cluster: ClusterId, data_dir: PathBuf) -> Self {
        Self {
            node_id,
            cluster,
            data_dir,
            heartbeat_ms: 100,
            election_min_ms: 500,
            election_max_ms: 1_000,
            snapshot_every_entries: 10_000,
            logs_kept_after_snapshot: 1_000,
            admins: Vec::new(),
            certify: CertifyConfig::default(),
            prover: ProverConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Storage(#[from] RaftStoreError),
    #[error("raft: {0}")]
    Raft(String),
    #[error("network: {0}")]
    Network(String),
    #[error("key share: {0}")]
    KeyShare(#[from] nexus_mpc::key_store::KeyStoreError),
}

/// A running replica: Raft, its state machine, and the gRPC server on `addr`.
pub struct Node {
    pub raft: ReplicaRaft,
    pub state: SharedStateMachine,
    pub addr: SocketAddr,
    pub certifier: Arc<Certifier>,
    server: tokio::task::JoinHandle<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How often the leader closes a batch when calls were applied since the last seal: the delay a call waits
/// before its batch can be certified, traded against one log entry per interval.
pub const SEAL_INTERVAL: Duration = Duration::from_millis(20);

/// On the leader: proposes a seal every [`SEAL_INTERVAL`] while calls were applied since the last one. One
/// seal in flight at a time. With certification on, nothing is sealed before the group key is in the state, so
/// that every batch is of a key that can certify it (the first seal then covers every call before it).
async fn seal_batches(raft: ReplicaRaft, state: SharedStateMachine, node_id: u64, certify: bool) {
    let mut tick = tokio::time::interval(SEAL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let leading = raft.metrics().borrow_watched().current_leader == Some(node_id);
        let unsealed =
            state.read().map(|sm| sm.has_unsealed_calls() && (!certify || sm.group_key().is_some())).unwrap_or(false);
        if leading && unsealed {
            // A failure (leadership lost, shutdown) is retried at the next tick by whoever leads then.
            let _ = tokio::time::timeout(SUBMIT_TIMEOUT, raft.client_write(LogCommand::Seal)).await;
        }
    }
}

impl Node {
    /// Opens the replica's storage, starts Raft and serves gRPC on `listener`.
    pub async fn start(
        config: NodeConfig,
        host: Arc<Host>,
        listener: tokio::net::TcpListener,
    ) -> Result<Self, NodeError> {
        let addr = listener.local_addr().map_err(|e| NodeError::Network(e.to_string()))?;
        let (log, sm) = open_storage(&config.data_dir, config.cluster, host.clone())?;
        let state = sm.state_machine();
        let raft_config = openraft::Config {
            heartbeat_interval: config.heartbeat_ms,
            election_timeout_min: config.election_min_ms,
            election_timeout_max: config.election_max_ms,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(config.snapshot_every_entries),
            max_in_snapshot_log_to_keep: config.logs_kept_after_snapshot,
            ..Default::default()
        }
        .validate()
        .map_err(|e| NodeError::Raft(e.to_string()))?;
        let raft = ReplicaRaft::new(config.node_id, Arc::new(raft_config), GrpcNetwork, log, sm)
            .await
            .map_err(|e| NodeError::Raft(e.to_string()))?;
        let signatures = state.read().unwrap_or_else(|p| p.into_inner()).signature_cache();
        let raft_service = RaftServer::new(RaftService::new(raft.clone(), host.clone(), config.cluster, signatures))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let certifier = Certifier::new(
            config.node_id,
            config.cluster,
            config.certify,
            raft.clone(),
            state.clone(),
            &config.data_dir,
        )?;
        let coordinator =
            Coordinator::new(config.node_id, raft.clone(), state.clone(), config.prover.clone(), &config.data_dir)
                .map_err(|e| NodeError::Raft(format!("proving thread pool: {e}")))?;
        let client_service = ClientServer::new(ClientService::new(
            raft.clone(),
            state.clone(),
            host,
            config.node_id,
            certifier.clone(),
            coordinator.proofs().clone(),
        ))
        // Requests stay small; a receipt may carry its proof (tens of MiB).
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(crate::prover::protocol::MAX_TASK_BYTES);
        let prover_service = ProverServer::new(ProverService::new(coordinator.clone()))
            .max_decoding_message_size(crate::prover::protocol::MAX_TASK_BYTES)
            .max_encoding_message_size(crate::prover::protocol::MAX_TASK_BYTES);
        let gate = Arc::new(AdminGate::new(config.cluster, config.admins.clone()));
        let admin_service = AdminServer::new(AdminService::new(raft.clone(), gate, config.node_id));
        let mpc_service = MpcServer::new(MpcService::new(certifier.clone()));
        // Small RPCs, each waited for: Nagle's algorithm would hold replies back for the peer's delayed ACK
        // (tens of milliseconds). tonic sets TCP_NODELAY only on listeners it binds itself.
        let incoming = tokio_stream::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |s| {
            s.inspect(|stream| {
                let _ = stream.set_nodelay(true);
            })
        });
        let server = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .timeout(SERVER_RPC_TIMEOUT)
                .add_service(raft_service)
                .add_service(client_service)
                .add_service(admin_service)
                .add_service(mpc_service)
                .add_service(prover_service)
                .serve_with_incoming(incoming)
                .await;
        });
        let mut tasks = certifier.spawn();
        tasks.push(tokio::spawn(seal_batches(raft.clone(), state.clone(), config.node_id, config.certify.enabled)));
        tasks.push(tokio::spawn(coordinator.run()));
        if config.prover.threads > 0 {
            let worker = crate::prover::worker::WorkerConfig {
                replicas: vec![addr.to_string()],
                threads: config.prover.threads,
                name: format!("replica-{}", config.node_id),
            };
            tasks.push(tokio::spawn(async move {
                if let Err(e) = crate::prover::worker::run(worker).await {
                    eprintln!("the replica's prover worker stopped: {e}");
                }
            }));
        }
        Ok(Self { raft, state, addr, certifier, server, tasks })
    }

    /// Makes this node the first member of a new cluster with the given members (node id → gRPC address).
    pub async fn initialize(&self, members: BTreeMap<u64, String>) -> Result<(), NodeError> {
        let members: BTreeMap<u64, ReplicaNode> =
            members.into_iter().map(|(id, addr)| (id, ReplicaNode { grpc_addr: addr })).collect();
        self.raft.initialize(members).await.map_err(|e| NodeError::Raft(e.to_string()))
    }

    /// Stops serving, stops Raft, and makes the applied state durable (so a restart re-applies nothing).
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        self.server.abort();
        let _ = self.raft.shutdown().await;
        let state = self.state.clone();
        let _ =
            tokio::task::spawn_blocking(move || state.write().unwrap_or_else(|p| p.into_inner()).make_durable()).await;
    }
}

/// A channel to the current leader's gRPC server, for a follower that forwards a write. The channel is kept
/// while the same node leads at the same address: opening one per forwarded request would cost a TCP and HTTP/2
/// handshake each time.
#[derive(Default)]
pub struct LeaderChannel {
    cached: std::sync::Mutex<Option<(u64, String, tonic::transport::Channel)>>,
}

impl LeaderChannel {
    async fn get(&self, raft: &ReplicaRaft) -> Result<tonic::transport::Channel, Status> {
        let metrics = raft.metrics().borrow_watched().clone();
        let leader =
            metrics.current_leader.ok_or_else(|| Status::unavailable("no leader elected yet; retry shortly"))?;
        let addr = metrics
            .membership_config
            .nodes()
            .find(|(id, _)| **id == leader)
            .map(|(_, node)| node.grpc_addr.clone())
            .ok_or_else(|| Status::unavailable(format!("leader {leader} has no known address")))?;
        if let Some((id, cached_addr, channel)) = &*self.cached.lock().unwrap_or_else(|p| p.into_inner())
            && *id == leader
            && *cached_addr == addr
        {
            return Ok(channel.clone());
        }
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Status::internal(e.to_string()))?
            .connect_timeout(PEER_RPC_TIMEOUT);
        let channel =
            endpoint.connect().await.map_err(|e| Status::unavailable(format!("leader {leader} at {addr}: {e}")))?;
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((leader, addr, channel.clone()));
        Ok(channel)
    }
}

/// The membership as the API reports it: every node, voters marked.
fn members(metrics: &crate::raft::RaftMetrics) -> Vec<Member> {
    let membership = metrics.membership_config.membership();
    membership
        .nodes()
        .map(|(id, node)| Member {
            node_id: *id,
            address: node.grpc_addr.clone(),
            voter: membership.voter_ids().any(|voter| voter == *id),
        })
        .collect()
}

fn lock_error<T>(_: T) -> Status {
    Status::internal("state machine lock poisoned")
}
