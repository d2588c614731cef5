//! Execution traces: what a prover needs to know about every step, and how a trace splits into
//! independently replayable segments.
//!
//! Layout is struct-of-records with a side array: each [`Step`] is a fixed 48-byte record, and the
//! variable number of memory accesses (0 or 1 for loads/stores, a few for syscalls, up to 100 for a
//! Keccak co-processor step) lives in one flat [`MemAccess`] array, indexed by `Step::mem_start`.
//! Recording is therefore two `Vec::push`es per step and never allocates per step.

use crate::decode::SINK_REG;

/// Marker for an unused register slot in a [`Step`].
pub const NO_REG: u8 = 0xff;

/// One word-aligned memory access. Sub-word loads and stores are recorded on their containing word:
/// a `SB` records the whole word before and after. Reads have `old == new` and `is_write == false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemAccess {
    pub addr: u32,
    pub old: u32,
    pub new: u32,
    pub is_write: bool,
}

/// A register write: `(index, old, new)`. Writes to x0 are recorded with `old = new = 0`, because
/// that is what the architectural register holds before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegWrite {
    pub index: u8,
    pub old: u32,
    pub new: u32,
}

/// One retired instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Address of the instruction.
    pub pc: u32,
    /// The raw instruction word.
    pub insn: u32,
    /// The pc after the step. An exiting ECALL keeps the pc (a halted machine does not advance).
    pub next_pc: u32,
    /// Values of the registers read, in read order; slot `i` is used iff `read_regs[i] != NO_REG`.
    /// Ordinary instructions use slots 0 (rs1) and 1 (rs2); ECALL reads a7, then its arguments.
    pub read_values: [u32; 4],
    /// Index into [`Trace::memory_accesses`] of this step's first memory access; the step's accesses
    /// end where the next step's start.
    pub mem_start: u32,
    pub rd_old: u32,
    pub rd_new: u32,
    pub read_regs: [u8; 4],
    /// Register written, or [`NO_REG`].
    pub rd: u8,
}

impl Step {
    fn empty(pc: u32, insn: u32, mem_start: u32) -> Step {
        Step {
            pc,
            insn,
            next_pc: 0,
            read_values: [0; 4],
            mem_start,
            rd_old: 0,
            rd_new: 0,
            read_regs: [NO_REG; 4],
            rd: NO_REG,
        }
    }

    /// Registers read as `(index, value)`.
    pub fn reg_reads(&self) -> impl Iterator<Item = (u8, u32)> + '_ {
        self.read_regs.iter().zip(self.read_values).filter(|(r, _)| **r != NO_REG).map(|(r, v)| (*r, v))
    }

    /// The register written, if any.
    pub fn reg_write(&self) -> Option<RegWrite> {
        (self.rd != NO_REG).then_some(RegWrite { index: self.rd, old: self.rd_old, new: self.rd_new })
    }
}

/// Progress of the input/output streams: bytes consumed from the input, bytes written to the public
/// output and to the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoState {
    pub input_pos: u32,
    pub output_len: u32,
    pub log_len: u32,
}

/// Architectural state between steps (memory excluded: segments carry the words they touch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineState {
    pub pc: u32,
    pub regs: [u32; 32],
    pub io: IoState,
    /// Set once the program has exited.
    pub exit_code: Option<u32>,
}

/// The trace of a complete run.
#[derive(Debug, Clone)]
pub struct Trace {
    pub(crate) initial: MachineState,
    pub(crate) steps: Vec<Step>,
    pub(crate) mem: Vec<MemAccess>,
    /// `(index of an ECALL step, io state after it)`, so segment boundaries know their io state.
    pub(crate) io_marks: Vec<(usize, IoState)>,
    pub(crate) exit_code: Option<u32>,
    /// Global index of `mem[0]` (nonzero only for the partial traces of streamed segments).
    pub(crate) mem_base: u32,
}

impl Trace {
    pub fn initial_state(&self) -> &MachineState {
        &self.initial
    }
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    /// All memory accesses of the run, in order.
    pub fn memory_accesses(&self) -> &[MemAccess] {
        &self.mem
    }
    /// Memory accesses of step `i`.
    pub fn step_memory(&self, i: usize) -> &[MemAccess] {
        let start = self.steps.get(i).map_or(0, |s| s.mem_start.wrapping_sub(self.mem_base) as usize);
        let end = self.steps.get(i + 1).map_or(self.mem.len(), |s| s.mem_start.wrapping_sub(self.mem_base) as usize);
        self.mem.get(start..end).unwrap_or(&[])
    }

    /// Bytes of trace storage per step (step records plus memory accesses), for capacity planning.
    pub fn bytes_per_step(&self) -> f64 {
        let bytes = self.steps.len() * size_of::<Step>() + self.mem.len() * size_of::<MemAccess>();
        bytes as f64 / self.steps.len().max(1) as f64
    }

    /// Splits the trace into segments of `k` steps (the last one may be shorter). Each segment
    /// carries its start and end state and the memory words it touches, with their values before
    /// (`memory_in`) and after (`memory_out`) the segment, so it can be replayed and proven on its
    /// own. `k = 0` is treated as 1.
    pub fn segments(&self, k: usize) -> Vec<Segment<'_>> {
        let k = k.max(1);
        let mut out = Vec::with_capacity(self.steps.len().div_ceil(k));
        let mut state = self.initial;
        let mut marks = self.io_marks.iter().peekable();
        for (index, chunk) in self.steps.chunks(k).enumerate() {
            let first_step = index * k;
            let start = state;
            for (i, step) in chunk.iter().enumerate() {
                if let Some(w) = step.reg_write()
                    && w.index != 0
                    && let Some(r) = state.regs.get_mut(w.index as usize)
                {
                    *r = w.new;
                }
                state.pc = step.next_pc;
                while let Some((_, io)) = marks.next_if(|(at, _)| *at == first_step + i) {
                    state.io = *io;
                }
            }
            if first_step + chunk.len() == self.steps.len() {
                state.exit_code = self.exit_code;
            }
            let local = |s: &Step| s.mem_start.wrapping_sub(self.mem_base) as usize;
            let mem_lo = chunk.first().map_or(0, local);
            let mem_hi = self.steps.get(first_step + chunk.len()).map_or(self.mem.len(), local);
            let mem = self.mem.get(mem_lo..mem_hi).unwrap_or(&[]);
            let (memory_in, memory_out) = touched_words(mem);
            out.push(Segment {
                index,
                first_step: first_step as u64,
                start,
                end: state,
                steps: chunk,
                mem,
                mem_base: self.mem_base.wrapping_add(mem_lo as u32),
                memory_in,
                memory_out,
            });
        }
        out
    }
}

/// `(word address, value)` pairs, ascending by address.
pub type WordValues = Vec<(u32, u32)>;

/// First and last values of every word touched, sorted by address.
fn touched_words(mem: &[MemAccess]) -> (WordValues, WordValues) {
    let mut words: std::collections::BTreeMap<u32, (u32, u32)> = Default::default();
    for a in mem {
        words.entry(a.addr).and_modify(|(_, last)| *last = a.new).or_insert((a.old, a.new));
    }
    let memory_in = words.iter().map(|(a, (first, _))| (*a, *first)).collect();
    let memory_out = words.iter().map(|(a, (_, last))| (*a, *last)).collect();
    (memory_in, memory_out)
}

/// A slice of a trace that can be replayed (and proven) independently.
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub index: usize,
    /// Global index of the segment's first step.
    pub first_step: u64,
    pub start: MachineState,
    pub end: MachineState,
    pub steps: &'a [Step],
    /// The memory accesses of these steps; `Step::mem_start - mem_base` indexes into it.
    pub mem: &'a [MemAccess],
    pub mem_base: u32,
    /// `(word address, value at segment start)` for every word the segment touches, ascending.
    pub memory_in: WordValues,
    /// `(word address, value at segment end)` for the same words.
    pub memory_out: WordValues,
}

/// Hooks the interpreter calls while executing; [`NoTrace`] compiles them away for fast runs.
pub(crate) trait Tracer {
    const ENABLED: bool;
    fn begin(&mut self, pc: u32, insn: u32);
    fn read_reg(&mut self, index: u8, value: u32);
    fn write_reg(&mut self, index: u8, old: u32, new: u32);
    fn mem(&mut self, access: MemAccess);
    fn end(&mut self, next_pc: u32);
    fn io(&mut self, io: IoState);
}

/// Tracer for fast runs: records nothing.
pub(crate) struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;
    #[inline(always)]
    fn begin(&mut self, _: u32, _: u32) {}
    #[inline(always)]
    fn read_reg(&mut self, _: u8, _: u32) {}
    #[inline(always)]
    fn write_reg(&mut self, _: u8, _: u32, _: u32) {}
    #[inline(always)]
    fn mem(&mut self, _: MemAccess) {}
    #[inline(always)]
    fn end(&mut self, _: u32) {}
    #[inline(always)]
    fn io(&mut self, _: IoState) {}
}

/// Tracer that records steps into vectors.
pub(crate) struct Recorder {
    pub steps: Vec<Step>,
    pub mem: Vec<MemAccess>,
    pub io_marks: Vec<(usize, IoState)>,
    /// Global index of `mem[0]`: streamed segmentation empties `mem` but keeps indices global.
    pub mem_base: u32,
    cur: Step,
    nreads: usize,
}

impl Recorder {
    pub(crate) fn new() -> Recorder {
        Recorder {
            steps: Vec::new(),
            mem: Vec::new(),
            io_marks: Vec::new(),
            mem_base: 0,
            cur: Step::empty(0, 0, 0),
            nreads: 0,
        }
    }
}

impl Tracer for Recorder {
    const ENABLED: bool = true;
    #[inline(always)]
    fn begin(&mut self, pc: u32, insn: u32) {
        self.cur = Step::empty(pc, insn, self.mem_base.wrapping_add(self.mem.len() as u32));
        self.nreads = 0;
    }
    #[inline(always)]
    fn read_reg(&mut self, index: u8, value: u32) {
        if let (Some(r), Some(v)) = (self.cur.read_regs.get_mut(self.nreads), self.cur.read_values.get_mut(self.nreads))
        {
            *r = index;
            *v = value;
            self.nreads += 1;
        }
    }
    #[inline(always)]
    fn write_reg(&mut self, index: u8, old: u32, new: u32) {
        if index == SINK_REG {
            self.cur.rd = 0;
            self.cur.rd_old = 0;
            self.cur.rd_new = 0;
        } else {
            self.cur.rd = index;
            self.cur.rd_old = old;
            self.cur.rd_new = new;
        }
    }
    #[inline(always)]
    fn mem(&mut self, access: MemAccess) {
        if self.mem.len() == self.mem.capacity() {
            grow(&mut self.mem);
        }
        self.mem.push(access);
    }
    #[inline(always)]
    fn end(&mut self, next_pc: u32) {
        self.cur.next_pc = next_pc;
        if self.steps.len() == self.steps.capacity() {
            grow(&mut self.steps);
        }
        self.steps.push(self.cur);
    }
    fn io(&mut self, io: IoState) {
        self.io_marks.push((self.steps.len(), io));
    }
}

/// Grows a trace vector by doubling (at least 16 Ki entries). Kept out of line so the recording
/// fast path is a compare and a store.
#[cold]
#[inline(never)]
fn grow<T>(v: &mut Vec<T>) {
    v.reserve_exact(v.capacity().max(1 << 14));
}
