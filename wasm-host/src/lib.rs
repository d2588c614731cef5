//! Deterministic, bounded WebAssembly execution for Nexus apps.
//!
//! Every replica runs every call itself, and a threshold certificate only forms when replicas computed exactly
//! the same thing. This crate is the part that makes "the same thing" true: same module + same input + same
//! state ⇒ same output, same state writes, same fuel used, same trap, on every replica.
//!
//! What it deliberately does not know: Raft, networks, signatures, or where app state is stored. State comes in
//! through the [`StateView`] trait and goes out as [`StateWrites`] that the caller applies atomically.
//!
//! ```text
//! Host::new(Limits)            one wasmtime Engine configured for determinism, one Linker with the guest ABI
//!   └─ Host::load(bytes)       validate + compile once, cached by content hash (memory, optionally disk)
//!        └─ Host::call(..)     fresh instance per call, fuel-metered; returns a CallResult
//! ```

mod abi;
mod artifact_cache;
mod call;
mod engine_config;
mod error;
mod limits;
mod module;
mod state;

pub use abi::{ABI_IMPORTS, ABI_MODULE, CALLER_ID_BYTES};
pub use call::{CallContext, CallResult, Outcome};
pub use error::{CallError, DeployError, Trap, WasmTrapCode};
pub use limits::Limits;
pub use module::{AppModule, CodeHash, Host};
pub use state::{Layered, MemoryState, StateError, StateView, StateWrites};
