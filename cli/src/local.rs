//! `nexus replica run` and `nexus up`: replicas as real processes on loopback.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nexus_cli::network::{self, LocalNetwork, ReplicaConfig};
use nexus_replica::node::{Node, NodeConfig};
use nexus_wasm_host::{Host, Limits};

/// How long `nexus up` waits for its replicas to elect a leader.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run_replica(config_path: &Path) -> Result<()> {
    let config: ReplicaConfig = network::read_toml(config_path)?;
    let cluster = network::parse_cluster_id(&config.cluster_id).context("cluster_id must be 64 hex digits")?;
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let host = Arc::new(Host::with_artifact_dir(Limits::default(), config.data_dir.join("artifacts"))?);
    let node = Node::start(node_config(&config, cluster)?, host, listener).await?;
    if !config.bootstrap_members.is_empty() {
        let members = config
            .bootstrap_members
            .iter()
            .map(|(id, addr)| Ok((id.parse::<u64>().context("member ids are numbers")?, addr.clone())))
            .collect::<Result<BTreeMap<_, _>>>()?;
        // On a restart the cluster is already initialized; that refusal is expected and harmless.
        if let Err(e) = node.initialize(members).await {
            eprintln!("replica {}: not initializing: {e}", config.node_id);
        }
    }
    println!("replica {} listening on {}", config.node_id, node.addr);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    node.shutdown().await;
    Ok(())
}

/// The node's settings from its config file; unset ones keep the defaults of [`NodeConfig::new`].
fn node_config(config: &ReplicaConfig, cluster: nexus_replica::ClusterId) -> Result<NodeConfig> {
    let mut node = NodeConfig::new(config.node_id, cluster, config.data_dir.clone());
    node.admins = config
        .admins
        .iter()
        .map(|key| hex::decode(key).ok().and_then(|b| b.try_into().ok()).context("admin keys are 64 hex digits"))
        .collect::<Result<_>>()?;
    if let Some(every) = config.snapshot_every_entries {
        node.snapshot_every_entries = every;
    }
    if let Some(kept) = config.logs_kept_after_snapshot {
        node.logs_kept_after_snapshot = kept;
    }
    if let Some(enabled) = config.certify {
        node.certify.enabled = enabled;
    }
    node.certify.threshold = config.certify_threshold;
    node.certify.evm_chain_id = config.evm_chain_id;
    if let Some(threads) = config.prover_threads {
        node.prover.threads = threads;
    }
    if let Some(k) = config.prover_steps_per_fold {
        node.prover.steps_per_fold = k;
    }
    if let Some(ms) = config.prover_lease_ms {
        node.prover.lease = Duration::from_millis(ms);
    }
    Ok(node)
}

/// The chain id `nexus up` certifies for: the one local Ethereum development nodes use.
pub const LOCAL_EVM_CHAIN_ID: u64 = 31_337;

/// Free loopback ports, found by binding port 0 (kept from the previous run if the network exists).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The admin key of a local network: the user's key `name`, created if it does not exist yet.
fn admin_key(name: &str) -> Result<String> {
    let config_dir = nexus_cli::keys::config_dir()?;
    let key = match nexus_cli::keys::load(&config_dir, name) {
        Ok(key) => key,
        Err(nexus_cli::keys::KeyError::Missing { .. }) => {
            let key = nexus_cli::keys::create(&config_dir, name, false)?;
            println!("created key {name} ({}), the network's admin", hex::encode(key.public()));
            key
        }
        Err(e) => return Err(e.into()),
    };
    Ok(hex::encode(key.public()))
}

pub async fn up(dir: &Path, replicas: usize, provers: usize, admin: &str) -> Result<()> {
    if replicas == 0 {
        bail!("a network needs at least one replica");
    }
    let admins = vec![admin_key(admin)?];
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let network_file = dir.join("network.toml");
    // Reuse the cluster id and ports of an existing local network, so its data stays valid.
    let net = match network::read_toml::<LocalNetwork>(&network_file) {
        Ok(net) if net.replicas.len() == replicas => net,
        _ => {
            let mut id = [0u8; 32];
            getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("random cluster id: {e}"))?;
            let replicas =
                (0..replicas).map(|_| Ok(format!("127.0.0.1:{}", free_port()?))).collect::<Result<Vec<_>>>()?;
            LocalNetwork { cluster_id: hex::encode(id), replicas }
        }
    };
    let members: BTreeMap<String, String> =
        net.replicas.iter().enumerate().map(|(i, addr)| (i.to_string(), addr.clone())).collect();
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for (i, addr) in net.replicas.iter().enumerate() {
        let config = ReplicaConfig {
            node_id: i as u64,
            cluster_id: net.cluster_id.clone(),
            listen: addr.clone(),
            data_dir: dir.join(format!("replica-{i}")),
            bootstrap_members: if i == 0 { members.clone() } else { BTreeMap::new() },
            admins: admins.clone(),
            snapshot_every_entries: None,
            logs_kept_after_snapshot: None,
            certify: None,
            certify_threshold: None,
            // A local network certifies for the local development chain id too, for the bridge.
            evm_chain_id: Some(LOCAL_EVM_CHAIN_ID),
            prover_threads: None,
            prover_steps_per_fold: None,
            prover_lease_ms: None,
        };
        let config_path = dir.join(format!("replica-{i}.toml"));
        network::write_toml(&config_path, &config)?;
        let log = std::fs::File::create(dir.join(format!("replica-{i}.log")))?;
        let child = tokio::process::Command::new(&exe)
            .args(["replica", "run", "--config"])
            .arg(&config_path)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting a replica process")?;
        children.push(child);
    }
    // Prover workers for calls made with --zk, as separate processes (as they run on other machines).
    for i in 0..provers {
        let log = std::fs::File::create(dir.join(format!("prover-{i}.log")))?;
        let child = tokio::process::Command::new(&exe)
            .args(["prover", "run", "--name", &format!("local-{i}"), "--replica"])
            .args(&net.replicas)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting a prover worker")?;
        children.push(child);
    }
    network::write_toml(&network_file, &net)?;
    let config_dir = nexus_cli::keys::config_dir()?;
    std::fs::create_dir_all(&config_dir)?;
    network::write_toml(&config_dir.join("network.toml"), &net)?;

    let started = std::time::Instant::now();
    loop {
        let status = network::status(&net.replicas[0]).await;
        if let Ok(status) = status
            && status.leader_id.is_some()
        {
            break;
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!("no leader after {STARTUP_TIMEOUT:?}; see the logs in {}", dir.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("local network up: {replicas} replicas, {provers} prover workers, cluster {}", net.cluster_id);
    for (i, addr) in net.replicas.iter().enumerate() {
        println!("  replica {i}  {addr}  data {}", dir.join(format!("replica-{i}")).display());
    }
    println!("stop with Ctrl-C");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    for child in &mut children {
        if let Some(pid) = child.id() {
            // SIGTERM: replicas shut down cleanly.
            let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
        }
    }
    for mut child in children {
        let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    }
    Ok(())
}
