//! Every example app proven on the NVM prover: a call of each, run on the NVM, proven whole and
//! verified against its ELF; the statement's output is the run's envelope, which decodes to the
//! app's result (and `apps_on_nvm` checks that result against the wasm host's).

use std::sync::OnceLock;

use nexus_nvm_circuit::proof::{Folding, NvmParams, prove, verify};
use nexus_sdk::nvm_envelope::{NvmCall, NvmReturn};
use nexus_tests::{ALICE, enc, example_apps};
use nexus_vm::{Program, Vm, VmConfig};
use sha2::Digest;

/// Steps per fold: large enough that the fixed folding cost is a small part of a fold.
const K: u64 = 128;

fn params() -> &'static NvmParams {
    static PARAMS: OnceLock<NvmParams> = OnceLock::new();
    PARAMS.get_or_init(|| NvmParams::new(K, Folding::Sequential).expect("setup"))
}

/// Proves `app::function(input)` (empty state) as `caller`; returns the app's output and writes
/// after checking the statement against the NVM run.
fn prove_call(app: &str, function: &str, input: Vec<u8>, caller: Option<[u8; 32]>) -> NvmReturn {
    let program = Program::from_elf(&example_apps()[app].elf).unwrap();
    let envelope = enc(&NvmCall::new(function, caller, input, []));
    let run = Vm::new(&program, &envelope, VmConfig::default()).unwrap().run_fast().unwrap();
    let proof = prove(params(), &program, &envelope, |_, _| {}).unwrap();
    let statement = verify(params(), &program, &proof).unwrap();
    assert_eq!((statement.exit_code, statement.steps), (0, run.steps), "{app}::{function}");
    assert_eq!(statement.program_digest, Some(program.digest()));
    assert_eq!(statement.input_digest, <[u8; 32]>::from(sha2::Sha256::digest(&envelope)));
    assert_eq!(statement.output_digest, <[u8; 32]>::from(sha2::Sha256::digest(&run.output)));
    assert_eq!(proof.output, run.output);
    // The proof is of this call: under another app's program it is refused.
    let other = Program::from_elf(&example_apps()[if app == "counter" { "ledger" } else { "counter" }].elf).unwrap();
    assert!(verify(params(), &other, &proof).is_err(), "{app}'s proof accepted for another program");
    postcard::from_bytes(&proof.output).unwrap()
}

#[test]
fn counter_increment_is_proven() {
    let ret = prove_call("counter", "increment", enc(&5u64), None);
    assert_eq!(ret.output, enc(&5u64));
    assert_eq!(ret.writes.len(), 1);
}

#[test]
fn fibonacci_is_proven() {
    assert_eq!(prove_call("fibonacci", "fib", enc(&30u64), None).output, enc(&832_040u64));
}

#[test]
fn sha256_digest_is_proven() {
    let data = b"hello nexus".to_vec();
    let expected: [u8; 32] = sha2::Sha256::digest(&data).into();
    assert_eq!(prove_call("sha256", "digest", enc(&data), None).output, enc(&expected));
}

#[test]
fn sha256_and_keccak_on_their_co_processors_are_proven() {
    let data = vec![7u8; 100];
    let expected: [u8; 32] = sha2::Sha256::digest(&data).into();
    assert_eq!(prove_call("sha256", "digest_accelerated", enc(&data), None).output, enc(&expected));
    let keccak = nexus_sdk::crypto::keccak256(&data);
    assert_eq!(prove_call("sha256", "keccak256", enc(&data), None).output, enc(&keccak));
}

#[test]
fn ledger_init_is_proven() {
    let ret = prove_call("ledger", "init", enc(&1000u64), Some(ALICE));
    assert!(!ret.writes.is_empty(), "init writes the caller's balance");
}
