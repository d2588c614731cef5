//! The storage layer under a real openraft node: one voter, no peers and no network (the network layer is
//! built elsewhere against `TypeConfig`). Shows that every applied entry's responder is answered (so
//! `client_write` returns the outcome), that a snapshot is built and the log purged behind it, and that a node
//! restarted on the same data continues where it stopped.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use nexus_replica::raft::{LogCommand, ReplicaNode, ReplicaRaft, TypeConfig, open_storage};
use nexus_replica::{ApplyOutcome, ClientKey, ClusterId, Request};
use nexus_tests::{enc, example_apps};
use nexus_wasm_host::{Host, Limits};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{AnyError, Config, OptionalSend, RaftNetworkV2, SnapshotPolicy};

const CLUSTER: ClusterId = [7; 32];

/// A network with no peers: a single voter never sends anything, and if it did, every peer is unreachable.
struct NoPeers;

fn unreachable() -> Unreachable<TypeConfig> {
    Unreachable::new(&AnyError::error("no peers in this test"))
}

impl RaftNetworkV2<TypeConfig> for NoPeers {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(unreachable()))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(unreachable()))
    }

    async fn full_snapshot(
        &mut self,
        _vote: nexus_replica::raft::Vote,
        _snapshot: nexus_replica::raft::Snapshot,
        _cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        Err(StreamingError::Unreachable(unreachable()))
    }
}

impl RaftNetworkFactory<TypeConfig> for NoPeers {
    type Network = NoPeers;

    async fn new_client(&mut self, _target: u64, _node: &ReplicaNode) -> Self::Network {
        NoPeers
    }
}

async fn start(dir: &std::path::Path, host: Arc<Host>) -> (ReplicaRaft, nexus_replica::raft::SharedStateMachine) {
    // After `shutdown`, openraft drops the previous instance's state machine on one of its own tasks, so the
    // database file lock can outlive `shutdown().await` by a moment. Wait for it, boundedly; a real restart is a
    // new process and never meets this.
    let mut attempts = 0;
    let (log, sm) = loop {
        match open_storage(dir, CLUSTER, host.clone()) {
            Ok(stores) => break stores,
            Err(e) if e.to_string().contains("already open") && attempts < 500 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("opening the stores: {e}"),
        }
    };
    let shared = sm.state_machine();
    let config = Config {
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 0,
        ..Default::default()
    };
    let raft = ReplicaRaft::new(0, Arc::new(config.validate().unwrap()), NoPeers, log, sm).await.unwrap();
    (raft, shared)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_applies_answers_snapshots_purges_and_resumes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Host::new(Limits::default()).unwrap());
    let alice = ClientKey::from_secret([1; 32]);
    let timeout = Some(Duration::from_secs(10));

    let (raft, sm) = start(dir.path(), host.clone()).await;
    raft.initialize(BTreeMap::from([(0, ReplicaNode { grpc_addr: "127.0.0.1:7000".into() })])).await.unwrap();
    raft.wait(timeout).current_leader(0, "leader elected").await.unwrap();

    let deploy =
        alice.sign(&CLUSTER, 1, Request::Deploy { module: example_apps()["counter"].wasm.clone(), program: None });
    let app = deploy.app();
    let written = raft.client_write(LogCommand::Request(deploy)).await.unwrap();
    assert!(matches!(written.data, Some(ApplyOutcome::Deployed { .. })), "{:?}", written.data);
    let call = |nonce, by: u64| {
        alice.sign(&CLUSTER, nonce, Request::Call { app, function: "increment".into(), input: enc(&by), zk: false })
    };
    let written = raft.client_write(LogCommand::Request(call(2, 5))).await.unwrap();
    let Some(ApplyOutcome::Called(receipt)) = written.data else { panic!("{:?}", written.data) };
    assert_eq!(receipt.output, Some(enc(&5u64)));
    assert_eq!(receipt.call_id, written.log_id.index, "the call id is the log index");
    assert_eq!(sm.read().unwrap().status().applied_index, written.log_id.index);

    // A membership change is answered too, with no request outcome.
    let changed = raft.change_membership([0], false).await.unwrap();
    assert_eq!(changed.data, None);

    raft.trigger().snapshot().await.unwrap();
    let last = changed.log_id;
    raft.wait(timeout).snapshot(last, "snapshot built").await.unwrap();
    raft.wait(timeout).purged(Some(last), "log purged up to the snapshot").await.unwrap();
    let status = sm.read().unwrap().status();
    raft.shutdown().await.unwrap();
    drop(raft);
    drop(sm);

    let (raft, sm) = start(dir.path(), host).await;
    assert_eq!(sm.read().unwrap().status(), status, "state survives the restart");
    raft.wait(timeout).current_leader(0, "leader after restart").await.unwrap();
    let written = raft.client_write(LogCommand::Request(call(3, 2))).await.unwrap();
    let Some(ApplyOutcome::Called(receipt)) = written.data else { panic!("{:?}", written.data) };
    assert_eq!(receipt.output, Some(enc(&7u64)));
    raft.shutdown().await.unwrap();
}
