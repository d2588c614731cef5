//! Shared fixtures for the cross-part tests: the example apps, built once per test process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository root").to_path_buf()
}

/// The example apps' wasm modules by name, built with `nexus build`'s builder (cargo makes repeat builds
/// no-ops, so every test process can call this).
pub fn example_wasm() -> &'static BTreeMap<String, Vec<u8>> {
    static APPS: OnceLock<BTreeMap<String, Vec<u8>>> = OnceLock::new();
    APPS.get_or_init(|| {
        let root = repo_root();
        let built = nexus_cli::app_build::build_apps(
            &root.join("apps/Cargo.toml"),
            &nexus_cli::app_build::default_target_dir(&root),
        )
        .expect("example apps build");
        built.into_iter().map(|app| (app.name, std::fs::read(&app.wasm).expect("artifact readable"))).collect()
    })
}

/// The names every cross-part test expects to find.
pub const EXAMPLE_APPS: [&str; 4] = ["counter", "fibonacci", "ledger", "sha256"];

/// postcard encoding, as the SDK uses.
pub fn enc<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("encodes")
}
