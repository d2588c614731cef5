//! The augmented (primary) circuit over `Fr`: one IVC step = the step circuit plus an in-circuit
//! NIFS verifier, with the G1 arithmetic delegated to CycleFold.
//!
//! # Public input
//!
//! One element, `h_{i+1} = H(pp, i + 1, z₀, z_{i+1}, U_{i+1}, cf_U_{i+1})` ([`state_hash`]; a
//! Poseidon transcript with its own label, vectors length-prefixed (A.5), full-`Fr` output).
//! Because every running instance and the parameters digest are inside the hash, the final
//! verifier needs only the last fresh instance's `x` to authenticate `U`, `cf_U`, `i`, `z₀`, `z_i`
//! (PROVER-PITFALLS A.1, A.2).
//!
//! # Constraints, in order
//!
//! 1. `is_base = (i = 0)`; `h_in = H(pp, i, z₀, z_i, U_i, cf_U_i)` recomputed here; unless
//!    `is_base`, the fresh instance's public input equals `h_in`; when `is_base`, `z_i = z₀` (A.4).
//! 2. One *step transcript* ([`IVC_FOLD_LABEL`]) carries every challenge of the step. The primary
//!    challenge `r` is squeezed after absorbing `h_in`, the fresh instance's `W̄` and `x`, and `T̄`
//!    ([`fold_fresh_var`]; natively [`crate::ivc::fold_fresh`]). `h_in` stands for `(pp, U_i,
//!    cf_U_i)`: it is a collision-resistant hash of them, so the challenge is bound to them
//!    exactly as if they were absorbed one by one (A.6), for one absorbed element instead of
//!    fifteen-odd per running instance. G1 points are canonical limbs ([`G1LimbsVar`], A.7);
//!    challenges are 128 unique bits.
//! 3. `u' = u + r`, `x' = x + r·x_fresh` (native `Fr`).
//! 4. `W̄'`, `Ē'` are witnesses; two CycleFold claims `W̄' = W̄ + r·w̄` and `Ē' = Ē + r·T̄` whose
//!    public inputs are built here from the same limbs, parity bits and `r` bits (A.3,
//!    [`claim_x`]).
//! 5. Each claim's CycleFold instance (Grumpkin commitment `cf_w̄`, cross term `cf_T̄`, both
//!    witnesses checked on the curve) is folded into `cf_U` natively ([`fold_claim_var`]): the
//!    step transcript continues with the claim's result point (its other points and `r` are bound
//!    already, so the whole claim instance is), `cf_w̄` and `cf_T̄`, and squeezes the claim's
//!    challenge. The running `cf_U` between the two claims is never absorbed: it is determined by
//!    what the transcript absorbed before (A.6 holds through the sponge state). Two 128-bit scalar
//!    multiplications; the `Fq` scalars `u`, `x` folded with [`fq_add_challenge`] and
//!    [`fq_mul_add`] (non-native, exact integer checks). The first claim's results may stay
//!    unreduced ([`FqOut::Unreduced`]: never absorbed), the second's are canonical (hashed).
//! 6. `U_{i+1}`, `cf_U_{i+1}` are the folded values, or the canonical dummies when `is_base`.
//! 7. `z_{i+1} = F(i, z_i)`; `h_{i+1}` is computed and made the only public input.
//!
//! The parameters digest `pp` is a witness: it enters every hash (and through `h_in` every
//! challenge), and the final verifier recomputes the last hash with the real digest, so (by
//! collision resistance along the chain of hashes) every step used it.
//!
//! Size (test `fibonacci_constraint_count`): 32,412 constraints, 29,626 witnesses for Fibonacci
//! with one iteration (the step itself is 1 constraint; 44,970 before the step transcript and
//! the cheaper non-native arithmetic, 65,222 before G1 points were compressed). Roughly: two
//! state hashes (~3.5k each), three challenges (~0.9k each with their absorptions), eight
//! non-native multiply-adds (~0.9k canonical, ~0.5k unreduced), two `u + r` (~0.6k / ~0.3k), six G1
//! `x` coordinates and the running CycleFold scalars as canonical bits (11 × ~633), four 128-bit
//! Grumpkin scalar multiplications (~1.2k each). G1 points are absorbed and claimed compressed (`x`
//! and the parity of `y`, [`crate::transcript::g1_to_limbs`]), so the CycleFold public input is 4
//! entries.

use ark_bn254::{Fq, Fr, G1Affine};
use ark_ec::{AffineRepr, short_weierstrass::SWCurveConfig};
use ark_ff::{BigInteger, Field, PrimeField, Zero};
use ark_r1cs_std::{
    GR1CSVar,
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
    groups::CurveVar,
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::step_circuit::{synthesize_outer, synthesize_outer_values};
use crate::{
    cyclefold::CYCLEFOLD_NUM_IO,
    nifs::absorb_relaxed,
    nonnative::{FQ_BITS, FqLimbsVar, G1LimbsVar, LOW_LIMB_BITS},
    r1cs::{Assignment, R1csError, R1csInstance, R1csShape, RelaxedR1csInstance},
    step_circuit::{MAX_ARITY, StepCircuit, StepError},
    transcript::{CHALLENGE_BITS, Transcript},
    transcript_gadget::{ChallengeVar, GrumpkinVar, TranscriptVar},
};

/// BN254 G1 (the primary curve).
pub type G1 = ark_bn254::G1Projective;
/// Grumpkin (the CycleFold curve).
pub type Gg = ark_grumpkin::Projective;

/// Transcript label of the IVC state hash.
pub const STATE_HASH_LABEL: &[u8] = b"nexus-nova/ivc-state/v1";
/// Transcript label of an IVC step's folds (the primary fold and its CycleFold claims).
pub const IVC_FOLD_LABEL: &[u8] = b"nexus-nova/ivc-fold/v2";
/// Number of public inputs of the augmented circuit.
pub const AUGMENTED_NUM_IO: usize = 1;

/// `H(pp, i, z₀, z_i, U, cf_U)`, the public input of the fresh instance that proves step `i − 1`.
pub fn state_hash(
    pp: Fr,
    i: u64,
    z0: &[Fr],
    zi: &[Fr],
    running: &RelaxedR1csInstance<G1>,
    cf_running: &RelaxedR1csInstance<Gg>,
) -> Fr {
    let mut t = Transcript::new(STATE_HASH_LABEL);
    t.absorb(&pp);
    t.absorb(&Fr::from(i));
    t.absorb(z0);
    t.absorb(zi);
    absorb_relaxed(&mut t, running);
    absorb_relaxed(&mut t, cf_running);
    t.squeeze_fr()
}

/// Everything the prover feeds one step of the augmented circuit (all native values).
#[derive(Clone, Debug)]
pub struct AugmentedInputs {
    /// Public-parameters digest.
    pub pp: Fr,
    /// Step index.
    pub i: u64,
    /// Initial state.
    pub z0: Vec<Fr>,
    /// Current state.
    pub zi: Vec<Fr>,
    /// Running primary instance `U_i`.
    pub running: RelaxedR1csInstance<G1>,
    /// Running CycleFold instance `cf_U_i`.
    pub cf_running: RelaxedR1csInstance<Gg>,
    /// Fresh primary instance `u_i` (the previous step's proof).
    pub fresh: R1csInstance<G1>,
    /// `T̄` of the primary fold.
    pub comm_t: G1Affine,
    /// Claimed `W̄' = W̄ + r·w̄`.
    pub folded_w: G1Affine,
    /// Claimed `Ē' = Ē + r·T̄`.
    pub folded_e: G1Affine,
    /// For each of the two CycleFold claims: the claim instance's `comm_W` and the cross-term
    /// commitment of its fold into the running CycleFold instance.
    pub cf_claims: [(ark_grumpkin::Affine, ark_grumpkin::Affine); 2],
}

impl AugmentedInputs {
    /// Inputs for synthesizing the shape only (values are irrelevant to the shape).
    pub fn placeholder(arity: usize) -> Self {
        Self {
            pp: Fr::zero(),
            i: 0,
            z0: vec![Fr::zero(); arity],
            zi: vec![Fr::zero(); arity],
            running: RelaxedR1csInstance::dummy(AUGMENTED_NUM_IO),
            cf_running: RelaxedR1csInstance::dummy(CYCLEFOLD_NUM_IO),
            fresh: R1csInstance { comm_w: G1Affine::zero(), x: vec![Fr::zero(); AUGMENTED_NUM_IO] },
            comm_t: G1Affine::zero(),
            folded_w: G1Affine::zero(),
            folded_e: G1Affine::zero(),
            cf_claims: [(ark_grumpkin::Affine::zero(), ark_grumpkin::Affine::zero()); 2],
        }
    }
}

/// A synthesized step: shape, assignment, and the values the prover carries forward.
#[derive(Clone, Debug)]
pub struct AugmentedOutput {
    /// The shape (identical for every step of one step circuit).
    pub shape: R1csShape<Fr>,
    /// Public input `[h_{i+1}]` and witness.
    pub assignment: Assignment<Fr>,
    /// `z_{i+1}`.
    pub z_next: Vec<Fr>,
}

/// Synthesize the augmented circuit for `inputs` around `circuit`.
pub fn synthesize<C: StepCircuit<Fr> + ?Sized>(
    circuit: &C,
    inputs: &AugmentedInputs,
) -> Result<AugmentedOutput, StepError> {
    check_inputs(circuit, inputs)?;
    let (shape, assignment, z_next) = synthesize_outer(|cs| generate_constraints(cs, circuit, inputs))?;
    Ok(AugmentedOutput { shape, assignment, z_next })
}

/// The prover's synthesis: the assignment and `z_{i+1}` only, without building the matrices
/// (see [`crate::r1cs::witness_only_cs`]).
pub fn synthesize_witness<C: StepCircuit<Fr> + ?Sized>(
    circuit: &C,
    inputs: &AugmentedInputs,
) -> Result<(Assignment<Fr>, Vec<Fr>), StepError> {
    check_inputs(circuit, inputs)?;
    synthesize_outer_values(|cs| generate_constraints(cs, circuit, inputs))
}

fn check_inputs<C: StepCircuit<Fr> + ?Sized>(circuit: &C, inputs: &AugmentedInputs) -> Result<(), StepError> {
    let arity = circuit.arity();
    if arity == 0 || arity > MAX_ARITY {
        return Err(StepError::BadArity(arity));
    }
    for (what, len) in [("z_in", inputs.z0.len()), ("z_in", inputs.zi.len())] {
        if len != arity {
            return Err(StepError::Arity { what, arity, got: len });
        }
    }
    for (what, got, expected) in [
        ("running x", inputs.running.x.len(), AUGMENTED_NUM_IO),
        ("fresh x", inputs.fresh.x.len(), AUGMENTED_NUM_IO),
        ("CycleFold running x", inputs.cf_running.x.len(), CYCLEFOLD_NUM_IO),
    ] {
        if got != expected {
            return Err(StepError::R1cs(R1csError::LengthMismatch { what, expected, got }));
        }
    }
    Ok(())
}

/// The running primary instance in circuit.
pub(crate) struct RunningVar {
    pub(crate) w: G1LimbsVar,
    pub(crate) e: G1LimbsVar,
    pub(crate) u: FpVar<Fr>,
    pub(crate) x: Vec<FpVar<Fr>>,
}

impl RunningVar {
    pub(crate) fn absorb(&self, t: &mut TranscriptVar) -> Result<(), SynthesisError> {
        t.absorb_g1_limbs(&self.w.limbs())?;
        t.absorb_g1_limbs(&self.e.limbs())?;
        t.absorb_fr(std::slice::from_ref(&self.u))?;
        t.absorb_fr_vec(&self.x)
    }

    pub(crate) fn select(cond: &Boolean<Fr>, a: &Self, b: &Self) -> Result<Self, SynthesisError> {
        Ok(Self {
            w: select_g1(cond, &a.w, &b.w)?,
            e: select_g1(cond, &a.e, &b.e)?,
            u: cond.select(&a.u, &b.u)?,
            x: a.x.iter().zip(&b.x).map(|(p, q)| cond.select(p, q)).collect::<Result<_, _>>()?,
        })
    }
}

/// The running CycleFold instance in circuit: native Grumpkin points, non-native `Fq` scalars.
#[derive(Clone)]
pub(crate) struct CfRunningVar {
    pub(crate) w: GrumpkinVar,
    pub(crate) e: GrumpkinVar,
    pub(crate) u: FqLimbsVar,
    pub(crate) x: Vec<FqLimbsVar>,
}

impl CfRunningVar {
    pub(crate) fn absorb(&self, t: &mut TranscriptVar) -> Result<(), SynthesisError> {
        t.absorb_grumpkin(&self.w)?;
        t.absorb_grumpkin(&self.e)?;
        t.absorb_fq_limbs(&self.u.limbs)?;
        t.absorb_fr(&[FpVar::Constant(Fr::from(self.x.len() as u64))])?;
        for v in &self.x {
            t.absorb_fq_limbs(&v.limbs)?;
        }
        Ok(())
    }

    pub(crate) fn alloc(cs: &ConstraintSystemRef<Fr>, inst: &RelaxedR1csInstance<Gg>) -> Result<Self, SynthesisError> {
        Ok(Self {
            w: alloc_grumpkin(cs, &inst.comm_w)?,
            e: alloc_grumpkin(cs, &inst.comm_e)?,
            u: FqLimbsVar::new_witness(cs.clone(), Some(inst.u))?,
            x: inst.x.iter().map(|v| FqLimbsVar::new_witness(cs.clone(), Some(*v))).collect::<Result<_, _>>()?,
        })
    }

    /// The canonical dummy `(∞, ∞, 0, 0)` as constants.
    pub(crate) fn dummy() -> Self {
        Self {
            w: GrumpkinVar::zero(),
            e: GrumpkinVar::zero(),
            u: fq_constant(Fq::zero()),
            x: vec![fq_constant(Fq::zero()); CYCLEFOLD_NUM_IO],
        }
    }

    pub(crate) fn select(cond: &Boolean<Fr>, a: &Self, b: &Self) -> Result<Self, SynthesisError> {
        Ok(Self {
            w: cond.select(&a.w, &b.w)?,
            e: cond.select(&a.e, &b.e)?,
            u: select_fq(cond, &a.u, &b.u)?,
            x: a.x.iter().zip(&b.x).map(|(p, q)| select_fq(cond, p, q)).collect::<Result<_, _>>()?,
        })
    }
}

fn select_fq(cond: &Boolean<Fr>, a: &FqLimbsVar, b: &FqLimbsVar) -> Result<FqLimbsVar, SynthesisError> {
    // Only the limbs are hashed after a selection; the bits are kept consistent for later use.
    Ok(FqLimbsVar {
        bits: a.bits.iter().zip(&b.bits).map(|(p, q)| cond.select(p, q)).collect::<Result<_, _>>()?,
        limbs: [cond.select(&a.limbs[0], &b.limbs[0])?, cond.select(&a.limbs[1], &b.limbs[1])?],
    })
}

fn select_g1(cond: &Boolean<Fr>, a: &G1LimbsVar, b: &G1LimbsVar) -> Result<G1LimbsVar, SynthesisError> {
    Ok(G1LimbsVar { x: select_fq(cond, &a.x, &b.x)?, y_odd: cond.select(&a.y_odd, &b.y_odd)? })
}

/// A constant `Fq` value in limb form.
pub(crate) fn fq_constant(v: Fq) -> FqLimbsVar {
    let words = v.into_bigint().0;
    let bits = (0..FQ_BITS).map(|i| Boolean::Constant((words[i / 64] >> (i % 64)) & 1 == 1)).collect();
    let limbs = crate::transcript::fq_to_limbs(&v).map(FpVar::Constant);
    FqLimbsVar { bits, limbs }
}

/// The CycleFold public input of the claim `p3 = p1 + r·p2` ([`crate::cyclefold::public_input`]),
/// from the same limbs and bits the transcripts absorbed (A.3): the first entry is `r` with the
/// three parity bits above it (bits 128–130), then the three `x` coordinates.
pub(crate) fn claim_x(r: &ChallengeVar, p1: &G1LimbsVar, p2: &G1LimbsVar, p3: &G1LimbsVar) -> Vec<FqLimbsVar> {
    let signs = [&p1.y_odd, &p2.y_odd, &p3.y_odd];
    let mut bits = r.bits.clone();
    bits.extend(signs.iter().map(|b| (*b).clone()));
    bits.resize(FQ_BITS, Boolean::FALSE);
    let hi = signs
        .iter()
        .enumerate()
        .fold(FpVar::zero(), |acc, (k, b)| acc + FpVar::from((*b).clone()) * Fr::from(1u64 << k));
    vec![FqLimbsVar { bits, limbs: [r.value.clone(), hi] }, p1.x.clone(), p2.x.clone(), p3.x.clone()]
}

/// Allocate a Grumpkin point as affine `(x, y)` witnesses, infinity `(0, 0)`, on the curve unless
/// infinity (A.7). arkworks' own `new_witness` allocates a free projective `Z`, which admits the
/// invalid `(0 : 0 : 0)`; this allocation cannot.
pub(crate) fn alloc_grumpkin(
    cs: &ConstraintSystemRef<Fr>,
    p: &ark_grumpkin::Affine,
) -> Result<GrumpkinVar, SynthesisError> {
    let (xv, yv) = p.xy().unwrap_or((Fr::zero(), Fr::zero()));
    let x = FpVar::new_witness(cs.clone(), || Ok(xv))?;
    let y = FpVar::new_witness(cs.clone(), || Ok(yv))?;
    let inf = x.is_zero()? & y.is_zero()?;
    let b = FpVar::constant(ark_grumpkin::GrumpkinConfig::COEFF_B);
    let curve_eq = y.square()? - (x.square()? * &x + b);
    inf.select(&FpVar::zero(), &curve_eq)?.enforce_equal(&FpVar::zero())?;
    let py = inf.select(&FpVar::one(), &y)?;
    let pz = inf.select(&FpVar::zero(), &FpVar::one())?;
    Ok(GrumpkinVar::new(x, py, pz))
}

/// The integer the bits encode (possibly `≥ q` for an unreduced value).
fn fq_integer(v: &FqLimbsVar) -> Result<<Fq as PrimeField>::BigInt, SynthesisError> {
    let mut words = [0u64; 4];
    for (i, b) in v.bits.iter().enumerate() {
        if b.value()? {
            words[i / 64] |= 1 << (i % 64);
        }
    }
    Ok(ark_ff::BigInt(words))
}

fn fq_to_fr(v: &Fq) -> Fr {
    fq_to_fr_int(&v.into_bigint())
}

fn fq_reduce(v: &<Fq as PrimeField>::BigInt) -> Fq {
    Fq::from_le_bytes_mod_order(&v.to_bytes_le())
}

fn fq_to_fr_int(v: &<Fq as PrimeField>::BigInt) -> Fr {
    Fr::from_le_bytes_mod_order(&v.to_bytes_le())
}

/// Whether a non-native result must be the canonical integer (`≤ q − 1`) or may be any 254-bit
/// integer congruent to it.
///
/// Only values that are absorbed into a hash or transcript need one encoding (A.7). The running
/// CycleFold scalars between two folds of one step are never absorbed (the step transcript binds
/// them through what determines them), and [`fq_mul_add`] and [`fq_add_challenge`] are exact for any
/// 254-bit input, so intermediate results skip the ~380-constraint comparison with `q − 1`; the
/// last fold of a step produces canonical values, which the output hash absorbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FqOut {
    /// `≤ q − 1`: absorbed later.
    Canonical,
    /// Any 254-bit integer congruent mod `q`: consumed only by further non-native arithmetic.
    Unreduced,
}

impl FqOut {
    fn alloc(self, cs: &ConstraintSystemRef<Fr>, v: Option<Fq>) -> Result<FqLimbsVar, SynthesisError> {
        self.alloc_words(cs, v.map(|v| v.into_bigint().0))
    }

    fn alloc_words(self, cs: &ConstraintSystemRef<Fr>, words: Option<[u64; 4]>) -> Result<FqLimbsVar, SynthesisError> {
        FqLimbsVar::alloc_bits(cs.clone(), words, self == FqOut::Canonical)
    }
}

fn r_value(r_bits: &[Boolean<Fr>]) -> Result<u128, SynthesisError> {
    let mut r = 0u128;
    for (i, b) in r_bits.iter().enumerate() {
        r |= u128::from(b.value()?) << i;
    }
    Ok(r)
}

/// `2^bits` in `Fr`.
fn pow2(bits: u64) -> Fr {
    Fr::from(2u64).pow([bits])
}

/// A signed witness `v ∈ [−2^(bits−1), 2^(bits−1))`, range-checked by `bits` booleans (offset
/// binary), from the prover's value `value` of the integer.
fn signed_range_witness(
    cs: &ConstraintSystemRef<Fr>,
    value: Result<Fr, SynthesisError>,
    bits: usize,
) -> Result<FpVar<Fr>, SynthesisError> {
    let offset = pow2(bits as u64 - 1);
    let shifted = value.map(|v| v + offset);
    let bs = (0..bits)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                shifted.as_ref().map(|v| v.into_bigint().get_bit(i)).map_err(|_| SynthesisError::AssignmentMissing)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Boolean::le_bits_to_fp(&bs)? - offset)
}

/// `x + r·y mod q` for 254-bit integers `x, y` and a 128-bit `r`.
///
/// The prover supplies the result `o` (254 bits; canonical if `out` asks) and the quotient
/// `k < 2^129`; the circuit checks `x + r·y = k·q + o` over the integers. With 64-bit limbs each
/// limb position's sum `c_j` is below `2^131` in absolute value; positions are checked in pairs
/// (`c_{2j} + 2^64·c_{2j+1}`, below `2^196`) with two carries range-checked to `[−2^68, 2^68)`, so
/// no relation can wrap modulo `Fr`'s modulus (≈ 2^254). `k < 2^129` holds for any 254-bit
/// inputs: `(2^254 + 2^128·2^254) / q < 2^129`.
pub fn fq_mul_add(
    cs: &ConstraintSystemRef<Fr>,
    x: &FqLimbsVar,
    r_bits: &[Boolean<Fr>],
    y: &FqLimbsVar,
    out: FqOut,
) -> Result<FqLimbsVar, SynthesisError> {
    if r_bits.len() != CHALLENGE_BITS as usize || x.bits.len() != FQ_BITS || y.bits.len() != FQ_BITS {
        return Err(SynthesisError::Unsatisfiable);
    }
    let vals = (|| -> Result<_, SynthesisError> { Ok((fq_integer(x)?, r_value(r_bits)?, fq_integer(y)?)) })();
    let out_v = vals.as_ref().ok().map(|(xi, r, yi)| fq_reduce(xi) + Fq::from(*r) * fq_reduce(yi));
    let o = out.alloc(cs, out_v)?;
    // k = (x + r·y − o) / q exactly, for the integers x, y the bits hold; computed in Fr, where
    // it is the same small integer.
    let k_v = match (&vals, out_v) {
        (Ok((xi, r, yi)), Some(ov)) => {
            let q_inv = fq_to_fr_int(&Fq::MODULUS).inverse().ok_or(SynthesisError::Unsatisfiable)?;
            Some((fq_to_fr_int(xi) + Fr::from(*r) * fq_to_fr_int(yi) - fq_to_fr(&ov)) * q_inv)
        }
        _ => None,
    };
    let k_bits = (0..=CHALLENGE_BITS as usize)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                k_v.map(|k| k.into_bigint().get_bit(i)).ok_or(SynthesisError::AssignmentMissing)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let limbs64 = |bits: &[Boolean<Fr>]| bits.chunks(64).map(Boolean::le_bits_to_fp).collect::<Result<Vec<_>, _>>();
    let (xl, yl, ol, rl, kl) =
        (limbs64(&x.bits)?, limbs64(&y.bits)?, limbs64(&o.bits)?, limbs64(r_bits)?, limbs64(&k_bits)?);
    let q_words = Fq::MODULUS.0;
    let mut c: Vec<FpVar<Fr>> = vec![FpVar::zero(); 6];
    for j in 0..4 {
        c[j] += &xl[j] - &ol[j];
    }
    for (a, ra) in rl.iter().enumerate() {
        for (b, yb) in yl.iter().enumerate() {
            c[a + b] += ra * yb;
        }
    }
    for (a, ka) in kl.iter().enumerate() {
        for (b, qb) in q_words.iter().enumerate() {
            c[a + b] -= ka * Fr::from(*qb);
        }
    }
    let (two64, two128) = (pow2(64), pow2(128));
    let two128_inv = two128.inverse().ok_or(SynthesisError::Unsatisfiable)?;
    let mut carry = FpVar::zero();
    for pair in c[..4].chunks(2) {
        let t = &pair[0] + &pair[1] * two64 + &carry;
        let next = signed_range_witness(cs, t.value().map(|v| v * two128_inv), 69)?;
        t.enforce_equal(&(&next * two128))?;
        carry = next;
    }
    (&c[4] + &c[5] * two64 + &carry).enforce_equal(&FpVar::zero())?;
    debug_assert_eq!(LOW_LIMB_BITS, 128);
    Ok(o)
}

/// `x + r mod q` for a 254-bit integer `x` and a 128-bit `r` (the `u` of a CycleFold fold, whose
/// fresh `u` is 1): `x + r = k·q + o` with `k ∈ {0, 1}` (`x + r < 2^254 + 2^128 < 2q`), checked on
/// the 128-bit limbs with one carry `c ∈ {−1, 0, 1}`. About a quarter of [`fq_mul_add`].
pub fn fq_add_challenge(
    cs: &ConstraintSystemRef<Fr>,
    x: &FqLimbsVar,
    r: &ChallengeVar,
    out: FqOut,
) -> Result<FqLimbsVar, SynthesisError> {
    if r.bits.len() != CHALLENGE_BITS as usize || x.bits.len() != FQ_BITS {
        return Err(SynthesisError::Unsatisfiable);
    }
    let vals = (|| -> Result<_, SynthesisError> { Ok((fq_integer(x)?, r_value(&r.bits)?)) })();
    let out_v = vals.as_ref().ok().map(|(xi, r)| fq_reduce(xi) + Fq::from(*r));
    let o = out.alloc(cs, out_v)?;
    // k = 1 exactly when x + r − o (an integer, 0 or q) is not zero.
    let k_v = match (&vals, out_v) {
        (Ok((xi, r)), Some(ov)) => Ok(!(fq_to_fr_int(xi) + Fr::from(*r) - fq_to_fr(&ov)).is_zero()),
        _ => Err(SynthesisError::AssignmentMissing),
    };
    let k = Boolean::new_witness(cs.clone(), || k_v)?;
    let (q_lo, q_hi) = q_limbs();
    let k_fp = FpVar::from(k);
    let lo = &x.limbs[0] + &r.value - &o.limbs[0] - &k_fp * q_lo;
    let two128 = pow2(128);
    let c_v = lo.value().map(|v| v * two128.inverse().unwrap_or_default());
    let c = FpVar::new_witness(cs.clone(), || c_v)?;
    // c ∈ {−1, 0, 1}
    (&c * &c * &c).enforce_equal(&c)?;
    lo.enforce_equal(&(&c * two128))?;
    (&x.limbs[1] + &c - &o.limbs[1] - &k_fp * q_hi).enforce_equal(&FpVar::zero())?;
    Ok(o)
}

/// `q`'s 128-bit limbs as `Fr` constants.
fn q_limbs() -> (Fr, Fr) {
    let w = Fq::MODULUS.0;
    let lo = (u128::from(w[1]) << 64) | u128::from(w[0]);
    let hi = (u128::from(w[3]) << 64) | u128::from(w[2]);
    (Fr::from(lo), Fr::from(hi))
}

/// A CycleFold claim `p3 = p1 + r·p2` in circuit, with the points the transcript absorbed.
pub(crate) struct ClaimVar<'a> {
    pub(crate) r: &'a ChallengeVar,
    pub(crate) p1: &'a G1LimbsVar,
    pub(crate) p2: &'a G1LimbsVar,
    pub(crate) p3: &'a G1LimbsVar,
}

/// Fold one CycleFold claim instance into `running`, continuing the step's transcript `t` as
/// [`crate::ivc::fold_claim`] does natively: absorb the claim's result `p3` (its `r`, `p1`
/// and `p2` are bound already), the claim instance's `comm_W` and the cross term `cf_T̄`, then
/// squeeze the challenge and fold (`W̄ + r·w̄`, `Ē + r·T̄` natively on Grumpkin, the `Fq` scalars
/// `u + r`, `x + r·x_claim` non-natively).
pub(crate) fn fold_claim_var(
    cs: &ConstraintSystemRef<Fr>,
    t: &mut TranscriptVar,
    running: &CfRunningVar,
    claim: ClaimVar<'_>,
    (comm_w, comm_t): (&ark_grumpkin::Affine, &ark_grumpkin::Affine),
    out: FqOut,
) -> Result<CfRunningVar, SynthesisError> {
    let cf_x = claim_x(claim.r, claim.p1, claim.p2, claim.p3);
    let comm_w = alloc_grumpkin(cs, comm_w)?;
    let comm_t = alloc_grumpkin(cs, comm_t)?;
    t.absorb_g1_limbs(&claim.p3.limbs())?;
    t.absorb_grumpkin(&comm_w)?;
    t.absorb_grumpkin(&comm_t)?;
    let rc = t.challenge()?;
    Ok(CfRunningVar {
        w: running.w.clone() + comm_w.scalar_mul_le(rc.bits.iter())?,
        e: running.e.clone() + comm_t.scalar_mul_le(rc.bits.iter())?,
        u: fq_add_challenge(cs, &running.u, &rc, out)?,
        x: running.x.iter().zip(&cf_x).map(|(a, b)| fq_mul_add(cs, a, &rc.bits, b, out)).collect::<Result<_, _>>()?,
    })
}

/// The fold of a running primary instance with a fresh (strict) one, continuing `t` as
/// [`crate::ivc::fold_fresh`] does natively: `binding` (a hash that determines the running
/// instance), the fresh instance's `comm_W` and `x`, then `T̄`; the challenge; `u + r` and
/// `x + r·x_fresh` (native `Fr`). `W̄'`, `Ē'` are the prover's claims, checked by CycleFold.
pub(crate) struct FreshFoldVar {
    pub(crate) r: ChallengeVar,
    pub(crate) folded: RunningVar,
}

pub(crate) fn fold_fresh_var(
    t: &mut TranscriptVar,
    binding: &FpVar<Fr>,
    running: &RunningVar,
    (fresh_w, fresh_x): (&G1LimbsVar, &FpVar<Fr>),
    comm_t: &G1LimbsVar,
    (folded_w, folded_e): (G1LimbsVar, G1LimbsVar),
) -> Result<FreshFoldVar, SynthesisError> {
    t.absorb_fr(std::slice::from_ref(binding))?;
    t.absorb_g1_limbs(&fresh_w.limbs())?;
    t.absorb_fr_vec(std::slice::from_ref(fresh_x))?;
    t.absorb_g1_limbs(&comm_t.limbs())?;
    let r = t.challenge()?;
    let folded =
        RunningVar { w: folded_w, e: folded_e, u: &running.u + &r.value, x: vec![&running.x[0] + &r.value * fresh_x] };
    Ok(FreshFoldVar { r, folded })
}

/// Constrain one augmented step into `cs`; returns `z_{i+1}`.
pub fn generate_constraints<C: StepCircuit<Fr> + ?Sized>(
    cs: ConstraintSystemRef<Fr>,
    circuit: &C,
    inp: &AugmentedInputs,
) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
    let wit = |v: Fr| FpVar::new_witness(cs.clone(), || Ok(v));
    let pp = wit(inp.pp)?;
    let i = wit(Fr::from(inp.i))?;
    let z0 = inp.z0.iter().map(|v| wit(*v)).collect::<Result<Vec<_>, _>>()?;
    let zi = inp.zi.iter().map(|v| wit(*v)).collect::<Result<Vec<_>, _>>()?;
    let running = RunningVar {
        w: G1LimbsVar::new_witness(cs.clone(), Some(inp.running.comm_w))?,
        e: G1LimbsVar::new_witness(cs.clone(), Some(inp.running.comm_e))?,
        u: wit(inp.running.u)?,
        x: inp.running.x.iter().map(|v| wit(*v)).collect::<Result<_, _>>()?,
    };
    let cf_running = CfRunningVar::alloc(&cs, &inp.cf_running)?;
    let fresh_w = G1LimbsVar::new_witness(cs.clone(), Some(inp.fresh.comm_w))?;
    let fresh_x = wit(inp.fresh.x[0])?;
    let comm_t = G1LimbsVar::new_witness(cs.clone(), Some(inp.comm_t))?;
    let folded_w = G1LimbsVar::new_witness(cs.clone(), Some(inp.folded_w))?;
    let folded_e = G1LimbsVar::new_witness(cs.clone(), Some(inp.folded_e))?;

    // 1. the fresh instance carries the hash of the current state (except at the base case).
    let is_base = i.is_zero()?;
    let h_in = hash_var(&cs, &pp, &i, &z0, &zi, &running, &cf_running)?;
    fresh_x.conditional_enforce_equal(&h_in, &!&is_base)?;
    for (a, b) in zi.iter().zip(&z0) {
        a.conditional_enforce_equal(b, &is_base)?;
    }

    // 2–3. the primary fold, its challenge from the step transcript bound by h_in (which covers
    // pp, U_i and cf_U_i).
    let mut t = TranscriptVar::new(cs.clone(), IVC_FOLD_LABEL)?;
    let fold = fold_fresh_var(&mut t, &h_in, &running, (&fresh_w, &fresh_x), &comm_t, (folded_w, folded_e))?;
    let (r, folded) = (&fold.r, &fold.folded);

    // 4–5. the two CycleFold claims and their folds, continuing the transcript.
    let claims = [
        ClaimVar { r, p1: &running.w, p2: &fresh_w, p3: &folded.w },
        ClaimVar { r, p1: &running.e, p2: &comm_t, p3: &folded.e },
    ];
    let mut cf = cf_running.clone();
    let last = claims.len() - 1;
    for (k, (claim, (cw, ct))) in claims.into_iter().zip(&inp.cf_claims).enumerate() {
        let out = if k == last { FqOut::Canonical } else { FqOut::Unreduced };
        cf = fold_claim_var(&cs, &mut t, &cf, claim, (cw, ct), out)?;
    }

    // 6. base case: the canonical dummies.
    let dummy = RunningVar {
        w: g1_constant_zero(),
        e: g1_constant_zero(),
        u: FpVar::zero(),
        x: vec![FpVar::zero(); AUGMENTED_NUM_IO],
    };
    let running_out = RunningVar::select(&is_base, &dummy, folded)?;
    let cf_out = CfRunningVar::select(&is_base, &CfRunningVar::dummy(), &cf)?;

    // 7. the step and the output hash.
    let z_next = circuit.generate_constraints(cs.clone(), &i, &zi)?;
    if z_next.len() != circuit.arity() {
        return Err(SynthesisError::Unsatisfiable);
    }
    let i_next = &i + FpVar::one();
    let h_out = hash_var(&cs, &pp, &i_next, &z0, &z_next, &running_out, &cf_out)?;
    let h_pub = FpVar::new_input(cs.clone(), || h_out.value())?;
    h_out.enforce_equal(&h_pub)?;
    Ok(z_next)
}

pub(crate) fn g1_constant_zero() -> G1LimbsVar {
    G1LimbsVar { x: fq_constant(Fq::zero()), y_odd: Boolean::FALSE }
}

fn hash_var(
    cs: &ConstraintSystemRef<Fr>,
    pp: &FpVar<Fr>,
    i: &FpVar<Fr>,
    z0: &[FpVar<Fr>],
    zi: &[FpVar<Fr>],
    running: &RunningVar,
    cf: &CfRunningVar,
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut t = TranscriptVar::new(cs.clone(), STATE_HASH_LABEL)?;
    t.absorb_fr(&[pp.clone(), i.clone()])?;
    t.absorb_fr_vec(z0)?;
    t.absorb_fr_vec(zi)?;
    running.absorb(&mut t)?;
    cf.absorb(&mut t)?;
    t.squeeze_fr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::r1cs::extract;
    use crate::step_circuit::examples::Fibonacci;
    use ark_ff::UniformRand;
    use ark_relations::gr1cs::ConstraintSystem;

    /// The `Fq` value the bits encode (reduced mod `q`).
    fn fq_value(v: &FqLimbsVar) -> Result<Fq, SynthesisError> {
        Ok(fq_reduce(&fq_integer(v)?))
    }

    fn r_bits(cs: &ConstraintSystemRef<Fr>, rv: u128) -> ChallengeVar {
        let bits: Vec<_> =
            (0..128).map(|i| Boolean::new_witness(cs.clone(), || Ok((rv >> i) & 1 == 1)).unwrap()).collect();
        let value = Boolean::le_bits_to_fp(&bits).unwrap();
        ChallengeVar { bits, value }
    }

    #[test]
    fn fq_mul_add_and_add_challenge_match_native() {
        let mut rng = ark_std::test_rng();
        for out in [FqOut::Canonical, FqOut::Unreduced] {
            for case in 0..4 {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let (xv, yv) = match case {
                    0 => (Fq::zero(), Fq::zero()),
                    1 => (-Fq::ONE, -Fq::ONE),
                    _ => (Fq::rand(&mut rng), Fq::rand(&mut rng)),
                };
                let rv: u128 = if case == 1 { u128::MAX } else { u128::rand(&mut rng) };
                let x = FqLimbsVar::new_witness(cs.clone(), Some(xv)).unwrap();
                let y = FqLimbsVar::new_witness(cs.clone(), Some(yv)).unwrap();
                let r = r_bits(&cs, rv);
                let before = cs.num_constraints();
                let o = fq_mul_add(&cs, &x, &r.bits, &y, out).unwrap();
                let mid = cs.num_constraints();
                let s = fq_add_challenge(&cs, &x, &r, out).unwrap();
                assert_eq!(fq_value(&o).unwrap(), xv + Fq::from(rv) * yv);
                assert_eq!(fq_value(&s).unwrap(), xv + Fq::from(rv));
                assert!(cs.is_satisfied().unwrap(), "case {case} {out:?}");
                if case == 2 {
                    eprintln!(
                        "{out:?}: fq_mul_add {} constraints, fq_add_challenge {}",
                        mid - before,
                        cs.num_constraints() - mid
                    );
                }
            }
        }
    }

    #[test]
    fn non_native_arithmetic_is_exact_on_unreduced_inputs() {
        // An intermediate value may be held as v + q; results must still be x + r·y and x + r mod q.
        let mut rng = ark_std::test_rng();
        let mut v_plus_q = Fq::MODULUS;
        v_plus_q.add_with_carry(&<Fq as PrimeField>::BigInt::from(12345u64));
        let (v, yv, rv) = (Fq::from(12345u64), Fq::rand(&mut rng), u128::MAX - 7);
        for out in [FqOut::Canonical, FqOut::Unreduced] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let x = FqOut::Unreduced.alloc_words(&cs, Some(v_plus_q.0)).unwrap();
            let y = FqLimbsVar::new_witness(cs.clone(), Some(yv)).unwrap();
            let r = r_bits(&cs, rv);
            let o = fq_mul_add(&cs, &x, &r.bits, &y, out).unwrap();
            let s = fq_add_challenge(&cs, &x, &r, out).unwrap();
            assert_eq!(fq_value(&o).unwrap(), v + Fq::from(rv) * yv);
            assert_eq!(fq_value(&s).unwrap(), v + Fq::from(rv));
            assert!(cs.is_satisfied().unwrap(), "{out:?}: unreduced input rejected");
        }
    }

    #[test]
    fn only_unreduced_results_admit_the_second_encoding() {
        // q + 4 encodes 4 too: an unreduced slot accepts it, a canonical one must not (A.7).
        let mut q_plus_4 = Fq::MODULUS;
        q_plus_4.add_with_carry(&<Fq as PrimeField>::BigInt::from(4u64));
        for (out, accepted) in [(FqOut::Canonical, false), (FqOut::Unreduced, true)] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            out.alloc_words(&cs, Some(q_plus_4.0)).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), accepted, "{out:?}");
        }
    }

    #[test]
    fn fq_mul_add_every_witness_is_constrained() {
        // Any change to the output bits, the quotient bits or the carries must be rejected, so
        // there is no second accepted result (PROVER-PITFALLS B.26 for this gadget).
        for out in [FqOut::Canonical, FqOut::Unreduced] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let mut rng = ark_std::test_rng();
            let (xv, yv) = (Fq::rand(&mut rng), Fq::rand(&mut rng));
            let x = FqLimbsVar::new_witness(cs.clone(), Some(xv)).unwrap();
            let y = FqLimbsVar::new_witness(cs.clone(), Some(yv)).unwrap();
            let r = r_bits(&cs, 0x5555_1234_8888_0000_ffff_0000_1111_2222);
            fq_mul_add(&cs, &x, &r.bits, &y, out).unwrap();
            fq_add_challenge(&cs, &x, &r, out).unwrap();
            let (shape, a) = extract(&cs).unwrap();
            let a = a.unwrap();
            shape.check_relation(Fr::ONE, &a.x, &a.w, None).unwrap();
            for j in 0..a.w.len() {
                let mut w = a.w.clone();
                w[j] += Fr::ONE;
                assert!(shape.check_relation(Fr::ONE, &a.x, &w, None).is_err(), "{out:?}: witness {j} unconstrained");
            }
        }
    }

    #[test]
    fn fibonacci_constraint_count() {
        let c = Fibonacci { iterations: 1 };
        let out = synthesize(&c, &AugmentedInputs::placeholder(2)).unwrap();
        eprintln!(
            "augmented circuit, Fibonacci (1 iteration): {} constraints, {} witness",
            out.shape.num_constraints, out.shape.num_witness
        );
        assert_eq!(out.shape.num_io, AUGMENTED_NUM_IO);
        assert!(out.shape.num_constraints < 80_000, "{}", out.shape.num_constraints);
        // The base case is satisfiable with placeholder values (i = 0, z_i = z₀).
        out.shape.check_relation(Fr::ONE, &out.assignment.x, &out.assignment.w, None).unwrap();
        // The prover's values-only synthesis gives the same assignment.
        let (a, z) = synthesize_witness(&c, &AugmentedInputs::placeholder(2)).unwrap();
        assert_eq!((a.x, a.w, z), (out.assignment.x, out.assignment.w, out.z_next));
    }
}
