//! The same app source gives the same results on the NVM (riscv32im) as on the wasm host: for every call of
//! a scripted session over every example app, the NVM run returns the same output and state writes, or
//! aborts with the same message.

use std::collections::BTreeMap;
use std::sync::Arc;

use nexus_sdk::nvm_envelope::{ABORT_EXIT_CODE, NvmCall, NvmReturn};
use nexus_tests::{ALICE, BOB, Step, enc, example_apps};
use nexus_vm::{Program, Vm, VmConfig};
use nexus_wasm_host::{CallContext, Host, Limits, MemoryState, Outcome, Trap};

fn script() -> Vec<Step> {
    vec![
        ("counter", "increment", enc(&5u64), None),
        ("counter", "increment", enc(&7u64), None),
        ("counter", "get", enc(&()), None),
        ("counter", "increment", enc(&u64::MAX), None),
        ("counter", "reset", enc(&()), None),
        ("counter", "increment", b"\xff".to_vec(), None),
        ("counter", "no_such_function", enc(&()), None),
        ("fibonacci", "fib", enc(&90u64), None),
        ("fibonacci", "fib", enc(&1000u64), None),
        ("fibonacci", "fib", enc(&u64::MAX), None),
        ("sha256", "digest", enc(&b"hello nexus".to_vec()), None),
        ("sha256", "digest", enc(&vec![7u8; 10_000]), None),
        ("sha256", "chain", enc(&(b"seed".to_vec(), 50u32)), None),
        ("sha256", "digest_accelerated", enc(&vec![7u8; 10_000]), None),
        ("sha256", "digest_accelerated", enc(&vec![1u8; 55]), None),
        ("sha256", "keccak256", enc(&vec![9u8; 1_000]), None),
        ("sha256", "keccak256", enc(&Vec::<u8>::new()), None),
        ("ledger", "init", enc(&1000u64), None),
        ("ledger", "init", enc(&1000u64), Some(ALICE)),
        ("ledger", "transfer", enc(&(BOB, 250u64)), Some(ALICE)),
        ("ledger", "transfer", enc(&(ALICE, 9999u64)), Some(BOB)),
        ("ledger", "transfer", enc(&(ALICE, 50u64)), Some(BOB)),
        ("ledger", "holders", enc(&()), None),
        ("ledger", "balance_of", enc(&BOB), None),
    ]
}

#[test]
fn every_example_app_gives_the_same_results_on_the_nvm_as_on_the_wasm_host() {
    let host = Host::new(Limits::default()).unwrap();
    let mut states: BTreeMap<&str, MemoryState> = BTreeMap::new();
    let mut compared = 0;
    for (app, function, input, caller) in script() {
        let state = states.entry(app).or_default();
        let artifacts = &example_apps()[app];
        let label = format!("{app}::{function}");

        // The wasm host, as a replica runs it. A function the app lacks is refused before running there;
        // on the NVM it is an abort.
        let module = host.load(&artifacts.wasm).unwrap();
        let wasm =
            host.call(&module, function, &input, &CallContext { caller, fuel_limit: None }, Arc::new(state.clone()));

        // The NVM, with the call envelope carrying the state.
        let program = Program::from_elf(&artifacts.elf).unwrap();
        let call = NvmCall::new(function, caller, input.clone(), state.iter().map(|(k, v)| (k.clone(), v.clone())));
        let envelope = enc(&call);
        let nvm = Vm::new(&program, &envelope, VmConfig::default()).unwrap().run_fast().unwrap();
        let log = String::from_utf8_lossy(&nvm.log).into_owned();

        match wasm {
            Err(nexus_wasm_host::CallError::NoSuchFunction { .. }) => {
                assert_eq!(nvm.exit_code, ABORT_EXIT_CODE, "{label}");
                assert!(log.contains(&format!("app has no function `{function}`")), "{label}: {log}");
            }
            Err(e) => panic!("{label}: {e}"),
            Ok(result) => match &result.outcome {
                Outcome::Returned(output) => {
                    assert_eq!(nvm.exit_code, 0, "{label}: {log}");
                    let ret: NvmReturn = postcard::from_bytes(&nvm.output).unwrap();
                    assert_eq!(&ret.output, output, "{label}: outputs differ");
                    let wasm_writes: Vec<_> = result.writes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    assert_eq!(ret.plain_writes(), wasm_writes, "{label}: state writes differ");
                    for line in &result.logs {
                        assert!(log.contains(line.as_str()), "{label}: log line {line:?} missing on the NVM");
                    }
                    state.apply(&result.writes);
                }
                Outcome::Trapped(Trap::Abort { message }) => {
                    assert_eq!(nvm.exit_code, ABORT_EXIT_CODE, "{label}");
                    assert!(log.contains(&format!("abort: {message}")), "{label}: {log:?} lacks {message:?}");
                    assert!(nvm.output.is_empty(), "{label}: an aborted run has no public output");
                }
                Outcome::Trapped(other) => panic!("{label}: unexpected trap {other}"),
            },
        }
        compared += 1;
    }
    assert_eq!(compared, script().len());
}

#[test]
fn a_malformed_call_envelope_aborts_cleanly_on_the_nvm() {
    let program = Program::from_elf(&example_apps()["counter"].elf).unwrap();
    let result = Vm::new(&program, b"\xff\xff\xff", VmConfig::default()).unwrap().run_fast().unwrap();
    assert_eq!(result.exit_code, ABORT_EXIT_CODE);
    assert!(String::from_utf8_lossy(&result.log).contains("call envelope does not decode"));
}

#[test]
fn co_processors_give_the_portable_result_for_far_fewer_steps() {
    use sha2::Digest;
    let program = Program::from_elf(&example_apps()["sha256"].elf).unwrap();
    let data = vec![0x42u8; 64 * 1024];
    let run = |function: &str, data: &[u8]| {
        let envelope = enc(&NvmCall::new(function, None, enc(data), []));
        let result = Vm::new(&program, &envelope, VmConfig::default()).unwrap().run_fast().unwrap();
        assert_eq!(result.exit_code, 0);
        let ret: NvmReturn = postcard::from_bytes(&result.output).unwrap();
        (ret.output, result.steps)
    };
    let (portable, portable_steps) = run("digest", &data);
    let (accelerated, accelerated_steps) = run("digest_accelerated", &data);
    let expected: [u8; 32] = sha2::Sha256::digest(&data).into();
    assert_eq!(portable, enc(&expected));
    assert_eq!(accelerated, enc(&expected));
    // Steps per hashed block, without the fixed cost of the call. Both still pay the same per-byte cost of
    // decoding and copying the input (about 600 steps per block), so this understates the co-processor.
    let per_block = |steps: u64, function: &str| (steps - run(function, &[]).1) / (data.len() as u64 / 64);
    let (portable_per_block, accelerated_per_block) =
        (per_block(portable_steps, "digest"), per_block(accelerated_steps, "digest_accelerated"));
    assert!(
        accelerated_per_block * 5 < portable_per_block,
        "steps per block: co-processor {accelerated_per_block}, portable {portable_per_block}"
    );
}
