//! Building the example apps twice, from scratch, in different directories gives the same bytes, and the
//! same bytes as the shared build: anyone can check that a deployed module comes from its source.

use nexus_cli::app_build::build_apps;
use nexus_tests::{example_wasm, repo_root};

#[test]
fn app_builds_are_byte_identical_across_build_directories() {
    let manifest = repo_root().join("apps/Cargo.toml");
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let a = build_apps(&manifest, &first.path().join("x")).unwrap();
    let b = build_apps(&manifest, &second.path().join("elsewhere/y")).unwrap();
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(a.name, b.name);
        let (bytes_a, bytes_b) = (std::fs::read(&a.wasm).unwrap(), std::fs::read(&b.wasm).unwrap());
        assert!(bytes_a == bytes_b, "{} differs between two builds", a.name);
        assert!(bytes_a == example_wasm()[&a.name], "{} differs from the shared build", a.name);
        // No build-machine paths leak into the module.
        let text = String::from_utf8_lossy(&bytes_a);
        assert!(!text.contains(first.path().to_str().unwrap()) && !text.contains("/root/"), "{} leaks a path", a.name);
    }
}
