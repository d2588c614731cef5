//! 32-bit words in circuit: a value and its little-endian bits, with the recomposition constrained,
//! so every word the CPU circuit produces is range-checked by construction.

use ark_bn254::Fr;
use ark_ff::{Field, PrimeField, Zero};
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// `2^k` in `Fr`.
pub fn pow2(k: u32) -> Fr {
    Fr::from(2u64).pow([u64::from(k)])
}

/// Little-endian bits of `v` as witnesses (`n` of them), constrained boolean.
pub fn alloc_bits(cs: &ConstraintSystemRef<Fr>, v: u64, n: u32) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    (0..n).map(|i| Boolean::new_witness(cs.clone(), || Ok((v >> i) & 1 == 1))).collect()
}

/// `Σ 2^i·bits[i]` (no constraint: a linear combination).
pub fn from_bits(bits: &[Boolean<Fr>]) -> FpVar<Fr> {
    bits.iter()
        .enumerate()
        .fold(FpVar::Constant(Fr::from(0u64)), |acc, (i, b)| acc + FpVar::from(b.clone()) * pow2(i as u32))
}

/// The integer value of a variable whose value is below `2^64` (prover side only).
pub fn value_u64(v: &FpVar<Fr>) -> Result<u64, SynthesisError> {
    let big = v.value()?.into_bigint();
    if big.0[1..].iter().any(|w| *w != 0) {
        // Honest values are small; a dishonest one fails the constraints anyway.
        return Err(SynthesisError::Unsatisfiable);
    }
    Ok(big.0[0])
}

/// Decompose `v` (known to be below `2^n` for an honest prover) into `n` bits and constrain the
/// recomposition: afterwards `v < 2^n` holds for every satisfying assignment.
pub fn decompose(cs: &ConstraintSystemRef<Fr>, v: &FpVar<Fr>, n: u32) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let value = if cs.is_in_setup_mode() { 0 } else { value_u64(v).unwrap_or(0) };
    let bits = alloc_bits(cs, value, n)?;
    from_bits(&bits).enforce_equal(v)?;
    Ok(bits)
}

/// A 32-bit word: its value and its bits (recomposition constrained).
#[derive(Clone, Debug)]
pub struct Word {
    /// The value, `< 2^32`.
    pub value: FpVar<Fr>,
    /// Little-endian bits.
    pub bits: Vec<Boolean<Fr>>,
}

impl Word {
    /// Decompose `v` into a word.
    pub fn from_var(cs: &ConstraintSystemRef<Fr>, v: &FpVar<Fr>) -> Result<Self, SynthesisError> {
        Ok(Self { value: v.clone(), bits: decompose(cs, v, 32)? })
    }

    /// A word from 32 bits (no constraint).
    pub fn from_bit_vec(bits: Vec<Boolean<Fr>>) -> Self {
        debug_assert_eq!(bits.len(), 32);
        Self { value: from_bits(&bits), bits }
    }

    /// The sign bit.
    pub fn msb(&self) -> &Boolean<Fr> {
        &self.bits[31]
    }
}

/// `v == 0` as a boolean, by an inverse hint that is pinned in both cases (PROVER-PITFALLS B.33):
/// `inv·v = 1 − z`, `z·v = 0`, `z·inv = 0`. With `v ≠ 0` the first two force `z = 0, inv = 1/v`;
/// with `v = 0` they force `z = 1`, and the third `inv = 0`, so no witness is left free.
pub fn is_zero(cs: &ConstraintSystemRef<Fr>, v: &FpVar<Fr>) -> Result<Boolean<Fr>, SynthesisError> {
    let value = v.value().unwrap_or_default();
    let z = Boolean::new_witness(cs.clone(), || Ok(value.is_zero()))?;
    let inv = FpVar::new_witness(cs.clone(), || Ok(value.inverse().unwrap_or_default()))?;
    let zf = FpVar::from(z.clone());
    (&inv * v).enforce_equal(&(FpVar::Constant(Fr::from(1u64)) - &zf))?;
    (&zf * v).enforce_equal(&FpVar::Constant(Fr::from(0u64)))?;
    (&zf * &inv).enforce_equal(&FpVar::Constant(Fr::from(0u64)))?;
    Ok(z)
}
