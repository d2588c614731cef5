//! A network of real `nexus replica run` processes on loopback that a test can kill, restart and grow, with
//! the client calls the tests make through it.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nexus_cli::network::{self, ReplicaConfig};
use nexus_proto::v1::StatusResponse;
use nexus_replica::{AppId, ApplyOutcome, ClientKey, ClusterId, Receipt, Request};

pub const NEXUS: &str = env!("CARGO_BIN_EXE_nexus");

/// How long a test waits for the network to reach a state before failing.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Replica {
    pub id: u64,
    pub addr: String,
    pub config: PathBuf,
    child: Option<Child>,
}

pub struct Network {
    pub dir: tempfile::TempDir,
    pub cluster: ClusterId,
    pub replicas: Vec<Replica>,
    /// `NEXUS_CONFIG_DIR` for the `nexus` commands a test runs; holds the admin key as `default`.
    pub config_dir: PathBuf,
    /// The key every replica lists as admin.
    pub admin: ClientKey,
    settings: Settings,
    /// Node id → `NEXUS_TEST_FAULTS` for that replica's process (see nexus-replica's `faults`).
    pub faults: BTreeMap<u64, String>,
}

/// Per-network replica settings the tests vary.
#[derive(Clone, Copy, Default)]
pub struct Settings {
    pub snapshot_every_entries: Option<u64>,
    pub logs_kept_after_snapshot: Option<u64>,
    pub certify: Option<bool>,
    pub evm_chain_id: Option<u64>,
    pub prover_steps_per_fold: Option<u64>,
    pub prover_lease_ms: Option<u64>,
}

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").to_string()
}

impl Network {
    /// Starts `n` replicas (node ids 0..n), replica 0 bootstrapping the cluster, and waits for a leader.
    pub fn start(n: u64, settings: Settings) -> Self {
        Self::start_with_faults(n, settings, BTreeMap::new())
    }

    /// [`Network::start`] with deliberate faults in some replicas (node id → fault list).
    pub fn start_with_faults(n: u64, settings: Settings, faults: BTreeMap<u64, String>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_dir = dir.path().join("config");
        let admin = nexus_cli::keys::create(&config_dir, "default", false).expect("admin key");
        // A fresh public key is as good as any random 32 bytes for a cluster id.
        let cluster = nexus_cli::keys::create(&config_dir, "cluster-id", false).expect("random").public();
        let mut network = Network { dir, cluster, replicas: Vec::new(), config_dir, admin, settings, faults };
        let addrs: Vec<String> = (0..n).map(|_| free_addr()).collect();
        let members: BTreeMap<String, String> =
            addrs.iter().enumerate().map(|(i, a)| (i.to_string(), a.clone())).collect();
        for (i, addr) in addrs.into_iter().enumerate() {
            let bootstrap = if i == 0 { members.clone() } else { BTreeMap::new() };
            network.add_process(i as u64, addr, bootstrap);
        }
        network.wait_for("a leader", |net| net.leader().is_some());
        network
    }

    /// Writes a replica's config and starts its process (not yet a member unless it bootstraps).
    pub fn add_process(&mut self, id: u64, addr: String, bootstrap: BTreeMap<String, String>) -> usize {
        let config = ReplicaConfig {
            node_id: id,
            cluster_id: hex::encode(self.cluster),
            listen: addr.clone(),
            data_dir: self.dir.path().join(format!("replica-{id}")),
            bootstrap_members: bootstrap,
            admins: vec![hex::encode(self.admin.public())],
            snapshot_every_entries: self.settings.snapshot_every_entries,
            logs_kept_after_snapshot: self.settings.logs_kept_after_snapshot,
            certify: self.settings.certify,
            certify_threshold: None,
            evm_chain_id: self.settings.evm_chain_id,
            prover_threads: None,
            prover_steps_per_fold: self.settings.prover_steps_per_fold,
            prover_lease_ms: self.settings.prover_lease_ms,
        };
        let path = self.dir.path().join(format!("replica-{id}.toml"));
        network::write_toml(&path, &config).expect("config written");
        self.replicas.push(Replica { id, addr, config: path, child: None });
        let index = self.replicas.len() - 1;
        self.restart(index);
        index
    }

    pub fn restart(&mut self, index: usize) {
        let replica = &mut self.replicas[index];
        assert!(replica.child.is_none(), "replica {} is running", replica.id);
        let log = std::fs::File::create(self.dir.path().join(format!("replica-{}.log", replica.id))).expect("log");
        let child = Command::new(NEXUS)
            .args(["replica", "run", "--config"])
            .arg(&replica.config)
            .env("NEXUS_TEST_FAULTS", self.faults.get(&replica.id).map_or("", String::as_str))
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("replica process starts");
        replica.child = Some(child);
        let addr = replica.addr.clone();
        self.wait_for("the restarted replica to serve", |_| block_on(network::status(&addr)).is_ok());
    }

    /// SIGKILL: no clean shutdown, whatever was not on disk is lost.
    pub fn kill(&mut self, index: usize) {
        let mut child = self.replicas[index].child.take().expect("replica is running");
        child.kill().expect("kill -9");
        child.wait().expect("reaped");
    }

    /// The process id of replica `index`, if it is running.
    pub fn pid(&self, index: usize) -> Option<u32> {
        self.replicas[index].child.as_ref().map(Child::id)
    }

    pub fn is_running(&self, index: usize) -> bool {
        self.replicas[index].child.is_some()
    }

    pub fn status(&self, index: usize) -> Option<StatusResponse> {
        block_on(network::status(&self.replicas[index].addr)).ok()
    }

    /// The index (into `replicas`) of the leader as a running replica sees it.
    pub fn leader(&self) -> Option<usize> {
        (0..self.replicas.len()).filter(|i| self.is_running(*i)).find_map(|i| {
            let leader = self.status(i)?.leader_id?;
            let index = self.replicas.iter().position(|r| r.id == leader)?;
            let confirmed = self.is_running(index) && self.status(index)?.leader_id == Some(leader);
            confirmed.then_some(index)
        })
    }

    pub fn wait_for(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let started = Instant::now();
        while !done(self) {
            assert!(started.elapsed() < WAIT, "timed out waiting for {what}; logs in {}", self.dir.path().display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every running replica has applied the same index, then returns their (applied, root).
    pub fn converged(&self) -> (u64, Vec<u8>) {
        let mut seen = None;
        self.wait_for("all running replicas to apply the same index", |net| {
            let statuses: Vec<_> =
                (0..net.replicas.len()).filter(|i| net.is_running(*i)).map(|i| net.status(i)).collect();
            let Some(statuses) = statuses.into_iter().collect::<Option<Vec<_>>>() else { return false };
            let first = &statuses[0];
            let same = statuses.iter().all(|s| s.applied_index == first.applied_index);
            if same {
                for s in &statuses {
                    assert_eq!(s.state_root, first.state_root, "replica {} has another state root", s.node_id);
                }
                seen = Some((first.applied_index, first.state_root.clone()));
            }
            same
        });
        seen.expect("converged")
    }

    pub fn addr(&self, index: usize) -> &str {
        &self.replicas[index].addr
    }

    /// Starts a `nexus prover run` process named `name` against every replica of the network, with
    /// `NEXUS_TEST_FAULTS` set to `faults`.
    pub fn start_worker(&self, name: &str, faults: &str) -> Worker {
        let log = std::fs::File::create(self.dir.path().join(format!("worker-{name}.log"))).expect("log");
        let mut command = Command::new(NEXUS);
        command.args(["prover", "run", "--threads", "1", "--name", name, "--replica"]);
        command.args(self.replicas.iter().map(|r| r.addr.as_str()));
        let child = command
            .env("NEXUS_TEST_FAULTS", faults)
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("worker process starts");
        Worker { child }
    }

    /// The replica log of replica `index`.
    pub fn log(&self, index: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("replica-{}.log", self.replicas[index].id)))
            .unwrap_or_default()
    }

    /// Runs the `nexus` binary with this network's config dir.
    pub fn nexus(&self, args: &[&str]) -> std::process::Output {
        Command::new(NEXUS).args(args).env("NEXUS_CONFIG_DIR", &self.config_dir).output().expect("nexus runs")
    }
}

/// A prover worker process; killed (SIGKILL) when dropped.
pub struct Worker {
    child: Child,
}

impl Worker {
    pub fn kill(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for replica in &mut self.replicas {
            if let Some(mut child) = replica.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // A failed test keeps the replicas' data and logs, which its message points to.
        if std::thread::panicking()
            && let Ok(empty) = tempfile::tempdir()
        {
            let kept = std::mem::replace(&mut self.dir, empty).keep();
            eprintln!("the network's data and logs are kept in {}", kept.display());
        }
    }
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(future)
}

/// The counter app's wasm.
pub fn counter_wasm() -> Vec<u8> {
    nexus_tests::example_apps()["counter"].wasm.clone()
}

/// Deploys `module` through replica `addr` with `key`; returns the app id.
pub fn deploy(addr: &str, key: &ClientKey, module: Vec<u8>) -> AppId {
    match block_on(network::submit(addr, key, Request::Deploy { module, program: None })).expect("deploy submitted") {
        (ApplyOutcome::Deployed { app, .. }, _) => app,
        (other, _) => panic!("deploy: {other:?}"),
    }
}

/// Calls `counter::increment(by)`; the receipt of an applied call.
pub async fn increment(addr: &str, key: &ClientKey, app: AppId, by: u64) -> Result<Receipt, network::NetworkError> {
    let input = postcard::to_allocvec(&by).expect("encodes");
    let request = Request::Call { app, function: "increment".into(), input, zk: false };
    match network::submit(addr, key, request).await? {
        (ApplyOutcome::Called(receipt), _) => Ok(receipt),
        (other, _) => panic!("increment: {other:?}"),
    }
}
