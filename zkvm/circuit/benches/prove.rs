//! NVM proving throughput: prints markdown tables (the NVM prover section of `BENCHMARKS.md`).
//!
//! ```sh
//! cargo bench -p nexus-nvm-circuit --bench prove
//! ```
//!
//! Workload: iterative Fibonacci in registers with every term stored to memory (six instructions per
//! iteration: ADD, two moves, SW, ADDI, BNE), then `exit`. For each k it sets up the parameters,
//! proves 6 folds on 1 and on 2 threads (rayon pools inside the process), proves the whole run on 2
//! threads and verifies it (folding proof, then the memory check and statement).

#[path = "../../vm/tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use nexus_nova::ivc::{IvcProof, PublicParams};
use nexus_nvm_circuit::{
    io::PublicIo,
    steps::{H_ACC, NvmSteps, initial_state, memory_challenge, prepare},
    verify::finish,
};
use nexus_vm::{Program, Vm, VmConfig};

const ITERATIONS: u32 = 170;
const TIMED_FOLDS: usize = 6;

fn fibonacci() -> Program {
    let mut code = li(T0, ITERATIONS).to_vec();
    code.extend(li(A0, 0));
    code.extend(li(A1, 1));
    code.extend(li(T1, DATA_VADDR));
    code.extend([
        add(A2, A0, A1),
        addi(A0, A1, 0),
        addi(A1, A2, 0),
        sw(A2, T1, 0),
        addi(T0, T0, -1),
        branch(Branch::Bne, T0, ZERO, -20),
        addi(A0, A1, 0),
    ]);
    code.extend(exit_seq());
    Program::from_elf(&elf(&code, &[0; 16], 4096)).expect("program")
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool")
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

fn peak_rss_mib() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kib.map_or("?".into(), |k| format!("{:.0}", k / 1024.0))
}

fn main() {
    let program = fibonacci();
    let vm = Vm::new(&program, &[], VmConfig::default()).expect("vm");
    let (result, trace) = vm.run_traced().expect("run");
    let steps = trace.steps().len();
    println!("## NVM proving: iterative Fibonacci, {steps} steps, exit code {:#x}\n", result.exit_code);
    println!(
        "| k | constraints per fold | per instruction | setup ms | fold ms, 1 thread | fold ms, 2 threads | cycles/s, 1 thread | cycles/s, 2 threads | whole run s (2 threads) | verify ms | proof MiB | peak RSS MiB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // `NVM_BENCH_K=64` measures one k.
    let only: Option<usize> = std::env::var("NVM_BENCH_K").ok().and_then(|v| v.parse().ok());
    for k in [8usize, 16, 32, 64].into_iter().filter(|k| only.is_none_or(|o| o == *k)) {
        let t = Instant::now();
        let pp = PublicParams::setup(&NvmSteps::placeholder(k)).expect("setup");
        let setup = t.elapsed();
        let run = prepare(&program, &[], &trace, steps, k).expect("prepare");
        let folds = TIMED_FOLDS.min(run.invocations.len());
        let mut per_fold = Vec::new();
        for threads in [1, 2] {
            pool(threads).install(|| {
                let mut proof = IvcProof::prove_first(&pp, &run.invocations[0], &run.z0).expect("prove");
                let t = Instant::now();
                for inv in &run.invocations[1..folds] {
                    proof.prove_step(&pp, inv).expect("step");
                }
                per_fold.push(t.elapsed() / (folds - 1) as u32);
            });
        }
        let (proof, whole) = pool(2).install(|| {
            let t = Instant::now();
            let mut proof = IvcProof::prove_first(&pp, &run.invocations[0], &run.z0).expect("prove");
            for inv in &run.invocations[1..] {
                proof.prove_step(&pp, inv).expect("step");
            }
            (proof, t.elapsed())
        });
        let t = Instant::now();
        let z = proof.zi.clone();
        let z0 = initial_state(&program, memory_challenge(&program, PublicIo::EMPTY, z[H_ACC], &run.finals), 0);
        pool(2).install(|| proof.verify(&pp, proof.i, &z0)).expect("verify");
        let statement = finish(&program, PublicIo::EMPTY, &z0, &z, &run.finals).expect("statement");
        let verify = t.elapsed();
        assert_eq!((statement.exit_code, statement.steps), (result.exit_code, steps as u64));
        let bytes = proof.to_bytes().expect("encode").len() + 12 * run.finals.len();
        let cycles = |d: Duration| format!("{:.0}", k as f64 / d.as_secs_f64());
        println!(
            "| {k} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.1} | {} |",
            pp.shape.num_constraints,
            pp.shape.num_constraints / k,
            ms(setup),
            ms(per_fold[0]),
            ms(per_fold[1]),
            cycles(per_fold[0]),
            cycles(per_fold[1]),
            whole.as_secs_f64(),
            ms(verify),
            bytes as f64 / (1024.0 * 1024.0),
            peak_rss_mib()
        );
    }
}
