//! Deploy-time validation: every bad module is refused with a clear error, and nothing is cached for it.

mod common;

use common::*;
use nexus_wasm_host::{DeployError, Host, Limits};

fn refuse(host: &Host, bytes: &[u8]) -> DeployError {
    match host.load(bytes) {
        Ok(_) => panic!("module was accepted"),
        Err(e) => e,
    }
}

#[test]
fn garbage_and_truncated_modules_are_invalid() {
    let host = host();
    assert!(matches!(refuse(&host, b"not wasm at all"), DeployError::Invalid(_)));
    assert!(matches!(refuse(&host, b""), DeployError::Invalid(_)));
    let good =
        wat::parse_str(module(r#"(func (export "f") (call $output_write (i32.const 0) (i32.const 1)))"#)).unwrap();
    // The first 8 bytes alone are a valid empty module (which then lacks its memory export).
    assert!(matches!(refuse(&host, &good[..8]), DeployError::MissingMemoryExport));
    for cut in [4, 7, 9, good.len() / 2, good.len() - 1] {
        let err = refuse(&host, &good[..cut]);
        assert!(matches!(err, DeployError::Invalid(_)), "cut at {cut}: {err}");
    }
    assert!(host.load(&good).is_ok());
}

#[test]
fn oversized_module_is_refused_before_parsing() {
    let host = Host::new(Limits { max_module_bytes: 1024, ..Limits::default() }).unwrap();
    let err = refuse(&host, &vec![0u8; 1025]);
    assert!(matches!(err, DeployError::TooLarge { size_bytes: 1025, limit_bytes: 1024 }), "{err}");
}

#[test]
fn imports_outside_the_abi_are_refused_by_name() {
    let host = host();
    let wasi = r#"(module (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
                   (memory (export "memory") 1) (func (export "f")))"#;
    let err = refuse(&host, &wat::parse_str(wasi).unwrap());
    assert_eq!(
        err.to_string(),
        "module imports `wasi_snapshot_preview1::clock_time_get`, which is not part of the Nexus guest ABI (imports must come from module `nexus`)"
    );
    let unknown =
        r#"(module (import "nexus" "random" (func (result i32))) (memory (export "memory") 1) (func (export "f")))"#;
    assert!(matches!(refuse(&host, &wat::parse_str(unknown).unwrap()), DeployError::UnknownImport { .. }));
    let wrong_type =
        r#"(module (import "nexus" "input_len" (func (result i64))) (memory (export "memory") 1) (func (export "f")))"#;
    assert!(matches!(refuse(&host, &wat::parse_str(wrong_type).unwrap()), DeployError::ImportTypeMismatch { .. }));
    let memory_import = r#"(module (import "nexus" "mem" (memory 1)) (func (export "f")))"#;
    assert!(matches!(
        refuse(&host, &wat::parse_str(memory_import).unwrap()),
        DeployError::NonFunctionImport { kind: "memory", .. }
    ));
}

#[test]
fn module_shape_is_checked() {
    let host = host();
    let no_memory = r#"(module (func (export "f")))"#;
    assert!(matches!(refuse(&host, &wat::parse_str(no_memory).unwrap()), DeployError::MissingMemoryExport));
    let no_functions = r#"(module (memory (export "memory") 1) (func (export "f") (param i32)))"#;
    assert!(matches!(refuse(&host, &wat::parse_str(no_functions).unwrap()), DeployError::NoFunctions));
    let huge_memory = r#"(module (memory (export "memory") 2000) (func (export "f")))"#;
    let err = refuse(&host, &wat::parse_str(huge_memory).unwrap());
    assert!(matches!(err, DeployError::InitialMemoryTooLarge { .. }), "{err}");
    let huge_table = r#"(module (memory (export "memory") 1) (table (export "t") 100000 funcref) (func (export "f")))"#;
    assert!(matches!(refuse(&host, &wat::parse_str(huge_table).unwrap()), DeployError::TableTooLarge { .. }));
}

#[test]
fn disabled_proposals_are_refused() {
    let host = host();
    // SIMD is off for determinism and surface.
    let simd = r#"(module (memory (export "memory") 1) (func (export "f") (drop (v128.const i64x2 0 0))))"#;
    assert!(matches!(refuse(&host, &wat::parse_str(simd).unwrap()), DeployError::Invalid(_)));
    // Threads (shared memory, atomics) are not compiled in.
    let shared = r#"(module (memory (export "memory") 1 1 shared) (func (export "f")))"#;
    assert!(matches!(refuse(&host, &wat::parse_str(shared).unwrap()), DeployError::Invalid(_)));
}

#[test]
fn modules_are_cached_by_content_hash() {
    let host = host();
    let bytes = wat::parse_str(module(r#"(func (export "f"))"#)).unwrap();
    let a = host.load(&bytes).unwrap();
    let b = host.load(&bytes).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b), "second load must not recompile");
    assert_eq!(host.cached(&a.code_hash()).map(|m| m.code_hash()), Some(a.code_hash()));
    assert_eq!(a.code_hash(), nexus_wasm_host::CodeHash::of(&bytes));
}

#[test]
fn compiled_artifacts_survive_a_restart_and_corruption_means_recompile() {
    let dir = tempfile::tempdir().unwrap();
    let bytes =
        wat::parse_str(module(r#"(func (export "f") (call $output_write (i32.const 0) (i32.const 2)))"#)).unwrap();
    let first = Host::with_artifact_dir(Limits::default(), dir.path()).unwrap();
    let expected = call(&first, &first.load(&bytes).unwrap(), "f", &[]);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one artifact written: {files:?}");

    let second = Host::with_artifact_dir(Limits::default(), dir.path()).unwrap();
    assert_eq!(call(&second, &second.load(&bytes).unwrap(), "f", &[]), expected);

    // A corrupted artifact is detected by its checksum and the module is compiled again.
    let mut artifact = std::fs::read(&files[0]).unwrap();
    let middle = artifact.len() / 2;
    artifact[middle] ^= 0xff;
    std::fs::write(&files[0], &artifact).unwrap();
    let third = Host::with_artifact_dir(Limits::default(), dir.path()).unwrap();
    assert_eq!(call(&third, &third.load(&bytes).unwrap(), "f", &[]), expected);
    // Truncated to nothing: same.
    std::fs::write(&files[0], b"").unwrap();
    let fourth = Host::with_artifact_dir(Limits::default(), dir.path()).unwrap();
    assert_eq!(call(&fourth, &fourth.load(&bytes).unwrap(), "f", &[]), expected);
}

#[test]
fn start_functions_and_segments_that_do_not_fit_are_refused_at_deploy() {
    let host = host();
    let start = r#"(module (memory (export "memory") 1) (func $s) (start $s) (func (export "f")))"#;
    assert!(matches!(refuse(&host, &wat::parse_str(start).unwrap()), DeployError::StartFunction));
    // Valid wasm, but the data segment lies past the end of the one-page memory: every call would fail.
    let data = r#"(module (memory (export "memory") 1) (data (i32.const 65535) "xy") (func (export "f")))"#;
    let err = refuse(&host, &wat::parse_str(data).unwrap());
    assert!(matches!(err, DeployError::Instantiation(_)), "{err}");
}
