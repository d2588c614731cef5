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
/// The NVM's target (Nexus Zero tier).
pub const NVM_TARGET: &str = "riscv32im-unknown-none-elf";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("could not run cargo: {0}")]
    Spawn(std::io::Error),
    #[error("cargo {step} for {target} failed (exit status {status}); its messages are above")]
    Failed { step: String, target: &'static str, status: std::process::ExitStatus },
    #[error("cargo printed a message that is not JSON: {0}")]
    Message(serde_json::Error),
    #[error("{manifest} has no app: an app is a package with a library target (src/lib.rs)")]
    NoApps { manifest: String },
    #[error("the build produced no {target} artifact for {app}")]
    MissingArtifact { target: &'static str, app: String },
}

/// One built app: its name (the library's crate name) and its artifacts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltApp {
    pub name: String,
    /// The module for the Nexus tier.
    pub wasm: PathBuf,
    /// The NVM executable, if the app has a binary target (`src/main.rs`).
    pub elf: Option<PathBuf>,
}

/// Builds every app in the cargo manifest `manifest` (a package or a workspace) into `target_dir`: a wasm
/// module from each library, and an NVM executable from each package that has a binary.
pub fn build_apps(manifest: &Path, target_dir: &Path) -> Result<Vec<BuiltApp>, BuildError> {
    let packages = app_packages(manifest, target_dir)?;
    let mut apps = Vec::new();
    let mut any_bin = false;
    for package in &packages {
        // `cargo rustc --crate-type cdylib` makes the wasm module without declaring `cdylib` in the app's
        // manifest, which the riscv32 target (no dynamic libraries) would warn about.
        let wasm = cargo(
            manifest,
            target_dir,
            WASM_TARGET,
            &["rustc", "-p", &package.name, "--lib", "--crate-type", "cdylib"],
            Artifact::Wasm,
        )?;
        let name = package.lib_name.clone();
        let wasm = wasm
            .get(&name)
            .cloned()
            .ok_or_else(|| BuildError::MissingArtifact { target: WASM_TARGET, app: name.clone() })?;
        any_bin |= package.has_bin;
        apps.push(BuiltApp { name, wasm, elf: None });
    }
    if any_bin {
        let elves = cargo(manifest, target_dir, NVM_TARGET, &["build", "--bins"], Artifact::Executable)?;
        for (app, package) in apps.iter_mut().zip(&packages) {
            if package.has_bin {
                let elf = elves.get(&app.name).cloned();
                app.elf =
                    Some(elf.ok_or_else(|| BuildError::MissingArtifact { target: NVM_TARGET, app: app.name.clone() })?);
            }
        }
    }
    Ok(apps)
}

/// The directory a workspace's apps are built in by default: beside the workspace's own build output.
pub fn default_target_dir(workspace_root: &Path) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root.join("target"));
    base.join("nexus-apps")
}

struct AppPackage {
    name: String,
    /// The library's crate name (the package name with `-` as `_`); the app's name everywhere.
    lib_name: String,
    has_bin: bool,
}

/// The workspace's packages that have a library target, in name order.
fn app_packages(manifest: &Path, target_dir: &Path) -> Result<Vec<AppPackage>, BuildError> {
    let output = Command::new(cargo_bin())
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target_dir)
        .stderr(Stdio::inherit())
        .output()
        .map_err(BuildError::Spawn)?;
    if !output.status.success() {
        return Err(BuildError::Failed { step: "metadata".into(), target: WASM_TARGET, status: output.status });
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(BuildError::Message)?;
    let mut apps = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let targets = package["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        let has_kind =
            |kind: &str| targets.iter().any(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == kind)));
        let lib = targets.iter().find(|t| {
            t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "lib" || k == "cdylib" || k == "rlib"))
        });
        if let (Some(name), Some(lib)) = (package["name"].as_str(), lib) {
            let lib_name = lib["name"].as_str().unwrap_or(name).replace('-', "_");
            apps.push(AppPackage { name: name.to_string(), lib_name, has_bin: has_kind("bin") });
        }
    }
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    if apps.is_empty() {
        return Err(BuildError::NoApps { manifest: manifest.display().to_string() });
    }
    Ok(apps)
}

fn cargo_bin() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[derive(Clone, Copy)]
enum Artifact {
    /// A `.wasm` file among the artifact's file names.
    Wasm,
    /// The artifact's executable.
    Executable,
}

/// Runs one cargo command and collects (crate name → artifact path).
fn cargo(
    manifest: &Path,
    target_dir: &Path,
    target: &'static str,
    command: &[&str],
    artifact: Artifact,
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

    let mut cmd = Command::new(cargo_bin());
    cmd.args(command)
        .arg("--release")
        .arg("--target")
        .arg(target)
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
        let path = match artifact {
            Artifact::Wasm => message["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from),
            Artifact::Executable => message["executable"].as_str().map(PathBuf::from),
        };
        if let Some(path) = path {
            artifacts.insert(name, path);
        }
    }
    let status = child.wait().map_err(BuildError::Spawn)?;
    if !status.success() {
        return Err(BuildError::Failed { step: command[0].to_string(), target, status });
    }
    Ok(artifacts)
}
