//! sha256: hashing with an ordinary crate (`sha2`), to show that crates.io code runs unchanged.
#![no_std]

extern crate alloc;

use core::convert::Infallible;

use nexus_sdk::entrypoints;
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

/// SHA-256 of the given bytes.
fn digest(data: ByteBuf) -> Result<[u8; 32], Infallible> {
    Ok(Sha256::digest(&data).into())
}

/// SHA-256 applied `rounds` times, starting from the given bytes: a compute-heavy call with a tiny input.
fn chain(args: (ByteBuf, u32)) -> Result<[u8; 32], Infallible> {
    let (seed, rounds) = args;
    let mut h: [u8; 32] = Sha256::digest(&seed).into();
    for _ in 1..rounds {
        h = Sha256::digest(h).into();
    }
    Ok(h)
}

entrypoints!(digest, chain);
