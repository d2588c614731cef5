//! Differential tests against `qemu-riscv32` (Debian's qemu-user), the reference machine.
//!
//! Seeded random RV32IM programs (ALU incl. M extension, loads/stores into a data buffer, forward
//! branches, JAL, AUIPC+JALR) are generated as *blocks*; each block initialises all registers,
//! runs its random stream, then writes x1..x31 and its data buffer to stdout with the `write`
//! syscall. Many blocks share one ELF so one qemu process checks many programs; ELFs run in a
//! bounded pool of parallel qemu processes. NVM and qemu must produce identical stdout and exit code.
//!
//! Scale with `NVM_DIFF_PROCESSES` (default 80) and `NVM_DIFF_BLOCKS` (blocks per process, default
//! 50) and pick another seed with `NVM_DIFF_SEED`.

mod common;
use common::*;

use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use nexus_vm::{Program, Vm, VmConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Bytes of the random-access buffer of a block; followed by 128 bytes of register dump.
const BUF: u32 = 256;
const BLOCK_DATA: u32 = BUF + 128;
const BASE: u32 = 31; // data base register, never written by the random stream

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Fails (not skips) when qemu is missing: these tests are the ISA conformance check.
fn require_qemu() {
    let ok = Command::new("qemu-riscv32").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(
        ok,
        "qemu-riscv32 not found: the NVM differential tests need Debian's qemu-user \
         (`apt-get install qemu-user`; the project's CI script installs it)"
    );
}

fn interesting(rng: &mut StdRng) -> u32 {
    const SPECIAL: [u32; 9] = [0, 1, u32::MAX, 0x8000_0000, 0x7fff_ffff, 0x8000_0001, 2, 31, 32];
    match rng.random_range(0..4) {
        0 => SPECIAL[rng.random_range(0..SPECIAL.len())],
        1 => rng.random_range(0..64),
        2 => (rng.random::<i8>() as i32) as u32,
        _ => rng.random(),
    }
}

/// A destination register for the random stream: anything but the data base (x0 included, to
/// check that writes to it are dropped).
fn rd(rng: &mut StdRng) -> u32 {
    rng.random_range(0..31)
}
fn rs(rng: &mut StdRng) -> u32 {
    rng.random_range(0..32)
}

/// One straight-line (non-control-flow) random instruction.
fn simple(rng: &mut StdRng) -> u32 {
    match rng.random_range(0..10) {
        0..=3 => reg_op(REG_OPS[rng.random_range(0..REG_OPS.len())], rd(rng), rs(rng), rs(rng)),
        4 | 5 => {
            let op = IMM_OPS[rng.random_range(0..IMM_OPS.len())];
            let imm = match op {
                ImmOp::Slli | ImmOp::Srli | ImmOp::Srai => rng.random_range(0..32),
                _ => rng.random_range(-2048..2048),
            };
            imm_op(op, rd(rng), rs(rng), imm)
        }
        6 => {
            let kind = LOADS[rng.random_range(0..LOADS.len())];
            let align = match kind {
                Load::Lw => 4,
                Load::Lh | Load::Lhu => 2,
                _ => 1,
            };
            let off = rng.random_range(0..BUF as i32 / align) * align;
            load(kind, rd(rng), BASE, off)
        }
        7 => {
            let kind = STORES[rng.random_range(0..STORES.len())];
            let align = match kind {
                Store::Sw => 4,
                Store::Sh => 2,
                Store::Sb => 1,
            };
            let off = rng.random_range(0..BUF as i32 / align) * align;
            store(kind, rs(rng), BASE, off)
        }
        8 => {
            if rng.random_bool(0.5) {
                lui(rd(rng), rng.random())
            } else {
                auipc(rd(rng), rng.random())
            }
        }
        _ => {
            if rng.random_bool(0.1) {
                FENCE
            } else {
                imm_op(ImmOp::Addi, rd(rng), rs(rng), rng.random_range(-2048..2048))
            }
        }
    }
}

/// Appends one random block using data buffer at `buf_addr`.
fn block(rng: &mut StdRng, code: &mut Vec<u32>, buf_addr: u32) {
    for r in 1..31 {
        code.extend(li(r, interesting(rng)));
    }
    code.extend(li(BASE, buf_addr));
    let len = rng.random_range(20..80);
    let mut n = 0;
    while n < len {
        let skip = rng.random_range(0..4usize);
        match rng.random_range(0..12) {
            0 => {
                let kind = BRANCHES[rng.random_range(0..BRANCHES.len())];
                code.push(branch(kind, rs(rng), rs(rng), 4 * (skip as i32 + 1)));
                code.extend((0..skip).map(|_| simple(rng)));
            }
            1 => {
                code.push(jal(rd(rng), 4 * (skip as i32 + 1)));
                code.extend((0..skip).map(|_| simple(rng)));
            }
            2 => {
                // auipc t, 0 ; jalr rd, t, 8 + 4*skip (+1: bit 0 is cleared by JALR)
                let t = rng.random_range(1..31);
                code.push(auipc(t, 0));
                let imm = 8 + 4 * skip as i32 + rng.random_range(0..2);
                code.push(jalr(rd(rng), t, imm));
                code.extend((0..skip).map(|_| simple(rng)));
            }
            _ => code.push(simple(rng)),
        }
        n += 1;
    }
    // Dump x1..x31 after the buffer, then write dump and buffer to stdout.
    for r in 1..32 {
        code.push(sw(r, BASE, (BUF + 4 * (r - 1)) as i32));
    }
    code.extend(li(A7, 64));
    code.extend(li(A0, 1));
    code.push(addi(A1, BASE, BUF as i32));
    code.extend(li(A2, 31 * 4));
    code.push(ECALL);
    code.extend(li(A0, 1));
    code.push(addi(A1, BASE, 0));
    code.extend(li(A2, BUF));
    code.push(ECALL);
}

/// A whole test ELF of `blocks` random blocks, ending in `exit(x5)`.
fn random_elf(seed: u64, blocks: usize) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut code = Vec::new();
    let mut data = Vec::new();
    for b in 0..blocks {
        let buf_addr = DATA_VADDR + b as u32 * BLOCK_DATA;
        block(&mut rng, &mut code, buf_addr);
        data.extend((0..BUF).map(|_| rng.random::<u8>()));
        data.extend([0u8; 128]);
    }
    code.push(addi(A0, T0, 0));
    code.extend(exit_seq());
    let memsz = data.len() as u32;
    elf(&code, &data, memsz)
}

/// qemu-user refuses (silently, with status 1) to run a file without execute permission.
fn write_executable(path: &std::path::Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

struct QemuRun {
    stdout: Vec<u8>,
    exit_code: Option<i32>,
}

fn qemu(path: &std::path::Path) -> QemuRun {
    let out = Command::new("qemu-riscv32").arg(path).output().expect("failed to start qemu-riscv32");
    QemuRun { stdout: out.stdout, exit_code: out.status.code() }
}

/// Runs `jobs` through a pool of at most `parallelism` qemu processes.
fn qemu_pool(paths: &[std::path::PathBuf]) -> Vec<QemuRun> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<QemuRun>>> = Mutex::new((0..paths.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = paths.get(i) else { break };
                    let r = qemu(p);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(|r| r.expect("every job ran")).collect()
}

fn compare(name: &str, elf_bytes: &[u8], reference: &QemuRun, traced: bool, blocks: usize) {
    let program = Program::from_elf(elf_bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let vm = Vm::new(&program, &[], VmConfig::default()).unwrap();
    let res = vm.run_fast().unwrap_or_else(|e| panic!("{name}: NVM trapped: {e}"));
    if traced {
        let (t, trace) = vm.run_traced().unwrap();
        assert_eq!(res, t, "{name}: fast and traced runs differ");
        // Every segment of a random program replays on its own, and outputs concatenate.
        let mut output = Vec::new();
        for seg in trace.segments(97) {
            let r =
                nexus_vm::replay_segment(&vm, &seg).unwrap_or_else(|e| panic!("{name}: segment {}: {e}", seg.index));
            output.extend(r.output);
        }
        assert_eq!(output, res.output, "{name}: replayed output");
    }
    let per_block = (31 * 4 + BUF) as usize;
    if res.output != reference.stdout {
        // Find the first differing block and register to make the failure actionable.
        let i = res
            .output
            .iter()
            .zip(&reference.stdout)
            .position(|(a, b)| a != b)
            .unwrap_or(res.output.len().min(reference.stdout.len()));
        let (blk, off) = (i / per_block, i % per_block);
        let what = if off < 124 { format!("register x{}", off / 4 + 1) } else { format!("data byte {}", off - 124) };
        panic!(
            "{name}: stdout differs at byte {i} (block {blk} of {blocks}, {what}); NVM {} bytes, qemu {} bytes",
            res.output.len(),
            reference.stdout.len()
        );
    }
    assert_eq!(res.output.len(), per_block * blocks, "{name}: output length");
    assert_eq!(Some((res.exit_code & 0xff) as i32), reference.exit_code, "{name}: exit code");
}

#[test]
fn random_programs_match_qemu() {
    require_qemu();
    let processes = env_usize("NVM_DIFF_PROCESSES", 80);
    let blocks = env_usize("NVM_DIFF_BLOCKS", 50);
    let seed = env_usize("NVM_DIFF_SEED", 0x5eed) as u64;
    let dir = tempfile::tempdir().unwrap();
    let elves: Vec<Vec<u8>> =
        (0..processes).map(|p| random_elf(seed.wrapping_mul(1_000_003).wrapping_add(p as u64), blocks)).collect();
    let paths: Vec<_> = elves
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let path = dir.path().join(format!("rand-{i}.elf"));
            write_executable(&path, e);
            path
        })
        .collect();
    let refs = qemu_pool(&paths);
    for (i, (e, r)) in elves.iter().zip(&refs).enumerate() {
        compare(&format!("seed {seed} process {i}"), e, r, i % 8 == 0, blocks);
    }
}

#[test]
fn the_random_generator_covers_what_it_claims() {
    // Guard against a generator that silently stops producing some instruction class.
    let elf_bytes = random_elf(1, 50);
    let program = Program::from_elf(&elf_bytes).unwrap();
    let text = &program.segments()[0].data;
    let words: Vec<u32> = text.chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    let opcodes: std::collections::BTreeSet<u32> = words.iter().map(|w| w & 0x7f).collect();
    for op in [0x33, 0x13, 0x03, 0x23, 0x37, 0x17, 0x6f, 0x67, 0x63, 0x0f, 0x73] {
        assert!(opcodes.contains(&op), "opcode {op:#x} never generated");
    }
    let m_ext = words.iter().filter(|w| *w & 0x7f == 0x33 && *w >> 25 == 1).count();
    assert!(m_ext > 50, "too few M-extension instructions: {m_ext}");
}

#[test]
fn the_differential_harness_detects_a_difference() {
    // A program whose qemu output we corrupt must be reported as different.
    require_qemu();
    let dir = tempfile::tempdir().unwrap();
    let e = random_elf(7, 2);
    let path = dir.path().join("x.elf");
    write_executable(&path, &e);
    let mut r = qemu(&path);
    assert!(r.exit_code.is_some() && r.stdout.len() > 5);
    r.stdout[5] ^= 1;
    let caught = std::panic::catch_unwind(|| compare("corrupted", &e, &r, false, 2));
    assert!(caught.is_err());
}

/// Programs that must fail: the NVM traps and qemu kills the process with the matching signal.
/// Documented divergences are left out: misaligned accesses (qemu-user emulates them, the NVM traps;
/// checked in tests/instructions.rs) and Zicsr/Zifencei instructions (qemu implements them, the NVM
/// does not).
#[test]
fn traps_match_qemu_signals() {
    use nexus_vm::TrapKind;
    use std::os::unix::process::ExitStatusExt;
    require_qemu();
    const SIGILL: i32 = 4;
    const SIGTRAP: i32 = 5;
    const SIGSEGV: i32 = 11;
    let base = li(BASE, DATA_VADDR).to_vec();
    let cases: Vec<(&str, Vec<u32>, i32)> = vec![
        ("illegal word", vec![0xffff_ffff], SIGILL),
        ("slli with shamt bit 5 (RV64 only)", vec![0x0201_1093], SIGILL),
        ("add with funct7 = 2", vec![0x0400_00b3], SIGILL),
        ("jalr with funct3 = 1", vec![0x0000_1067], SIGILL),
        ("ecall with rd != 0", vec![0x0000_00f3], SIGILL),
        ("ebreak", vec![EBREAK], SIGTRAP),
        ("load from null page", vec![lw(T0, ZERO, 16)], SIGSEGV),
        ("store to text", [li(T0, TEXT_VADDR).to_vec(), vec![sw(T0, T0, 0)]].concat(), SIGSEGV),
        ("load past data", [li(T0, DATA_VADDR + 4096).to_vec(), vec![lw(T0, T0, 0)]].concat(), SIGSEGV),
        ("jump to data", [base.clone(), vec![jalr(ZERO, BASE, 0)]].concat(), SIGSEGV),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, body, signal) in cases {
        let mut code = body;
        code.extend(exit_seq());
        // Data is one page so everything past it is unmapped for both machines.
        let e = elf(&code, &[0; 16], 4096);
        let path = dir.path().join("trap.elf");
        write_executable(&path, &e);
        let out = Command::new("qemu-riscv32").arg(&path).output().unwrap();
        assert_eq!(out.status.signal(), Some(signal), "{name}: qemu status {:?}", out.status);
        let program = Program::from_elf(&e).unwrap();
        let err = Vm::new(&program, &[], VmConfig::default()).unwrap().run_fast().unwrap_err();
        let nexus_vm::VmError::Trap(t) = err else { panic!("{name}: {err:?}") };
        let expected_signal = match t.kind {
            TrapKind::IllegalInstruction { .. } => SIGILL,
            TrapKind::Breakpoint => SIGTRAP,
            TrapKind::LoadFault { .. } | TrapKind::StoreFault { .. } | TrapKind::FetchFault { .. } => SIGSEGV,
            other => panic!("{name}: unexpected trap {other:?}"),
        };
        assert_eq!(expected_signal, signal, "{name}: NVM trap {t}");
    }
}
