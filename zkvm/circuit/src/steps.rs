//! The step circuit the folding engine folds: `k` NVM steps per fold over the state
//!
//! `z = [pc, x1..x31, clk, RS, WS, γ, h_acc, halted, exit_code]`
//!
//! (`clk` counts retired steps, `RS`/`WS` are the memory argument's products, `γ` its challenge,
//! constant through the run, `h_acc` the access chain, `halted` set by the exiting ECALL with
//! `exit_code` = a0). Once halted, a step is a no-op (PROVER-PITFALLS B.24): its instruction must be
//! `ADDI x0, x0, 0`, it fetches nothing, and pc and clk stay; that is how the last invocation is
//! filled out to `k` steps. Each step runs [`crate::cpu::step`], then
//! its fetch (`pc`, the instruction word) and data slot through [`crate::memory::access`] at
//! timestamps `2·clk + 1` and `2·clk + 2`; the chain absorbs both slots' elements. One transcript
//! per fold keeps the chain at one absorbed element per access (no intermediate chain values in
//! the state): `h_acc' = H(h_acc, e_1, …, e_2k)`.

use ark_bn254::Fr;
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use nexus_nova::{step_circuit::StepCircuit, transcript::Transcript, transcript_gadget::TranscriptVar};
use nexus_vm::{INITIAL_SP, Program, Trace};

use crate::cpu::{CpuVar, MemSlot, NUM_REGS, select_var, step};
use crate::decode::{ECALL_WORD, NOP_WORD};
use crate::memory::{AccessHint, FinalCell, MemoryTracker, ProductsVar, SlotKind, access, chain_element};

/// Length of the state.
pub const STATE_LEN: usize = 1 + NUM_REGS + 7;
/// Index of `clk` in the state (then `RS`, `WS`, `γ`, `h_acc`, `halted`, `exit_code`).
pub const CLK: usize = 1 + NUM_REGS;
/// Transcript label of the access chain.
pub const ACCESS_CHAIN_LABEL: &[u8] = b"nexus-nvm/access-chain/v1";
/// Transcript label of the memory challenge.
pub const CHALLENGE_LABEL: &[u8] = b"nexus-nvm/memory-challenge/v1";

/// What the prover supplies for one NVM step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepWitness {
    /// The instruction word fetched.
    pub insn: u32,
    /// The data word a load or store found (0 otherwise).
    pub data_old: u32,
    /// The fetch's memory hint.
    pub fetch: AccessHint,
    /// The data access's memory hint (zero when there is none).
    pub data: AccessHint,
}

/// `k` consecutive NVM steps: one invocation of the step circuit.
#[derive(Clone, Debug)]
pub struct NvmSteps {
    /// The steps, `k` of them.
    pub steps: Vec<StepWitness>,
}

impl NvmSteps {
    /// Placeholder steps for setting up parameters (the shape does not depend on the values).
    pub fn placeholder(k: usize) -> Self {
        Self { steps: vec![StepWitness::default(); k] }
    }
}

impl StepCircuit<Fr> for NvmSteps {
    fn arity(&self) -> usize {
        STATE_LEN
    }

    fn generate_constraints(
        &self,
        cs: ConstraintSystemRef<Fr>,
        _i: &FpVar<Fr>,
        z: &[FpVar<Fr>],
    ) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
        if z.len() != STATE_LEN {
            return Err(SynthesisError::Unsatisfiable);
        }
        let mut cpu = CpuVar { pc: z[0].clone(), regs: z[1..=NUM_REGS].to_vec() };
        let [clk, rs, ws, gamma, h_acc, halted, exit_code] = std::array::from_fn(|k| z[CLK + k].clone());
        let (mut clk, mut halted, mut exit_code) = (clk, halted, exit_code);
        let mut products = ProductsVar { rs, ws };
        let mut chain = TranscriptVar::new(cs.clone(), ACCESS_CHAIN_LABEL)?;
        chain.absorb_fr(&[h_acc])?;
        let one = FpVar::Constant(Fr::from(1u64));
        for s in &self.steps {
            let word = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(s.insn))))?;
            // A halted machine executes the no-op and fetches nothing.
            (&halted * (&word - Fr::from(u64::from(NOP_WORD)))).enforce_equal(&FpVar::Constant(Fr::from(0u64)))?;
            let running = &one - &halted;
            let out = step(&cs, &cpu, &word, s.insn, s.data_old)?;
            let t_fetch = &clk * Fr::from(2u64) + Fr::from(1u64);
            let t_data = &t_fetch + Fr::from(1u64);
            let fetch = MemSlot::fetch(&running, &cpu.pc, &word);
            let e1 = access(&cs, &mut products, &gamma, &fetch, &t_fetch, s.fetch, SlotKind::Fetch)?;
            let e2 = access(&cs, &mut products, &gamma, &out.data, &t_data, s.data, SlotKind::Data)?;
            chain.absorb_fr(&[e1, e2])?;
            let pc = select_var(&cs, &halted, &cpu.pc, &out.next.pc)?;
            cpu = CpuVar { pc, regs: out.next.regs };
            clk += &running;
            exit_code = select_var(&cs, &out.exits, &out.a0, &exit_code)?;
            halted += &out.exits;
        }
        // The products are materialized so the next invocation starts from single variables.
        let rs = FpVar::new_witness(cs.clone(), || products.rs.value())?;
        let ws = FpVar::new_witness(cs.clone(), || products.ws.value())?;
        rs.enforce_equal(&products.rs)?;
        ws.enforce_equal(&products.ws)?;
        let mut out = vec![cpu.pc];
        out.extend(cpu.regs);
        out.extend([clk, rs, ws, gamma, chain.squeeze_fr()?, halted, exit_code]);
        Ok(out)
    }
}

/// A run cut into step-circuit invocations, with what the verifier needs to finish the memory
/// check.
#[derive(Clone, Debug)]
pub struct PreparedRun {
    /// The invocations, `k` steps each.
    pub invocations: Vec<NvmSteps>,
    /// The initial state `z₀` (with `γ` already drawn).
    pub z0: Vec<Fr>,
    /// The final memory.
    pub finals: Vec<FinalCell>,
}

/// Errors preparing a run for proving.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrepareError {
    /// The steps do not fill whole invocations of `k`.
    #[error("{steps} steps do not divide into invocations of {k}")]
    Uneven {
        /// Steps given.
        steps: usize,
        /// Steps per invocation.
        k: usize,
    },
    /// A step accesses memory the program cannot reach (the NVM would have trapped).
    #[error("step {0} accesses unmapped memory")]
    Unmapped(usize),
    /// A step has more memory accesses than the circuit's one data slot (system calls and
    /// co-processors are not proven yet).
    #[error("step {0} makes {1} memory accesses; the circuit has one data slot")]
    TooManyAccesses(usize, usize),
    /// A system call other than `exit` (the only one proven so far).
    #[error("step {0} makes system call {1}; only exit (93, 94) is proven so far")]
    UnsupportedSyscall(usize, u32),
}

/// The initial state of a run of `program` with memory challenge `γ`: the entry pc, the NVM's
/// initial registers (sp = `INITIAL_SP`, the rest 0), `clk = 0`, `RS = WS = 1`, `h_acc = 0`, running.
pub fn initial_state(program: &Program, gamma: Fr) -> Vec<Fr> {
    let mut z = vec![Fr::from(u64::from(program.entry()))];
    z.extend((1..=NUM_REGS).map(|r| Fr::from(if r == 2 { u64::from(INITIAL_SP) } else { 0 })));
    z.extend([Fr::from(0u64), Fr::from(1u64), Fr::from(1u64), gamma, Fr::from(0u64), Fr::from(0u64), Fr::from(0u64)]);
    z
}

/// The memory challenge: `γ = H(program digest, h_acc_final, final memory)`; the verifier draws it
/// the same way from what the proof claims, so the prover is bound to every access and to the final
/// memory before `γ` exists (C.27).
pub fn memory_challenge(program: &Program, h_acc_final: Fr, finals: &[FinalCell]) -> Fr {
    let mut t = Transcript::new(CHALLENGE_LABEL);
    for chunk in program.digest().chunks(8) {
        t.absorb(&u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
    }
    t.absorb(&h_acc_final);
    t.absorb(&(finals.len() as u64));
    for c in finals {
        t.absorb(&crate::memory::cell(c.addr, c.value, c.t, 0));
    }
    t.squeeze_fr()
}

/// Cut the first `steps` steps of `trace` into invocations of `k` and compute every hint, the
/// access chain, the final memory and `γ` (a pass over the trace, no proving). A prefix that ends
/// with the exiting ECALL is filled out with no-op steps to whole invocations; any other prefix
/// must be a multiple of `k`.
pub fn prepare(program: &Program, trace: &Trace, steps: usize, k: usize) -> Result<PreparedRun, PrepareError> {
    let halts = steps > 0 && steps <= trace.steps().len() && trace.steps()[steps - 1].insn == ECALL_WORD;
    if k == 0 || steps > trace.steps().len() || (!halts && !steps.is_multiple_of(k)) {
        return Err(PrepareError::Uneven { steps, k });
    }
    let mut mem = MemoryTracker::default();
    let mut witnesses = Vec::with_capacity(steps.next_multiple_of(k));
    let mut elements = Vec::with_capacity(2 * steps.next_multiple_of(k));
    for (i, s) in trace.steps()[..steps].iter().enumerate() {
        let accesses = trace.step_memory(i);
        if s.insn == ECALL_WORD && !matches!(s.read_values[0], 93 | 94) {
            return Err(PrepareError::UnsupportedSyscall(i, s.read_values[0]));
        }
        if accesses.len() > 1 {
            return Err(PrepareError::TooManyAccesses(i, accesses.len()));
        }
        let clk = i as u32;
        let fetch = mem.access(program, s.pc, s.insn, 2 * clk + 1).ok_or(PrepareError::Unmapped(i))?;
        elements.push(chain_element(s.pc, s.insn, s.insn, fetch));
        let (data_old, data, element) = match accesses.first() {
            Some(a) => {
                let hint = mem.access(program, a.addr, a.new, 2 * clk + 2).ok_or(PrepareError::Unmapped(i))?;
                (a.old, hint, chain_element(a.addr, a.old, a.new, hint))
            }
            None => (0, AccessHint::default(), Fr::from(0u64)),
        };
        elements.push(element);
        witnesses.push(StepWitness { insn: s.insn, data_old, fetch, data });
    }
    // A halted machine's steps: the no-op, no access (chain elements zero).
    while !witnesses.len().is_multiple_of(k) {
        witnesses.push(StepWitness { insn: NOP_WORD, ..StepWitness::default() });
        elements.extend([Fr::from(0u64); 2]);
    }
    let mut h_acc = Fr::from(0u64);
    for fold in elements.chunks(2 * k) {
        let mut t = Transcript::new(ACCESS_CHAIN_LABEL);
        t.absorb(&h_acc);
        for e in fold {
            t.absorb(e);
        }
        h_acc = t.squeeze_fr();
    }
    let finals = mem.finals();
    let gamma = memory_challenge(program, h_acc, &finals);
    let z0 = initial_state(program, gamma);
    let invocations = witnesses.chunks(k).map(|c| NvmSteps { steps: c.to_vec() }).collect();
    Ok(PreparedRun { invocations, z0, finals })
}
