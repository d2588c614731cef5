//! Streaming segmentation: hand each segment of k steps to a callback while the run goes on.
//!
//! `Vm::run_traced` keeps the whole trace (about 50 bytes per step), which is fine for tests and
//! short runs but not for a billion-step run, and writing into ever more fresh memory makes the
//! kernel's page faults a large part of the cost. The segmenter records into buffers of k steps,
//! emits a [`Segment`] whenever one is full, and reuses the buffers, so memory stays O(k) and the
//! prover can start on segment i while the interpreter produces segment i + 1.

use crate::trace::{IoState, MachineState, MemAccess, Recorder, Segment, Trace, Tracer};

pub(crate) struct Segmenter<F> {
    rec: Recorder,
    k: usize,
    start: MachineState,
    next_index: usize,
    first_step: u64,
    on_segment: F,
}

impl<F: FnMut(&Segment<'_>)> Segmenter<F> {
    pub(crate) fn new(k: usize, initial: MachineState, on_segment: F) -> Self {
        let k = k.max(1);
        let mut rec = Recorder::new();
        rec.steps.reserve_exact(k.min(1 << 16));
        Segmenter { rec, k, start: initial, next_index: 0, first_step: 0, on_segment }
    }

    /// Emits the buffered steps as one segment (nothing if empty).
    #[cold]
    #[inline(never)]
    pub(crate) fn flush(&mut self, exit_code: Option<u32>) {
        if self.rec.steps.is_empty() {
            return;
        }
        let trace = Trace {
            initial: self.start,
            steps: std::mem::take(&mut self.rec.steps),
            mem: std::mem::take(&mut self.rec.mem),
            io_marks: std::mem::take(&mut self.rec.io_marks),
            exit_code,
            mem_base: self.rec.mem_base,
        };
        let n = trace.steps.len();
        let mut end = self.start;
        if let Some(mut seg) = trace.segments(n).pop() {
            seg.index = self.next_index;
            seg.first_step = self.first_step;
            (self.on_segment)(&seg);
            end = seg.end;
        }
        self.start = end;
        self.next_index += 1;
        self.first_step += n as u64;
        // Take the buffers back, keeping their capacity.
        let Trace { mut steps, mut mem, mut io_marks, .. } = trace;
        self.rec.mem_base = self.rec.mem_base.wrapping_add(mem.len() as u32);
        steps.clear();
        mem.clear();
        io_marks.clear();
        self.rec.steps = steps;
        self.rec.mem = mem;
        self.rec.io_marks = io_marks;
    }
}

impl<F: FnMut(&Segment<'_>)> Tracer for Segmenter<F> {
    const ENABLED: bool = true;
    #[inline(always)]
    fn begin(&mut self, pc: u32, insn: u32) {
        // Flush lazily, when the next step starts, so the exiting step always lands in the final
        // flush, which carries the exit code.
        if self.rec.steps.len() >= self.k {
            self.flush(None);
        }
        self.rec.begin(pc, insn);
    }
    #[inline(always)]
    fn read_reg(&mut self, index: u8, value: u32) {
        self.rec.read_reg(index, value);
    }
    #[inline(always)]
    fn write_reg(&mut self, index: u8, old: u32, new: u32) {
        self.rec.write_reg(index, old, new);
    }
    #[inline(always)]
    fn mem(&mut self, access: MemAccess) {
        self.rec.mem(access);
    }
    #[inline(always)]
    fn end(&mut self, next_pc: u32) {
        self.rec.end(next_pc);
    }
    fn io(&mut self, io: IoState) {
        self.rec.io(io);
    }
}
