//! Fiat–Shamir transcript: a Poseidon sponge over BN254's `Fr` (parameters in
//! [`crate::poseidon_params`]).
//!
//! # Canonical absorption
//!
//! Everything is turned into `Fr` elements by [`AbsorbInFr`] before it reaches the sponge, with
//! exactly one encoding per value (PROVER-PITFALLS A.7: two encodings of one value let a prover grind
//! challenges). The in-circuit transcript must reproduce this encoding bit for bit.
//!
//! * `Fr`: the element itself.
//! * `Fq` (BN254's base field, non-native here): its canonical integer `v < q < 2^254` as two limbs
//!   `[v mod 2^128, v >> 128]`, each `< 2^128 < r`. (arkworks' own `Absorb` for a non-native field
//!   element silently absorbs *nothing*; we never use it.)
//! * A Grumpkin point: `[x, y]` (native `Fr` coordinates), the point at infinity as `x = y = 0`.
//!   `(0, 0)` is not on the curve (`0 ≠ −17`), so the encoding is injective; it is also how
//!   arkworks 0.6 stores affine infinity (`is_zero()` is `x = y = 0`), and what the in-circuit
//!   point gadgets hold for infinity.
//! * A BN254 G1 point: compressed, [`g1_to_limbs`]: the two limbs of `x` with the parity of `y`
//!   in bit 126 of the high limb; infinity `[0, 0]` (no G1 point has `x = 0`). Two elements
//!   instead of four, and the augmented circuit needs no bits of `y` (the CycleFold circuit, where
//!   G1 is native, recovers `y` from `x` and the parity).
//! * Vectors are preceded by their length (PROVER-PITFALLS A.5: `[1],[2,3]` must not hash like
//!   `[1,2],[3]`).
//!
//! # Challenges
//!
//! A challenge is the low 128 bits of one squeezed `Fr` element. Its distribution is within
//! statistical distance `2^128 / r < 2^−125` of uniform on `[0, 2^128)`. 128 bits give 128-bit
//! soundness for folding (Nova's knowledge-soundness error is about `(degree)/2^128` per fold), and
//! the same integer is a valid scalar in both `Fr` and `Fq`, which CycleFold needs: the primary
//! circuit and the CycleFold circuit use the same `r`, and the CycleFold circuit takes it as bits.

use ark_bn254::{Fq, Fr};
use ark_crypto_primitives::sponge::{CryptographicSponge, FieldBasedCryptographicSponge, poseidon::PoseidonSponge};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, Field, PrimeField, Zero};

use crate::{poseidon_params::poseidon_config, r1cs::digest_to_field};

/// Bits in a challenge.
pub const CHALLENGE_BITS: u32 = 128;

/// A value with a canonical encoding as `Fr` elements.
pub trait AbsorbInFr {
    /// Append the encoding to `out`.
    fn absorb_into(&self, out: &mut Vec<Fr>);
}

impl AbsorbInFr for Fr {
    fn absorb_into(&self, out: &mut Vec<Fr>) {
        out.push(*self);
    }
}

impl AbsorbInFr for Fq {
    fn absorb_into(&self, out: &mut Vec<Fr>) {
        out.extend(fq_to_limbs(self));
    }
}

impl AbsorbInFr for u64 {
    fn absorb_into(&self, out: &mut Vec<Fr>) {
        out.push(Fr::from(*self));
    }
}

impl AbsorbInFr for ark_ec::short_weierstrass::Affine<ark_bn254::g1::Config> {
    fn absorb_into(&self, out: &mut Vec<Fr>) {
        out.extend(g1_to_limbs(self));
    }
}

impl AbsorbInFr for ark_ec::short_weierstrass::Affine<ark_grumpkin::GrumpkinConfig> {
    fn absorb_into(&self, out: &mut Vec<Fr>) {
        let (x, y) = self.xy().unwrap_or((Fr::zero(), Fr::zero()));
        out.extend([x, y]);
    }
}

impl<T: AbsorbInFr> AbsorbInFr for [T] {
    fn absorb_into(&self, out: &mut Vec<Fr>) {
        (self.len() as u64).absorb_into(out);
        for v in self {
            v.absorb_into(out);
        }
    }
}

/// `[v mod 2^128, v >> 128]` for the canonical integer `v` of an `Fq` element.
pub fn fq_to_limbs(v: &Fq) -> [Fr; 2] {
    let limbs = v.into_bigint().0; // four little-endian u64 words
    let lo = (u128::from(limbs[1]) << 64) | u128::from(limbs[0]);
    let hi = (u128::from(limbs[3]) << 64) | u128::from(limbs[2]);
    [Fr::from(lo), Fr::from(hi)]
}

/// Bit position of a G1 point's `y` parity in the high limb of its encoding.
pub const G1_SIGN_BIT: u32 = 126;

/// The compressed encoding of a G1 point: `x` as [`fq_to_limbs`], with the parity of `y` (its
/// canonical integer's lowest bit) added at bit [`G1_SIGN_BIT`] of the high limb (`x >> 128 <
/// 2^126`, so the sum is unique). Infinity is `[0, 0]`: no G1 point has `x = 0` (3 is not a square
/// in `Fq`), and `y` is one of the two roots of `x³ + 3`, which have different parities.
pub fn g1_to_limbs(p: &ark_bn254::G1Affine) -> [Fr; 2] {
    match p.xy() {
        Some((x, y)) => {
            let [lo, hi] = fq_to_limbs(&x);
            let odd = y.into_bigint().is_odd();
            [lo, if odd { hi + Fr::from(2u64).pow([u64::from(G1_SIGN_BIT)]) } else { hi }]
        }
        None => [Fr::zero(); 2],
    }
}

/// A 128-bit Fiat–Shamir challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Challenge(pub u128);

impl Challenge {
    /// The challenge as an element of any field of more than 128 bits.
    pub fn to_field<F: PrimeField>(self) -> F {
        F::from(self.0)
    }

    /// Little-endian bits, as the CycleFold circuit consumes them.
    pub fn to_bits_le(self) -> [bool; CHALLENGE_BITS as usize] {
        std::array::from_fn(|i| (self.0 >> i) & 1 == 1)
    }
}

/// A Poseidon-sponge transcript over `Fr`.
#[derive(Clone)]
pub struct Transcript {
    sponge: PoseidonSponge<Fr>,
}

impl Transcript {
    /// A transcript for protocol `label`: the sponge first absorbs a 250-bit SHA-256 digest of
    /// the label, so transcripts of different protocols never collide.
    pub fn new(label: &[u8]) -> Self {
        let mut sponge = PoseidonSponge::new(poseidon_config());
        sponge.absorb(&digest_to_field::<Fr>(b"nexus-nova/transcript/v1", label));
        Self { sponge }
    }

    /// Absorb a value in its canonical encoding.
    pub fn absorb<T: AbsorbInFr + ?Sized>(&mut self, value: &T) {
        let mut out = Vec::new();
        value.absorb_into(&mut out);
        self.sponge.absorb(&out);
    }

    /// Squeeze one full `Fr` element: used as a collision-resistant hash output (the IVC state
    /// hash), where a 128-bit value would give only 64-bit collision resistance.
    pub fn squeeze_fr(&mut self) -> Fr {
        self.sponge.squeeze_native_field_elements(1)[0]
    }

    /// Squeeze a 128-bit challenge (the low 128 bits of one squeezed element).
    pub fn challenge(&mut self) -> Challenge {
        let e = self.sponge.squeeze_native_field_elements(1)[0];
        let bytes = e.into_bigint().to_bytes_le();
        let mut lo = [0u8; 16];
        lo.copy_from_slice(&bytes[..16]);
        Challenge(u128::from_le_bytes(lo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AdditiveGroup, CurveGroup, PrimeGroup};
    use ark_ff::{Field, UniformRand};

    fn challenge_after<T: AbsorbInFr + ?Sized>(v: &T) -> Challenge {
        let mut t = Transcript::new(b"test");
        t.absorb(v);
        t.challenge()
    }

    #[test]
    fn deterministic_and_label_separated() {
        let mut a = Transcript::new(b"a");
        let mut b = Transcript::new(b"a");
        let mut c = Transcript::new(b"b");
        assert_eq!(a.challenge(), b.challenge());
        assert_ne!(a.challenge(), c.challenge());
        // successive challenges differ
        let mut t = Transcript::new(b"a");
        assert_ne!(t.challenge(), t.challenge());
    }

    #[test]
    fn non_native_field_elements_are_absorbed() {
        // arkworks' Absorb for a non-native element absorbs nothing; ours must change the state.
        let mut rng = ark_std::test_rng();
        let x = Fq::rand(&mut rng);
        assert_ne!(challenge_after(&x), challenge_after(&(x + Fq::from(1u64))));
        // the high limb matters too
        let hi = Fq::from(2u64).pow([200u64]);
        assert_ne!(challenge_after(&x), challenge_after(&(x + hi)));
    }

    #[test]
    fn fq_limbs_roundtrip() {
        let mut rng = ark_std::test_rng();
        for _ in 0..20 {
            let v = Fq::rand(&mut rng);
            let [lo, hi] = fq_to_limbs(&v);
            let two128 = Fq::from(2u64).pow([128u64]);
            let lo_q = Fq::from_le_bytes_mod_order(&lo.into_bigint().to_bytes_le());
            let hi_q = Fq::from_le_bytes_mod_order(&hi.into_bigint().to_bytes_le());
            assert_eq!(lo_q + hi_q * two128, v);
            assert!(lo.into_bigint().num_bits() <= 128 && hi.into_bigint().num_bits() <= 126);
        }
    }

    #[test]
    fn points_and_infinity_have_distinct_encodings() {
        let g1 = ark_bn254::G1Projective::generator();
        let gg = ark_grumpkin::Projective::generator();
        let inf_g1 = ark_bn254::G1Affine::zero();
        let inf_gg = ark_grumpkin::Affine::zero();
        let c_g1 = challenge_after(&g1.into_affine());
        let c_g1_2 = challenge_after(&g1.double().into_affine());
        let c_inf = challenge_after(&inf_g1);
        assert_ne!(c_g1, c_g1_2);
        assert_ne!(c_g1, c_inf);
        // -P differs from P (the parity of y is absorbed with x)
        assert_ne!(c_g1, challenge_after(&(-g1).into_affine()));
        assert_ne!(challenge_after(&gg.into_affine()), challenge_after(&inf_gg));
        // infinity is encoded as x = 0 (two zero limbs, parity 0) on G1, (0, 0) on Grumpkin
        let mut out = Vec::new();
        inf_g1.absorb_into(&mut out);
        assert_eq!(out, vec![Fr::zero(); 2]);
        // no finite G1 point has x = 0: y² = 3 has no root in Fq
        assert!(Fq::from(3u64).legendre().is_qnr());
        // the parity bit sits above the high limb of x, and is set for exactly one of ±P
        let [_, hi_p] = g1_to_limbs(&g1.into_affine());
        let [_, hi_n] = g1_to_limbs(&(-g1).into_affine());
        let two126 = Fr::from(2u64).pow([126u64]);
        assert!(hi_p == hi_n + two126 || hi_n == hi_p + two126);
        out.clear();
        inf_gg.absorb_into(&mut out);
        assert_eq!(out, vec![Fr::zero(); 2]);
        // and (0,0) does not satisfy y² = x³ + b on either curve (b ≠ 0; a = 0), so no finite
        // point shares the encoding. (arkworks 0.6 itself treats (0,0) as infinity.)
        use ark_ec::short_weierstrass::SWCurveConfig;
        assert!(ark_bn254::g1::Config::COEFF_A.is_zero() && !ark_bn254::g1::Config::COEFF_B.is_zero());
        assert!(ark_grumpkin::GrumpkinConfig::COEFF_A.is_zero() && !ark_grumpkin::GrumpkinConfig::COEFF_B.is_zero());
        assert!(ark_bn254::G1Affine::new_unchecked(Fq::zero(), Fq::zero()).is_zero());
    }

    #[test]
    fn vector_lengths_are_bound() {
        let a = [Fr::from(1u64)];
        let b = [Fr::from(2u64), Fr::from(3u64)];
        let c = [Fr::from(1u64), Fr::from(2u64)];
        let d = [Fr::from(3u64)];
        let mut t1 = Transcript::new(b"x");
        t1.absorb(&a[..]);
        t1.absorb(&b[..]);
        let mut t2 = Transcript::new(b"x");
        t2.absorb(&c[..]);
        t2.absorb(&d[..]);
        assert_ne!(t1.challenge(), t2.challenge());
    }

    #[test]
    fn challenge_is_128_bits_and_embeds_in_both_fields() {
        let mut t = Transcript::new(b"c");
        let mut seen_high_bit = false;
        for _ in 0..64 {
            let c = t.challenge();
            seen_high_bit |= c.0 >> 127 == 1;
            let bits = c.to_bits_le();
            let back = bits.iter().rev().fold(0u128, |acc, b| (acc << 1) | u128::from(*b));
            assert_eq!(back, c.0);
            assert_eq!(c.to_field::<Fr>().into_bigint().to_bytes_le()[..16], c.0.to_le_bytes());
            assert_eq!(c.to_field::<Fq>().into_bigint().to_bytes_le()[..16], c.0.to_le_bytes());
        }
        assert!(seen_high_bit, "64 challenges never used bit 127: not 128-bit");
    }
}
