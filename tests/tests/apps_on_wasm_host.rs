//! Every example app, built for real, run through the host: expected results, typed errors, and the
//! determinism contract (two independent hosts agree on output, trap, fuel and state writes).

use std::sync::Arc;

use nexus_tests::{ALICE, BOB, EXAMPLE_APPS, Step, enc, example_apps};
use nexus_wasm_host::{CallContext, CallResult, Host, Limits, MemoryState, Outcome, Trap};
use sha2::Digest;

fn script() -> Vec<Step> {
    vec![
        ("counter", "get", enc(&()), None),
        ("counter", "increment", enc(&5u64), None),
        ("counter", "increment", enc(&u64::MAX), None),
        ("counter", "get", enc(&()), None),
        ("counter", "reset", enc(&()), None),
        ("counter", "increment", b"\xff\xff".to_vec(), None),
        ("fibonacci", "fib", enc(&90u64), None),
        ("fibonacci", "fib", enc(&200_000_000u64), None),
        ("sha256", "digest", enc(&b"hello nexus".to_vec()), None),
        ("sha256", "chain", enc(&(b"seed".to_vec(), 100u32)), None),
        ("ledger", "transfer", enc(&(BOB, 1u64)), Some(ALICE)),
        ("ledger", "init", enc(&1000u64), None),
        ("ledger", "init", enc(&1000u64), Some(ALICE)),
        ("ledger", "init", enc(&1000u64), Some(BOB)),
        ("ledger", "transfer", enc(&(BOB, 250u64)), Some(ALICE)),
        ("ledger", "transfer", enc(&(ALICE, 9999u64)), Some(BOB)),
        ("ledger", "transfer", enc(&(BOB, 0u64)), Some(ALICE)),
        ("ledger", "transfer", enc(&(ALICE, 1u64)), Some(ALICE)),
        ("ledger", "holders", enc(&()), None),
        ("ledger", "balance_of", enc(&BOB), None),
    ]
}

/// Runs the script on a fresh host, applying writes as a state machine would.
fn run_script(host: &Host) -> Vec<CallResult> {
    let mut states: std::collections::BTreeMap<&str, MemoryState> = Default::default();
    script()
        .into_iter()
        .map(|(app, function, input, caller)| {
            let module = host.load(&example_apps()[app].wasm).expect("example app loads");
            let state = states.entry(app).or_default();
            let ctx = CallContext { caller, fuel_limit: None };
            let result = host.call(&module, function, &input, &ctx, Arc::new(state.clone())).expect("call runs");
            state.apply(&result.writes);
            result
        })
        .collect()
}

fn output(result: &CallResult) -> &[u8] {
    match &result.outcome {
        Outcome::Returned(out) => out,
        Outcome::Trapped(trap) => panic!("unexpected trap: {trap}"),
    }
}

fn abort_message(result: &CallResult) -> &str {
    match result.trap() {
        Some(Trap::Abort { message }) => message,
        other => panic!("expected an abort, got {other:?}"),
    }
}

#[test]
fn all_example_apps_are_built() {
    for name in EXAMPLE_APPS {
        assert!(example_apps().contains_key(name), "{name} missing");
    }
}

#[test]
fn example_apps_give_the_expected_results_and_typed_errors() {
    let host = Host::new(Limits::default()).unwrap();
    let r = run_script(&host);
    assert_eq!(output(&r[0]), enc(&0u64));
    assert_eq!(output(&r[1]), enc(&5u64));
    assert_eq!(abort_message(&r[2]), "counter overflow");
    assert_eq!(output(&r[3]), enc(&5u64), "the trapped increment changed nothing");
    assert_eq!(
        r[4].writes.iter().map(|(k, v)| (k.as_slice(), v.is_none())).collect::<Vec<_>>(),
        [(&b"count"[..], true)]
    );
    assert!(abort_message(&r[5]).starts_with("invalid input"), "{}", abort_message(&r[5]));

    let fib90 = (0..90).fold((0u64, 1u64), |(a, b), _| (b, a.wrapping_add(b))).0;
    assert_eq!(output(&r[6]), enc(&fib90));
    assert_eq!(abort_message(&r[7]), "n = 200000000 is above the maximum of 100000000");

    let digest: [u8; 32] = sha2::Sha256::digest(b"hello nexus").into();
    assert_eq!(output(&r[8]), enc(&digest));
    let mut chain: [u8; 32] = sha2::Sha256::digest(b"seed").into();
    for _ in 1..100 {
        chain = sha2::Sha256::digest(chain).into();
    }
    assert_eq!(output(&r[9]), enc(&chain));

    assert_eq!(abort_message(&r[10]), "ledger is not initialized");
    assert_eq!(abort_message(&r[11]), "this function needs a signed call");
    assert_eq!(output(&r[12]), enc(&ALICE));
    assert_eq!(abort_message(&r[13]), "ledger is already initialized");
    assert_eq!(output(&r[14]), enc(&750u64));
    assert_eq!(r[14].logs, ["transfer of 250 done"]);
    assert_eq!(abort_message(&r[15]), "insufficient funds: balance 250, amount 9999");
    assert_eq!(abort_message(&r[16]), "amount must be positive");
    assert_eq!(abort_message(&r[17]), "cannot transfer to yourself");
    assert_eq!(output(&r[18]), enc(&vec![(ALICE, 750u64), (BOB, 250u64)]));
    assert_eq!(output(&r[19]), enc(&250u64));
}

#[test]
fn two_independent_hosts_agree_on_every_call_including_traps() {
    let a = run_script(&Host::new(Limits::default()).unwrap());
    let b = run_script(&Host::new(Limits::default()).unwrap());
    assert_eq!(a, b);
    assert!(a.iter().any(|r| r.trap().is_some()) && a.iter().any(|r| r.trap().is_none()));
    assert!(a.iter().all(|r| r.fuel_used > 0));
}

#[test]
fn sha256_of_one_mebibyte_matches_native() {
    let host = Host::new(Limits::default()).unwrap();
    let module = host.load(&example_apps()["sha256"].wasm).unwrap();
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 31 % 251) as u8).collect();
    let result =
        host.call(&module, "digest", &enc(&data), &CallContext::default(), Arc::new(MemoryState::new())).unwrap();
    let expected: [u8; 32] = sha2::Sha256::digest(&data).into();
    assert_eq!(output(&result), enc(&expected));
}

#[test]
fn a_call_with_too_little_fuel_runs_out_and_changes_nothing() {
    let host = Host::new(Limits::default()).unwrap();
    let module = host.load(&example_apps()["counter"].wasm).unwrap();
    let ctx = CallContext { caller: None, fuel_limit: Some(500) };
    let result = host.call(&module, "increment", &enc(&1u64), &ctx, Arc::new(MemoryState::new())).unwrap();
    assert_eq!(result.trap(), Some(&Trap::OutOfFuel { fuel_limit: 500 }));
    assert!(result.writes.is_empty());
}
