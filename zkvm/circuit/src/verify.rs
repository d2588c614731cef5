//! What the verifier does after the folding proof verifies: the run's initial state is the
//! program's, the memory challenge was drawn from the access chain and final memory the proof
//! claims, the machine halted, and the memory products balance. Returns the statement.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use nexus_vm::Program;

use crate::memory::{FinalCell, MemoryError, check_products};
use crate::steps::{CLK, STATE_LEN, initial_state, memory_challenge};

/// What a verified run proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The NVM program digest (`Program::digest`).
    pub program_digest: [u8; 32],
    /// The exit code (all 32 bits).
    pub exit_code: u32,
    /// Retired instructions, the exiting ECALL included.
    pub steps: u64,
}

/// Why a run is refused after its folding proof verified.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunError {
    /// A state of the wrong length.
    #[error("state has {0} elements, expected {STATE_LEN}")]
    StateLength(usize),
    /// The run does not start where the program starts, or with another challenge than the one
    /// the access chain and the final memory give.
    #[error("the run does not start from the program's initial state with the challenge its accesses give")]
    InitialState,
    /// The proof ends before the program exits.
    #[error("the machine has not halted")]
    NotHalted,
    /// The memory check failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// A counter out of range (never for an honest proof).
    #[error("{0} out of range")]
    Range(&'static str),
}

fn small(v: &Fr, what: &'static str) -> Result<u64, RunError> {
    let big = v.into_bigint();
    if big.num_bits() > 32 {
        return Err(RunError::Range(what));
    }
    Ok(big.0[0])
}

/// Check the initial and final states `z0`, `z` of a verified folding proof of `program`, with the
/// final memory `finals` the proof carries.
pub fn finish(program: &Program, z0: &[Fr], z: &[Fr], finals: &[FinalCell]) -> Result<Statement, RunError> {
    for v in [z0, z] {
        if v.len() != STATE_LEN {
            return Err(RunError::StateLength(v.len()));
        }
    }
    let [clk, rs, ws, gamma, h_acc, halted, exit_code] = std::array::from_fn(|k| z[CLK + k]);
    if gamma != memory_challenge(program, h_acc, finals) || z0 != initial_state(program, gamma).as_slice() {
        return Err(RunError::InitialState);
    }
    if halted != Fr::from(1u64) {
        return Err(RunError::NotHalted);
    }
    check_products(program, gamma, rs, ws, finals)?;
    Ok(Statement {
        program_digest: program.digest(),
        exit_code: small(&exit_code, "exit code")? as u32,
        steps: small(&clk, "step count")?,
    })
}
