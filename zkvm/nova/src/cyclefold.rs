//! The CycleFold circuit (Kothapalli–Nguyen–Sekniqi, eprint 2023/1192), over BN254's base field
//! `Fq`, where BN254 G1 arithmetic is native.
//!
//! Folding the primary running instance needs `W̄ = W̄₁ + r·W̄₂` and `Ē = Ē₁ + r·T̄ + r²·Ē₂` on G1
//! points, which are non-native in the primary circuit (over `Fr`). Instead of emulating them, the
//! primary circuit only *claims* each result, and every claim `P₃ = P₁ + r·P₂` is proven by this
//! small circuit, whose instances are committed on Grumpkin (scalar field `Fq`) and folded into a
//! CycleFold running instance by the primary circuit (Grumpkin points have `Fr` coordinates, so that
//! fold is native there).
//!
//! Public input, in this order (PROVER-PITFALLS A.3: the primary circuit must build exactly this
//! vector from the real commitments and the same `r`):
//!
//! `x = [r + 2^128·(s₁ + 2·s₂ + 4·s₃), P₁.x, P₂.x, P₃.x]`
//!
//! with `r < 2^128`, and each point compressed as the transcript encodes it
//! ([`crate::transcript::g1_to_limbs`]): its affine `x` and `sᵢ` the parity of its `y`, infinity
//! `x = 0, s = 0` (no G1 point has `x = 0`). Four public inputs instead of seven: each one costs the
//! primary circuit a non-native multiply-add per fold and two limbs per hash. The circuit:
//!
//! * decomposes the first input into exactly 128 bits of `r` and three parity bits (unique:
//!   `2^131 < q`);
//! * for each point allocates `y` as a witness, derives `inf = (x = 0)`, and unless `inf` enforces
//!   the curve equation and that the lowest bit of `y`'s canonical decomposition is `s`; when
//!   `inf`, `s = 0`. So each public `(x, s)` names exactly one point, and an `x` with no point is
//!   rejected (PROVER-PITFALLS A.7);
//! * enforces `P₃ = P₁ + r·P₂` with arkworks' complete projective formulas.
//!
//! The shape does not depend on the values (no branching on witnesses), so one shape serves all.

use ark_bn254::{Fq, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup, short_weierstrass::SWCurveConfig};
use ark_ff::{BigInteger, Field, PrimeField, Zero};
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    convert::ToBitsGadget,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
    groups::{CurveVar, curves::short_weierstrass::ProjectiveVar},
};
use ark_relations::gr1cs::{ConstraintSystem, ConstraintSystemRef, SynthesisError};

use crate::{
    r1cs::{Assignment, R1csError, R1csShape, extract},
    transcript::{CHALLENGE_BITS, Challenge},
};

/// Number of public inputs of the CycleFold circuit.
pub const CYCLEFOLD_NUM_IO: usize = 4;

type G1Var = ProjectiveVar<ark_bn254::g1::Config, FpVar<Fq>>;

/// Affine coordinates, infinity as `(0, 0)`.
pub fn point_coordinates(p: &G1Affine) -> [Fq; 2] {
    p.xy().map_or([Fq::zero(), Fq::zero()], |(x, y)| [x, y])
}

fn y_odd(p: &G1Affine) -> bool {
    point_coordinates(p)[1].into_bigint().is_odd()
}

/// The public input `x` for the claim `p3 = p1 + r·p2` (the claim is not checked here).
pub fn public_input(r: Challenge, p1: &G1Affine, p2: &G1Affine, p3: &G1Affine) -> Vec<Fq> {
    let signs = [p1, p2, p3].iter().enumerate().map(|(i, p)| u128::from(y_odd(p)) << i).sum::<u128>();
    let mut x = vec![r.to_field::<Fq>() + Fq::from(signs) * Fq::from(2u64).pow([128u64])];
    for p in [p1, p2, p3] {
        x.push(point_coordinates(p)[0]);
    }
    x
}

/// A public compressed point: `x` an input, `y` a witness, infinity iff `x = 0`; unless infinity,
/// on the curve with `y`'s parity `y_odd`; when infinity, `y_odd` is 0.
fn alloc_public_point(
    cs: &ConstraintSystemRef<Fq>,
    xy: Option<[Fq; 2]>,
    y_odd: &Boolean<Fq>,
) -> Result<G1Var, SynthesisError> {
    let x = FpVar::new_input(cs.clone(), || xy.map(|v| v[0]).ok_or(SynthesisError::AssignmentMissing))?;
    let y = FpVar::new_witness(cs.clone(), || xy.map(|v| v[1]).ok_or(SynthesisError::AssignmentMissing))?;
    let inf = x.is_zero()?;
    let b = FpVar::constant(ark_bn254::g1::Config::COEFF_B);
    let curve_eq = y.square()? - (x.square()? * &x + b);
    inf.select(&FpVar::zero(), &curve_eq)?.enforce_equal(&FpVar::zero())?;
    // `to_bits_le` is the canonical (< q) decomposition, so the parity is y's.
    let parity = y.to_bits_le()?.swap_remove(0);
    y_odd.enforce_equal(&(!&inf & parity))?;
    // Homogeneous projective (X : Y : Z); the gadgets' identity is (0 : 1 : 0) (tested).
    let one = FpVar::one();
    let py = inf.select(&one, &y)?;
    let pz = inf.select(&FpVar::zero(), &one)?;
    Ok(G1Var::new(x, py, pz))
}

/// Constrain the CycleFold relation into `cs`. `values` is `None` in setup mode.
pub fn generate_constraints(
    cs: ConstraintSystemRef<Fq>,
    values: Option<(Challenge, G1Affine, G1Affine, G1Affine)>,
) -> Result<(), SynthesisError> {
    let packed = FpVar::new_input(cs.clone(), || {
        values.map(|v| public_input(v.0, &v.1, &v.2, &v.3)[0]).ok_or(SynthesisError::AssignmentMissing)
    })?;
    let bits = (0..CHALLENGE_BITS as usize)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                values.map(|v| v.0.to_bits_le()[i]).ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let points = values.map(|v| [v.1, v.2, v.3]);
    let signs = (0..3)
        .map(|k| {
            Boolean::new_witness(cs.clone(), || points.map(|p| y_odd(&p[k])).ok_or(SynthesisError::AssignmentMissing))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let all: Vec<_> = bits.iter().chain(&signs).cloned().collect();
    Boolean::le_bits_to_fp(&all)?.enforce_equal(&packed)?;
    let [p1, p2, p3] = [0, 1, 2].map(|k| alloc_public_point(&cs, points.map(|p| point_coordinates(&p[k])), &signs[k]));
    let (p1, p2, p3) = (p1?, p2?, p3?);
    let sum = p1 + p2.scalar_mul_le(bits.iter())?;
    sum.enforce_equal(&p3)?;
    Ok(())
}

/// Synthesize the circuit for `p3 = p1 + r·p2` and return its shape and assignment. An untrue
/// claim still synthesizes (the assignment then fails [`R1csShape::check_relation`]), which is what
/// the soundness tests need.
pub fn synthesize(
    r: Challenge,
    p1: &G1Affine,
    p2: &G1Affine,
    p3: &G1Affine,
) -> Result<(R1csShape<Fq>, Assignment<Fq>), R1csError> {
    let cs = ConstraintSystem::<Fq>::new_ref();
    generate_constraints(cs.clone(), Some((r, *p1, *p2, *p3)))?;
    let (shape, a) = extract(&cs)?;
    let a = a.ok_or_else(|| R1csError::Synthesis("no assignment".into()))?;
    Ok((shape, a))
}

/// The honest result `p1 + r·p2`.
pub fn evaluate(r: Challenge, p1: &G1Affine, p2: &G1Affine) -> G1Affine {
    (G1Projective::from(*p1) + *p2 * r.to_field::<ark_bn254::Fr>()).into_affine()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        commitment::CommitmentKey,
        nifs,
        r1cs::{R1csInstance, R1csWitness, RelaxedR1csInstance, RelaxedR1csWitness},
    };
    use ark_ec::PrimeGroup;
    use ark_ff::{Field, One, UniformRand};

    type Gg = ark_grumpkin::Projective;

    fn random_point(rng: &mut impl ark_std::rand::Rng) -> G1Affine {
        (G1Projective::generator() * ark_bn254::Fr::rand(rng)).into_affine()
    }

    fn holds(r: Challenge, p1: &G1Affine, p2: &G1Affine, p3: &G1Affine) -> Result<(), R1csError> {
        let (shape, a) = synthesize(r, p1, p2, p3)?;
        assert_eq!(a.x, public_input(r, p1, p2, p3), "public input layout");
        shape.check_relation(Fq::one(), &a.x, &a.w, None)
    }

    #[test]
    fn honest_claims_hold_including_infinity() {
        let mut rng = ark_std::test_rng();
        let inf = G1Affine::zero();
        let r = Challenge(u128::MAX - 12345);
        let (p1, p2) = (random_point(&mut rng), random_point(&mut rng));
        for (r, p1, p2) in [
            (r, p1, p2),
            (Challenge(0), p1, p2),
            (Challenge(1), p1, p1), // doubling inside the addition
            (r, inf, p2),
            (r, p1, inf),
            (r, inf, inf),
            (Challenge(1), p1, (-p1.into_group()).into_affine()), // result is infinity
        ] {
            let p3 = evaluate(r, &p1, &p2);
            holds(r, &p1, &p2, &p3).unwrap();
        }
    }

    #[test]
    fn infinity_allocates_as_the_gadget_identity() {
        use ark_r1cs_std::GR1CSVar;
        let cs = ConstraintSystem::<Fq>::new_ref();
        let p = alloc_public_point(&cs, Some([Fq::zero(), Fq::zero()]), &Boolean::FALSE).unwrap();
        assert!(p.is_zero().unwrap().value().unwrap());
        assert!(p.value().unwrap().is_zero());
        p.enforce_equal(&G1Var::zero()).unwrap();
        let mut rng = ark_std::test_rng();
        let q = random_point(&mut rng);
        let pq = alloc_public_point(&cs, Some(point_coordinates(&q)), &Boolean::constant(y_odd(&q))).unwrap();
        assert_eq!(pq.value().unwrap().into_affine(), q);
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn false_claims_and_bad_points_rejected() {
        let mut rng = ark_std::test_rng();
        let (p1, p2) = (random_point(&mut rng), random_point(&mut rng));
        let r = Challenge(0xdead_beef_u128 << 64 | 77);
        let p3 = evaluate(r, &p1, &p2);
        let (shape, a) = synthesize(r, &p1, &p2, &p3).unwrap();
        let check = |x: &[Fq], w: &[Fq]| shape.check_relation(Fq::one(), x, w, None);
        check(&a.x, &a.w).unwrap();
        // wrong output point
        assert!(holds(r, &p1, &p2, &random_point(&mut rng)).is_err());
        assert!(holds(r, &p1, &p2, &G1Affine::zero()).is_err());
        // -P3 (same x, other y)
        assert!(holds(r, &p1, &p2, &(-p3.into_group()).into_affine()).is_err());
        // claim made with another r
        assert!(holds(Challenge(r.0 ^ 1), &p1, &p2, &p3).is_err());
        // every public coordinate matters
        for i in 0..CYCLEFOLD_NUM_IO {
            let mut x = a.x.clone();
            x[i] += Fq::one();
            assert!(check(&x, &a.w).is_err(), "public input {i} unconstrained");
        }
        // r must equal its 128 bits: r + 2^128 with the same bits fails
        let mut x = a.x.clone();
        x[0] += Fq::from(2u64).pow([128u64]);
        assert!(check(&x, &a.w).is_err());
        // a point off the curve is rejected even if the arithmetic is consistent: y = 1 is not a
        // root of x³ + 3 at x = 1, and x = 4 has no root at all (its x cannot be a public input)
        let off = G1Affine::new_unchecked(Fq::from(1u64), Fq::from(1u64));
        assert!(!off.is_on_curve());
        assert!(holds(Challenge(0), &off, &p2, &off).is_err());
        let no_y = Fq::from(4u64);
        assert!((no_y * no_y * no_y + Fq::from(3u64)).legendre().is_qnr());
        let off = G1Affine::new_unchecked(no_y, Fq::from(1u64));
        assert!(holds(Challenge(0), &off, &p2, &off).is_err());
        // the parity bits are bound: flipping one (the encoding of -P) fails, and infinity (x = 0)
        // with parity 1 is not a second encoding of infinity
        for k in 0..3 {
            let mut x = a.x.clone();
            x[0] += Fq::from(2u64).pow([128 + k as u64]);
            assert!(check(&x, &a.w).is_err(), "parity {k} unbound");
        }
        let inf = G1Affine::zero();
        let (shape_i, ai) = synthesize(r, &inf, &p2, &evaluate(r, &inf, &p2)).unwrap();
        shape_i.check_relation(Fq::one(), &ai.x, &ai.w, None).unwrap();
        // witnesses: the 128 bits of r, then the three parity bits; flip P₁'s in both places
        assert_eq!(ai.w[..128].iter().filter(|b| b.is_one()).count() as u32, r.0.count_ones());
        assert!(ai.w[128].is_zero());
        let (mut x, mut w) = (ai.x.clone(), ai.w.clone());
        x[0] += Fq::from(2u64).pow([128u64]);
        w[128] = Fq::one();
        assert!(shape_i.check_relation(Fq::one(), &x, &w, None).is_err(), "infinity with parity 1 accepted");
    }

    #[test]
    fn shape_is_value_independent_and_folds_on_grumpkin() {
        let mut rng = ark_std::test_rng();
        let claims: Vec<_> = (0..3)
            .map(|i| {
                let p1 = if i == 2 { G1Affine::zero() } else { random_point(&mut rng) };
                let p2 = random_point(&mut rng);
                let r = Challenge(u128::rand(&mut rng));
                (r, p1, p2, evaluate(r, &p1, &p2))
            })
            .collect();
        let synthesized: Vec<_> = claims.iter().map(|(r, a, b, c)| synthesize(*r, a, b, c).unwrap()).collect();
        let shape = synthesized[0].0.clone();
        for (s, _) in &synthesized {
            assert_eq!(s.digest(), shape.digest());
        }
        assert_eq!(shape.num_io, CYCLEFOLD_NUM_IO);
        assert!(shape.num_constraints < 10_000, "{} constraints", shape.num_constraints);
        eprintln!(
            "CycleFold circuit (one point claim): {} constraints, {} witness",
            shape.num_constraints, shape.num_witness
        );
        let ck = CommitmentKey::<Gg>::setup(b"cyclefold", shape.num_constraints.max(shape.num_witness)).unwrap();
        let pp = crate::r1cs::digest_to_field(b"pp", b"cf");
        let mut big_u = RelaxedR1csInstance::<Gg>::dummy(shape.num_io);
        let mut big_w = RelaxedR1csWitness::dummy(&shape);
        for (_, a) in &synthesized {
            let u = R1csInstance::<Gg> { comm_w: ck.commit(&a.w).unwrap(), x: a.x.clone() };
            let w = R1csWitness { w: a.w.clone() };
            let out = nifs::prove_strict(&ck, &shape, pp, (&big_u, &big_w), (&u, &w)).unwrap();
            big_u = nifs::verify_strict(shape.num_io, pp, &big_u, &u, &out.proof).unwrap();
            big_w = out.witness;
            shape.is_sat_relaxed(&ck, &big_u, &big_w).unwrap();
        }
    }
}
