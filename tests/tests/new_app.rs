//! `nexus new` + `nexus build`: a scaffolded app builds for both targets and gives the same results on
//! the wasm host and on the NVM.

use std::sync::Arc;

use nexus_cli::{app_build, scaffold};
use nexus_sdk::nvm_envelope::{NvmCall, NvmReturn};
use nexus_tests::{enc, repo_root};
use nexus_wasm_host::{CallContext, Host, Limits, MemoryState};

#[test]
fn a_new_app_builds_for_both_targets_and_runs_the_same_on_each() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scaffold::new_app(&tmp.path().join("hello"), &repo_root().join("sdk")).unwrap();
    let target = app_build::default_target_dir(&repo_root()).join("scaffold-test");
    let apps = app_build::build_apps(&dir.join("Cargo.toml"), &target).unwrap();
    assert_eq!(apps.len(), 1);
    let app = &apps[0];
    assert_eq!(app.name, "hello");

    let input = enc("nexus");
    let host = Host::new(Limits::default()).unwrap();
    let module = host.load(&std::fs::read(&app.wasm).unwrap()).unwrap();
    let wasm = host.call(&module, "hello", &input, &CallContext::default(), Arc::new(MemoryState::new())).unwrap();
    let expected = enc("hello, nexus (greeting #1)");
    assert_eq!(wasm.output(), Some(expected.as_slice()));

    let program = nexus_vm::Program::from_elf(&std::fs::read(app.elf.as_ref().unwrap()).unwrap()).unwrap();
    let call = NvmCall::new("hello", None, input, []);
    let envelope = enc(&call);
    let run = nexus_vm::Vm::new(&program, &envelope, nexus_vm::VmConfig::default()).unwrap().run_fast().unwrap();
    assert_eq!(run.exit_code, 0);
    let ret: NvmReturn = postcard::from_bytes(&run.output).unwrap();
    assert_eq!(ret.output, expected);
    assert_eq!(ret.plain_writes(), wasm.writes.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>());
}
