//! Replicas as real processes, under faults: the leader killed under load, a replica restarted that catches up
//! through the log or (far behind) through a snapshot, and replicas added and removed by an admin. After every
//! scenario all running replicas have applied the same index with the same state root.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Network, Settings, WAIT, block_on, counter_wasm, deploy, increment};
use nexus_cli::network;
use nexus_replica::{ClientKey, Receipt};

/// Clients that call `increment(1)` in a loop, each with its own key, moving to the next replica when one
/// does not answer; every acknowledged receipt is kept.
struct Load {
    acked: Arc<Mutex<Vec<Receipt>>>,
    stop: Arc<AtomicBool>,
    runtime: tokio::runtime::Runtime,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(net: &Network, app: nexus_replica::AppId, clients: u8) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let addrs: Vec<String> = net.replicas.iter().map(|r| r.addr.clone()).collect();
        let tasks = (0..clients)
            .map(|c| {
                let (acked, stop, addrs) = (acked.clone(), stop.clone(), addrs.clone());
                runtime.spawn(async move {
                    let key = ClientKey::from_secret([c + 1; 32]);
                    let mut target = c as usize;
                    while !stop.load(Ordering::Relaxed) {
                        match increment(&addrs[target % addrs.len()], &key, app, 1).await {
                            Ok(receipt) => acked.lock().unwrap().push(receipt),
                            Err(_) => {
                                target += 1;
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Load { acked, stop, runtime, tasks }
    }

    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    fn wait_for_acks(&self, count: usize) {
        let started = Instant::now();
        while self.acked() < count {
            assert!(started.elapsed() < WAIT, "only {} of {count} calls acknowledged", self.acked());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(self) -> Vec<Receipt> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            self.runtime.block_on(task).unwrap();
        }
        Arc::try_unwrap(self.acked).unwrap().into_inner().unwrap()
    }
}

/// Every acknowledged receipt is stored, byte for byte the same, on replica `index`.
fn assert_receipts_on(net: &Network, index: usize, acked: &[Receipt]) {
    for receipt in acked {
        let stored = block_on(network::receipt(net.addr(index), receipt.call_id))
            .unwrap_or_else(|e| panic!("call {} missing on replica {index}: {e}", receipt.call_id));
        assert_eq!(&stored.receipt, receipt, "replica {index} has another receipt for call {}", receipt.call_id);
    }
}

#[test]
fn killing_the_leader_under_load_loses_no_acknowledged_call() {
    let mut net = Network::start(3, Settings::default());
    let app = deploy(net.addr(0), &net.admin, counter_wasm());
    let load = Load::start(&net, app, 4);
    load.wait_for_acks(40);

    let old_leader = net.leader().expect("a leader");
    net.kill(old_leader);
    let before = load.acked();
    load.wait_for_acks(before + 40);
    let acked = load.stop();

    let new_leader = net.leader().expect("a new leader");
    assert_ne!(new_leader, old_leader);
    let (_, root) = net.converged();
    for survivor in (0..3).filter(|i| *i != old_leader) {
        assert_receipts_on(&net, survivor, &acked);
    }
    // Each acknowledged increment is in the count: no acknowledged call was lost or applied twice.
    let counts: Vec<u64> = acked.iter().map(|r| postcard::from_bytes(r.output.as_ref().unwrap()).unwrap()).collect();
    let mut sorted = counts.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), counts.len(), "two acknowledged calls saw the same count");

    // The killed leader comes back and catches up through the log (nothing was purged yet).
    net.restart(old_leader);
    let (applied, caught_up_root) = net.converged();
    assert_eq!(caught_up_root, root, "the restarted replica reached the same state");
    assert_receipts_on(&net, old_leader, &acked);
    let status = net.status(old_leader).unwrap();
    assert_eq!(status.snapshot_index, 0, "caught up through the log, no snapshot needed");
    assert_eq!(status.applied_index, applied);
}

#[test]
fn a_replica_far_behind_catches_up_through_a_snapshot() {
    let settings =
        Settings { snapshot_every_entries: Some(20), logs_kept_after_snapshot: Some(5), ..Settings::default() };
    let mut net = Network::start(3, settings);
    let app = deploy(net.addr(0), &net.admin, counter_wasm());
    let leader = net.leader().unwrap();
    let behind = (leader + 1) % 3;
    let last_log_before = net.status(behind).unwrap().last_log_index;
    net.kill(behind);
    let key = ClientKey::from_secret([9; 32]);
    let mut acked = Vec::new();
    for _ in 0..60 {
        acked.push(block_on(increment(net.addr(leader), &key, app, 1)).unwrap());
    }
    // The leader's log no longer holds what the stopped replica lacks.
    net.wait_for("the leader to snapshot and purge", |net| net.status(leader).unwrap().purged_index > last_log_before);
    let purged = net.status(leader).unwrap().purged_index;

    net.restart(behind);
    net.converged();
    let status = net.status(behind).unwrap();
    assert!(
        status.snapshot_index >= purged,
        "replica caught up without a snapshot (its snapshot index {} < the leader's purged index {purged})",
        status.snapshot_index,
    );
    // Receipts, sealed batches and certificates are part of the state a snapshot carries: the caught-up replica
    // serves the same batch message and certificate (path and signature checked) as the leader for calls it
    // never applied itself.
    assert_receipts_on(&net, behind, &acked);
    for receipt in [&acked[0], &acked[30], &acked[59]] {
        let served = |i| {
            let served = block_on(network::receipt(net.addr(i), receipt.call_id)).unwrap();
            (served.batch, served.certified)
        };
        net.wait_for("the call's batch to be certified", |_| served(leader).1.is_some());
        net.wait_for("the caught-up replica to hold the certificate", |_| served(behind).1.is_some());
        assert_eq!(served(behind), served(leader), "call {}", receipt.call_id);
    }
    let (_, root) = net.converged();
    let (value, _) = block_on(network::query(net.addr(behind), &app, "get", &[], true)).unwrap();
    assert_eq!(postcard::from_bytes::<u64>(value.output().unwrap()).unwrap(), 60);
    assert_eq!(net.status(behind).unwrap().state_root, root);
}

#[test]
fn replicas_are_added_and_removed_by_an_admin_only() {
    let mut net = Network::start(3, Settings::default());
    let app = deploy(net.addr(0), &net.admin, counter_wasm());
    for _ in 0..5 {
        block_on(increment(net.addr(1), &net.admin, app, 2)).unwrap();
    }
    let new = net.add_process(
        3,
        {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().to_string()
        },
        BTreeMap::new(),
    );
    let new_addr = net.addr(new).to_string();

    // A key that is not an admin is refused, and the membership is unchanged.
    let stranger = net.nexus(&["keys", "new", "--name", "stranger"]);
    assert!(stranger.status.success());
    let refused = net.nexus(&[
        "replica",
        "add",
        "--id",
        "3",
        "--address",
        &new_addr,
        "--key",
        "stranger",
        "--replica",
        net.addr(1),
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not an admin") && stderr.contains("PermissionDenied"), "{stderr}");
    assert_eq!(net.status(0).unwrap().members.len(), 3);

    // Through a follower (forwarded to the leader): the new replica catches up, then votes.
    let follower = (net.leader().unwrap() + 1) % 3;
    let added =
        net.nexus(&["--json", "replica", "add", "--id", "3", "--address", &new_addr, "--replica", net.addr(follower)]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let members: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    let voters = members["members"].as_array().unwrap().iter().filter(|m| m["voter"] == true).count();
    assert_eq!(voters, 4, "{members}");
    let (_, root) = net.converged();
    let (value, _) = block_on(network::query(&new_addr, &app, "get", &[], true)).unwrap();
    assert_eq!(postcard::from_bytes::<u64>(value.output().unwrap()).unwrap(), 10);
    assert_eq!(net.status(new).unwrap().state_root, root);

    // Remove replica 1; the network keeps serving without it.
    let removed = net.nexus(&["replica", "remove", "--id", "1", "--replica", &new_addr]);
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    net.wait_for("the removal to reach every member", |net| {
        [0, 2, new].iter().all(|i| net.status(*i).unwrap().members.iter().all(|m| m.node_id != 1))
    });
    net.kill(1);
    block_on(increment(&new_addr, &net.admin, app, 1)).unwrap();
    net.converged();
    let gone = net.nexus(&["replica", "remove", "--id", "1", "--replica", &new_addr]);
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("not a member"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
}
