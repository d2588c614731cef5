//! The proving work of one job, on both sides of the wire: what the leader computes to check submissions and
//! assemble the proof ([`CheckedJob`]), and what a worker computes to prove a task ([`prove_task`]). Both start
//! from the same deterministic preparation of the run (`nexus_nvm_circuit::proof::prepare_run`), so a worker
//! and the leader agree on every invocation without shipping witnesses.

use ark_bn254::Fr;
use nexus_nova::ivc::IvcProof;
use nexus_nova::pcd::NodeProof;
use nexus_nova::step_circuit::synthesize_step;
use nexus_nvm_circuit::coprocessor::{CallSteps, Kind, initial_call_state};
use nexus_nvm_circuit::proof::{CallProof, Folded, NvmParams, assemble, chain_folds, prepare_run, verify_image};
use nexus_nvm_circuit::steps::{GAMMA, PreparedRun};
use nexus_vm::Program;

use super::protocol::{Task, decode_state};

/// Why a job could not be prepared, a result was refused, or a task could not be proven.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobError {
    /// The run cannot be prepared for proving (the program, the input or k).
    #[error("the run cannot be proven: {0}")]
    Prepare(String),
    /// A submitted result is not a valid proof of what was asked.
    #[error("result refused: {0}")]
    Refused(String),
    /// A task the worker was sent does not fit its job.
    #[error("bad task: {0}")]
    Task(String),
    /// Proving failed (a bug, never the input's fault: the run was prepared).
    #[error("proving failed: {0}")]
    Prove(String),
}

/// A run prepared for proving, with each chain's folds: what a worker keeps per job.
pub struct PreparedProgram {
    pub program: Program,
    pub input: Vec<u8>,
    pub k: u64,
    pub run: PreparedRun,
    pub chains: Vec<(Kind, Vec<CallSteps>)>,
}

impl PreparedProgram {
    pub fn new(elf: &[u8], input: &[u8], k: u64) -> Result<Self, JobError> {
        let program = Program::from_elf(elf).map_err(|e| JobError::Prepare(e.to_string()))?;
        let run = prepare_run(&program, input, k).map_err(|e| JobError::Prepare(e.to_string()))?;
        let chains = chain_folds(&run);
        Ok(Self { program, input: input.to_vec(), k, run, chains })
    }

    pub fn invocations(&self) -> u64 {
        self.run.invocations.len() as u64
    }

    fn chain(&self, tag: u8) -> Result<(Kind, &[CallSteps]), JobError> {
        self.chains
            .iter()
            .find(|(kind, _)| kind.tag() == tag)
            .map(|(kind, folds)| (*kind, folds.as_slice()))
            .ok_or_else(|| JobError::Task(format!("the run calls no co-processor {tag}")))
    }
}

/// Proves one task of a job (on the caller's rayon pool) and returns the result's bytes.
pub fn prove_task(params: &NvmParams, job: &PreparedProgram, task: &Task) -> Result<Vec<u8>, JobError> {
    let pp = params.public_params();
    let prove = |e: &dyn std::fmt::Display| JobError::Prove(e.to_string());
    match task {
        Task::Leaf { index, z } => {
            let circuit = job
                .run
                .invocations
                .get(*index as usize)
                .ok_or_else(|| JobError::Task(format!("no invocation {index}")))?;
            let z = decode_state(z).map_err(JobError::Task)?;
            NodeProof::prove_leaf(pp, circuit, *index, &z).and_then(|n| n.to_bytes()).map_err(|e| prove(&e))
        }
        Task::Node { left, right } => {
            let left = NodeProof::from_bytes(left).map_err(|e| JobError::Task(e.to_string()))?;
            let right = NodeProof::from_bytes(right).map_err(|e| JobError::Task(e.to_string()))?;
            let circuit = job
                .run
                .invocations
                .get(right.a as usize)
                .ok_or_else(|| JobError::Task(format!("no invocation {}", right.a)))?;
            NodeProof::prove_node(pp, circuit, &left, &right).and_then(|n| n.to_bytes()).map_err(|e| prove(&e))
        }
        Task::Chain { kind } => {
            let (kind, folds) = job.chain(*kind)?;
            let cpp = params.call_params(kind).map_err(|e| prove(&e))?;
            let mut ivc =
                IvcProof::prove_first(cpp, &folds[0], &initial_call_state(job.run.z0[GAMMA])).map_err(|e| prove(&e))?;
            for fold in &folds[1..] {
                ivc.prove_step(cpp, fold).map_err(|e| prove(&e))?;
            }
            ivc.to_bytes().map_err(|e| prove(&e))
        }
    }
}

/// What the leader knows of a job to check what workers submit: the run, the state before every invocation
/// and after the last, and each chain's expected final state.
pub struct CheckedJob {
    pub prepared: PreparedProgram,
    pub image_root: Fr,
    /// `states[i]` is the state before invocation `i`; `states[n]` the final one.
    states: Vec<Vec<Fr>>,
    /// Per chain (tag order): its final state.
    chain_ends: Vec<(u8, Vec<Fr>)>,
}

impl CheckedJob {
    /// Prepares the run and computes every boundary state natively (one synthesis per invocation, no
    /// commitments: a small part of proving).
    pub fn new(elf: &[u8], image_root: Fr, input: &[u8], k: u64) -> Result<Self, JobError> {
        let prepared = PreparedProgram::new(elf, input, k)?;
        let step = |e: &dyn std::fmt::Display| JobError::Prepare(e.to_string());
        let mut states = Vec::with_capacity(prepared.run.invocations.len() + 1);
        states.push(prepared.run.z0.clone());
        for (i, inv) in prepared.run.invocations.iter().enumerate() {
            let next = synthesize_step(inv, i as u64, &states[i]).map_err(|e| step(&e))?.z_out;
            states.push(next);
        }
        let gamma = prepared.run.z0[GAMMA];
        let mut chain_ends = Vec::new();
        for (kind, folds) in &prepared.chains {
            let mut z = initial_call_state(gamma);
            for (i, fold) in folds.iter().enumerate() {
                z = synthesize_step(fold, i as u64, &z).map_err(|e| step(&e))?.z_out;
            }
            chain_ends.push((kind.tag(), z));
        }
        Ok(Self { prepared, image_root, states, chain_ends })
    }

    /// The state before invocation `index`.
    pub fn state(&self, index: u64) -> Option<&[Fr]> {
        self.states.get(index as usize).map(Vec::as_slice)
    }

    pub fn chain_tags(&self) -> Vec<u8> {
        self.chain_ends.iter().map(|(tag, _)| *tag).collect()
    }

    /// Checks a submitted node for invocations `[a, b)`: it covers exactly that range, starts and ends at the
    /// run's states there, and verifies (its hash and its three instances satisfied). A node that passes
    /// proves exactly its part of this run, so folding it in cannot spoil the root.
    pub fn check_node(&self, params: &NvmParams, (a, b): (u64, u64), bytes: &[u8]) -> Result<NodeProof, JobError> {
        let node = NodeProof::from_bytes(bytes).map_err(|e| JobError::Refused(e.to_string()))?;
        if (node.a, node.b) != (a, b) {
            return Err(JobError::Refused(format!("covers [{}, {}), not [{a}, {b})", node.a, node.b)));
        }
        if Some(node.z_a.as_slice()) != self.state(a) || Some(node.z_b.as_slice()) != self.state(b) {
            return Err(JobError::Refused("starts or ends at another state than the run".into()));
        }
        node.verify_node(params.public_params()).map_err(|e| JobError::Refused(format!("does not verify: {e}")))?;
        Ok(node)
    }

    /// Checks a submitted chain: every fold of it, from the chain's initial state, to its expected end.
    pub fn check_chain(&self, params: &NvmParams, tag: u8, bytes: &[u8]) -> Result<CallProof, JobError> {
        let (kind, folds) = self.prepared.chain(tag)?;
        let end = &self.chain_ends.iter().find(|(t, _)| *t == tag).expect("a chain of the run").1;
        let ivc = IvcProof::from_bytes(bytes).map_err(|e| JobError::Refused(e.to_string()))?;
        let cpp = params.call_params(kind).map_err(|e| JobError::Prove(e.to_string()))?;
        let gamma = self.prepared.run.z0[GAMMA];
        let z = ivc
            .verify(cpp, folds.len() as u64, &initial_call_state(gamma))
            .map_err(|e| JobError::Refused(format!("does not verify: {e}")))?;
        if z != end.as_slice() {
            return Err(JobError::Refused("the chain ends at another state than the run's".into()));
        }
        Ok(CallProof { kind: tag, proof: ivc })
    }

    /// The proof file of the whole run from its checked root and chains, verified against the image root
    /// before it is returned.
    pub fn assemble(&self, params: &NvmParams, root: NodeProof, chains: Vec<CallProof>) -> Result<Vec<u8>, JobError> {
        let p = &self.prepared;
        let proof = assemble(p.k, &p.program, &p.input, &p.run, Folded::Tree(root), chains)
            .map_err(|e| JobError::Prove(e.to_string()))?;
        verify_image(params, self.image_root, &proof).map_err(|e| JobError::Prove(format!("the proof fails: {e}")))?;
        proof.to_bytes().map_err(|e| JobError::Prove(e.to_string()))
    }
}
