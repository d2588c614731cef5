//! Building the example apps twice, from scratch, in different directories gives the same bytes (wasm modules
//! and NVM executables), and the same bytes as the shared build: anyone can check that a deployed module comes from its source.

use nexus_cli::app_build::build_apps;
use nexus_tests::{example_apps, repo_root};

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
        let shared = &example_apps()[&a.name];
        let elf_a = a.elf.as_ref().expect("example apps have an NVM executable");
        let elf_b = b.elf.as_ref().expect("example apps have an NVM executable");
        for (kind, path_a, path_b, shared) in
            [("wasm", &a.wasm, &b.wasm, &shared.wasm), ("elf", elf_a, elf_b, &shared.elf)]
        {
            let (bytes_a, bytes_b) = (std::fs::read(path_a).unwrap(), std::fs::read(path_b).unwrap());
            assert!(bytes_a == bytes_b, "{} {kind} differs between two builds", a.name);
            assert!(&bytes_a == shared, "{} {kind} differs from the shared build", a.name);
            // No build-machine paths leak into the artifact.
            let text = String::from_utf8_lossy(&bytes_a);
            let leaked = text.contains(first.path().to_str().unwrap()) || text.contains("/root/");
            assert!(!leaked, "{} {kind} leaks a build path", a.name);
        }
    }
}
