//! `nexus new`: a new app that builds for both targets out of the box.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("`{0}` is not a valid app name (use lowercase letters, digits, `_` and `-`, starting with a letter)")]
    BadName(String),
    #[error("{0} already exists")]
    Exists(PathBuf),
    #[error("the SDK is not at {0} (pass --sdk PATH)")]
    NoSdk(PathBuf),
    #[error("could not write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Creates directory `dir` holding an app named after it, depending on the SDK at `sdk`. Returns the
/// directory's absolute path.
pub fn new_app(dir: &Path, sdk: &Path) -> Result<PathBuf, ScaffoldError> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        return Err(ScaffoldError::BadName(name));
    }
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_path_buf()));
    }
    let sdk = sdk.canonicalize().map_err(|_| ScaffoldError::NoSdk(sdk.to_path_buf()))?;
    if !sdk.join("Cargo.toml").exists() {
        return Err(ScaffoldError::NoSdk(sdk));
    }
    let crate_name = name.replace('-', "_");
    let files = [
        ("Cargo.toml", cargo_toml(&name, &sdk)),
        ("src/lib.rs", LIB_RS.to_string()),
        ("src/main.rs", MAIN_RS.replace("{crate}", &crate_name)),
        (".gitignore", "/target\n/out\n".to_string()),
    ];
    for (file, text) in files {
        let path = dir.join(file);
        let io = |source| ScaffoldError::Io { path: path.clone(), source };
        std::fs::create_dir_all(path.parent().expect("files sit in a directory")).map_err(io)?;
        std::fs::write(&path, text).map_err(io)?;
    }
    dir.canonicalize().map_err(|source| ScaffoldError::Io { path: dir.to_path_buf(), source })
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
nexus-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", default-features = false, features = ["derive", "alloc"] }}

# A standalone workspace: `nexus build` builds it for wasm32 (Nexus tier) and riscv32im (NVM).
[workspace]

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
debug = false
strip = "debuginfo"
incremental = false

[profile.dev]
panic = "abort"
"#,
        sdk = sdk.display()
    )
}

const LIB_RS: &str = r#"//! A Nexus app. The same source builds for wasm32 (run and certified by the replicas) and for the NVM
//! (riscv32im, proven). Each function takes a postcard-decoded input and returns `Result<Output, Error>`;
//! an `Err` aborts the call and discards its state writes.
#![no_std]

extern crate alloc;

use alloc::string::String;

use nexus_sdk::{entrypoints, state};

/// Greets `name` and counts the greetings.
fn hello(name: String) -> Result<String, &'static str> {
    if name.is_empty() {
        return Err("name must not be empty");
    }
    let count = state::get_as::<u64>(b"greetings").unwrap_or(0) + 1;
    state::set_as(b"greetings", &count);
    Ok(alloc::format!("hello, {name} (greeting #{count})"))
}

/// How many greetings so far.
fn greetings(_: ()) -> Result<u64, &'static str> {
    Ok(state::get_as(b"greetings").unwrap_or(0))
}

entrypoints!(hello, greetings);
"#;

const MAIN_RS: &str = r#"//! The NVM (riscv32im) executable of this app: the library's entry points behind the SDK's `_start`.
#![no_std]
#![no_main]

use {crate} as _;
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_names_existing_directories_and_missing_sdks() {
        let tmp = tempfile::tempdir().unwrap();
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        assert!(matches!(new_app(&tmp.path().join("Bad Name"), &sdk), Err(ScaffoldError::BadName(_))));
        assert!(matches!(new_app(tmp.path(), &sdk), Err(ScaffoldError::BadName(_)) | Err(ScaffoldError::Exists(_))));
        assert!(matches!(new_app(&tmp.path().join("ok"), &tmp.path().join("nosdk")), Err(ScaffoldError::NoSdk(_))));
        let dir = new_app(&tmp.path().join("hello-app"), &sdk).unwrap();
        assert!(std::fs::read_to_string(dir.join("src/main.rs")).unwrap().contains("use hello_app as _;"));
        assert!(matches!(new_app(&tmp.path().join("hello-app"), &sdk), Err(ScaffoldError::Exists(_))));
    }
}
