//! RV32IM decoder.
//!
//! The text segment is decoded once per run into an array of [`Insn`] so the hot loop never looks
//! at instruction bits again. Decoding is strict: every fixed field (funct3, funct7, the high bits
//! of shift immediates, JALR's funct3, the ECALL/EBREAK encodings) must hold its canonical value,
//! otherwise the word decodes to [`Op::Illegal`] and traps when (and only when) it is executed.
//! Strictness matters for the prover: a non-canonical encoding accepted by the interpreter would
//! have to be accepted by the circuit too (PROVER-PITFALLS.md #15).

use crate::coprocessor::Coprocessors;

/// The sink register index: writes to x0 are redirected here at decode time so the hot loop never
/// needs a "rd != 0" test, while x0 (index 0) is never written and always reads 0.
pub(crate) const SINK_REG: u8 = 32;

/// Operation of a decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Op {
    Lui,
    Auipc,
    Jal,
    Jalr,
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    Lb,
    Lh,
    Lw,
    Lbu,
    Lhu,
    Sb,
    Sh,
    Sw,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Fence,
    Ecall,
    Ebreak,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    /// A co-processor instruction; `imm` holds the co-processor's slot in [`Coprocessors`].
    Custom,
    /// Not a valid instruction: traps with the raw word.
    Illegal,
    /// A word outside every executable segment (gap between segments): traps as a fetch fault.
    NotExecutable,
}

/// A pre-decoded instruction: 8 bytes so the decoded text stays cache-friendly.
///
/// `imm` is pre-processed per op: for LUI and AUIPC it is the final value written to rd (AUIPC adds
/// the pc at decode time), for JAL and branches it is the absolute target address, for everything
/// else it is the sign-extended immediate (shift amount for shift-immediates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub op: Op,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub imm: u32,
}

impl Insn {
    const fn new(op: Op, rd: u8, rs1: u8, rs2: u8, imm: u32) -> Self {
        Insn { op, rd, rs1, rs2, imm }
    }

    pub(crate) const ILLEGAL: Insn = Insn::new(Op::Illegal, 0, 0, 0, 0);
    pub(crate) const NOT_EXECUTABLE: Insn = Insn::new(Op::NotExecutable, 0, 0, 0, 0);
}

/// Architectural register fields of an instruction word (also used by the trace to name registers).
pub(crate) fn rd_of(word: u32) -> u8 {
    ((word >> 7) & 31) as u8
}
pub(crate) fn rs1_of(word: u32) -> u8 {
    ((word >> 15) & 31) as u8
}
pub(crate) fn rs2_of(word: u32) -> u8 {
    ((word >> 20) & 31) as u8
}
fn funct3(word: u32) -> u32 {
    (word >> 12) & 7
}
fn funct7(word: u32) -> u32 {
    word >> 25
}

fn imm_i(word: u32) -> u32 {
    ((word as i32) >> 20) as u32
}
fn imm_s(word: u32) -> u32 {
    ((((word as i32) >> 25) << 5) as u32) | ((word >> 7) & 0x1f)
}
fn imm_b(word: u32) -> u32 {
    let sign = (((word as i32) >> 31) as u32) << 12;
    let b11 = ((word >> 7) & 1) << 11;
    let b10_5 = ((word >> 25) & 0x3f) << 5;
    let b4_1 = ((word >> 8) & 0xf) << 1;
    sign | b11 | b10_5 | b4_1
}
fn imm_u(word: u32) -> u32 {
    word & 0xffff_f000
}
fn imm_j(word: u32) -> u32 {
    let sign = (((word as i32) >> 31) as u32) << 20;
    let b19_12 = word & 0x000f_f000;
    let b11 = ((word >> 20) & 1) << 11;
    let b10_1 = ((word >> 21) & 0x3ff) << 1;
    sign | b19_12 | b11 | b10_1
}

/// Opcodes of the RISC-V custom-0 and custom-1 spaces, reserved for co-processors.
pub const OPCODE_CUSTOM_0: u32 = 0b000_1011;
pub const OPCODE_CUSTOM_1: u32 = 0b010_1011;

/// Decodes one instruction word located at `pc`.
pub(crate) fn decode(word: u32, pc: u32, coprocessors: &Coprocessors) -> Insn {
    let rd_arch = rd_of(word);
    let rd = if rd_arch == 0 { SINK_REG } else { rd_arch };
    let rs1 = rs1_of(word);
    let rs2 = rs2_of(word);
    let f3 = funct3(word);
    let f7 = funct7(word);
    let r = |op| Insn::new(op, rd, rs1, rs2, 0);
    let i = |op| Insn::new(op, rd, rs1, 0, imm_i(word));
    match word & 0x7f {
        0b011_0111 => Insn::new(Op::Lui, rd, 0, 0, imm_u(word)),
        0b001_0111 => Insn::new(Op::Auipc, rd, 0, 0, pc.wrapping_add(imm_u(word))),
        0b110_1111 => Insn::new(Op::Jal, rd, 0, 0, pc.wrapping_add(imm_j(word))),
        0b110_0111 if f3 == 0 => i(Op::Jalr),
        0b110_0011 => {
            let op = match f3 {
                0 => Op::Beq,
                1 => Op::Bne,
                4 => Op::Blt,
                5 => Op::Bge,
                6 => Op::Bltu,
                7 => Op::Bgeu,
                _ => return Insn::ILLEGAL,
            };
            Insn::new(op, 0, rs1, rs2, pc.wrapping_add(imm_b(word)))
        }
        0b000_0011 => {
            let op = match f3 {
                0 => Op::Lb,
                1 => Op::Lh,
                2 => Op::Lw,
                4 => Op::Lbu,
                5 => Op::Lhu,
                _ => return Insn::ILLEGAL,
            };
            i(op)
        }
        0b010_0011 => {
            let op = match f3 {
                0 => Op::Sb,
                1 => Op::Sh,
                2 => Op::Sw,
                _ => return Insn::ILLEGAL,
            };
            Insn::new(op, 0, rs1, rs2, imm_s(word))
        }
        0b001_0011 => match f3 {
            0 => i(Op::Addi),
            2 => i(Op::Slti),
            3 => i(Op::Sltiu),
            4 => i(Op::Xori),
            6 => i(Op::Ori),
            7 => i(Op::Andi),
            1 if f7 == 0 => Insn::new(Op::Slli, rd, rs1, 0, rs2 as u32),
            5 if f7 == 0 => Insn::new(Op::Srli, rd, rs1, 0, rs2 as u32),
            5 if f7 == 0b010_0000 => Insn::new(Op::Srai, rd, rs1, 0, rs2 as u32),
            _ => Insn::ILLEGAL,
        },
        0b011_0011 => {
            let op = match (f7, f3) {
                (0, 0) => Op::Add,
                (0b010_0000, 0) => Op::Sub,
                (0, 1) => Op::Sll,
                (0, 2) => Op::Slt,
                (0, 3) => Op::Sltu,
                (0, 4) => Op::Xor,
                (0, 5) => Op::Srl,
                (0b010_0000, 5) => Op::Sra,
                (0, 6) => Op::Or,
                (0, 7) => Op::And,
                (1, 0) => Op::Mul,
                (1, 1) => Op::Mulh,
                (1, 2) => Op::Mulhsu,
                (1, 3) => Op::Mulhu,
                (1, 4) => Op::Div,
                (1, 5) => Op::Divu,
                (1, 6) => Op::Rem,
                (1, 7) => Op::Remu,
                _ => return Insn::ILLEGAL,
            };
            r(op)
        }
        // FENCE (funct3 0) is a no-op on a single hart without caches; FENCE.I (funct3 1) is not part
        // of RV32IM (it belongs to Zifencei) and the NVM has no self-modifying code to fence.
        0b000_1111 if f3 == 0 => Insn::new(Op::Fence, SINK_REG, 0, 0, 0),
        0b111_0011 => match word {
            0x0000_0073 => Insn::new(Op::Ecall, SINK_REG, 0, 0, 0),
            0x0010_0073 => Insn::new(Op::Ebreak, SINK_REG, 0, 0, 0),
            _ => Insn::ILLEGAL,
        },
        OPCODE_CUSTOM_0 | OPCODE_CUSTOM_1 => match coprocessors.claim(word) {
            Some(slot) => Insn::new(Op::Custom, rd, rs1, rs2, slot as u32),
            None => Insn::ILLEGAL,
        },
        _ => Insn::ILLEGAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediates_sign_extend() {
        // addi x1, x0, -1
        let w = 0xfff0_0093;
        assert_eq!(decode(w, 0, &Coprocessors::none()), Insn::new(Op::Addi, 1, 0, 0, u32::MAX));
        // jal x0, -4 at pc 0x100
        let w = 0xffdf_f06f;
        let d = decode(w, 0x100, &Coprocessors::none());
        assert_eq!((d.op, d.rd, d.imm), (Op::Jal, SINK_REG, 0xfc));
        // beq x0, x0, -2048*2 (most negative branch offset)
        let w = 0x8000_0063;
        let d = decode(w, 0x2000, &Coprocessors::none());
        assert_eq!((d.op, d.imm), (Op::Beq, 0x2000 - 4096));
    }

    #[test]
    fn non_canonical_encodings_are_illegal() {
        let none = Coprocessors::none();
        // slli with funct7 = 1 (would be a 64-bit shamt bit on RV64)
        assert_eq!(decode(0x0201_1093, 0, &none).op, Op::Illegal);
        // jalr with funct3 = 1
        assert_eq!(decode(0x0000_1067, 0, &none).op, Op::Illegal);
        // add with funct7 = 2
        assert_eq!(decode(0x0400_00b3, 0, &none).op, Op::Illegal);
        // ecall with a nonzero rd
        assert_eq!(decode(0x0000_00f3, 0, &none).op, Op::Illegal);
        // the all-zero word and all-ones word
        assert_eq!(decode(0, 0, &none).op, Op::Illegal);
        assert_eq!(decode(u32::MAX, 0, &none).op, Op::Illegal);
        // custom-0 without registered co-processors
        assert_eq!(decode(0x0005_000b, 0, &none).op, Op::Illegal);
    }
}
