//! `nexus prove` and `nexus verify PROOF --program APP.elf` as processes: a program that computes 5! through
//! memory and exits with it is proven and accepted with its statement; a tampered or truncated proof file, and
//! the proof under another program, are rejected with a reason and a failing status; a program that reads
//! its input and writes it back is proven, folded as a tree, with both in its statement.

#[path = "../../zkvm/vm/tests/common/mod.rs"]
mod encoder;

use std::process::{Command, Output};

use encoder::*;

const NEXUS: &str = env!("CARGO_BIN_EXE_nexus");

fn nexus(args: &[&str]) -> Output {
    Command::new(NEXUS).args(args).output().expect("nexus runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn factorial_elf() -> Vec<u8> {
    let mut code = li(T0, 5).to_vec();
    code.extend(li(A0, 1));
    code.extend(li(T1, DATA_VADDR));
    code.extend([
        reg_op(RegOp::Mul, A0, A0, T0),
        sw(A0, T1, 16),
        lw(A0, T1, 16),
        addi(T0, T0, -1),
        branch(Branch::Bne, T0, ZERO, -16),
    ]);
    code.extend(exit_seq());
    elf(&code, &[0; 32], 4096)
}

#[test]
fn prove_then_verify_accepts_and_bad_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (elf_path, proof_path) = (dir.path().join("fact.elf"), dir.path().join("fact.proof"));
    std::fs::write(&elf_path, factorial_elf()).unwrap();
    let (elf_s, proof_s) = (elf_path.to_str().unwrap(), proof_path.to_str().unwrap());

    let out = nexus(&["prove", elf_s, "-k", "8"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("fold 5/5  100%"), "progress shown: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("exit code  120"), "{}", text(&out));

    let out = nexus(&["verify", proof_s, "--program", elf_s]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && stdout.starts_with("accept"), "{}", text(&out));
    assert!(stdout.contains("exit code  120") && stdout.contains("steps      "), "{stdout}");
    let out = nexus(&["--json", "verify", proof_s, "--program", elf_s]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["accept"].as_bool(), v["exit_code"].as_u64()), (Some(true), Some(120)));
    // Without the ELF, against the image root the statement names; another root is rejected.
    let root = v["image_root"].as_str().unwrap().to_owned();
    let out = nexus(&["verify", proof_s, "--image-root", &root]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && stdout.contains(&format!("image root {root}")), "{}", text(&out));
    assert!(!stdout.contains("program    "), "no program digest without the ELF: {stdout}");
    let other_root = format!("{}{}", if root.starts_with('0') { "1" } else { "0" }, &root[1..]);
    let out = nexus(&["verify", proof_s, "--image-root", &other_root]);
    assert!(!out.status.success() && !text(&out).starts_with("accept"), "{}", text(&out));
    let out = nexus(&["verify", proof_s, "--image-root", "12"]);
    assert!(!out.status.success() && text(&out).contains("64 hex digits"), "{}", text(&out));

    // Tampered in the middle (decodes or not: never accepted), truncated, under another program.
    let bytes = std::fs::read(&proof_path).unwrap();
    let bad = dir.path().join("bad.proof");
    let mut tampered = bytes.clone();
    tampered[bytes.len() / 2] ^= 0x20;
    std::fs::write(&bad, &tampered).unwrap();
    let out = nexus(&["verify", bad.to_str().unwrap(), "--program", elf_s]);
    assert!(!out.status.success() && !text(&out).starts_with("accept"), "{}", text(&out));
    std::fs::write(&bad, &bytes[..bytes.len() - 9]).unwrap();
    let out = nexus(&["verify", bad.to_str().unwrap(), "--program", elf_s]);
    assert!(!out.status.success() && text(&out).contains("not a proof file"), "{}", text(&out));
    let other = dir.path().join("other.elf");
    let mut other_elf = factorial_elf();
    let last = other_elf.len() - 1;
    other_elf[last] ^= 1; // a data byte
    std::fs::write(&other, &other_elf).unwrap();
    let out = nexus(&["verify", proof_s, "--program", other.to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("reject:"), "{}", text(&out));

    // A program that reads its input and writes it back: the statement names both, and the bytes.
    let echo = dir.path().join("echo.elf");
    std::fs::write(&echo, echo_elf()).unwrap();
    let echo_proof = dir.path().join("echo.proof");
    let out = nexus(&["prove", echo.to_str().unwrap(), "--input", "hex:68656c6c6f", "-k", "16", "--out"]);
    assert!(!out.status.success(), "--out needs a value");
    let out = nexus(&[
        "prove",
        echo.to_str().unwrap(),
        "--input",
        "hex:68656c6c6f",
        "-k",
        "8",
        "--tree",
        "--out",
        echo_proof.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = nexus(&["--json", "verify", echo_proof.to_str().unwrap(), "--program", echo.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accept"].as_bool(), Some(true), "{}", text(&out));
    assert_eq!(v["output"].as_str(), Some(hex::encode(b"hello").as_str()));
    assert_eq!(v["exit_code"].as_u64(), Some(5));
    assert_eq!(v["tree"].as_bool(), Some(true));
    use sha2::Digest;
    assert_eq!(v["input_digest"].as_str(), Some(hex::encode(sha2::Sha256::digest(b"hello")).as_str()));
}

/// Reads up to 32 bytes of input into the data segment, writes them to fd 1, exits with the count.
fn echo_elf() -> Vec<u8> {
    elf(&echo_code(DATA_VADDR + 3, 32, false), &[0; 64], 4096)
}
