//! Co-processors: custom instructions in the RISC-V custom-0 / custom-1 opcode spaces.
//!
//! A co-processor is registered through the single [`Coprocessor`] trait. The decoder asks the
//! registered set whether a custom-opcode word is claimed, once per word when the text segment is
//! pre-decoded; a claimed word becomes an `Op::Custom` carrying the co-processor's slot. Programs
//! that never use a co-processor therefore pay nothing at run time: non-custom opcodes never reach
//! this module, and there is no per-step hook.
//!
//! Execution follows R-type conventions so the trace record of a co-processor step is the generic
//! [`crate::Step`]: the VM reads rs1 and rs2 (recorded), the co-processor performs word accesses through
//! [`CoprocessorMemory`] (each recorded, in order, as a [`crate::MemAccess`]), and the optional
//! returned value is written to rd (recorded). The circuit for a co-processor consumes exactly
//! that record.

mod keccak;
mod sha256;

use std::fmt;
use std::sync::Arc;

use crate::TrapKind;

pub use keccak::{
    KECCAK_F1600_FUNCT3, KECCAK_F1600_FUNCT7, KeccakF1600, ROTATIONS as KECCAK_ROTATIONS,
    ROUND_CONSTANTS as KECCAK_ROUND_CONSTANTS, keccak_f1600,
};
pub use sha256::{K as SHA256_K, SHA256_COMPRESS_FUNCT3, SHA256_COMPRESS_FUNCT7, Sha256Compress, sha256_compress};

/// Word-granular memory access for co-processors. Addresses must be 4-byte aligned (otherwise the
/// access traps as misaligned); permissions are the same as for ordinary loads and stores.
pub trait CoprocessorMemory {
    fn load_word(&mut self, addr: u32) -> Result<u32, TrapKind>;
    fn store_word(&mut self, addr: u32, value: u32) -> Result<(), TrapKind>;
}

/// A custom instruction with its executor. Its circuit is attached by the prover, keyed by [`name`].
///
/// [`name`]: Coprocessor::name
pub trait Coprocessor: Send + Sync + fmt::Debug {
    /// Stable identifier, e.g. `"keccak-f1600"`.
    fn name(&self) -> &'static str;
    /// Whether this co-processor implements the instruction word `insn`. Called at decode time only,
    /// for words whose opcode is custom-0 or custom-1. Claims must be exact (every fixed field
    /// checked) so that a word means one thing.
    fn claims(&self, insn: u32) -> bool;
    /// Executes `insn` given the values of rs1 and rs2. Returns the value to write to rd, if any.
    fn execute(
        &self,
        insn: u32,
        rs1: u32,
        rs2: u32,
        memory: &mut dyn CoprocessorMemory,
    ) -> Result<Option<u32>, TrapKind>;
}

/// The set of co-processors available to a run. The first co-processor claiming a word wins.
#[derive(Clone, Debug)]
pub struct Coprocessors {
    list: Vec<Arc<dyn Coprocessor>>,
}

impl Default for Coprocessors {
    /// The shipped co-processors: Keccak-f\[1600\] and SHA-256 compression.
    fn default() -> Self {
        Coprocessors::none().with(Arc::new(KeccakF1600)).with(Arc::new(Sha256Compress))
    }
}

impl Coprocessors {
    /// No co-processors: every custom opcode is an illegal instruction.
    pub fn none() -> Self {
        Coprocessors { list: Vec::new() }
    }

    /// Adds a co-processor (after the existing ones, so existing claims take precedence).
    pub fn with(mut self, coprocessor: Arc<dyn Coprocessor>) -> Self {
        self.list.push(coprocessor);
        self
    }

    /// Names of the registered co-processors, in slot order.
    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|c| c.name()).collect()
    }

    pub(crate) fn claim(&self, insn: u32) -> Option<usize> {
        self.list.iter().position(|c| c.claims(insn))
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&dyn Coprocessor> {
        self.list.get(slot as usize).map(|c| c.as_ref())
    }
}

/// Encodes an R-type custom-0 instruction `funct7 | rs2 | rs1 | funct3 | rd | 0001011`, the same word
/// `.insn r 0x0B, funct3, funct7, rd, rs1, rs2` assembles to.
pub const fn encode_custom0(funct3: u32, funct7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | crate::decode::OPCODE_CUSTOM_0
}

/// True if `insn` is exactly `.insn r 0x0B, funct3, funct7, x0, rs1, rs2` for some rs1, and rs2 = 0
/// unless `uses_rs2`.
fn matches_r_type(insn: u32, funct3: u32, funct7: u32, uses_rs2: bool) -> bool {
    let mask_rs2 = if uses_rs2 { 0 } else { 0x1f << 20 };
    // Fixed fields: opcode, rd (must be x0), funct3, funct7, and rs2 when unused.
    let fixed = 0x7f | (0x1f << 7) | (0x7 << 12) | (0x7f << 25) | mask_rs2;
    insn & fixed == encode_custom0(funct3, funct7, 0, 0, 0)
}

/// Checks word alignment of a co-processor memory operand.
fn check_aligned(addr: u32) -> Result<(), TrapKind> {
    if addr.is_multiple_of(4) { Ok(()) } else { Err(TrapKind::MisalignedLoad { addr }) }
}
