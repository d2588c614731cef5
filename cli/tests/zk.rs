//! Proven calls (`nexus call --zk`) on a network of real replica and prover worker processes: two workers
//! prove a call and the receipt file verifies (and stops verifying once tampered with); a job survives a lying
//! worker, a killed worker and a leader change. The calls are `fibonacci::fib`, about 1,400 NVM steps.

mod common;

use std::time::{Duration, Instant};

use common::{Network, Settings, block_on};
use nexus_cli::network;
use nexus_replica::ZkState;

/// Steps per leaf on these networks: fewer, larger tasks than the default 64 (12 leaves and 11 nodes for a
/// `fib` call).
const STEPS_PER_FOLD: u64 = 128;
/// How long a proving job may take here before the test fails (a job is about a minute on 2 cores).
const JOB_WAIT: Duration = Duration::from_secs(420);

fn settings(lease_ms: u64) -> Settings {
    Settings { prover_steps_per_fold: Some(STEPS_PER_FOLD), prover_lease_ms: Some(lease_ms), ..Settings::default() }
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a `nexus` command again while it fails because the network has no leader at that moment (a
/// freshly started network on a loaded machine may hold one more election); nothing was submitted then.
fn retry_unavailable(run: impl Fn() -> std::process::Output) -> std::process::Output {
    let started = Instant::now();
    loop {
        let out = run();
        if out.status.success() || !stderr(&out).contains("(Unavailable)") || started.elapsed() > common::WAIT {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Writes the example app's two builds to the network's folder; returns the .wasm path.
fn write_app(net: &Network, name: &str, wasm_of: &str, elf_of: &str) -> String {
    let apps = nexus_tests::example_apps();
    let wasm = net.dir.path().join(format!("{name}.wasm"));
    std::fs::write(&wasm, &apps[wasm_of].wasm).expect("wasm written");
    std::fs::write(wasm.with_extension("elf"), &apps[elf_of].elf).expect("elf written");
    wasm.display().to_string()
}

/// `nexus deploy`; returns the app id.
fn deploy(net: &Network, args: &[&str]) -> String {
    let mut all = vec!["--json", "deploy"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--replica", net.addr(0)]);
    let out = retry_unavailable(|| net.nexus(&all));
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    value["app"].as_str().expect("app id").to_string()
}

/// `nexus call APP fib --input u64:N --zk`; returns the call id (and the command's output).
fn call_zk(net: &Network, app: &str, n: u64) -> (u64, std::process::Output) {
    let input = format!("u64:{n}");
    let out = retry_unavailable(|| {
        net.nexus(&["--json", "call", app, "fib", "--input", &input, "--zk", "--replica", net.addr(0)])
    });
    let value: serde_json::Value = serde_json::from_str(stdout(&out).lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("the receipt as json ({e}): {}{}", stdout(&out), stderr(&out)));
    (value["call_id"].as_u64().expect("call id"), out)
}

/// The job's state as the replicated state records it.
fn job_state(net: &Network, index: usize, call_id: u64) -> Option<ZkState> {
    block_on(network::receipt_with(net.addr(index), call_id, false)).ok()?.zk_job.map(|j| j.state)
}

fn wait_job_status(
    net: &Network,
    call_id: u64,
    what: &str,
    done: impl Fn(&nexus_proto::v1::JobStatusResponse) -> bool,
) {
    let started = Instant::now();
    loop {
        let leader = net.leader().map(|i| net.addr(i).to_string());
        if let Some(status) = leader.and_then(|addr| block_on(network::job_status(&addr, call_id)).ok())
            && done(&status)
        {
            return;
        }
        assert!(started.elapsed() < JOB_WAIT, "timed out waiting for {what}; logs in {}", net.dir.path().display());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `nexus receipt ID --zk --out FILE` through the leader, then `nexus verify FILE`; returns the file's path.
fn receive_and_verify(net: &Network, call_id: u64) -> std::path::PathBuf {
    let replica = net.leader().expect("a leader");
    let file = net.dir.path().join(format!("receipt-{call_id}.json"));
    let id = call_id.to_string();
    let timeout = JOB_WAIT.as_secs().to_string();
    let out = net.nexus(&[
        "receipt",
        &id,
        "--zk",
        "--timeout-secs",
        &timeout,
        "--out",
        file.to_str().expect("utf-8"),
        "--replica",
        net.addr(replica),
    ]);
    assert!(out.status.success(), "receipt --zk failed: {}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("NVM proof checked"), "{}", stdout(&out));
    let verified = net.nexus(&["verify", file.to_str().expect("utf-8")]);
    assert!(verified.status.success(), "verify failed: {}{}", stdout(&verified), stderr(&verified));
    assert!(stdout(&verified).contains("proven     NVM proof checked"), "{}", stdout(&verified));
    file
}

#[test]
fn a_zk_call_is_proven_by_two_workers_and_its_receipt_verifies_until_tampered_with() {
    let net = Network::start(3, settings(10_000));
    let fib = write_app(&net, "fibonacci", "fibonacci", "fibonacci");
    let app = deploy(&net, &[&fib]);
    let _workers = [net.start_worker("a", ""), net.start_worker("b", "")];
    let (call_id, out) = call_zk(&net, &app, 10);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("proving job"), "{}", stderr(&out));

    // While it is proven: the clear errors. A wasm-only app cannot be proven.
    let wasm_only = deploy(&net, &[&fib, "--wasm-only"]);
    let refused = net.nexus(&["call", &wasm_only, "fib", "--input", "u64:3", "--zk", "--replica", net.addr(0)]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("without an NVM build"), "{}", stderr(&refused));
    // An app whose builds disagree (fibonacci's wasm with sha256's NVM program) ends as "outputs differ" at
    // once, on every replica, and is never proven.
    let mismatched = write_app(&net, "mismatched", "fibonacci", "sha256");
    let bad = deploy(&net, &[&mismatched]);
    let (bad_call, out) = call_zk(&net, &bad, 10);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("disagree"), "{}", stderr(&out));
    net.converged();
    for i in 0..3 {
        assert!(matches!(job_state(&net, i, bad_call), Some(ZkState::OutputsDiffer(_))), "replica {i}");
    }
    let out = net.nexus(&["receipt", &bad_call.to_string(), "--zk", "--replica", net.addr(0)]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("outputs differ"), "{}", stderr(&out));

    let file = receive_and_verify(&net, call_id);
    wait_job_status(&net, call_id, "the job's final status", |s| s.state == "proven");
    // Every replica serves the proof (a follower fetches it from a peer and checks its digest).
    for i in 0..3 {
        let served = block_on(network::receipt_with(net.addr(i), call_id, true)).expect("receipt");
        assert!(matches!(served.zk_job.map(|j| j.state), Some(ZkState::Proven { .. })), "replica {i}");
        assert!(served.proof.is_some_and(|p| p.len() > 1 << 20), "replica {i} serves the proof");
    }

    // Tampered files fail `nexus verify`, each with its reason.
    let text = std::fs::read_to_string(&file).expect("receipt file");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let proof = value["proof"].as_str().expect("a proof").to_string();
    let tamper = |edit: &dyn Fn(&mut serde_json::Value), expect: &str| {
        let mut v = value.clone();
        edit(&mut v);
        let path = net.dir.path().join("tampered.json");
        std::fs::write(&path, serde_json::to_string(&v).expect("json")).expect("written");
        let out = net.nexus(&["verify", path.to_str().expect("utf-8")]);
        assert!(!out.status.success(), "a tampered receipt file verified ({expect})");
        assert!(stderr(&out).contains(expect), "expected {expect:?}: {}", stderr(&out));
    };
    // A byte of the proof's folding witness, deep inside the file.
    let mut flipped = proof.clone().into_bytes();
    let at = flipped.len() / 2;
    flipped[at] = if flipped[at] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).expect("hex");
    tamper(&|v| v["proof"] = flipped.clone().into(), "the proof does not verify");
    let truncated = &proof[..proof.len() / 4 * 2];
    tamper(&|v| v["proof"] = truncated.into(), "the proof does not verify");
    // The proof of another call (the claim names another input).
    tamper(&|v| v["receipt"]["zk"]["steps"] = 1.into(), "does not match");
    // Another output than the certified one.
    tamper(&|v| v["receipt"]["output"] = "00".into(), "does not match");
}

#[test]
fn a_job_survives_a_lying_worker_a_killed_worker_and_a_leader_change() {
    let mut net = Network::start(3, settings(5_000));
    let fib = write_app(&net, "fibonacci", "fibonacci", "fibonacci");
    let app = deploy(&net, &[&fib]);
    let liar = net.start_worker("liar", "corrupt-node");
    let honest = net.start_worker("honest", "");
    let (call_id, out) = call_zk(&net, &app, 12);
    assert!(out.status.success(), "{}", stderr(&out));

    // The liar's results are refused, and the honest worker's accepted.
    wait_job_status(&net, call_id, "a refused result and an accepted one", |s| s.rejected >= 1 && s.tasks_done >= 1);
    liar.kill();
    // Killed while it holds a lease: the lease runs out and its task is free again.
    honest.kill();
    let leader = net.leader().expect("a leader");
    let started = Instant::now();
    while !net.log(leader).contains("expired; the task is free again") {
        assert!(started.elapsed() < Duration::from_secs(60), "the killed worker's lease never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The leader dies mid-job; the next one takes the job up from the replicated state, and new workers
    // finish it.
    net.kill(leader);
    net.wait_for("a new leader", |n| n.leader().is_some_and(|l| l != leader));
    assert_eq!(job_state(&net, net.leader().expect("a leader"), call_id), Some(ZkState::Proving));
    let _rescuers = [net.start_worker("rescuer-a", ""), net.start_worker("rescuer-b", "")];
    let file = receive_and_verify(&net, call_id);
    let text = std::fs::read_to_string(file).expect("receipt file");
    assert!(text.contains("\"proof\""));
}
