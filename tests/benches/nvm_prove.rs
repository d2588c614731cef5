//! NVM proving: prints the markdown tables of the "NVM prover" section of `BENCHMARKS.md`.
//!
//! ```sh
//! cargo bench -p nexus-tests --bench nvm_prove
//! ```
//!
//! Workloads are calls of the example apps (built by the real builder): `fibonacci::fib(100)` and
//! `sha256::digest` of 64 bytes, each a whole NVM run from the call envelope to the exit, with the
//! SDK's input decoding and output encoding.
//!
//! * Per k: constraints per fold, and per NVM instruction of each workload (every fold of the run,
//!   folding overhead and padding included); fold time and cycles/s on 1 and 2 threads (rayon pools
//!   in this process, the mean of `TIMED_FOLDS` folds of the fibonacci run after its first).
//! * Co-processor calls: each chain's fold (constraints, calls per fold, time) and a call's cost
//!   with its CPU micro-steps.
//! * Whole runs at `WHOLE_RUN_K` (64): proving time, verification time, proof size, and the process's
//!   peak RSS so far; the co-processor-backed `sha256::digest_accelerated` and `keccak256` of 1 KiB
//!   too (their folds count the chains').
//! * Per instruction class: the step circuit is uniform (every step has every sub-circuit), so each
//!   class costs the same constraints; what differs is the witness the prover commits, where unused
//!   parts carry zeros. The table counts one step's nonzero witness entries and those above 2^64 (a
//!   full-width scalar costs ~7x a 32-bit one in the commitment MSM).
//!
//! `NVM_BENCH_K=64` restricts the per-k table to one k; `NVM_BENCH_WHOLE_K=128` sets the whole runs' k.

#[path = "../../zkvm/vm/tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar};
use ark_relations::gr1cs::ConstraintSystem;
use nexus_nova::ivc::IvcProof;
use nexus_nvm_circuit::cpu::{IoCursor, StepHint, alloc_state, step};
use nexus_nvm_circuit::proof::{Folding, NvmParams, prove, verify};
use nexus_nvm_circuit::steps::prepare;
use nexus_sdk::nvm_envelope::NvmCall;
use nexus_tests::{enc, example_apps};
use nexus_vm::coprocessor::encode_custom0;
use nexus_vm::{Program, Vm, VmConfig};

const TIMED_FOLDS: usize = 4;
/// k of the whole runs unless `NVM_BENCH_WHOLE_K` says otherwise.
const WHOLE_RUN_K: u64 = 64;

struct Workload {
    name: &'static str,
    program: Program,
    envelope: Vec<u8>,
    instructions: u64,
}

fn workloads() -> Vec<Workload> {
    let call = |app: &str, function: &str, input: Vec<u8>, name: &'static str| {
        let program = Program::from_elf(&example_apps()[app].elf).expect("program");
        let envelope = enc(&NvmCall::new(function, None, input, []));
        let run = Vm::new(&program, &envelope, VmConfig::default()).expect("vm").run_fast().expect("run");
        assert_eq!(run.exit_code, 0, "{name}");
        Workload { name, program, envelope, instructions: run.steps }
    };
    vec![
        call("fibonacci", "fib", enc(&100u64), "fibonacci::fib(100)"),
        call("sha256", "digest", enc(&vec![0x61u8; 64]), "sha256::digest(64 B)"),
        call("sha256", "digest_accelerated", enc(&vec![0x61u8; 1024]), "sha256::digest_accelerated(1 KiB)"),
        call("sha256", "keccak256", enc(&vec![0x61u8; 1024]), "sha256::keccak256(1 KiB)"),
    ]
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool")
}

fn peak_rss_mib() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kib.map_or("?".into(), |k| format!("{:.0}", k / 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

/// Mean time of `TIMED_FOLDS` folds of `w` after its first, on `threads` threads.
fn fold_time(params: &NvmParams, w: &Workload, threads: usize) -> Duration {
    let (_, trace) = Vm::new(&w.program, &w.envelope, VmConfig::default()).unwrap().run_traced().unwrap();
    let run = prepare(&w.program, &w.envelope, &trace, trace.steps().len(), params.k() as usize).expect("prepare");
    let folds = (TIMED_FOLDS + 1).min(run.invocations.len());
    let pp = params.public_params();
    pool(threads).install(|| {
        let mut proof = IvcProof::prove_first(pp, &run.invocations[0], &run.z0).expect("prove");
        let t = Instant::now();
        for inv in &run.invocations[1..folds] {
            proof.prove_step(pp, inv).expect("fold");
        }
        t.elapsed() / (folds - 1) as u32
    })
}

fn per_k(workloads: &[Workload]) {
    println!("### Per k\n");
    println!(
        "| k | constraints per fold | per instruction: {} | per instruction: {} | average | fold ms, 1 thread | fold ms, 2 threads | cycles/s, 1 thread | cycles/s, 2 threads |",
        workloads[0].name, workloads[1].name
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let only: Option<u64> = std::env::var("NVM_BENCH_K").ok().and_then(|v| v.parse().ok());
    for k in [8u64, 16, 32, 64, 128].into_iter().filter(|k| only.is_none_or(|o| o == *k)) {
        let params = NvmParams::new(k, Folding::Sequential).expect("setup");
        let per_fold = params.public_params().shape.num_constraints as u64;
        // The average is over the two plain workloads (fibonacci and sha256 without its co-processor).
        let per_instruction: Vec<u64> = workloads[..2]
            .iter()
            .map(|w| {
                let (_, trace) = Vm::new(&w.program, &w.envelope, VmConfig::default()).unwrap().run_traced().unwrap();
                let run = prepare(&w.program, &w.envelope, &trace, trace.steps().len(), k as usize).unwrap();
                per_fold * run.invocations.len() as u64 / w.instructions
            })
            .collect();
        let times = [1, 2].map(|threads| fold_time(&params, &workloads[0], threads));
        let cycles = |d: Duration| format!("{:.0}", k as f64 / d.as_secs_f64());
        println!(
            "| {k} | {per_fold} | {} | {} | **{}** | {} | {} | {} | {} |",
            per_instruction[0],
            per_instruction[1],
            (per_instruction[0] + per_instruction[1]) / 2,
            ms(times[0]),
            ms(times[1]),
            cycles(times[0]),
            cycles(times[1]),
        );
    }
}

fn whole_runs(workloads: &[Workload]) {
    let k = std::env::var("NVM_BENCH_WHOLE_K").ok().and_then(|v| v.parse().ok()).unwrap_or(WHOLE_RUN_K);
    println!("\n### Whole runs, k = {k}, 2 threads\n");
    println!(
        "| workload | instructions | folds | setup s | prove s | cycles/s | verify ms | proof MiB | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for w in workloads {
        let t = Instant::now();
        let params = NvmParams::new(k, Folding::Sequential).expect("setup");
        let setup = t.elapsed();
        let t = Instant::now();
        let proof = pool(2).install(|| prove(&params, &w.program, &w.envelope, |_, _| {})).expect("prove");
        let proving = t.elapsed();
        let t = Instant::now();
        let statement = pool(2).install(|| verify(&params, &w.program, &proof)).expect("verify");
        let verifying = t.elapsed();
        assert_eq!(statement.steps, w.instructions);
        let bytes = proof.to_bytes().expect("encode").len();
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.0} | {} | {:.1} | {} |",
            w.name,
            w.instructions,
            proof.sequential.as_ref().map_or(0, |p| p.i) + proof.calls.iter().map(|c| c.proof.i).sum::<u64>(),
            setup.as_secs_f64(),
            proving.as_secs_f64(),
            w.instructions as f64 / proving.as_secs_f64(),
            ms(verifying),
            bytes as f64 / (1024.0 * 1024.0),
            peak_rss_mib()
        );
    }
}

/// One step of `word` from registers `regs` (and an I/O cursor): constraints, nonzero witness
/// entries, and entries above 2^64, counting the step's own witnesses (not the state it starts
/// from).
fn step_cost(word: u32, regs: &[u32; 32], cursor: (u32, u32), hint: StepHint) -> (usize, usize, usize) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let cur = alloc_state(&cs, 0x11000, regs).expect("state");
    let w = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(word)))).expect("word");
    let constant = |v: u32| FpVar::Constant(Fr::from(u64::from(v)));
    let io = IoCursor { done: constant(cursor.0), input_left: constant(cursor.1) };
    step(&cs, &cur, &io, &w, word, hint).expect("step");
    assert!(cs.is_satisfied().expect("satisfiable"), "{word:#010x}");
    let (shape, a) = nexus_nova::r1cs::extract(&cs).expect("extract");
    let own = &a.expect("assignment").w[1 + 31 + 1..];
    let nonzero = own.iter().filter(|v| !v.is_zero()).count();
    let wide = own.iter().filter(|v| v.into_bigint().num_bits() > 64).count();
    (shape.num_constraints, nonzero, wide)
}

/// A representative step: name, instruction word, registers, I/O cursor `(done, input left)`, hint.
type Class = (&'static str, u32, [u32; 32], (u32, u32), StepHint);

fn per_class() {
    use common::*;
    let mut regs = [0u32; 32];
    regs[1] = 0x1234_5678;
    regs[2] = 0x0000_0123;
    regs[5] = DATA_VADDR;
    let data = StepHint::data(0x8070_6050);
    let mut io_regs = regs;
    io_regs[A1 as usize] = DATA_VADDR + 1;
    io_regs[A2 as usize] = 16;
    let syscall = |number: u32, fd: u32| {
        let mut r = io_regs;
        r[A7 as usize] = number;
        r[A0 as usize] = fd;
        r
    };
    let call_word = StepHint { call_new: 0x0102_0304, ..data };
    let classes: [Class; 18] = [
        ("add (register)", reg_op(RegOp::Add, 3, 1, 2), regs, (0, 0), StepHint::default()),
        ("addi (immediate)", addi(3, 1, -7), regs, (0, 0), StepHint::default()),
        ("xor", reg_op(RegOp::Xor, 3, 1, 2), regs, (0, 0), StepHint::default()),
        ("sltu (compare)", reg_op(RegOp::Sltu, 3, 1, 2), regs, (0, 0), StepHint::default()),
        ("sll (shift)", reg_op(RegOp::Sll, 3, 1, 2), regs, (0, 0), StepHint::default()),
        ("mul", reg_op(RegOp::Mul, 3, 1, 2), regs, (0, 0), StepHint::default()),
        ("mulh", reg_op(RegOp::Mulh, 3, 1, 2), regs, (0, 0), StepHint::default()),
        ("divu", reg_op(RegOp::Divu, 3, 1, 2), regs, (0, 0), StepHint::default()),
        ("lw (load)", load(Load::Lw, 3, 5, 8), regs, (0, 0), data),
        ("sb (store)", store(Store::Sb, 2, 5, 3), regs, (0, 0), data),
        ("bne (branch)", branch(Branch::Bne, 1, 2, 16), regs, (0, 0), StepHint::default()),
        ("jal", jal(1, 64), regs, (0, 0), StepHint::default()),
        ("lui", lui(3, 0x12345), regs, (0, 0), StepHint::default()),
        ("read, one byte", ECALL, syscall(63, 0), (2, 5), StepHint { input_byte: 0xab, ..data }),
        ("write, one byte", ECALL, syscall(64, 1), (2, 0), data),
        ("exit", ECALL, syscall(93, 0), (0, 0), StepHint::default()),
        ("keccak-f, one word", encode_custom0(0, 0, 0, 5, 0), regs, (3, 0), call_word),
        ("sha-256, one block word", encode_custom0(1, 0, 0, 5, 5), regs, (3, 0), data),
    ];
    println!(
        "### Per instruction class (one step of the CPU circuit, memory slots excluded)
"
    );
    println!("| class | constraints | nonzero witness entries | entries above 2^64 |");
    println!("|---|---:|---:|---:|");
    for (name, word, regs, cursor, hint) in classes {
        let (constraints, nonzero, wide) = step_cost(word, &regs, cursor, hint);
        println!("| {name} | {constraints} | {nonzero} | {wide} |");
    }
    println!();
}

/// Each co-processor's chain: constraints per fold, calls per fold, fold time (mean of
/// `TIMED_FOLDS` folds after the first, random inputs, 2 threads), and a call's whole cost with
/// its CPU micro-steps at k = 64.
fn coprocessors() {
    use nexus_nvm_circuit::coprocessor::{CallSteps, CallWitness, Kind, initial_call_state};
    println!("\n### Co-processor calls, 2 threads\n");
    println!(
        "| co-processor | constraints per chain fold | calls per fold | fold ms | CPU steps per call | constraints per call (chain + CPU steps at k = 64) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let cpu = NvmParams::new(64, Folding::Sequential).expect("setup");
    let per_cpu_step = cpu.public_params().shape.num_constraints as u64 / 64;
    for kind in Kind::ALL {
        let pp = cpu.call_params(kind).expect("setup");
        let per_fold = pp.shape.num_constraints as u64;
        let calls: Vec<CallWitness> = (0..(TIMED_FOLDS + 1) * kind.calls_per_fold())
            .map(|c| CallWitness {
                call: c as u32 * 100,
                inputs: (0..kind.words()).map(|i| (c * 131 + i) as u32 * 2_654_435_761).collect(),
            })
            .collect();
        let folds = CallSteps::folds(kind, &calls);
        let mean = pool(2).install(|| {
            let mut proof = IvcProof::prove_first(pp, &folds[0], &initial_call_state(Fr::from(5u64))).expect("prove");
            let t = Instant::now();
            for f in &folds[1..] {
                proof.prove_step(pp, f).expect("fold");
            }
            t.elapsed() / (folds.len() - 1) as u32
        });
        let steps = kind.words() as u64 + 1;
        println!(
            "| {kind:?} | {per_fold} | {} | {} | {steps} | {} |",
            kind.calls_per_fold(),
            ms(mean),
            per_fold / kind.calls_per_fold() as u64 + steps * per_cpu_step
        );
    }
}

fn main() {
    let workloads = workloads();
    println!("## NVM prover\n");
    per_class();
    per_k(&workloads);
    coprocessors();
    whole_runs(&workloads);
}
