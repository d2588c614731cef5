//! R1CS and relaxed R1CS (Nova, eprint 2021/370, §4.1).
//!
//! A shape is three sparse matrices `A, B, C` with `num_constraints` rows and
//! `1 + num_io + num_witness` columns. The variable vector is laid out as arkworks lays it out:
//! `z = (u, x, W)`, where `u` is the constant slot (1 for a strict instance, the relaxation scalar
//! for a relaxed one), `x` the public inputs and `W` the private witness. A strict instance satisfies
//! `Az ∘ Bz = Cz` with `u = 1`; a relaxed instance satisfies `Az ∘ Bz = u·Cz + E`.
//!
//! The shape is generic over the field because the primary circuit lives over BN254's scalar field
//! `Fr` and the CycleFold circuit over BN254's base field `Fq` (Grumpkin's scalar field).
//!
//! Every satisfiability check length-checks `W`, `E` and `x` against the shape before zipping
//! anything (PROVER-PITFALLS A.9: an empty `E` once made `zip().all()` pass).

use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::PrimeField;
use ark_relations::gr1cs::{ConstraintSystemRef, R1CS_PREDICATE_LABEL, SynthesisError};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::commitment::{CommitmentError, CommitmentKey};

/// Largest shape accepted, in constraints (and in variables). Bounds what a deserialized or
/// synthesized shape may make us allocate; 2^24 is far above any step circuit we plan (2^17).
pub const MAX_SHAPE_ROWS: usize = 1 << 24;

/// Errors from building or checking R1CS shapes, instances and witnesses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum R1csError {
    /// The constraint system could not be synthesized or finalized.
    #[error("constraint synthesis failed: {0}")]
    Synthesis(String),
    /// The constraint system used a predicate other than R1CS (e.g. SquareR1CS).
    #[error("constraint system uses predicate {0:?}; only R1CS is supported")]
    UnsupportedPredicate(String),
    /// The shape is larger than [`MAX_SHAPE_ROWS`].
    #[error("shape too large: {what} = {got} exceeds the limit {limit}")]
    TooLarge {
        /// Which dimension.
        what: &'static str,
        /// Its value.
        got: usize,
        /// The limit.
        limit: usize,
    },
    /// A matrix entry points outside the variable vector, or a matrix has the wrong row count.
    #[error("matrix {matrix} row {row}: malformed ({detail})")]
    MalformedMatrix {
        /// `A`, `B` or `C`.
        matrix: &'static str,
        /// Offending row.
        row: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// A vector has the wrong length for the shape.
    #[error("{what} has length {got}, the shape needs {expected}")]
    LengthMismatch {
        /// `W`, `E` or `x`.
        what: &'static str,
        /// Length required by the shape.
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// Constraint `row` does not hold.
    #[error("constraint {row} is not satisfied")]
    Unsatisfied {
        /// Index of the first failing row.
        row: usize,
    },
    /// A commitment in the instance does not open to the witness.
    #[error("commitment to {what} does not match the witness")]
    CommitmentMismatch {
        /// `W` or `E`.
        what: &'static str,
    },
    /// The commitment key is too short for the shape.
    #[error(transparent)]
    Commitment(#[from] CommitmentError),
}

impl From<SynthesisError> for R1csError {
    fn from(e: SynthesisError) -> Self {
        R1csError::Synthesis(e.to_string())
    }
}

/// A sparse matrix in row-major form: row `i` lists `(coefficient, column)` pairs.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct SparseMatrix<F: PrimeField> {
    /// The rows; each entry is `(coefficient, column index)`.
    pub rows: Vec<Vec<(F, u64)>>,
}

impl<F: PrimeField> SparseMatrix<F> {
    /// `M·z`, one entry per row. The caller guarantees (via [`R1csShape::validate`]) that every
    /// column index is inside `z`.
    fn mul_vector(&self, z: &[F]) -> Vec<F> {
        self.rows.par_iter().map(|row| row.iter().map(|(c, j)| *c * z[*j as usize]).sum()).collect()
    }

    /// Number of non-zero entries.
    pub fn num_entries(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

/// The constraint matrices and dimensions of a circuit.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct R1csShape<F: PrimeField> {
    /// Number of constraints (rows).
    pub num_constraints: usize,
    /// Number of public inputs, not counting the constant slot `u`.
    pub num_io: usize,
    /// Number of private witness variables.
    pub num_witness: usize,
    /// Matrix `A`.
    pub a: SparseMatrix<F>,
    /// Matrix `B`.
    pub b: SparseMatrix<F>,
    /// Matrix `C`.
    pub c: SparseMatrix<F>,
}

/// `(Az, Bz, Cz)`.
pub type Products<F> = (Vec<F>, Vec<F>, Vec<F>);

/// Public inputs and witness read from a synthesized constraint system.
#[derive(Clone, Debug)]
pub struct Assignment<F: PrimeField> {
    /// Public inputs `x` (without the leading constant 1).
    pub x: Vec<F>,
    /// Private witness `W`.
    pub w: Vec<F>,
}

/// Finalize `cs` (inline symbolic linear combinations, which `to_matrices` cannot express) and
/// read its R1CS shape and, in prove mode, its assignment.
pub fn extract<F: PrimeField>(cs: &ConstraintSystemRef<F>) -> Result<(R1csShape<F>, Option<Assignment<F>>), R1csError> {
    cs.finalize();
    let num_constraints = cs.num_constraints();
    for (label, n) in cs.get_all_predicates_num_constraints() {
        if label != R1CS_PREDICATE_LABEL && n > 0 {
            return Err(R1csError::UnsupportedPredicate(label));
        }
    }
    let mut matrices = cs.to_matrices()?;
    let mut abc = matrices
        .remove(R1CS_PREDICATE_LABEL)
        .ok_or_else(|| R1csError::UnsupportedPredicate("<no R1CS predicate>".into()))?;
    if abc.len() != 3 {
        return Err(R1csError::Synthesis(format!("R1CS predicate has arity {}", abc.len())));
    }
    let to_sparse = |m: Vec<Vec<(F, usize)>>| SparseMatrix {
        rows: m.into_iter().map(|row| row.into_iter().map(|(c, j)| (c, j as u64)).collect()).collect(),
    };
    let c = to_sparse(abc.pop().unwrap_or_default());
    let b = to_sparse(abc.pop().unwrap_or_default());
    let a = to_sparse(abc.pop().unwrap_or_default());
    let shape = R1csShape {
        num_constraints,
        num_io: cs.num_instance_variables() - 1,
        num_witness: cs.num_witness_variables(),
        a,
        b,
        c,
    };
    shape.validate()?;
    let assignment = match (cs.instance_assignment(), cs.witness_assignment()) {
        (Ok(inst), Ok(w)) if !inst.is_empty() => Some(Assignment { x: inst[1..].to_vec(), w }),
        _ => None,
    };
    Ok((shape, assignment))
}

/// A constraint system for the prover's path: values only, no constraint matrices (the shape is
/// fixed by the parameters; building the matrices again at every fold costs about as much as
/// computing the witness). Symbolic linear combinations still get values, so gadgets that read
/// them work; the witness is the same as in a full synthesis (tested for both primary circuits).
pub fn witness_only_cs<F: PrimeField>() -> ConstraintSystemRef<F> {
    let cs = ark_relations::gr1cs::ConstraintSystem::<F>::new_ref();
    cs.set_mode(ark_relations::gr1cs::SynthesisMode::Prove {
        construct_matrices: false,
        generate_lc_assignments: true,
    });
    cs
}

/// The assignment of a constraint system synthesized in [`witness_only_cs`] (or prove) mode.
pub fn extract_assignment<F: PrimeField>(cs: &ConstraintSystemRef<F>) -> Result<Assignment<F>, R1csError> {
    let inst = cs.instance_assignment()?;
    let w = cs.witness_assignment()?;
    if inst.is_empty() {
        return Err(R1csError::Synthesis("no instance assignment".into()));
    }
    Ok(Assignment { x: inst[1..].to_vec(), w })
}

impl<F: PrimeField> R1csShape<F> {
    /// Length of `z = (u, x, W)`.
    pub fn num_vars(&self) -> usize {
        1 + self.num_io + self.num_witness
    }

    /// Check dimensions and that every entry refers to an existing variable. Run on every shape
    /// that did not come straight from our own synthesis (e.g. read from disk).
    pub fn validate(&self) -> Result<(), R1csError> {
        for (what, got) in [
            ("num_constraints", self.num_constraints),
            ("num_io + num_witness", self.num_io.saturating_add(self.num_witness)),
        ] {
            if got > MAX_SHAPE_ROWS {
                return Err(R1csError::TooLarge { what, got, limit: MAX_SHAPE_ROWS });
            }
        }
        let n = self.num_vars() as u64;
        for (name, m) in [("A", &self.a), ("B", &self.b), ("C", &self.c)] {
            if m.rows.len() != self.num_constraints {
                return Err(R1csError::MalformedMatrix {
                    matrix: name,
                    row: m.rows.len(),
                    detail: "row count differs from num_constraints",
                });
            }
            for (i, row) in m.rows.iter().enumerate() {
                if row.iter().any(|(_, j)| *j >= n) {
                    return Err(R1csError::MalformedMatrix {
                        matrix: name,
                        row: i,
                        detail: "column index outside the variable vector",
                    });
                }
            }
        }
        Ok(())
    }

    /// Assemble `z = (u, x, W)` after checking lengths.
    fn z(&self, u: F, x: &[F], w: &[F]) -> Result<Vec<F>, R1csError> {
        check_len("x", self.num_io, x.len())?;
        check_len("W", self.num_witness, w.len())?;
        let mut z = Vec::with_capacity(self.num_vars());
        z.push(u);
        z.extend_from_slice(x);
        z.extend_from_slice(w);
        Ok(z)
    }

    /// `(Az, Bz, Cz)` for `z = (u, x, W)`.
    pub fn multiply(&self, u: F, x: &[F], w: &[F]) -> Result<Products<F>, R1csError> {
        let z = self.z(u, x, w)?;
        let (az, (bz, cz)) =
            rayon::join(|| self.a.mul_vector(&z), || rayon::join(|| self.b.mul_vector(&z), || self.c.mul_vector(&z)));
        Ok((az, bz, cz))
    }

    /// Check `Az ∘ Bz = u·Cz + E` (with `E = 0` when `e` is `None`), ignoring commitments.
    pub fn check_relation(&self, u: F, x: &[F], w: &[F], e: Option<&[F]>) -> Result<(), R1csError> {
        if let Some(e) = e {
            check_len("E", self.num_constraints, e.len())?;
        }
        let (az, bz, cz) = self.multiply(u, x, w)?;
        let bad = (0..self.num_constraints).into_par_iter().find_first(|&i| {
            let e_i = e.map_or(F::zero(), |e| e[i]);
            az[i] * bz[i] != u * cz[i] + e_i
        });
        match bad {
            Some(row) => Err(R1csError::Unsatisfied { row }),
            None => Ok(()),
        }
    }

    /// Is `(instance, witness)` a satisfying strict R1CS pair (`u = 1`, `E = 0`) whose `comm_w`
    /// opens to `W` under `ck`?
    pub fn is_sat<G: CurveGroup<ScalarField = F>>(
        &self,
        ck: &CommitmentKey<G>,
        instance: &R1csInstance<G>,
        witness: &R1csWitness<F>,
    ) -> Result<(), R1csError> {
        self.check_relation(F::one(), &instance.x, &witness.w, None)?;
        if ck.commit(&witness.w)? != instance.comm_w {
            return Err(R1csError::CommitmentMismatch { what: "W" });
        }
        Ok(())
    }

    /// Is `(instance, witness)` a satisfying relaxed R1CS pair whose commitments open to `W`, `E`?
    pub fn is_sat_relaxed<G: CurveGroup<ScalarField = F>>(
        &self,
        ck: &CommitmentKey<G>,
        instance: &RelaxedR1csInstance<G>,
        witness: &RelaxedR1csWitness<F>,
    ) -> Result<(), R1csError> {
        self.check_relation(instance.u, &instance.x, &witness.w, Some(&witness.e))?;
        if ck.commit(&witness.w)? != instance.comm_w {
            return Err(R1csError::CommitmentMismatch { what: "W" });
        }
        if ck.commit(&witness.e)? != instance.comm_e {
            return Err(R1csError::CommitmentMismatch { what: "E" });
        }
        Ok(())
    }

    /// Nova's cross term `T = Az₁∘Bz₂ + Az₂∘Bz₁ − u₁·Cz₂ − u₂·Cz₁`: the coefficient of `r` in
    /// `(Az₁ + r·Az₂)∘(Bz₁ + r·Bz₂) − (u₁ + r·u₂)(Cz₁ + r·Cz₂)`.
    pub fn cross_term(
        &self,
        (u1, x1, w1): (F, &[F], &[F]),
        (u2, x2, w2): (F, &[F], &[F]),
    ) -> Result<Vec<F>, R1csError> {
        let ((az1, bz1, cz1), (az2, bz2, cz2)) = {
            let (l, r) = rayon::join(|| self.multiply(u1, x1, w1), || self.multiply(u2, x2, w2));
            (l?, r?)
        };
        Ok((0..self.num_constraints)
            .into_par_iter()
            .map(|i| az1[i] * bz2[i] + az2[i] * bz1[i] - u1 * cz2[i] - u2 * cz1[i])
            .collect())
    }

    /// A binding digest of the shape: SHA-256 over a domain tag and the canonical compressed
    /// serialization, truncated to 250 bits so the same value also fits any 251+-bit field and
    /// can be carried as one public input.
    pub fn digest(&self) -> F {
        let mut bytes = Vec::new();
        // Serializing into a Vec cannot fail.
        let _ = self.serialize_compressed(&mut bytes);
        digest_to_field(b"nexus-nova/r1cs-shape/v1", &bytes)
    }
}

/// SHA-256 of `(domain_len, domain, data)`, its top 6 bits cleared, read little-endian as a field
/// element (250 bits, below any modulus we use, so the map is injective on hash outputs).
pub fn digest_to_field<F: PrimeField>(domain: &[u8], data: &[u8]) -> F {
    let mut h = Sha256::new();
    h.update((domain.len() as u64).to_le_bytes());
    h.update(domain);
    h.update(data);
    let mut out: [u8; 32] = h.finalize().into();
    out[31] &= 0x03;
    F::from_le_bytes_mod_order(&out)
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), R1csError> {
    if expected == got { Ok(()) } else { Err(R1csError::LengthMismatch { what, expected, got }) }
}

/// A strict R1CS instance: commitment to `W` and public inputs (`u = 1`, `E = 0` implied).
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct R1csInstance<G: CurveGroup> {
    /// Commitment to the witness.
    pub comm_w: G::Affine,
    /// Public inputs.
    pub x: Vec<G::ScalarField>,
}

/// A strict R1CS witness.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct R1csWitness<F: PrimeField> {
    /// Private witness `W`.
    pub w: Vec<F>,
}

/// A relaxed R1CS instance `(comm_W, comm_E, u, x)`.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct RelaxedR1csInstance<G: CurveGroup> {
    /// Commitment to the witness.
    pub comm_w: G::Affine,
    /// Commitment to the error vector.
    pub comm_e: G::Affine,
    /// Relaxation scalar.
    pub u: G::ScalarField,
    /// Public inputs.
    pub x: Vec<G::ScalarField>,
}

/// A relaxed R1CS witness `(W, E)`.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct RelaxedR1csWitness<F: PrimeField> {
    /// Private witness.
    pub w: Vec<F>,
    /// Error vector, one entry per constraint.
    pub e: Vec<F>,
}

impl<G: CurveGroup> RelaxedR1csInstance<G> {
    /// The relaxed form of a strict instance: `u = 1`, `E = 0`, so `comm_E` is the identity
    /// (the commitment to the zero vector). Folding starts from this.
    pub fn from_strict(inst: &R1csInstance<G>) -> Self {
        Self { comm_w: inst.comm_w, comm_e: G::Affine::zero(), u: G::ScalarField::from(1u64), x: inst.x.clone() }
    }

    /// The trivially satisfiable instance `(0, 0, 0, 0)` for a shape with `num_io` inputs: the
    /// all-zero vectors satisfy `0 = 0·Cz + 0`. Used as the fixed dummy running instance at
    /// step 0.
    pub fn dummy(num_io: usize) -> Self {
        Self {
            comm_w: G::Affine::zero(),
            comm_e: G::Affine::zero(),
            u: G::ScalarField::from(0u64),
            x: vec![G::ScalarField::from(0u64); num_io],
        }
    }
}

impl<F: PrimeField> RelaxedR1csWitness<F> {
    /// The relaxed form of a strict witness: `E = 0`.
    pub fn from_strict(w: &R1csWitness<F>, num_constraints: usize) -> Self {
        Self { w: w.w.clone(), e: vec![F::zero(); num_constraints] }
    }

    /// The all-zero witness matching [`RelaxedR1csInstance::dummy`].
    pub fn dummy(shape: &R1csShape<F>) -> Self {
        Self { w: vec![F::zero(); shape.num_witness], e: vec![F::zero(); shape.num_constraints] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, G1Projective as G1};
    use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
    use ark_relations::gr1cs::ConstraintSystem;

    /// `y = x³ + x + 5` with public `y` and private `x`, plus a public `x + y`.
    fn cubic(x: u64) -> (R1csShape<Fr>, Assignment<Fr>) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let xv = Fr::from(x);
        let yv = xv * xv * xv + xv + Fr::from(5u64);
        let x_var = FpVar::new_witness(cs.clone(), || Ok(xv)).unwrap();
        let y_var = FpVar::new_input(cs.clone(), || Ok(yv)).unwrap();
        let s_var = FpVar::new_input(cs.clone(), || Ok(xv + yv)).unwrap();
        let cube = &x_var * &x_var * &x_var;
        (cube + &x_var + Fr::from(5u64)).enforce_equal(&y_var).unwrap();
        (&x_var + &y_var).enforce_equal(&s_var).unwrap();
        let (shape, a) = extract(&cs).unwrap();
        (shape, a.unwrap())
    }

    #[test]
    fn extracted_shape_is_satisfied_by_its_assignment() {
        let (shape, a) = cubic(3);
        assert_eq!(shape.num_io, 2);
        assert!(shape.num_constraints >= 2);
        let ck = CommitmentKey::<G1>::setup(b"t", shape.num_witness.max(shape.num_constraints)).unwrap();
        let inst = R1csInstance::<G1> { comm_w: ck.commit(&a.w).unwrap(), x: a.x.clone() };
        let wit = R1csWitness { w: a.w.clone() };
        shape.is_sat(&ck, &inst, &wit).unwrap();
        // strict -> relaxed keeps satisfaction
        let ri = RelaxedR1csInstance::from_strict(&inst);
        let rw = RelaxedR1csWitness::from_strict(&wit, shape.num_constraints);
        shape.is_sat_relaxed(&ck, &ri, &rw).unwrap();
        // dummy relaxed instance is satisfied
        let di = RelaxedR1csInstance::<G1>::dummy(shape.num_io);
        shape.is_sat_relaxed(&ck, &di, &RelaxedR1csWitness::dummy(&shape)).unwrap();
    }

    #[test]
    fn wrong_values_name_the_failing_row_or_commitment() {
        let (shape, a) = cubic(3);
        let ck = CommitmentKey::<G1>::setup(b"t", shape.num_constraints.max(shape.num_witness)).unwrap();
        let inst = R1csInstance::<G1> { comm_w: ck.commit(&a.w).unwrap(), x: a.x.clone() };
        // wrong public input
        let mut bad = inst.clone();
        bad.x[0] += Fr::from(1u64);
        assert!(matches!(shape.is_sat(&ck, &bad, &R1csWitness { w: a.w.clone() }), Err(R1csError::Unsatisfied { .. })));
        // wrong witness, each position: either a constraint fails or (never both ok) the commitment
        for i in 0..a.w.len() {
            let mut w = a.w.clone();
            w[i] += Fr::from(1u64);
            let err = shape.is_sat(&ck, &inst, &R1csWitness { w }).unwrap_err();
            assert!(matches!(err, R1csError::Unsatisfied { .. } | R1csError::CommitmentMismatch { what: "W" }));
        }
        // right witness, wrong commitment
        let mut w2 = a.w.clone();
        w2[0] += Fr::from(1u64);
        let bad_comm = R1csInstance::<G1> { comm_w: ck.commit(&w2).unwrap(), x: a.x.clone() };
        assert_eq!(
            shape.is_sat(&ck, &bad_comm, &R1csWitness { w: a.w.clone() }),
            Err(R1csError::CommitmentMismatch { what: "W" })
        );
        // the reported row is the first failing one
        let row = match shape.check_relation(Fr::from(1u64), &[a.x[0], a.x[1] + Fr::from(1u64)], &a.w, None) {
            Err(R1csError::Unsatisfied { row }) => row,
            other => panic!("{other:?}"),
        };
        let (az, bz, cz) = shape.multiply(Fr::from(1u64), &[a.x[0], a.x[1] + Fr::from(1u64)], &a.w).unwrap();
        assert_ne!(az[row] * bz[row], cz[row]);
        assert!((0..row).all(|i| az[i] * bz[i] == cz[i]));
    }

    #[test]
    fn lengths_checked_before_zipping() {
        // PROVER-PITFALLS A.9: E of length 0 or n-1, short W, long x must all be rejected.
        let (shape, a) = cubic(2);
        let ck = CommitmentKey::<G1>::setup(b"t", 64).unwrap();
        let n = shape.num_constraints;
        let ri = RelaxedR1csInstance::<G1> {
            comm_w: ck.commit(&a.w).unwrap(),
            comm_e: ck.commit(&[]).unwrap(),
            u: Fr::from(1u64),
            x: a.x.clone(),
        };
        for e_len in [0, n - 1, n + 1] {
            let rw = RelaxedR1csWitness { w: a.w.clone(), e: vec![Fr::from(0u64); e_len] };
            assert_eq!(
                shape.is_sat_relaxed(&ck, &ri, &rw),
                Err(R1csError::LengthMismatch { what: "E", expected: n, got: e_len })
            );
        }
        let mut short_w = a.w.clone();
        short_w.pop();
        assert!(matches!(
            shape.check_relation(Fr::from(1u64), &a.x, &short_w, None),
            Err(R1csError::LengthMismatch { what: "W", .. })
        ));
        let mut long_x = a.x.clone();
        long_x.push(Fr::from(0u64));
        assert!(matches!(
            shape.check_relation(Fr::from(1u64), &long_x, &a.w, None),
            Err(R1csError::LengthMismatch { what: "x", .. })
        ));
    }

    #[test]
    fn malformed_shapes_rejected_and_digest_binds() {
        let (shape, _) = cubic(2);
        shape.validate().unwrap();
        let mut bad = shape.clone();
        bad.a.rows[0].push((Fr::from(1u64), shape.num_vars() as u64));
        assert!(matches!(bad.validate(), Err(R1csError::MalformedMatrix { matrix: "A", row: 0, .. })));
        let mut bad = shape.clone();
        bad.c.rows.pop();
        assert!(matches!(bad.validate(), Err(R1csError::MalformedMatrix { matrix: "C", .. })));
        let mut bad = shape.clone();
        bad.num_constraints = MAX_SHAPE_ROWS + 1;
        assert!(matches!(bad.validate(), Err(R1csError::TooLarge { .. })));
        // digest changes with any coefficient
        let mut other = shape.clone();
        other.b.rows[0][0].0 += Fr::from(1u64);
        assert_ne!(shape.digest(), other.digest());
        assert_eq!(shape.digest(), cubic(5).0.digest()); // same circuit, other witness
    }
}
