//! The Nexus Virtual Machine (NVM): an RV32IM interpreter with an ELF loader, execution traces for
//! the prover, and co-processors (custom instructions). The normative description is `NVM-SPEC.md`
//! next to this crate's `Cargo.toml`.
//!
//! ```ignore
//! let program = Program::from_elf(&elf_bytes)?;
//! let vm = Vm::new(&program, b"input", VmConfig::default())?;
//! let result = vm.run_fast()?;                 // exit code, output, log, steps
//! let (result, trace) = vm.run_traced()?;      // plus the per-step trace
//! for segment in trace.segments(1 << 16) { replay_segment(&vm, &segment)?; }
//! vm.run_segmented(1 << 16, |segment| prove(segment))?; // streamed, O(k) memory
//! ```

pub mod coprocessor;
mod decode;
mod elf_loader;
mod error;
mod execute;
mod memory;
mod program;
mod replay;
mod segmenter;
pub mod syscall;
mod trace;
mod vm;

pub use coprocessor::{Coprocessor, CoprocessorMemory, Coprocessors};
pub use decode::{OPCODE_CUSTOM_0, OPCODE_CUSTOM_1};
pub use elf_loader::{MAX_ELF_BYTES, MAX_IMAGE_SPAN_BYTES, MAX_TEXT_BYTES};
pub use error::{ElfError, ReplayError, Trap, TrapKind, VmError};
pub use memory::{INITIAL_SP, MIN_SEGMENT_ADDR, PAGE_BYTES, STACK_BOTTOM, STACK_BYTES, STACK_TOP};
pub use program::{DIGEST_DOMAIN, LoadSegment, Program, SEG_EXEC, SEG_READ, SEG_WRITE};
pub use replay::{ReplayOutcome, replay_segment};
pub use trace::{IoState, MachineState, MemAccess, NO_REG, RegWrite, Segment, Step, Trace, WordValues};
pub use vm::{DEFAULT_MAX_STEPS, RunResult, Vm, VmConfig};

/// Largest accepted call input, in bytes.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;
/// Largest public output a run may write to fd 1, in bytes; a larger write traps.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;
/// Largest log a run may write to fd 2, in bytes; a larger write traps.
pub const MAX_LOG_BYTES: usize = 1024 * 1024;
