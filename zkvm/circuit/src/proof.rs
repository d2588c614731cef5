//! A proof of a whole NVM run, as a value and as bytes: the folding proof of its invocations, `k`,
//! one folding proof per co-processor it called (always sequential: a chain is short), the run's
//! input and output, and the final memory the verifier's memory check needs. [`prove`] runs the program, prepares the
//! run and folds it; [`verify`] checks a proof against a program and returns the statement.
//!
//! Bytes go through [`nexus_nova::framing`] (magic `NXNVMPRF`, version, length, validating decode):
//! a truncated, re-headered or garbage file is a decode error, and a proof that decodes but was
//! tampered with fails verification; nothing panics.

use ark_bn254::Fr;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use nexus_nova::ivc::{IvcError, IvcProof, PublicParams};
use nexus_nova::pcd::{NodeProof, PcdError};
use nexus_vm::{Program, Vm, VmConfig, VmError};

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::coprocessor::{CallSteps, Kind, initial_call_state};
use crate::image::{Image, ImageCommitment, ImageTree, InitialWord, Opening};
use crate::io::PublicIo;
use crate::memory::FinalCell;
use crate::memory::initial_cell;
use crate::steps::{
    GAMMA, H_ACC, NvmSteps, PrepareError, PreparedRun, STATE_LEN, initial_state, memory_challenge, prepare,
};
use crate::verify::{CallChainEnd, RunError, Statement, call_chain_hashes, finish};

/// Magic of a proof file.
pub const PROOF_MAGIC: &[u8; 8] = b"NXNVMPRF";
/// Version of the proof encoding.
pub const PROOF_FORMAT_VERSION: u32 = 5;
/// Largest `k` a verifier accepts from a proof (parameters are set up per `k`).
pub const MAX_STEPS_PER_FOLD: u64 = 1 << 12;

/// How a run's invocations are folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folding {
    /// One after another (IVC): one core's worth of parallelism inside each fold, the smallest
    /// parameters.
    Sequential,
    /// As a binary tree (PCD): leaves and each level's nodes in parallel, on threads here or on
    /// many machines; a larger node circuit, so each fold costs more.
    Tree,
}

/// A proof of a whole run.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct NvmProof {
    /// NVM steps per fold.
    pub k: u64,
    /// The folding proof when folded sequentially (exactly one of `sequential` and `tree` is set).
    pub sequential: Option<IvcProof>,
    /// The root of the tree when folded as a tree.
    pub tree: Option<NodeProof>,
    /// The final memory as `[address, value, timestamp]`, addresses increasing.
    pub finals: Vec<[u32; 3]>,
    /// The input the program ran on (fd 0).
    pub input: Vec<u8>,
    /// What it wrote to fd 1.
    pub output: Vec<u8>,
    /// One chain per co-processor called, in tag order.
    pub calls: Vec<CallProof>,
    /// The parts of the program's image root (a verifier with the ELF computes its own).
    pub image: ImageCommitment,
    /// The initial value, flags and image opening of every touched file-backed word, in address
    /// order (the segment table in `image` names the rest): what a verifier holding only the image root ([`verify_image`]) checks the
    /// memory argument against.
    pub initial: Vec<OpenedWord>,
}

/// [`InitialWord`] as the proof file stores it.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct OpenedWord {
    /// Word address.
    pub addr: u32,
    /// Initial value.
    pub value: u32,
    /// Permission flags.
    pub flags: u32,
    /// Leaf index.
    pub index: u32,
    /// Siblings, leaf level first.
    pub path: Vec<Fr>,
}

impl OpenedWord {
    fn word(&self) -> InitialWord {
        InitialWord {
            addr: self.addr,
            value: self.value,
            flags: self.flags,
            opening: Opening { index: self.index, path: self.path.clone() },
        }
    }
}

/// The folding proof of one co-processor's calls.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct CallProof {
    /// The co-processor's tag ([`Kind::tag`]).
    pub kind: u8,
    /// Its chain, folded sequentially from [`initial_call_state`].
    pub proof: IvcProof,
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
    /// Sequential folding failed.
    #[error(transparent)]
    Fold(#[from] IvcError),
    /// Tree folding failed.
    #[error(transparent)]
    Tree(#[from] PcdError),
    /// A co-processor's parameters could not be set up.
    #[error("setting up a co-processor's parameters: {0}")]
    Parameters(VerifyError),
    /// A touched word outside the stack is not in the program's image (a bug: the NVM would have
    /// trapped).
    #[error("word {0:#x} is not in the program's image")]
    Image(u32),
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
    /// The parameters given are for another `k` or folding than the proof's.
    #[error("the proof has k = {0}, folded {1:?}; the parameters are for another k or folding")]
    Parameters(u64, Option<Folding>),
    /// The folding proof does not verify.
    #[error("the folding proof does not verify: {0}")]
    Fold(String),
    /// The proof's image is not the one named, or an initial word's opening does not verify
    /// against it.
    #[error("the proof's initial memory does not open against the image root")]
    Opening,
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

    /// How the proof was folded; `None` unless exactly one folding proof is present.
    pub fn folding(&self) -> Option<Folding> {
        match (&self.sequential, &self.tree) {
            (Some(_), None) => Some(Folding::Sequential),
            (None, Some(_)) => Some(Folding::Tree),
            _ => None,
        }
    }

    /// The claimed input and output.
    pub fn io(&self) -> PublicIo<'_> {
        PublicIo { input: &self.input, output: &self.output }
    }

    /// The final state the folding proof claims.
    fn final_state(&self) -> Option<&[Fr]> {
        match (&self.sequential, &self.tree) {
            (Some(ivc), None) => Some(&ivc.zi),
            (None, Some(root)) => Some(&root.z_b),
            _ => None,
        }
    }

    /// The co-processor chains' final states, as the proof claims them.
    fn call_ends(&self) -> Result<Vec<CallChainEnd<'_>>, RunError> {
        self.calls
            .iter()
            .map(|c| Ok(CallChainEnd { kind: Kind::from_tag(c.kind).ok_or(RunError::CallChains)?, z: &c.proof.zi }))
            .collect()
    }

    fn final_cells(&self) -> Vec<FinalCell> {
        self.finals.iter().map(|[addr, value, t]| FinalCell { addr: *addr, value: *value, t: *t }).collect()
    }
}

/// The folding parameters of the step circuit of `k` NVM steps, for one way of folding. Built only
/// by [`NvmParams::new`], so a value of this type is the NVM circuit's parameters for its `k`
/// (never another circuit's).
#[derive(Clone, Debug)]
pub struct NvmParams {
    k: u64,
    folding: Folding,
    pp: PublicParams,
    /// Each co-processor's chain parameters, set up the first time a proof needs them.
    calls: [OnceLock<PublicParams>; Kind::ALL.len()],
}

impl NvmParams {
    /// Set up the parameters for `k` steps per fold, folded as `folding` (seconds; callers keep
    /// them).
    pub fn new(k: u64, folding: Folding) -> Result<Self, VerifyError> {
        if k == 0 || k > MAX_STEPS_PER_FOLD {
            return Err(VerifyError::StepsPerFold(k));
        }
        let circuit = NvmSteps::placeholder(k as usize);
        let pp = match folding {
            Folding::Sequential => PublicParams::setup(&circuit).map_err(|e| VerifyError::Fold(e.to_string()))?,
            Folding::Tree => nexus_nova::pcd::setup(&circuit).map_err(|e| VerifyError::Fold(e.to_string()))?,
        };
        Ok(Self { k, folding, pp, calls: Default::default() })
    }

    /// The parameters of `kind`'s chain (set up on first use, seconds).
    pub fn call_params(&self, kind: Kind) -> Result<&PublicParams, VerifyError> {
        let cell = &self.calls[usize::from(kind.tag())];
        if let Some(pp) = cell.get() {
            return Ok(pp);
        }
        let pp = PublicParams::setup(&CallSteps::placeholder(kind)).map_err(|e| VerifyError::Fold(e.to_string()))?;
        Ok(cell.get_or_init(|| pp))
    }

    /// Steps per fold.
    pub fn k(&self) -> u64 {
        self.k
    }

    /// How these parameters fold.
    pub fn folding(&self) -> Folding {
        self.folding
    }

    /// The folding engine's parameters.
    pub fn public_params(&self) -> &PublicParams {
        &self.pp
    }
}

/// Run `program` on `input` to its exit and cut the run into invocations of `k` steps (the first
/// half of proving, and what a prover worker does before it proves its part of a run).
pub fn prepare_run(program: &Program, input: &[u8], k: u64) -> Result<PreparedRun, ProveError> {
    let vm = Vm::new(program, input, VmConfig::default())?;
    let (_, trace) = vm.run_traced()?;
    Ok(prepare(program, input, &trace, trace.steps().len(), k as usize)?)
}

/// Each called co-processor's chain folds, in tag order.
pub fn chain_folds(run: &PreparedRun) -> Vec<(Kind, Vec<CallSteps>)> {
    run.calls.iter().map(|(kind, c)| (*kind, CallSteps::folds(*kind, c))).collect()
}

/// Run `program` on `input`, then prove the whole run with `params.k()` steps per fold, folded as
/// `params.folding()`; `progress` is told `(folds done, folds in all)` after each fold (from
/// worker threads when folding a tree).
pub fn prove(
    params: &NvmParams,
    program: &Program,
    input: &[u8],
    progress: impl Fn(usize, usize) + Sync,
) -> Result<NvmProof, ProveError> {
    let run = prepare_run(program, input, params.k)?;
    let pp = &params.pp;
    let call_folds = chain_folds(&run);
    let call_total: usize = call_folds.iter().map(|(_, f)| f.len()).sum();
    // The CPU's folds come first; the chains' follow, counted in the same total.
    let cpu_total = AtomicUsize::new(0);
    let cpu_progress = |done: usize, total: usize| {
        cpu_total.store(total, Ordering::Relaxed);
        progress(done, total + call_total);
    };
    let folded = match params.folding {
        Folding::Sequential => {
            let total = run.invocations.len();
            let mut ivc = IvcProof::prove_first(pp, &run.invocations[0], &run.z0)?;
            cpu_progress(1, total);
            for (done, inv) in run.invocations[1..].iter().enumerate() {
                ivc.prove_step(pp, inv)?;
                cpu_progress(done + 2, total);
            }
            Folded::Sequential(ivc)
        }
        Folding::Tree => {
            Folded::Tree(nexus_nova::pcd::prove_tree_with_progress(pp, &run.invocations, &run.z0, &cpu_progress)?)
        }
    };
    let gamma = run.z0[GAMMA];
    let mut calls = Vec::with_capacity(call_folds.len());
    let mut done = cpu_total.load(Ordering::Relaxed);
    let total = done + call_total;
    for (kind, folds) in &call_folds {
        let pp = params.call_params(*kind).map_err(ProveError::Parameters)?;
        let mut ivc = IvcProof::prove_first(pp, &folds[0], &initial_call_state(gamma))?;
        done += 1;
        progress(done, total);
        for f in &folds[1..] {
            ivc.prove_step(pp, f)?;
            done += 1;
            progress(done, total);
        }
        calls.push(CallProof { kind: kind.tag(), proof: ivc });
    }
    assemble(params.k, program, input, &run, folded, calls)
}

/// The folding proof of a run's CPU invocations.
#[derive(Clone, Debug)]
pub enum Folded {
    /// Folded one after another.
    Sequential(IvcProof),
    /// The root of the tree.
    Tree(NodeProof),
}

/// The proof of a prepared run from its folding proofs, wherever they were made (here, or by
/// prover workers on other machines): adds the I/O, the final memory and the openings of the
/// touched image words. `calls` are the chains' proofs in tag order.
pub fn assemble(
    k: u64,
    program: &Program,
    input: &[u8],
    run: &PreparedRun,
    folded: Folded,
    calls: Vec<CallProof>,
) -> Result<NvmProof, ProveError> {
    let (sequential, tree_proof) = match folded {
        Folded::Sequential(ivc) => (Some(ivc), None),
        Folded::Tree(root) => (None, Some(root)),
    };
    let finals = run.finals.iter().map(|c| [c.addr, c.value, c.t]).collect();
    let tree = ImageTree::new(program);
    let image = tree.commitment();
    let stack = nexus_vm::STACK_BOTTOM..nexus_vm::STACK_TOP;
    let initial = run
        .finals
        .iter()
        .filter(|c| !stack.contains(&c.addr) && image.file_backed(c.addr))
        .map(|c| {
            let (value, flags) = initial_cell(program, c.addr).ok_or(ProveError::Image(c.addr))?;
            let opening = tree.open(c.addr).ok_or(ProveError::Image(c.addr))?;
            Ok(OpenedWord { addr: c.addr, value, flags, index: opening.index, path: opening.path })
        })
        .collect::<Result<_, ProveError>>()?;
    Ok(NvmProof {
        k,
        sequential,
        tree: tree_proof,
        finals,
        input: input.to_vec(),
        output: run.output.clone(),
        calls,
        image,
        initial,
    })
}

/// Verify `proof` as a proof of a whole run of `program`; `params` must be those of the proof's `k`
/// and folding. The initial memory comes from the ELF (the proof's openings are not needed).
pub fn verify(params: &NvmParams, program: &Program, proof: &NvmProof) -> Result<Statement, VerifyError> {
    verify_with(params, &Image::of_program(program), proof)
}

/// Verify `proof` against a program's image root alone (no ELF): the proof's image commitment must
/// hash to `image_root`, and the initial memory of the touched words comes from the proof's
/// openings, each checked against it. The statement then names the program by its image root only.
pub fn verify_image(params: &NvmParams, image_root: Fr, proof: &NvmProof) -> Result<Statement, VerifyError> {
    if proof.image.root() != image_root {
        return Err(VerifyError::Opening);
    }
    let words: Vec<InitialWord> = proof.initial.iter().map(OpenedWord::word).collect();
    let image = Image::from_openings(proof.image.clone(), &words).ok_or(VerifyError::Opening)?;
    verify_with(params, &image, proof)
}

fn verify_with(params: &NvmParams, image: &Image<'_>, proof: &NvmProof) -> Result<Statement, VerifyError> {
    let folding = proof.folding();
    if proof.k != params.k || folding != Some(params.folding) {
        return Err(VerifyError::Parameters(proof.k, folding));
    }
    let finals = proof.final_cells();
    let z = proof.final_state().ok_or(VerifyError::Parameters(proof.k, folding))?;
    if z.len() != STATE_LEN {
        return Err(RunError::StateLength(z.len()).into());
    }
    // z₀ is the program's initial state on the claimed input, with the challenge the claimed chain,
    // output and final memory give.
    let h_acc: Fr = z[H_ACC];
    let ends = proof.call_ends()?;
    let gamma = memory_challenge(image.commitment.root(), proof.io(), h_acc, &finals, &call_chain_hashes(&ends)?);
    let z0 = initial_state(image.commitment.entry, gamma, proof.input.len());
    let fold_error = |e: &dyn std::fmt::Display| VerifyError::Fold(e.to_string());
    match (&proof.sequential, &proof.tree) {
        (Some(ivc), _) => ivc.verify(&params.pp, ivc.i, &z0).map(|_| ()).map_err(|e| fold_error(&e))?,
        (_, Some(root)) => root.verify(&params.pp, root.b, &z0).map(|_| ()).map_err(|e| fold_error(&e))?,
        (None, None) => return Err(VerifyError::Parameters(proof.k, folding)),
    }
    for (c, end) in proof.calls.iter().zip(&ends) {
        let pp = params.call_params(end.kind)?;
        c.proof.verify(pp, c.proof.i, &initial_call_state(gamma)).map_err(|e| fold_error(&e))?;
    }
    Ok(finish(image, proof.io(), &z0, z, &finals, &ends)?)
}
