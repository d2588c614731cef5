//! The state machine on real storage with real apps: same log ⇒ same state, receipts and root; signatures,
//! nonces and ownership enforced at apply time; refused requests change nothing but the nonce.

use std::sync::Arc;

use nexus_replica::{
    AppId, ApplyOutcome, ClientKey, ClusterId, Receipt, Rejection, Request, SignedRequest, StateMachine, StateRoot,
};
use nexus_tests::{enc, example_apps};
use nexus_wasm_host::{Host, Limits, Trap};

const CLUSTER: ClusterId = [7; 32];

fn alice() -> ClientKey {
    ClientKey::from_secret([1; 32])
}

fn bob() -> ClientKey {
    ClientKey::from_secret([2; 32])
}

fn open(dir: &std::path::Path) -> StateMachine {
    let host = Arc::new(Host::new(Limits::default()).unwrap());
    StateMachine::open(&dir.join("state.redb"), CLUSTER, host).unwrap()
}

/// Applies requests one batch each, at the next indexes.
fn apply(sm: &mut StateMachine, requests: Vec<SignedRequest>) -> Vec<ApplyOutcome> {
    let start = sm.status().applied_index + 1;
    let batch: Vec<_> = requests.into_iter().enumerate().map(|(i, r)| (start + i as u64, r)).collect();
    sm.apply_batch(&batch).unwrap()
}

fn deploy_counter(sm: &mut StateMachine) -> AppId {
    let request =
        alice().sign(&CLUSTER, 1, Request::Deploy { module: example_apps()["counter"].wasm.clone(), program: None });
    match &apply(sm, vec![request])[0] {
        ApplyOutcome::Deployed { app, .. } => *app,
        other => panic!("deploy failed: {other:?}"),
    }
}

fn call(key: &ClientKey, nonce: u64, app: AppId, function: &str, input: Vec<u8>) -> SignedRequest {
    key.sign(&CLUSTER, nonce, Request::Call { app, function: function.into(), input, zk: false })
}

fn receipt(outcome: &ApplyOutcome) -> &Receipt {
    match outcome {
        ApplyOutcome::Called(receipt) => receipt,
        other => panic!("expected a receipt, got {other:?}"),
    }
}

#[test]
fn calls_in_one_batch_see_each_other_and_state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open(dir.path());
    let app = deploy_counter(&mut sm);
    let out = apply(
        &mut sm,
        vec![call(&alice(), 2, app, "increment", enc(&5u64)), call(&bob(), 1, app, "increment", enc(&2u64))],
    );
    assert_eq!(receipt(&out[0]).output, Some(enc(&5u64)));
    assert_eq!(receipt(&out[1]).output, Some(enc(&7u64)), "the second call of the batch sees the first");
    assert_eq!(receipt(&out[1]).caller, bob().public());
    assert_eq!(receipt(&out[1]).state_root, sm.status().state_root);
    let status = sm.status();
    drop(sm);

    let mut sm = open(dir.path());
    assert_eq!(sm.status(), status);
    assert_eq!(sm.receipt(3).unwrap().as_ref(), Some(receipt(&out[1])));
    let out = apply(&mut sm, vec![call(&alice(), 3, app, "increment", enc(&1u64))]);
    assert_eq!(receipt(&out[0]).output, Some(enc(&8u64)));
}

#[test]
fn two_replicas_applying_the_same_log_agree_and_the_root_matches_a_recomputation() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, mut b) = (open(d1.path()), open(d2.path()));
    let ledger =
        alice().sign(&CLUSTER, 1, Request::Deploy { module: example_apps()["ledger"].wasm.clone(), program: None });
    let app = ledger.app();
    let log = vec![
        ledger,
        call(&alice(), 2, app, "init", enc(&1000u64)),
        call(&alice(), 3, app, "transfer", enc(&(bob().public(), 300u64))),
        call(&bob(), 1, app, "transfer", enc(&(alice().public(), 5000u64))),
        call(&bob(), 2, app, "transfer", enc(&(alice().public(), 300u64))),
    ];
    // Different batching on the two replicas: results must not depend on it.
    let out_a = apply(&mut a, log.clone());
    let mut out_b = apply(&mut b, log[..2].to_vec());
    out_b.extend(apply(&mut b, log[2..].to_vec()));
    assert_eq!(out_a, out_b);
    assert_eq!(a.status(), b.status());
    assert_eq!(a.state_entries().unwrap(), b.state_entries().unwrap());
    assert!(matches!(receipt(&out_a[3]).trap, Some(Trap::Abort { .. })));

    let mut recomputed = StateRoot::default();
    for (app, key, value) in a.state_entries().unwrap() {
        recomputed.insert(&app, &key, &value);
    }
    assert_eq!(recomputed.to_bytes(), a.status().state_root);
    // Bob sent everything back: his balance key was deleted, only Alice's and the issuer remain.
    assert_eq!(a.state_entries().unwrap().len(), 2);
}

#[test]
fn forged_replayed_and_foreign_requests_are_refused_and_change_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open(dir.path());
    let app = deploy_counter(&mut sm);
    apply(&mut sm, vec![call(&alice(), 2, app, "increment", enc(&1u64))]);
    let before = (sm.status().state_root, sm.state_entries().unwrap());

    let mut forged = call(&alice(), 3, app, "increment", enc(&1u64));
    forged.request = Request::Call { app, function: "increment".into(), input: enc(&1000u64), zk: false };
    let mut wrong_signer = call(&alice(), 3, app, "increment", enc(&1u64));
    wrong_signer.signer = bob().public();
    let other_cluster =
        alice().sign(&[8; 32], 3, Request::Call { app, function: "increment".into(), input: enc(&1u64), zk: false });
    let replayed = call(&alice(), 2, app, "increment", enc(&1u64));
    let out = apply(&mut sm, vec![forged, wrong_signer, other_cluster, replayed]);
    assert_eq!(out[0], ApplyOutcome::Rejected(Rejection::BadSignature));
    assert_eq!(out[1], ApplyOutcome::Rejected(Rejection::BadSignature));
    assert_eq!(out[2], ApplyOutcome::Rejected(Rejection::BadSignature));
    assert_eq!(out[3], ApplyOutcome::Rejected(Rejection::ReplayedNonce { nonce: 2, last: 2 }));
    assert_eq!((sm.status().state_root, sm.state_entries().unwrap()), before);
}

#[test]
fn only_the_owner_upgrades_and_an_upgrade_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open(dir.path());
    let app = deploy_counter(&mut sm);
    apply(&mut sm, vec![call(&alice(), 2, app, "increment", enc(&41u64))]);
    // The new code reads the counter's key raw and returns it.
    let v2 = wat::parse_str(
        r#"(module
             (import "nexus" "state_get" (func $get (param i32 i32) (result i32)))
             (import "nexus" "register_read" (func $read (param i32)))
             (import "nexus" "output_write" (func $out (param i32 i32)))
             (memory (export "memory") 1)
             (data (i32.const 0) "count")
             (func (export "raw") (local $n i32)
               (local.set $n (call $get (i32.const 0) (i32.const 5)))
               (call $read (i32.const 64))
               (call $out (i32.const 64) (local.get $n))))"#,
    )
    .unwrap();
    let by_bob = bob().sign(&CLUSTER, 1, Request::Upgrade { app, module: v2.clone(), program: None });
    let by_alice = alice().sign(&CLUSTER, 3, Request::Upgrade { app, module: v2, program: None });
    let bad_module = alice().sign(&CLUSTER, 4, Request::Upgrade { app, module: b"not wasm".to_vec(), program: None });
    let out = apply(&mut sm, vec![by_bob, by_alice, bad_module, call(&bob(), 2, app, "raw", vec![])]);
    assert_eq!(out[0], ApplyOutcome::Rejected(Rejection::NotOwner));
    assert!(matches!(out[1], ApplyOutcome::Upgraded { version: 2, .. }));
    assert!(matches!(&out[2], ApplyOutcome::Rejected(Rejection::InvalidModule(_))));
    assert_eq!(receipt(&out[3]).output, Some(enc(&41u64)), "state kept across the upgrade");
    assert_eq!(sm.app(&app).unwrap().unwrap().version, 2);
}

#[test]
fn traps_unknown_apps_and_bad_calls_leave_state_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open(dir.path());
    let app = deploy_counter(&mut sm);
    apply(&mut sm, vec![call(&alice(), 2, app, "increment", enc(&1u64))]);
    let root = sm.status().state_root;
    let out = apply(
        &mut sm,
        vec![
            call(&alice(), 3, app, "increment", enc(&u64::MAX)),
            call(&alice(), 4, AppId([9; 32]), "increment", enc(&1u64)),
            call(&alice(), 5, app, "no_such_function", vec![]),
            alice().sign(&CLUSTER, 6, Request::Deploy { module: vec![0, 1, 2], program: None }),
        ],
    );
    let trapped = receipt(&out[0]);
    assert_eq!(trapped.trap, Some(Trap::Abort { message: "counter overflow".into() }));
    assert_eq!(trapped.state_root, root);
    assert_eq!(out[1], ApplyOutcome::Rejected(Rejection::UnknownApp(AppId([9; 32]))));
    assert!(matches!(&out[2], ApplyOutcome::Rejected(Rejection::BadCall(m)) if m.contains("no function")));
    assert!(matches!(&out[3], ApplyOutcome::Rejected(Rejection::InvalidModule(_))));
    assert_eq!(sm.status().state_root, root);
    assert_eq!(sm.status().applied_index, 6);
}

#[test]
fn queries_read_committed_state_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open(dir.path());
    let app = deploy_counter(&mut sm);
    apply(&mut sm, vec![call(&alice(), 2, app, "increment", enc(&3u64))]);
    let status = sm.status();
    let result = sm.query(&app, "increment", &enc(&10u64), None).unwrap().unwrap();
    assert_eq!(result.output(), Some(enc(&13u64).as_slice()));
    assert_eq!(sm.status(), status);
    assert_eq!(sm.query(&app, "get", &enc(&()), None).unwrap().unwrap().output(), Some(enc(&3u64).as_slice()));
    assert!(matches!(sm.query(&AppId([0; 32]), "get", &[], None).unwrap(), Err(Rejection::UnknownApp(_))));
}

#[test]
fn entries_out_of_order_are_an_error_and_apply_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open(dir.path());
    let app = deploy_counter(&mut sm);
    let status = sm.status();
    let err = sm.apply_batch(&[
        (2, call(&alice(), 2, app, "increment", enc(&1u64))),
        (4, call(&alice(), 3, app, "increment", enc(&1u64))),
    ]);
    assert!(matches!(err, Err(nexus_replica::ReplicaError::OutOfOrder { index: 4, applied: 2 })));
    assert_eq!(sm.status(), status, "the whole batch was rolled back");
}

#[test]
fn request_decoding_refuses_garbage_truncation_and_oversize() {
    let request = call(&alice(), 1, AppId([1; 32]), "f", vec![1, 2, 3]);
    let bytes = request.encode();
    assert_eq!(SignedRequest::decode(&bytes).unwrap(), request);
    assert!(SignedRequest::decode(&bytes[..bytes.len() - 1]).is_err());
    assert!(SignedRequest::decode(b"\xff\xff\xff\xff").is_err());
    assert!(SignedRequest::decode(&vec![0; nexus_replica::MAX_REQUEST_BYTES + 1]).is_err());
}
