//! The step-circuit interface that IVC and PCD fold, and two test circuits.
//!
//! A step circuit computes `z_{i+1} = F(i, z_i)` on a state of fixed length (`arity`) in arkworks
//! gadgets. The augmented circuit (next) wraps it: it allocates `i` and `z_i`, calls
//! [`StepCircuit::generate_constraints`], and hashes the output into the public input, so a step
//! circuit never allocates public inputs itself. The shape must not depend on `i` or on the state
//! values (IVC folds every step into one running instance of one shape): circuits must not branch
//! on witness values when choosing constraints.

use ark_bn254::Fr;
use ark_crypto_primitives::sponge::{constraints::CryptographicSpongeVar, poseidon::constraints::PoseidonSpongeVar};
use ark_ff::PrimeField;
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystem, ConstraintSystemRef, SynthesisError};

use crate::{
    poseidon_params::poseidon_config,
    r1cs::{Assignment, R1csError, R1csShape, extract, extract_assignment, witness_only_cs},
};

/// Largest state length accepted, in field elements (bounds allocation from untrusted arities).
pub const MAX_ARITY: usize = 1 << 16;

/// Errors around step circuits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StepError {
    /// A state vector does not have the circuit's arity.
    #[error("{what} has {got} elements, the step circuit's arity is {arity}")]
    Arity {
        /// `z_in` or `z_out`.
        what: &'static str,
        /// The arity.
        arity: usize,
        /// Found.
        got: usize,
    },
    /// The arity is zero or above [`MAX_ARITY`].
    #[error("arity {0} outside 1..={MAX_ARITY}")]
    BadArity(usize),
    /// Synthesis failed.
    #[error(transparent)]
    R1cs(#[from] R1csError),
}

/// A synthesized outer circuit: its shape, its assignment, and its output state.
pub(crate) type Synthesized<F> = (R1csShape<F>, Assignment<F>, Vec<F>);

/// Runs `build` on a full constraint system: the shape, the assignment, and the values of the variables
/// `build` returns (the circuit's output state). Shared by the augmented (IVC) and node (PCD) circuits.
pub(crate) fn synthesize_outer<F: PrimeField>(
    build: impl FnOnce(ConstraintSystemRef<F>) -> Result<Vec<FpVar<F>>, SynthesisError>,
) -> Result<Synthesized<F>, StepError> {
    let cs = ConstraintSystem::<F>::new_ref();
    let out = build(cs.clone())?.iter().map(|v| v.value()).collect::<Result<Vec<_>, _>>()?;
    let (shape, assignment) = extract(&cs)?;
    let assignment = assignment.ok_or_else(|| R1csError::Synthesis("no assignment".into()))?;
    Ok((shape, assignment, out))
}

/// [`synthesize_outer`] for the prover: values only, no matrices (see [`crate::r1cs::witness_only_cs`]).
pub(crate) fn synthesize_outer_values<F: PrimeField>(
    build: impl FnOnce(ConstraintSystemRef<F>) -> Result<Vec<FpVar<F>>, SynthesisError>,
) -> Result<(Assignment<F>, Vec<F>), StepError> {
    let cs = witness_only_cs::<F>();
    let out = build(cs.clone())?.iter().map(|v| v.value()).collect::<Result<Vec<_>, _>>()?;
    Ok((extract_assignment(&cs)?, out))
}

impl From<SynthesisError> for StepError {
    fn from(e: SynthesisError) -> Self {
        StepError::R1cs(e.into())
    }
}

/// One step of an incrementally verified computation.
pub trait StepCircuit<F: PrimeField>: Send + Sync {
    /// Length of the state `z`.
    fn arity(&self) -> usize;

    /// Constrain `z_out = F(i, z_in)` and return `z_out` (of length [`Self::arity`]).
    /// `i` is the step index, allocated by the caller.
    fn generate_constraints(
        &self,
        cs: ConstraintSystemRef<F>,
        i: &FpVar<F>,
        z_in: &[FpVar<F>],
    ) -> Result<Vec<FpVar<F>>, SynthesisError>;
}

/// A step circuit synthesized on its own, with public input `(i, z_in, z_out)`: the step's R1CS
/// before augmentation. Used by tests, benchmarks and to measure a step's size.
#[derive(Clone, Debug)]
pub struct StepSynthesis<F: PrimeField> {
    /// The shape.
    pub shape: R1csShape<F>,
    /// Public input `(i, z_in, z_out)`.
    pub x: Vec<F>,
    /// Witness.
    pub w: Vec<F>,
    /// The output state.
    pub z_out: Vec<F>,
}

/// Synthesize step `i` of `circuit` from `z_in`.
pub fn synthesize_step<F: PrimeField, C: StepCircuit<F> + ?Sized>(
    circuit: &C,
    i: u64,
    z_in: &[F],
) -> Result<StepSynthesis<F>, StepError> {
    let arity = circuit.arity();
    if arity == 0 || arity > MAX_ARITY {
        return Err(StepError::BadArity(arity));
    }
    if z_in.len() != arity {
        return Err(StepError::Arity { what: "z_in", arity, got: z_in.len() });
    }
    let cs = ConstraintSystem::<F>::new_ref();
    let i_var = FpVar::new_input(cs.clone(), || Ok(F::from(i)))?;
    let z_in_vars = z_in.iter().map(|z| FpVar::new_input(cs.clone(), || Ok(*z))).collect::<Result<Vec<_>, _>>()?;
    let z_out_vars = circuit.generate_constraints(cs.clone(), &i_var, &z_in_vars)?;
    if z_out_vars.len() != arity {
        return Err(StepError::Arity { what: "z_out", arity, got: z_out_vars.len() });
    }
    let z_out = z_out_vars.iter().map(|v| v.value()).collect::<Result<Vec<_>, _>>()?;
    for (var, val) in z_out_vars.iter().zip(&z_out) {
        let public = FpVar::new_input(cs.clone(), || Ok(*val))?;
        var.enforce_equal(&public)?;
    }
    let (shape, assignment) = extract(&cs)?;
    let assignment = assignment.ok_or_else(|| R1csError::Synthesis("no assignment in prove mode".into()))?;
    Ok(StepSynthesis { shape, x: assignment.x, w: assignment.w, z_out })
}

/// Test circuits. Public so benchmarks and other crates' tests can use them.
pub mod examples {
    use super::*;

    /// `(a, b) ↦ (b, a + b)`, repeated `iterations` times per step. One constraint per iteration
    /// (the addition is folded into the next linear combination), so the size scales linearly.
    #[derive(Clone, Debug)]
    pub struct Fibonacci {
        /// Iterations per step (≥ 1).
        pub iterations: usize,
    }

    impl Fibonacci {
        /// The same computation natively.
        pub fn native_step<F: PrimeField>(&self, z: &[F]) -> Vec<F> {
            let (mut a, mut b) = (z[0], z[1]);
            for _ in 0..self.iterations {
                (a, b) = (b, a + b);
            }
            vec![a, b]
        }
    }

    impl<F: PrimeField> StepCircuit<F> for Fibonacci {
        fn arity(&self) -> usize {
            2
        }

        fn generate_constraints(
            &self,
            cs: ConstraintSystemRef<F>,
            _i: &FpVar<F>,
            z_in: &[FpVar<F>],
        ) -> Result<Vec<FpVar<F>>, SynthesisError> {
            let (mut a, mut b) = (z_in[0].clone(), z_in[1].clone());
            for _ in 0..self.iterations {
                // Materialize a + b as a witness so each iteration costs one constraint and the
                // linear combinations do not grow with the iteration count.
                let sum = FpVar::new_witness(cs.clone(), || Ok(a.value()? + b.value()?))?;
                sum.enforce_equal(&(&a + &b))?;
                (a, b) = (b, sum);
            }
            Ok(vec![a, b])
        }
    }

    /// `z ↦ Poseidon(z)` (absorb `z`, squeeze one element with [`poseidon_config`]), repeated
    /// `hashes` times per step. About 243 constraints per hash.
    #[derive(Clone, Debug)]
    pub struct PoseidonChain {
        /// Hashes per step (≥ 1).
        pub hashes: usize,
    }

    impl PoseidonChain {
        /// The same computation natively.
        pub fn native_step(&self, z: &[Fr]) -> Vec<Fr> {
            use ark_crypto_primitives::sponge::{
                CryptographicSponge, FieldBasedCryptographicSponge, poseidon::PoseidonSponge,
            };
            let mut v = z[0];
            for _ in 0..self.hashes {
                let mut s = PoseidonSponge::new(poseidon_config());
                s.absorb(&v);
                v = s.squeeze_native_field_elements(1)[0];
            }
            vec![v]
        }
    }

    impl StepCircuit<Fr> for PoseidonChain {
        fn arity(&self) -> usize {
            1
        }

        fn generate_constraints(
            &self,
            cs: ConstraintSystemRef<Fr>,
            _i: &FpVar<Fr>,
            z_in: &[FpVar<Fr>],
        ) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
            let mut v = z_in[0].clone();
            for _ in 0..self.hashes {
                let mut s = PoseidonSpongeVar::new(cs.clone(), poseidon_config());
                s.absorb(&v)?;
                v = s.squeeze_field_elements(1)?.remove(0);
            }
            Ok(vec![v])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{examples::*, *};
    use crate::{
        commitment::CommitmentKey,
        nifs,
        r1cs::{R1csInstance, R1csWitness, RelaxedR1csInstance, RelaxedR1csWitness},
    };
    use ark_bn254::G1Projective as G1;
    use ark_std::One;

    /// A circuit that lies about its arity.
    struct Liar;
    impl StepCircuit<Fr> for Liar {
        fn arity(&self) -> usize {
            2
        }
        fn generate_constraints(
            &self,
            _cs: ConstraintSystemRef<Fr>,
            _i: &FpVar<Fr>,
            z_in: &[FpVar<Fr>],
        ) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
            Ok(z_in[..1].to_vec())
        }
    }

    #[test]
    fn fibonacci_matches_native_and_shape_is_step_independent() {
        let c = Fibonacci { iterations: 5 };
        let z0 = [Fr::from(0u64), Fr::from(1u64)];
        let s0 = synthesize_step(&c, 0, &z0).unwrap();
        assert_eq!(s0.z_out, c.native_step(&z0));
        assert_eq!(s0.z_out, vec![Fr::from(5u64), Fr::from(8u64)]); // F5, F6
        s0.shape.check_relation(Fr::one(), &s0.x, &s0.w, None).unwrap();
        let s1 = synthesize_step(&c, 1, &s0.z_out).unwrap();
        assert_eq!(s0.shape.digest(), s1.shape.digest());
        assert_eq!(s0.shape.num_constraints, 5 + 2); // 5 additions + 2 output bindings
    }

    #[test]
    fn poseidon_chain_matches_native_sponge() {
        let c = PoseidonChain { hashes: 2 };
        let z0 = [Fr::from(42u64)];
        let s = synthesize_step(&c, 0, &z0).unwrap();
        assert_eq!(s.z_out, c.native_step(&z0));
        s.shape.check_relation(Fr::one(), &s.x, &s.w, None).unwrap();
        let s1 = synthesize_step(&c, 7, &s.z_out).unwrap();
        assert_eq!(s.shape.digest(), s1.shape.digest());
        // At most 3·t·R_F + 3·R_P = 243 per permutation (NOTES); a little less in practice because
        // S-boxes on constant state cells (the zero capacity and padding) cost nothing.
        let per_hash = s.shape.num_constraints / 2;
        assert!((200..=243).contains(&per_hash), "{per_hash} constraints per hash");
    }

    #[test]
    fn wrong_output_or_witness_rejected() {
        for (name, c, z0) in [
            (
                "fib",
                Box::new(Fibonacci { iterations: 3 }) as Box<dyn StepCircuit<Fr>>,
                vec![Fr::from(2u64), Fr::from(3u64)],
            ),
            ("poseidon", Box::new(PoseidonChain { hashes: 1 }), vec![Fr::from(9u64)]),
        ] {
            let s = synthesize_step(c.as_ref(), 0, &z0).unwrap();
            // a claimed output that is not F(z_in)
            let mut x = s.x.clone();
            *x.last_mut().unwrap() += Fr::one();
            assert!(s.shape.check_relation(Fr::one(), &x, &s.w, None).is_err(), "{name}");
            // a different input with the same output
            let mut x = s.x.clone();
            x[1] += Fr::one();
            assert!(s.shape.check_relation(Fr::one(), &x, &s.w, None).is_err(), "{name}");
            // every witness variable is constrained (PROVER-PITFALLS B.26)
            for j in 0..s.w.len() {
                let mut w = s.w.clone();
                w[j] += Fr::one();
                assert!(
                    s.shape.check_relation(Fr::one(), &s.x, &w, None).is_err(),
                    "{name}: witness {j} unconstrained"
                );
            }
        }
    }

    #[test]
    fn arity_is_enforced() {
        let c = Fibonacci { iterations: 1 };
        assert_eq!(
            synthesize_step(&c, 0, &[Fr::one()]).unwrap_err(),
            StepError::Arity { what: "z_in", arity: 2, got: 1 }
        );
        assert_eq!(
            synthesize_step(&Liar, 0, &[Fr::one(), Fr::one()]).unwrap_err(),
            StepError::Arity { what: "z_out", arity: 2, got: 1 }
        );
    }

    #[test]
    fn folding_consecutive_steps_of_both_circuits() {
        fn run<C: StepCircuit<Fr>>(c: &C, z0: Vec<Fr>, steps: u64) {
            let first = synthesize_step(c, 0, &z0).unwrap();
            let shape = first.shape.clone();
            let ck = CommitmentKey::<G1>::setup(b"steps", shape.num_constraints.max(shape.num_witness)).unwrap();
            let pp = shape.digest();
            let mut big_u = RelaxedR1csInstance::<G1>::dummy(shape.num_io);
            let mut big_w = RelaxedR1csWitness::dummy(&shape);
            let mut z = z0;
            for i in 0..steps {
                let s = synthesize_step(c, i, &z).unwrap();
                assert_eq!(s.shape, shape);
                let u = R1csInstance::<G1> { comm_w: ck.commit(&s.w).unwrap(), x: s.x.clone() };
                let w = R1csWitness { w: s.w };
                shape.is_sat(&ck, &u, &w).unwrap();
                let out = nifs::prove_strict(&ck, &shape, pp, (&big_u, &big_w), (&u, &w)).unwrap();
                big_u = nifs::verify_strict(shape.num_io, pp, &big_u, &u, &out.proof).unwrap();
                big_w = out.witness;
                shape.is_sat_relaxed(&ck, &big_u, &big_w).unwrap();
                z = s.z_out;
            }
        }
        run(&Fibonacci { iterations: 4 }, vec![Fr::from(0u64), Fr::from(1u64)], 5);
        run(&PoseidonChain { hashes: 1 }, vec![Fr::from(1u64)], 3);
    }
}
