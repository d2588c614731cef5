//! The public entry point: configure and run a program.

use crate::coprocessor::Coprocessors;
use crate::execute::{Code, Cpu, run};
use crate::memory::{INITIAL_SP, Memory};
use crate::program::Program;
use crate::segmenter::Segmenter;
use crate::syscall::Io;
use crate::trace::{MachineState, NoTrace, Recorder, Segment, Trace};
use crate::{MAX_INPUT_BYTES, VmError};

/// Default step limit: about ten seconds of fast execution on a laptop. Traced runs store about
/// 50 bytes per step, so callers tracing long runs should set a lower limit.
pub const DEFAULT_MAX_STEPS: u64 = 1 << 30;

/// Run configuration.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// A run that has retired this many steps without exiting traps with `StepLimitExceeded`.
    pub max_steps: u64,
    /// Co-processors the program may use; custom opcodes not claimed by one are illegal.
    pub coprocessors: Coprocessors,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig { max_steps: DEFAULT_MAX_STEPS, coprocessors: Coprocessors::default() }
    }
}

/// Outcome of a run that exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// a0 at `exit`/`exit_group` (all 32 bits; Linux would report only the low 8).
    pub exit_code: u32,
    /// Bytes written to fd 1: the public output.
    pub output: Vec<u8>,
    /// Bytes written to fd 2: the log (not part of any proof statement).
    pub log: Vec<u8>,
    /// Retired instructions, including the exiting ECALL.
    pub steps: u64,
}

/// A program bound to one input, ready to run (any number of times, in either mode).
#[derive(Debug, Clone)]
pub struct Vm<'a> {
    program: &'a Program,
    input: &'a [u8],
    config: VmConfig,
    code: Code,
}

impl<'a> Vm<'a> {
    /// Pre-decodes the program's text with the configured co-processors.
    pub fn new(program: &'a Program, input: &'a [u8], config: VmConfig) -> Result<Vm<'a>, VmError> {
        if input.len() > MAX_INPUT_BYTES {
            return Err(VmError::InputTooLarge { size_bytes: input.len(), max_bytes: MAX_INPUT_BYTES });
        }
        let code = Code::new(program, &config.coprocessors);
        Ok(Vm { program, input, config, code })
    }

    /// The architectural state before the first step: pc = entry, sp = [`INITIAL_SP`], all other
    /// registers zero.
    pub fn initial_state(&self) -> MachineState {
        let mut regs = [0u32; 32];
        regs[2] = INITIAL_SP;
        MachineState { pc: self.program.entry(), regs, io: Default::default(), exit_code: None }
    }

    /// Runs without recording a trace.
    pub fn run_fast(&self) -> Result<RunResult, VmError> {
        let init = self.initial_state();
        let mut cpu = Cpu::new(init.pc, &init.regs);
        let mut mem = Memory::new(self.program);
        let mut io = Io::new(self.input);
        let exit_code = run(
            &mut cpu,
            &self.code,
            &mut mem,
            &mut io,
            &self.config.coprocessors,
            &mut NoTrace,
            self.config.max_steps,
        )?;
        Ok(RunResult { exit_code, output: io.output, log: io.log, steps: cpu.steps })
    }

    /// Runs and records every step.
    pub fn run_traced(&self) -> Result<(RunResult, Trace), VmError> {
        let init = self.initial_state();
        let mut cpu = Cpu::new(init.pc, &init.regs);
        let mut mem = Memory::new(self.program);
        let mut io = Io::new(self.input);
        let mut rec = Recorder::new();
        let exit_code =
            run(&mut cpu, &self.code, &mut mem, &mut io, &self.config.coprocessors, &mut rec, self.config.max_steps)?;
        let trace = Trace {
            initial: init,
            steps: rec.steps,
            mem: rec.mem,
            io_marks: rec.io_marks,
            exit_code: Some(exit_code),
            mem_base: 0,
        };
        let result = RunResult { exit_code, output: io.output, log: io.log, steps: cpu.steps };
        Ok((result, trace))
    }

    /// Runs and streams the trace as segments of `k` steps (the last may be shorter): `on_segment`
    /// is called with each segment as soon as it is complete, in order, and the segments are
    /// identical to `run_traced()` followed by `trace.segments(k)`. Memory use is O(k) instead of
    /// O(steps). If the run traps, the segments already delivered stay delivered and the error is
    /// returned; the partial last segment is dropped.
    pub fn run_segmented(&self, k: usize, on_segment: impl FnMut(&Segment<'_>)) -> Result<RunResult, VmError> {
        let init = self.initial_state();
        let mut cpu = Cpu::new(init.pc, &init.regs);
        let mut mem = Memory::new(self.program);
        let mut io = Io::new(self.input);
        let mut seg = Segmenter::new(k, init, on_segment);
        let exit_code =
            run(&mut cpu, &self.code, &mut mem, &mut io, &self.config.coprocessors, &mut seg, self.config.max_steps)?;
        seg.flush(Some(exit_code));
        Ok(RunResult { exit_code, output: io.output, log: io.log, steps: cpu.steps })
    }

    pub fn program(&self) -> &Program {
        self.program
    }
    pub fn config(&self) -> &VmConfig {
        &self.config
    }
    pub(crate) fn code(&self) -> &Code {
        &self.code
    }
    pub fn input(&self) -> &[u8] {
        self.input
    }
}
