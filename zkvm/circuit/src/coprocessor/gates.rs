//! Bit gates for the co-processor circuits: bits are field variables holding 0 or 1 (or constants),
//! each gate one constraint whose output is a fresh variable, so no linear combination grows with
//! the depth of the computation (the folding prover's work is the matrices' nonzeros).

use ark_bn254::Fr;
use ark_ff::{One, Zero};
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, boolean::Boolean, fields::FieldVar, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::bits::{decompose, pow2};

/// A bit: a variable constrained (by whoever made it) to 0 or 1, or a constant.
pub type Bit = FpVar<Fr>;

/// A 32-bit word as little-endian bits.
pub type WordBits = Vec<Bit>;

/// The constant bit `b`.
pub fn constant(b: bool) -> Bit {
    FpVar::Constant(if b { Fr::one() } else { Fr::zero() })
}

/// `¬a` (linear, free).
pub fn not(a: &Bit) -> Bit {
    constant(true) - a
}

/// The constant's value if `a` is one.
fn as_constant(a: &Bit) -> Option<bool> {
    match a {
        FpVar::Constant(c) => Some(!c.is_zero()),
        FpVar::Var(_) => None,
    }
}

/// `a ⊕ b`: one constraint `2a·b = a + b − out` (free when either is a constant). The output is a
/// bit whenever both inputs are.
pub fn xor(cs: &ConstraintSystemRef<Fr>, a: &Bit, b: &Bit) -> Result<Bit, SynthesisError> {
    match (as_constant(a), as_constant(b)) {
        (Some(x), _) => return Ok(if x { not(b) } else { b.clone() }),
        (_, Some(y)) => return Ok(if y { not(a) } else { a.clone() }),
        _ => {}
    }
    let out = FpVar::new_witness(cs.clone(), || {
        let (x, y) = (a.value()?, b.value()?);
        let xy = x * y;
        Ok(x + y - xy - xy)
    })?;
    a.double()?.mul_equals(b, &(a + b - &out))?;
    Ok(out)
}

/// `a ∧ b`: one constraint (the product).
pub fn and(a: &Bit, b: &Bit) -> Bit {
    a * b
}

/// A fresh bit with value `v`, constrained boolean.
pub fn alloc_bit(
    cs: &ConstraintSystemRef<Fr>,
    v: impl FnOnce() -> Result<bool, SynthesisError>,
) -> Result<Bit, SynthesisError> {
    Ok(FpVar::from(Boolean::new_witness(cs.clone(), v)?))
}

/// A 32-bit word's value from its bits (linear).
pub fn word_value(bits: &[Bit]) -> FpVar<Fr> {
    bits.iter().enumerate().fold(FpVar::Constant(Fr::zero()), |acc, (i, b)| acc + b * pow2(i as u32))
}

/// The bits of a witness word `v` (32 booleans, recomposition constrained): the word is then below
/// `2^32`.
pub fn word_bits(cs: &ConstraintSystemRef<Fr>, v: &FpVar<Fr>) -> Result<WordBits, SynthesisError> {
    Ok(decompose(cs, v, 32)?.into_iter().map(FpVar::from).collect())
}

/// `(Σ terms) mod 2^32` as bits: the sum decomposed into 32 bits and the carry's bits (enough for
/// `terms.len()` summands below `2^32` each plus a 32-bit constant).
pub fn add_mod32(cs: &ConstraintSystemRef<Fr>, terms: &[FpVar<Fr>], constant: u32) -> Result<WordBits, SynthesisError> {
    let sum = terms.iter().fold(FpVar::Constant(Fr::from(u64::from(constant))), |acc, t| acc + t);
    let summands = terms.len() as u32 + u32::from(constant != 0);
    let carry_bits = u32::BITS - summands.saturating_sub(1).leading_zeros();
    let mut bits: Vec<Bit> = decompose(cs, &sum, 32 + carry_bits)?.into_iter().map(FpVar::from).collect();
    bits.truncate(32);
    Ok(bits)
}

/// Rotate right by `n`: bit `i` of the result is bit `i + n` (free).
pub fn rotr(w: &[Bit], n: usize) -> WordBits {
    (0..w.len()).map(|i| w[(i + n) % w.len()].clone()).collect()
}

/// Shift right by `n` (free).
pub fn shr(w: &[Bit], n: usize) -> WordBits {
    (0..w.len()).map(|i| w.get(i + n).cloned().unwrap_or_else(|| constant(false))).collect()
}

/// `x ⊕ y ⊕ z` bitwise.
pub fn xor3(cs: &ConstraintSystemRef<Fr>, x: &[Bit], y: &[Bit], z: &[Bit]) -> Result<WordBits, SynthesisError> {
    x.iter().zip(y).zip(z).map(|((a, b), c)| xor(cs, &xor(cs, a, b)?, c)).collect()
}
