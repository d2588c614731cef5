//! The NVM against its reference machine: every example app's ELF, run on `qemu-riscv32` (Debian's
//! qemu-user) and on the NVM with the same call envelopes, ends with the same exit code, output and log.

use std::io::Write;
use std::process::{Command, Stdio};

use nexus_sdk::nvm_envelope::NvmCall;
use nexus_tests::{ALICE, BOB, enc, example_apps};
use nexus_vm::{Program, Vm, VmConfig};

fn qemu(elf: &[u8], stdin: &[u8]) -> (u32, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.elf");
    std::fs::write(&path, elf).unwrap();
    // qemu-user loads only files it may execute.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut child = match Command::new("qemu-riscv32")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!("qemu-riscv32 not runnable ({e}): install Debian's qemu-user (scripts/setup.sh does)"),
    };
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let code = out.status.code().expect("qemu exits normally, not by a signal") as u32;
    assert!(
        !String::from_utf8_lossy(&out.stderr).starts_with("qemu"),
        "qemu failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, out.stdout, out.stderr)
}

#[test]
fn every_example_app_runs_the_same_on_qemu_and_on_the_nvm() {
    let state = vec![
        (b"balance/".iter().chain(&ALICE).copied().collect::<Vec<u8>>(), enc(&100u64)),
        (b"issuer".to_vec(), ALICE.to_vec()),
    ];
    let calls: &[(&str, NvmCall)] = &[
        ("counter", NvmCall::new("increment", None, enc(&3u64), [(b"count".to_vec(), enc(&4u64))])),
        ("counter", NvmCall::new("increment", None, enc(&u64::MAX), [(b"count".to_vec(), enc(&4u64))])),
        ("counter", NvmCall::new("missing", None, vec![], [])),
        ("fibonacci", NvmCall::new("fib", None, enc(&500u64), [])),
        ("sha256", NvmCall::new("digest", None, enc(&vec![3u8; 5000]), [])),
        ("sha256", NvmCall::new("chain", None, enc(&(b"x".to_vec(), 20u32)), [])),
        ("ledger", NvmCall::new("transfer", Some(ALICE), enc(&(BOB, 40u64)), state.clone())),
        ("ledger", NvmCall::new("transfer", Some(ALICE), enc(&(BOB, 400u64)), state.clone())),
        ("ledger", NvmCall::new("holders", None, enc(&()), state)),
    ];
    for (app, call) in calls {
        let elf = &example_apps()[*app].elf;
        let envelope = enc(call);
        let nvm =
            Vm::new(&Program::from_elf(elf).unwrap(), &envelope, VmConfig::default()).unwrap().run_fast().unwrap();
        let (code, stdout, stderr) = qemu(elf, &envelope);
        let label = format!("{app}::{}", call.function);
        assert_eq!(nvm.exit_code, code, "{label}: exit codes differ");
        assert_eq!(nvm.output, stdout, "{label}: outputs differ");
        assert_eq!(nvm.log, stderr, "{label}: logs differ");
    }
}
