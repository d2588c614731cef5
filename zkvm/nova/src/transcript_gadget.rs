//! The in-circuit twin of [`crate::transcript::Transcript`], for the augmented circuit over `Fr`.
//!
//! It must reproduce the native transcript exactly (PROVER-PITFALLS A.7: the point at infinity and
//! every other value must hash the same natively and in circuit), so each method mirrors one
//! native encoding:
//!
//! * `Fr` values: absorbed as they are;
//! * `Fq` values (non-native here): absorbed as the two limbs `[v mod 2^128, v >> 128]` of
//!   [`crate::transcript::fq_to_limbs`]; G1 points compressed, `x`'s limbs with the parity of `y`
//!   in bit 126 of the high one ([`crate::transcript::g1_to_limbs`]). The caller allocates the
//!   limbs and must range-check them (128 and 126 bits, value `< q`) where they are witnesses;
//!   this gadget only absorbs them;
//! * Grumpkin points (coordinates native in `Fr`): arkworks' `to_affine`, which yields `(0, 0)` for
//!   infinity, the native encoding;
//! * vector lengths: constants (they are fixed by the shape).
//!
//! A challenge is the low 128 bits of one squeezed element, taken from its unique (canonical,
//! `< r`) bit decomposition, returned both as bits (for CycleFold and scalar multiplication) and as
//! a field element.

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::{constraints::CryptographicSpongeVar, poseidon::constraints::PoseidonSpongeVar};
use ark_r1cs_std::{
    boolean::Boolean, convert::ToBitsGadget, fields::fp::FpVar, groups::curves::short_weierstrass::ProjectiveVar,
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::{poseidon_params::poseidon_config, r1cs::digest_to_field, transcript::CHALLENGE_BITS};

/// A Grumpkin point in circuit (coordinates in `Fr`).
pub type GrumpkinVar = ProjectiveVar<ark_grumpkin::GrumpkinConfig, FpVar<Fr>>;

/// An in-circuit challenge.
#[derive(Clone, Debug)]
pub struct ChallengeVar {
    /// The 128 little-endian bits.
    pub bits: Vec<Boolean<Fr>>,
    /// The same value as a field element.
    pub value: FpVar<Fr>,
}

/// Poseidon transcript gadget.
#[derive(Clone)]
pub struct TranscriptVar {
    sponge: PoseidonSpongeVar<Fr>,
}

impl TranscriptVar {
    /// Same as [`crate::transcript::Transcript::new`]: absorbs the label digest (a constant).
    pub fn new(cs: ConstraintSystemRef<Fr>, label: &[u8]) -> Result<Self, SynthesisError> {
        let mut sponge = PoseidonSpongeVar::new(cs, poseidon_config());
        let tag = digest_to_field::<Fr>(b"nexus-nova/transcript/v1", label);
        sponge.absorb(&FpVar::Constant(tag))?;
        Ok(Self { sponge })
    }

    /// Absorb `Fr` elements.
    pub fn absorb_fr(&mut self, v: &[FpVar<Fr>]) -> Result<(), SynthesisError> {
        self.sponge.absorb(&v)
    }

    /// Absorb a vector of `Fr` elements with its length first (native `absorb(&[Fr])`).
    pub fn absorb_fr_vec(&mut self, v: &[FpVar<Fr>]) -> Result<(), SynthesisError> {
        self.sponge.absorb(&FpVar::Constant(Fr::from(v.len() as u64)))?;
        self.sponge.absorb(&v)
    }

    /// Absorb an `Fq` value given as its two limbs (native `absorb(&Fq)`).
    pub fn absorb_fq_limbs(&mut self, limbs: &[FpVar<Fr>; 2]) -> Result<(), SynthesisError> {
        self.sponge.absorb(&limbs.as_slice())
    }

    /// Absorb a G1 point in its compressed encoding (native `absorb(&G1Affine)`,
    /// [`crate::transcript::g1_to_limbs`]).
    pub fn absorb_g1_limbs(&mut self, xy: &[FpVar<Fr>; 2]) -> Result<(), SynthesisError> {
        self.sponge.absorb(&xy.as_slice())
    }

    /// Absorb a Grumpkin point (native `absorb(&ark_grumpkin::Affine)`).
    pub fn absorb_grumpkin(&mut self, p: &GrumpkinVar) -> Result<(), SynthesisError> {
        let a = p.to_affine()?;
        self.sponge.absorb(&[a.x, a.y].as_slice())
    }

    /// Squeeze one full `Fr` element (native [`crate::transcript::Transcript::squeeze_fr`]).
    pub fn squeeze_fr(&mut self) -> Result<FpVar<Fr>, SynthesisError> {
        Ok(self.sponge.squeeze_field_elements(1)?.remove(0))
    }

    /// Squeeze a 128-bit challenge.
    pub fn challenge(&mut self) -> Result<ChallengeVar, SynthesisError> {
        let e = self.sponge.squeeze_field_elements(1)?.remove(0);
        // `to_bits_le` enforces the decomposition is of a value < r, hence unique.
        let mut bits = e.to_bits_le()?;
        bits.truncate(CHALLENGE_BITS as usize);
        let value = Boolean::le_bits_to_fp(&bits)?;
        Ok(ChallengeVar { bits, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Transcript, fq_to_limbs};
    use ark_bn254::{Fq, G1Affine, G1Projective};
    use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
    use ark_ff::UniformRand;
    use ark_r1cs_std::{GR1CSVar, alloc::AllocVar};
    use ark_relations::gr1cs::ConstraintSystem;

    #[test]
    fn gadget_challenge_equals_native_challenge() {
        let mut rng = ark_std::test_rng();
        for case in 0..3 {
            let fr = Fr::rand(&mut rng);
            let fq = Fq::rand(&mut rng);
            let vec: Vec<Fr> = (0..3).map(|_| Fr::rand(&mut rng)).collect();
            let g1 = if case == 1 {
                G1Affine::zero()
            } else {
                (G1Projective::generator() * Fr::rand(&mut rng)).into_affine()
            };
            let gg = if case == 2 {
                ark_grumpkin::Affine::zero()
            } else {
                (ark_grumpkin::Projective::generator() * ark_grumpkin::Fr::rand(&mut rng)).into_affine()
            };

            let mut t = Transcript::new(b"gadget-test");
            t.absorb(&fr);
            t.absorb(&vec[..]);
            t.absorb(&fq);
            t.absorb(&g1);
            t.absorb(&gg);
            let c1 = t.challenge();
            t.absorb(&fr);
            let c2 = t.challenge();

            let cs = ConstraintSystem::<Fr>::new_ref();
            let w = |v: Fr| FpVar::new_witness(cs.clone(), || Ok(v)).unwrap();
            let mut tv = TranscriptVar::new(cs.clone(), b"gadget-test").unwrap();
            let fr_v = w(fr);
            tv.absorb_fr(std::slice::from_ref(&fr_v)).unwrap();
            tv.absorb_fr_vec(&vec.iter().map(|v| w(*v)).collect::<Vec<_>>()).unwrap();
            let [a, b] = fq_to_limbs(&fq);
            tv.absorb_fq_limbs(&[w(a), w(b)]).unwrap();
            tv.absorb_g1_limbs(&crate::transcript::g1_to_limbs(&g1).map(w)).unwrap();
            let gg_v = GrumpkinVar::new_witness(cs.clone(), || Ok(gg.into_group())).unwrap();
            tv.absorb_grumpkin(&gg_v).unwrap();
            let cv1 = tv.challenge().unwrap();
            tv.absorb_fr(&[fr_v]).unwrap();
            let cv2 = tv.challenge().unwrap();

            for (c, cv) in [(c1, &cv1), (c2, &cv2)] {
                assert_eq!(cv.value.value().unwrap(), c.to_field::<Fr>(), "case {case}");
                let bits: Vec<bool> = cv.bits.iter().map(|b| b.value().unwrap()).collect();
                assert_eq!(bits, c.to_bits_le().to_vec());
            }
            assert!(cs.is_satisfied().unwrap());
            if case == 0 {
                eprintln!("transcript gadget test: {} constraints", cs.num_constraints());
            }
        }
    }

    #[test]
    fn different_absorbed_value_gives_different_challenge_in_circuit() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let run = |v: u64| {
            let mut tv = TranscriptVar::new(cs.clone(), b"x").unwrap();
            let var = FpVar::new_witness(cs.clone(), || Ok(Fr::from(v))).unwrap();
            tv.absorb_fr(&[var]).unwrap();
            tv.challenge().unwrap().value.value().unwrap()
        };
        assert_ne!(run(1), run(2));
        assert_eq!(run(3), run(3));
    }
}
