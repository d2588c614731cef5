//! Load on a 3-replica network of real processes on loopback: replicated calls/s and p50/p99 latency at 1,
//! 16 and 64 concurrent clients, for an empty call (a function that does nothing) and for
//! `counter::increment`. Each client has its own key and connection and waits for each call's receipt before
//! sending the next. Clients send to the leader, as `nexus call` does (it asks a replica who leads); the
//! "via any replica" rows spread the clients over all replicas instead, so two thirds of the calls take the
//! followers' forwarding hop. Every call is signed, ordered by Raft, made durable (fsync) on a majority,
//! executed by every replica and answered with its receipt.
//!
//! Run: `cargo bench -p nexus-cli --bench load` (optionally `-- SECONDS` per row, default 5).

#[path = "../tests/common/mod.rs"]
mod common;
mod shared;

use std::time::Duration;

use common::{Network, Settings, counter_wasm, deploy};
use nexus_replica::AppId;
use shared::{WARMUP, percentile};

const CLIENTS: [usize; 3] = [1, 16, 64];

struct Row {
    workload: &'static str,
    route: &'static str,
    clients: usize,
    calls: usize,
    calls_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU time per call (user + system) of the leader, the followers together, and the client process.
    cpu_us: [f64; 3],
}

/// User + system CPU time of process `pid` (or of this process), from /proc.
fn cpu_time(pid: Option<u32>) -> Duration {
    let path = pid.map_or("/proc/self/stat".to_string(), |pid| format!("/proc/{pid}/stat"));
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<u64>().ok()).sum();
    // Clock ticks are 100 Hz on Linux.
    Duration::from_millis(ticks * 10)
}

/// CPU time so far of the leader, the followers together, and this process.
fn cpu_split(net: &Network) -> [Duration; 3] {
    let leader = net.leader().expect("a leader");
    let followers = (0..net.replicas.len()).filter(|i| *i != leader).map(|i| cpu_time(net.pid(i))).sum();
    [cpu_time(net.pid(leader)), followers, cpu_time(None)]
}

/// `clients` closed-loop clients calling `function` for `seconds`; latencies of the calls after warm-up.
fn run(
    net: &Network,
    app: AppId,
    function: &str,
    input: &[u8],
    clients: usize,
    spread: bool,
    seconds: Duration,
) -> (usize, Vec<Duration>) {
    let addrs: Vec<String> = if spread {
        net.replicas.iter().map(|r| r.addr.clone()).collect()
    } else {
        vec![net.addr(net.leader().expect("a leader")).to_string()]
    };
    let calls = shared::run_clients(net.cluster, &addrs, app, function, input, clients, seconds);
    (calls.len(), calls.into_iter().map(|c| c.latency).collect())
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
    let runs = CLIENTS.iter().map(|c| (*c, false)).chain([(64, true)]);
    for (workload, app, function, input) in &workloads {
        for (clients, spread) in runs.clone() {
            let cpu_before = cpu_split(&net);
            let (calls, mut latencies) = run(&net, *app, function, input, clients, spread, seconds);
            let cpu_after = cpu_split(&net);
            latencies.sort();
            // CPU includes the warm-up second; calls counted after it, so scale by the share of time measured.
            let measured = seconds.as_secs_f64() / (seconds + WARMUP).as_secs_f64();
            let cpu_us = std::array::from_fn(|i| {
                (cpu_after[i] - cpu_before[i]).as_secs_f64() * measured * 1e6 / calls.max(1) as f64
            });
            let row = Row {
                workload,
                route: if spread { "via any replica" } else { "to the leader" },
                clients,
                calls,
                calls_per_sec: calls as f64 / seconds.as_secs_f64(),
                p50_ms: percentile(&latencies, 0.50),
                p99_ms: percentile(&latencies, 0.99),
                cpu_us,
            };
            eprintln!("{workload} × {clients} {}: {:.0} calls/s", row.route, row.calls_per_sec);
            rows.push(row);
        }
    }
    let (applied, _) = net.converged();
    println!(
        "\n3 replicas on loopback, {}s per row after {}s warm-up; all replicas converged at index {applied}\n",
        seconds.as_secs(),
        WARMUP.as_secs()
    );
    println!(
        "| workload | clients | sent | calls | calls/s | p50 ms | p99 ms | CPU µs/call: leader | followers | client |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} |",
            r.workload,
            r.clients,
            r.route,
            r.calls,
            r.calls_per_sec,
            r.p50_ms,
            r.p99_ms,
            r.cpu_us[0],
            r.cpu_us[1],
            r.cpu_us[2]
        );
    }
}
