//! The only target-specific code of the SDK: how the target-neutral API reaches the host.
//!
//! - `wasm32`: imports from module `nexus` (see `nexus-wasm-host`'s ABI table).
//! - `riscv32` (the NVM): Linux-style ecalls on an input envelope; state is carried in the envelope.
//! - anything else (host builds of apps for tooling): the calls are unavailable and panic.

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(target_arch = "riscv32")]
mod nvm;
#[cfg(target_arch = "riscv32")]
pub(crate) use nvm::*;

#[cfg(not(any(target_arch = "wasm32", target_arch = "riscv32")))]
mod native;
#[cfg(not(any(target_arch = "wasm32", target_arch = "riscv32")))]
pub(crate) use native::*;
