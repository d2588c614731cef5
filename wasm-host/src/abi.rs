//! The guest ABI: the only functions a module may import, all from module `nexus`, all on `i32`s.
//!
//! Pointers and lengths are guest linear-memory offsets. Values that the host hands back (a state value, a
//! key found by iteration) go through one host-side *register*: the call that finds the value returns its
//! length (or -1 for "none"), and `register_read` copies it into a buffer the guest sized. This keeps every
//! call free of guest-side allocation callbacks and every copy bounded.
//!
//! | import | signature | meaning |
//! |---|---|---|
//! | `input_len` | `() -> i32` | length of the call input |
//! | `input_read` | `(dst)` | copy the whole input to `dst` |
//! | `output_write` | `(src, len)` | append to the call output |
//! | `caller` | `(dst) -> i32` | write the 32-byte verified caller id to `dst` and return 1; 0 if anonymous |
//! | `state_get` | `(key, key_len) -> i32` | value length into the register, or -1 if absent |
//! | `state_set` | `(key, key_len, val, val_len)` | set a key |
//! | `state_delete` | `(key, key_len)` | delete a key |
//! | `state_next` | `(key, key_len, inclusive) -> i32` | smallest key `>=` (inclusive != 0) or `>` the given one into the register; -1 if none |
//! | `register_read` | `(dst)` | copy the register to `dst` |
//! | `log` | `(src, len)` | one log line |
//! | `abort` | `(src, len)` | end the call with a trap carrying this message |
//!
//! Every import charges fuel: a flat cost for the crossing plus a per-byte cost for what it copies, and more
//! for state access, which is what costs a replica the most. Charges are constants, part of the determinism
//! contract.

use std::ops::Bound;
use std::sync::Arc;

use wasmtime::{Caller, Linker, Memory};

use crate::error::Trap;
use crate::limits::Limits;
use crate::state::{Layered, StateError, StateView, StateWrites};

/// The module name every ABI import comes from.
pub const ABI_MODULE: &str = "nexus";

/// Bytes of a caller id (an Ed25519 public key).
pub const CALLER_ID_BYTES: usize = 32;

/// Every ABI import: (name, number of `i32` parameters, number of `i32` results).
pub const ABI_IMPORTS: &[(&str, usize, usize)] = &[
    ("input_len", 0, 1),
    ("input_read", 1, 0),
    ("output_write", 2, 0),
    ("caller", 1, 1),
    ("state_get", 2, 1),
    ("state_set", 4, 0),
    ("state_delete", 2, 0),
    ("state_next", 3, 1),
    ("register_read", 1, 0),
    ("log", 2, 0),
    ("abort", 2, 0),
];

/// Fuel for crossing into the host at all.
const HOST_CALL_FUEL: u64 = 100;
/// Fuel per byte copied between guest and host.
const BYTE_FUEL: u64 = 1;
/// Extra fuel for a state read (`state_get`, `state_next`).
const STATE_READ_FUEL: u64 = 1_000;
/// Extra fuel for a state write (`state_set`, `state_delete`).
const STATE_WRITE_FUEL: u64 = 2_000;

/// Everything one call's host functions work on; lives in the wasmtime `Store`.
pub(crate) struct CallData {
    pub limits: Arc<Limits>,
    pub input: Vec<u8>,
    pub caller: Option<[u8; CALLER_ID_BYTES]>,
    pub state: Arc<dyn StateView>,
    pub writes: StateWrites,
    pub output: Vec<u8>,
    pub logs: Vec<String>,
    pub register: Vec<u8>,
    pub memory: Option<Memory>,
    pub limiter: crate::call::GuestLimiter,
    pub fuel_limit: u64,
}

impl CallData {
    pub fn new(
        limits: Arc<Limits>,
        input: Vec<u8>,
        caller: Option<[u8; CALLER_ID_BYTES]>,
        state: Arc<dyn StateView>,
        fuel_limit: u64,
    ) -> Self {
        let limiter = crate::call::GuestLimiter {
            max_memory_bytes: limits.max_memory_bytes,
            max_table_elements: limits.max_table_elements,
        };
        Self {
            limits,
            input,
            caller,
            state,
            writes: StateWrites::default(),
            output: Vec::new(),
            logs: Vec::new(),
            register: Vec::new(),
            memory: None,
            limiter,
            fuel_limit,
        }
    }
}

/// A failure of the host itself inside an import (the state store failed): not a result of the call.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct HostFault(#[from] pub StateError);

type HostResult<T> = wasmtime::Result<T>;

fn trap(t: Trap) -> wasmtime::Error {
    wasmtime::Error::new(t)
}

fn bad_pointer(function: &str) -> wasmtime::Error {
    trap(Trap::BadPointer { function: function.to_string() })
}

/// Charges `fuel` to the running call; running out here is the same trap as running out in wasm code.
fn charge(caller: &mut Caller<'_, CallData>, fuel: u64) -> HostResult<()> {
    let left = caller.get_fuel()?;
    if left < fuel {
        caller.set_fuel(0)?;
        return Err(trap(Trap::OutOfFuel { fuel_limit: caller.data().fuel_limit }));
    }
    caller.set_fuel(left - fuel)?;
    Ok(())
}

fn memory(caller: &Caller<'_, CallData>, function: &str) -> HostResult<Memory> {
    caller.data().memory.ok_or_else(|| bad_pointer(function))
}

/// Copies `len` guest bytes at `ptr` out of linear memory.
fn read_guest(caller: &mut Caller<'_, CallData>, function: &str, ptr: i32, len: i32) -> HostResult<Vec<u8>> {
    let mem = memory(caller, function)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let end = start.checked_add(len).ok_or_else(|| bad_pointer(function))?;
    mem.data(&caller).get(start..end).map(<[u8]>::to_vec).ok_or_else(|| bad_pointer(function))
}

/// Copies `bytes` into linear memory at `ptr`.
fn write_guest(caller: &mut Caller<'_, CallData>, function: &str, ptr: i32, bytes: &[u8]) -> HostResult<()> {
    let mem = memory(caller, function)?;
    let start = ptr as u32 as usize;
    let end = start.checked_add(bytes.len()).ok_or_else(|| bad_pointer(function))?;
    mem.data_mut(caller).get_mut(start..end).ok_or_else(|| bad_pointer(function))?.copy_from_slice(bytes);
    Ok(())
}

fn read_key(caller: &mut Caller<'_, CallData>, function: &str, ptr: i32, len: i32) -> HostResult<Vec<u8>> {
    let limit = caller.data().limits.max_key_bytes;
    if len as u32 as usize > limit {
        return Err(trap(Trap::HostLimit(format!("state key of {} bytes is longer than {limit} bytes", len as u32))));
    }
    read_guest(caller, function, ptr, len)
}

fn length_i32(len: usize) -> i32 {
    // Every length handed back is bounded by a limit far below 2^31 (keys, values).
    i32::try_from(len).expect("lengths handed to the guest are bounded by Limits")
}

fn state_fault(e: StateError) -> wasmtime::Error {
    wasmtime::Error::new(HostFault(e))
}

/// The state as this call sees it: the caller's view with the call's own writes on top.
fn overlay(data: &CallData) -> Layered<'_> {
    Layered { base: data.state.as_ref(), writes: &data.writes }
}

/// Puts a found value (or key) in the register for `register_read`, charging for the bytes; returns its
/// length, or -1 for "none".
fn stage(caller: &mut Caller<'_, CallData>, found: Option<Vec<u8>>) -> HostResult<i32> {
    let Some(bytes) = found else { return Ok(-1) };
    charge(caller, BYTE_FUEL * bytes.len() as u64)?;
    let len = length_i32(bytes.len());
    caller.data_mut().register = bytes;
    Ok(len)
}

/// Records a pending write, enforcing the distinct-keys limit.
fn record_write(caller: &mut Caller<'_, CallData>, key: Vec<u8>, value: Option<Vec<u8>>) -> HostResult<()> {
    let data = caller.data_mut();
    if !data.writes.contains(&key) && data.writes.len() >= data.limits.max_state_writes {
        return Err(trap(Trap::HostLimit(format!(
            "a call may write at most {} distinct keys",
            data.limits.max_state_writes
        ))));
    }
    data.writes.set(key, value);
    Ok(())
}

pub(crate) fn define_imports(linker: &mut Linker<CallData>) -> wasmtime::Result<()> {
    let m = ABI_MODULE;
    linker.func_wrap(m, "input_len", |mut caller: Caller<'_, CallData>| -> HostResult<i32> {
        charge(&mut caller, HOST_CALL_FUEL)?;
        Ok(length_i32(caller.data().input.len()))
    })?;
    linker.func_wrap(m, "input_read", |mut caller: Caller<'_, CallData>, dst: i32| -> HostResult<()> {
        let input = std::mem::take(&mut caller.data_mut().input);
        let result = charge(&mut caller, HOST_CALL_FUEL + BYTE_FUEL * input.len() as u64)
            .and_then(|()| write_guest(&mut caller, "input_read", dst, &input));
        caller.data_mut().input = input;
        result
    })?;
    linker.func_wrap(m, "output_write", |mut caller: Caller<'_, CallData>, src: i32, len: i32| -> HostResult<()> {
        charge(&mut caller, HOST_CALL_FUEL + BYTE_FUEL * len as u32 as u64)?;
        let limit = caller.data().limits.max_output_bytes;
        if caller.data().output.len() + len as u32 as usize > limit {
            return Err(trap(Trap::HostLimit(format!("output is longer than {limit} bytes"))));
        }
        let bytes = read_guest(&mut caller, "output_write", src, len)?;
        caller.data_mut().output.extend_from_slice(&bytes);
        Ok(())
    })?;
    linker.func_wrap(m, "caller", |mut caller: Caller<'_, CallData>, dst: i32| -> HostResult<i32> {
        charge(&mut caller, HOST_CALL_FUEL + BYTE_FUEL * CALLER_ID_BYTES as u64)?;
        match caller.data().caller {
            Some(id) => write_guest(&mut caller, "caller", dst, &id).map(|()| 1),
            None => Ok(0),
        }
    })?;
    linker.func_wrap(
        m,
        "state_get",
        |mut caller: Caller<'_, CallData>, key: i32, key_len: i32| -> HostResult<i32> {
            charge(&mut caller, HOST_CALL_FUEL + STATE_READ_FUEL + BYTE_FUEL * key_len as u32 as u64)?;
            let key = read_key(&mut caller, "state_get", key, key_len)?;
            let value = overlay(caller.data()).get(&key).map_err(state_fault)?;
            stage(&mut caller, value)
        },
    )?;
    linker.func_wrap(
        m,
        "state_set",
        |mut caller: Caller<'_, CallData>, key: i32, key_len: i32, val: i32, val_len: i32| -> HostResult<()> {
            let bytes = key_len as u32 as u64 + val_len as u32 as u64;
            charge(&mut caller, HOST_CALL_FUEL + STATE_WRITE_FUEL + BYTE_FUEL * bytes)?;
            let key = read_key(&mut caller, "state_set", key, key_len)?;
            let limit = caller.data().limits.max_value_bytes;
            if val_len as u32 as usize > limit {
                return Err(trap(Trap::HostLimit(format!(
                    "state value of {} bytes is longer than {limit} bytes",
                    val_len as u32
                ))));
            }
            let value = read_guest(&mut caller, "state_set", val, val_len)?;
            record_write(&mut caller, key, Some(value))
        },
    )?;
    linker.func_wrap(
        m,
        "state_delete",
        |mut caller: Caller<'_, CallData>, key: i32, key_len: i32| -> HostResult<()> {
            charge(&mut caller, HOST_CALL_FUEL + STATE_WRITE_FUEL + BYTE_FUEL * key_len as u32 as u64)?;
            let key = read_key(&mut caller, "state_delete", key, key_len)?;
            record_write(&mut caller, key, None)
        },
    )?;
    linker.func_wrap(
        m,
        "state_next",
        |mut caller: Caller<'_, CallData>, key: i32, key_len: i32, inclusive: i32| -> HostResult<i32> {
            charge(&mut caller, HOST_CALL_FUEL + STATE_READ_FUEL + BYTE_FUEL * key_len as u32 as u64)?;
            let key = read_key(&mut caller, "state_next", key, key_len)?;
            let from = if inclusive != 0 { Bound::Included(key.as_slice()) } else { Bound::Excluded(key.as_slice()) };
            let next = overlay(caller.data()).next_key(from).map_err(state_fault)?;
            stage(&mut caller, next)
        },
    )?;
    linker.func_wrap(m, "register_read", |mut caller: Caller<'_, CallData>, dst: i32| -> HostResult<()> {
        let register = std::mem::take(&mut caller.data_mut().register);
        let result = charge(&mut caller, HOST_CALL_FUEL + BYTE_FUEL * register.len() as u64)
            .and_then(|()| write_guest(&mut caller, "register_read", dst, &register));
        caller.data_mut().register = register;
        result
    })?;
    linker.func_wrap(m, "log", |mut caller: Caller<'_, CallData>, src: i32, len: i32| -> HostResult<()> {
        charge(&mut caller, HOST_CALL_FUEL + BYTE_FUEL * len as u32 as u64)?;
        let limits = caller.data().limits.clone();
        if caller.data().logs.len() >= limits.max_log_lines {
            return Err(trap(Trap::HostLimit(format!("more than {} log lines", limits.max_log_lines))));
        }
        if len as u32 as usize > limits.max_log_line_bytes {
            return Err(trap(Trap::HostLimit(format!(
                "log line of {} bytes is longer than {} bytes",
                len as u32, limits.max_log_line_bytes
            ))));
        }
        let bytes = read_guest(&mut caller, "log", src, len)?;
        caller.data_mut().logs.push(String::from_utf8_lossy(&bytes).into_owned());
        Ok(())
    })?;
    linker.func_wrap(m, "abort", |mut caller: Caller<'_, CallData>, src: i32, len: i32| -> HostResult<()> {
        let keep = (len as u32 as usize).min(caller.data().limits.max_abort_message_bytes);
        charge(&mut caller, HOST_CALL_FUEL + BYTE_FUEL * keep as u64)?;
        let bytes = read_guest(&mut caller, "abort", src, keep as i32)?;
        Err(trap(Trap::Abort { message: String::from_utf8_lossy(&bytes).into_owned() }))
    })?;
    Ok(())
}
