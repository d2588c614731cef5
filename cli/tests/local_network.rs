//! The user's path, as processes: `nexus up` starts replicas as real processes on loopback; its admin key,
//! `nexus deploy` and `nexus call` go through them; a killed replica does not stop the network; every live
//! replica reports the same state root.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const NEXUS: &str = env!("CARGO_BIN_EXE_nexus");

fn nexus(config: &Path, args: &[&str]) -> Output {
    Command::new(NEXUS).args(args).env("NEXUS_CONFIG_DIR", config).output().expect("nexus runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Stops `nexus up` (and with it its replicas) when the test ends, however it ends.
struct Network(std::process::Child);

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

#[test]
fn a_local_network_of_four_deploys_calls_and_survives_a_killed_replica() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, data) = (tmp.path().join("config"), tmp.path().join("net"));
    let up = Command::new(NEXUS)
        .args(["up", "--replicas", "4", "--data"])
        .arg(&data)
        .env("NEXUS_CONFIG_DIR", &config)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _network = Network(up);
    let started = Instant::now();
    let status = loop {
        let output = nexus(&config, &["status"]);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success()
            && text.lines().filter(|l| l.starts_with("replica ")).count() == 4
            && !text.contains("leader none")
            && !text.contains("cannot connect")
        {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "network did not come up: {text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let addrs: Vec<String> = status
        .lines()
        .filter(|l| l.starts_with("replica "))
        .map(|l| l.split(" at ").nth(1).unwrap().split(':').take(2).collect::<Vec<_>>().join(":"))
        .collect();

    // `nexus up` created the default key as the network's admin; deploys and calls use it.
    stdout(&nexus(&config, &["keys", "show"]));
    let wasm = tmp.path().join("counter.wasm");
    std::fs::write(&wasm, &nexus_tests::example_apps()["counter"].wasm).unwrap();
    let deployed = stdout(&nexus(&config, &["deploy", wasm.to_str().unwrap()]));
    let app = field(&deployed, "app").to_string();

    let call = |replica: &str, by: &str| {
        nexus(&config, &["call", &app, "increment", "--input", by, "--decode", "u64", "--replica", replica])
    };
    let first = stdout(&call(&addrs[1], "u64:5"));
    assert_eq!(field(&first, "output"), "5");
    let call_id = field(&first, "call id").to_string();

    // Reads: a linearizable query through a follower, a receipt from another replica, JSON for scripts.
    let query = stdout(&nexus(&config, &["query", &app, "get", "--decode", "u64", "--replica", &addrs[2]]));
    assert_eq!(field(&query, "output"), "5");
    // A follower serves the receipt once it has applied the call (it may be a moment behind the leader).
    let started = Instant::now();
    let receipt = loop {
        let output = nexus(&config, &["--json", "receipt", &call_id, "--decode", "u64", "--replica", &addrs[2]]);
        if output.status.success() {
            break String::from_utf8_lossy(&output.stdout).into_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{}", String::from_utf8_lossy(&output.stderr));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(receipt.contains(&format!(r#""call_id":{call_id}"#)) && receipt.contains(r#""decoded":"5""#), "{receipt}");
    let missing = nexus(&config, &["receipt", "999", "--replica", &addrs[0]]);
    assert!(!missing.status.success());

    // Kill one replica outright; three of four still make a majority.
    let killed = Command::new("pkill").args(["-9", "-f"]).arg(data.join("replica-3.toml")).status().unwrap();
    assert!(killed.success(), "replica 2 was running");
    assert_eq!(field(&stdout(&call(&addrs[0], "u64:2")), "output"), "7");

    // Bad input is refused with a clear message and a failure exit.
    let unknown = nexus(&config, &["call", &"00".repeat(32), "increment", "--input", "u64:1", "--replica", &addrs[0]]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("unknown app"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    // The live replicas agree once they have applied the same index (a follower may be a moment behind).
    let started = Instant::now();
    loop {
        let statuses: Vec<serde_json::Value> = addrs[..3]
            .iter()
            .map(|addr| {
                serde_json::from_str(&stdout(&nexus(&config, &["--json", "status", "--replica", addr]))).unwrap()
            })
            .map(|list: serde_json::Value| list[0].clone())
            .collect();
        let same_index = statuses.iter().all(|s| s["applied_index"] == statuses[0]["applied_index"]);
        if same_index {
            assert!(statuses.iter().all(|s| s["state_root"] == statuses[0]["state_root"]), "{statuses:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "replicas did not converge: {statuses:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
