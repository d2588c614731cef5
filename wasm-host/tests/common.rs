//! Helpers shared by the host's integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use nexus_wasm_host::{AppModule, CallContext, CallResult, Host, Limits, MemoryState, StateView};

pub fn host() -> Host {
    Host::new(Limits::default()).expect("host")
}

pub fn load(host: &Host, wat: &str) -> Arc<AppModule> {
    host.load(&wat::parse_str(wat).expect("valid wat")).expect("module loads")
}

pub fn call(host: &Host, app: &AppModule, function: &str, input: &[u8]) -> CallResult {
    call_with(host, app, function, input, &CallContext::default(), MemoryState::new())
}

pub fn call_with(
    host: &Host,
    app: &AppModule,
    function: &str,
    input: &[u8],
    ctx: &CallContext,
    state: MemoryState,
) -> CallResult {
    let state: Arc<dyn StateView> = Arc::new(state);
    host.call(app, function, input, ctx, state).expect("call runs to a result")
}

/// The ABI imports, for WAT modules.
pub const IMPORTS: &str = r#"
  (import "nexus" "input_len" (func $input_len (result i32)))
  (import "nexus" "input_read" (func $input_read (param i32)))
  (import "nexus" "output_write" (func $output_write (param i32 i32)))
  (import "nexus" "caller" (func $caller (param i32) (result i32)))
  (import "nexus" "state_get" (func $state_get (param i32 i32) (result i32)))
  (import "nexus" "state_set" (func $state_set (param i32 i32 i32 i32)))
  (import "nexus" "state_delete" (func $state_delete (param i32 i32)))
  (import "nexus" "state_next" (func $state_next (param i32 i32 i32) (result i32)))
  (import "nexus" "register_read" (func $register_read (param i32)))
  (import "nexus" "log" (func $log (param i32 i32)))
  (import "nexus" "abort" (func $abort (param i32 i32)))
"#;

/// A module with the ABI imports, one page of memory, and the given body items.
pub fn module(body: &str) -> String {
    format!("(module {IMPORTS} (memory (export \"memory\") 1) {body})")
}
