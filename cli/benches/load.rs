//! Load on a 3-replica network of real processes on loopback: replicated calls/s and p50/p99 latency at 1,
//! 16 and 64 concurrent clients, for an empty call (a function that does nothing) and for
//! `counter::increment`. Each client has its own key and connection, spread over the replicas (followers
//! forward to the leader), and waits for each call's receipt before sending the next. Every call is signed,
//! ordered by Raft, made durable (fsync) on a majority, executed by every replica and answered with its
//! receipt.
//!
//! Run: `cargo bench -p nexus-cli --bench load` (optionally `-- SECONDS` per row, default 5).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Network, Settings, counter_wasm, deploy};
use nexus_cli::network;
use nexus_replica::{AppId, ApplyOutcome, ClientKey, Request};

const CLIENTS: [usize; 3] = [1, 16, 64];
const WARMUP: Duration = Duration::from_secs(1);

struct Row {
    workload: &'static str,
    clients: usize,
    calls: usize,
    calls_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `clients` closed-loop clients calling `function` for `seconds`; latencies of the calls after warm-up.
fn run(
    net: &Network,
    app: AppId,
    function: &str,
    input: &[u8],
    clients: usize,
    seconds: Duration,
) -> (usize, Vec<Duration>) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cluster = net.cluster;
    let addrs: Vec<String> = net.replicas.iter().map(|r| r.addr.clone()).collect();
    runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let addr = addrs[c % addrs.len()].clone();
                let (function, input) = (function.to_string(), input.to_vec());
                tokio::spawn(async move {
                    let mut secret = [0u8; 32];
                    secret[..8].copy_from_slice(&(c as u64 + 1000).to_le_bytes());
                    let key = ClientKey::from_secret(secret);
                    let mut client = network::connect(&addr).await.unwrap();
                    let mut nonce = network::clock_nonce();
                    let mut latencies = Vec::new();
                    while start.elapsed() < WARMUP + seconds {
                        nonce += 1;
                        let call = Request::Call { app, function: function.clone(), input: input.clone(), zk: false };
                        let signed = key.sign(&cluster, nonce, call).encode();
                        let sent = Instant::now();
                        match network::submit_signed(&mut client, &addr, signed).await {
                            Ok((ApplyOutcome::Called(receipt), _)) if receipt.trap.is_none() => {}
                            other => panic!("call failed: {other:?}"),
                        }
                        if sent.duration_since(start) >= WARMUP {
                            latencies.push(sent.elapsed());
                        }
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        (all.len(), all)
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1e3
}

fn main() {
    let seconds = std::env::args().skip(1).find_map(|a| a.parse::<u64>().ok()).unwrap_or(5);
    let seconds = Duration::from_secs(seconds);
    let net = Network::start(3, Settings::default());
    let empty = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "noop")))"#).unwrap();
    let increment_by_one = postcard::to_allocvec(&1u64).unwrap();
    let workloads = [
        ("empty call", deploy(net.addr(0), &net.admin, empty), "noop", Vec::new()),
        ("counter::increment", deploy(net.addr(0), &net.admin, counter_wasm()), "increment", increment_by_one),
    ];
    let mut rows = Vec::new();
    for (workload, app, function, input) in &workloads {
        for clients in CLIENTS {
            let (calls, mut latencies) = run(&net, *app, function, input, clients, seconds);
            latencies.sort();
            let row = Row {
                workload,
                clients,
                calls,
                calls_per_sec: calls as f64 / seconds.as_secs_f64(),
                p50_ms: percentile(&latencies, 0.50),
                p99_ms: percentile(&latencies, 0.99),
            };
            eprintln!("{workload} × {clients}: {:.0} calls/s", row.calls_per_sec);
            rows.push(row);
        }
    }
    let (applied, _) = net.converged();
    println!(
        "\n3 replicas on loopback, {}s per row after {}s warm-up; all replicas converged at index {applied}\n",
        seconds.as_secs(),
        WARMUP.as_secs()
    );
    println!("| workload | clients | calls | calls/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} |",
            r.workload, r.clients, r.calls, r.calls_per_sec, r.p50_ms, r.p99_ms
        );
    }
}
