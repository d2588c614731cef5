//! The public input and output of a run, as the statement names them and the verifier checks them.
//!
//! The circuit folds every byte a `read` moves into memory, and every byte a `write` to fd 1 takes
//! from memory, into a Horner fingerprint at the memory challenge `γ` (`Σ bᵢ·γ^(n−1−i)`, with the
//! length `n` kept beside it). The bytes themselves are bound by the access chain (a read's byte is
//! a lane of the word it writes, a write's a lane of the word it reads), and the claimed input and
//! output are hashed into `γ`; so a fingerprint that matches the claimed bytes at `γ` means they
//! are the bytes moved, except with probability `n/|Fr|`. Log writes (fd 2) are proven as
//! accesses and counted, but their bytes are not part of the statement.

use ark_bn254::Fr;
use sha2::{Digest, Sha256};

/// The bytes a run read and wrote, as the statement claims them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicIo<'a> {
    /// The whole input (fd 0); the run may read a prefix of it.
    pub input: &'a [u8],
    /// Everything the run wrote to fd 1.
    pub output: &'a [u8],
}

impl PublicIo<'static> {
    /// No input and no output.
    pub const EMPTY: Self = Self { input: &[], output: &[] };
}

impl PublicIo<'_> {
    /// SHA-256 of the input.
    pub fn input_digest(&self) -> [u8; 32] {
        Sha256::digest(self.input).into()
    }

    /// SHA-256 of the output.
    pub fn output_digest(&self) -> [u8; 32] {
        Sha256::digest(self.output).into()
    }
}

/// `Σ bᵢ·γ^(n−1−i)` over `bytes`: the fingerprint the circuit accumulates one byte per step.
pub fn fingerprint(bytes: &[u8], gamma: Fr) -> Fr {
    bytes.iter().fold(Fr::from(0u64), |acc, b| acc * gamma + Fr::from(u64::from(*b)))
}
