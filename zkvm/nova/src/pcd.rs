//! Proof-carrying data: a binary tree of folding proofs whose nodes are proven in parallel (and,
//! being serializable, on different machines), verified at the root exactly like a sequential IVC
//! proof.
//!
//! # Statement of a node
//!
//! A [`NodeProof`] claims "the step circuit, run from step `a` with state `z_a`, reaches state
//! `z_b` at step `b`" (`a < b`). Like an [`crate::ivc::IvcProof`] it carries a running primary
//! instance `U` (with witness), the fresh instance `u` of the circuit run that produced the node
//! (with witness), and a running CycleFold instance `cf_U` (with witness), tied together by
//! `u.x = [H_node(pp, a, b, z_a, z_b, U, cf_U)]` ([`node_hash`]). The verifier ([`NodeProof::verify`])
//! recomputes that hash with its own parameters and checks `u` strictly, `U` and `cf_U` relaxed:
//! one hash and three satisfiability checks, the cost of verifying an IVC proof, whatever the
//! size of the tree.
//!
//! A leaf is one invocation of the step circuit (step `a`, covering `[a, a + 1)`). The NVM step
//! circuit will prove one segment of `k` instructions per invocation (the segments
//! `zkvm/vm`'s segmenter cuts), so leaves are segments; several consecutive invocations are a
//! subtree, which [`prove_tree`] builds balanced.
//!
//! # The node circuit (one shape for leaves and inner nodes)
//!
//! Public input: the single element `H_node(pp, a, b, z_a, z_b, U_out, cf_U_out)`. Witness: the
//! digest `pp`, a flag `is_leaf`, step indices `a, m, b`, states `z_a, z_m, z_b`, and for each
//! child `c ∈ {L, R}` its `(U_c, cf_U_c, u_c)` with the fold's cross term and results, the merge's
//! cross term and results, and the CycleFold instances with their cross terms. Constraints:
//!
//! 1. **Adjacency by shared variables.** The left child's claim is hashed from `(a, m, z_a, z_m)`
//!    and the right child's from `(m, b, z_m, z_b)`: the *same* variables `m` and `z_m`, so the
//!    left child's end step and state are the right child's start step and state (no gap, no
//!    overlap, no reordering), and the node covers `[a, b)`.
//! 2. **Children authenticated** (inner nodes): `u_L.x = H_node(pp, a, m, z_a, z_m, U_L, cf_U_L)`
//!    and `u_R.x = H_node(pp, m, b, z_m, z_b, U_R, cf_U_R)`, with the node's own `pp` witness, the
//!    one hashed into its output (so, by the chain of hashes up to the root, which the verifier
//!    checks with the real digest, every node and every child used the real parameters: a child
//!    from other parameters does not hash to its `u.x`).
//! 3. **Three primary folds**: `U_L' = U_L ⊕ u_L` and `U_R' = U_R ⊕ u_R` (relaxed ⊕ strict, as in
//!    the IVC circuit), then `U = U_L' ⊕ U_R'` (relaxed ⊕ relaxed). All challenges of a node come
//!    from one *node transcript* ([`NODE_FOLD_LABEL`]), in this order, natively
//!    (`fold_children`) and in circuit: the left child's fold (absorbing the child's hash, which
//!    stands for `pp, U_L, cf_U_L`, then `u_L`'s `W̄`, `x` and `T̄_L`), the right child's, the
//!    CycleFold merge (`cf_T̄`), the four child claims (each absorbing its result point, so
//!    `U_L'`, `U_R'` are bound), the primary merge (`T̄`), the three merge claims. Every challenge
//!    is thereby bound to everything the fold it serves depends on (A.6) without re-absorbing a
//!    running instance; the scalars `u`, `x` are folded in circuit; every G1 point is a
//!    canonical-limb witness ([`crate::nonnative`]).
//! 4. **Seven CycleFold claims** carry the G1 arithmetic, each with its public input built in
//!    circuit from the same limbs and challenge bits (A.3): `W̄_c' = W̄_c + r_c·w̄_c` and
//!    `Ē_c' = Ē_c + r_c·T̄_c` for each child, and for the merge `W̄ = W̄_L' + r·W̄_R'`,
//!    `P = T̄ + r·Ē_R'`, `Ē = Ē_L' + r·P` (so `Ē = Ē_L' + r·T̄ + r²·Ē_R'` with 128-bit scalars only).
//! 5. **CycleFold instances of both children**: `cf_U_L ⊕ cf_U_R` (relaxed ⊕ relaxed on Grumpkin,
//!    natively in circuit: `Ē = Ē_L + r·(T̄ + r·Ē_R)`, `Fq` scalars by [`crate::augmented::fq_mul_add`]),
//!    then the seven claim instances folded in one by one ([`crate::augmented::fold_claim_var`]).
//!    The `Fq` scalars stay unreduced between folds (never absorbed); the last fold's are
//!    canonical, as the output hash needs.
//! 6. **The step**: `z_F = F(m, z_m)`. **Leaf** (`is_leaf`): `a = m`, `z_a = z_m`, `b = m + 1`,
//!    `z_b = z_F` (A.11: a leaf is exactly one step), and the outputs `U_out`, `cf_U_out` are the
//!    fixed dummies (base case anchored, A.4; the children are then ignored). **Inner node**: the
//!    checks of 2 hold and the outputs are the folded `U`, `cf_U`; `z_F` is discarded.
//!
//! # Why it is sound
//!
//! By induction on the tree. Suppose a root passes the verifier: `u` satisfies the node circuit
//! with public input `H_node(pp, 0, n, z₀, z_n, U, cf_U)` for the real `pp`, and `U`, `cf_U` are
//! satisfiable. If the node is a leaf, `n = 1` and `z_n = F(0, z₀)` by 6. Otherwise `U` and
//! `cf_U` are (by 3–5) the NIFS folds of `U_L, u_L, U_R, u_R` and of `cf_U_L, cf_U_R` and the seven
//! claim instances, with challenges derived from everything folded; by the knowledge soundness of
//! NIFS every one of them is satisfiable, `u_L`, `u_R` strictly (they enter as `u = 1`, `Ē = 0`
//! constants) — so the seven claims are true (the fold was computed honestly) and each child
//! satisfies exactly what the verifier checks for a root, with the claim hashed in 2. The
//! hypothesis gives each child's statement over `[a, m)` and `[m, b)`; by 1 they compose into the
//! statement over `[a, b)`. Step indices are field elements, but each leaf adds exactly one and
//! a tree over `[0, n)` with `n < 2^64` has `n` leaves visited in order, so they never wrap.
//!
//! Cost: inner nodes run the step circuit too (its output is discarded), because leaves and inner
//! nodes must share one shape to be folded together; so the step circuit must be satisfiable at
//! every state it can reach — the prover runs it on `(m, z_m)`, the right child's first step. For a
//! small step circuit this is noise next to the folding verifier (three folds, seven CycleFold
//! claims); interleaving the tree (Nexus's layout: a node proves left, one step, right) would
//! avoid it and is the obvious next optimisation for a large step circuit.
//!
//! # Serialization
//!
//! [`NodeProof::to_bytes`] / [`NodeProof::from_bytes`]: magic `NXNOVAPN`, version, payload length,
//! then the ark-serialize (compressed) encoding; decoding validates points and refuses trailing or
//! missing bytes, and [`NodeProof::check_lengths`] checks every vector against the parameters
//! before a received node is used.

use ark_bn254::{Fq, Fr, G1Affine};
use ark_ec::AffineRepr;
use ark_r1cs_std::{
    GR1CSVar,
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
    groups::CurveVar,
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;

use crate::step_circuit::{synthesize_outer, synthesize_outer_values};
use crate::{
    augmented::{
        AUGMENTED_NUM_IO, CfRunningVar, ClaimVar, FqOut, G1, Gg, RunningVar, alloc_grumpkin, fold_claim_var,
        fold_fresh_var, fq_mul_add, g1_constant_zero,
    },
    commitment::CommitmentKey,
    cyclefold::{self, CYCLEFOLD_NUM_IO},
    ivc::{CYCLEFOLD_KEY_LABEL, IvcError, PRIMARY_KEY_LABEL, PublicParams, claim_instance, fold_claim, fold_fresh},
    nifs::{self, absorb_relaxed},
    nonnative::{FqLimbsVar, G1LimbsVar},
    r1cs::{Assignment, R1csError, R1csInstance, R1csShape, R1csWitness, RelaxedR1csInstance, RelaxedR1csWitness},
    step_circuit::{MAX_ARITY, StepCircuit, StepError, synthesize_step},
    transcript::{Challenge, Transcript},
    transcript_gadget::{ChallengeVar, TranscriptVar},
};

/// Transcript label of the node hash.
pub const NODE_HASH_LABEL: &[u8] = b"nexus-nova/pcd-node/v1";
/// Transcript label of a node's folds (three primary folds, the CycleFold merge and seven claims).
pub const NODE_FOLD_LABEL: &[u8] = b"nexus-nova/pcd-fold/v2";
/// Number of public inputs of the node circuit.
pub const NODE_NUM_IO: usize = AUGMENTED_NUM_IO;
/// CycleFold claims per node.
pub const NODE_CF_CLAIMS: usize = 7;
/// Magic of a serialized node proof.
pub const NODE_MAGIC: &[u8; 8] = b"NXNOVAPN";
/// Version of the node proof encoding.
pub const NODE_FORMAT_VERSION: u32 = 1;

/// Errors from PCD proving, verification and decoding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PcdError {
    /// A folding, relation or synthesis error (shared with IVC).
    #[error(transparent)]
    Ivc(#[from] IvcError),
    /// The left child does not end where the right child starts.
    #[error("children are not adjacent: left covers [{left_a}, {left_b}), right covers [{right_a}, {right_b})")]
    NotAdjacent {
        /// Left start.
        left_a: u64,
        /// Left end.
        left_b: u64,
        /// Right start.
        right_a: u64,
        /// Right end.
        right_b: u64,
    },
    /// The left child's final state is not the right child's initial state.
    #[error("left child's output state differs from the right child's input state")]
    StateMismatch,
    /// A child's fresh instance does not carry the hash of its claim under these parameters
    /// (a tampered child, or one proven under other parameters).
    #[error("{0} child does not carry the hash of its claim under these parameters")]
    ChildHash(&'static str),
    /// An empty range, or a range the verifier did not expect.
    #[error("node covers [{a}, {b}), expected [{expected_a}, {expected_b})")]
    Range {
        /// Start in the proof.
        a: u64,
        /// End in the proof.
        b: u64,
        /// Expected start.
        expected_a: u64,
        /// Expected end.
        expected_b: u64,
    },
    /// No leaves given.
    #[error("a tree needs at least one leaf")]
    NoLeaves,
    /// The encoding is not a node proof.
    #[error("node proof encoding: {0}")]
    Decode(String),
}

impl From<R1csError> for PcdError {
    fn from(e: R1csError) -> Self {
        PcdError::Ivc(e.into())
    }
}

impl From<StepError> for PcdError {
    fn from(e: StepError) -> Self {
        PcdError::Ivc(e.into())
    }
}

impl From<nifs::NifsError> for PcdError {
    fn from(e: nifs::NifsError) -> Self {
        PcdError::Ivc(e.into())
    }
}

impl From<crate::commitment::CommitmentError> for PcdError {
    fn from(e: crate::commitment::CommitmentError) -> Self {
        PcdError::Ivc(e.into())
    }
}

/// `H_node(pp, a, b, z_a, z_b, U, cf_U)`: the public input of the fresh instance of a node over
/// `[a, b)`.
pub fn node_hash(
    pp: Fr,
    (a, b): (u64, u64),
    (z_a, z_b): (&[Fr], &[Fr]),
    running: &RelaxedR1csInstance<G1>,
    cf_running: &RelaxedR1csInstance<Gg>,
) -> Fr {
    let mut t = Transcript::new(NODE_HASH_LABEL);
    t.absorb(&pp);
    t.absorb(&Fr::from(a));
    t.absorb(&Fr::from(b));
    t.absorb(z_a);
    t.absorb(z_b);
    absorb_relaxed(&mut t, running);
    absorb_relaxed(&mut t, cf_running);
    t.squeeze_fr()
}

/// Set up parameters for PCD over `circuit`: the node circuit's shape, the CycleFold shape (the
/// same as IVC's), both keys and their digest. The result is a [`PublicParams`], so it is stored,
/// cached and checked like IVC parameters; its digest differs from IVC's (another shape).
pub fn setup<C: StepCircuit<Fr> + ?Sized>(circuit: &C) -> Result<PublicParams, PcdError> {
    let arity = circuit.arity();
    let shape = synthesize(circuit, &NodeInputs::placeholder(arity))?.shape;
    let (cf_shape, _) = cyclefold::synthesize(Challenge(0), &G1Affine::zero(), &G1Affine::zero(), &G1Affine::zero())?;
    let ck = CommitmentKey::setup(PRIMARY_KEY_LABEL, shape.num_constraints.max(shape.num_witness))?;
    let cf_ck = CommitmentKey::setup(CYCLEFOLD_KEY_LABEL, cf_shape.num_constraints.max(cf_shape.num_witness))?;
    let mut pp = PublicParams { arity: arity as u64, shape, ck, cf_shape, cf_ck, digest: Fr::from(0u64) };
    pp.digest = pp.compute_digest();
    Ok(pp)
}

/// One child as the node circuit sees it.
#[derive(Clone, Debug)]
pub struct ChildInputs {
    /// Its running primary instance.
    pub running: RelaxedR1csInstance<G1>,
    /// Its running CycleFold instance.
    pub cf_running: RelaxedR1csInstance<Gg>,
    /// Its fresh instance.
    pub fresh: R1csInstance<G1>,
    /// Cross term of `running ⊕ fresh`.
    pub comm_t: G1Affine,
    /// Claimed `W̄'`.
    pub folded_w: G1Affine,
    /// Claimed `Ē'`.
    pub folded_e: G1Affine,
}

impl ChildInputs {
    fn placeholder() -> Self {
        Self {
            running: RelaxedR1csInstance::dummy(NODE_NUM_IO),
            cf_running: RelaxedR1csInstance::dummy(CYCLEFOLD_NUM_IO),
            fresh: R1csInstance { comm_w: G1Affine::zero(), x: vec![Fr::from(0u64); NODE_NUM_IO] },
            comm_t: G1Affine::zero(),
            folded_w: G1Affine::zero(),
            folded_e: G1Affine::zero(),
        }
    }
}

/// Everything the prover feeds the node circuit.
#[derive(Clone, Debug)]
pub struct NodeInputs {
    /// Parameters digest.
    pub pp: Fr,
    /// Leaf (one step, no children) or inner node.
    pub is_leaf: bool,
    /// Start step.
    pub a: u64,
    /// Boundary between the children (`= a` for a leaf).
    pub m: u64,
    /// End step (`= a + 1` for a leaf).
    pub b: u64,
    /// State at `a`.
    pub z_a: Vec<Fr>,
    /// State at `m` (`= z_a` for a leaf).
    pub z_m: Vec<Fr>,
    /// State at `b` (ignored for a leaf: the step's output is used).
    pub z_b: Vec<Fr>,
    /// Left and right children.
    pub children: [ChildInputs; 2],
    /// Cross term of the merge `U_L' ⊕ U_R'`.
    pub merge_t: G1Affine,
    /// Claimed `P = T̄ + r·Ē_R'`.
    pub merge_p: G1Affine,
    /// Claimed merged `W̄`.
    pub merged_w: G1Affine,
    /// Claimed merged `Ē`.
    pub merged_e: G1Affine,
    /// Cross term of `cf_U_L ⊕ cf_U_R`.
    pub cf_merge_t: ark_grumpkin::Affine,
    /// For each claim, its CycleFold instance's `comm_W` and the cross term of its fold.
    pub cf_claims: [(ark_grumpkin::Affine, ark_grumpkin::Affine); NODE_CF_CLAIMS],
}

impl NodeInputs {
    /// Inputs for a leaf at step `a` from `z_a` (also the shape placeholder, with zeros).
    pub fn leaf(pp: Fr, a: u64, z_a: &[Fr]) -> Self {
        Self {
            pp,
            is_leaf: true,
            a,
            m: a,
            b: a.wrapping_add(1),
            z_a: z_a.to_vec(),
            z_m: z_a.to_vec(),
            z_b: z_a.to_vec(),
            children: [ChildInputs::placeholder(), ChildInputs::placeholder()],
            merge_t: G1Affine::zero(),
            merge_p: G1Affine::zero(),
            merged_w: G1Affine::zero(),
            merged_e: G1Affine::zero(),
            cf_merge_t: ark_grumpkin::Affine::zero(),
            cf_claims: [(ark_grumpkin::Affine::zero(), ark_grumpkin::Affine::zero()); NODE_CF_CLAIMS],
        }
    }

    /// Values for synthesizing the shape only.
    pub fn placeholder(arity: usize) -> Self {
        Self::leaf(Fr::from(0u64), 0, &vec![Fr::from(0u64); arity])
    }
}

/// A synthesized node.
#[derive(Clone, Debug)]
pub struct NodeOutput {
    /// Shape (the same for every node of one step circuit).
    pub shape: R1csShape<Fr>,
    /// Public input and witness.
    pub assignment: Assignment<Fr>,
    /// `z_b` (the step's output for a leaf).
    pub z_b: Vec<Fr>,
}

/// Synthesize the node circuit for `inputs` around `circuit`.
pub fn synthesize<C: StepCircuit<Fr> + ?Sized>(circuit: &C, inputs: &NodeInputs) -> Result<NodeOutput, StepError> {
    check_inputs(circuit, inputs)?;
    let (shape, assignment, z_b) = synthesize_outer(|cs| generate_constraints(cs, circuit, inputs))?;
    Ok(NodeOutput { shape, assignment, z_b })
}

/// The prover's synthesis: assignment and `z_b` only, no matrices
/// (see [`crate::r1cs::witness_only_cs`]).
pub fn synthesize_witness<C: StepCircuit<Fr> + ?Sized>(
    circuit: &C,
    inputs: &NodeInputs,
) -> Result<(Assignment<Fr>, Vec<Fr>), StepError> {
    check_inputs(circuit, inputs)?;
    synthesize_outer_values(|cs| generate_constraints(cs, circuit, inputs))
}

fn check_inputs<C: StepCircuit<Fr> + ?Sized>(circuit: &C, inputs: &NodeInputs) -> Result<(), StepError> {
    let arity = circuit.arity();
    if arity == 0 || arity > MAX_ARITY {
        return Err(StepError::BadArity(arity));
    }
    for (what, len) in [("z_a", inputs.z_a.len()), ("z_m", inputs.z_m.len()), ("z_b", inputs.z_b.len())] {
        if len != arity {
            return Err(StepError::Arity { what, arity, got: len });
        }
    }
    for c in &inputs.children {
        for (what, got, expected) in [
            ("child running x", c.running.x.len(), NODE_NUM_IO),
            ("child fresh x", c.fresh.x.len(), NODE_NUM_IO),
            ("child CycleFold running x", c.cf_running.x.len(), CYCLEFOLD_NUM_IO),
        ] {
            if got != expected {
                return Err(StepError::R1cs(R1csError::LengthMismatch { what, expected, got }));
            }
        }
    }
    Ok(())
}

/// A child in circuit, after its fold.
struct ChildVar {
    running: RunningVar,
    cf_running: CfRunningVar,
    fresh_w: G1LimbsVar,
    comm_t: G1LimbsVar,
    folded: RunningVar,
    r: ChallengeVar,
}

/// A child's claim in circuit: `([start, end], z_start, z_end)`.
type ChildClaimVars<'a> = (&'a [FpVar<Fr>; 2], &'a [FpVar<Fr>], &'a [FpVar<Fr>]);

fn alloc_child(
    cs: &ConstraintSystemRef<Fr>,
    pp: &FpVar<Fr>,
    c: &ChildInputs,
    claim: ChildClaimVars<'_>,
    enforce: &Boolean<Fr>,
    t: &mut TranscriptVar,
) -> Result<ChildVar, SynthesisError> {
    let wit = |v: Fr| FpVar::new_witness(cs.clone(), || Ok(v));
    let running = RunningVar {
        w: G1LimbsVar::new_witness(cs.clone(), Some(c.running.comm_w))?,
        e: G1LimbsVar::new_witness(cs.clone(), Some(c.running.comm_e))?,
        u: wit(c.running.u)?,
        x: c.running.x.iter().map(|v| wit(*v)).collect::<Result<_, _>>()?,
    };
    let cf_running = CfRunningVar::alloc(cs, &c.cf_running)?;
    let fresh_w = G1LimbsVar::new_witness(cs.clone(), Some(c.fresh.comm_w))?;
    let fresh_x = wit(c.fresh.x[0])?;
    let comm_t = G1LimbsVar::new_witness(cs.clone(), Some(c.comm_t))?;
    let folded_w = G1LimbsVar::new_witness(cs.clone(), Some(c.folded_w))?;
    let folded_e = G1LimbsVar::new_witness(cs.clone(), Some(c.folded_e))?;

    // 2. the child's fresh instance carries the hash of its claim.
    let ([a, b], z_a, z_b) = claim;
    let h = hash_var(cs, pp, a, b, z_a, z_b, &running, &cf_running)?;
    fresh_x.conditional_enforce_equal(&h, enforce)?;

    // 3. U_c ⊕ u_c, its challenge from the node transcript bound by the child's hash.
    let fold = fold_fresh_var(t, &h, &running, (&fresh_w, &fresh_x), &comm_t, (folded_w, folded_e))?;
    Ok(ChildVar { running, cf_running, fresh_w, comm_t, folded: fold.folded, r: fold.r })
}

/// Constrain one node into `cs`; returns `z_b`.
pub fn generate_constraints<C: StepCircuit<Fr> + ?Sized>(
    cs: ConstraintSystemRef<Fr>,
    circuit: &C,
    inp: &NodeInputs,
) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
    let wit = |v: Fr| FpVar::new_witness(cs.clone(), || Ok(v));
    let pp = wit(inp.pp)?;
    let is_leaf = Boolean::new_witness(cs.clone(), || Ok(inp.is_leaf))?;
    let is_inner = !&is_leaf;
    let a = wit(Fr::from(inp.a))?;
    let m = wit(Fr::from(inp.m))?;
    let b = wit(Fr::from(inp.b))?;
    let z_a = inp.z_a.iter().map(|v| wit(*v)).collect::<Result<Vec<_>, _>>()?;
    let z_m = inp.z_m.iter().map(|v| wit(*v)).collect::<Result<Vec<_>, _>>()?;

    // 6. the step, on (m, z_m).
    let z_f = circuit.generate_constraints(cs.clone(), &m, &z_m)?;
    if z_f.len() != circuit.arity() {
        return Err(SynthesisError::Unsatisfiable);
    }
    let z_b = if inp.is_leaf {
        z_f.iter().map(|v| FpVar::new_witness(cs.clone(), || v.value())).collect::<Result<Vec<_>, _>>()?
    } else {
        inp.z_b.iter().map(|v| wit(*v)).collect::<Result<Vec<_>, _>>()?
    };
    a.conditional_enforce_equal(&m, &is_leaf)?;
    b.conditional_enforce_equal(&(&m + FpVar::one()), &is_leaf)?;
    for (x, y) in z_a.iter().zip(&z_m) {
        x.conditional_enforce_equal(y, &is_leaf)?;
    }
    for (x, y) in z_b.iter().zip(&z_f) {
        x.conditional_enforce_equal(y, &is_leaf)?;
    }

    // 1–3. children: hashes over shared (a, m, b, z_a, z_m, z_b), and their folds, in one node
    // transcript (the order of `fold_children`).
    let mut t = TranscriptVar::new(cs.clone(), NODE_FOLD_LABEL)?;
    let [cl, cr] = &inp.children;
    let left = alloc_child(&cs, &pp, cl, (&[a.clone(), m.clone()], &z_a, &z_m), &is_inner, &mut t)?;
    let right = alloc_child(&cs, &pp, cr, (&[m.clone(), b.clone()], &z_m, &z_b), &is_inner, &mut t)?;

    // 5. cf_U_L ⊕ cf_U_R natively on Grumpkin (both bound by the children's hashes).
    let cf_t = alloc_grumpkin(&cs, &inp.cf_merge_t)?;
    let (cfl, cfr) = (&left.cf_running, &right.cf_running);
    t.absorb_grumpkin(&cf_t)?;
    let rc = t.challenge()?;
    let inner_e = cf_t + cfr.e.scalar_mul_le(rc.bits.iter())?;
    let unreduced = |x: &FqLimbsVar, y: &FqLimbsVar| fq_mul_add(&cs, x, &rc.bits, y, FqOut::Unreduced);
    let mut cf = CfRunningVar {
        w: cfl.w.clone() + cfr.w.scalar_mul_le(rc.bits.iter())?,
        e: cfl.e.clone() + inner_e.scalar_mul_le(rc.bits.iter())?,
        u: unreduced(&cfl.u, &cfr.u)?,
        x: cfl.x.iter().zip(&cfr.x).map(|(p, q)| unreduced(p, q)).collect::<Result<_, _>>()?,
    };

    // 4. the children's four CycleFold claims, folded in.
    let child_claims = [
        ClaimVar { r: &left.r, p1: &left.running.w, p2: &left.fresh_w, p3: &left.folded.w },
        ClaimVar { r: &left.r, p1: &left.running.e, p2: &left.comm_t, p3: &left.folded.e },
        ClaimVar { r: &right.r, p1: &right.running.w, p2: &right.fresh_w, p3: &right.folded.w },
        ClaimVar { r: &right.r, p1: &right.running.e, p2: &right.comm_t, p3: &right.folded.e },
    ];
    let mut cf_claims = inp.cf_claims.iter();
    for claim in child_claims {
        let (cw, ct) = cf_claims.next().ok_or(SynthesisError::Unsatisfiable)?;
        cf = fold_claim_var(&cs, &mut t, &cf, claim, (cw, ct), FqOut::Unreduced)?;
    }

    // 3. merge U_L' ⊕ U_R' (both bound: their points were absorbed by the claims above).
    let merge_t = G1LimbsVar::new_witness(cs.clone(), Some(inp.merge_t))?;
    let merge_p = G1LimbsVar::new_witness(cs.clone(), Some(inp.merge_p))?;
    let merged_w = G1LimbsVar::new_witness(cs.clone(), Some(inp.merged_w))?;
    let merged_e = G1LimbsVar::new_witness(cs.clone(), Some(inp.merged_e))?;
    t.absorb_g1_limbs(&merge_t.limbs())?;
    let r = t.challenge()?;
    let merged = RunningVar {
        w: merged_w,
        e: merged_e,
        u: &left.folded.u + &r.value * &right.folded.u,
        x: vec![&left.folded.x[0] + &r.value * &right.folded.x[0]],
    };

    // 4. the merge's three claims; the last fold's scalars are canonical (hashed below).
    let merge_claims = [
        ClaimVar { r: &r, p1: &left.folded.w, p2: &right.folded.w, p3: &merged.w },
        ClaimVar { r: &r, p1: &merge_t, p2: &right.folded.e, p3: &merge_p },
        ClaimVar { r: &r, p1: &left.folded.e, p2: &merge_p, p3: &merged.e },
    ];
    for (k, claim) in merge_claims.into_iter().enumerate() {
        let (cw, ct) = cf_claims.next().ok_or(SynthesisError::Unsatisfiable)?;
        let out = if k == 2 { FqOut::Canonical } else { FqOut::Unreduced };
        cf = fold_claim_var(&cs, &mut t, &cf, claim, (cw, ct), out)?;
    }

    // 6. outputs: dummies for a leaf (A.4), the folds otherwise.
    let dummy = RunningVar {
        w: g1_constant_zero(),
        e: g1_constant_zero(),
        u: FpVar::zero(),
        x: vec![FpVar::zero(); NODE_NUM_IO],
    };
    let running_out = RunningVar::select(&is_leaf, &dummy, &merged)?;
    let cf_out = CfRunningVar::select(&is_leaf, &CfRunningVar::dummy(), &cf)?;
    let h_out = hash_var(&cs, &pp, &a, &b, &z_a, &z_b, &running_out, &cf_out)?;
    let h_pub = FpVar::new_input(cs.clone(), || h_out.value())?;
    h_out.enforce_equal(&h_pub)?;
    Ok(z_b)
}

#[allow(clippy::too_many_arguments)]
fn hash_var(
    cs: &ConstraintSystemRef<Fr>,
    pp: &FpVar<Fr>,
    a: &FpVar<Fr>,
    b: &FpVar<Fr>,
    z_a: &[FpVar<Fr>],
    z_b: &[FpVar<Fr>],
    running: &RunningVar,
    cf: &CfRunningVar,
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut t = TranscriptVar::new(cs.clone(), NODE_HASH_LABEL)?;
    t.absorb_fr(&[pp.clone(), a.clone(), b.clone()])?;
    t.absorb_fr_vec(z_a)?;
    t.absorb_fr_vec(z_b)?;
    running.absorb(&mut t)?;
    cf.absorb(&mut t)?;
    t.squeeze_fr()
}

/// A node of the tree: the proof that steps `[a, b)` take `z_a` to `z_b`.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct NodeProof {
    /// First step covered.
    pub a: u64,
    /// One past the last step covered.
    pub b: u64,
    /// State before step `a`.
    pub z_a: Vec<Fr>,
    /// State after step `b − 1`.
    pub z_b: Vec<Fr>,
    /// Running primary instance.
    pub running: RelaxedR1csInstance<G1>,
    /// Its witness.
    pub running_w: RelaxedR1csWitness<Fr>,
    /// Fresh instance of the node circuit run that made this node.
    pub fresh: R1csInstance<G1>,
    /// Its witness.
    pub fresh_w: R1csWitness<Fr>,
    /// Running CycleFold instance.
    pub cf_running: RelaxedR1csInstance<Gg>,
    /// Its witness.
    pub cf_running_w: RelaxedR1csWitness<Fq>,
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), PcdError> {
    if expected == got { Ok(()) } else { Err(R1csError::LengthMismatch { what, expected, got }.into()) }
}

impl NodeProof {
    /// Prove the leaf for step `a` from state `z_a` (`circuit` is that step's circuit).
    pub fn prove_leaf<C: StepCircuit<Fr> + ?Sized>(
        pp: &PublicParams,
        circuit: &C,
        a: u64,
        z_a: &[Fr],
    ) -> Result<Self, PcdError> {
        if z_a.len() as u64 != pp.arity {
            return Err(IvcError::State("z_a has the wrong length").into());
        }
        let b = a.checked_add(1).ok_or(IvcError::Overflow)?;
        let out = synthesize_witness(circuit, &NodeInputs::leaf(pp.digest, a, z_a))?;
        Self::finish(pp, out, (a, b), z_a, RelaxedR1csInstance::dummy(NODE_NUM_IO), None, None)
    }

    fn finish(
        pp: &PublicParams,
        (assignment, z_b): (Assignment<Fr>, Vec<Fr>),
        (a, b): (u64, u64),
        z_a: &[Fr],
        running: RelaxedR1csInstance<G1>,
        running_w: Option<RelaxedR1csWitness<Fr>>,
        cf: Option<(RelaxedR1csInstance<Gg>, RelaxedR1csWitness<Fq>)>,
    ) -> Result<Self, PcdError> {
        // Values only: a circuit with another witness count is refused here, any other
        // difference from the parameters' shape makes the node fail verification.
        if assignment.w.len() != pp.shape.num_witness || assignment.x.len() != pp.shape.num_io {
            return Err(IvcError::ShapeMismatch.into());
        }
        let fresh = R1csInstance { comm_w: pp.ck.commit(&assignment.w)?, x: assignment.x };
        let (cf_running, cf_running_w) = cf
            .unwrap_or_else(|| (RelaxedR1csInstance::dummy(CYCLEFOLD_NUM_IO), RelaxedR1csWitness::dummy(&pp.cf_shape)));
        Ok(Self {
            a,
            b,
            z_a: z_a.to_vec(),
            z_b,
            running,
            running_w: running_w.unwrap_or_else(|| RelaxedR1csWitness::dummy(&pp.shape)),
            fresh,
            fresh_w: R1csWitness { w: assignment.w },
            cf_running,
            cf_running_w,
        })
    }

    /// Check every vector's length against `pp` (for nodes received from elsewhere; the verifier
    /// and [`Self::prove_node`] call it).
    pub fn check_lengths(&self, pp: &PublicParams) -> Result<(), PcdError> {
        check_len("z_a", pp.arity as usize, self.z_a.len())?;
        check_len("z_b", pp.arity as usize, self.z_b.len())?;
        check_len("running x", NODE_NUM_IO, self.running.x.len())?;
        check_len("fresh x", NODE_NUM_IO, self.fresh.x.len())?;
        check_len("CycleFold running x", CYCLEFOLD_NUM_IO, self.cf_running.x.len())?;
        check_len("running W", pp.shape.num_witness, self.running_w.w.len())?;
        check_len("running E", pp.shape.num_constraints, self.running_w.e.len())?;
        check_len("fresh W", pp.shape.num_witness, self.fresh_w.w.len())?;
        check_len("CycleFold W", pp.cf_shape.num_witness, self.cf_running_w.w.len())?;
        check_len("CycleFold E", pp.cf_shape.num_constraints, self.cf_running_w.e.len())?;
        if self.a >= self.b {
            return Err(PcdError::Range {
                a: self.a,
                b: self.b,
                expected_a: self.a,
                expected_b: self.a.saturating_add(1),
            });
        }
        Ok(())
    }

    /// The claim hash this node's fresh instance must carry.
    pub fn claim_hash(&self, pp: &PublicParams) -> Fr {
        node_hash(pp.digest, (self.a, self.b), (&self.z_a, &self.z_b), &self.running, &self.cf_running)
    }

    /// Prove the inner node over `left ⊕ right`. `circuit` is the step circuit of step
    /// `left.b` (the right child's first step): the node circuit runs it and discards its output
    /// (see the module documentation).
    pub fn prove_node<C: StepCircuit<Fr> + ?Sized>(
        pp: &PublicParams,
        circuit: &C,
        left: &Self,
        right: &Self,
    ) -> Result<Self, PcdError> {
        left.check_lengths(pp)?;
        right.check_lengths(pp)?;
        if left.b != right.a {
            return Err(PcdError::NotAdjacent { left_a: left.a, left_b: left.b, right_a: right.a, right_b: right.b });
        }
        if left.z_b != right.z_a {
            return Err(PcdError::StateMismatch);
        }
        for (which, c) in [("left", left), ("right", right)] {
            if c.fresh.x[0] != c.claim_hash(pp) {
                return Err(PcdError::ChildHash(which));
            }
        }
        let (inputs, folded) = fold_children(pp, left, right)?;
        let (merged, merged_w, cf, cf_w) = folded;
        let out = synthesize_witness(circuit, &inputs)?;
        Self::finish(pp, out, (left.a, right.b), &left.z_a, merged, Some(merged_w), Some((cf, cf_w)))
    }

    /// Verify this node as a root: it must cover `[0, num_steps)` from `z0`; returns the final
    /// state. One hash and three satisfiability checks, whatever the size of the tree.
    pub fn verify(&self, pp: &PublicParams, num_steps: u64, z0: &[Fr]) -> Result<&[Fr], PcdError> {
        if num_steps == 0 {
            return Err(IvcError::ZeroSteps.into());
        }
        if self.a != 0 || self.b != num_steps {
            return Err(PcdError::Range { a: self.a, b: self.b, expected_a: 0, expected_b: num_steps });
        }
        if self.z_a != z0 {
            return Err(IvcError::State("the proof starts from another initial state").into());
        }
        self.verify_node(pp)?;
        Ok(&self.z_b)
    }

    /// Verify this node on its own (any range): lengths, hash, `u` strict, `U` and `cf_U` relaxed.
    pub fn verify_node(&self, pp: &PublicParams) -> Result<(), PcdError> {
        self.check_lengths(pp)?;
        if self.fresh.x[0] != self.claim_hash(pp) {
            return Err(IvcError::HashMismatch.into());
        }
        pp.shape.is_sat(&pp.ck, &self.fresh, &self.fresh_w)?;
        pp.shape.is_sat_relaxed(&pp.ck, &self.running, &self.running_w)?;
        pp.cf_shape.is_sat_relaxed(&pp.cf_ck, &self.cf_running, &self.cf_running_w)?;
        Ok(())
    }

    /// Encode ([`crate::framing`]: header + ark-serialize compressed).
    pub fn to_bytes(&self) -> Result<Vec<u8>, PcdError> {
        crate::framing::encode(NODE_MAGIC, NODE_FORMAT_VERSION, self).map_err(PcdError::Decode)
    }

    /// Decode, validating points; never panics on bad input. Call [`Self::check_lengths`] (or
    /// verify) before use; [`Self::prove_node`] does.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PcdError> {
        crate::framing::decode(NODE_MAGIC, NODE_FORMAT_VERSION, bytes).map_err(PcdError::Decode)
    }
}

type Folded = (RelaxedR1csInstance<G1>, RelaxedR1csWitness<Fr>, RelaxedR1csInstance<Gg>, RelaxedR1csWitness<Fq>);

/// The native folds of an inner node and the circuit inputs that describe them.
fn fold_children(pp: &PublicParams, left: &NodeProof, right: &NodeProof) -> Result<(NodeInputs, Folded), PcdError> {
    // One transcript for the whole node, in the circuit's order: each child's fold (bound by its
    // node hash, which `prove_node` checked equals its fresh `x`), the CycleFold merge, the four
    // child claims, the primary merge, the three merge claims.
    let mut t = Transcript::new(NODE_FOLD_LABEL);
    let fold_child = |t: &mut Transcript, c: &NodeProof| {
        fold_fresh(pp, t, c.fresh.x[0], (&c.running, &c.running_w), (&c.fresh, &c.fresh_w))
    };
    let fl = fold_child(&mut t, left)?;
    let fr = fold_child(&mut t, right)?;
    let (cfl, cfr) = ((&left.cf_running, &left.cf_running_w), (&right.cf_running, &right.cf_running_w));
    let cf_cross = nifs::cross_term(&pp.cf_ck, &pp.cf_shape, cfl, cfr)?;
    let cf_m = nifs::fold_in_transcript(&mut t, cfl, cfr, cf_cross);
    let (mut cf_u, mut cf_w) = (cf_m.instance, cf_m.witness);
    let mut cf_claims = Vec::with_capacity(NODE_CF_CLAIMS);
    let mut fold_claims = |t: &mut Transcript, claims: &[Claim]| -> Result<(), PcdError> {
        // Synthesized and committed in parallel (they depend on nothing folded since), folded in order.
        let insts = claims
            .par_iter()
            .map(|(r, p1, p2, p3)| claim_instance(pp, *r, p1, p2, p3))
            .collect::<Result<Vec<_>, _>>()?;
        for ((_, _, _, p3), inst) in claims.iter().zip(&insts) {
            let o = fold_claim(pp, t, (&cf_u, &cf_w), p3, inst)?;
            cf_claims.push((inst.0.comm_w, o.proof.comm_t));
            cf_u = o.instance;
            cf_w = o.witness;
        }
        Ok(())
    };
    fold_claims(&mut t, &child_claims((left, &fl), (right, &fr)))?;
    let m_cross = nifs::cross_term(&pp.ck, &pp.shape, (&fl.instance, &fl.witness), (&fr.instance, &fr.witness))?;
    let fm = nifs::fold_in_transcript(&mut t, (&fl.instance, &fl.witness), (&fr.instance, &fr.witness), m_cross);
    let merge_p = cyclefold::evaluate(fm.challenge, &fm.proof.comm_t, &fr.instance.comm_e);
    fold_claims(
        &mut t,
        &merge_claims(&fl.instance, &fr.instance, (&fm.proof.comm_t, &merge_p, &fm.instance, fm.challenge)),
    )?;
    let cf_claims: [_; NODE_CF_CLAIMS] = cf_claims.try_into().map_err(|_| PcdError::NoLeaves)?;
    let child = |c: &NodeProof, f: &nifs::FoldOutput<G1>| ChildInputs {
        running: c.running.clone(),
        cf_running: c.cf_running.clone(),
        fresh: c.fresh.clone(),
        comm_t: f.proof.comm_t,
        folded_w: f.instance.comm_w,
        folded_e: f.instance.comm_e,
    };
    let inputs = NodeInputs {
        pp: pp.digest,
        is_leaf: false,
        a: left.a,
        m: left.b,
        b: right.b,
        z_a: left.z_a.clone(),
        z_m: left.z_b.clone(),
        z_b: right.z_b.clone(),
        children: [child(left, &fl), child(right, &fr)],
        merge_t: fm.proof.comm_t,
        merge_p,
        merged_w: fm.instance.comm_w,
        merged_e: fm.instance.comm_e,
        cf_merge_t: cf_m.proof.comm_t,
        cf_claims,
    };
    Ok((inputs, (fm.instance, fm.witness, cf_u, cf_w)))
}

type Claim = (Challenge, G1Affine, G1Affine, G1Affine);

/// The four claims `P₃ = P₁ + r·P₂` of an inner node's child folds, in the circuit's order.
fn child_claims(
    (l, lf): (&NodeProof, &nifs::FoldOutput<G1>),
    (r, rf): (&NodeProof, &nifs::FoldOutput<G1>),
) -> [Claim; 4] {
    [
        (lf.challenge, l.running.comm_w, l.fresh.comm_w, lf.instance.comm_w),
        (lf.challenge, l.running.comm_e, lf.proof.comm_t, lf.instance.comm_e),
        (rf.challenge, r.running.comm_w, r.fresh.comm_w, rf.instance.comm_w),
        (rf.challenge, r.running.comm_e, rf.proof.comm_t, rf.instance.comm_e),
    ]
}

/// The three claims of an inner node's merge, in the circuit's order.
fn merge_claims(
    l_folded: &RelaxedR1csInstance<G1>,
    r_folded: &RelaxedR1csInstance<G1>,
    (m_t, m_p, merged, m_r): (&G1Affine, &G1Affine, &RelaxedR1csInstance<G1>, Challenge),
) -> [Claim; 3] {
    [
        (m_r, l_folded.comm_w, r_folded.comm_w, merged.comm_w),
        (m_r, *m_t, r_folded.comm_e, *m_p),
        (m_r, l_folded.comm_e, *m_p, merged.comm_e),
    ]
}

/// Prove a whole tree over `circuits.len()` steps from `z0` (`circuits[i]` is step `i`'s
/// circuit): the states at every step are computed first (one standalone synthesis of the step
/// circuit per step, no folding), then all leaves in parallel, then each level's nodes in
/// parallel (an odd node out moves up a level unchanged). Thread count: rayon's
/// (`RAYON_NUM_THREADS`).
pub fn prove_tree<C: StepCircuit<Fr>>(pp: &PublicParams, circuits: &[C], z0: &[Fr]) -> Result<NodeProof, PcdError> {
    prove_tree_with_progress(pp, circuits, z0, &|_, _| {})
}

/// [`prove_tree`], telling `progress` `(nodes done, nodes in all)` after each leaf and inner node
/// (`2n − 1` in all for `n` steps; called from worker threads).
pub fn prove_tree_with_progress<C: StepCircuit<Fr>>(
    pp: &PublicParams,
    circuits: &[C],
    z0: &[Fr],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<NodeProof, PcdError> {
    if circuits.is_empty() {
        return Err(PcdError::NoLeaves);
    }
    if z0.len() as u64 != pp.arity {
        return Err(IvcError::State("z0 has the wrong length").into());
    }
    let mut states = Vec::with_capacity(circuits.len());
    let mut z = z0.to_vec();
    for (i, c) in circuits.iter().enumerate() {
        let next = synthesize_step(c, i as u64, &z)?.z_out;
        states.push(std::mem::replace(&mut z, next));
    }
    let total = 2 * circuits.len() - 1;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let tick = || progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
    let mut level = circuits
        .par_iter()
        .zip(&states)
        .enumerate()
        .map(|(i, (c, z))| NodeProof::prove_leaf(pp, c, i as u64, z).inspect(|_| tick()))
        .collect::<Result<Vec<_>, _>>()?;
    while level.len() > 1 {
        let carry = if level.len() % 2 == 1 { level.pop() } else { None };
        let mut next = level
            .par_chunks(2)
            .map(|pair| {
                NodeProof::prove_node(pp, &circuits[pair[1].a as usize], &pair[0], &pair[1]).inspect(|_| tick())
            })
            .collect::<Result<Vec<_>, _>>()?;
        next.extend(carry);
        level = next;
    }
    level.pop().ok_or(PcdError::NoLeaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step_circuit::examples::Fibonacci;
    use ark_ec::CurveGroup;
    use ark_ff::One;

    fn fib_z0() -> Vec<Fr> {
        vec![Fr::from(0u64), Fr::from(1u64)]
    }

    fn sat(out: &NodeOutput) -> bool {
        out.shape.check_relation(Fr::one(), &out.assignment.x, &out.assignment.w, None).is_ok()
    }

    /// Parameters, the circuit, z₀ and two adjacent leaves `[0, 1)` and `[1, 2)`.
    fn two_leaves() -> (PublicParams, Fibonacci, Vec<Fr>, NodeProof, NodeProof) {
        let c = Fibonacci { iterations: 1 };
        let t = std::time::Instant::now();
        let pp = setup(&c).unwrap();
        eprintln!("node circuit: {} constraints; setup {:?}", pp.shape.num_constraints, t.elapsed());
        let z0 = fib_z0();
        let t = std::time::Instant::now();
        let l = NodeProof::prove_leaf(&pp, &c, 0, &z0).unwrap();
        let r = NodeProof::prove_leaf(&pp, &c, 1, &l.z_b).unwrap();
        eprintln!("two leaves {:?}", t.elapsed());
        (pp, c, z0, l, r)
    }

    /// Two leaves and their parent: the root verifies and equals the sequential run; every field
    /// of the root, tampered, is rejected.
    #[test]
    fn two_leaf_tree_verifies_and_every_root_field_is_bound() {
        let (pp, c, z0, l, r) = two_leaves();
        // A leaf verifies on its own, as the root of a one-step tree.
        assert_eq!(l.verify(&pp, 1, &z0).unwrap(), &c.native_step(&z0)[..]);
        r.verify_node(&pp).unwrap();
        let t = std::time::Instant::now();
        let root = NodeProof::prove_node(&pp, &c, &l, &r).unwrap();
        eprintln!("one node {:?}", t.elapsed());
        let t = std::time::Instant::now();
        assert_eq!(root.verify(&pp, 2, &z0).unwrap(), &[Fr::from(1u64), Fr::from(2u64)]);
        eprintln!("verify {:?}", t.elapsed());
        assert_eq!(root.z_b, c.native_step(&c.native_step(&z0)));
        assert_eq!(root.verify(&pp, 3, &z0), Err(PcdError::Range { a: 0, b: 2, expected_a: 0, expected_b: 3 }));
        assert!(root.verify(&pp, 2, &[Fr::from(1u64), Fr::from(1u64)]).is_err());
        // A subtree is not a root: the right leaf covers [1, 2).
        assert!(matches!(r.verify(&pp, 1, &l.z_b), Err(PcdError::Range { .. })));

        // Every field of the root, tampered.
        let g = pp.ck.generators[0];
        let bump = |p: &G1Affine| (*p + g).into_affine();
        let gg = pp.cf_ck.generators[0];
        let bump_gg = |p: &ark_grumpkin::Affine| (*p + gg).into_affine();
        type Mutation<'a> = (&'a str, Box<dyn Fn(&mut NodeProof) + 'a>);
        let muts: Vec<Mutation> = vec![
            ("a", Box::new(|m: &mut NodeProof| m.a = 1)),
            ("b", Box::new(|m: &mut NodeProof| m.b = 3)),
            ("z_a", Box::new(|m: &mut NodeProof| m.z_a[0] += Fr::one())),
            ("z_b", Box::new(|m: &mut NodeProof| m.z_b[1] += Fr::one())),
            ("z_b length", Box::new(|m: &mut NodeProof| m.z_b.push(Fr::one()))),
            ("U.W", Box::new(|m: &mut NodeProof| m.running.comm_w = bump(&m.running.comm_w))),
            ("U.E", Box::new(|m: &mut NodeProof| m.running.comm_e = bump(&m.running.comm_e))),
            ("U.u", Box::new(|m: &mut NodeProof| m.running.u += Fr::one())),
            ("U.x", Box::new(|m: &mut NodeProof| m.running.x[0] += Fr::one())),
            ("U.x length", Box::new(|m: &mut NodeProof| m.running.x.push(Fr::one()))),
            ("W.w", Box::new(|m: &mut NodeProof| m.running_w.w[3] += Fr::one())),
            ("W.e", Box::new(|m: &mut NodeProof| m.running_w.e[5] += Fr::one())),
            (
                "W.e short",
                Box::new(|m: &mut NodeProof| {
                    m.running_w.e.pop();
                }),
            ),
            ("u.W", Box::new(|m: &mut NodeProof| m.fresh.comm_w = bump(&m.fresh.comm_w))),
            ("u.x", Box::new(|m: &mut NodeProof| m.fresh.x[0] += Fr::one())),
            ("w", Box::new(|m: &mut NodeProof| m.fresh_w.w[7] += Fr::one())),
            ("cf_U.W", Box::new(|m: &mut NodeProof| m.cf_running.comm_w = bump_gg(&m.cf_running.comm_w))),
            ("cf_U.E", Box::new(|m: &mut NodeProof| m.cf_running.comm_e = bump_gg(&m.cf_running.comm_e))),
            ("cf_U.u", Box::new(|m: &mut NodeProof| m.cf_running.u += Fq::one())),
            ("cf_U.x", Box::new(|m: &mut NodeProof| m.cf_running.x[3] += Fq::one())),
            ("cf_W.w", Box::new(|m: &mut NodeProof| m.cf_running_w.w[2] += Fq::one())),
            ("cf_W.e", Box::new(|m: &mut NodeProof| m.cf_running_w.e[0] += Fq::one())),
            (
                "running pair of the left leaf",
                Box::new(|m: &mut NodeProof| {
                    (m.running, m.running_w) = (l.running.clone(), l.running_w.clone());
                }),
            ),
            (
                "CycleFold pair of the left leaf",
                Box::new(|m: &mut NodeProof| {
                    (m.cf_running, m.cf_running_w) = (l.cf_running.clone(), l.cf_running_w.clone());
                }),
            ),
        ];
        for (name, f) in &muts {
            let mut m = root.clone();
            f(&mut m);
            assert!(m.verify_node(&pp).is_err(), "tampered {name} accepted");
        }
    }

    /// Children that do not fit together (left output ≠ right input, a gap, swapped, proven
    /// under other parameters) are refused by `prove_node`, and the node circuit itself is
    /// unsatisfiable when they are forced past those native checks.
    #[test]
    fn mismatched_children_rejected_natively_and_in_circuit() {
        let (pp, c, z0, l, r) = two_leaves();
        // Children that do not fit, natively.
        assert_eq!(
            NodeProof::prove_node(&pp, &c, &r, &l).unwrap_err(),
            PcdError::NotAdjacent { left_a: 1, left_b: 2, right_a: 0, right_b: 1 }
        );
        let other = NodeProof::prove_leaf(&pp, &c, 1, &[Fr::from(5u64), Fr::from(8u64)]).unwrap();
        assert_eq!(NodeProof::prove_node(&pp, &c, &l, &other).unwrap_err(), PcdError::StateMismatch);
        let gap = NodeProof::prove_leaf(&pp, &c, 2, &l.z_b).unwrap();
        assert!(matches!(NodeProof::prove_node(&pp, &c, &l, &gap), Err(PcdError::NotAdjacent { .. })));
        // A child proven under other parameters (same shape, other digest: the hardest case).
        let mut pp2 = pp.clone();
        pp2.digest += Fr::one();
        let foreign = NodeProof::prove_leaf(&pp2, &c, 1, &l.z_b).unwrap();
        assert_eq!(NodeProof::prove_node(&pp, &c, &l, &foreign).unwrap_err(), PcdError::ChildHash("right"));

        // The same children forced into the node circuit past the native checks: unsatisfiable.
        let (honest, _) = fold_children(&pp, &l, &r).unwrap();
        let full = synthesize(&c, &honest).unwrap();
        assert!(sat(&full));
        // The prover's values-only synthesis gives the same assignment.
        let (a, z_b) = synthesize_witness(&c, &honest).unwrap();
        assert_eq!((a.x, a.w, z_b), (full.assignment.x, full.assignment.w, full.z_b));
        let forced = |f: &dyn Fn(&mut NodeInputs)| {
            let mut i = honest.clone();
            f(&mut i);
            sat(&synthesize(&c, &i).unwrap())
        };
        assert!(!forced(&|i| i.z_m = other.z_a.clone()), "left output != right input accepted");
        assert!(!forced(&|i| i.m = 2), "gap accepted");
        assert!(!forced(&|i| i.b = 3), "wrong end accepted");
        assert!(!forced(&|i| i.a = 1), "wrong start accepted");
        assert!(!forced(&|i| i.is_leaf = true), "inner node passed as a leaf");
        assert!(!forced(&|i| i.pp += Fr::one()), "node under another digest accepted");
        for (name, (a, b)) in [("swapped", (&r, &l)), ("gap", (&l, &gap)), ("foreign", (&l, &foreign))] {
            let (mut i, _) = fold_children(&pp, a, b).unwrap();
            (i.a, i.m, i.b) = (0, 1, 2);
            (i.z_a, i.z_m, i.z_b) = (l.z_a.clone(), l.z_b.clone(), r.z_b.clone());
            assert!(!sat(&synthesize(&c, &i).unwrap()), "{name} children accepted by the circuit");
        }
        // A leaf must be exactly one step from its own input.
        let mut leaf = NodeInputs::leaf(pp.digest, 0, &z0);
        leaf.m = 1;
        assert!(!sat(&synthesize(&c, &leaf).unwrap()), "leaf with a != m accepted");
        let mut leaf = NodeInputs::leaf(pp.digest, 0, &z0);
        leaf.b = 2;
        assert!(!sat(&synthesize(&c, &leaf).unwrap()), "leaf covering two steps accepted");
    }

    /// A node proof round-trips through bytes; truncated, padded, garbage or re-headered bytes
    /// are errors (never panics), and flipped bytes never give a proof that verifies.
    #[test]
    fn node_serialization_roundtrip_and_bad_bytes() {
        let c = Fibonacci { iterations: 1 };
        let pp = setup(&c).unwrap();
        let z0 = fib_z0();
        let root = NodeProof::prove_leaf(&pp, &c, 0, &z0).unwrap();
        let bytes = root.to_bytes().unwrap();
        eprintln!("node proof: {} bytes", bytes.len());
        let back = NodeProof::from_bytes(&bytes).unwrap();
        assert_eq!(back, root);
        back.verify(&pp, 1, &z0).unwrap();
        for cut in [0, 5, crate::framing::HEADER_LEN, crate::framing::HEADER_LEN + 1, bytes.len() / 2, bytes.len() - 1]
        {
            assert!(matches!(NodeProof::from_bytes(&bytes[..cut]), Err(PcdError::Decode(_))), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(NodeProof::from_bytes(&long), Err(PcdError::Decode(_))));
        // A consistent header with one byte too few in the payload, and trailing bytes inside it.
        let reheader = |mut p: Vec<u8>| {
            let n = (p.len() - crate::framing::HEADER_LEN) as u64;
            p[12..20].copy_from_slice(&n.to_le_bytes());
            p
        };
        let short = reheader(bytes[..bytes.len() - 1].to_vec());
        assert!(matches!(NodeProof::from_bytes(&short), Err(PcdError::Decode(_))));
        assert!(matches!(NodeProof::from_bytes(&reheader(long)), Err(PcdError::Decode(_))));
        let mut b = bytes.clone();
        b[0] ^= 1;
        assert!(matches!(NodeProof::from_bytes(&b), Err(PcdError::Decode(_))));
        let mut b = bytes.clone();
        b[8] = 7;
        assert!(matches!(NodeProof::from_bytes(&b), Err(PcdError::Decode(_))));
        // Garbage payloads of several lengths, and a huge vector length: errors, never panics.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in [1usize, 8, 64, 1000, 100_000] {
            let payload: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let g = reheader([&bytes[..crate::framing::HEADER_LEN], &payload].concat());
            assert!(NodeProof::from_bytes(&g).is_err(), "garbage of {len} bytes decoded");
        }
        let mut b = bytes.clone();
        b[crate::framing::HEADER_LEN + 16..crate::framing::HEADER_LEN + 24].copy_from_slice(&u64::MAX.to_le_bytes()); // z_a's length
        assert!(matches!(NodeProof::from_bytes(&b), Err(PcdError::Decode(_))));
        // A flipped byte inside the payload either fails to decode or fails to verify.
        for pos in [crate::framing::HEADER_LEN + 40, bytes.len() / 2, bytes.len() - 9] {
            let mut b = bytes.clone();
            b[pos] ^= 0x10;
            if let Ok(p) = NodeProof::from_bytes(&b) {
                assert!(p.verify(&pp, 1, &z0).is_err(), "flipped byte {pos} still verifies");
            }
        }
    }

    /// Four leaves proven by `prove_tree` (leaves and each level in parallel): the root equals the
    /// sequential run.
    #[test]
    fn four_leaf_tree_matches_sequential_run() {
        let c = Fibonacci { iterations: 2 };
        let pp = setup(&c).unwrap();
        let z0 = fib_z0();
        let t = std::time::Instant::now();
        let root = prove_tree(&pp, &vec![c.clone(); 4], &z0).unwrap();
        eprintln!("4-leaf tree {:?}", t.elapsed());
        let mut z = z0.clone();
        for _ in 0..4 {
            z = c.native_step(&z);
        }
        assert_eq!(root.verify(&pp, 4, &z0).unwrap(), &z[..]);
        assert_eq!(z, vec![Fr::from(21u64), Fr::from(34u64)]); // F(8), F(9)
        assert_eq!(prove_tree::<Fibonacci>(&pp, &[], &z0).unwrap_err(), PcdError::NoLeaves);
    }
}
