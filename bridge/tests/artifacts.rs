//! The committed artifacts are exactly what the pinned compiler makes of the committed sources, and the Rust
//! bindings name what the compiled contracts have.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use nexus_bridge::abi::{FrostSecp256k1Verifier, NexusConsumer, NexusVerifier};
use nexus_bridge::artifacts;

fn bridge_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("cannot run {command:?}: {e} (is node installed?)"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_committed_artifacts_are_what_the_pinned_solc_makes_of_the_sources() {
    let solc = bridge_dir().join("solc");
    if !solc.join("node_modules").join("solc").exists() {
        // A fresh checkout (scripts/setup.sh does this too): the lock file pins solc and its dependencies.
        run(Command::new("npm").args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix"]).arg(&solc))
            .expect("installing the pinned solc");
    }
    let out = tempfile::tempdir().expect("temporary directory");
    run(Command::new("node").arg(solc.join("compile.js")).arg("--out").arg(out.path())).expect("compiling");
    let committed = bridge_dir().join("artifacts");
    assert_eq!(files(out.path()), files(&committed), "the set of artifacts differs: run node bridge/solc/compile.js");
    for name in files(&committed) {
        let fresh = std::fs::read(out.path().join(&name)).expect("fresh artifact");
        let kept = std::fs::read(committed.join(&name)).expect("committed artifact");
        assert!(fresh == kept, "artifacts/{name} differs from a fresh compile: run node bridge/solc/compile.js");
    }
}

/// The canonical type of an ABI JSON parameter ("tuple" spelled out as its components).
fn canonical_type(param: &serde_json::Value) -> String {
    let ty = param["type"].as_str().expect("parameter type");
    match ty.strip_prefix("tuple") {
        Some(suffix) => {
            let components: Vec<String> =
                param["components"].as_array().expect("tuple components").iter().map(canonical_type).collect();
            format!("({}){suffix}", components.join(","))
        }
        None => ty.to_string(),
    }
}

/// Every function, error and event signature in an ABI JSON, by kind.
fn signatures(abi_json: &str) -> BTreeSet<String> {
    let abi: serde_json::Value = serde_json::from_str(abi_json).expect("ABI JSON");
    abi.as_array()
        .expect("ABI array")
        .iter()
        .filter(|item| matches!(item["type"].as_str(), Some("function" | "error" | "event")))
        .map(|item| {
            let inputs: Vec<String> = item["inputs"].as_array().expect("inputs").iter().map(canonical_type).collect();
            format!(
                "{} {}({})",
                item["type"].as_str().unwrap_or(""),
                item["name"].as_str().unwrap_or(""),
                inputs.join(",")
            )
        })
        .collect()
}

#[track_caller]
fn assert_all_in(kind: &str, ours: &[&str], compiled: &BTreeSet<String>, contract: &str) {
    for signature in ours {
        let key = format!("{kind} {signature}");
        assert!(compiled.contains(&key), "{contract}: the binding's {key} is not in the compiled ABI: {compiled:#?}");
    }
}

#[test]
fn the_rust_bindings_match_the_compiled_abi() {
    let verifier = signatures(artifacts::NEXUS_VERIFIER.abi_json);
    assert_all_in("function", NexusVerifier::NexusVerifierCalls::SIGNATURES, &verifier, "NexusVerifier");
    assert_all_in("error", NexusVerifier::NexusVerifierErrors::SIGNATURES, &verifier, "NexusVerifier");
    assert_all_in("event", NexusVerifier::NexusVerifierEvents::SIGNATURES, &verifier, "NexusVerifier");
    let consumer = signatures(artifacts::NEXUS_CONSUMER.abi_json);
    assert_all_in("function", NexusConsumer::NexusConsumerCalls::SIGNATURES, &consumer, "NexusConsumer");
    assert_all_in("event", NexusConsumer::NexusConsumerEvents::SIGNATURES, &consumer, "NexusConsumer");
    // The consumer's own errors and the receipt parser's; the verifier's reach callers through it unchanged.
    assert_all_in("error", NexusConsumer::NexusConsumerErrors::SIGNATURES, &consumer, "NexusConsumer");
    let frost = signatures(artifacts::FROST_VERIFIER.abi_json);
    assert_all_in("function", FrostSecp256k1Verifier::FrostSecp256k1VerifierCalls::SIGNATURES, &frost, "Frost");
    // Every committed artifact decodes.
    for artifact in artifacts::ALL {
        assert!(!artifact.creation_code().expect("creation code").is_empty(), "{}", artifact.name);
        assert!(!artifact.runtime_code().expect("runtime code").is_empty(), "{}", artifact.name);
    }
}

#[test]
fn a_deployment_leaves_exactly_the_committed_runtime_code() {
    use nexus_bridge::harness::Chain;
    let mut chain = Chain::default();
    // Any usable key: the generator's x-coordinate with its parity (G itself), compressed.
    let g = hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798").expect("hex");
    let code = nexus_bridge::calldata::verifier_deployment([1; 32], &g, 1).expect("deployment data");
    let (verifier, _) = chain.deploy(code).expect("deploys");
    let deployed = chain.code(verifier).expect("code at the address");
    let mut expected = artifacts::NEXUS_VERIFIER.runtime_code().expect("runtime code");
    // The immutable cluster id is filled in at deployment: compare everywhere else, and find it where it was.
    assert_eq!(deployed.len(), expected.len());
    let placeholder_at = (0..expected.len().saturating_sub(31))
        .filter(|&i| deployed[i..i + 32] == [1u8; 32] && expected[i..i + 32] == [0u8; 32])
        .collect::<Vec<_>>();
    assert!(!placeholder_at.is_empty(), "the cluster id is embedded in the code");
    for i in placeholder_at {
        expected[i..i + 32].copy_from_slice(&[1u8; 32]);
    }
    assert_eq!(deployed.as_ref(), expected.as_slice());
}
