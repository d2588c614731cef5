//! Building apps for their targets, reproducibly.
//!
//! An app is a cargo package (or a workspace of them) that depends on `nexus-sdk`. Building runs cargo for
//! `wasm32-unknown-unknown` with the release profile and flags that make the output independent of where the
//! source and the cargo registry sit on disk (`--remap-path-prefix`): the same source and toolchain give the
//! same bytes on every machine, so anyone can check that a deployed module is built from the source it claims.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The wasm target of the Nexus tier.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("could not run cargo: {0}")]
    Spawn(std::io::Error),
    #[error("cargo build for {target} failed (exit status {status}); its messages are above")]
    Failed { target: &'static str, status: std::process::ExitStatus },
    #[error("cargo printed a message that is not JSON: {0}")]
    Message(serde_json::Error),
    #[error("the build produced no {target} artifact; does the package have `crate-type = [\"cdylib\"]`?")]
    NoArtifacts { target: &'static str },
    #[error("could not read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// One built app: its package name and the path of each artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltApp {
    pub name: String,
    pub wasm: PathBuf,
}

/// Builds every app in the cargo manifest `manifest` (a package or a workspace) into `target_dir`.
pub fn build_apps(manifest: &Path, target_dir: &Path) -> Result<Vec<BuiltApp>, BuildError> {
    let wasm = cargo_build(manifest, target_dir, WASM_TARGET, &["--lib"], "wasm")?;
    Ok(wasm.into_iter().map(|(name, wasm)| BuiltApp { name, wasm }).collect())
}

/// The directory a workspace's apps are built in by default: beside the workspace's own build output.
pub fn default_target_dir(workspace_root: &Path) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root.join("target"));
    base.join("nexus-apps")
}

/// Runs cargo and collects (package name → artifact path) for artifacts whose file name ends in `extension`.
fn cargo_build(
    manifest: &Path,
    target_dir: &Path,
    target: &'static str,
    selection: &[&str],
    extension: &str,
) -> Result<BTreeMap<String, PathBuf>, BuildError> {
    let source_root = manifest.parent().and_then(|p| p.canonicalize().ok()).unwrap_or_else(|| PathBuf::from("."));
    // The SDK sits beside the apps in this repository; remapping the common parent covers both.
    let source_parent = source_root.parent().unwrap_or(&source_root).to_path_buf();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/nonexistent"));
    let rustflags = [
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        format!("--remap-path-prefix={}=/src", source_parent.display()),
    ]
    .join("\x1f");

    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(target)
        .args(selection)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--message-format=json-render-diagnostics")
        // Flags from the caller's environment would change the bytes; ours are the only ones.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(BuildError::Spawn)?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut artifacts = BTreeMap::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.map_err(BuildError::Spawn)?;
        let message: serde_json::Value = serde_json::from_str(&line).map_err(BuildError::Message)?;
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let name = message["target"]["name"].as_str().unwrap_or_default().replace('-', "_");
        for file in message["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str()) {
            if file.ends_with(&format!(".{extension}")) {
                artifacts.insert(name.clone(), PathBuf::from(file));
            }
        }
    }
    let status = child.wait().map_err(BuildError::Spawn)?;
    if !status.success() {
        return Err(BuildError::Failed { target, status });
    }
    if artifacts.is_empty() {
        return Err(BuildError::NoArtifacts { target });
    }
    Ok(artifacts)
}
