//! Host builds: apps compile (for `cargo check`, clippy, docs) but there is no Nexus host to talk to.

use alloc::vec::Vec;

use crate::CALLER_ID_BYTES;

const NO_HOST: &str = "nexus-sdk: guest functions only run inside a Nexus host (wasm32) or the NVM (riscv32)";

pub(crate) fn input() -> Vec<u8> {
    panic!("{NO_HOST}")
}
pub(crate) fn output(_: &[u8]) {
    panic!("{NO_HOST}")
}
pub(crate) fn caller() -> Option<[u8; CALLER_ID_BYTES]> {
    panic!("{NO_HOST}")
}
pub(crate) fn log(_: &[u8]) {
    panic!("{NO_HOST}")
}
pub(crate) fn abort(_: &[u8]) -> ! {
    panic!("{NO_HOST}")
}
pub(crate) fn state_get(_: &[u8]) -> Option<Vec<u8>> {
    panic!("{NO_HOST}")
}
pub(crate) fn state_set(_: &[u8], _: &[u8]) {
    panic!("{NO_HOST}")
}
pub(crate) fn state_delete(_: &[u8]) {
    panic!("{NO_HOST}")
}
pub(crate) fn state_next(_: &[u8], _: bool) -> Option<Vec<u8>> {
    panic!("{NO_HOST}")
}
