//! The step circuit the folding engine folds: `k` NVM steps per fold over the state
//!
//! `z = [pc, x1..x31, clk, RS, WS, γ, h_acc, halted, exit_code,
//!       io_done, in_pos, in_len, in_acc, out_len, out_acc, log_len, CP]`
//!
//! (`clk` counts steps, `RS`/`WS` are the memory argument's products, `γ` its challenge,
//! constant through the run, `h_acc` the access chain, `halted` set by the exiting ECALL with
//! `exit_code` = a0; then the I/O streams: bytes the `read`/`write` in progress has moved, input
//! bytes read of `in_len` (constant), output and log bytes written, and the Horner fingerprints
//! `Σ bᵢ·γ^(n−1−i)` of the input read and the output written; `CP` is the product of the call
//! elements of co-processor words moved, [`crate::coprocessor`]). A step is an instruction, one byte
//! of a `read`/`write` or one word of a co-processor call ([`crate::cpu::step`]), so the
//! instructions retired are `clk − in_pos − out_len − log_len − words of calls`. Once halted, a step is a no-op (PROVER-PITFALLS B.24): its instruction must be
//! `ADDI x0, x0, 0`, it fetches nothing, and pc and clk stay; that is how the last invocation is
//! filled out to `k` steps. Each step runs [`crate::cpu::step`], then
//! its fetch (`pc`, the instruction word) and data slot through [`crate::memory::access`] at
//! timestamps `2·clk + 1` and `2·clk + 2`; the chain absorbs both slots' elements packed into one.
//! One transcript per fold keeps the chain at one absorbed element per step (no intermediate chain
//! values in the state): `h_acc' = H(h_acc, e_1, …, e_k)`.

use ark_bn254::Fr;
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use nexus_nova::{step_circuit::StepCircuit, transcript::Transcript, transcript_gadget::TranscriptVar};
use nexus_vm::{INITIAL_SP, OPCODE_CUSTOM_0, OPCODE_CUSTOM_1, Program, Step, Trace};

use crate::bits::pow2;
use crate::coprocessor::{CallSteps, CallWitness, Kind, call_element_var};
use crate::cpu::{CpuVar, IoCursor, MemSlot, NUM_REGS, StepHint, select_var, step};
use crate::decode::{ECALL_WORD, NOP_WORD};
use crate::image::image_root_of;
use crate::io::PublicIo;
use crate::memory::{
    AccessHint, FETCH_ELEMENT_BITS, FinalCell, MemoryTracker, ProductsVar, SlotKind, access, chain_element,
    step_element,
};

/// Length of the state.
pub const STATE_LEN: usize = 1 + NUM_REGS + 7 + 7 + 1;
/// Index of `clk` in the state (then `RS`, `WS`, `γ`, `h_acc`, `halted`, `exit_code`).
pub const CLK: usize = 1 + NUM_REGS;
/// Index of `γ` in the state.
pub const GAMMA: usize = CLK + 3;
/// Index of `h_acc` in the state.
pub const H_ACC: usize = CLK + 4;
/// Index of `io_done` in the state (then `in_pos`, `in_len`, `in_acc`, `out_len`, `out_acc`,
/// `log_len`).
pub const IO: usize = CLK + 7;
/// Index of `CP`, the product of call elements.
pub const CP: usize = IO + 7;
/// Transcript label of the access chain.
pub const ACCESS_CHAIN_LABEL: &[u8] = b"nexus-nvm/access-chain/v1";
/// Transcript label of the memory challenge.
pub const CHALLENGE_LABEL: &[u8] = b"nexus-nvm/memory-challenge/v1";

/// What the prover supplies for one NVM step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepWitness {
    /// The instruction word fetched.
    pub insn: u32,
    /// The data word and input byte (see [`StepHint`]).
    pub hint: StepHint,
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
        let [io_done, in_pos, in_len, in_acc, out_len, out_acc, log_len] = std::array::from_fn(|k| z[IO + k].clone());
        let (mut io_done, mut in_pos, mut in_acc) = (io_done, in_pos, in_acc);
        let (mut out_len, mut out_acc, mut log_len) = (out_len, out_acc, log_len);
        let mut products = ProductsVar { rs, ws };
        let mut cp = z[CP].clone();
        let mut chain = TranscriptVar::new(cs.clone(), ACCESS_CHAIN_LABEL)?;
        chain.absorb_fr(&[h_acc])?;
        let one = FpVar::Constant(Fr::from(1u64));
        for s in &self.steps {
            let word = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(s.insn))))?;
            // A halted machine executes the no-op and fetches nothing.
            (&halted * (&word - Fr::from(u64::from(NOP_WORD)))).enforce_equal(&FpVar::Constant(Fr::from(0u64)))?;
            let running = &one - &halted;
            let cursor = IoCursor { done: io_done.clone(), input_left: &in_len - &in_pos };
            let out = step(&cs, &cpu, &cursor, &word, s.insn, s.hint)?;
            let t_fetch = &clk * Fr::from(2u64) + Fr::from(1u64);
            let t_data = &t_fetch + Fr::from(1u64);
            let fetch = MemSlot::fetch(&running, &cpu.pc, &word);
            let e1 = access(&cs, &mut products, &gamma, &fetch, &t_fetch, s.fetch, SlotKind::Fetch)?;
            let e2 = access(&cs, &mut products, &gamma, &out.data, &t_data, s.data, SlotKind::Data)?;
            chain.absorb_fr(&[e1 + e2 * pow2(FETCH_ELEMENT_BITS)])?;
            // A co-processor word: its call is the clock at the call's first word.
            let c = &out.call;
            let element = call_element_var(&c.kind, &(&clk - &io_done), &c.index, &out.data.old, &out.data.new);
            cp *= &c.active * (&gamma - element - Fr::from(1u64)) + Fr::from(1u64);
            let pc = select_var(&cs, &halted, &cpu.pc, &out.next.pc)?;
            cpu = CpuVar { pc, regs: out.next.regs };
            clk += &running;
            exit_code = select_var(&cs, &out.exits, &out.a0, &exit_code)?;
            halted += &out.exits;
            // The streams: a byte read or written extends its fingerprint by one Horner step.
            let io = out.io;
            io_done = io.done;
            in_pos = select_var(&cs, &io.reads, &(&in_pos + &one), &in_pos)?;
            in_acc = select_var(&cs, &io.reads, &(&in_acc * &gamma + &io.input_byte), &in_acc)?;
            out_acc = select_var(&cs, &io.outputs, &(&out_acc * &gamma + &io.written_byte), &out_acc)?;
            out_len += &io.outputs;
            log_len += &io.logs;
        }
        // The products are materialized so the next invocation starts from single variables.
        let rs = FpVar::new_witness(cs.clone(), || products.rs.value())?;
        let ws = FpVar::new_witness(cs.clone(), || products.ws.value())?;
        rs.enforce_equal(&products.rs)?;
        ws.enforce_equal(&products.ws)?;
        let cp_out = FpVar::new_witness(cs.clone(), || cp.value())?;
        cp_out.enforce_equal(&cp)?;
        let mut out = vec![cpu.pc];
        out.extend(cpu.regs);
        out.extend([clk, rs, ws, gamma, chain.squeeze_fr()?, halted, exit_code]);
        out.extend([io_done, in_pos, in_len, in_acc, out_len, out_acc, log_len, cp_out]);
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
    /// The public output the run wrote (fd 1).
    pub output: Vec<u8>,
    /// The co-processor calls, per kind that was called (in tag order), for their chains.
    pub calls: Vec<(Kind, Vec<CallWitness>)>,
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
    /// An instruction has more memory accesses than the circuit's one data slot (only system calls
    /// and co-processors have more, and they run as micro-steps).
    #[error("step {0} makes {1} memory accesses; the circuit has one data slot")]
    TooManyAccesses(usize, usize),
    /// A custom-0/custom-1 instruction that is none of the co-processors the circuit proves.
    #[error("step {0} runs custom instruction {1:#010x}, which is no co-processor the prover knows")]
    Coprocessor(usize, u32),
    /// A system call the circuit does not prove (the NVM serves no others).
    #[error("step {0} makes system call {1}; proven are read (63), write (64) and exit (93, 94)")]
    UnsupportedSyscall(usize, u32),
    /// The trace does not match the input it is prepared with.
    #[error("step {0} reads input the run was not given")]
    Input(usize),
    /// The byte-wise replay of a system call left memory other than the trace records (a bug in
    /// the trace or here, never the user's).
    #[error("step {0}: the system call's replay disagrees with the trace")]
    Diverged(usize),
}

/// The initial state of a run from `entry` (the program's entry point) on an input of `input_len` bytes with memory challenge
/// `γ`: the entry pc, the NVM's initial registers (sp = `INITIAL_SP`, the rest 0), `clk = 0`,
/// `RS = WS = 1`, `h_acc = 0`, running, empty streams, and `CP = 1`.
pub fn initial_state(entry: u32, gamma: Fr, input_len: usize) -> Vec<Fr> {
    let zero = Fr::from(0u64);
    let mut z = vec![Fr::from(u64::from(entry))];
    z.extend((1..=NUM_REGS).map(|r| Fr::from(if r == 2 { u64::from(INITIAL_SP) } else { 0 })));
    z.extend([zero, Fr::from(1u64), Fr::from(1u64), gamma, zero, zero, zero]);
    z.extend([zero, zero, Fr::from(input_len as u64), zero, zero, zero, zero, Fr::from(1u64)]);
    z
}

/// The memory challenge: `γ = H(image root, input and output digests, h_acc_final, final
/// memory, each co-processor's kind and input chain)`; the verifier draws it the same way from what
/// the proof claims, so the prover is bound to every access, to the final memory, to every
/// co-processor input and to the claimed output before `γ` exists (C.27). The
/// streams' fingerprints are evaluated at `γ` too, which is why the output is hashed in: a prover
/// who could choose the claimed output after `γ` could solve for bytes with the same fingerprint.
pub fn memory_challenge(
    image_root: Fr,
    io: PublicIo<'_>,
    h_acc_final: Fr,
    finals: &[FinalCell],
    call_chains: &[(Kind, Fr)],
) -> Fr {
    let mut t = Transcript::new(CHALLENGE_LABEL);
    t.absorb(&image_root);
    for digest in [io.input_digest(), io.output_digest()] {
        for chunk in digest.chunks(8) {
            t.absorb(&u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
    }
    t.absorb(&h_acc_final);
    t.absorb(&(finals.len() as u64));
    for c in finals {
        t.absorb(&crate::memory::cell(c.addr, c.value, c.t, 0));
    }
    t.absorb(&(call_chains.len() as u64));
    for (kind, h) in call_chains {
        t.absorb(&u64::from(kind.tag()));
        t.absorb(h);
    }
    t.squeeze_fr()
}

/// The steps of a run and what they leave behind, built as [`prepare`] walks the trace.
struct Expansion<'a> {
    program: &'a Program,
    input: &'a [u8],
    input_pos: usize,
    output: Vec<u8>,
    mem: MemoryTracker,
    witnesses: Vec<StepWitness>,
    elements: Vec<Fr>,
    calls: [Vec<CallWitness>; Kind::ALL.len()],
}

impl Expansion<'_> {
    /// One step: the fetch of `insn` at `pc`, and the data access `(addr, old, new)` if any;
    /// `hint` gives the input byte and a co-processor's written word (its `data_old` is `old`).
    fn push(
        &mut self,
        at: usize,
        pc: u32,
        insn: u32,
        data: Option<(u32, u32, u32)>,
        extra: StepHint,
    ) -> Result<(), PrepareError> {
        let clk = self.witnesses.len() as u32;
        let fetch = self.mem.access(self.program, pc, insn, 2 * clk + 1).ok_or(PrepareError::Unmapped(at))?;
        let fetch_element = chain_element(SlotKind::Fetch, pc, insn, insn, fetch);
        let (data_old, data, data_element) = match data {
            Some((addr, old, new)) => {
                let hint = self.mem.access(self.program, addr, new, 2 * clk + 2).ok_or(PrepareError::Unmapped(at))?;
                (old, hint, chain_element(SlotKind::Data, addr, old, new, hint))
            }
            None => (0, AccessHint::default(), Fr::from(0u64)),
        };
        self.elements.push(step_element(fetch_element, data_element));
        self.witnesses.push(StepWitness { insn, hint: StepHint { data_old, ..extra }, fetch, data });
        Ok(())
    }

    /// A co-processor call at `pc`: one step per word (read, or replaced by what the co-processor
    /// computes), then the step that retires it; the call goes to its kind's chain.
    fn call(&mut self, at: usize, s: &Step, kind: Kind) -> Result<(), PrepareError> {
        let (rs1, rs2) = (s.read_values[0], s.read_values[1]);
        let call = self.witnesses.len() as u32;
        let addrs: Vec<u32> = (0..kind.words()).map(|i| kind.address(i, rs1, rs2)).collect();
        if addrs.iter().any(|a| a % 4 != 0) {
            return Err(PrepareError::Unmapped(at));
        }
        let inputs = addrs
            .iter()
            .map(|a| self.mem.value(self.program, *a).ok_or(PrepareError::Unmapped(at)))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = kind.compute(&inputs);
        for (i, addr) in addrs.iter().enumerate() {
            // Words are distinct within the reads and within the writes, and every read comes
            // first, so a word's value now is its input.
            let old = self.mem.value(self.program, *addr).ok_or(PrepareError::Unmapped(at))?;
            let new = if kind.writes(i) { outputs[i] } else { old };
            let extra = StepHint { call_new: if kind.writes(i) { new } else { 0 }, ..StepHint::default() };
            self.push(at, s.pc, s.insn, Some((*addr, old, new)), extra)?;
        }
        self.calls[usize::from(kind.tag())].push(CallWitness { call, inputs });
        self.push(at, s.pc, s.insn, None, StepHint::default())
    }

    /// A `read` (from the input) or `write` (to the output, or the log when `!to_output`) of
    /// `moved` bytes at `buf`: one step per byte, then the step that retires the ECALL.
    fn syscall(
        &mut self,
        at: usize,
        pc: u32,
        read: bool,
        to_output: bool,
        buf: u32,
        moved: u32,
    ) -> Result<(), PrepareError> {
        for j in 0..moved {
            let addr = buf.wrapping_add(j);
            let (word, shift) = (addr & !3, 8 * (addr & 3));
            let old = self.mem.value(self.program, word).ok_or(PrepareError::Unmapped(at))?;
            if read {
                let byte = *self.input.get(self.input_pos).ok_or(PrepareError::Input(at))?;
                self.input_pos += 1;
                let new = old & !(0xff << shift) | u32::from(byte) << shift;
                self.push(
                    at,
                    pc,
                    ECALL_WORD,
                    Some((word, old, new)),
                    StepHint { input_byte: byte, ..StepHint::default() },
                )?;
            } else {
                if to_output {
                    self.output.push((old >> shift) as u8);
                }
                self.push(at, pc, ECALL_WORD, Some((word, old, old)), StepHint::default())?;
            }
        }
        self.push(at, pc, ECALL_WORD, None, StepHint::default())
    }

    /// Check that memory holds what the trace says step `at`'s accesses left (the last access to
    /// each word decides).
    fn agrees(&self, at: usize, accesses: &[nexus_vm::MemAccess]) -> Result<(), PrepareError> {
        let mut last = std::collections::BTreeMap::new();
        for a in accesses {
            last.insert(a.addr, a.new);
        }
        if last.iter().all(|(addr, new)| self.mem.value(self.program, *addr) == Some(*new)) {
            Ok(())
        } else {
            Err(PrepareError::Diverged(at))
        }
    }
}

/// Cut the first `steps` instructions of `trace` (a run of `program` on `input`) into invocations
/// of `k` circuit steps and compute every hint, the access chain, the final memory, the output and
/// `γ` (a pass over the trace, no proving). A `read`/`write` becomes one circuit step per byte
/// plus one (see [`crate::cpu::step`]). A prefix that ends with the exiting ECALL is filled out
/// with no-op steps to whole invocations; any other prefix must fill whole invocations.
pub fn prepare(
    program: &Program,
    input: &[u8],
    trace: &Trace,
    steps: usize,
    k: usize,
) -> Result<PreparedRun, PrepareError> {
    let halts = steps > 0 && steps <= trace.steps().len() && trace.steps()[steps - 1].insn == ECALL_WORD;
    if k == 0 || steps > trace.steps().len() {
        return Err(PrepareError::Uneven { steps, k });
    }
    let mut run = Expansion {
        program,
        input,
        input_pos: 0,
        output: Vec::new(),
        mem: MemoryTracker::default(),
        witnesses: Vec::with_capacity(steps.next_multiple_of(k)),
        elements: Vec::with_capacity(steps.next_multiple_of(k)),
        calls: Default::default(),
    };
    for (i, s) in trace.steps()[..steps].iter().enumerate() {
        let accesses = trace.step_memory(i);
        if s.insn == ECALL_WORD {
            let [number, fd, buf, _] = s.read_values;
            let moved = s.reg_write().map_or(0, |w| w.new);
            match (number, fd) {
                (93 | 94, _) => run.push(i, s.pc, s.insn, None, StepHint::default())?,
                (63, 0) => run.syscall(i, s.pc, true, false, buf, moved)?,
                (64, 1 | 2) => run.syscall(i, s.pc, false, fd == 1, buf, moved)?,
                _ => return Err(PrepareError::UnsupportedSyscall(i, number)),
            }
            run.agrees(i, accesses)?;
            continue;
        }
        if matches!(s.insn & 0x7f, OPCODE_CUSTOM_0 | OPCODE_CUSTOM_1) {
            let kind = Kind::of_insn(s.insn).ok_or(PrepareError::Coprocessor(i, s.insn))?;
            run.call(i, s, kind)?;
            run.agrees(i, accesses)?;
            continue;
        }
        if accesses.len() > 1 {
            return Err(PrepareError::TooManyAccesses(i, accesses.len()));
        }
        run.push(i, s.pc, s.insn, accesses.first().map(|a| (a.addr, a.old, a.new)), StepHint::default())?;
    }
    if !halts && !run.witnesses.len().is_multiple_of(k) {
        return Err(PrepareError::Uneven { steps: run.witnesses.len(), k });
    }
    // A halted machine's steps: the no-op, no access (chain elements zero).
    while !run.witnesses.len().is_multiple_of(k) {
        run.witnesses.push(StepWitness { insn: NOP_WORD, ..StepWitness::default() });
        run.elements.push(Fr::from(0u64));
    }
    let mut h_acc = Fr::from(0u64);
    for fold in run.elements.chunks(k) {
        let mut t = Transcript::new(ACCESS_CHAIN_LABEL);
        t.absorb(&h_acc);
        for e in fold {
            t.absorb(e);
        }
        h_acc = t.squeeze_fr();
    }
    let finals = run.mem.finals();
    let calls: Vec<(Kind, Vec<CallWitness>)> =
        Kind::ALL.into_iter().zip(run.calls).filter(|(_, c)| !c.is_empty()).collect();
    let chains: Vec<(Kind, Fr)> =
        calls.iter().map(|(kind, c)| (*kind, CallSteps::chain(&CallSteps::folds(*kind, c), Fr::from(0u64)))).collect();
    let gamma =
        memory_challenge(image_root_of(program), PublicIo { input, output: &run.output }, h_acc, &finals, &chains);
    let z0 = initial_state(program.entry(), gamma, input.len());
    let invocations = run.witnesses.chunks(k).map(|c| NvmSteps { steps: c.to_vec() }).collect();
    Ok(PreparedRun { invocations, z0, finals, output: run.output, calls })
}
