//! The guest crate for Nexus apps.
//!
//! An app is ordinary `#![no_std]` Rust with `alloc`: plain functions that take a typed input and return
//! `Result<Output, Error>`, listed once in [`entrypoints!`]. The same source builds for two targets:
//!
//! - `wasm32-unknown-unknown` for the Nexus tier, run by `nexus-wasm-host` on every replica;
//! - `riscv32im-unknown-none-elf` for the NVM (Nexus Zero tier), where the run is proven.
//!
//! Everything target-specific lives in the private `sys` module; the API here is the same on both targets.
//! Inputs and outputs are encoded with postcard (compact, deterministic, serde-based). A function that
//! returns `Err(e)` aborts the call with `e`'s message: nothing it wrote to state is kept.
//!
//! ```ignore
//! #![no_std]
//! extern crate alloc;
//! use nexus_sdk::{entrypoints, state};
//!
//! fn increment(by: u64) -> Result<u64, &'static str> {
//!     let n = state::get_as::<u64>(b"count").unwrap_or(0).checked_add(by).ok_or("overflow")?;
//!     state::set_as(b"count", &n);
//!     Ok(n)
//! }
//! entrypoints!(increment);
//! ```

#![no_std]

extern crate alloc;

mod alloc_bump;
pub mod codec;
pub mod crypto;
mod entry;
pub mod nvm_envelope;
pub mod state;
mod sys;

use alloc::string::String;
use alloc::vec::Vec;

pub use entry::IntoOutcome;

/// Length of a caller id: the caller's Ed25519 public key.
pub const CALLER_ID_BYTES: usize = 32;

/// The raw input bytes of this call.
pub fn input() -> Vec<u8> {
    sys::input()
}

/// Appends raw bytes to this call's output. Typed functions do this for you.
pub fn output(bytes: &[u8]) {
    sys::output(bytes)
}

/// The verified caller (the Ed25519 public key that signed the call), or `None` for an anonymous call.
pub fn caller() -> Option<[u8; CALLER_ID_BYTES]> {
    sys::caller()
}

/// Emits one log line. Logs are bounded by the host (a few dozen lines of at most 1 KiB each).
pub fn log(line: &str) {
    sys::log(line.as_bytes())
}

/// Ends the call with an error message; nothing written to state is kept.
pub fn abort(message: &str) -> ! {
    sys::abort(message.as_bytes())
}

/// `log!("x = {}", x)`: formats and emits one log line.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => { $crate::log(&$crate::__private::format!($($arg)*)) };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::entry::dispatch;
    pub use alloc::format;

    /// Used by [`crate::entrypoints!`] on the NVM: runs the entry point named `function`.
    pub type Entry = (&'static str, fn());
}

/// Abort message used when the input does not decode as the function's input type.
fn invalid_input(error: postcard::Error) -> ! {
    let message: String = alloc::format!("invalid input: {error}");
    abort(&message)
}
