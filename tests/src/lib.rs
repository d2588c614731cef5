//! Shared fixtures for the cross-part tests: the example apps, built once per test process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository root").to_path_buf()
}

/// One example app's artifacts.
pub struct ExampleApp {
    /// The module for the wasm host.
    pub wasm: Vec<u8>,
    /// The NVM executable.
    pub elf: Vec<u8>,
}

/// The example apps by name, built with `nexus build`'s builder (cargo makes repeat builds no-ops, so every
/// test process can call this).
pub fn example_apps() -> &'static BTreeMap<String, ExampleApp> {
    static APPS: OnceLock<BTreeMap<String, ExampleApp>> = OnceLock::new();
    APPS.get_or_init(|| {
        let root = repo_root();
        let built = nexus_cli::app_build::build_apps(
            &root.join("apps/Cargo.toml"),
            &nexus_cli::app_build::default_target_dir(&root),
        )
        .expect("example apps build");
        let read = |path: &Path| std::fs::read(path).expect("artifact readable");
        built
            .into_iter()
            .map(|app| {
                let elf = read(app.elf.as_deref().expect("every example app has an NVM executable"));
                (app.name, ExampleApp { wasm: read(&app.wasm), elf })
            })
            .collect()
    })
}

/// The names every cross-part test expects to find.
pub const EXAMPLE_APPS: [&str; 4] = ["counter", "fibonacci", "ledger", "sha256"];

/// postcard encoding, as the SDK uses.
pub fn enc<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("encodes")
}

/// One call of a scripted session: (app, function, input, caller).
pub type Step = (&'static str, &'static str, Vec<u8>, Option<[u8; 32]>);

/// Callers used by the scripted sessions.
pub const ALICE: [u8; 32] = [0xa1; 32];
pub const BOB: [u8; 32] = [0xb0; 32];
