//! Poseidon parameters over BN254's scalar field `Fr`.
//!
//! * width `t = 3` (rate 2, capacity 1), S-box `x⁵` (α = 5: the smallest α with
//!   `gcd(α, r − 1) = 1` for BN254's `r`);
//! * 8 full rounds and 57 partial rounds: the round numbers of the Poseidon paper's table for
//!   a 254-bit field, t = 3, α = 5 at 128-bit security (the same as circomlib's t = 3);
//! * round constants (`ark`) and MDS matrix generated with the Grain LFSR of the Poseidon
//!   reference implementation, via ark-crypto-primitives 0.6's
//!   `find_poseidon_ark_and_mds::<Fr>(prime_bits = 254, rate = 2, full_rounds = 8,
//!   partial_rounds = 57, skip_matrices = 0)`.
//!
//! arkworks ships no BN254 parameters, so anyone can regenerate these with that one call; the test
//! `parameters_are_reproducible` pins a fingerprint of them so a change in the generator is seen.
//! In circuit the permutation costs `3·t·R_F + 3·R_P` = 243 constraints.

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::{PoseidonConfig, find_poseidon_ark_and_mds};

/// Sponge rate in field elements.
pub const RATE: usize = 2;
/// Sponge capacity in field elements.
pub const CAPACITY: usize = 1;
/// S-box exponent.
pub const ALPHA: u64 = 5;
/// Number of full rounds.
pub const FULL_ROUNDS: usize = 8;
/// Number of partial rounds.
pub const PARTIAL_ROUNDS: usize = 57;

/// The parameters (generated once per process).
pub fn poseidon_config() -> &'static PoseidonConfig<Fr> {
    static CONFIG: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let (ark, mds) = find_poseidon_ark_and_mds::<Fr>(254, RATE, FULL_ROUNDS as u64, PARTIAL_ROUNDS as u64, 0);
        PoseidonConfig::new(FULL_ROUNDS, PARTIAL_ROUNDS, ALPHA, mds, ark, RATE, CAPACITY)
    })
}
