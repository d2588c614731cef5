//! What certification costs: a 4-replica network of real processes on loopback, 64 closed-loop clients calling
//! `counter::increment` (each client its own key and connection, sending to the leader), once with
//! certification off and once with it on (after the DKG produced the group key). For each: calls/s and call
//! latency (submit → receipt); with certification on also the call-to-certificate latency, from a call's
//! submit until the leader holds a certificate covering its log index.
//!
//! That latency is measured without a request per call: a monitor polls the leader's `Status` every 2 ms on
//! one connection and records (time, `certified_index`); a call is certified at the first sample whose
//! `certified_index` reaches its call id (its log index). So it is an upper bound by at most one poll
//! period plus one status round trip. The monitor runs in both rows so both carry the same extra load.
//!
//! Run: `cargo bench -p nexus-cli --bench certify` (optionally `-- SECONDS` per row, default 10).

#[path = "../tests/common/mod.rs"]
mod common;
mod shared;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Network, Settings, counter_wasm, deploy};
use nexus_cli::network;
use nexus_proto::v1::StatusRequest;
use shared::{Call, WARMUP, percentile};

const REPLICAS: u64 = 4;
const CLIENTS: usize = 64;
const POLL: Duration = Duration::from_millis(2);
/// How long after the run the monitor waits for the last calls' certificates.
const CERTIFICATE_GRACE: Duration = Duration::from_secs(30);

struct Row {
    certification: &'static str,
    calls: usize,
    calls_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Call-to-certificate p50/p99 (ms) and the number of calls never seen certified.
    certified: Option<(f64, f64, usize)>,
}

/// Polls the leader's status every [`POLL`] until `until` is set and reached (or [`CERTIFICATE_GRACE`] passed
/// after it was set); returns (time of the answer, certified_index).
fn monitor(addr: String, until: Arc<AtomicU64>) -> std::thread::JoinHandle<Vec<(Instant, u64)>> {
    std::thread::spawn(move || {
        common::block_on(async move {
            let mut client = network::connect(&addr).await.expect("monitor connects");
            let mut ticks = tokio::time::interval(POLL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut samples = Vec::new();
            let mut stopping: Option<Instant> = None;
            loop {
                ticks.tick().await;
                let status = client.status(StatusRequest {}).await.expect("leader status").into_inner();
                samples.push((Instant::now(), covered(&status)));
                let target = until.load(Ordering::Relaxed);
                if target != u64::MAX {
                    let since = *stopping.get_or_insert_with(Instant::now);
                    if covered(&status) >= target || since.elapsed() > CERTIFICATE_GRACE {
                        return samples;
                    }
                }
            }
        })
    })
}

/// [`CLIENTS`] closed-loop clients calling `counter::increment` on the leader for `seconds` after warm-up.
fn run(net: &Network, app: nexus_replica::AppId, seconds: Duration) -> Vec<Call> {
    let addrs = [net.addr(net.leader().expect("a leader")).to_string()];
    let input = postcard::to_allocvec(&1u64).unwrap();
    shared::run_clients(net.cluster, &addrs, app, "increment", &input, CLIENTS, seconds)
}

/// The last log index with every certificate the network makes: Ed25519, and Ethereum too when the replicas
/// certify for a chain.
fn covered(status: &nexus_proto::v1::StatusResponse) -> u64 {
    if status.evm_group_key.is_empty() {
        status.certified_index
    } else {
        status.certified_index.min(status.evm_certified_index)
    }
}

/// Per call, the time from its submit to the first sample whose certified_index covers it; and how many
/// calls no sample covers.
fn certificate_latencies(calls: &[Call], samples: &[(Instant, u64)]) -> (Vec<Duration>, usize) {
    // Running maximum, so the samples are sorted by what they cover even if a reading went backwards.
    let mut covered = 0;
    let samples: Vec<(Instant, u64)> = samples
        .iter()
        .map(|(at, index)| {
            covered = covered.max(*index);
            (*at, covered)
        })
        .collect();
    let mut latencies = Vec::new();
    let mut missing = 0;
    for call in calls {
        match samples.get(samples.partition_point(|(_, index)| *index < call.call_id)) {
            Some((at, _)) => latencies.push(at.saturating_duration_since(call.sent)),
            None => missing += 1,
        }
    }
    latencies.sort();
    (latencies, missing)
}

/// The chain the "on + Ethereum" row certifies for.
const CHAIN: u64 = 31_337;

fn measure(mode: &'static str, seconds: Duration) -> Row {
    let certify = mode != "off";
    let evm_chain_id = (mode == "on + Ethereum").then_some(CHAIN);
    let net = Network::start(REPLICAS, Settings { certify: Some(certify), evm_chain_id, ..Settings::default() });
    if certify {
        net.wait_for("every replica to hold the group key", |net| {
            (0..net.replicas.len()).all(|i| net.status(i).is_some_and(|s| !s.group_key.is_empty()))
        });
    }
    let leader = net.leader().expect("a leader");
    let app = deploy(net.addr(leader), &net.admin, counter_wasm());
    let until = Arc::new(AtomicU64::new(u64::MAX));
    let monitor = monitor(net.addr(leader).to_string(), until.clone());
    let calls = run(&net, app, seconds);
    assert_eq!(net.leader(), Some(leader), "the leader changed during the run");
    let last = calls.iter().map(|c| c.call_id).max().unwrap_or(0);
    until.store(if certify { last } else { 0 }, Ordering::Relaxed);
    let samples = monitor.join().expect("monitor");
    let mut latencies: Vec<Duration> = calls.iter().map(|c| c.latency).collect();
    latencies.sort();
    let certified = certify.then(|| {
        let (to_certificate, missing) = certificate_latencies(&calls, &samples);
        (percentile(&to_certificate, 0.50), percentile(&to_certificate, 0.99), missing)
    });
    let row = Row {
        certification: mode,
        calls: calls.len(),
        calls_per_sec: calls.len() as f64 / seconds.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        certified,
    };
    eprintln!("certification {}: {:.0} calls/s", row.certification, row.calls_per_sec);
    row
}

/// `nproc` and the CPU model.
fn main() {
    let seconds = std::env::args().skip(1).find_map(|a| a.parse::<u64>().ok()).unwrap_or(10);
    let seconds = Duration::from_secs(seconds);
    let off = measure("off", seconds);
    let on = measure("on", seconds);
    let both = measure("on + Ethereum", seconds);
    let cost = (1.0 - on.calls_per_sec / off.calls_per_sec) * 100.0;
    let cost_both = (1.0 - both.calls_per_sec / off.calls_per_sec) * 100.0;
    println!(
        "\nMachine: {}. {REPLICAS} replicas on loopback, {CLIENTS} clients calling counter::increment on the \
         leader, {}s per row after {}s warm-up; certification costs {cost:.1}% of throughput (1 - on/off), with the Ethereum suite too \
         {cost_both:.1}%\n",
        shared::machine(),
        seconds.as_secs(),
        WARMUP.as_secs()
    );
    println!("| certification | calls | calls/s | call p50 ms | call p99 ms | to certificate p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in [off, on, both] {
        let (cert_p50, cert_p99) = match r.certified {
            Some((p50, p99, 0)) => (format!("{p50:.2}"), format!("{p99:.2}")),
            Some((p50, p99, missing)) => (format!("{p50:.2}"), format!("{p99:.2} ({missing} never certified)")),
            None => ("–".into(), "–".into()),
        };
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {cert_p50} | {cert_p99} |",
            r.certification, r.calls, r.calls_per_sec, r.p50_ms, r.p99_ms
        );
    }
}
