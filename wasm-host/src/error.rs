//! Errors and traps.
//!
//! The split matters for replication: a [`Trap`] is a *result* of a call, deterministic and certified like an
//! output. A [`CallError`] or [`DeployError`] means the request never ran (bad request) or the host failed
//! (state store); nothing from such a call may be certified.

use serde::{Deserialize, Serialize};

/// Why a module was refused at deploy time. Nothing is cached or stored for a refused module.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("module is {size_bytes} bytes, more than the limit of {limit_bytes} bytes")]
    TooLarge { size_bytes: usize, limit_bytes: usize },
    #[error("not a valid WebAssembly module: {0}")]
    Invalid(String),
    #[error(
        "module imports `{module}::{name}`, which is not part of the Nexus guest ABI (imports must come from module `nexus`)"
    )]
    UnknownImport { module: String, name: String },
    #[error("module imports `nexus::{name}` with the wrong type: expected {expected}, found {found}")]
    ImportTypeMismatch { name: String, expected: String, found: String },
    #[error("module imports a {kind} `{module}::{name}`; only functions may be imported")]
    NonFunctionImport { kind: &'static str, module: String, name: String },
    #[error("module does not export its linear memory as `memory`")]
    MissingMemoryExport,
    #[error("module declares {declared_bytes} bytes of initial memory, more than the limit of {limit_bytes} bytes")]
    InitialMemoryTooLarge { declared_bytes: u64, limit_bytes: usize },
    #[error("module declares a table of {declared_elements} elements, more than the limit of {limit_elements}")]
    TableTooLarge { declared_elements: u64, limit_elements: usize },
    #[error("module exports no callable function (an exported function takes and returns nothing)")]
    NoFunctions,
    #[error("compiled module could not be prepared for instantiation: {0}")]
    Link(String),
    #[error("module has a start function; apps run code only in exported functions")]
    StartFunction,
    #[error("module cannot be instantiated: {0}")]
    Instantiation(String),
}

/// Why a call did not run to a result. Nothing from such a call may be certified or applied.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("app has no function `{function}` (it exports: {available})")]
    NoSuchFunction { function: String, available: String },
    #[error("input is {size_bytes} bytes, more than the limit of {limit_bytes} bytes")]
    InputTooLarge { size_bytes: usize, limit_bytes: usize },
    #[error("fuel limit {requested} is above the host's maximum of {maximum}")]
    FuelLimitTooHigh { requested: u64, maximum: u64 },
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("the host failed while running the call: {0}")]
    Host(String),
}

/// How a call ended when it did not return normally. Deterministic: every replica reports the same trap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Trap {
    #[error("out of fuel (limit {fuel_limit})")]
    OutOfFuel { fuel_limit: u64 },
    #[error("memory limit exceeded: tried to grow to {requested_bytes} bytes, limit {limit_bytes} bytes")]
    MemoryLimit { requested_bytes: u64, limit_bytes: u64 },
    #[error("table limit exceeded: tried to grow to {requested_elements} elements, limit {limit_elements}")]
    TableLimit { requested_elements: u64, limit_elements: u64 },
    #[error("app aborted: {message}")]
    Abort { message: String },
    #[error("wasm trap: {0}")]
    Wasm(WasmTrapCode),
    #[error("app broke a host limit: {0}")]
    HostLimit(String),
    #[error("app passed an out-of-bounds pointer to `nexus::{function}`")]
    BadPointer { function: String },
}

/// The wasm-level trap kinds, named by us so that receipts do not depend on wasmtime's enum layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum WasmTrapCode {
    #[error("stack overflow")]
    StackOverflow,
    #[error("out-of-bounds memory access")]
    MemoryOutOfBounds,
    #[error("misaligned atomic access")]
    HeapMisaligned,
    #[error("out-of-bounds table access")]
    TableOutOfBounds,
    #[error("indirect call to a null table entry")]
    IndirectCallToNull,
    #[error("indirect call signature mismatch")]
    BadSignature,
    #[error("integer overflow")]
    IntegerOverflow,
    #[error("integer division by zero")]
    IntegerDivisionByZero,
    #[error("invalid conversion to integer")]
    BadConversionToInteger,
    #[error("unreachable instruction executed")]
    Unreachable,
    #[error("other wasm trap")]
    Other,
}

impl WasmTrapCode {
    pub(crate) fn from_wasmtime(trap: wasmtime::Trap) -> Self {
        use wasmtime::Trap as T;
        match trap {
            T::StackOverflow => Self::StackOverflow,
            T::MemoryOutOfBounds => Self::MemoryOutOfBounds,
            T::HeapMisaligned => Self::HeapMisaligned,
            T::TableOutOfBounds => Self::TableOutOfBounds,
            T::IndirectCallToNull => Self::IndirectCallToNull,
            T::BadSignature => Self::BadSignature,
            T::IntegerOverflow => Self::IntegerOverflow,
            T::IntegerDivisionByZero => Self::IntegerDivisionByZero,
            T::BadConversionToInteger => Self::BadConversionToInteger,
            T::UnreachableCodeReached => Self::Unreachable,
            _ => Self::Other,
        }
    }
}
