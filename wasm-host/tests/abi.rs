//! The guest ABI through hand-written modules: input, output, caller, state, fuel charging, NaNs.

mod common;

use common::*;
use nexus_wasm_host::{CallContext, MemoryState, StateWrites};

/// Echoes its input, then writes state key "k" = input and deletes key "gone".
const ECHO: &str = r#"
  (data (i32.const 0) "kgone")
  (func (export "echo")
    (local $n i32)
    (local.set $n (call $input_len))
    (call $input_read (i32.const 1024))
    (call $output_write (i32.const 1024) (local.get $n))
    (call $state_set (i32.const 0) (i32.const 1) (i32.const 1024) (local.get $n))
    (call $state_delete (i32.const 1) (i32.const 4)))
  (func (export "read_k")
    (local $n i32)
    (local.set $n (call $state_get (i32.const 0) (i32.const 1)))
    (if (i32.ge_s (local.get $n) (i32.const 0))
      (then (call $register_read (i32.const 2048)) (call $output_write (i32.const 2048) (local.get $n)))))
  (func (export "whoami")
    (if (call $caller (i32.const 4096)) (then (call $output_write (i32.const 4096) (i32.const 32)))))
  (func (export "first_key")
    (local $n i32)
    (local.set $n (call $state_next (i32.const 0) (i32.const 0) (i32.const 1)))
    (if (i32.ge_s (local.get $n) (i32.const 0))
      (then (call $register_read (i32.const 2048)) (call $output_write (i32.const 2048) (local.get $n)))))
"#;

fn state(pairs: &[(&[u8], &[u8])]) -> MemoryState {
    pairs.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
}

#[test]
fn input_output_and_state_writes_are_returned_not_applied() {
    let host = host();
    let app = load(&host, &module(ECHO));
    let before = state(&[(b"gone", b"x"), (b"other", b"y")]);
    let result = call_with(&host, &app, "echo", b"hello", &CallContext::default(), before.clone());
    assert_eq!(result.output(), Some(&b"hello"[..]));
    let writes: Vec<_> = result.writes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(writes, [(b"gone".to_vec(), None), (b"k".to_vec(), Some(b"hello".to_vec()))]);

    let mut after = before.clone();
    after.apply(&result.writes);
    assert_eq!(after, state(&[(b"k", b"hello"), (b"other", b"y")]));
    assert_eq!(call_with(&host, &app, "read_k", &[], &CallContext::default(), after).output(), Some(&b"hello"[..]));
    assert_eq!(call_with(&host, &app, "read_k", &[], &CallContext::default(), before).output(), Some(&b""[..]));
}

#[test]
fn iteration_starts_at_the_smallest_key() {
    let host = host();
    let app = load(&host, &module(ECHO));
    let s = state(&[(b"m", b"1"), (b"b", b"2"), (b"z", b"3")]);
    assert_eq!(call_with(&host, &app, "first_key", &[], &CallContext::default(), s).output(), Some(&b"b"[..]));
    assert_eq!(call(&host, &app, "first_key", &[]).output(), Some(&b""[..]));
}

#[test]
fn the_guest_sees_its_verified_caller() {
    let host = host();
    let app = load(&host, &module(ECHO));
    let ctx = CallContext { caller: Some([7; 32]), fuel_limit: None };
    assert_eq!(call_with(&host, &app, "whoami", &[], &ctx, MemoryState::new()).output(), Some(&[7u8; 32][..]));
    assert_eq!(call(&host, &app, "whoami", &[]).output(), Some(&b""[..]), "anonymous call");
}

#[test]
fn host_calls_charge_fuel_by_the_bytes_they_move() {
    let host = host();
    let app = load(&host, &module(ECHO));
    let small = call(&host, &app, "echo", &[1; 10]).fuel_used;
    let large = call(&host, &app, "echo", &[1; 10_010]).fuel_used;
    // input_read, output_write and state_set each move the input once more.
    assert_eq!(large - small, 3 * 10_000);
}

#[test]
fn nan_results_are_canonical() {
    let host = host();
    // 0/0 produces a NaN whose sign and payload differ between CPUs; canonicalization fixes the bits.
    let app = load(
        &host,
        &module(
            r#"(func (export "nan")
                 (f64.store (i32.const 0) (f64.div (f64.const 0) (f64.const 0)))
                 (f32.store (i32.const 8) (f32.sqrt (f32.const -1)))
                 (call $output_write (i32.const 0) (i32.const 12)))"#,
        ),
    );
    let out = call(&host, &app, "nan", &[]).output().unwrap().to_vec();
    assert_eq!(u64::from_le_bytes(out[..8].try_into().unwrap()), 0x7ff8_0000_0000_0000);
    assert_eq!(u32::from_le_bytes(out[8..].try_into().unwrap()), 0x7fc0_0000);
}

#[test]
fn two_independent_hosts_agree_on_everything() {
    let (a, b) = (host(), host());
    let bytes = wat::parse_str(module(ECHO)).unwrap();
    let (ma, mb) = (a.load(&bytes).unwrap(), b.load(&bytes).unwrap());
    for (f, input) in [("echo", &b"abc"[..]), ("read_k", b""), ("whoami", b""), ("first_key", b"")] {
        let s = state(&[(b"k", b"v"), (b"gone", b"")]);
        let ra = call_with(&a, &ma, f, input, &CallContext::default(), s.clone());
        let rb = call_with(&b, &mb, f, input, &CallContext::default(), s);
        assert_eq!(ra, rb, "{f}");
    }
    assert_eq!(StateWrites::default().len(), 0);
}
