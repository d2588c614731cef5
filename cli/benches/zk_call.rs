//! What a proven call costs end to end: a 3-replica network of real processes on loopback and `nexus prover
//! run` worker processes (1 thread each), a `--zk` call of `fibonacci::fib` and of `sha256::digest`, first
//! with one worker, then with two. For each: the time from submitting the call until the replicated state
//! records the proof, NVM instructions per second over that time (overall and per worker), and where the
//! job's time went as the leader saw it: waiting (no task leased), proving (the sum of every accepted task's
//! claim-to-acceptance time), and the leader's own preparing, checking and assembling. One warm-up job runs
//! first, so parameter setup (per process, once) is not in the rows.
//!
//! Run: `cargo bench -p nexus-cli --bench zk_call` (optionally `-- K` steps per leaf, default 64).

#[path = "../tests/common/mod.rs"]
mod common;
mod shared;

use std::time::{Duration, Instant};

use common::{Network, Settings, block_on};
use nexus_cli::network;
use nexus_replica::{ApplyOutcome, Request, ZkState};
use nexus_tests::enc;

struct Row {
    workload: &'static str,
    workers: usize,
    steps: u64,
    tasks: u64,
    seconds: f64,
    status: nexus_proto::v1::JobStatusResponse,
    proof_bytes: u64,
}

/// Deploys an example app with both builds; its id.
fn deploy(net: &Network, name: &str) -> nexus_replica::AppId {
    let app = &nexus_tests::example_apps()[name];
    let request = Request::Deploy { module: app.wasm.clone(), program: Some(app.elf.clone()) };
    match block_on(network::submit(net.addr(0), &net.admin, request)).expect("deploy") {
        (ApplyOutcome::Deployed { app, .. }, _) => app,
        (other, _) => panic!("deploy: {other:?}"),
    }
}

/// One proven call: submit, wait for the proof in the state, read the leader's account of the job.
fn prove(
    net: &Network,
    app: nexus_replica::AppId,
    function: &str,
    input: Vec<u8>,
) -> (u64, f64, u64, nexus_proto::v1::JobStatusResponse) {
    let started = Instant::now();
    let request = Request::Call { app, function: function.into(), input, zk: true };
    let (receipt, call_id) = match block_on(network::submit(net.addr(0), &net.admin, request)).expect("call") {
        (ApplyOutcome::Called(receipt), index) => (receipt, index),
        (other, _) => panic!("call: {other:?}"),
    };
    let steps = receipt.zk.expect("the runs agree").steps;
    loop {
        let served = block_on(network::receipt_with(net.addr(0), call_id, false)).expect("receipt");
        match served.zk_job.map(|j| j.state) {
            Some(ZkState::Proven { proof_bytes, .. }) => {
                let seconds = started.elapsed().as_secs_f64();
                let status = block_on(network::job_status(net.addr(0), call_id)).expect("job status");
                return (steps, seconds, proof_bytes, status);
            }
            Some(ZkState::Proving) => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("job {call_id} ended as {other:?}"),
        }
    }
}

fn main() {
    let k = std::env::args().skip(1).find_map(|a| a.parse::<u64>().ok()).unwrap_or(64);
    let net = Network::start(3, Settings { prover_steps_per_fold: Some(k), ..Settings::default() });
    let fib = deploy(&net, "fibonacci");
    let sha = deploy(&net, "sha256");
    let mut workers = vec![net.start_worker("w1", "")];
    eprintln!("warm-up job (parameter setup on the leader and the worker)");
    prove(&net, fib, "fib", enc(&1u64));
    let workloads: [(&str, nexus_replica::AppId, &str, Vec<u8>); 2] = [
        ("fibonacci::fib(10)", fib, "fib", enc(&10u64)),
        ("sha256::digest(8 B)", sha, "digest", enc(&vec![0x61u8; 8])),
    ];
    let mut rows = Vec::new();
    for count in [1, 2] {
        while workers.len() < count {
            workers.push(net.start_worker(&format!("w{}", workers.len() + 1), ""));
            eprintln!("warm-up job for the new worker");
            prove(&net, fib, "fib", enc(&2u64));
        }
        for (workload, app, function, input) in &workloads {
            eprintln!("{workload} with {count} worker(s)");
            let (steps, seconds, proof_bytes, status) = prove(&net, *app, function, input.clone());
            rows.push(Row { workload, workers: count, steps, tasks: status.tasks_total, seconds, status, proof_bytes });
        }
    }
    drop(workers);
    println!(
        "\nMachine: {}. 3 replicas and the worker processes (1 proving thread each) on one machine, loopback; \
         k = {k} steps per leaf; the leader checks every result on the same cores.\n",
        shared::machine()
    );
    println!(
        "| call | workers | NVM steps | tasks | end to end s | cycles/s | per worker | waiting s | proving s (sum) | leader: prepare s | check s | assemble s | proof MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let s = |ms: u64| ms as f64 / 1e3;
    for r in &rows {
        let rate = r.steps as f64 / r.seconds;
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.workload,
            r.workers,
            r.steps,
            r.tasks,
            r.seconds,
            rate,
            rate / r.workers as f64,
            s(r.status.waiting_ms),
            s(r.status.proving_ms),
            s(r.status.setup_ms),
            s(r.status.checking_ms),
            s(r.status.assembling_ms),
            r.proof_bytes as f64 / (1 << 20) as f64
        );
    }
    for (workload, _, _, _) in &workloads {
        let time = |w: usize| rows.iter().find(|r| r.workload == *workload && r.workers == w).map(|r| r.seconds);
        if let (Some(one), Some(two)) = (time(1), time(2)) {
            println!("\n{workload}: 1 → 2 workers, end to end {:.2}x faster", one / two);
        }
    }
}
