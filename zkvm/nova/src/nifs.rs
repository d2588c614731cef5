//! Nova's non-interactive folding scheme (NIFS), prover and verifier.
//!
//! Folding two relaxed R1CS instances `U₁ = (W̄₁, Ē₁, u₁, x₁)` and `U₂` of the same shape:
//!
//! 1. the prover computes the cross term `T` ([`R1csShape::cross_term`]) and `T̄ = Com(T)`;
//! 2. both sides derive `r` from a transcript that absorbs, in order, the public-parameters digest,
//!    `U₁`, `U₂` and `T̄` (PROVER-PITFALLS A.6: every value the verifier's output depends on is
//!    absorbed, the real parameter digest included, so a proof made under other parameters folds
//!    to garbage);
//! 3. `W̄ = W̄₁ + r·W̄₂`, `Ē = Ē₁ + r·T̄ + r²·Ē₂`, `u = u₁ + r·u₂`, `x = x₁ + r·x₂`, and the
//!    prover's `W = W₁ + r·W₂`, `E = E₁ + r·T + r²·E₂`.
//!
//! A strict instance (`u = 1`, `E = 0`) enters through its relaxed form
//! ([`RelaxedR1csInstance::from_strict`]: `Ē` is the identity, `u = 1`), and is absorbed in that
//! form too, so IVC (running ⊕ strict) and PCD nodes (running ⊕ running) share one code path.
//! The same code folds the CycleFold instances on Grumpkin: the transcript always runs over
//! BN254's `Fr`, and the 128-bit challenge is a valid scalar of either curve.

use ark_bn254::Fr;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::PrimeField;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;

use crate::{
    commitment::{CommitmentCurve, CommitmentError, CommitmentKey},
    r1cs::{R1csError, R1csInstance, R1csShape, R1csWitness, RelaxedR1csInstance, RelaxedR1csWitness},
    transcript::{AbsorbInFr, Challenge, Transcript},
};

/// Transcript label of a NIFS fold.
pub const NIFS_LABEL: &[u8] = b"nexus-nova/nifs/v1";

/// Errors from folding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NifsError {
    /// An instance or witness does not fit the shape.
    #[error(transparent)]
    R1cs(#[from] R1csError),
    /// The commitment key is too short.
    #[error(transparent)]
    Commitment(#[from] CommitmentError),
    /// An instance's public input has the wrong length (checked by the verifier too).
    #[error("{which} instance has {got} public inputs, the shape has {expected}")]
    PublicInputLength {
        /// `first` or `second`.
        which: &'static str,
        /// Shape's `num_io`.
        expected: usize,
        /// Found.
        got: usize,
    },
}

/// What the prover sends: the commitment to the cross term.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct NifsProof<G: CurveGroup> {
    /// `T̄ = Com(T)`.
    pub comm_t: G::Affine,
}

/// Absorb a relaxed instance: `comm_W, comm_E, u, x` (with `x`'s length).
pub fn absorb_relaxed<G>(t: &mut Transcript, inst: &RelaxedR1csInstance<G>)
where
    G: CurveGroup,
    G::Affine: AbsorbInFr,
    G::ScalarField: AbsorbInFr,
{
    t.absorb(&inst.comm_w);
    t.absorb(&inst.comm_e);
    t.absorb(&inst.u);
    t.absorb(&inst.x[..]);
}

/// The folding challenge `r = H(pp_digest, U₁, U₂, T̄)`.
pub fn challenge<G>(
    pp_digest: Fr,
    u1: &RelaxedR1csInstance<G>,
    u2: &RelaxedR1csInstance<G>,
    comm_t: &G::Affine,
) -> Challenge
where
    G: CurveGroup,
    G::Affine: AbsorbInFr,
    G::ScalarField: AbsorbInFr,
{
    let mut t = Transcript::new(NIFS_LABEL);
    t.absorb(&pp_digest);
    absorb_relaxed(&mut t, u1);
    absorb_relaxed(&mut t, u2);
    t.absorb(comm_t);
    t.challenge()
}

/// Fold two instances with challenge `r` and cross-term commitment `comm_t` (the verifier's work).
pub fn fold_instances<G: CurveGroup>(
    u1: &RelaxedR1csInstance<G>,
    u2: &RelaxedR1csInstance<G>,
    comm_t: &G::Affine,
    r: G::ScalarField,
) -> RelaxedR1csInstance<G> {
    let r2 = r * r;
    let comm_w = (u1.comm_w.into_group() + u2.comm_w.into_group() * r).into_affine();
    let comm_e = (u1.comm_e.into_group() + comm_t.into_group() * r + u2.comm_e.into_group() * r2).into_affine();
    RelaxedR1csInstance {
        comm_w,
        comm_e,
        u: u1.u + r * u2.u,
        x: u1.x.iter().zip(&u2.x).map(|(a, b)| *a + r * b).collect(),
    }
}

/// Fold two witnesses with cross term `t` and challenge `r` (lengths already checked).
pub fn fold_witnesses<F: PrimeField>(
    w1: &RelaxedR1csWitness<F>,
    w2: &RelaxedR1csWitness<F>,
    t: &[F],
    r: F,
) -> RelaxedR1csWitness<F> {
    let r2 = r * r;
    RelaxedR1csWitness {
        w: w1.w.par_iter().zip(&w2.w).map(|(a, b)| *a + r * b).collect(),
        e: w1.e.par_iter().zip(t).zip(&w2.e).map(|((e1, t), e2)| *e1 + r * t + r2 * e2).collect(),
    }
}

fn check_io<G: CurveGroup>(
    num_io: usize,
    u1: &RelaxedR1csInstance<G>,
    u2: &RelaxedR1csInstance<G>,
) -> Result<(), NifsError> {
    for (which, inst) in [("first", u1), ("second", u2)] {
        if inst.x.len() != num_io {
            return Err(NifsError::PublicInputLength { which, expected: num_io, got: inst.x.len() });
        }
    }
    Ok(())
}

/// The folded pair and what the prover sends.
#[derive(Clone, Debug)]
pub struct FoldOutput<G: CurveGroup> {
    /// Proof for the verifier.
    pub proof: NifsProof<G>,
    /// Folded instance (the verifier computes the same one).
    pub instance: RelaxedR1csInstance<G>,
    /// Folded witness.
    pub witness: RelaxedR1csWitness<G::ScalarField>,
    /// The challenge used.
    pub challenge: Challenge,
}

/// The cross term of a fold and its commitment: the prover's expensive part, which depends on the
/// two pairs only (not on the challenge), so several can be computed in parallel before their
/// challenges are drawn in order from one transcript.
#[derive(Clone, Debug)]
pub struct CrossTerm<G: CurveGroup> {
    /// `T`.
    pub t: Vec<G::ScalarField>,
    /// `T̄ = Com(T)`.
    pub comm_t: G::Affine,
}

/// The cross term of `(U₁, W₁) ⊕ (U₂, W₂)`, committed.
pub fn cross_term<G: CommitmentCurve>(
    ck: &CommitmentKey<G>,
    shape: &R1csShape<G::ScalarField>,
    (u1, w1): (&RelaxedR1csInstance<G>, &RelaxedR1csWitness<G::ScalarField>),
    (u2, w2): (&RelaxedR1csInstance<G>, &RelaxedR1csWitness<G::ScalarField>),
) -> Result<CrossTerm<G>, NifsError> {
    check_io(shape.num_io, u1, u2)?;
    for e in [&w1.e, &w2.e] {
        if e.len() != shape.num_constraints {
            return Err(R1csError::LengthMismatch { what: "E", expected: shape.num_constraints, got: e.len() }.into());
        }
    }
    let t = shape.cross_term((u1.u, &u1.x, &w1.w), (u2.u, &u2.x, &w2.w))?;
    let comm_t = ck.commit(&t)?;
    Ok(CrossTerm { t, comm_t })
}

/// Finish a fold whose instances the caller has already bound into `t` (absorbed them, or values
/// that determine them, such as a collision-resistant hash of the running instance): absorb `T̄`,
/// squeeze `r`, fold. The in-circuit verifiers mirror exactly this order.
pub fn fold_in_transcript<G>(
    t: &mut Transcript,
    (u1, w1): (&RelaxedR1csInstance<G>, &RelaxedR1csWitness<G::ScalarField>),
    (u2, w2): (&RelaxedR1csInstance<G>, &RelaxedR1csWitness<G::ScalarField>),
    cross: CrossTerm<G>,
) -> FoldOutput<G>
where
    G: CurveGroup,
    G::Affine: AbsorbInFr,
{
    t.absorb(&cross.comm_t);
    let challenge = t.challenge();
    let r = challenge.to_field::<G::ScalarField>();
    FoldOutput {
        instance: fold_instances(u1, u2, &cross.comm_t, r),
        witness: fold_witnesses(w1, w2, &cross.t, r),
        proof: NifsProof { comm_t: cross.comm_t },
        challenge,
    }
}

/// A strict pair in its relaxed form (`Ē` = ∞, `u` = 1, `E` = 0).
fn relaxed_pair<G: CurveGroup>(
    shape: &R1csShape<G::ScalarField>,
    u: &R1csInstance<G>,
    w: &R1csWitness<G::ScalarField>,
) -> (RelaxedR1csInstance<G>, RelaxedR1csWitness<G::ScalarField>) {
    (RelaxedR1csInstance::from_strict(u), RelaxedR1csWitness::from_strict(w, shape.num_constraints))
}

/// [`cross_term`] then [`fold_in_transcript`], with a fresh strict pair as the second operand.
pub fn prove_strict_in_transcript<G>(
    ck: &CommitmentKey<G>,
    shape: &R1csShape<G::ScalarField>,
    t: &mut Transcript,
    running: (&RelaxedR1csInstance<G>, &RelaxedR1csWitness<G::ScalarField>),
    (u2, w2): (&R1csInstance<G>, &R1csWitness<G::ScalarField>),
) -> Result<FoldOutput<G>, NifsError>
where
    G: CommitmentCurve,
    G::Affine: AbsorbInFr,
{
    let (u2, w2) = relaxed_pair(shape, u2, w2);
    let cross = cross_term(ck, shape, running, (&u2, &w2))?;
    Ok(fold_in_transcript(t, running, (&u2, &w2), cross))
}

/// Prover, standalone: fold `(U₁, W₁)` with `(U₂, W₂)` with `r = H(pp_digest, U₁, U₂, T̄)`.
pub fn prove<G>(
    ck: &CommitmentKey<G>,
    shape: &R1csShape<G::ScalarField>,
    pp_digest: Fr,
    (u1, w1): (&RelaxedR1csInstance<G>, &RelaxedR1csWitness<G::ScalarField>),
    (u2, w2): (&RelaxedR1csInstance<G>, &RelaxedR1csWitness<G::ScalarField>),
) -> Result<FoldOutput<G>, NifsError>
where
    G: CommitmentCurve,
    G::Affine: AbsorbInFr,
    G::ScalarField: AbsorbInFr,
{
    let cross = cross_term(ck, shape, (u1, w1), (u2, w2))?;
    let mut t = Transcript::new(NIFS_LABEL);
    t.absorb(&pp_digest);
    absorb_relaxed(&mut t, u1);
    absorb_relaxed(&mut t, u2);
    Ok(fold_in_transcript(&mut t, (u1, w1), (u2, w2), cross))
}

/// Prover for the standalone IVC case: fold a running pair with a fresh strict pair.
pub fn prove_strict<G>(
    ck: &CommitmentKey<G>,
    shape: &R1csShape<G::ScalarField>,
    pp_digest: Fr,
    running: (&RelaxedR1csInstance<G>, &RelaxedR1csWitness<G::ScalarField>),
    (u2, w2): (&R1csInstance<G>, &R1csWitness<G::ScalarField>),
) -> Result<FoldOutput<G>, NifsError>
where
    G: CommitmentCurve,
    G::Affine: AbsorbInFr,
    G::ScalarField: AbsorbInFr,
{
    let (u2, w2) = relaxed_pair(shape, u2, w2);
    prove(ck, shape, pp_digest, running, (&u2, &w2))
}

/// Verifier: the folded instance, from the two instances and the proof. `num_io` is the shape's
/// public-input count, which the verifier knows from its own parameters, never from the proof.
pub fn verify<G>(
    num_io: usize,
    pp_digest: Fr,
    u1: &RelaxedR1csInstance<G>,
    u2: &RelaxedR1csInstance<G>,
    proof: &NifsProof<G>,
) -> Result<RelaxedR1csInstance<G>, NifsError>
where
    G: CurveGroup,
    G::Affine: AbsorbInFr,
    G::ScalarField: AbsorbInFr,
{
    check_io(num_io, u1, u2)?;
    let r = challenge(pp_digest, u1, u2, &proof.comm_t).to_field::<G::ScalarField>();
    Ok(fold_instances(u1, u2, &proof.comm_t, r))
}

/// Verifier for the IVC case (second instance strict).
pub fn verify_strict<G>(
    num_io: usize,
    pp_digest: Fr,
    running: &RelaxedR1csInstance<G>,
    fresh: &R1csInstance<G>,
    proof: &NifsProof<G>,
) -> Result<RelaxedR1csInstance<G>, NifsError>
where
    G: CurveGroup,
    G::Affine: AbsorbInFr,
    G::ScalarField: AbsorbInFr,
{
    verify(num_io, pp_digest, running, &RelaxedR1csInstance::from_strict(fresh), proof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::r1cs::extract;
    use ark_bn254::G1Projective as G1;
    use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::{One, Zero};

    /// `y = x³ + x·k + 5` with public `(k, y)` and private `x`: one shape, many satisfying
    /// instances (different `x`, `k`), with both public inputs used in constraints.
    fn cubic<F: PrimeField>(x: u64, k: u64) -> (R1csShape<F>, Vec<F>, Vec<F>) {
        let cs = ConstraintSystem::<F>::new_ref();
        let (xv, kv) = (F::from(x), F::from(k));
        let yv = xv * xv * xv + xv * kv + F::from(5u64);
        let k_var = FpVar::new_input(cs.clone(), || Ok(kv)).unwrap();
        let y_var = FpVar::new_input(cs.clone(), || Ok(yv)).unwrap();
        let x_var = FpVar::new_witness(cs.clone(), || Ok(xv)).unwrap();
        let lhs = &x_var * &x_var * &x_var + &x_var * &k_var + F::from(5u64);
        lhs.enforce_equal(&y_var).unwrap();
        let (shape, a) = extract(&cs).unwrap();
        let a = a.unwrap();
        (shape, a.x, a.w)
    }

    struct Setup<G: CommitmentCurve> {
        ck: CommitmentKey<G>,
        shape: R1csShape<G::ScalarField>,
        pp: Fr,
    }

    fn setup<G: CommitmentCurve>() -> Setup<G> {
        let (shape, _, _) = cubic::<G::ScalarField>(0, 0);
        let ck = CommitmentKey::setup(b"nifs-test", shape.num_constraints.max(shape.num_witness)).unwrap();
        let pp = crate::r1cs::digest_to_field(b"pp", &[1, 2, 3]);
        Setup { ck, shape, pp }
    }

    fn strict<G: CommitmentCurve>(s: &Setup<G>, x: u64, k: u64) -> (R1csInstance<G>, R1csWitness<G::ScalarField>) {
        let (_, io, w) = cubic::<G::ScalarField>(x, k);
        (R1csInstance { comm_w: s.ck.commit(&w).unwrap(), x: io }, R1csWitness { w })
    }

    fn relaxed<G: CommitmentCurve>(
        s: &Setup<G>,
        x: u64,
        k: u64,
    ) -> (RelaxedR1csInstance<G>, RelaxedR1csWitness<G::ScalarField>) {
        let (u, w) = strict(s, x, k);
        (RelaxedR1csInstance::from_strict(&u), RelaxedR1csWitness::from_strict(&w, s.shape.num_constraints))
    }

    #[test]
    fn first_fold_of_two_strict_instances() {
        let s = setup::<G1>();
        let (u1, w1) = relaxed(&s, 3, 7);
        let (u2, w2) = strict(&s, 11, 2);
        let out = prove_strict(&s.ck, &s.shape, s.pp, (&u1, &w1), (&u2, &w2)).unwrap();
        s.shape.is_sat_relaxed(&s.ck, &out.instance, &out.witness).unwrap();
        let v = verify_strict(s.shape.num_io, s.pp, &u1, &u2, &out.proof).unwrap();
        assert_eq!(v, out.instance);
        // u = 1 + r and E = r·T (both inputs strict: E₁ = E₂ = 0)
        let r: Fr = out.challenge.to_field();
        assert_eq!(out.instance.u, Fr::one() + r);
        let t = s.shape.cross_term((Fr::one(), &u1.x, &w1.w), (Fr::one(), &u2.x, &w2.w)).unwrap();
        assert!(t.iter().any(|v| !v.is_zero()), "cross term is trivially zero: weak test");
        assert_eq!(out.witness.e, t.iter().map(|t| r * t).collect::<Vec<_>>());
        // the folded instance is genuinely relaxed: not a strict instance
        assert!(s.shape.check_relation(Fr::one(), &out.instance.x, &out.witness.w, None).is_err());
    }

    #[test]
    fn sequential_folds_stay_satisfied_and_start_from_dummy() {
        let s = setup::<G1>();
        // IVC base case: the fixed dummy running instance.
        let mut big_u = RelaxedR1csInstance::<G1>::dummy(s.shape.num_io);
        let mut big_w = RelaxedR1csWitness::dummy(&s.shape);
        for i in 0..8u64 {
            let (u, w) = strict(&s, i * 13 + 1, i + 2);
            let out = prove_strict(&s.ck, &s.shape, s.pp, (&big_u, &big_w), (&u, &w)).unwrap();
            let v = verify_strict(s.shape.num_io, s.pp, &big_u, &u, &out.proof).unwrap();
            assert_eq!(v, out.instance);
            s.shape.is_sat_relaxed(&s.ck, &out.instance, &out.witness).unwrap();
            big_u = out.instance;
            big_w = out.witness;
        }
        assert!(!big_u.u.is_one() && !big_u.comm_e.is_zero());
    }

    #[test]
    fn folding_two_running_instances_for_pcd_nodes() {
        let s = setup::<G1>();
        let fold_pair = |a: u64, b: u64| {
            let (u1, w1) = relaxed(&s, a, 1);
            let (u2, w2) = strict(&s, b, 2);
            let o = prove_strict(&s.ck, &s.shape, s.pp, (&u1, &w1), (&u2, &w2)).unwrap();
            (o.instance, o.witness)
        };
        let (l_u, l_w) = fold_pair(1, 2);
        let (r_u, r_w) = fold_pair(3, 4);
        let out = prove(&s.ck, &s.shape, s.pp, (&l_u, &l_w), (&r_u, &r_w)).unwrap();
        s.shape.is_sat_relaxed(&s.ck, &out.instance, &out.witness).unwrap();
        assert_eq!(verify(s.shape.num_io, s.pp, &l_u, &r_u, &out.proof).unwrap(), out.instance);
    }

    #[test]
    fn cyclefold_side_folds_on_grumpkin() {
        type Gg = ark_grumpkin::Projective;
        let s = setup::<Gg>();
        let (u1, w1) = relaxed(&s, 5, 9);
        let (u2, w2) = strict(&s, 6, 10);
        let out = prove_strict(&s.ck, &s.shape, s.pp, (&u1, &w1), (&u2, &w2)).unwrap();
        s.shape.is_sat_relaxed(&s.ck, &out.instance, &out.witness).unwrap();
        let v = verify_strict(s.shape.num_io, s.pp, &u1, &u2, &out.proof).unwrap();
        assert_eq!(v, out.instance);
        let mut bad_x = u2.clone();
        bad_x.x[0] += ark_bn254::Fq::one();
        let v = verify_strict(s.shape.num_io, s.pp, &u1, &bad_x, &out.proof).unwrap();
        assert!(s.shape.is_sat_relaxed(&s.ck, &v, &out.witness).is_err());
    }

    #[test]
    fn tampering_is_caught() {
        let s = setup::<G1>();
        let (u1, w1) = relaxed(&s, 3, 7);
        let (u2, w2) = strict(&s, 11, 2);
        let n_io = s.shape.num_io;
        let out = prove_strict(&s.ck, &s.shape, s.pp, (&u1, &w1), (&u2, &w2)).unwrap();
        let rejected = |inst: &RelaxedR1csInstance<G1>, wit: &RelaxedR1csWitness<Fr>| {
            s.shape.is_sat_relaxed(&s.ck, inst, wit).is_err()
        };

        // comm_T replaced: the verifier's folded instance no longer matches the witness.
        let bad_proof = NifsProof { comm_t: (out.proof.comm_t + s.ck.generators[0]).into_affine() };
        let v = verify_strict(n_io, s.pp, &u1, &u2, &bad_proof).unwrap();
        assert!(rejected(&v, &out.witness));

        // T replaced (honest comm_T): the prover's folded witness fails.
        let t = s.shape.cross_term((u1.u, &u1.x, &w1.w), (Fr::one(), &u2.x, &w2.w)).unwrap();
        let mut t_bad = t.clone();
        t_bad[0] += Fr::one();
        let r: Fr = out.challenge.to_field();
        let w2r = RelaxedR1csWitness::from_strict(&w2, s.shape.num_constraints);
        let wit = fold_witnesses(&w1, &w2r, &t_bad, r);
        assert!(rejected(&out.instance, &wit));
        // ... and with a commitment to the bad T, the relation itself fails.
        let comm_bad = s.ck.commit(&t_bad).unwrap();
        let rb: Fr = challenge(s.pp, &u1, &RelaxedR1csInstance::from_strict(&u2), &comm_bad).to_field();
        let inst = fold_instances(&u1, &RelaxedR1csInstance::from_strict(&u2), &comm_bad, rb);
        let wit = fold_witnesses(&w1, &w2r, &t_bad, rb);
        assert!(matches!(s.shape.is_sat_relaxed(&s.ck, &inst, &wit), Err(R1csError::Unsatisfied { .. })));

        // A wrong step witness (honestly committed) cannot be folded into a satisfied pair.
        let mut w_bad = w2.clone();
        w_bad.w[0] += Fr::one();
        let u_bad = R1csInstance::<G1> { comm_w: s.ck.commit(&w_bad.w).unwrap(), x: u2.x.clone() };
        let o = prove_strict(&s.ck, &s.shape, s.pp, (&u1, &w1), (&u_bad, &w_bad)).unwrap();
        assert!(rejected(&o.instance, &o.witness));

        // A wrong public input cannot either.
        let mut u_badx = u2.clone();
        u_badx.x[1] += Fr::one();
        let o = prove_strict(&s.ck, &s.shape, s.pp, (&u1, &w1), (&u_badx, &w2)).unwrap();
        assert!(rejected(&o.instance, &o.witness));

        // Verifier given a different fresh instance than the prover folded.
        let v = verify_strict(n_io, s.pp, &u1, &u_badx, &out.proof).unwrap();
        assert!(rejected(&v, &out.witness));

        // Proof under other parameters (other pp digest) folds to garbage.
        let other_pp = crate::r1cs::digest_to_field(b"pp", &[9]);
        let v = verify_strict(n_io, other_pp, &u1, &u2, &out.proof).unwrap();
        assert!(rejected(&v, &out.witness));

        // Wrong public-input lengths are refused outright (A.9).
        let mut short = u2.clone();
        short.x.pop();
        assert!(matches!(
            verify_strict(n_io, s.pp, &u1, &short, &out.proof),
            Err(NifsError::PublicInputLength { which: "second", .. })
        ));
        assert!(prove_strict(&s.ck, &s.shape, s.pp, (&u1, &w1), (&short, &w2)).is_err());
        let mut short_e = w1.clone();
        short_e.e.pop();
        assert!(prove_strict(&s.ck, &s.shape, s.pp, (&u1, &short_e), (&u2, &w2)).is_err());
    }

    #[test]
    fn challenge_depends_on_every_absorbed_value() {
        let s = setup::<G1>();
        let (a, _) = relaxed(&s, 3, 7);
        let (mut b, _) = relaxed(&s, 4, 8);
        b.u = Fr::from(5u64);
        b.comm_e = s.ck.generators[0];
        let t = s.ck.generators.last().copied().unwrap();
        let base = challenge(s.pp, &a, &b, &t);
        let g = s.ck.generators[0];
        let bump = |p: &ark_bn254::G1Affine| (*p + g).into_affine();
        let mut variants: Vec<Challenge> = vec![
            challenge(s.pp + Fr::one(), &a, &b, &t),
            challenge(s.pp, &b, &a, &t),
            challenge(s.pp, &a, &b, &bump(&t)),
            challenge(s.pp, &a, &b, &ark_bn254::G1Affine::zero()),
        ];
        for inst_idx in 0..2 {
            let mut muts: Vec<RelaxedR1csInstance<G1>> = Vec::new();
            let src = if inst_idx == 0 { &a } else { &b };
            let mut m = src.clone();
            m.comm_w = bump(&m.comm_w);
            muts.push(m);
            let mut m = src.clone();
            m.comm_e = bump(&m.comm_e);
            muts.push(m);
            let mut m = src.clone();
            m.u += Fr::one();
            muts.push(m);
            for i in 0..src.x.len() {
                let mut m = src.clone();
                m.x[i] += Fr::one();
                muts.push(m);
            }
            let mut m = src.clone();
            m.x.push(Fr::zero());
            muts.push(m);
            for m in muts {
                variants.push(if inst_idx == 0 { challenge(s.pp, &m, &b, &t) } else { challenge(s.pp, &a, &m, &t) });
            }
        }
        assert!(variants.len() >= 16);
        for v in &variants {
            assert_ne!(*v, base);
        }
    }

    #[test]
    fn proof_serialization_roundtrip_and_garbage() {
        let s = setup::<G1>();
        let (u1, w1) = relaxed(&s, 3, 7);
        let (u2, w2) = strict(&s, 11, 2);
        let out = prove_strict(&s.ck, &s.shape, s.pp, (&u1, &w1), (&u2, &w2)).unwrap();
        let mut bytes = Vec::new();
        out.proof.serialize_compressed(&mut bytes).unwrap();
        assert_eq!(NifsProof::<G1>::deserialize_compressed(&bytes[..]).unwrap(), out.proof);
        assert!(NifsProof::<G1>::deserialize_compressed(&bytes[..bytes.len() - 1]).is_err());
        let mut garbage = bytes.clone();
        garbage[0] ^= 0x5a;
        garbage[5] ^= 0xff;
        // A flipped x-coordinate either fails to decode (not on curve) or decodes to another point.
        if let Ok(p) = NifsProof::<G1>::deserialize_compressed(&garbage[..]) {
            assert_ne!(p, out.proof);
        }
        let mut inst_bytes = Vec::new();
        out.instance.serialize_compressed(&mut inst_bytes).unwrap();
        assert_eq!(RelaxedR1csInstance::<G1>::deserialize_compressed(&inst_bytes[..]).unwrap(), out.instance);
        assert!(RelaxedR1csInstance::<G1>::deserialize_compressed(&inst_bytes[..inst_bytes.len() - 3]).is_err());
    }
}
