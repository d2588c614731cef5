//! Typed errors of the NVM.
//!
//! Three families, because callers handle them differently:
//! - [`ElfError`]: the program file was rejected before anything ran (a deploy-time error),
//! - [`Trap`]: the guest did something the NVM does not allow; the run ends at that instruction
//!   (a property of the program and its input, reproducible by anyone),
//! - [`VmError`]: everything a run can end with other than a clean exit, including host-side limits.

use thiserror::Error;

/// Why an ELF file was rejected by [`crate::Program::from_elf`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ElfError {
    #[error("ELF file is {size_bytes} bytes, more than the limit of {max_bytes} bytes")]
    TooLarge { size_bytes: usize, max_bytes: usize },
    #[error("not an ELF file (bad magic number)")]
    NotElf,
    #[error("truncated ELF file: {what}")]
    Truncated { what: &'static str },
    #[error("wrong ELF class {found}: the NVM runs 32-bit ELF files (ELFCLASS32 = 1)")]
    WrongClass { found: u8 },
    #[error("wrong ELF data encoding {found}: the NVM runs little-endian files (ELFDATA2LSB = 1)")]
    WrongEndianness { found: u8 },
    #[error("wrong machine {found}: the NVM runs RISC-V files (EM_RISCV = 243)")]
    WrongMachine { found: u16 },
    #[error("ELF type {found} is not an executable: the NVM runs static ET_EXEC files (type 2)")]
    NotExecutable { found: u16 },
    #[error("ELF flags {flags:#x} ask for the compressed (C) extension, which the NVM does not implement")]
    CompressedInstructions { flags: u32 },
    #[error("dynamically linked executables are not supported (found program header type {p_type:#x})")]
    NotStatic { p_type: u32 },
    #[error("malformed ELF file: {0}")]
    Malformed(String),
    #[error("the ELF file has no loadable segment")]
    NoSegments,
    #[error("the ELF file has no executable segment")]
    NoExecutableSegment,
    #[error("segment at {vaddr:#x} has file size {filesz} larger than its memory size {memsz}")]
    FileSizeExceedsMemSize { vaddr: u64, filesz: u64, memsz: u64 },
    #[error("segment [{vaddr:#x}, {vaddr:#x} + {memsz:#x}) is outside the program area [{min:#x}, {max:#x})")]
    SegmentOutOfRange { vaddr: u64, memsz: u64, min: u32, max: u32 },
    #[error("segments at {first:#x} and {second:#x} overlap")]
    OverlappingSegments { first: u32, second: u32 },
    #[error("segments at {first:#x} and {second:#x} share a 4 KiB page but have different permissions")]
    SegmentsSharePage { first: u32, second: u32 },
    #[error("segment at {vaddr:#x} is both writable and executable (self-modifying code is not supported)")]
    WritableExecutableSegment { vaddr: u32 },
    #[error("loaded image spans {span_bytes} bytes, more than the limit of {max_bytes} bytes")]
    ImageTooLarge { span_bytes: u64, max_bytes: u64 },
    #[error("executable segments span {text_bytes} bytes, more than the limit of {max_bytes} bytes")]
    TextTooLarge { text_bytes: u64, max_bytes: u64 },
    #[error("entry point {entry:#x} is not a 4-byte aligned address inside an executable segment")]
    EntryNotExecutable { entry: u64 },
}

/// What went wrong at a trapping instruction. The pc is in [`Trap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TrapKind {
    #[error("illegal instruction {insn:#010x}")]
    IllegalInstruction { insn: u32 },
    #[error("instruction fetch from {addr:#x}, which is not in an executable segment")]
    FetchFault { addr: u32 },
    #[error("jump or branch to misaligned address {addr:#x}")]
    MisalignedFetch { addr: u32 },
    #[error("misaligned load from {addr:#x}")]
    MisalignedLoad { addr: u32 },
    #[error("misaligned store to {addr:#x}")]
    MisalignedStore { addr: u32 },
    #[error("load from unmapped address {addr:#x}")]
    LoadFault { addr: u32 },
    #[error("store to {addr:#x}, which is unmapped, read-only or executable")]
    StoreFault { addr: u32 },
    #[error("EBREAK")]
    Breakpoint,
    #[error("unknown system call {number}")]
    UnknownSyscall { number: u32 },
    #[error("system call {number} on unsupported file descriptor {fd}")]
    BadFileDescriptor { number: u32, fd: u32 },
    #[error("public output would exceed {max_bytes} bytes")]
    OutputLimitExceeded { max_bytes: usize },
    #[error("log would exceed {max_bytes} bytes")]
    LogLimitExceeded { max_bytes: usize },
    #[error("step limit of {max_steps} steps reached before the program exited")]
    StepLimitExceeded { max_steps: u64 },
}

/// A guest fault: the instruction at `pc` could not complete. `steps` instructions retired before it
/// (the trapping instruction is not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("trap at pc {pc:#010x} after {steps} steps: {kind}")]
pub struct Trap {
    pub pc: u32,
    pub steps: u64,
    pub kind: TrapKind,
}

/// Every way a run can fail.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VmError {
    #[error(transparent)]
    Trap(#[from] Trap),
    #[error("input is {size_bytes} bytes, more than the limit of {max_bytes} bytes")]
    InputTooLarge { size_bytes: usize, max_bytes: usize },
}

/// Why [`crate::replay_segment`] rejected a segment.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplayError {
    #[error("step {step} of the segment: {what} differs from the recorded trace")]
    Mismatch { step: usize, what: &'static str },
    #[error("step {step} of the segment accessed word {addr:#x}, which is not in the segment's memory witness")]
    MissingMemory { step: usize, addr: u32 },
    #[error("replay trapped: {0}")]
    Trap(Trap),
    #[error("segment end state differs from the replayed state: {what}")]
    EndStateMismatch { what: &'static str },
    #[error("segment is malformed: {what}")]
    Malformed { what: &'static str },
}
