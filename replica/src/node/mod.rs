//! The replica on the network: Raft between replicas and the client API, both gRPC (tonic, `proto/`).
//!
//! ```text
//!  peers ──Raft.AppendEntries/Vote/InstallSnapshot──> raft_service ──> openraft
//!  openraft ──RaftNetworkV2 (network.rs)──> peers' Raft services
//!  clients ──Client.Submit/Query/GetReceipt/Status──> client_service ──> openraft (writes; forwarded to the leader
//!                                                                      by followers) / state machine (reads)
//! ```
//!
//! Messages between replicas are openraft's own types, postcard-encoded inside the proto's opaque `payload`.

mod client_service;
mod network;
mod raft_service;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nexus_proto::MAX_MESSAGE_BYTES;
use nexus_proto::v1::client_server::ClientServer;
use nexus_proto::v1::raft_server::RaftServer;
use nexus_wasm_host::Host;

pub use client_service::ClientService;
pub use network::GrpcNetwork;
pub use raft_service::RaftService;

use crate::raft::{RaftStoreError, ReplicaNode, ReplicaRaft, SharedStateMachine, open_storage};
use crate::request::ClusterId;

/// Deadline for one RPC between replicas; well above an append's latency, below the election timeout.
pub const PEER_RPC_TIMEOUT: Duration = Duration::from_millis(1_000);

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
}

impl NodeConfig {
    pub fn new(node_id: u64, cluster: ClusterId, data_dir: PathBuf) -> Self {
        Self { node_id, cluster, data_dir, heartbeat_ms: 100, election_min_ms: 500, election_max_ms: 1_000 }
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
}

/// A running replica: Raft, its state machine, and the gRPC server on `addr`.
pub struct Node {
    pub raft: ReplicaRaft,
    pub state: SharedStateMachine,
    pub addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Opens the replica's storage, starts Raft and serves gRPC on `listener`.
    pub async fn start(
        config: NodeConfig,
        host: Arc<Host>,
        listener: tokio::net::TcpListener,
    ) -> Result<Self, NodeError> {
        let addr = listener.local_addr().map_err(|e| NodeError::Network(e.to_string()))?;
        let (log, sm) = open_storage(&config.data_dir, config.cluster, host)?;
        let state = sm.state_machine();
        let raft_config = openraft::Config {
            heartbeat_interval: config.heartbeat_ms,
            election_timeout_min: config.election_min_ms,
            election_timeout_max: config.election_max_ms,
            ..Default::default()
        }
        .validate()
        .map_err(|e| NodeError::Raft(e.to_string()))?;
        let raft = ReplicaRaft::new(config.node_id, Arc::new(raft_config), GrpcNetwork, log, sm)
            .await
            .map_err(|e| NodeError::Raft(e.to_string()))?;
        let raft_service = RaftServer::new(RaftService::new(raft.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let client_service = ClientServer::new(ClientService::new(raft.clone(), state.clone(), config.node_id))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let server = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(raft_service)
                .add_service(client_service)
                .serve_with_incoming(incoming)
                .await;
        });
        Ok(Self { raft, state, addr, server })
    }

    /// Makes this node the first member of a new cluster with the given members (node id → gRPC address).
    pub async fn initialize(&self, members: BTreeMap<u64, String>) -> Result<(), NodeError> {
        let members: BTreeMap<u64, ReplicaNode> =
            members.into_iter().map(|(id, addr)| (id, ReplicaNode { grpc_addr: addr })).collect();
        self.raft.initialize(members).await.map_err(|e| NodeError::Raft(e.to_string()))
    }

    pub async fn shutdown(self) {
        let _ = self.raft.shutdown().await;
        self.server.abort();
    }
}
