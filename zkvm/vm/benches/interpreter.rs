//! Interpreter throughput: instructions per second of fast and traced execution on two compiled
//! guests (tests/fixtures): an iterative Fibonacci loop and a software SHA-256 (no co-processor).
//!
//! "segmented" streams the trace as segments of 2^16 steps (`Vm::run_segmented`), including the
//! per-segment memory witness computation.
//!
//! `cargo bench -p nexus-vm --bench interpreter` runs the criterion groups (throughput in
//! elements/s = instructions/s) and then prints a markdown table (best of several runs per row,
//! plus trace bytes per step) suitable for BENCH.md.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use nexus_vm::{Program, Vm, VmConfig};

/// Segment size for the streamed mode (a plausible k for folding-scheme workers).
const SEGMENT_STEPS: usize = 1 << 16;

struct Workload {
    name: &'static str,
    program: Program,
    input: Vec<u8>,
}

fn workloads() -> Vec<Workload> {
    let load = |name: &str| {
        let path = format!("{}/tests/fixtures/{name}.elf", env!("CARGO_MANIFEST_DIR"));
        Program::from_elf(&std::fs::read(path).expect("fixture")).expect("valid fixture")
    };
    let mut sha_input = 200u32.to_le_bytes().to_vec();
    sha_input.extend([0x61u8; 1000]);
    vec![
        Workload {
            name: "fibonacci (n = 2,000,000)",
            program: load("fib"),
            input: 2_000_000u32.to_le_bytes().to_vec(),
        },
        Workload { name: "sha256 software (200 KB)", program: load("sha256"), input: sha_input },
    ]
}

fn bench(c: &mut Criterion, w: &Workload) {
    let vm = Vm::new(&w.program, &w.input, VmConfig::default()).unwrap();
    let steps = vm.run_fast().unwrap().steps;
    let mut g = c.benchmark_group(w.name);
    g.sample_size(10);
    g.throughput(Throughput::Elements(steps));
    g.bench_function("fast", |b| b.iter(|| black_box(vm.run_fast().unwrap())));
    g.bench_function("traced", |b| b.iter(|| black_box(vm.run_traced().unwrap())));
    g.bench_function("segmented k=2^16", |b| {
        b.iter(|| {
            black_box(vm.run_segmented(SEGMENT_STEPS, |s| {
                black_box(s.steps.len());
            }))
        })
    });
    g.finish();
}

/// Best-of-`runs` instructions per second.
fn best_rate(runs: usize, steps: u64, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            steps as f64 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn table(ws: &[Workload]) {
    println!();
    println!(
        "| workload | steps | fast (M instr/s) | traced, whole trace (M instr/s) | traced, streamed segments k=2^16 (M instr/s) | trace bytes/step |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for w in ws {
        let vm = Vm::new(&w.program, &w.input, VmConfig::default()).unwrap();
        let steps = vm.run_fast().unwrap().steps;
        let fast = best_rate(7, steps, || {
            black_box(vm.run_fast().unwrap());
        });
        let traced = best_rate(5, steps, || {
            black_box(vm.run_traced().unwrap());
        });
        let segmented = best_rate(5, steps, || {
            black_box(vm.run_segmented(SEGMENT_STEPS, |s| {
                black_box(s.steps.len());
            }))
            .unwrap();
        });
        let (_, trace) = vm.run_traced().unwrap();
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.1} |",
            w.name,
            steps,
            fast / 1e6,
            traced / 1e6,
            segmented / 1e6,
            trace.bytes_per_step()
        );
    }
}

fn main() {
    let ws = workloads();
    let mut c = Criterion::default().configure_from_args();
    for w in &ws {
        bench(&mut c, w);
    }
    c.final_summary();
    table(&ws);
}
