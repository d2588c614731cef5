//! Bad input to every RPC of a replica process: each gets a clear status code, and none changes the state.
//! Refusals before the log leave the applied index where it was; requests that are refused after ordering
//! (unknown app, replayed nonce, a trap) consume a log entry but leave the state root unchanged.

mod common;

use common::{Network, Settings, block_on, counter_wasm, deploy};
use nexus_proto::MAX_MESSAGE_BYTES;
use nexus_proto::v1::admin_client::AdminClient;
use nexus_proto::v1::client_client::ClientClient;
use nexus_proto::v1::mpc_client::MpcClient;
use nexus_proto::v1::raft_client::RaftClient;
use nexus_proto::v1::{
    AddReplicaRequest, AdminAuth, CommitRequest, DkgMessage, GetReceiptRequest, ProposeRequest, QueryRequest,
    RaftMessage, RemoveReplicaRequest, SignRequest, SnapshotChunk, SubmitRequest, SubmitResponse,
};
use nexus_replica::nexus_mpc::batch::BatchMessage;
use nexus_replica::{ApplyOutcome, ClientKey, MAX_REQUEST_BYTES, Rejection, Request};
use nexus_wasm_host::Trap;
use prost::Message;
use std::time::Duration;

use tonic::Code;
use tonic::transport::Channel;

async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
}

async fn client(addr: &str) -> ClientClient<Channel> {
    ClientClient::new(channel(addr).await)
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
}

/// What must not move: the applied index and root of every replica, and the membership.
fn state(net: &Network) -> (u64, Vec<u8>, usize) {
    // Settled: the leader seals a batch within a few tens of milliseconds of a call, which moves the applied
    // index (not the state root); wait until nothing moves.
    loop {
        let (applied, root) = net.converged();
        std::thread::sleep(Duration::from_millis(150));
        if net.converged().0 == applied {
            return (applied, root, net.status(0).unwrap().members.len());
        }
    }
}

fn code<T>(result: Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(_) => panic!("accepted"),
        Err(status) => (status.code(), status.message().to_string()),
    }
}

/// The outcome carried in an error status's details (a request that was ordered, then refused or trapped).
fn outcome_in(status: &tonic::Status) -> ApplyOutcome {
    let response = SubmitResponse::decode(status.details()).expect("details are a SubmitResponse");
    postcard::from_bytes(&response.outcome).expect("an outcome")
}

#[test]
fn bad_input_to_every_rpc_gets_a_clear_error_and_changes_nothing() {
    let mut net = Network::start(3, Settings::default());
    let key = nexus_cli::keys::load(&net.config_dir, "default").unwrap();
    let app = deploy(net.addr(0), &key, counter_wasm());
    // A count above zero, so that adding u64::MAX overflows (and traps) below.
    let counted = block_on(common::increment(net.addr(0), &key, app, 1)).unwrap();
    let addr = net.addr(1).to_string();
    // The call's batch, certified: the Mpc service gets real messages with one field wrong.
    let certified = block_on(nexus_cli::network::wait_certified(&addr, counted.call_id, Duration::from_secs(30)))
        .unwrap()
        .certified
        .expect("the call's batch is certified");
    let (_, proof) = certified.proof().unwrap();
    let certificate = proof.certificate;
    let leader_addr = net.addr(net.leader().unwrap()).to_string();
    let addrs: Vec<String> = (0..3).map(|i| net.addr(i).to_string()).collect();
    let cluster = net.cluster;
    let signed = |nonce: u64, request: Request| key.sign(&cluster, nonce, request).encode();
    let before = state(&net);

    block_on(async {
        let mut c = client(&addr).await;
        let submit = |bytes: Vec<u8>| SubmitRequest { signed_request: bytes };

        // Refused before the log.
        let (code_, msg) = code(c.submit(submit(b"not a request".to_vec())).await);
        assert_eq!(code_, Code::InvalidArgument, "{msg}");
        let (code_, msg) = code(c.submit(submit(vec![0; MAX_REQUEST_BYTES + 1])).await);
        assert_eq!(code_, Code::OutOfRange, "{msg}");
        assert!(msg.contains("limit"), "{msg}");
        let (code_, msg) = code(c.submit(submit(vec![0; MAX_MESSAGE_BYTES + 1])).await);
        assert_eq!(code_, Code::OutOfRange, "{msg}");
        let mut forged =
            key.sign(&cluster, 1, Request::Call { app, function: "increment".into(), input: vec![1], zk: false });
        forged.signature[0] ^= 1;
        let (code_, msg) = code(c.submit(submit(forged.encode())).await);
        assert_eq!(code_, Code::Unauthenticated, "{msg}");
        let other_cluster =
            key.sign(&[0xee; 32], 2, Request::Deploy { module: counter_wasm(), program: None }).encode();
        assert_eq!(code(c.submit(submit(other_cluster)).await).0, Code::Unauthenticated);
        let (code_, msg) = code(
            c.submit(submit(signed(
                nexus_cli::network::clock_nonce(),
                Request::Deploy { module: b"\0asm garbage".to_vec(), program: None },
            )))
            .await,
        );
        assert_eq!(code_, Code::InvalidArgument, "{msg}");
        assert!(msg.contains("module refused"), "{msg}");
        let huge =
            signed(nexus_cli::network::clock_nonce(), Request::Deploy { module: vec![0; 5 << 20], program: None });
        let (code_, msg) = code(c.submit(submit(huge)).await);
        assert_eq!(code_, Code::InvalidArgument, "{msg}");
    });
    assert_eq!(state(&net), before, "refusals before the log changed something");

    let (applied, root, members) = before;
    block_on(async {
        let mut c = client(&addr).await;
        let submit = |bytes: Vec<u8>| SubmitRequest { signed_request: bytes };
        let nonce = nexus_cli::network::clock_nonce();
        // Ordered, then refused: the outcome is in the status's details.
        let unknown = signed(
            nonce,
            Request::Call { app: nexus_replica::AppId([7; 32]), function: "get".into(), input: vec![], zk: false },
        );
        let status = c.submit(submit(unknown)).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{}", status.message());
        assert!(matches!(outcome_in(&status), ApplyOutcome::Rejected(Rejection::UnknownApp(_))));
        let no_such_function =
            signed(nonce + 1, Request::Call { app, function: "nope".into(), input: vec![], zk: false });
        let status = c.submit(submit(no_such_function.clone())).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        let status = c.submit(submit(no_such_function)).await.unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists, "a replay: {}", status.message());
        assert!(status.details().is_empty(), "a replay of an applied request is refused before the log");
        let upgrade_by_stranger = ClientKey::from_secret([5; 32]).sign(
            &cluster,
            1,
            Request::Upgrade { app, module: counter_wasm(), program: None },
        );
        let status = c.submit(submit(upgrade_by_stranger.encode())).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{}", status.message());
        // A trap: the call's receipt comes back with the error, its writes discarded.
        let max = postcard::to_allocvec(&u64::MAX).unwrap();
        let overflow = signed(nonce + 2, Request::Call { app, function: "increment".into(), input: max, zk: false });
        let status = c.submit(submit(overflow)).await.unwrap_err();
        assert_eq!(status.code(), Code::Aborted, "{}", status.message());
        match outcome_in(&status) {
            ApplyOutcome::Called(receipt) => assert!(matches!(receipt.trap, Some(Trap::Abort { .. })), "{receipt:?}"),
            other => panic!("{other:?}"),
        }
    });
    let after = state(&net);
    assert_eq!(after.1, root, "refused or trapped calls changed the state");
    // Each ordered refusal is one log entry (plus the seals of the batches the trapped call's receipt is in).
    assert!(after.0 >= applied + 4, "{} entries applied, 4 expected", after.0 - applied);
    assert_eq!(after.2, members);

    // Out of fuel is its own code.
    let spin =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "spin") (loop $l (br $l))))"#).unwrap();
    let spinner = deploy(&addr, &key, spin);
    let (_, root, _) = state(&net);
    block_on(async {
        let request = signed(
            nexus_cli::network::clock_nonce(),
            Request::Call { app: spinner, function: "spin".into(), input: vec![], zk: false },
        );
        let status = client(&addr).await.submit(SubmitRequest { signed_request: request }).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{}", status.message());
        assert!(status.message().contains("out of fuel"), "{}", status.message());
    });
    let before = state(&net);
    assert_eq!(before.1, root);

    block_on(async {
        let mut c = client(&addr).await;
        let query = |app: Vec<u8>, function: &str, caller: Vec<u8>| QueryRequest {
            app,
            function: function.into(),
            input: vec![],
            caller,
            local: false,
        };
        assert_eq!(code(c.query(query(vec![1; 5], "get", vec![])).await).0, Code::InvalidArgument);
        assert_eq!(code(c.query(query(vec![7; 32], "get", vec![])).await).0, Code::NotFound);
        assert_eq!(code(c.query(query(app.0.to_vec(), "nope", vec![])).await).0, Code::InvalidArgument);
        assert_eq!(code(c.query(query(app.0.to_vec(), "get", vec![1; 3])).await).0, Code::InvalidArgument);
        assert_eq!(
            code(c.get_receipt(GetReceiptRequest { call_id: 1 << 40, ..Default::default() }).await).0,
            Code::NotFound
        );

        let mut raft = RaftClient::new(channel(&addr).await);
        let garbage = || RaftMessage { payload: vec![0xff; 64] };
        assert_eq!(code(raft.append_entries(garbage()).await).0, Code::InvalidArgument);
        assert_eq!(code(raft.vote(garbage()).await).0, Code::InvalidArgument);
        let chunk = SnapshotChunk { meta: vec![0xff; 16], data: vec![1, 2, 3], done: true };
        assert_eq!(code(raft.install_snapshot(tokio_stream::iter([chunk])).await).0, Code::InvalidArgument);
        assert_eq!(
            code(raft.install_snapshot(tokio_stream::iter(Vec::<SnapshotChunk>::new())).await).0,
            Code::InvalidArgument
        );

        let mut admin = AdminClient::new(channel(&addr).await);
        let add = |auth| AddReplicaRequest { node_id: 9, address: "127.0.0.1:1".into(), auth };
        assert_eq!(code(admin.add_replica(add(None)).await).0, Code::Unauthenticated);
        let short = AdminAuth { timestamp_ms: 1, signer: vec![1; 3], signature: vec![0; 64] };
        assert_eq!(code(admin.add_replica(add(Some(short))).await).0, Code::InvalidArgument);
        let stranger = ClientKey::from_secret([5; 32]);
        let now = nexus_cli::network::clock_nonce() / 1_000_000;
        let command = nexus_replica::admin::AdminCommand::RemoveReplica { node_id: 0 };
        let auth = stranger.sign_admin(&cluster, now, &command);
        let auth = AdminAuth { timestamp_ms: now, signer: auth.signer.to_vec(), signature: auth.signature.to_vec() };
        let (code_, msg) = code(admin.remove_replica(RemoveReplicaRequest { node_id: 0, auth: Some(auth) }).await);
        assert_eq!(code_, Code::PermissionDenied, "{msg}");

        let mut mpc = MpcClient::new(channel(&addr).await);
        let dkg = |kind: u32, from: u64, payload: Vec<u8>| DkgMessage {
            context: vec![0; 32],
            key_epoch: 2,
            attempt: 0,
            from,
            kind,
            payload,
            suite: 0,
        };
        assert_eq!(code(mpc.dkg(dkg(99, 0, vec![])).await).0, Code::InvalidArgument);
        assert_eq!(code(mpc.dkg(dkg(1, u64::MAX, vec![])).await).0, Code::InvalidArgument);
        assert_eq!(code(mpc.dkg(dkg(1, 0, vec![0; 1 << 17])).await).0, Code::OutOfRange);
        assert_eq!(code(mpc.dkg(DkgMessage { suite: 9, ..dkg(1, 0, vec![]) }).await).0, Code::InvalidArgument);
        // A message of the epoch already adopted is acknowledged and ignored.
        mpc.dkg(DkgMessage { key_epoch: 1, ..dkg(1, 0, vec![1; 8]) }).await.unwrap();

        let message = certificate.message;
        let commit = |session: u64, message: &[u8]| CommitRequest {
            session,
            coordinator: 77,
            batch_message: message.to_vec(),
            suite: 0,
        };
        assert_eq!(code(mpc.commit(commit(1, &[0; 7])).await).0, Code::InvalidArgument);
        assert_eq!(
            code(mpc.commit(CommitRequest { suite: 9, ..commit(1, &message.encode()) }).await).0,
            Code::InvalidArgument
        );
        // A replica configured without an Ethereum chain has no key of that suite: nothing to sign with.
        let (c, msg) = code(mpc.commit(CommitRequest { suite: 1, ..commit(1, &message.encode()) }).await);
        assert!(c == Code::FailedPrecondition && msg.contains("Evm"), "{c:?} {msg}");
        let (c, msg) = code(mpc.commit(commit(1, &BatchMessage { receipts_root: [1; 32], ..message }.encode())).await);
        assert!(c == Code::FailedPrecondition && msg.contains("refusing to sign"), "{c:?} {msg}");
        let (c, msg) = code(mpc.commit(commit(1, &BatchMessage { key_epoch: 7, ..message }.encode())).await);
        assert!(c == Code::FailedPrecondition && msg.contains("key epoch"), "{c:?} {msg}");
        // A session signs at most once: its nonces are gone after the first request, valid or not.
        mpc.commit(commit(42, &message.encode())).await.unwrap();
        let sign = |session: u64| SignRequest { session, coordinator: 77, signing_package: vec![0xff; 40], suite: 0 };
        assert_eq!(code(mpc.sign(sign(42)).await).0, Code::InvalidArgument);
        let (c, msg) = code(mpc.sign(sign(42)).await);
        assert!(c == Code::FailedPrecondition && msg.contains("no such signing session"), "{c:?} {msg}");

        let mut mpc = MpcClient::new(channel(&leader_addr).await);
        let propose = |certificate: Vec<u8>| ProposeRequest { certificate, suite: 0 };
        assert_eq!(code(mpc.propose(propose(vec![0xff; 9])).await).0, Code::InvalidArgument);
        assert_eq!(code(mpc.propose(propose(vec![0; 4096])).await).0, Code::OutOfRange);
        let mut forged = certificate.clone();
        forged.signature[0] ^= 1;
        let (c, msg) = code(propose_to_leader(&addrs, postcard::to_allocvec(&forged).unwrap()).await);
        assert!(c == Code::InvalidArgument && msg.contains("signature"), "{c:?} {msg}");
        // The batch's certificate again: already in the state, so nothing is logged.
        propose_to_leader(&addrs, postcard::to_allocvec(&certificate).unwrap()).await.unwrap();
    });
    assert_eq!(state(&net), before, "bad reads, Raft, admin or Mpc messages changed something");

    // No leader: with two of three replicas gone, a write is refused as unavailable, not left hanging.
    let leader = net.leader().unwrap();
    let survivor = (leader + 1) % 3;
    net.kill(leader);
    net.kill(3 - leader - survivor);
    block_on(async {
        let request = signed(
            nexus_cli::network::clock_nonce(),
            Request::Call { app, function: "get".into(), input: vec![], zk: false },
        );
        let status =
            client(net.addr(survivor)).await.submit(SubmitRequest { signed_request: request }).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
    });
}

/// Proposes a certificate to whichever replica leads when the request arrives. Only the leader checks
/// and logs a proposal (a follower answers "not the leader"), and leadership can move between finding
/// the leader and calling it when the machine is loaded, so every replica is tried until one leads.
async fn propose_to_leader(addrs: &[String], certificate: Vec<u8>) -> Result<(), tonic::Status> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        for addr in addrs {
            let mut mpc = MpcClient::new(channel(addr).await);
            match mpc.propose(ProposeRequest { certificate: certificate.clone(), suite: 0 }).await {
                Ok(_) => return Ok(()),
                Err(s) if s.code() == Code::Unavailable && std::time::Instant::now() < deadline => {}
                Err(s) => return Err(s),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
