//! A proof of a whole NVM run, as a value and as bytes: the folding proof of its invocations, `k`,
//! the run's input and output, and the final memory the verifier's memory check needs. [`prove`] runs the program, prepares the
//! run and folds it; [`verify`] checks a proof against a program and returns the statement.
//!
//! Bytes go through [`nexus_nova::framing`] (magic `NXNVMPRF`, version, length, validating decode):
//! a truncated, re-headered or garbage file is a decode error, and a proof that decodes but was
//! tampered with fails verification; nothing panics.

use ark_bn254::Fr;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use nexus_nova::ivc::{IvcError, IvcProof, PublicParams};
use nexus_vm::{Program, Vm, VmConfig, VmError};

use crate::io::PublicIo;
use crate::memory::FinalCell;
use crate::steps::{H_ACC, NvmSteps, PrepareError, STATE_LEN, initial_state, memory_challenge, prepare};
use crate::verify::{RunError, Statement, finish};

/// Magic of a proof file.
pub const PROOF_MAGIC: &[u8; 8] = b"NXNVMPRF";
/// Version of the proof encoding.
pub const PROOF_FORMAT_VERSION: u32 = 2;
/// Largest `k` a verifier accepts from a proof (parameters are set up per `k`).
pub const MAX_STEPS_PER_FOLD: u64 = 1 << 12;

/// A proof of a whole run.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct NvmProof {
    /// NVM steps per fold.
    pub k: u64,
    /// The folding proof of the invocations.
    pub ivc: IvcProof,
    /// The final memory as `[address, value, timestamp]`, addresses increasing.
    pub finals: Vec<[u32; 3]>,
    /// The input the program ran on (fd 0).
    pub input: Vec<u8>,
    /// What it wrote to fd 1.
    pub output: Vec<u8>,
}

/// Errors from proving.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The program did not run to its exit.
    #[error("the program does not run to its exit on the NVM: {0}")]
    Run(#[from] VmError),
    /// The run uses what the circuit cannot prove yet, or k is out of range.
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// Folding failed.
    #[error(transparent)]
    Fold(#[from] IvcError),
}

/// Errors from verifying.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The bytes are not a proof.
    #[error("not a proof file: {0}")]
    Decode(String),
    /// `k` is zero or above [`MAX_STEPS_PER_FOLD`].
    #[error("the proof's k = {0} is outside 1..={MAX_STEPS_PER_FOLD}")]
    StepsPerFold(u64),
    /// The parameters given are for another `k` than the proof's.
    #[error("the proof has k = {0}; the parameters are for another k")]
    Parameters(u64),
    /// The folding proof does not verify.
    #[error("the folding proof does not verify: {0}")]
    Fold(IvcError),
    /// The run's checks fail.
    #[error(transparent)]
    Run(#[from] RunError),
}

impl NvmProof {
    /// Encode.
    pub fn to_bytes(&self) -> Result<Vec<u8>, VerifyError> {
        nexus_nova::framing::encode(PROOF_MAGIC, PROOF_FORMAT_VERSION, self).map_err(VerifyError::Decode)
    }

    /// Decode (points validated, lengths checked by [`verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        nexus_nova::framing::decode(PROOF_MAGIC, PROOF_FORMAT_VERSION, bytes).map_err(VerifyError::Decode)
    }

    /// The claimed input and output.
    pub fn io(&self) -> PublicIo<'_> {
        PublicIo { input: &self.input, output: &self.output }
    }

    fn final_cells(&self) -> Vec<FinalCell> {
        self.finals.iter().map(|[addr, value, t]| FinalCell { addr: *addr, value: *value, t: *t }).collect()
    }
}

/// The folding parameters of the step circuit of `k` NVM steps. Built only by [`NvmParams::new`],
/// so a value of this type is the NVM circuit's parameters for its `k` (never another circuit's).
#[derive(Clone, Debug)]
pub struct NvmParams {
    k: u64,
    pp: PublicParams,
}

impl NvmParams {
    /// Set up the parameters for `k` steps per fold (a second or two; callers keep them).
    pub fn new(k: u64) -> Result<Self, VerifyError> {
        if k == 0 || k > MAX_STEPS_PER_FOLD {
            return Err(VerifyError::StepsPerFold(k));
        }
        let pp = PublicParams::setup(&NvmSteps::placeholder(k as usize)).map_err(VerifyError::Fold)?;
        Ok(Self { k, pp })
    }

    /// Steps per fold.
    pub fn k(&self) -> u64 {
        self.k
    }

    /// The folding engine's parameters.
    pub fn public_params(&self) -> &PublicParams {
        &self.pp
    }
}

/// Run `program` on `input`, then prove the whole run with `params.k()` steps per fold; `progress`
/// is told `(folds done, folds in all)` after each fold.
pub fn prove(
    params: &NvmParams,
    program: &Program,
    input: &[u8],
    mut progress: impl FnMut(usize, usize),
) -> Result<NvmProof, ProveError> {
    let vm = Vm::new(program, input, VmConfig::default())?;
    let (_, trace) = vm.run_traced()?;
    let run = prepare(program, input, &trace, trace.steps().len(), params.k as usize)?;
    let total = run.invocations.len();
    let pp = &params.pp;
    let mut ivc = IvcProof::prove_first(pp, &run.invocations[0], &run.z0)?;
    progress(1, total);
    for (done, inv) in run.invocations[1..].iter().enumerate() {
        ivc.prove_step(pp, inv)?;
        progress(done + 2, total);
    }
    let finals = run.finals.iter().map(|c| [c.addr, c.value, c.t]).collect();
    Ok(NvmProof { k: params.k, ivc, finals, input: input.to_vec(), output: run.output })
}

/// Verify `proof` as a proof of a whole run of `program`; `params` must be those of the proof's `k`.
pub fn verify(params: &NvmParams, program: &Program, proof: &NvmProof) -> Result<Statement, VerifyError> {
    if proof.k != params.k {
        return Err(VerifyError::Parameters(proof.k));
    }
    let finals = proof.final_cells();
    let z = &proof.ivc.zi;
    if z.len() != STATE_LEN {
        return Err(RunError::StateLength(z.len()).into());
    }
    // z₀ is the program's initial state on the claimed input, with the challenge the claimed chain,
    // output and final memory give.
    let h_acc: Fr = z[H_ACC];
    let gamma = memory_challenge(program, proof.io(), h_acc, &finals);
    let z0 = initial_state(program, gamma, proof.input.len());
    proof.ivc.verify(&params.pp, proof.ivc.i, &z0).map_err(VerifyError::Fold)?;
    Ok(finish(program, proof.io(), &z0, z, &finals)?)
}
