//! sha256: hashing with an ordinary crate (`sha2`), to show that crates.io code runs unchanged, and with the
//! SDK's co-processor-backed hashes.
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

/// SHA-256 through the SDK's co-processor API: one custom instruction per block on the NVM, so proving it
/// costs a small fraction of the portable code's cycles; the same result as `digest` everywhere.
fn digest_accelerated(data: ByteBuf) -> Result<[u8; 32], Infallible> {
    Ok(nexus_sdk::crypto::sha256(&data))
}

/// Keccak-256 (Ethereum's) through the SDK's co-processor API.
fn keccak256(data: ByteBuf) -> Result<[u8; 32], Infallible> {
    Ok(nexus_sdk::crypto::keccak256(&data))
}

entrypoints!(digest, chain, digest_accelerated, keccak256);
