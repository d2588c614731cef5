//! riscv32 (the NVM, and `qemu-riscv32` as its reference machine): Linux-style ecalls.
//!
//! A run is one call. fd 0 carries the call envelope [`NvmCall`] (postcard): function name, caller, input,
//! and the app state the call may read. On return, fd 1 receives [`NvmReturn`] (postcard): the output and
//! the state writes, and the program exits with 0. On abort, the message goes to fd 2 as a line starting
//! with `abort: ` and the program exits with [`ABORT_EXIT_CODE`]. Log lines go to fd 2 as they are emitted.
//! Both types are defined in `crate::nvm_envelope` so the host side decodes exactly what the guest writes.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ops::Bound;

use crate::CALLER_ID_BYTES;
use crate::nvm_envelope::{ABORT_EXIT_CODE, NvmCall, NvmReturn};

const SYS_READ: u32 = 63;
const SYS_WRITE: u32 = 64;
const SYS_EXIT: u32 = 93;
const FD_INPUT: u32 = 0;
const FD_OUTPUT: u32 = 1;
const FD_LOG: u32 = 2;

fn ecall3(number: u32, a0: u32, a1: u32, a2: u32) -> i32 {
    let ret: i32;
    // SAFETY: a Linux-ABI system call; the kernel (or the NVM) reads at most `a2` bytes at `a1`.
    unsafe {
        core::arch::asm!("ecall", inlateout("a0") a0 as i32 => ret, in("a1") a1, in("a2") a2, in("a7") number,
            options(nostack));
    }
    ret
}

fn write_all(fd: u32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let n = ecall3(SYS_WRITE, fd, bytes.as_ptr() as u32, bytes.len() as u32);
        if n <= 0 {
            exit(ABORT_EXIT_CODE);
        }
        bytes = &bytes[n as usize..];
    }
}

fn exit(code: u32) -> ! {
    ecall3(SYS_EXIT, code, 0, 0);
    // The machine stops on exit; if it did not, spinning is the only safe thing left.
    loop {}
}

/// Bytes the input buffer grows by when full.
const READ_CHUNK_BYTES: usize = 4096;

/// The whole input, read straight into the buffer's spare capacity: no staging buffer to zero and
/// copy, which on the NVM (and in a proof) would cost more steps than the read itself.
fn read_stdin() -> Vec<u8> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK_BYTES);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(READ_CHUNK_BYTES);
        }
        let spare = buf.capacity() - buf.len();
        // SAFETY: `read` writes at most `spare` bytes at the end of the buffer, inside its allocation.
        let end = unsafe { buf.as_mut_ptr().add(buf.len()) };
        let n = ecall3(SYS_READ, FD_INPUT, end as u32, spare as u32);
        if n <= 0 {
            return buf;
        }
        // SAFETY: the first `n` spare bytes (n ≤ spare) were just written.
        unsafe { buf.set_len(buf.len() + n as usize) };
    }
}

/// The call being run. Single-threaded guest: one hart, no interrupts.
struct Run {
    call: NvmCall,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    output: Vec<u8>,
}

struct Global(UnsafeCell<Option<Run>>);
// SAFETY: the NVM has a single hart and no interrupts; nothing runs concurrently.
unsafe impl Sync for Global {}
static RUN: Global = Global(UnsafeCell::new(None));

fn run() -> &'static mut Run {
    // SAFETY: single-threaded; set once in `nexus_main` before any entry point runs, and the references
    // handed out never overlap in time (each sys function takes and drops its own).
    match unsafe { &mut *RUN.0.get() } {
        Some(run) => run,
        None => exit(ABORT_EXIT_CODE),
    }
}

unsafe extern "Rust" {
    /// Defined by the app's `entrypoints!`.
    fn __nexus_entrypoints() -> &'static [crate::__private::Entry];
}

extern "C" fn nexus_main() -> ! {
    let mut call = match crate::codec::decode::<NvmCall>(&read_stdin()) {
        Ok(call) => call,
        Err(e) => abort(alloc::format!("call envelope does not decode: {e}").as_bytes()),
    };
    let state = call.state.drain(..).map(|(k, v)| (k.into_vec(), v.into_vec())).collect();
    let function = call.function.clone();
    // SAFETY: single-threaded, before any other access to RUN.
    unsafe { *RUN.0.get() = Some(Run { call, state, writes: BTreeMap::new(), output: Vec::new() }) };
    // SAFETY: the symbol is defined by `entrypoints!` in the app being linked.
    let entries = unsafe { __nexus_entrypoints() };
    let Some((_, entry)) = entries.iter().find(|(name, _)| *name == function) else {
        abort(alloc::format!("app has no function `{function}`").as_bytes())
    };
    entry();
    let run = run();
    let ret = NvmReturn {
        output: core::mem::take(&mut run.output),
        writes: core::mem::take(&mut run.writes).into_iter().map(|(k, v)| (k.into(), v.map(Into::into))).collect(),
    };
    write_all(FD_OUTPUT, &crate::codec::encode(&ret));
    exit(0)
}

core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".globl _start",
    "_start:",
    // The loader (the NVM, or qemu-user) has set sp; keep it 16-byte aligned as the psABI requires.
    "andi sp, sp, -16",
    "call {main}",
    main = sym nexus_main,
);

pub(crate) fn input() -> Vec<u8> {
    run().call.input.clone()
}

pub(crate) fn output(bytes: &[u8]) {
    run().output.extend_from_slice(bytes)
}

pub(crate) fn caller() -> Option<[u8; CALLER_ID_BYTES]> {
    run().call.caller
}

pub(crate) fn log(line: &[u8]) {
    write_all(FD_LOG, line);
    write_all(FD_LOG, b"\n");
}

pub(crate) fn abort(message: &[u8]) -> ! {
    write_all(FD_LOG, b"abort: ");
    write_all(FD_LOG, message);
    write_all(FD_LOG, b"\n");
    exit(ABORT_EXIT_CODE)
}

pub(crate) fn state_get(key: &[u8]) -> Option<Vec<u8>> {
    let run = run();
    match run.writes.get(key) {
        Some(pending) => pending.clone(),
        None => run.state.get(key).cloned(),
    }
}

pub(crate) fn state_set(key: &[u8], value: &[u8]) {
    run().writes.insert(key.to_vec(), Some(value.to_vec()));
}

pub(crate) fn state_delete(key: &[u8]) {
    run().writes.insert(key.to_vec(), None);
}

pub(crate) fn state_next(from: &[u8], inclusive: bool) -> Option<Vec<u8>> {
    let run = run();
    let bound = if inclusive { Bound::Included(from) } else { Bound::Excluded(from) };
    let live_write =
        run.writes.range::<[u8], _>((bound, Bound::Unbounded)).find(|(_, v)| v.is_some()).map(|(k, _)| k.clone());
    let live_base = run
        .state
        .range::<[u8], _>((bound, Bound::Unbounded))
        .map(|(k, _)| k)
        .find(|k| !matches!(run.writes.get(*k), Some(None)))
        .cloned();
    match (live_write, live_base) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
