//! counter: the smallest stateful app. One `u64` under one key.
#![no_std]

extern crate alloc;

use nexus_sdk::{entrypoints, state};

const COUNT: &[u8] = b"count";

/// Adds `by` to the counter and returns the new value.
fn increment(by: u64) -> Result<u64, &'static str> {
    let count = get(())?.checked_add(by).ok_or("counter overflow")?;
    state::set_as(COUNT, &count);
    Ok(count)
}

/// The current value (0 before the first increment).
fn get(_: ()) -> Result<u64, &'static str> {
    Ok(state::get_as::<u64>(COUNT).unwrap_or(0))
}

/// Sets the counter back to zero (deletes the key).
fn reset(_: ()) -> Result<(), &'static str> {
    state::delete(COUNT);
    Ok(())
}

entrypoints!(increment, get, reset);
