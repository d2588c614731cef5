//! A guest that misbehaves gets a deterministic trap, and the host stays healthy.

mod common;

use common::*;
use nexus_wasm_host::{CallContext, Limits, MemoryState, Trap, WasmTrapCode};

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let host = host();
    let app = load(&host, &module(r#"(func (export "spin") (loop $l (br $l)))"#));
    let ctx = CallContext { caller: None, fuel_limit: Some(1_000_000) };
    let result = call_with(&host, &app, "spin", &[], &ctx, MemoryState::new());
    assert_eq!(result.trap(), Some(&Trap::OutOfFuel { fuel_limit: 1_000_000 }));
    assert_eq!(result.fuel_used, 1_000_000);
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let host = host();
    let app = load(&host, &module(r#"(func (export "bomb") (loop $l (drop (memory.grow (i32.const 16))) (br $l)))"#));
    let result = call(&host, &app, "bomb", &[]);
    let limit = Limits::default().max_memory_bytes as u64;
    match result.trap() {
        Some(Trap::MemoryLimit { requested_bytes, limit_bytes }) => {
            assert_eq!(*limit_bytes, limit);
            assert!(*requested_bytes > limit);
        }
        other => panic!("expected a memory-limit trap, got {other:?}"),
    }
}

#[test]
fn deep_recursion_traps_with_stack_overflow_and_host_survives() {
    let host = host();
    let app = load(
        &host,
        &module(
            r#"(func $down (param i64) (result i64) (i64.add (call $down (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
               (func (export "recurse") (drop (call $down (i64.const 0))))
               (func (export "ok") (i32.store (i32.const 0) (i32.const 42)) (call $output_write (i32.const 0) (i32.const 4)))"#,
        ),
    );
    let first = call(&host, &app, "recurse", &[]);
    assert_eq!(first.trap(), Some(&Trap::Wasm(WasmTrapCode::StackOverflow)));
    // Same point of overflow every time: fuel used is part of the certified result.
    assert_eq!(call(&host, &app, "recurse", &[]), first);
    assert_eq!(call(&host, &app, "ok", &[]).output(), Some(&42u32.to_le_bytes()[..]));
}

#[test]
fn wasm_traps_are_named_results() {
    let host = host();
    let app = load(
        &host,
        &module(
            r#"(func (export "div0") (drop (i32.div_s (i32.const 1) (i32.const 0))))
               (func (export "oob") (drop (i32.load (i32.const 70000))))
               (func (export "unreachable") unreachable)"#,
        ),
    );
    assert_eq!(call(&host, &app, "div0", &[]).trap(), Some(&Trap::Wasm(WasmTrapCode::IntegerDivisionByZero)));
    assert_eq!(call(&host, &app, "oob", &[]).trap(), Some(&Trap::Wasm(WasmTrapCode::MemoryOutOfBounds)));
    assert_eq!(call(&host, &app, "unreachable", &[]).trap(), Some(&Trap::Wasm(WasmTrapCode::Unreachable)));
}

#[test]
fn writes_of_a_trapped_call_are_discarded_but_logs_kept() {
    let host = host();
    let app = load(
        &host,
        &module(
            r#"(data (i32.const 0) "keyvalwhy")
               (func (export "f")
                 (call $state_set (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 3))
                 (call $log (i32.const 6) (i32.const 3))
                 (call $abort (i32.const 6) (i32.const 3)))"#,
        ),
    );
    let result = call(&host, &app, "f", &[]);
    assert_eq!(result.trap(), Some(&Trap::Abort { message: "why".into() }));
    assert!(result.writes.is_empty());
    assert_eq!(result.logs, ["why"]);
}

#[test]
fn bad_pointers_from_the_guest_trap_instead_of_reaching_host_memory() {
    let host = host();
    let app = load(
        &host,
        &module(
            r#"(func (export "out") (call $output_write (i32.const 65530) (i32.const 100)))
               (func (export "neg") (call $output_write (i32.const -1) (i32.const 2)))
               (func (export "input") (call $input_read (i32.const 65535)))"#,
        ),
    );
    for f in ["out", "neg"] {
        assert_eq!(call(&host, &app, f, &[]).trap(), Some(&Trap::BadPointer { function: "output_write".into() }));
    }
    assert_eq!(
        call(&host, &app, "input", &[1, 2, 3]).trap(),
        Some(&Trap::BadPointer { function: "input_read".into() })
    );
    assert!(call(&host, &app, "input", &[]).trap().is_none(), "an empty input fits anywhere");
}

#[test]
fn host_limits_on_keys_values_outputs_and_logs_trap() {
    let limits = Limits {
        max_key_bytes: 4,
        max_value_bytes: 8,
        max_output_bytes: 16,
        max_log_lines: 2,
        max_state_writes: 2,
        ..Limits::default()
    };
    let host = nexus_wasm_host::Host::new(limits).unwrap();
    let app = load(
        &host,
        &module(
            r#"(data (i32.const 0) "abcdefghij")
               (func (export "long_key") (call $state_set (i32.const 0) (i32.const 5) (i32.const 0) (i32.const 1)))
               (func (export "long_value") (call $state_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 9)))
               (func (export "long_output") (call $output_write (i32.const 0) (i32.const 10)) (call $output_write (i32.const 0) (i32.const 7)))
               (func (export "many_logs") (call $log (i32.const 0) (i32.const 1)) (call $log (i32.const 0) (i32.const 1)) (call $log (i32.const 0) (i32.const 1)))
               (func (export "many_writes")
                 (call $state_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))
                 (call $state_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 2))
                 (call $state_set (i32.const 1) (i32.const 1) (i32.const 0) (i32.const 1))
                 (call $state_delete (i32.const 2) (i32.const 1)))"#,
        ),
    );
    for f in ["long_key", "long_value", "long_output", "many_logs", "many_writes"] {
        let r = call(&host, &app, f, &[]);
        assert!(matches!(r.trap(), Some(Trap::HostLimit(_))), "{f}: {:?}", r.outcome);
    }
}

#[test]
fn oversized_input_and_excess_fuel_are_refused_before_running() {
    let host = nexus_wasm_host::Host::new(Limits { max_input_bytes: 8, ..Limits::default() }).unwrap();
    let app = load(&host, &module(r#"(func (export "f"))"#));
    let state = std::sync::Arc::new(MemoryState::new());
    let err = host.call(&app, "f", &[0; 9], &CallContext::default(), state.clone()).unwrap_err();
    assert!(matches!(err, nexus_wasm_host::CallError::InputTooLarge { size_bytes: 9, limit_bytes: 8 }));
    let too_much = CallContext { caller: None, fuel_limit: Some(u64::MAX) };
    let err = host.call(&app, "f", &[], &too_much, state).unwrap_err();
    assert!(matches!(err, nexus_wasm_host::CallError::FuelLimitTooHigh { .. }));
}

#[test]
fn missing_function_is_a_clear_error_naming_what_exists() {
    let host = host();
    let app = load(&host, &module(r#"(func (export "b")) (func (export "a")) (func (export "takes") (param i32))"#));
    assert_eq!(app.functions(), ["a", "b"], "only () -> () exports are callable");
    let err = host.call(&app, "c", &[], &CallContext::default(), std::sync::Arc::new(MemoryState::new())).unwrap_err();
    assert_eq!(err.to_string(), "app has no function `c` (it exports: a, b)");
}
