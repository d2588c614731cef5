//! What the network benchmarks share: closed-loop clients and percentiles.

#![allow(dead_code)] // each benchmark reads a different part of a call

use std::time::{Duration, Instant};

use nexus_cli::network;
use nexus_replica::{AppId, ApplyOutcome, ClientKey, ClusterId, Request};

/// Calls sent before this much time has passed are not measured.
pub const WARMUP: Duration = Duration::from_secs(1);

/// One measured call.
pub struct Call {
    /// When it was sent.
    pub sent: Instant,
    /// Submit to receipt.
    pub latency: Duration,
    /// Its log index.
    pub call_id: u64,
}

/// `clients` closed-loop clients, client `c` sending to `addrs[c % addrs.len()]` with its own key and
/// connection, each waiting for a call's receipt before sending the next, for [`WARMUP`] + `seconds`; the calls
/// sent after the warm-up. A call that does not return panics the benchmark.
pub fn run_clients(
    cluster: ClusterId,
    addrs: &[String],
    app: AppId,
    function: &str,
    input: &[u8],
    clients: usize,
    seconds: Duration,
) -> Vec<Call> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
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
                    let mut calls = Vec::new();
                    while start.elapsed() < WARMUP + seconds {
                        nonce += 1;
                        let call = Request::Call { app, function: function.clone(), input: input.clone(), zk: false };
                        let signed = key.sign(&cluster, nonce, call).encode();
                        let sent = Instant::now();
                        let call_id = match network::submit_signed(&mut client, &addr, signed).await {
                            Ok((ApplyOutcome::Called(receipt), _)) if receipt.trap.is_none() => receipt.call_id,
                            other => panic!("call failed: {other:?}"),
                        };
                        if sent.duration_since(start) >= WARMUP {
                            calls.push(Call { sent, latency: sent.elapsed(), call_id });
                        }
                    }
                    calls
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    })
}

/// The `p` quantile of `sorted`, in milliseconds (NaN if empty).
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1e3
}

/// The machine a benchmark ran on, for its table's caption.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores (nproc), {model}")
}
