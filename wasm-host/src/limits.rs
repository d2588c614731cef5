//! Every quantity a guest or a deployer controls has a limit here, with its unit in its name.
//!
//! The limits are part of the determinism contract: all replicas of a cluster must run with the same values,
//! otherwise a call may succeed on one replica and trap on another. They are chosen far below what any host
//! can allocate, so that hitting one is a property of the call, never of the machine.

/// Limits applied to deployment and to every call.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Largest module accepted at deploy time.
    pub max_module_bytes: usize,
    /// Largest linear memory an instance may grow to.
    pub max_memory_bytes: usize,
    /// Largest table an instance may have.
    pub max_table_elements: usize,
    /// Native stack available to wasm code. Fixed so the stack-overflow point is the same on every replica
    /// running the same wasmtime version on the same architecture.
    pub max_wasm_stack_bytes: usize,
    /// Fuel given to a call unless the caller asks for less.
    pub default_call_fuel: u64,
    /// Largest input a call may carry.
    pub max_input_bytes: usize,
    /// Largest output a call may produce.
    pub max_output_bytes: usize,
    /// Largest state key.
    pub max_key_bytes: usize,
    /// Largest state value.
    pub max_value_bytes: usize,
    /// Most distinct keys a call may write or delete.
    pub max_state_writes: usize,
    /// Most log lines a call may emit.
    pub max_log_lines: usize,
    /// Longest log line; longer lines trap rather than being truncated, so logs are never silently cut.
    pub max_log_line_bytes: usize,
    /// Longest abort message kept; a longer one is truncated (it ends the call anyway).
    pub max_abort_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_module_bytes: 4 << 20,
            max_memory_bytes: 64 << 20,
            max_table_elements: 10_000,
            max_wasm_stack_bytes: 512 << 10,
            default_call_fuel: 1_000_000_000,
            max_input_bytes: 4 << 20,
            max_output_bytes: 1 << 20,
            max_key_bytes: 256,
            max_value_bytes: 64 << 10,
            max_state_writes: 1_024,
            max_log_lines: 64,
            max_log_line_bytes: 1 << 10,
            max_abort_message_bytes: 1 << 10,
        }
    }
}
