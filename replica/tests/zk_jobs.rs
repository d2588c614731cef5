//! Proven calls in the replicated state: a deploy records the app's NVM build, a `zk` call is run on both
//! builds at apply and becomes a proving job (or ends as "outputs differ"), and what cannot be proven is
//! refused with its reason.

use std::sync::Arc;

use nexus_replica::{
    AppId, ApplyOutcome, ClientKey, ClusterId, ProgramRecord, Rejection, Request, SignedRequest, StateMachine, ZkState,
};
use nexus_tests::{enc, example_apps};
use nexus_wasm_host::{Host, Limits};
use sha2::{Digest, Sha256};

const CLUSTER: ClusterId = [8; 32];

fn key() -> ClientKey {
    ClientKey::from_secret([3; 32])
}

fn open(dir: &std::path::Path) -> StateMachine {
    let host = Arc::new(Host::new(Limits::default()).unwrap());
    StateMachine::open(&dir.join("state.redb"), CLUSTER, host).unwrap()
}

fn apply(sm: &mut StateMachine, request: SignedRequest) -> ApplyOutcome {
    let index = sm.status().applied_index + 1;
    sm.apply_batch(&[(index, request)]).unwrap().remove(0)
}

fn deploy(sm: &mut StateMachine, nonce: u64, wasm_of: &str, elf_of: Option<&str>) -> ApplyOutcome {
    let apps = example_apps();
    let program = elf_of.map(|name| apps[name].elf.clone());
    apply(sm, key().sign(&CLUSTER, nonce, Request::Deploy { module: apps[wasm_of].wasm.clone(), program }))
}

fn app_of(outcome: &ApplyOutcome) -> AppId {
    match outcome {
        ApplyOutcome::Deployed { app, .. } => *app,
        other => panic!("deploy: {other:?}"),
    }
}

fn call(sm: &mut StateMachine, nonce: u64, app: AppId, function: &str, input: Vec<u8>) -> ApplyOutcome {
    apply(sm, key().sign(&CLUSTER, nonce, Request::Call { app, function: function.into(), input, zk: true }))
}

#[test]
fn a_deploy_records_the_program_and_a_zk_call_becomes_a_job_bound_by_its_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open(dir.path());
    let counter = app_of(&deploy(&mut sm, 1, "counter", Some("counter")));
    let (_, expected) = ProgramRecord::of_elf(&example_apps()["counter"].elf).unwrap();
    let record = sm.app(&counter).unwrap().unwrap();
    assert_eq!(record.program, Some(expected));
    assert_eq!(sm.program(&expected.digest).unwrap().as_deref(), Some(example_apps()["counter"].elf.as_slice()));

    // Two calls: the second sees the state the first wrote, on the NVM as on the wasm host.
    for (nonce, by) in [(2, 5u64), (3, 2)] {
        let receipt = match call(&mut sm, nonce, counter, "increment", enc(&by)) {
            ApplyOutcome::Called(receipt) => receipt,
            other => panic!("{other:?}"),
        };
        let claim = receipt.zk.expect("both builds agree");
        assert_eq!((claim.program_digest, claim.image_root), (expected.digest, expected.image_root));
        let job = sm.zk_job(receipt.call_id).unwrap().expect("a job");
        assert_eq!(job.state, ZkState::Proving);
        assert_eq!(claim.nvm_input_digest, <[u8; 32]>::from(Sha256::digest(&job.input)), "the receipt binds the input");
        assert_eq!(claim.steps, job.steps);
        assert!(job.steps > 100);
    }
    assert_eq!(sm.proving_jobs(10).unwrap().len(), 2);
}

#[test]
fn builds_that_disagree_end_the_job_and_what_cannot_be_proven_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = open(dir.path());
    // fibonacci's wasm with sha256's NVM program: the NVM knows no `fib`.
    let mismatched = app_of(&deploy(&mut sm, 1, "fibonacci", Some("sha256")));
    let receipt = match call(&mut sm, 2, mismatched, "fib", enc(&10u64)) {
        ApplyOutcome::Called(receipt) => receipt,
        other => panic!("{other:?}"),
    };
    assert!(receipt.output.is_some(), "the wasm call itself returned and is certified as usual");
    assert_eq!(receipt.zk, None, "no claim: nothing will be proven");
    assert!(matches!(sm.zk_job(receipt.call_id).unwrap().unwrap().state, ZkState::OutputsDiffer(_)));
    assert!(sm.proving_jobs(10).unwrap().is_empty());

    // A wasm-only app cannot be proven; the refusal names why.
    let wasm_only = app_of(&deploy(&mut sm, 3, "fibonacci", None));
    assert_eq!(
        call(&mut sm, 4, wasm_only, "fib", enc(&3u64)),
        ApplyOutcome::Rejected(Rejection::NotProvable(wasm_only))
    );
    // An ELF that is not one is refused at deploy, and nothing is deployed.
    let refused = apply(
        &mut sm,
        key().sign(
            &CLUSTER,
            5,
            Request::Deploy {
                module: example_apps()["fibonacci"].wasm.clone(),
                program: Some(b"\x7fELF junk".to_vec()),
            },
        ),
    );
    assert!(matches!(refused, ApplyOutcome::Rejected(Rejection::InvalidProgram(_))), "{refused:?}");
    let oversized = vec![0u8; nexus_replica::zk::MAX_PROGRAM_BYTES + 1];
    assert!(ProgramRecord::of_elf(&oversized).unwrap_err().contains("limit"));
}
