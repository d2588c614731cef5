//! Nova folding engine over the BN254/Grumpkin cycle, with CycleFold and tree folding (PCD).
//!
//! Issue 6. Written from the papers (Nova eprint 2021/370, CycleFold eprint 2023/1192) with
//! Microsoft Nova, arecibo and sonobe read as references; arkworks 0.6 throughout.
//!
//! # What is built (each module tested)
//!
//! * [`r1cs`]: sparse R1CS shapes extracted from an arkworks 0.6 constraint system (R1CS predicate
//!   only), strict and relaxed instances/witnesses, `is_sat` / `is_sat_relaxed` with errors that
//!   name the failing row or commitment, length checks before any zip (pitfall A.9), shape
//!   validation for untrusted shapes, the cross term, and a shape digest.
//! * [`commitment`]: Pedersen vector commitments on BN254 G1 and Grumpkin; generators by a
//!   documented try-and-increment SHA-256 hash-to-curve; MSM that picks ark-ec's bit/u64 fast
//!   paths when the scalars are small, and splits a mostly-small vector (a circuit witness) by
//!   scalar width.
//! * [`poseidon_params`], [`transcript`]: Poseidon (t = 3, α = 5, 8 + 57 rounds, Grain LFSR) sponge
//!   over `Fr`; one canonical encoding for `Fr`, `Fq` (two 128-bit limbs), Grumpkin points
//!   (infinity as `(0, 0)`), BN254 G1 points compressed (`x`'s limbs with `y`'s parity in bit 126
//!   of the high limb, infinity `x = 0`: no G1 point has `x = 0`), and length-prefixed vectors;
//!   128-bit challenges valid in both fields.
//! * [`transcript_gadget`]: the same transcript in circuit (limbs for `Fq`/G1, `to_affine` for
//!   Grumpkin so infinity is `(0, 0)`, canonical 128-bit challenge bits); tested to give the native
//!   challenges, infinity included. The first piece of the augmented circuit.
//! * [`nonnative`]: `Fq` values in the primary circuit as canonical 254-bit decompositions
//!   (`≤ q − 1`, so `v + q` is rejected) recombined into the transcript's limbs (~633
//!   constraints); a G1 point is its `x` so decomposed plus one parity bit for `y`.
//! * [`nifs`]: NIFS prover and verifier, relaxed ⊕ relaxed (PCD nodes) and relaxed ⊕ strict (IVC),
//!   generic over the curve so the same code folds the primary instances (BN254) and the CycleFold
//!   instances (Grumpkin); `r = H(pp_digest, U₁, U₂, T̄)`.
//! * [`step_circuit`]: the [`step_circuit::StepCircuit`] trait, standalone step synthesis, and the
//!   Fibonacci and Poseidon hash-chain test circuits.
//! * [`cyclefold`]: the CycleFold circuit over `Fq` proving one claim `P₃ = P₁ + r·P₂` on G1
//!   (3,264 constraints), with the compressed public input `[r + 2^128·(s₁ + 2s₂ + 4s₃), P₁.x,
//!   P₂.x, P₃.x]` (`sᵢ` the parity of `Pᵢ.y`; the circuit recovers each `y` and checks it on the
//!   curve with that parity, infinity only as `x = 0, s = 0`).
//!
//! * [`augmented`]: the augmented (primary) circuit, built as designed below (items 1–7):
//!   in-circuit NIFS verifier, two CycleFold claims per fold (`W̄`, `Ē`), both CycleFold instances
//!   folded natively on Grumpkin in circuit with their `Fq` scalars folded non-natively
//!   ([`augmented::fq_mul_add`], [`augmented::fq_add_challenge`]: exact integer checks over limbs),
//!   all challenges of a step drawn from one transcript bound by the step's input hash, base case
//!   anchored, one public input (the state hash [`augmented::state_hash`]). **32,412
//!   constraints** for Fibonacci with 1 iteration (44,970 before the step transcript, 65,222
//!   before G1 points were compressed); CycleFold circuit 3,264.
//! * [`ivc`]: public parameters (both shapes, both keys, digest), `prove_first` / `prove_step`
//!   (the prover synthesizes values only, [`r1cs::witness_only_cs`]: the matrices are the
//!   parameters'), and a verifier whose cost does not depend on the number of steps. Tested: 1, 2 and 5 steps
//!   of Fibonacci and the Poseidon chain; mixing runs (A.1), swapped CycleFold instance (A.2), base case (A.4), wrong step
//!   count, z₀/z_i and every proof field tampered, a false CycleFold claim (A.3), an unsatisfying
//!   step witness folded in, other parameters; proofs serialize ([`framing`]) with truncated,
//!   re-headered and garbage bytes refused. Whole crate
//!   suite ≈ 45 s wall with nextest in the dev profile on the 2-core machine, nothing ignored.
//!
//! * [`pcd`]: proof-carrying data, a binary tree of node proofs (design below). One node circuit
//!   for leaves and inner nodes (**86,245 constraints** for Fibonacci with 1 iteration, was
//!   141,900 before the node transcript and 202,932 before G1 points were compressed: three
//!   primary folds and seven CycleFold claims); `prove_leaf`, `prove_node(left, right)`,
//!   `verify` (one hash and three satisfiability checks, exactly the IVC verifier's cost), and
//!   `prove_tree` (all leaves, then each level, in parallel with rayon); node proofs serialize to
//!   bytes (`NXNOVAPN` header, length-checked, validated decode) so a node can be proven
//!   elsewhere. Tested: 2-leaf and 4-leaf trees equal the sequential run, every root field
//!   tampered, children not adjacent / with mismatched states / swapped / under other parameters
//!   (refused natively *and* unsatisfiable in the circuit when forced), leaf anchoring,
//!   serialization round trip and truncated/garbage/re-headered bytes.
//! * [`params`]: parameters on disk (magic, version, length, SHA-256 checksum, validating decode,
//!   shapes validated, keys re-derived, digest recomputed and compared with the caller's), and a
//!   cache directory ([`params::ParamsCache`]) keyed by kind (IVC/PCD), the step circuit's shape
//!   digest and the format version, written through a temporary file and a rename; a missing,
//!   corrupted or mismatched file is a typed error and `load_or_setup` regenerates it.
//!
//! # Status and what is next
//!
//! Done: the augmented circuit (items 1–7 below), the final verifier, sequential IVC, PCD, the
//! parameters file and cache, and a test for every applicable pitfall of section A (A.3 included:
//! a false `W̄'` claim is caught by `cf_U` at the end). Benchmarks: `benches/folding.rs`, tables in
//! the root `BENCHMARKS.md`. The targets are met: IVC overhead
//! 32.4k constraints (≤ 40k), PCD node 86.2k (≤ 100k), a 2^14-constraint step folds in about
//! 270 ms on 2 threads (≤ 300 ms).
//!
//! What brought the circuits there, in order of effect: (1) one transcript per IVC step / PCD
//! node, bound by the hash that already authenticates the running instances, instead of a fresh
//! transcript per fold that re-absorbed `pp` and a whole running instance (a CycleFold running
//! instance is 15 elements, ≈1.8k constraints per absorption); (2) G1 points compressed in the
//! transcript and the CycleFold input; (3) non-native results between two folds of one step left
//! unreduced (never absorbed, so no comparison with `q − 1`); (4) `u + r` by its own gadget, and
//! carries checked per pair of limbs in `fq_mul_add`.
//!
//! Next candidates, by estimate: a cheaper canonical comparison than arkworks' bit-serial
//! `enforce_smaller_or_equal_than_le` (≈380 constraints per canonical `Fq`, 17 per IVC step); one
//! CycleFold claim for both IVC points (≈2k); in the CycleFold circuit a cheaper parity check than
//! a full decomposition of `y`; an interleaved tree (a node proves left child, one step, right
//! child, as the Nexus zkVM does), so inner nodes do useful step work instead of a discarded step;
//! a batch-affine MSM for the commitments, which dominate a fold.

//! # The design
//!
//! **Augmented circuit (primary, over `Fr`).** Public input: one element
//! `h = H(pp_digest, i, z₀, z_i, U_i, cf_U_i)` (Poseidon, same encoding as the transcript; A.1,
//! A.2). Witness: `i, z₀, z_i, U_i, cf_U_i, u_i, T̄`, the CycleFold instances and their cross-term
//! commitments. Constraints:
//! 1. `u_i.x = H(pp_digest, i, z₀, z_i, U_i, cf_U_i)` (the previous step's output hash);
//! 2. `r` = the NIFS challenge recomputed in circuit with [`transcript_gadget::TranscriptVar`]
//!    from the step transcript (`u_i.x`'s hash of `pp, U_i, cf_U_i`, then `u_i`, `T̄`), exactly as
//!    the prover draws it ([`nifs::fold_in_transcript`]); its low 128 bits via a unique bit
//!    decomposition (A.7, A.10), with G1 points as [`nonnative::G1LimbsVar`] (canonical limbs);
//! 3. the scalar part of the fold in circuit (`u`, `x` are native `Fr`);
//! 4. the point part (`W̄`, `Ē`) is *not* computed: the new `W̄, Ē` are witnesses and two
//!    CycleFold claims (`W̄ = W̄₁ + r·W̄₂`, `Ē' = Ē₁ + r·T̄`; `Ē₂ = 0` for the strict `u_i`) are made.
//!    Their CycleFold public inputs are built in circuit from the actual G1 points (as `Fq` limbs,
//!    range-checked) and the same `r` bits (A.3);
//! 5. the CycleFold instances (Grumpkin commitments, coordinates native in `Fr`) are folded into
//!    `cf_U` natively in circuit, each with its own challenge from the step transcript, which is
//!    bound to `cf_U` through the step's input hash and to each claim through its points (A.6);
//!    one in-circuit 128-bit Grumpkin scalar multiplication per commitment (`r·w̄`, `r·T̄`); the
//!    `Fq` scalars `u`, `x` are non-native here and are folded with `fq_mul_add`;
//! 6. base case (A.4): when `i = 0`, `z_i = z₀` and the outputs `U_1`, `cf_U_1` are the fixed
//!    dummies (the inputs `U_0`, `cf_U_0`, `u_0` are then irrelevant); otherwise the folded values;
//! 7. the step circuit: `z_{i+1} = F(i, z_i)`; output `h' = H(pp_digest, i + 1, z₀, z_{i+1},
//!    U_{i+1}, cf_U_{i+1})` allocated as the single public input; arities checked (A.5).
//!
//! **Final verifier** checks `i ≥ 1`, arities, `u.x = H(…)` recomputed from the claimed values,
//! `u` strictly satisfied, `U` and `cf_U` relaxed-satisfied, with shapes and keys from its own
//! parameters (A.1, A.9). Tests mix `U`/`cf_U`/`u` across runs, swap `cf_U`, start from another
//! state, and tamper every field.
//!
//! **PCD tree** (full constraint list and soundness argument in [`pcd`]). A node proof claims
//! "steps `[a, b)` take `z_a` to `z_b`" and carries `(U, W)`, `(u, w)`, `(cf_U, cf_W)` with
//! `u.x = H_node(pp, a, b, z_a, z_b, U, cf_U)`. The node circuit (one shape for leaves and inner
//! nodes, public input one hash):
//! 1. *adjacency by shared variables*: the left child is hashed over `(a, m, z_a, z_m)` and the
//!    right over `(m, b, z_m, z_b)`, the same `m`, `z_m` variables, so `z_out(left) = z_in(right)`,
//!    left covers `[a, m)`, right `[m, b)`, the node `[a, b)` (A.11);
//! 2. *children authenticated*: `u_c.x = H_node(pp, …, U_c, cf_U_c)` for both, with the node's
//!    own `pp` (the one in its output hash, which the root verifier checks with the real digest),
//!    so a child from other parameters or a tampered child does not hash;
//! 3. *three primary folds* `U_L ⊕ u_L`, `U_R ⊕ u_R` (relaxed ⊕ strict), then the two results
//!    (relaxed ⊕ relaxed), challenges recomputed in circuit from the node transcript;
//! 4. *seven CycleFold claims* for the G1 arithmetic, public inputs built in circuit (A.3);
//!    the relaxed ⊕ relaxed `Ē = Ē₁ + r·T̄ + r²·Ē₂` is two claims, `P = T̄ + r·Ē₂` and
//!    `Ē = Ē₁ + r·P`, so every scalar stays 128 bits;
//! 5. *both children's CycleFold instances* folded (`cf_U_L ⊕ cf_U_R` natively on Grumpkin), then
//!    the seven claim instances;
//! 6. *leaves anchored*: the step `z_F = F(m, z_m)` is in the circuit; a leaf enforces `a = m`,
//!    `z_a = z_m`, `b = m + 1`, `z_b = z_F` and outputs the fixed dummy `U`, `cf_U` (A.4); an inner
//!    node discards `z_F` (so the step circuit must be satisfiable at `(m, z_m)`: the prover runs
//!    the right child's first step there).
//!
//! The root verifier is the IVC verifier's twin: `a = 0`, `b = n`, `z_a = z₀`, lengths, the hash,
//! `u` strict, `U` and `cf_U` relaxed, with its own parameters. Nodes of one level are
//! independent: `prove_tree` proves them with rayon; `NodeProof::to_bytes`/`from_bytes` move them.
//!
//! **Parameters on disk**: versioned header, SHA-256 checksum, shapes re-validated
//! ([`r1cs::R1csShape::validate`]) and keys re-derived or digest-checked
//! ([`commitment::CommitmentKey::verify_derivation`]) on load; a cache directory keyed by
//! (kind, step-circuit shape digest, format version) whose files must also carry the digest
//! the caller's circuit gives ([`params::ParamsKind::expected_digest`]).

pub mod augmented;
pub mod commitment;
pub mod cyclefold;
pub mod framing;
pub mod ivc;
pub mod nifs;
pub mod nonnative;
pub mod params;
pub mod pcd;
pub mod poseidon_params;
pub mod r1cs;
pub mod step_circuit;
pub mod transcript;
pub mod transcript_gadget;
