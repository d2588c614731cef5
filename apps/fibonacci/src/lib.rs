//! fibonacci: pure computation, no state. `fib(n)` is the n-th Fibonacci number modulo 2^64, computed
//! iteratively, so the work (and the fuel) grows linearly with `n`.
#![no_std]

extern crate alloc;

use nexus_sdk::entrypoints;

/// The largest `n` accepted: past this the call would run out of fuel anyway; refusing early is clearer.
const MAX_N: u64 = 100_000_000;

fn fib(n: u64) -> Result<u64, alloc::string::String> {
    if n > MAX_N {
        return Err(alloc::format!("n = {n} is above the maximum of {MAX_N}"));
    }
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    Ok(a)
}

entrypoints!(fib);
