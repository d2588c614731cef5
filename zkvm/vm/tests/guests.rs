//! Compiled guest programs (tests/fixtures, built from guests/ by guests/build.sh) run identically
//! under the NVM and qemu-riscv32, and compute the right answers.

use std::io::Write;
use std::process::{Command, Stdio};

use nexus_vm::{Program, Vm, VmConfig};
use sha2::{Digest, Sha256};

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}.elf", env!("CARGO_MANIFEST_DIR"))
}

fn qemu(name: &str, input: &[u8]) -> (Vec<u8>, Vec<u8>, Option<i32>) {
    let mut child = Command::new("qemu-riscv32")
        .arg(fixture_path(name))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "qemu-riscv32 not found: install Debian's qemu-user (`apt-get install qemu-user`; \
             the project's CI script installs it)",
        );
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.stdout, out.stderr, out.status.code())
}

fn nvm(name: &str, input: &[u8]) -> nexus_vm::RunResult {
    let program = Program::from_elf(&std::fs::read(fixture_path(name)).unwrap()).unwrap();
    Vm::new(&program, input, VmConfig::default()).unwrap().run_fast().unwrap()
}

#[test]
fn fib_matches_qemu_and_arithmetic() {
    for n in [0u32, 1, 2, 10, 47, 1000] {
        let input = n.to_le_bytes();
        let r = nvm("fib", &input);
        let (out, _, code) = qemu("fib", &input);
        assert_eq!(r.output, out, "n={n}");
        assert_eq!(Some(r.exit_code as i32), code);
        let (mut a, mut b) = (0u32, 1u32);
        for _ in 0..n {
            (a, b) = (b, a.wrapping_add(b));
        }
        assert_eq!(r.output, a.to_le_bytes(), "n={n}");
    }
}

#[test]
fn software_sha256_matches_qemu_and_sha2() {
    for (count, msg) in [(0u32, &b""[..]), (1, b"abc"), (5, &[0xa5u8; 119][..])] {
        let mut input = count.to_le_bytes().to_vec();
        input.extend(msg);
        let r = nvm("sha256", &input);
        let (out, log, code) = qemu("sha256", &input);
        assert_eq!(r.output, out);
        assert_eq!(r.log, log);
        assert_eq!(r.log, b"done\n");
        assert_eq!(Some(r.exit_code as i32), code);
        let mut h = Sha256::new();
        for _ in 0..count {
            h.update(msg);
        }
        assert_eq!(r.output, h.finalize().to_vec());
    }
}
