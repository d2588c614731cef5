//! wasm32: the `nexus` imports. Pointers are linear-memory offsets; see `nexus-wasm-host` for the ABI table.

use alloc::vec;
use alloc::vec::Vec;

use crate::CALLER_ID_BYTES;

#[link(wasm_import_module = "nexus")]
unsafe extern "C" {
    fn input_len() -> i32;
    fn input_read(dst: *mut u8);
    fn output_write(src: *const u8, len: i32);
    #[link_name = "caller"]
    fn caller_id(dst: *mut u8) -> i32;
    #[link_name = "state_get"]
    fn host_state_get(key: *const u8, key_len: i32) -> i32;
    #[link_name = "state_set"]
    fn host_state_set(key: *const u8, key_len: i32, val: *const u8, val_len: i32);
    #[link_name = "state_delete"]
    fn host_state_delete(key: *const u8, key_len: i32);
    #[link_name = "state_next"]
    fn host_state_next(key: *const u8, key_len: i32, inclusive: i32) -> i32;
    fn register_read(dst: *mut u8);
    #[link_name = "log"]
    fn host_log(src: *const u8, len: i32);
    #[link_name = "abort"]
    fn host_abort(src: *const u8, len: i32);
}

// Lengths passed to the host are clamped to i32: the host bounds every length far below 2^31 and traps
// on anything longer, so clamping cannot turn a bad length into a good one.
fn len32(bytes: &[u8]) -> i32 {
    i32::try_from(bytes.len()).unwrap_or(i32::MAX)
}

/// Reads the host register after a call that returned `len` (or -1 for none).
fn take_register(len: i32) -> Option<Vec<u8>> {
    if len < 0 {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    // SAFETY: `buf` has exactly the register's length, which the host just reported.
    unsafe { register_read(buf.as_mut_ptr()) };
    Some(buf)
}

pub(crate) fn input() -> Vec<u8> {
    // SAFETY: the buffer is sized to the length the host reports for the input.
    unsafe {
        let mut buf = vec![0u8; input_len() as usize];
        input_read(buf.as_mut_ptr());
        buf
    }
}

pub(crate) fn output(bytes: &[u8]) {
    // SAFETY: pointer and length describe a live slice.
    unsafe { output_write(bytes.as_ptr(), len32(bytes)) }
}

pub(crate) fn caller() -> Option<[u8; CALLER_ID_BYTES]> {
    let mut id = [0u8; CALLER_ID_BYTES];
    // SAFETY: `id` has room for the 32 bytes the host writes.
    (unsafe { caller_id(id.as_mut_ptr()) } == 1).then_some(id)
}

pub(crate) fn log(line: &[u8]) {
    // SAFETY: pointer and length describe a live slice.
    unsafe { host_log(line.as_ptr(), len32(line)) }
}

pub(crate) fn abort(message: &[u8]) -> ! {
    // SAFETY: pointer and length describe a live slice; the host never returns from `abort`.
    unsafe { host_abort(message.as_ptr(), len32(message)) };
    core::arch::wasm32::unreachable()
}

pub(crate) fn state_get(key: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: pointer and length describe a live slice.
    take_register(unsafe { host_state_get(key.as_ptr(), len32(key)) })
}

pub(crate) fn state_set(key: &[u8], value: &[u8]) {
    // SAFETY: pointers and lengths describe live slices.
    unsafe { host_state_set(key.as_ptr(), len32(key), value.as_ptr(), len32(value)) }
}

pub(crate) fn state_delete(key: &[u8]) {
    // SAFETY: pointer and length describe a live slice.
    unsafe { host_state_delete(key.as_ptr(), len32(key)) }
}

pub(crate) fn state_next(from: &[u8], inclusive: bool) -> Option<Vec<u8>> {
    // SAFETY: pointer and length describe a live slice.
    take_register(unsafe { host_state_next(from.as_ptr(), len32(from), inclusive as i32) })
}
