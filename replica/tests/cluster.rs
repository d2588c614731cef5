//! Three replicas on loopback, talking gRPC over real sockets: writes through any replica (followers forward
//! to the leader), identical state on all, linearizable queries, receipts from any replica, and progress with
//! the leader gone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nexus_proto::v1::client_client::ClientClient;
use nexus_proto::v1::{GetReceiptRequest, QueryRequest, StatusRequest, SubmitRequest};
use nexus_replica::nexus_mpc::batch::{BatchMessage, MerklePath, receipt_digest, verify_path};
use nexus_replica::node::{Node, NodeConfig};
use nexus_replica::{ApplyOutcome, ClientKey, ClusterId, Receipt, Request, SignedRequest};
use nexus_tests::{enc, example_apps};
use nexus_wasm_host::{CallResult, Host, Limits};

const CLUSTER: ClusterId = [5; 32];
const WAIT: Option<Duration> = Some(Duration::from_secs(20));

async fn client(node: &Node) -> ClientClient<tonic::transport::Channel> {
    ClientClient::connect(format!("http://{}", node.addr)).await.unwrap()
}

async fn submit(node: &Node, request: &SignedRequest) -> (ApplyOutcome, u64) {
    let reply =
        client(node).await.submit(SubmitRequest { signed_request: request.encode() }).await.unwrap().into_inner();
    (postcard::from_bytes(&reply.outcome).unwrap(), reply.log_index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_agree_forward_writes_and_survive_the_leader() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for (id, dir) in dirs.iter().enumerate() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = Arc::new(Host::new(Limits::default()).unwrap());
        let mut config = NodeConfig::new(id as u64, CLUSTER, dir.path().to_path_buf());
        // This test counts log entries exactly (a call, then its seal); certification adds entries of its own
        // (the group key, certificates) at times of its own, and is tested with processes in nexus-cli.
        config.certify.enabled = false;
        nodes.push(Node::start(config, host, listener).await.unwrap());
    }
    let members: BTreeMap<u64, String> =
        nodes.iter().enumerate().map(|(id, n)| (id as u64, n.addr.to_string())).collect();
    nodes[0].initialize(members).await.unwrap();
    let leader = nodes[0].raft.wait(WAIT).metrics(|m| m.current_leader.is_some(), "leader elected").await.unwrap();
    let leader = leader.current_leader.unwrap() as usize;
    let follower = (leader + 1) % 3;

    // Writes through a follower are forwarded to the leader.
    let alice = ClientKey::from_secret([1; 32]);
    let deploy =
        alice.sign(&CLUSTER, 1, Request::Deploy { module: example_apps()["counter"].wasm.clone(), program: None });
    let app = deploy.app();
    let (outcome, _) = submit(&nodes[follower], &deploy).await;
    assert!(matches!(outcome, ApplyOutcome::Deployed { .. }), "{outcome:?}");
    let call = |nonce, by: u64| {
        alice.sign(&CLUSTER, nonce, Request::Call { app, function: "increment".into(), input: enc(&by), zk: false })
    };
    let (outcome, index) = submit(&nodes[follower], &call(2, 5)).await;
    let ApplyOutcome::Called(receipt) = outcome else { panic!("{outcome:?}") };
    assert_eq!(receipt.output, Some(enc(&5u64)));
    assert_eq!(receipt.call_id, index);

    // A bad signature is refused before the log.
    let mut forged = call(3, 1);
    forged.nonce = 99;
    let err = client(&nodes[leader]).await.submit(SubmitRequest { signed_request: forged.encode() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let err = client(&nodes[leader]).await.submit(SubmitRequest { signed_request: vec![1, 2, 3] }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // Every replica applies the same log to the same state, and serves the same receipt. The leader seals the
    // batch holding the call (the next entry); every replica builds the same batch message from its own
    // execution, and the receipt's Merkle path leads to its receipts root.
    for node in &nodes {
        node.raft.wait(WAIT).applied_index_at_least(Some(index + 1), "applied and sealed").await.unwrap();
    }
    let mut roots = Vec::new();
    let mut batches = Vec::new();
    for node in &nodes {
        let status = client(node).await.status(StatusRequest {}).await.unwrap().into_inner();
        assert_eq!(status.applied_index, index + 1);
        assert_eq!(status.members.len(), 3);
        let bytes = client(node)
            .await
            .get_receipt(GetReceiptRequest { call_id: index, ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        let served: Receipt = postcard::from_bytes(&bytes.receipt).unwrap();
        assert_eq!(served, receipt);
        let (message, path): (BatchMessage, MerklePath) = postcard::from_bytes(&bytes.batch).unwrap();
        assert!(message.contains_index(index) && message.last_index == index + 1, "{message:?}");
        assert_eq!(message.state_root.as_slice(), status.state_root.as_slice());
        verify_path(&message.receipts_root, &receipt_digest(index, &bytes.receipt), &path).unwrap();
        roots.push(status.state_root);
        batches.push(message);
    }
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "state roots differ: {roots:?}");
    assert!(batches.windows(2).all(|w| w[0] == w[1]), "batch messages differ: {batches:?}");

    // A linearizable query through a follower sees the write.
    let query =
        QueryRequest { app: app.0.to_vec(), function: "get".into(), input: enc(&()), caller: vec![], local: false };
    let reply = client(&nodes[follower]).await.query(query).await.unwrap().into_inner();
    let result: CallResult = postcard::from_bytes(&reply.result).unwrap();
    assert_eq!(result.output(), Some(enc(&5u64).as_slice()));
    assert!(!reply.stale_possible);

    // The leader goes away; the two others elect a new one and keep accepting writes.
    let old_leader = nodes.remove(leader);
    old_leader.shutdown().await;
    let survivor = &nodes[0];
    survivor
        .raft
        .wait(WAIT)
        .metrics(|m| m.current_leader.is_some_and(|l| l as usize != leader), "new leader")
        .await
        .unwrap();
    let (outcome, _) = submit(survivor, &call(3, 2)).await;
    let ApplyOutcome::Called(receipt) = outcome else { panic!("{outcome:?}") };
    assert_eq!(receipt.output, Some(enc(&7u64)));
    for node in nodes {
        node.shutdown().await;
    }
}
