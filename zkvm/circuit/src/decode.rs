//! Instruction decoding in circuit: the instruction word's 32 bits, one selector per instruction, and
//! every fixed field checked against the selected instruction's encoding.
//!
//! Soundness (PROVER-PITFALLS B.13, B.15, B.20): the selectors are booleans summing to one, so exactly
//! one instruction is selected; the opcode, funct3 and funct7 fields (read from the word's bits) must
//! equal the selected instruction's constants wherever that instruction defines them (funct7 also for
//! the shift immediates, whose upper immediate bits it is; funct3 = 0 for JALR and FENCE), so a
//! non-canonical encoding selects nothing. Register indices are 5 bits of the word, so they are in
//! 0..=31 by construction. Immediates are linear combinations of the word's bits (free).

use ark_bn254::Fr;
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::bits::{Word, alloc_bits, from_bits, pow2};
use crate::coprocessor::Kind;

/// The instructions this circuit executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
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
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    Fence,
    Ecall,
    /// The Keccak-f\[1600\] co-processor (custom-0, funct3 0), see [`crate::coprocessor`].
    Keccak,
    /// The SHA-256 compression co-processor (custom-0, funct3 1).
    Sha256,
}

/// Every [`Op`], in selector order.
pub const OPS: [Op; 49] = [
    Op::Lui,
    Op::Auipc,
    Op::Jal,
    Op::Jalr,
    Op::Beq,
    Op::Bne,
    Op::Blt,
    Op::Bge,
    Op::Bltu,
    Op::Bgeu,
    Op::Lb,
    Op::Lh,
    Op::Lw,
    Op::Lbu,
    Op::Lhu,
    Op::Sb,
    Op::Sh,
    Op::Sw,
    Op::Addi,
    Op::Slti,
    Op::Sltiu,
    Op::Xori,
    Op::Ori,
    Op::Andi,
    Op::Slli,
    Op::Srli,
    Op::Srai,
    Op::Add,
    Op::Sub,
    Op::Sll,
    Op::Slt,
    Op::Sltu,
    Op::Xor,
    Op::Srl,
    Op::Sra,
    Op::Or,
    Op::And,
    Op::Mul,
    Op::Mulh,
    Op::Mulhsu,
    Op::Mulhu,
    Op::Div,
    Op::Divu,
    Op::Rem,
    Op::Remu,
    Op::Fence,
    Op::Ecall,
    Op::Keccak,
    Op::Sha256,
];

/// The conditional branches.
pub const BRANCHES: [Op; 6] = [Op::Beq, Op::Bne, Op::Blt, Op::Bge, Op::Bltu, Op::Bgeu];
/// The only encoding of ECALL.
pub const ECALL_WORD: u32 = 0x0000_0073;
/// `ADDI x0, x0, 0`: what a halted machine "executes" in the steps that fill its last invocation.
pub const NOP_WORD: u32 = 0x0000_0013;

/// The loads.
pub const LOADS: [Op; 5] = [Op::Lb, Op::Lh, Op::Lw, Op::Lbu, Op::Lhu];
/// The stores.
pub const STORES: [Op; 3] = [Op::Sb, Op::Sh, Op::Sw];
/// The register-register ALU instructions of RV32I (R-type, rs2 as second operand).
pub const REGISTER_ALU: [Op; 10] =
    [Op::Add, Op::Sub, Op::Sll, Op::Slt, Op::Sltu, Op::Xor, Op::Srl, Op::Sra, Op::Or, Op::And];
/// The M extension (R-type, rs2 as second operand).
pub const MULDIV: [Op; 8] = [Op::Mul, Op::Mulh, Op::Mulhsu, Op::Mulhu, Op::Div, Op::Divu, Op::Rem, Op::Remu];

impl Op {
    /// `(opcode, funct3, funct7)`: the fixed fields of the encoding (`None` where the instruction
    /// has no such field, i.e. it is immediate or ignored bits).
    pub const fn encoding(self) -> (u32, Option<u32>, Option<u32>) {
        use Op::*;
        match self {
            Lui => (0x37, None, None),
            Auipc => (0x17, None, None),
            Jal => (0x6f, None, None),
            Jalr => (0x67, Some(0), None),
            Beq => (0x63, Some(0), None),
            Bne => (0x63, Some(1), None),
            Blt => (0x63, Some(4), None),
            Bge => (0x63, Some(5), None),
            Bltu => (0x63, Some(6), None),
            Bgeu => (0x63, Some(7), None),
            Lb => (0x03, Some(0), None),
            Lh => (0x03, Some(1), None),
            Lw => (0x03, Some(2), None),
            Lbu => (0x03, Some(4), None),
            Lhu => (0x03, Some(5), None),
            Sb => (0x23, Some(0), None),
            Sh => (0x23, Some(1), None),
            Sw => (0x23, Some(2), None),
            Addi => (0x13, Some(0), None),
            Slti => (0x13, Some(2), None),
            Sltiu => (0x13, Some(3), None),
            Xori => (0x13, Some(4), None),
            Ori => (0x13, Some(6), None),
            Andi => (0x13, Some(7), None),
            Slli => (0x13, Some(1), Some(0)),
            Srli => (0x13, Some(5), Some(0)),
            Srai => (0x13, Some(5), Some(0x20)),
            Add => (0x33, Some(0), Some(0)),
            Sub => (0x33, Some(0), Some(0x20)),
            Sll => (0x33, Some(1), Some(0)),
            Slt => (0x33, Some(2), Some(0)),
            Sltu => (0x33, Some(3), Some(0)),
            Xor => (0x33, Some(4), Some(0)),
            Srl => (0x33, Some(5), Some(0)),
            Sra => (0x33, Some(5), Some(0x20)),
            Or => (0x33, Some(6), Some(0)),
            And => (0x33, Some(7), Some(0)),
            Mul => (0x33, Some(0), Some(1)),
            Mulh => (0x33, Some(1), Some(1)),
            Mulhsu => (0x33, Some(2), Some(1)),
            Mulhu => (0x33, Some(3), Some(1)),
            Div => (0x33, Some(4), Some(1)),
            Divu => (0x33, Some(5), Some(1)),
            Rem => (0x33, Some(6), Some(1)),
            Remu => (0x33, Some(7), Some(1)),
            Fence => (0x0f, Some(0), None),
            // The whole word is fixed (0x0000_0073); the remaining fields are checked apart.
            Ecall => (0x73, Some(0), Some(0)),
            // rd (and Keccak's rs2) must be x0 too; checked apart.
            Keccak => (0x0b, Some(0), Some(0)),
            Sha256 => (0x0b, Some(1), Some(0)),
        }
    }

    /// The instruction `word` encodes, if it is one of [`OPS`] in its canonical encoding.
    pub fn decode(word: u32) -> Option<Op> {
        let (opcode, f3, f7) = (word & 0x7f, (word >> 12) & 7, word >> 25);
        OPS.into_iter()
            .find(|op| {
                let (o, g3, g7) = op.encoding();
                o == opcode && g3.is_none_or(|g| g == f3) && g7.is_none_or(|g| g == f7)
            })
            .filter(|op| match op {
                Op::Ecall => word == ECALL_WORD,
                Op::Keccak => Kind::of_insn(word) == Some(Kind::Keccak),
                Op::Sha256 => Kind::of_insn(word) == Some(Kind::Sha256),
                _ => true,
            })
    }

    fn index(self) -> usize {
        OPS.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// A decoded instruction in circuit.
#[derive(Clone, Debug)]
pub struct DecodedVar {
    /// The word.
    pub word: Word,
    /// One selector per [`OPS`] entry.
    pub selectors: Vec<Boolean<Fr>>,
}

impl DecodedVar {
    /// Allocate the bits of `word` (constrained to recompose `word_var`) and the selectors for
    /// `op` (the prover's decoding; `None` selects nothing, which is unsatisfiable), and constrain
    /// the fixed fields.
    pub fn new(cs: &ConstraintSystemRef<Fr>, word_var: &FpVar<Fr>, word: u32) -> Result<Self, SynthesisError> {
        let op = Op::decode(word);
        Self::with_selectors(cs, word_var, word, &OPS.map(|o| op == Some(o)))
    }

    /// [`Self::new`] with the prover's selector values given (tests use it to select what the word
    /// does not encode).
    pub fn with_selectors(
        cs: &ConstraintSystemRef<Fr>,
        word_var: &FpVar<Fr>,
        word: u32,
        selected: &[bool; OPS.len()],
    ) -> Result<Self, SynthesisError> {
        let bits = alloc_bits(cs, u64::from(word), 32)?;
        from_bits(&bits).enforce_equal(word_var)?;
        let selectors =
            selected.iter().map(|v| Boolean::new_witness(cs.clone(), || Ok(*v))).collect::<Result<Vec<_>, _>>()?;
        let d = Self { word: Word { value: word_var.clone(), bits }, selectors };
        // Exactly one instruction (B.13).
        d.any(&OPS).enforce_equal(&FpVar::Constant(Fr::from(1u64)))?;
        // The opcode is the selected instruction's (linear: both sides are sums of booleans).
        let opcode = from_bits(&d.word.bits[0..7]);
        let expected = d.weighted(|op| Some(op.encoding().0));
        opcode.enforce_equal(&expected)?;
        // funct3 and funct7 wherever the selected instruction defines them (B.15).
        for (lo, hi, pick) in [
            (12usize, 15usize, (|op: Op| op.encoding().1) as fn(Op) -> Option<u32>),
            (25, 32, |op: Op| op.encoding().2),
        ] {
            let defines: Vec<Op> = OPS.iter().copied().filter(|o| pick(*o).is_some()).collect();
            let value = from_bits(&d.word.bits[lo..hi]);
            (d.any(&defines) * value).enforce_equal(&d.weighted(pick))?;
        }
        // ECALL is one word exactly (rd, rs1 and rs2 zero too); EBREAK and the rest select nothing.
        (FpVar::from(d.is(Op::Ecall)) * (&d.word.value - Fr::from(u64::from(ECALL_WORD))))
            .enforce_equal(&FpVar::Constant(Fr::from(0u64)))?;
        // A co-processor writes no register (rd = x0), and Keccak-f reads no rs2, as the NVM's
        // co-processors claim words.
        let zero = FpVar::Constant(Fr::from(0u64));
        (d.any(&[Op::Keccak, Op::Sha256]) * from_bits(d.rd())).enforce_equal(&zero)?;
        (FpVar::from(d.is(Op::Keccak)) * from_bits(d.rs2())).enforce_equal(&zero)?;
        Ok(d)
    }

    /// The selector of `op`.
    pub fn is(&self, op: Op) -> Boolean<Fr> {
        self.selectors[op.index()].clone()
    }

    /// `Σ selectors of ops` (a boolean value, since at most one selector is set).
    pub fn any(&self, ops: &[Op]) -> FpVar<Fr> {
        ops.iter().fold(FpVar::Constant(Fr::from(0u64)), |acc, op| acc + FpVar::from(self.is(*op)))
    }

    /// `Σ selector·c(op)` over the ops where `c` is defined.
    fn weighted(&self, c: impl Fn(Op) -> Option<u32>) -> FpVar<Fr> {
        OPS.iter().fold(FpVar::Constant(Fr::from(0u64)), |acc, op| match c(*op) {
            Some(v) => acc + FpVar::from(self.is(*op)) * Fr::from(u64::from(v)),
            None => acc,
        })
    }

    /// Bit `i` of the word as a field element.
    fn bit(&self, i: usize) -> FpVar<Fr> {
        FpVar::from(self.word.bits[i].clone())
    }

    /// `Σ 2^(k + shift)·bit[lo + k]` for `k` in `0..hi − lo`.
    fn field(&self, lo: usize, hi: usize, shift: u32) -> FpVar<Fr> {
        (lo..hi).fold(FpVar::Constant(Fr::from(0u64)), |acc, i| acc + self.bit(i) * pow2((i - lo) as u32 + shift))
    }

    /// The sign bit replicated from bit position `from` to 31, as a value.
    fn sign_fill(&self, from: u32) -> FpVar<Fr> {
        self.bit(31) * (pow2(32) - pow2(from))
    }

    /// Register index fields (5 bits each: 0..=31, B.20).
    pub fn rd(&self) -> &[Boolean<Fr>] {
        &self.word.bits[7..12]
    }
    /// rs1's index bits.
    pub fn rs1(&self) -> &[Boolean<Fr>] {
        &self.word.bits[15..20]
    }
    /// rs2's index bits.
    pub fn rs2(&self) -> &[Boolean<Fr>] {
        &self.word.bits[20..25]
    }

    /// I-type immediate, sign-extended, as a 32-bit value.
    pub fn imm_i(&self) -> FpVar<Fr> {
        self.field(20, 31, 0) + self.sign_fill(11)
    }
    /// The I-type immediate's bits (the word's bits 20..31, then the sign).
    pub fn imm_i_bits(&self) -> Vec<Boolean<Fr>> {
        let mut b: Vec<_> = self.word.bits[20..31].to_vec();
        b.extend(std::iter::repeat_n(self.word.bits[31].clone(), 21));
        b
    }
    /// S-type immediate, sign-extended.
    pub fn imm_s(&self) -> FpVar<Fr> {
        self.field(7, 12, 0) + self.field(25, 31, 5) + self.sign_fill(11)
    }
    /// B-type offset, sign-extended.
    pub fn imm_b(&self) -> FpVar<Fr> {
        self.field(8, 12, 1) + self.field(25, 31, 5) + self.bit(7) * pow2(11) + self.sign_fill(12)
    }
    /// U-type immediate (`word & 0xffff_f000`).
    pub fn imm_u(&self) -> FpVar<Fr> {
        self.field(12, 32, 12)
    }
    /// J-type offset, sign-extended.
    pub fn imm_j(&self) -> FpVar<Fr> {
        self.field(21, 31, 1) + self.bit(20) * pow2(11) + self.field(12, 20, 12) + self.sign_fill(20)
    }
}
