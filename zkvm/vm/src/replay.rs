//! Independent replay of one trace segment.
//!
//! A segment carries its start state and the initial values of the memory words it touches. Replay
//! re-executes its steps on a sparse memory holding only those words, checks every step against
//! the recorded one, and checks the end state. Any access to a word outside the witness is an error:
//! a segment must be self-contained to be proven on its own.

use std::collections::HashMap;

use crate::execute::{Cpu, run};
use crate::memory::{GuestMemory, Layout};
use crate::syscall::Io;
use crate::trace::{MachineState, Recorder, Segment};
use crate::{ReplayError, TrapKind, Vm};

/// What a replay produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    pub end: MachineState,
    /// `(word address, value)` after the segment for every touched word, ascending.
    pub memory_out: Vec<(u32, u32)>,
    /// Bytes this segment wrote to the public output and to the log.
    pub output: Vec<u8>,
    pub log: Vec<u8>,
}

struct SparseMemory<'a> {
    layout: &'a Layout,
    words: HashMap<u32, u32>,
    missing: Option<u32>,
}

impl SparseMemory<'_> {
    fn word(&mut self, addr: u32) -> Result<&mut u32, TrapKind> {
        match self.words.get_mut(&addr) {
            Some(w) => Ok(w),
            None => {
                self.missing = Some(addr);
                Err(TrapKind::LoadFault { addr })
            }
        }
    }
}

impl GuestMemory for SparseMemory<'_> {
    fn load_word(&mut self, addr: u32) -> Result<u32, TrapKind> {
        self.layout.check_load(addr)?;
        self.word(addr).map(|w| *w)
    }
    fn store_word(&mut self, addr: u32, value: u32) -> Result<u32, TrapKind> {
        self.layout.check_store(addr)?;
        self.word(addr).map(|w| std::mem::replace(w, value))
    }
}

/// Replays `segment` of a run of `vm` (same program, input and co-processors as the traced run).
pub fn replay_segment(vm: &Vm<'_>, segment: &Segment<'_>) -> Result<ReplayOutcome, ReplayError> {
    let n = segment.steps.len();
    if n == 0 {
        return Err(ReplayError::Malformed { what: "no steps" });
    }
    let start = &segment.start;
    if start.regs[0] != 0 {
        return Err(ReplayError::Malformed { what: "x0 is not zero in the start state" });
    }
    if start.exit_code.is_some() {
        return Err(ReplayError::Malformed { what: "start state has already exited" });
    }
    let layout = Layout::new(vm.program());
    let mut mem = SparseMemory { layout: &layout, words: segment.memory_in.iter().copied().collect(), missing: None };
    let mut cpu = Cpu::new(start.pc, &start.regs);
    let mut io = Io::new(vm.input());
    io.input_pos = start.io.input_pos as usize;
    io.output_before = start.io.output_len as usize;
    io.log_before = start.io.log_len as usize;
    let mut rec = Recorder::new();
    let result = run(&mut cpu, vm.code(), &mut mem, &mut io, &vm.config().coprocessors, &mut rec, n as u64);
    let exit_code = match result {
        Ok(code) => Some(code),
        Err(t) if matches!(t.kind, TrapKind::StepLimitExceeded { .. }) => None,
        Err(t) => {
            if let Some(addr) = mem.missing {
                return Err(ReplayError::MissingMemory { step: rec.steps.len(), addr });
            }
            return Err(ReplayError::Trap(t));
        }
    };
    if rec.steps.len() != n {
        return Err(ReplayError::EndStateMismatch { what: "number of steps" });
    }
    for (i, (got, want)) in rec.steps.iter().zip(segment.steps).enumerate() {
        let mismatch = |what| Err(ReplayError::Mismatch { step: i, what });
        if (got.pc, got.insn, got.next_pc) != (want.pc, want.insn, want.next_pc) {
            return mismatch("pc, instruction or next pc");
        }
        if got.reg_reads().ne(want.reg_reads()) {
            return mismatch("registers read");
        }
        if got.reg_write() != want.reg_write() {
            return mismatch("register write");
        }
        let got_mem = step_mem(&rec.mem, &rec.steps, i, 0);
        let want_mem = step_mem(segment.mem, segment.steps, i, segment.mem_base);
        if got_mem != want_mem {
            return mismatch("memory accesses");
        }
    }
    let end = MachineState { pc: cpu.pc, regs: cpu.arch_regs(), io: io.state(), exit_code };
    if end.pc != segment.end.pc {
        return Err(ReplayError::EndStateMismatch { what: "pc" });
    }
    if end.regs != segment.end.regs {
        return Err(ReplayError::EndStateMismatch { what: "registers" });
    }
    if end.io != segment.end.io {
        return Err(ReplayError::EndStateMismatch { what: "io state" });
    }
    if end.exit_code != segment.end.exit_code {
        return Err(ReplayError::EndStateMismatch { what: "exit code" });
    }
    let memory_out: Vec<(u32, u32)> =
        segment.memory_in.iter().map(|(a, _)| (*a, mem.words.get(a).copied().unwrap_or(0))).collect();
    if memory_out != segment.memory_out {
        return Err(ReplayError::EndStateMismatch { what: "memory" });
    }
    Ok(ReplayOutcome { end, memory_out, output: io.output, log: io.log })
}

fn step_mem<'m>(mem: &'m [crate::MemAccess], steps: &[crate::Step], i: usize, base: u32) -> &'m [crate::MemAccess] {
    let lo = steps.get(i).map_or(0, |s| s.mem_start.wrapping_sub(base) as usize);
    let hi = steps.get(i + 1).map_or(mem.len(), |s| s.mem_start.wrapping_sub(base) as usize);
    mem.get(lo..hi).unwrap_or(&[])
}
