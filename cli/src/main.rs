//! `nexus`: build, run and (as the network parts land) deploy and call Nexus apps.

mod local;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use nexus_cli::receipt_file::{self, ReceiptFile};
use nexus_cli::{app_build, args, keys, network, state_file};
use nexus_nvm_circuit::proof::Folding;
use nexus_replica::admin::AdminCommand;
use nexus_replica::nexus_mpc::batch::{BatchMessage, MerklePath};
use nexus_replica::{AppId, ApplyOutcome, Request, ZkState};
use nexus_wasm_host::{AppModule, CallContext, CallResult, Host, Limits, MemoryState, Outcome};

#[derive(Parser)]
#[command(name = "nexus", version, about = "Nexus: verifiable compute. Build, run and call apps.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print results as JSON (deploy, call, query, receipt), for scripts.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Build the apps of a cargo package or workspace, reproducibly: APP.wasm (Nexus tier) and APP.elf (NVM).
    Build {
        /// The app's (or workspace's) Cargo.toml.
        #[arg(long, default_value = "Cargo.toml")]
        manifest: PathBuf,
        /// Where to copy the built artifacts.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Run an app locally: a .wasm through the deterministic host the replicas use, or an .elf on the NVM.
    Run {
        /// The app: APP.wasm or APP.elf.
        app: PathBuf,
        /// The function to call. Optional for an .elf: without it the input is passed to the program raw
        /// (for programs that do not use the SDK).
        function: Option<String>,
        /// Input arguments as TYPE:VALUE literals, concatenated in order (e.g. --input u64:5).
        #[arg(long = "input", short = 'i')]
        inputs: Vec<String>,
        /// How to show the output: u64, str, bytes, hex, ... (default: hex).
        #[arg(long, default_value = "hex")]
        decode: String,
        /// The caller id as 64 hex digits (an Ed25519 public key); anonymous if absent.
        #[arg(long)]
        caller: Option<String>,
        /// Fuel for the call (default: the host's per-call limit).
        #[arg(long)]
        fuel: Option<u64>,
        /// A state file to read before and update after the call (created if missing).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Create a new app that builds for both targets (wasm32 and the NVM).
    New {
        /// The app's name; a directory of that name is created.
        name: String,
        /// Path to the nexus-sdk crate (default: the SDK of the checkout this binary was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Manage the Ed25519 keys you sign requests with.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Run one replica (a real deployment runs one per machine).
    Replica {
        #[command(subcommand)]
        command: ReplicaCommand,
    },
    /// Start a local network: N replicas as processes on loopback, data under one folder. Runs until Ctrl-C.
    Up {
        /// Where replica data, configs and logs go (default: <config dir>/local-network). Running `up` again on
        /// the same folder resumes the same network from its data.
        #[arg(long = "data")]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 4)]
        replicas: usize,
        /// Prover workers to start (processes), which prove the calls made with --zk.
        #[arg(long, default_value_t = 1)]
        provers: usize,
        /// The key allowed to add and remove replicas (created if missing).
        #[arg(long, default_value = "default")]
        admin: String,
    },
    /// Deploy an app through a replica: its .wasm, and its NVM build (the .elf `nexus build` puts next to it,
    /// found by name unless --elf or --wasm-only says otherwise), which calls made with --zk are proven on.
    /// Prints the app id.
    Deploy {
        app: PathBuf,
        /// The app's NVM build (default: APP.elf next to APP.wasm, if there is one).
        #[arg(long, conflicts_with = "wasm_only")]
        elf: Option<PathBuf>,
        /// Deploy the wasm build only: the app's calls cannot be proven.
        #[arg(long)]
        wasm_only: bool,
        /// A replica's address (default: the local network's first replica).
        #[arg(long)]
        replica: Option<String>,
        /// The key to sign with (see `nexus keys`).
        #[arg(long, default_value = "default")]
        key: String,
    },
    /// Call a function of a deployed app; waits for the certificate of its batch and prints the receipt.
    /// Exits with status 3 if the call was applied but not certified within the timeout.
    Call {
        #[command(flatten)]
        target: FunctionCall,
        #[arg(long, default_value = "default")]
        key: String,
        /// How long to wait for the certificate (0: do not wait).
        #[arg(long, default_value_t = 10)]
        certificate_timeout_secs: u64,
        /// Write the certified receipt to this file, for `nexus verify`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also prove the call (Nexus Zero tier): the network's prover workers prove its NVM run;
        /// `nexus receipt ID --zk` waits for the proof.
        #[arg(long)]
        zk: bool,
    },
    /// Fetch the receipt of a call by its id (its log index), with its certificate once there is one.
    Receipt {
        call_id: u64,
        /// Wait for the call's proof (a call made with --zk), showing the job's progress, and put the proof
        /// in the receipt file.
        #[arg(long)]
        zk: bool,
        /// With --zk: how long to wait for the proof.
        #[arg(long, default_value_t = 3600)]
        timeout_secs: u64,
        #[arg(long, default_value = "hex")]
        decode: String,
        #[arg(long)]
        replica: Option<String>,
        /// Write the certified receipt to this file, for `nexus verify` (fails if it is not certified yet).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Prover workers: prove the network's proving jobs (calls made with --zk).
    Prover {
        #[command(subcommand)]
        command: ProverCommand,
    },
    /// Ethereum: receipts in the form the bridge contracts take.
    Bridge {
        #[command(subcommand)]
        command: BridgeCommand,
    },
    /// Check offline: a certified receipt file (the receipt is in the certified batch and the group signed
    /// it), or with --program a proof file from `nexus prove` (accept or reject, with the statement).
    Verify {
        /// The receipt file (`nexus call --out` / `nexus receipt --out`) or proof file (`nexus prove`).
        file: PathBuf,
        /// The group key to trust (64 hex digits, as `nexus status` shows it). Without it, the key named in
        /// the file is used and printed, for you to compare.
        #[arg(long)]
        group_key: Option<String>,
        /// The program a proof file must be a proof of (APP.elf): verifies a proof instead of a receipt.
        #[arg(long, conflicts_with = "image_root")]
        program: Option<PathBuf>,
        /// Or the program's image root (64 hex digits, as `nexus prove` prints it): verifies a proof
        /// without the ELF, against the initial memory the proof opens.
        #[arg(long)]
        image_root: Option<String>,
    },
    /// Prove a run of an NVM program (Nexus Zero tier) to its exit and write a proof file; the
    /// co-processors it calls (Keccak-f, SHA-256 compression) are proven by chains of their own.
    Prove {
        /// The program: APP.elf.
        elf: PathBuf,
        /// The function to call (SDK apps); without it the input is passed to the program raw.
        function: Option<String>,
        /// Input arguments as TYPE:VALUE literals, concatenated in order.
        #[arg(long = "input")]
        inputs: Vec<String>,
        /// NVM steps per fold.
        #[arg(short = 'k', long, default_value_t = 64)]
        k: u64,
        /// Where to write the proof (default: the ELF's path with extension .proof).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fold the run as a tree (leaves and each level in parallel) instead of one fold after another.
        #[arg(long)]
        tree: bool,
    },
    /// A read-only call: linearizable (read index through the leader) unless --local.
    Query {
        #[command(flatten)]
        target: FunctionCall,
        /// Serve from the replica's own state without a read index: faster, possibly stale.
        #[arg(long)]
        local: bool,
    },
    /// Show the status of a replica (or of every replica of the local network).
    Status {
        #[arg(long)]
        replica: Option<String>,
    },
    /// Build the example apps and run a few calls of each through the host (the main job until the
    /// network lands).
    Demo,
}

#[derive(Subcommand)]
enum ProverCommand {
    /// Run a worker: claim tasks from the network's leader, prove them, submit them; until stopped. Any
    /// machine that reaches a replica can run one.
    Run {
        /// Replicas to find the leader through (repeat for more; any one is enough while it is up).
        #[arg(long = "replica", required = true, num_args = 1..)]
        replicas: Vec<String>,
        /// Proving threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// A name in the leader's logs (default: the process id).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum BridgeCommand {
    /// A call's receipt, its Merkle path and its batch's Ethereum certificate, as the calldata of
    /// `NexusVerifier.verifyReceipt` (hex) or as JSON fields for your own tooling.
    Export {
        /// The call id (its log index).
        call_id: u64,
        #[arg(long)]
        replica: Option<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Calldata)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    Calldata,
    Json,
}

/// What `call` and `query` address: a function of a deployed app, its input, and a replica.
#[derive(clap::Args)]
struct FunctionCall {
    /// The app id (hex).
    app: String,
    function: String,
    /// Input arguments as TYPE:VALUE literals, concatenated in order (e.g. --input u64:5).
    #[arg(long = "input", short = 'i')]
    inputs: Vec<String>,
    /// How to show the output: u64, str, bytes, hex, ...
    #[arg(long, default_value = "hex")]
    decode: String,
    /// A replica's address (default: the local network's first replica).
    #[arg(long)]
    replica: Option<String>,
}

impl FunctionCall {
    /// The app id, the encoded input, and the replica to talk to.
    fn resolve(&self) -> Result<(AppId, Vec<u8>, String)> {
        let app =
            hex::decode(&self.app).ok().and_then(|b| b.try_into().ok()).context("app id must be 64 hex digits")?;
        let input = args::encode_args(&self.inputs)?;
        let addr = network::replica_addr(self.replica.clone(), &keys::config_dir()?)?;
        Ok((AppId(app), input, addr))
    }
}

#[derive(Subcommand)]
enum ReplicaCommand {
    /// Run a replica from its config file (TOML: node_id, cluster_id, listen, data_dir, bootstrap_members,
    /// admins, snapshot_every_entries, logs_kept_after_snapshot).
    Run {
        #[arg(long)]
        config: PathBuf,
    },
    /// Add a running replica to the network: it catches up as a learner, then votes. Needs an admin key.
    Add {
        /// The new replica's node id (unique in the network).
        #[arg(long)]
        id: u64,
        /// The address the new replica serves gRPC on, as the others reach it.
        #[arg(long)]
        address: String,
        #[command(flatten)]
        admin: AdminTarget,
    },
    /// Remove a replica from the network. Needs an admin key.
    Remove {
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        admin: AdminTarget,
    },
}

/// Who asks for a membership change, and through which replica.
#[derive(clap::Args)]
struct AdminTarget {
    /// The admin key's name (listed in the replicas' `admins`).
    #[arg(long, default_value = "default")]
    key: String,
    /// A replica's address (default: the local network's first replica).
    #[arg(long)]
    replica: Option<String>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key (mode 0600, under $NEXUS_CONFIG_DIR or ~/.config/nexus) and print its public key.
    New {
        #[arg(long, default_value = "default")]
        name: String,
        /// Replace an existing key of that name.
        #[arg(long)]
        force: bool,
    },
    /// Print a key's public key (your caller id).
    Show {
        #[arg(long, default_value = "default")]
        name: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli.command, cli.json) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The cause chain, one line, without a backtrace: errors here are for users.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command, json: bool) -> Result<()> {
    match command {
        Command::Build { manifest, out } => build(&manifest, &out),
        Command::New { name, sdk } => {
            let sdk = match sdk {
                Some(path) => path,
                None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk"),
            };
            let dir = nexus_cli::scaffold::new_app(Path::new(&name), &sdk)?;
            println!("created app `{name}` in {}; build it with: cd {name} && nexus build", dir.display());
            Ok(())
        }
        Command::Run { app, function, inputs, decode, caller, fuel, state } => {
            let caller = caller.map(|hex| parse_caller(&hex)).transpose()?;
            let input = args::encode_args(&inputs)?;
            let bytes = std::fs::read(&app).with_context(|| format!("reading {}", app.display()))?;
            if bytes.starts_with(b"\x7fELF") {
                return run_nvm(&bytes, function.as_deref(), input, caller, state.as_deref(), &decode);
            }
            let function = function.context("a .wasm app needs the function to call")?;
            let host = Host::new(Limits::default())?;
            let module = host.load(&bytes).with_context(|| format!("loading {}", app.display()))?;
            let mut st = match &state {
                Some(path) => state_file::load(path)?,
                None => MemoryState::new(),
            };
            let result = call(&host, &module, &function, &input, caller, fuel, &mut st)?;
            print_result(&result, &decode);
            if let (Some(path), Outcome::Returned(_)) = (&state, &result.outcome) {
                state_file::save(path, &st)?;
            }
            if result.trap().is_some() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Keys { command } => {
            let dir = keys::config_dir()?;
            let (name, key) = match command {
                KeysCommand::New { name, force } => {
                    let key = keys::create(&dir, &name, force)?;
                    (name, key)
                }
                KeysCommand::Show { name } => {
                    let key = keys::load(&dir, &name)?;
                    (name, key)
                }
            };
            println!("{name}: {}", hex::encode(key.public()));
            Ok(())
        }
        Command::Replica { command: ReplicaCommand::Run { config } } => {
            runtime()?.block_on(local::run_replica(&config))
        }
        Command::Replica { command: ReplicaCommand::Add { id, address, admin } } => {
            membership_change(AdminCommand::AddReplica { node_id: id, address }, &admin, json)
        }
        Command::Replica { command: ReplicaCommand::Remove { id, admin } } => {
            membership_change(AdminCommand::RemoveReplica { node_id: id }, &admin, json)
        }
        Command::Up { dir, replicas, provers, admin } => {
            let dir = match dir {
                Some(dir) => dir,
                None => keys::config_dir()?.join("local-network"),
            };
            runtime()?.block_on(local::up(&dir, replicas, provers, &admin))
        }
        Command::Deploy { app, elf, wasm_only, replica, key } => {
            let module = std::fs::read(&app).with_context(|| format!("reading {}", app.display()))?;
            let elf = match (elf, wasm_only) {
                (Some(elf), _) => Some(elf),
                (None, true) => None,
                (None, false) => Some(app.with_extension("elf")).filter(|p| p.exists()),
            };
            let program = elf
                .as_ref()
                .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
                .transpose()?;
            let config_dir = keys::config_dir()?;
            let key = keys::load(&config_dir, &key)?;
            let addr = network::replica_addr(replica, &config_dir)?;
            let (outcome, index) =
                runtime()?.block_on(network::submit(&addr, &key, Request::Deploy { module, program }))?;
            match outcome {
                ApplyOutcome::Deployed { app, code_hash } => {
                    let nvm = elf.as_ref().map(|p| p.display().to_string());
                    if json {
                        let value = serde_json::json!({"app": app.to_hex(), "code_hash": code_hash.to_hex(), "log_index": index, "elf": nvm});
                        println!("{value}");
                    } else {
                        println!("deployed at log index {index}\n  app        {app}\n  code hash  {code_hash}");
                        match nvm {
                            Some(path) => println!("  NVM build  {path} (calls can be proven with --zk)"),
                            None => println!("  NVM build  none (wasm only: calls cannot be proven)"),
                        }
                    }
                    Ok(())
                }
                ApplyOutcome::Rejected(why) => bail!("deploy refused: {why}"),
                other => bail!("unexpected outcome {other:?}"),
            }
        }
        Command::Call { target, key, certificate_timeout_secs, out, zk } => {
            let (app, input, addr) = target.resolve()?;
            let key = keys::load(&keys::config_dir()?, &key)?;
            let request = Request::Call { app, function: target.function.clone(), input, zk };
            let rt = runtime()?;
            let (outcome, _) = rt.block_on(network::submit(&addr, &key, request))?;
            let receipt = match outcome {
                ApplyOutcome::Called(receipt) => receipt,
                ApplyOutcome::Rejected(why) => bail!("call refused: {why}"),
                other => bail!("unexpected outcome {other:?}"),
            };
            if certificate_timeout_secs == 0 {
                print_receipt(&receipt, &target.decode, json, None, None);
            } else {
                let timeout = std::time::Duration::from_secs(certificate_timeout_secs);
                let served = rt.block_on(network::wait_certified(&addr, receipt.call_id, timeout))?;
                print_receipt(&served.receipt, &target.decode, json, served.batch.as_ref(), served.certified.as_ref());
                write_receipt_file(out.as_deref(), served.certified.as_ref())?;
                if served.certified.is_none() {
                    eprintln!(
                        "not yet certified: call {} was applied but its batch has no certificate after {}s \
                         (fewer than the threshold of replicas signed); `nexus receipt {}` shows it once it is",
                        receipt.call_id, certificate_timeout_secs, receipt.call_id
                    );
                    std::process::exit(3);
                }
            }
            if receipt.trap.is_some() {
                std::process::exit(1);
            }
            if zk {
                let served = rt.block_on(network::receipt_with(&addr, receipt.call_id, false))?;
                match served.zk_job.map(|j| j.state) {
                    Some(ZkState::OutputsDiffer(why)) => {
                        eprintln!("not proven: the app's wasm and NVM builds disagree on this call ({why})");
                        std::process::exit(4);
                    }
                    Some(state) => eprintln!(
                        "proving job {}: {}; `nexus receipt {} --zk --out receipt.json` waits for the proof",
                        receipt.call_id,
                        zk_state_text(&state),
                        receipt.call_id
                    ),
                    None => bail!("the network recorded no proving job for call {}", receipt.call_id),
                }
            }
            Ok(())
        }
        Command::Receipt { call_id, decode, replica, out, zk, timeout_secs } => {
            let addr = network::replica_addr(replica, &keys::config_dir()?)?;
            let rt = runtime()?;
            if zk {
                return zk_receipt(&rt, &addr, call_id, (&decode, json), out.as_deref(), timeout_secs);
            }
            let served = rt.block_on(network::receipt(&addr, call_id))?;
            print_receipt(&served.receipt, &decode, json, served.batch.as_ref(), served.certified.as_ref());
            write_receipt_file(out.as_deref(), served.certified.as_ref())
        }
        Command::Prover { command: ProverCommand::Run { replicas, threads, name } } => {
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let name = name.unwrap_or_else(|| format!("pid-{}", std::process::id()));
            eprintln!("prover worker {name}: {threads} threads, network via {}", replicas.join(", "));
            let config = nexus_replica::prover::worker::WorkerConfig { replicas, threads, name };
            runtime()?.block_on(nexus_replica::prover::worker::run(config))?;
            Ok(())
        }
        Command::Verify { file, group_key: _, program: Some(program), image_root: _ } => {
            verify_proof_file(&file, ProofAgainst::Elf(&program), json)
        }
        Command::Verify { file, group_key: _, program: None, image_root: Some(root) } => {
            verify_proof_file(&file, ProofAgainst::ImageRoot(&root), json)
        }
        Command::Verify { file, group_key, program: None, image_root: None } => {
            verify_receipt_file(&file, group_key.as_deref(), json)
        }
        Command::Prove { elf, function, inputs, k, out, tree } => {
            let input = nvm_input(function.as_deref(), args::encode_args(&inputs)?, None, &MemoryState::new())?;
            let out = out.unwrap_or_else(|| elf.with_extension("proof"));
            let folding = if tree { Folding::Tree } else { Folding::Sequential };
            prove_elf(&elf, &input, (k, folding), &out, json)
        }
        Command::Bridge { command: BridgeCommand::Export { call_id, replica, format, out } } => {
            let addr = network::replica_addr(replica, &keys::config_dir()?)?;
            let served = runtime()?.block_on(network::receipt(&addr, call_id))?;
            let text = bridge_export(served, format)?;
            match out {
                Some(path) => std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display())),
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
        }
        Command::Query { target, local } => {
            let (app, input, addr) = target.resolve()?;
            let (function, decode) = (&target.function, &target.decode);
            let (result, applied) = runtime()?.block_on(network::query(&addr, &app, function, &input, local))?;
            let shown = result.output().map(|out| args::decode_as(decode, out).unwrap_or_else(|_| hex::encode(out)));
            if json {
                let value = serde_json::json!({
                    "applied_index": applied,
                    "output": result.output().map(hex::encode),
                    "decoded": shown,
                    "trap": result.trap().map(|t| t.to_string()),
                    "fuel_used": result.fuel_used,
                    "stale_possible": local,
                });
                println!("{value}");
            } else {
                match (&shown, result.trap()) {
                    (Some(shown), _) => println!("  output     {shown}"),
                    (None, Some(trap)) => println!("  trapped    {trap}"),
                    (None, None) => {}
                }
                let freshness = if local { "local read, may be stale" } else { "linearizable" };
                println!("  fuel used  {}\n  at index   {applied} ({freshness})", result.fuel_used);
            }
            Ok(())
        }
        Command::Status { replica } => {
            let config_dir = keys::config_dir()?;
            let addrs = match replica {
                Some(addr) => vec![addr],
                None => {
                    let path = config_dir.join("network.toml");
                    let net: network::LocalNetwork =
                        network::read_toml(&path).map_err(|_| network::NetworkError::NoReplica)?;
                    net.replicas
                }
            };
            let rt = runtime()?;
            if json {
                let statuses: Vec<_> = addrs
                    .iter()
                    .map(|addr| match rt.block_on(network::status(addr)) {
                        Ok(s) => serde_json::json!({
                            "address": addr,
                            "node_id": s.node_id,
                            "leader_id": s.leader_id,
                            "term": s.term,
                            "applied_index": s.applied_index,
                            "last_log_index": s.last_log_index,
                            "snapshot_index": s.snapshot_index,
                            "purged_index": s.purged_index,
                            "group_key": hex::encode(&s.group_key),
                            "key_epoch": s.key_epoch,
                            "threshold": s.threshold,
                            "certification": s.certification,
                            "certified_index": s.certified_index,
                            "evm_group_key": hex::encode(&s.evm_group_key),
                            "evm_chain_id": s.evm_chain_id,
                            "evm_certified_index": s.evm_certified_index,
                            "state_root": hex::encode(&s.state_root),
                            "cluster_id": hex::encode(&s.cluster_id),
                            "members": s.members.iter().map(|m| serde_json::json!({
                                "node_id": m.node_id, "address": m.address, "voter": m.voter,
                            })).collect::<Vec<_>>(),
                        }),
                        Err(e) => serde_json::json!({"address": addr, "error": e.to_string()}),
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(statuses));
                return Ok(());
            }
            for addr in addrs {
                match rt.block_on(network::status(&addr)) {
                    Ok(s) => {
                        println!(
                            "replica {} at {addr}: leader {}, term {}, applied {}, state root {}, {} members",
                            s.node_id,
                            s.leader_id.map_or("none".into(), |l| l.to_string()),
                            s.term,
                            s.applied_index,
                            hex::encode(&s.state_root),
                            s.members.len()
                        );
                        if s.group_key.is_empty() {
                            println!("  certification: {}", s.certification);
                        } else {
                            println!(
                                "  group key {} (epoch {}, {}-of-{}), certified to {}; {}",
                                hex::encode(&s.group_key),
                                s.key_epoch,
                                s.threshold,
                                s.members.iter().filter(|m| m.voter).count(),
                                s.certified_index,
                                s.certification
                            );
                        }
                        if !s.evm_group_key.is_empty() {
                            println!(
                                "  ethereum key {} (chain {}), certified to {}",
                                hex::encode(&s.evm_group_key),
                                s.evm_chain_id,
                                s.evm_certified_index
                            );
                        }
                    }
                    Err(e) => println!("{e}"),
                }
            }
            Ok(())
        }
        Command::Demo => demo(),
    }
}

fn membership_change(command: AdminCommand, admin: &AdminTarget, json: bool) -> Result<()> {
    let config_dir = keys::config_dir()?;
    let key = keys::load(&config_dir, &admin.key)?;
    let addr = network::replica_addr(admin.replica.clone(), &config_dir)?;
    let reply = runtime()?.block_on(network::admin(&addr, &key, command))?;
    if json {
        let members: Vec<_> = reply
            .members
            .iter()
            .map(|m| serde_json::json!({"node_id": m.node_id, "address": m.address, "voter": m.voter}))
            .collect();
        println!("{}", serde_json::json!({ "members": members }));
    } else {
        println!("membership changed; members now:");
        for m in &reply.members {
            println!("  replica {}  {}{}", m.node_id, m.address, if m.voter { "" } else { "  (learner)" });
        }
    }
    Ok(())
}

/// A sealed batch as `nexus receipt` shows it: the batch message and the (already checked) Merkle path.
type SealedBatch = (BatchMessage, MerklePath);

/// `nexus bridge export`: the receipt proof with the batch's Ethereum certificate, as calldata or JSON.
fn bridge_export(served: network::ServedReceipt, format: ExportFormat) -> Result<String> {
    use nexus_replica::nexus_mpc::certificate::ReceiptProof;
    let call_id = served.receipt.call_id;
    let Some((_, path)) = served.batch else { bail!("call {call_id} is not sealed yet; try again in a moment") };
    let Some(certificate) = served.evm_certificate else {
        bail!(
            "call {call_id}'s batch has no Ethereum certificate (yet): the replicas certify for Ethereum only with \
             `evm_chain_id` in their config, and a certificate takes a moment after the seal"
        )
    };
    let proof = ReceiptProof { log_index: call_id, receipt: served.receipt_bytes, path, certificate };
    let calldata = nexus_bridge::ReceiptCalldata::from_proof(&proof)?;
    let encoded = format!("0x{}", hex::encode(calldata.verify_receipt_call()));
    if format == ExportFormat::Calldata {
        return Ok(encoded);
    }
    let m = &proof.certificate.message;
    let (c, hex0x) = (&calldata.certificate, |b: &[u8]| format!("0x{}", hex::encode(b)));
    Ok(serde_json::to_string_pretty(&serde_json::json!({
        "function": "verifyReceipt((bytes32,uint64,uint64,uint64,uint64,bytes32,bytes32),(uint256,uint8),(uint256,uint256,uint256)),uint64,bytes,(uint64,uint64,bytes32[]))",
        "certificate": {
            "batch": {
                "clusterId": hex0x(&m.cluster_id),
                "chainId": m.chain_id,
                "keyEpoch": m.key_epoch,
                "firstIndex": m.first_index,
                "lastIndex": m.last_index,
                "receiptsRoot": hex0x(&m.receipts_root),
                "stateRoot": hex0x(&m.state_root),
            },
            "key": { "x": c.key.x.to_string(), "yParity": c.key.yParity },
            "signature": { "rx": c.signature.rx.to_string(), "ry": c.signature.ry.to_string(), "z": c.signature.z.to_string() },
        },
        "logIndex": call_id,
        "receipt": hex0x(&proof.receipt),
        "path": {
            "leafIndex": proof.path.leaf_index,
            "leafCount": proof.path.leaf_count,
            "siblings": proof.path.siblings.iter().map(|s| hex0x(s)).collect::<Vec<_>>(),
        },
        "calldata": encoded,
    }))?)
}

/// Writes the certified receipt to `out`, if asked; an uncertified receipt cannot be written.
fn write_receipt_file(out: Option<&Path>, certified: Option<&ReceiptFile>) -> Result<()> {
    let Some(out) = out else { return Ok(()) };
    let Some(file) = certified else { bail!("not writing {}: the receipt is not certified yet", out.display()) };
    std::fs::write(out, serde_json::to_string_pretty(file)? + "\n")
        .with_context(|| format!("writing {}", out.display()))
}

/// A job state in words.
fn zk_state_text(state: &ZkState) -> String {
    match state {
        ZkState::Proving => "proving".into(),
        ZkState::Proven { proof_bytes, .. } => format!("proven ({proof_bytes} bytes)"),
        ZkState::OutputsDiffer(why) => format!("outputs differ: {why}"),
        ZkState::Failed(why) => format!("failed: {why}"),
    }
}

/// `nexus receipt ID --zk`: waits for the call's proving job with a progress line (tasks done / total, ETA),
/// then fetches the certified receipt with its proof, checks the proof as `nexus verify` does, and writes the
/// receipt file. Exits 4 if the job ended without a proof (outputs differ, failed).
fn zk_receipt(
    rt: &tokio::runtime::Runtime,
    addr: &str,
    call_id: u64,
    (decode, json): (&str, bool),
    out: Option<&Path>,
    timeout_secs: u64,
) -> Result<()> {
    use std::io::IsTerminal;
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs(timeout_secs);
    // On a terminal the progress line redraws itself; in a log, a line per task done.
    let terminal = std::io::stderr().is_terminal();
    let mut shown = u64::MAX;
    let state = loop {
        let served = rt.block_on(network::receipt_with(addr, call_id, false))?;
        let job =
            served.zk_job.with_context(|| format!("call {call_id} was not made with --zk: it has no proving job"))?;
        if job.state.is_final() {
            break job.state;
        }
        if let Ok(status) = rt.block_on(network::job_status(addr, call_id))
            && status.tasks_total > 0
        {
            let (done, total) = (status.tasks_done, status.tasks_total);
            let eta = match done {
                0 => "?".to_string(),
                _ => format!("{:.0} s", status.elapsed_ms as f64 / done as f64 * (total - done) as f64 / 1e3),
            };
            let line = format!("  proving    {done}/{total} tasks  {:>3}%  ETA {eta}", 100 * done / total);
            if terminal {
                eprint!("\r{line}   ");
            } else if done != shown {
                eprintln!("{line}");
            }
            shown = done;
        }
        if Instant::now() > deadline {
            eprintln!();
            bail!("call {call_id} is not proven after {timeout_secs} s (still proving)");
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    if terminal {
        eprintln!();
    }
    if !matches!(state, ZkState::Proven { .. }) {
        eprintln!("call {call_id}: {}", zk_state_text(&state));
        std::process::exit(4);
    }
    rt.block_on(network::wait_certified(addr, call_id, std::time::Duration::from_secs(30)))?;
    let served = rt.block_on(network::receipt_with(addr, call_id, true))?;
    let mut file = served.certified.clone().context("the call's batch is not certified yet; try again shortly")?;
    let proof = served.proof.context("no replica served the proof")?;
    file.proof = Some(hex::encode(&proof));
    let proven = file.verify_proof(None).context("the network's proof does not verify")?;
    print_receipt(&served.receipt, decode, json, served.batch.as_ref(), Some(&file));
    print_proven(&proven, json);
    if !json {
        println!("  waited     {:.1} s", started.elapsed().as_secs_f64());
    }
    write_receipt_file(out, Some(&file))
}

fn print_proven(proven: &receipt_file::ProvenCall, json: bool) {
    let s = &proven.statement;
    if json {
        let value = serde_json::json!({
            "proven": true,
            "program": hex::encode(proven.claim.program_digest),
            "image_root": hex::encode(s.image_root),
            "nvm_input_digest": hex::encode(s.input_digest),
            "steps": s.steps,
            "proof_bytes": proven.proof_bytes,
        });
        println!("{value}");
    } else {
        println!("  proven     NVM proof checked ({} bytes, {} steps)", proven.proof_bytes, s.steps);
        println!("  program    {}", hex::encode(proven.claim.program_digest));
        println!("  image root {}", hex::encode(s.image_root));
    }
}

/// `nexus verify FILE`: accept (exit 0) with what was verified, or reject (exit 1) with the reason.
fn verify_receipt_file(path: &Path, group_key: Option<&str>, json: bool) -> Result<()> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > receipt_file::MAX_RECEIPT_FILE_BYTES {
        bail!("{} is {size} bytes; a receipt file is at most {}", path.display(), receipt_file::MAX_RECEIPT_FILE_BYTES);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // A file with a proof: the certificate, then the proof against what the certificate covers.
    let verdict = ReceiptFile::parse(&text).and_then(|file| match file.proof {
        Some(_) => file.verify_proof(group_key).map(|proven| (file, proven.receipt.clone(), Some(proven))),
        None => file.verify(group_key).map(|receipt| (file, receipt, None)),
    });
    match verdict {
        Ok((file, receipt, proven)) => {
            let c = &file.certificate;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"valid": true, "call_id": receipt.call_id, "group_key": c.group_key,
                        "key_epoch": c.key_epoch, "batch": [c.first_index, c.last_index],
                        "output": file.receipt.output, "trap": file.receipt.trap, "proven": proven.is_some()})
                );
            } else {
                println!("valid: call {} is certified", receipt.call_id);
                println!("  batch      log {}..={}, key epoch {}", c.first_index, c.last_index, c.key_epoch);
                let trust = if group_key.is_some() {
                    "the key you gave"
                } else {
                    "named in the file; compare it with the key you trust"
                };
                println!("  group key  {} ({trust})", c.group_key);
                match (&file.receipt.output, &file.receipt.trap) {
                    (Some(output), _) => println!("  output     0x{output}"),
                    (None, Some(trap)) => println!("  trapped    {trap}"),
                    (None, None) => {}
                }
                if let Some(proven) = &proven {
                    print_proven(proven, false);
                }
            }
            Ok(())
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({"valid": false, "error": e.to_string()}));
            } else {
                eprintln!("invalid: {e}");
            }
            std::process::exit(1);
        }
    }
}

fn print_receipt(
    receipt: &nexus_replica::Receipt,
    decode: &str,
    json: bool,
    batch: Option<&SealedBatch>,
    certified: Option<&ReceiptFile>,
) {
    let shown = receipt.output.as_ref().map(|out| args::decode_as(decode, out).unwrap_or_else(|_| hex::encode(out)));
    if json {
        let value = serde_json::json!({
            "call_id": receipt.call_id,
            "app": receipt.app.to_hex(),
            "function": receipt.function,
            "caller": hex::encode(receipt.caller),
            "input_digest": hex::encode(receipt.input_digest),
            "output": receipt.output.as_ref().map(hex::encode),
            "decoded": shown,
            "trap": receipt.trap.as_ref().map(|t| t.to_string()),
            "fuel_used": receipt.fuel_used,
            "state_root": hex::encode(receipt.state_root),
            "batch": batch.map(|(message, path)| serde_json::json!({
                "first_index": message.first_index,
                "last_index": message.last_index,
                "key_epoch": message.key_epoch,
                "receipts_root": hex::encode(message.receipts_root),
                "state_root": hex::encode(message.state_root),
                "path": path.siblings.iter().map(hex::encode).collect::<Vec<_>>(),
                "leaf_index": path.leaf_index,
                "leaf_count": path.leaf_count,
            })),
            "certificate": certified.map(|f| &f.certificate),
        });
        println!("{value}");
        return;
    }
    println!("  call id    {}", receipt.call_id);
    match (&shown, &receipt.trap) {
        (Some(shown), _) => println!("  output     {shown}"),
        (None, Some(trap)) => println!("  trapped    {trap}"),
        (None, None) => {}
    }
    println!("  fuel used  {}\n  state root {}", receipt.fuel_used, hex::encode(receipt.state_root));
    if let Some((message, path)) = batch {
        println!(
            "  batch      log {}..={}, receipts root {} (receipt {} of {}, Merkle path checked)",
            message.first_index,
            message.last_index,
            hex::encode(message.receipts_root),
            path.leaf_index + 1,
            path.leaf_count
        );
    }
    match certified {
        Some(file) => println!(
            "  certified  by group key {} (epoch {}), signature checked",
            file.certificate.group_key, file.certificate.key_epoch
        ),
        None => println!("  certified  not yet"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn build(manifest: &Path, out: &Path) -> Result<()> {
    let root = manifest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let target = app_build::default_target_dir(root);
    let apps = app_build::build_apps(manifest, &target)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    println!("{:<12} {:>9}  {:<64}  path", "app", "bytes", "sha256");
    for app in apps {
        let artifacts = std::iter::once((&app.wasm, "wasm")).chain(app.elf.as_ref().map(|elf| (elf, "elf")));
        for (path, extension) in artifacts {
            let dest = out.join(format!("{}.{extension}", app.name));
            std::fs::copy(path, &dest).with_context(|| format!("copying to {}", dest.display()))?;
            let bytes = std::fs::read(&dest)?;
            let hash = nexus_wasm_host::CodeHash::of(&bytes);
            println!("{:<12} {:>9}  {}  {}", app.name, bytes.len(), hash, dest.display());
        }
    }
    Ok(())
}

/// Runs an ELF on the NVM. With a function, the input is wrapped in the SDK's call envelope (with the
/// state file's contents as the state) and the envelope's result is decoded; without, it is passed raw.
/// What an NVM run reads on fd 0: the SDK's call envelope when a function is named (with the state the
/// call may read), the raw input otherwise.
fn nvm_input(function: Option<&str>, input: Vec<u8>, caller: Option<[u8; 32]>, state: &MemoryState) -> Result<Vec<u8>> {
    use nexus_sdk::nvm_envelope::NvmCall;
    Ok(match function {
        Some(function) => postcard::to_allocvec(&NvmCall::new(
            function,
            caller,
            input,
            state.iter().map(|(k, v)| (k.clone(), v.clone())),
        ))?,
        None => input,
    })
}

/// `nexus prove`: set up the parameters for k and the folding, prove with a progress line (folds done,
/// ETA) on stderr, write the proof file, print the statement.
fn prove_elf(elf: &Path, input: &[u8], (k, folding): (u64, Folding), out: &Path, json: bool) -> Result<()> {
    use nexus_nvm_circuit::proof::{NvmParams, prove};
    let program =
        nexus_vm::Program::from_elf(&std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?)?;
    let started = Instant::now();
    let params = NvmParams::new(k, folding)?;
    let setup = started.elapsed();
    let proving = Instant::now();
    let proof = prove(&params, &program, input, |done, total| {
        let per_fold = proving.elapsed().as_secs_f64() / done as f64;
        let eta = per_fold * (total - done) as f64;
        eprint!("\r  proving    fold {done}/{total}  {:>3}%  ETA {eta:.0} s   ", 100 * done / total);
    })?;
    eprintln!();
    let bytes = proof.to_bytes()?;
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let statement = nexus_nvm_circuit::proof::verify(&params, &program, &proof)?;
    if json {
        let mut value = statement_json(&statement, &proof.output);
        value["proof"] = out.display().to_string().into();
        value["k"] = k.into();
        value["tree"] = (folding == Folding::Tree).into();
        value["proof_bytes"] = bytes.len().into();
        value["setup_ms"] = (setup.as_millis() as u64).into();
        value["prove_ms"] = (proving.elapsed().as_millis() as u64).into();
        println!("{value}");
    } else {
        println!("  proof      {} ({} bytes)", out.display(), bytes.len());
        print_statement(&statement, &proof.output);
        println!("  time       setup {:.1} s, proving {:.1} s", setup.as_secs_f64(), proving.elapsed().as_secs_f64());
    }
    Ok(())
}

fn print_statement(s: &nexus_nvm_circuit::verify::Statement, output: &[u8]) {
    use nexus_sdk::nvm_envelope::NvmReturn;
    if let Some(digest) = s.program_digest {
        println!("  program    {}", hex::encode(digest));
    }
    println!("  image root {}", hex::encode(s.image_root));
    println!("  input      sha256 {}", hex::encode(s.input_digest));
    println!("  output     sha256 {} ({} bytes)", hex::encode(s.output_digest), output.len());
    // An SDK app's output is its result envelope; show the call's own output from it.
    match postcard::from_bytes::<NvmReturn>(output) {
        Ok(ret) if s.exit_code == 0 => println!("  returned   0x{}", hex::encode(&ret.output)),
        _ if output.len() <= 64 => println!("  bytes      0x{}", hex::encode(output)),
        _ => println!("  bytes      0x{}…", hex::encode(&output[..64])),
    }
    println!("  exit code  {}", s.exit_code);
    println!("  steps      {}", s.steps);
}

/// The statement as JSON fields.
fn statement_json(s: &nexus_nvm_circuit::verify::Statement, output: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "program": s.program_digest.map(hex::encode),
        "image_root": hex::encode(s.image_root),
        "input_digest": hex::encode(s.input_digest),
        "output_digest": hex::encode(s.output_digest),
        "output": hex::encode(output),
        "exit_code": s.exit_code,
        "steps": s.steps,
    })
}

/// What a proof file is verified against.
enum ProofAgainst<'a> {
    /// The program's ELF.
    Elf(&'a Path),
    /// The program's image root, in hex.
    ImageRoot(&'a str),
}

/// `nexus verify PROOF --program APP.elf` (or `--image-root HEX`): accept (exit 0) with the
/// statement, or reject (exit 1) with the reason; a file that is not a proof is an error.
fn verify_proof_file(file: &Path, against: ProofAgainst<'_>, json: bool) -> Result<()> {
    use nexus_nvm_circuit::proof::{NvmParams, NvmProof, verify, verify_image};
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let proof = NvmProof::from_bytes(&bytes).with_context(|| format!("{} is not a proof file", file.display()))?;
    let folding = proof.folding().context("the proof file holds no single folding proof")?;
    let params = NvmParams::new(proof.k, folding)?;
    let verdict = match against {
        ProofAgainst::Elf(elf) => {
            let program = nexus_vm::Program::from_elf(
                &std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?,
            )?;
            verify(&params, &program, &proof)
        }
        ProofAgainst::ImageRoot(hex_root) => {
            let bytes: [u8; 32] = hex::decode(hex_root)
                .ok()
                .and_then(|b| b.try_into().ok())
                .context("the image root must be 64 hex digits")?;
            let root =
                nexus_nvm_circuit::image::fr_from_bytes(&bytes).context("the image root is not a field element")?;
            verify_image(&params, root, &proof)
        }
    };
    match verdict {
        Ok(statement) => {
            if json {
                let mut value = statement_json(&statement, &proof.output);
                value["accept"] = true.into();
                value["tree"] = (folding == Folding::Tree).into();
                println!("{value}");
            } else {
                println!("accept");
                print_statement(&statement, &proof.output);
            }
            Ok(())
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({ "accept": false, "reason": e.to_string() }));
            } else {
                println!("reject: {e}");
            }
            std::process::exit(1);
        }
    }
}

fn run_nvm(
    elf: &[u8],
    function: Option<&str>,
    input: Vec<u8>,
    caller: Option<[u8; 32]>,
    state_path: Option<&Path>,
    decode: &str,
) -> Result<()> {
    use nexus_sdk::nvm_envelope::NvmReturn;
    let program = nexus_vm::Program::from_elf(elf)?;
    let mut state = match state_path {
        Some(path) => state_file::load(path)?,
        None => MemoryState::new(),
    };
    let envelope = nvm_input(function, input, caller, &state)?;
    let vm = nexus_vm::Vm::new(&program, &envelope, nexus_vm::VmConfig::default())?;
    let started = Instant::now();
    let result = vm.run_fast()?;
    let elapsed = started.elapsed();
    println!("  program    {}", hex::encode(program.digest()));
    println!("  exit code  {}", result.exit_code);
    match (function, result.exit_code) {
        (Some(_), 0) => {
            let ret: NvmReturn =
                postcard::from_bytes(&result.output).context("the program's output is not an SDK result")?;
            match args::decode_as(decode, &ret.output) {
                Ok(shown) => println!("  output     {shown}"),
                Err(e) => println!("  output     0x{} ({e})", hex::encode(&ret.output)),
            }
            let writes = ret.plain_writes();
            for (key, value) in &writes {
                let shown = value.as_ref().map_or("(deleted)".to_string(), |v| format!("0x{}", hex::encode(v)));
                println!("  write      {} = {shown}", show_key(key));
            }
            if let Some(path) = state_path {
                state.apply(&writes.into_iter().collect());
                state_file::save(path, &state)?;
            }
        }
        _ => println!("  output     0x{}", hex::encode(&result.output)),
    }
    for line in String::from_utf8_lossy(&result.log).lines() {
        println!("  log        {line}");
    }
    let speed = result.steps as f64 / elapsed.as_secs_f64().max(1e-9);
    println!("  steps      {} in {elapsed:.2?} ({:.1} M instructions/s)", result.steps, speed / 1e6);
    if result.exit_code != 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn parse_caller(hex_id: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(hex_id).context("--caller must be hex")?;
    bytes.try_into().map_err(|b: Vec<u8>| anyhow::anyhow!("--caller must be 32 bytes, got {}", b.len()))
}

/// Runs one call against `state` and applies its writes if it returned.
fn call(
    host: &Host,
    module: &AppModule,
    function: &str,
    input: &[u8],
    caller: Option<[u8; 32]>,
    fuel: Option<u64>,
    state: &mut MemoryState,
) -> Result<CallResult> {
    let ctx = CallContext { caller, fuel_limit: fuel };
    let started = Instant::now();
    let result = host.call(module, function, input, &ctx, Arc::new(state.clone()))?;
    let elapsed = started.elapsed();
    state.apply(&result.writes);
    println!("  time       {elapsed:.2?}");
    Ok(result)
}

fn print_result(result: &CallResult, decode: &str) {
    match &result.outcome {
        Outcome::Returned(out) => match args::decode_as(decode, out) {
            Ok(shown) => println!("  output     {shown}"),
            Err(e) => println!("  output     0x{} ({e})", hex::encode(out)),
        },
        Outcome::Trapped(trap) => println!("  trapped    {trap}"),
    }
    println!("  fuel used  {}", result.fuel_used);
    if result.writes.is_empty() {
        println!("  writes     none");
    }
    for (key, value) in result.writes.iter() {
        let value = value.as_ref().map_or("(deleted)".to_string(), |v| format!("0x{}", hex::encode(v)));
        println!("  write      {} = {value}", show_key(key));
    }
    for line in &result.logs {
        println!("  log        {line}");
    }
}

fn show_key(key: &[u8]) -> String {
    let printable = key.iter().take_while(|b| b.is_ascii_graphic()).count();
    let (text, rest) = key.split_at(printable);
    let text = String::from_utf8_lossy(text);
    if rest.is_empty() { format!("\"{text}\"") } else { format!("\"{text}\"+0x{}", hex::encode(rest)) }
}

/// The repository's example apps, found from where this binary was built.
fn repo_apps_manifest() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/Cargo.toml");
    if !manifest.exists() {
        bail!("the example apps are not at {}; run `nexus demo` from a checkout of the repository", manifest.display());
    }
    Ok(manifest)
}

/// (app, function, arguments, caller, how to show the output)
type DemoStep<'a> = (&'a str, &'a str, &'a [&'a str], Option<[u8; 32]>, &'a str);

fn demo() -> Result<()> {
    let manifest = repo_apps_manifest()?;
    let root = manifest.parent().and_then(Path::parent).unwrap_or(Path::new("."));
    println!("building the example apps for wasm32 ...");
    let apps = app_build::build_apps(&manifest, &app_build::default_target_dir(root))?;
    let host = Host::new(Limits::default())?;
    let alice = [0xa1; 32];
    let bob = [0xb0; 32];
    let steps: &[DemoStep] = &[
        ("counter", "increment", &["u64:5"], None, "u64"),
        ("counter", "increment", &["u64:2"], None, "u64"),
        ("counter", "get", &[], None, "u64"),
        ("fibonacci", "fib", &["u64:90"], None, "u64"),
        ("sha256", "digest", &["str:hello nexus"], None, "hex"),
        ("ledger", "init", &["u64:1000"], Some(alice), "hex"),
        ("ledger", "transfer", &[&format!("hex:{}", hex::encode(bob)), "u64:250"], Some(alice), "u64"),
        ("ledger", "transfer", &[&format!("hex:{}", hex::encode(alice)), "u64:9999"], Some(bob), "u64"),
        ("ledger", "balance_of", &[&format!("hex:{}", hex::encode(bob))], None, "u64"),
    ];
    let mut states: std::collections::BTreeMap<&str, MemoryState> = Default::default();
    for (app_name, function, inputs, caller, decode) in steps {
        let app = apps.iter().find(|a| a.name == *app_name).with_context(|| format!("app {app_name} not built"))?;
        let bytes = std::fs::read(&app.wasm)?;
        let started = Instant::now();
        let module = host.load(&bytes)?;
        let load_time = started.elapsed();
        println!(
            "\n{app_name}::{function}({}){}",
            inputs.join(", "),
            match caller {
                Some(c) => format!(" as {}..", hex::encode(&c[..4])),
                None => String::new(),
            }
        );
        println!("  module     {} ({} bytes, loaded in {load_time:.2?})", module.code_hash(), bytes.len());
        let input = args::encode_args(inputs)?;
        let state = states.entry(app_name).or_default();
        let result = call(&host, &module, function, &input, *caller, None, state)?;
        print_result(&result, decode);
    }
    Ok(())
}
