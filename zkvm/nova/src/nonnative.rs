//! BN254 base-field values and G1 points inside the primary circuit (over `Fr`), in the limb form
//! the transcript absorbs.
//!
//! An `Fq` value `v` is held as 254 witness bits, constrained to encode an integer `≤ q − 1`, and
//! recombined into the limbs `[v mod 2^128, v >> 128]`. The bound matters: `q < 2^254`, so without
//! it `v + q` would be a second 254-bit encoding of the same value, and a prover could choose between
//! two transcript inputs for one commitment and grind challenges (PROVER-PITFALLS A.7).
//!
//! A G1 point is compressed: `x` and the parity of `y` (infinity: `x = 0`, parity 0), as the
//! transcript encodes it. Nothing here checks that it is a point: every G1 point the augmented
//! circuit uses reaches a CycleFold claim, whose circuit recovers `y` and checks the curve equation
//! ([`crate::cyclefold`]).
//!
//! Cost: about 2·254 constraints per `Fq` value (booleanity plus the comparison with `q − 1`).

use ark_bn254::{Fq, Fr, G1Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, Field, PrimeField};

use crate::transcript::G1_SIGN_BIT;
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

/// Bits of an `Fq` value.
pub const FQ_BITS: usize = 254;
/// Bits in the low limb.
pub const LOW_LIMB_BITS: usize = 128;

/// An `Fq` value as canonical bits and two `Fr` limbs.
#[derive(Clone, Debug)]
pub struct FqLimbsVar {
    /// Little-endian bits (254), constrained to `≤ q − 1`.
    pub bits: Vec<Boolean<Fr>>,
    /// `[low 128 bits, high 126 bits]`.
    pub limbs: [FpVar<Fr>; 2],
}

impl FqLimbsVar {
    /// Allocate `value` as a witness.
    pub fn new_witness(cs: ConstraintSystemRef<Fr>, value: Option<Fq>) -> Result<Self, SynthesisError> {
        Self::from_integer_witness(cs, value.map(|v| v.into_bigint().0))
    }

    /// Allocate `value` as 254 range-checked bits *without* the bound `≤ q − 1`: the integer may be
    /// `v` or `v + q`. Only for intermediate values that are never absorbed nor compared, whose
    /// consumers ([`crate::augmented::fq_mul_add`]) are exact for any 254-bit integer; saves the
    /// ~380-constraint comparison.
    pub fn new_witness_unreduced(cs: ConstraintSystemRef<Fr>, value: Option<Fq>) -> Result<Self, SynthesisError> {
        Self::alloc_bits(cs, value.map(|v| v.into_bigint().0), false)
    }

    /// Allocate an arbitrary 254-bit integer (little-endian words) as the bits. The constraints
    /// reject integers `≥ q`; exposed to the crate so tests can try non-canonical encodings.
    pub(crate) fn from_integer_witness(
        cs: ConstraintSystemRef<Fr>,
        words: Option<[u64; 4]>,
    ) -> Result<Self, SynthesisError> {
        Self::alloc_bits(cs, words, true)
    }

    /// Allocate a 254-bit integer as bits, with the bound `≤ q − 1` only if `canonical`.
    pub(crate) fn alloc_bits(
        cs: ConstraintSystemRef<Fr>,
        words: Option<[u64; 4]>,
        canonical: bool,
    ) -> Result<Self, SynthesisError> {
        let bits = (0..FQ_BITS)
            .map(|i| {
                Boolean::new_witness(cs.clone(), || {
                    words.map(|w| (w[i / 64] >> (i % 64)) & 1 == 1).ok_or(SynthesisError::AssignmentMissing)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if canonical {
            let mut q_minus_one = Fq::MODULUS;
            q_minus_one.sub_with_borrow(&<Fq as PrimeField>::BigInt::from(1u64));
            Boolean::enforce_smaller_or_equal_than_le(&bits, q_minus_one)?;
        }
        let lo = Boolean::le_bits_to_fp(&bits[..LOW_LIMB_BITS])?;
        let hi = Boolean::le_bits_to_fp(&bits[LOW_LIMB_BITS..])?;
        Ok(Self { bits, limbs: [lo, hi] })
    }
}

/// A G1 point in the transcript's compressed encoding ([`crate::transcript::g1_to_limbs`]): the
/// canonical bits of `x` and the parity of `y` (infinity: `x = 0`, parity 0).
#[derive(Clone, Debug)]
pub struct G1LimbsVar {
    /// `x`.
    pub x: FqLimbsVar,
    /// The lowest bit of `y`'s canonical integer.
    pub y_odd: Boolean<Fr>,
}

impl G1LimbsVar {
    /// Allocate `p` as a witness. Only `x` and the parity bit are allocated (one boolean constraint
    /// for the bit); that they encode a point (on the curve, infinity only with parity 0) is checked
    /// by the CycleFold circuit every G1 point of the augmented circuit reaches.
    pub fn new_witness(cs: ConstraintSystemRef<Fr>, p: Option<G1Affine>) -> Result<Self, SynthesisError> {
        let xy = p.map(|p| p.xy().unwrap_or((Fq::from(0u64), Fq::from(0u64))));
        Ok(Self {
            x: FqLimbsVar::new_witness(cs.clone(), xy.map(|v| v.0))?,
            y_odd: Boolean::new_witness(cs, || {
                xy.map(|v| v.1.into_bigint().is_odd()).ok_or(SynthesisError::AssignmentMissing)
            })?,
        })
    }

    /// `[x.lo, x.hi + 2^126·y_odd]`, the transcript encoding.
    pub fn limbs(&self) -> [FpVar<Fr>; 2] {
        let [lo, hi] = self.x.limbs.clone();
        let sign = FpVar::from(self.y_odd.clone()) * Fr::from(2u64).pow([u64::from(G1_SIGN_BIT)]);
        [lo, hi + sign]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        transcript::{Transcript, fq_to_limbs},
        transcript_gadget::TranscriptVar,
    };
    use ark_bn254::G1Projective;
    use ark_ec::{CurveGroup, PrimeGroup};
    use ark_ff::UniformRand;
    use ark_r1cs_std::GR1CSVar;
    use ark_relations::gr1cs::ConstraintSystem;

    #[test]
    fn limbs_match_native_encoding_at_edges() {
        let mut rng = ark_std::test_rng();
        let cs = ConstraintSystem::<Fr>::new_ref();
        for v in [Fq::from(0u64), Fq::from(1u64), -Fq::from(1u64), Fq::rand(&mut rng)] {
            let var = FqLimbsVar::new_witness(cs.clone(), Some(v)).unwrap();
            let got: Vec<Fr> = var.limbs.iter().map(|l| l.value().unwrap()).collect();
            assert_eq!(got, fq_to_limbs(&v).to_vec());
        }
        assert!(cs.is_satisfied().unwrap());
        eprintln!("4 Fq values: {} constraints", cs.num_constraints());
    }

    #[test]
    fn non_canonical_encodings_rejected() {
        // v + q < 2^254 for small v: a second encoding of v that must not satisfy.
        let mut v_plus_q = Fq::MODULUS;
        v_plus_q.add_with_carry(&<Fq as PrimeField>::BigInt::from(5u64));
        let all_ones = [u64::MAX, u64::MAX, u64::MAX, u64::MAX >> 2]; // 2^254 − 1
        for words in [Fq::MODULUS.0, v_plus_q.0, all_ones] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            FqLimbsVar::from_integer_witness(cs.clone(), Some(words)).unwrap();
            assert!(!cs.is_satisfied().unwrap(), "{words:x?} accepted");
        }
        // q − 1 is the largest accepted
        let mut q_minus_one = Fq::MODULUS;
        q_minus_one.sub_with_borrow(&<Fq as PrimeField>::BigInt::from(1u64));
        let cs = ConstraintSystem::<Fr>::new_ref();
        FqLimbsVar::from_integer_witness(cs.clone(), Some(q_minus_one.0)).unwrap();
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn g1_limbs_absorb_like_native_points() {
        let mut rng = ark_std::test_rng();
        for p in [G1Affine::zero(), (G1Projective::generator() * Fr::rand(&mut rng)).into_affine()] {
            let mut t = Transcript::new(b"g1");
            t.absorb(&p);
            let native = t.challenge();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let pv = G1LimbsVar::new_witness(cs.clone(), Some(p)).unwrap();
            let mut tv = TranscriptVar::new(cs.clone(), b"g1").unwrap();
            tv.absorb_g1_limbs(&pv.limbs()).unwrap();
            assert_eq!(tv.challenge().unwrap().value.value().unwrap(), native.to_field::<Fr>());
            assert!(cs.is_satisfied().unwrap());
        }
    }
}
