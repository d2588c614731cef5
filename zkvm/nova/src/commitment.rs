//! Pedersen vector commitments with transparently derived generators.
//!
//! `commit(v) = Σ vᵢ·Gᵢ`. The commitments are binding (not hiding): Nova's IVC needs only binding,
//! and zero knowledge, if wanted later, comes from the final compression step.
//!
//! # Generator derivation (re-derivable by anyone)
//!
//! Generator `i` of the key labelled `label` on curve `y² = x³ + a·x + b` over base field `Fp`:
//!
//! 1. for `counter = 0, 1, 2, …` compute
//!    `h = SHA-256("nexus-nova/pedersen/v1" ‖ curve_name ‖ 0x00 ‖ u64_le(len(label)) ‖ label ‖ u64_le(i) ‖ u32_le(counter))`;
//! 2. read `h` as a little-endian integer and reduce it modulo `p`: that is the candidate `x`;
//! 3. if `x³ + a·x + b` is a square in `Fp`, take the square root `y` that is the smaller of
//!    `{y, p − y}` as integers, and stop; otherwise try the next counter.
//!
//! `curve_name` is `"bn254-g1"` or `"grumpkin"`. Both curves have prime order (cofactor 1), so the
//! point is in the prime-order group without cofactor clearing. Nobody knows a discrete-log relation
//! between the generators because each is the image of an independent hash output. Deriving key
//! prefixes is stable: the first `n` generators of a longer key equal a key of length `n`, so one
//! key can serve several shapes.

use ark_ec::{
    CurveGroup, VariableBaseMSM,
    short_weierstrass::{Affine, Projective, SWCurveConfig},
};
use ark_ff::{BigInteger, PrimeField};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Largest key accepted, in generators. Bounds the memory a deserialized or requested key may use
/// (2^25 BN254 points ≈ 2 GiB uncompressed).
pub const MAX_KEY_GENERATORS: usize = 1 << 25;

/// Domain tag prefixed to every generator hash.
pub const GENERATOR_DOMAIN: &[u8] = b"nexus-nova/pedersen/v1";

/// Errors from committing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommitmentError {
    /// The vector is longer than the key.
    #[error("vector of length {len} exceeds the commitment key of {key_len} generators")]
    KeyTooShort {
        /// Vector length.
        len: usize,
        /// Key length.
        key_len: usize,
    },
    /// A key larger than [`MAX_KEY_GENERATORS`] was requested.
    #[error("commitment key of {requested} generators exceeds the limit {limit}")]
    KeyTooLarge {
        /// Requested size.
        requested: usize,
        /// The limit.
        limit: usize,
    },
}

/// A curve usable for commitments: short Weierstrass, with a stable name in the derivation.
pub trait CommitmentCurve:
    CurveGroup<Affine = Affine<Self::SwConfig>, BaseField: PrimeField> + VariableBaseMSM
{
    /// The short-Weierstrass parameters.
    type SwConfig: SWCurveConfig<ScalarField = Self::ScalarField, BaseField = Self::BaseField>;
    // (The associated-type bound lets generic code derive generators for `Self`.)
    /// Name hashed into every generator, e.g. `"bn254-g1"`.
    const NAME: &'static str;
}

impl CommitmentCurve for Projective<ark_bn254::g1::Config> {
    type SwConfig = ark_bn254::g1::Config;
    const NAME: &'static str = "bn254-g1";
}

impl CommitmentCurve for Projective<ark_grumpkin::GrumpkinConfig> {
    type SwConfig = ark_grumpkin::GrumpkinConfig;
    const NAME: &'static str = "grumpkin";
}

/// Derive generator `index` of key `label` as documented in the module.
pub fn derive_generator<G: CommitmentCurve>(label: &[u8], index: u64) -> G::Affine {
    for counter in 0u32.. {
        let mut h = Sha256::new();
        h.update(GENERATOR_DOMAIN);
        h.update(G::NAME.as_bytes());
        h.update([0u8]);
        h.update((label.len() as u64).to_le_bytes());
        h.update(label);
        h.update(index.to_le_bytes());
        h.update(counter.to_le_bytes());
        let digest: [u8; 32] = h.finalize().into();
        let x = G::BaseField::from_le_bytes_mod_order(&digest);
        // `get_point_from_x_unchecked(x, false)` picks the smaller root; both curves have
        // cofactor 1, so any point on the curve is in the prime-order group.
        if let Some(p) = Affine::<G::SwConfig>::get_point_from_x_unchecked(x, false) {
            debug_assert!(p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve());
            return p;
        }
    }
    unreachable!("about half of all x are abscissas; 2^32 consecutive misses do not happen")
}

/// A Pedersen commitment key: the first `len` generators of `label`.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct CommitmentKey<G: CurveGroup> {
    /// Label the generators were derived from (domain separation between keys).
    pub label: Vec<u8>,
    /// The generators `G₀ … G_{n−1}`.
    pub generators: Vec<G::Affine>,
}

impl<G: CommitmentCurve> CommitmentKey<G> {
    /// Derive a key of `len` generators for `label`, in parallel.
    pub fn setup(label: &[u8], len: usize) -> Result<Self, CommitmentError> {
        if len > MAX_KEY_GENERATORS {
            return Err(CommitmentError::KeyTooLarge { requested: len, limit: MAX_KEY_GENERATORS });
        }
        let generators = (0..len as u64).into_par_iter().map(|i| derive_generator::<G>(label, i)).collect();
        Ok(Self { label: label.to_vec(), generators })
    }

    /// Re-derive the generators and compare: a key read from disk must pass this (or a digest
    /// check against a key that did) before use.
    pub fn verify_derivation(&self) -> bool {
        self.generators.len() <= MAX_KEY_GENERATORS
            && self.generators.par_iter().enumerate().all(|(i, g)| *g == derive_generator::<G>(&self.label, i as u64))
    }
}

impl<G: CurveGroup> CommitmentKey<G> {
    /// Number of generators.
    pub fn len(&self) -> usize {
        self.generators.len()
    }

    /// Whether the key has no generators.
    pub fn is_empty(&self) -> bool {
        self.generators.is_empty()
    }

    /// `Σ vᵢ·Gᵢ`. Vectors shorter than the key use its prefix (zero-padding).
    ///
    /// Witnesses of bits or small words are common (NOTES: ark-ec's MSM is 10–60× faster for
    /// small scalars), so the scalars' width is checked first and the narrowest MSM is used.
    pub fn commit(&self, v: &[G::ScalarField]) -> Result<G::Affine, CommitmentError> {
        if v.len() > self.generators.len() {
            return Err(CommitmentError::KeyTooShort { len: v.len(), key_len: self.generators.len() });
        }
        let bases = &self.generators[..v.len()];
        let bigints: Vec<_> = v.par_iter().map(|s| s.into_bigint()).collect();
        let max_bits = bigints.par_iter().map(|b| b.num_bits()).max().unwrap_or(0);
        let point = if max_bits <= 1 {
            let bits: Vec<bool> = bigints.iter().map(|b| !b.is_zero()).collect();
            G::msm_u1(bases, &bits)
        } else if max_bits <= 64 {
            let words: Vec<u64> = bigints.iter().map(|b| b.as_ref()[0]).collect();
            G::msm_u64(bases, &words)
        } else {
            Self::msm_mixed(bases, &bigints)
        };
        Ok(point.into_affine())
    }

    /// A wide vector that is mostly bits and small words (an augmented circuit's witness: bit
    /// decompositions, limbs, carries) is split by width: zeros skipped, bits by `msm_u1`, words by
    /// `msm_u64`, the rest by `msm_bigint`. The sum is the same point (the MSM is linear).
    fn msm_mixed(bases: &[G::Affine], bigints: &[<G::ScalarField as PrimeField>::BigInt]) -> G {
        let (mut b1, mut b64, mut wide) = (Vec::new(), Vec::new(), Vec::new());
        let (mut w64, mut swide) = (Vec::new(), Vec::new());
        for (g, s) in bases.iter().zip(bigints) {
            match s.num_bits() {
                0 => {}
                1 => b1.push(*g),
                2..=64 => {
                    b64.push(*g);
                    w64.push(s.as_ref()[0]);
                }
                _ => {
                    wide.push(*g);
                    swide.push(*s);
                }
            }
        }
        if wide.len() * 10 >= bigints.len() * 9 {
            return G::msm_bigint(bases, bigints);
        }
        let mut acc = G::zero();
        if !b1.is_empty() {
            acc += G::msm_u1(&b1, &vec![true; b1.len()]);
        }
        if !b64.is_empty() {
            acc += G::msm_u64(&b64, &w64);
        }
        if !wide.is_empty() {
            acc += G::msm_bigint(&wide, &swide);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::AffineRepr;
    use ark_ff::{Field, UniformRand};

    type G1 = ark_bn254::G1Projective;
    type Gg = ark_grumpkin::Projective;

    /// Re-derive generator `i` straight from the doc comment, without `get_point_from_x`.
    fn rederive_by_hand(name: &str, label: &[u8], i: u64) -> ark_bn254::G1Affine {
        assert_eq!(name, "bn254-g1");
        for counter in 0u32.. {
            let mut data = Vec::new();
            data.extend_from_slice(b"nexus-nova/pedersen/v1");
            data.extend_from_slice(name.as_bytes());
            data.push(0);
            data.extend_from_slice(&(label.len() as u64).to_le_bytes());
            data.extend_from_slice(label);
            data.extend_from_slice(&i.to_le_bytes());
            data.extend_from_slice(&counter.to_le_bytes());
            let h: [u8; 32] = Sha256::digest(&data).into();
            let x = ark_bn254::Fq::from_le_bytes_mod_order(&h);
            let rhs = x * x * x + ark_bn254::Fq::from(3u64);
            if let Some(y) = rhs.sqrt() {
                let neg = -y;
                let y = if y.into_bigint() < neg.into_bigint() { y } else { neg };
                return ark_bn254::G1Affine::new(x, y);
            }
        }
        unreachable!()
    }

    #[test]
    fn generators_match_documented_derivation() {
        let ck = CommitmentKey::<G1>::setup(b"doc", 8).unwrap();
        for (i, g) in ck.generators.iter().enumerate() {
            assert_eq!(*g, rederive_by_hand("bn254-g1", b"doc", i as u64));
        }
        assert!(ck.verify_derivation());
    }

    #[test]
    fn generators_valid_distinct_and_domain_separated() {
        let a = CommitmentKey::<G1>::setup(b"a", 32).unwrap();
        let b = CommitmentKey::<G1>::setup(b"b", 32).unwrap();
        let g = CommitmentKey::<Gg>::setup(b"a", 32).unwrap();
        for p in a.generators.iter() {
            assert!(p.is_on_curve() && !p.is_zero());
        }
        for p in g.generators.iter() {
            assert!(p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve() && !p.is_zero());
        }
        let mut all: Vec<_> = a.generators.iter().chain(b.generators.iter()).collect();
        all.sort_by_key(|p| p.x);
        all.dedup();
        assert_eq!(all.len(), 64);
        // prefix-stable
        let short = CommitmentKey::<G1>::setup(b"a", 5).unwrap();
        assert_eq!(short.generators[..], a.generators[..5]);
        // tampered key fails re-derivation
        let mut bad = a.clone();
        bad.generators.swap(0, 1);
        assert!(!bad.verify_derivation());
    }

    #[test]
    fn commit_is_linear_and_small_scalar_paths_agree() {
        let mut rng = ark_std::test_rng();
        let ck = CommitmentKey::<G1>::setup(b"lin", 40).unwrap();
        let naive = |v: &[ark_bn254::Fr]| -> ark_bn254::G1Affine {
            v.iter().zip(&ck.generators).map(|(s, g)| *g * s).sum::<G1>().into_affine()
        };
        let full: Vec<ark_bn254::Fr> = (0..40).map(|_| ark_bn254::Fr::rand(&mut rng)).collect();
        let bits: Vec<ark_bn254::Fr> = (0..40).map(|i| ark_bn254::Fr::from((i % 3 == 0) as u64)).collect();
        let words: Vec<ark_bn254::Fr> =
            (0..40u64).map(|i| ark_bn254::Fr::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect();
        let short: Vec<ark_bn254::Fr> = full[..7].to_vec();
        // Mostly bits and words with a few wide values and zeros: the split MSM.
        let mixed: Vec<ark_bn254::Fr> = (0..40)
            .map(|i| match i % 8 {
                0 => full[i],
                1 | 2 => ark_bn254::Fr::from(0u64),
                3..=5 => bits[i],
                _ => words[i],
            })
            .collect();
        for v in [&full, &bits, &words, &short, &mixed] {
            assert_eq!(ck.commit(v).unwrap(), naive(v));
        }
        let sum: Vec<_> = full.iter().zip(&bits).map(|(a, b)| *a + b).collect();
        assert_eq!(ck.commit(&sum).unwrap(), (ck.commit(&full).unwrap() + ck.commit(&bits).unwrap()).into_affine());
        assert!(ck.commit(&[]).unwrap().is_zero());
        let too_long = vec![ark_bn254::Fr::from(1u64); 41];
        assert_eq!(ck.commit(&too_long), Err(CommitmentError::KeyTooShort { len: 41, key_len: 40 }));
    }

    #[test]
    fn oversized_key_rejected() {
        assert!(matches!(
            CommitmentKey::<Gg>::setup(b"x", MAX_KEY_GENERATORS + 1),
            Err(CommitmentError::KeyTooLarge { .. })
        ));
    }
}
