//! One RV32I step in circuit over the architectural state `(pc, x1..x31)`: fetch is given (the word
//! comes from the memory argument), decode ([`crate::decode`]), register reads, the ALU, the register
//! write and the next pc.
//!
//! Invariants: every register and the pc hold values below `2^32`, and the pc is 4-byte aligned —
//! initially (the verifier's initial state) and after every step, because every value written is
//! either built from 32 constrained bits or selected (exactly one selector) among such values, and
//! every next pc is `pc + 4` or a target whose bits 0 and 1 are zero.
//!
//! The ALU shares its pieces across instructions: one 33-bit adder (add, subtract, compare: `a − b`
//! as `a + 2^32 − b`, whose bit 32 is `a ≥ b`), 32 products for AND (XOR and OR are then linear),
//! and one 32×32 → 64-bit multiplier for the shifts (`a·2^s` gives SLL in its low word,
//! `a·2^(32−s)` gives SRL in its high word; SRA adds the sign fill). PROVER-PITFALLS B.19 (x0), B.23
//! (next pc, JALR bit 0, aligned targets) are enforced here.

use ark_bn254::Fr;
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::bits::{Word, decompose, from_bits, pow2, value_u64};
use crate::decode::{BRANCHES, DecodedVar, Op, REGISTER_ALU};

/// Number of registers held in the state (x1..x31; x0 is the constant 0).
pub const NUM_REGS: usize = 31;

/// The architectural state in circuit.
#[derive(Clone, Debug)]
pub struct CpuVar {
    /// Program counter.
    pub pc: FpVar<Fr>,
    /// x1..x31.
    pub regs: Vec<FpVar<Fr>>,
}

fn zero() -> FpVar<Fr> {
    FpVar::Constant(Fr::from(0u64))
}

fn one() -> FpVar<Fr> {
    FpVar::Constant(Fr::from(1u64))
}

/// One-hot selector of the register named by 5 index bits: 32 booleans (entry 0 is x0), summing to
/// one, whose weighted sum is the index.
fn one_hot(cs: &ConstraintSystemRef<Fr>, index_bits: &[Boolean<Fr>]) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let index = from_bits(index_bits);
    let value = if cs.is_in_setup_mode() { 0 } else { value_u64(&index).unwrap_or(0) };
    let sel = (0..32u64).map(|j| Boolean::new_witness(cs.clone(), || Ok(j == value))).collect::<Result<Vec<_>, _>>()?;
    let sum = sel.iter().fold(zero(), |acc, b| acc + FpVar::from(b.clone()));
    sum.enforce_equal(&one())?;
    let weighted = sel.iter().enumerate().fold(zero(), |acc, (j, b)| acc + FpVar::from(b.clone()) * Fr::from(j as u64));
    weighted.enforce_equal(&index)?;
    Ok(sel)
}

/// The value of the register named by `index_bits` (x0 reads 0: its selector multiplies nothing).
fn read_reg(
    cs: &ConstraintSystemRef<Fr>,
    regs: &[FpVar<Fr>],
    index_bits: &[Boolean<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let sel = one_hot(cs, index_bits)?;
    let mut acc = zero();
    for (s, r) in sel[1..].iter().zip(regs) {
        acc += FpVar::from(s.clone()) * r;
    }
    Ok(acc)
}

/// `bits → value` where a bit string is selected between two sources by `cond`: used for the
/// ALU's second operand.
fn select(cond: &FpVar<Fr>, a: &FpVar<Fr>, b: &FpVar<Fr>) -> FpVar<Fr> {
    // cond·a + (1 − cond)·b with cond a 0/1 linear combination: one product.
    b + cond * (a - b)
}

/// What one step did, for tests and the memory slots that come next.
pub struct StepOut {
    /// The state after the step.
    pub next: CpuVar,
    /// The value written to rd (0 when nothing is written).
    pub rd_value: FpVar<Fr>,
}

/// Constrain one step from `cur`, executing the instruction `word_var` (whose value is `word`).
pub fn step(
    cs: &ConstraintSystemRef<Fr>,
    cur: &CpuVar,
    word_var: &FpVar<Fr>,
    word: u32,
) -> Result<StepOut, SynthesisError> {
    step_decoded(cs, cur, DecodedVar::new(cs, word_var, word)?)
}

/// [`step`] on an already decoded instruction.
pub fn step_decoded(cs: &ConstraintSystemRef<Fr>, cur: &CpuVar, d: DecodedVar) -> Result<StepOut, SynthesisError> {
    if cur.regs.len() != NUM_REGS {
        return Err(SynthesisError::Unsatisfiable);
    }
    let is = |op: Op| FpVar::from(d.is(op));

    // Operands. `a` = rs1; `b` = rs2 for register ops and branches, the I immediate otherwise.
    let a = Word::from_var(cs, &read_reg(cs, &cur.regs, d.rs1())?)?;
    let rs2 = read_reg(cs, &cur.regs, d.rs2())?;
    let uses_rs2 = d.any(&REGISTER_ALU) + d.any(&BRANCHES);
    let b = Word::from_var(cs, &select(&uses_rs2, &rs2, &d.imm_i()))?;

    // The adder: a + b, or a + 2^32 − b for subtraction and comparisons.
    let subtracts = d.any(&[Op::Sub, Op::Slt, Op::Sltu, Op::Slti, Op::Sltiu]) + d.any(&BRANCHES);
    let adder_in = &a.value + &b.value + &subtracts * (FpVar::Constant(pow2(32)) - &b.value * Fr::from(2u64));
    let adder_bits = decompose(cs, &adder_in, 33)?;
    let sum = from_bits(&adder_bits[..32]);
    // In subtract mode bit 32 is `a ≥ b` (unsigned).
    let ltu = one() - FpVar::from(adder_bits[32].clone());
    let (a31, b31) = (FpVar::from(a.msb().clone()), FpVar::from(b.msb().clone()));
    let a31b31 = &a31 * &b31;
    let same_sign = one() - &a31 - &b31 + &a31b31 * Fr::from(2u64);
    let lt = &ltu * &same_sign + &a31 - &a31b31;
    let eq = sum.is_zero()?;

    // Logic.
    let and_bits: Vec<FpVar<Fr>> =
        a.bits.iter().zip(&b.bits).map(|(x, y)| FpVar::from(x.clone()) * FpVar::from(y.clone())).collect();
    let (mut and_v, mut xor_v, mut or_v) = (zero(), zero(), zero());
    for (i, ((x, y), xy)) in a.bits.iter().zip(&b.bits).zip(&and_bits).enumerate() {
        let (x, y, w) = (FpVar::from(x.clone()), FpVar::from(y.clone()), pow2(i as u32));
        and_v += xy * w;
        xor_v += (&x + &y - xy * Fr::from(2u64)) * w;
        or_v += (x + y - xy) * w;
    }

    // Shifts through one multiplier: 2^s and 2^(32−s) from the shift amount's five bits.
    let shamt = &b.bits[..5];
    let (mut pow, mut inv_pow) = (one(), FpVar::Constant(Fr::from(2u64)));
    for (k, s) in shamt.iter().enumerate() {
        let factor = pow2(1 << k) - Fr::from(1u64);
        let s = FpVar::from(s.clone());
        pow *= &s * factor + Fr::from(1u64);
        inv_pow *= (one() - &s) * factor + Fr::from(1u64);
    }
    let shifts_left = d.any(&[Op::Sll, Op::Slli]);
    let multiplier = select(&shifts_left, &pow, &inv_pow);
    let product = &a.value * &multiplier;
    let product_bits = decompose(cs, &product, 64)?;
    let (lo, hi) = (from_bits(&product_bits[..32]), from_bits(&product_bits[32..]));
    let sra = &hi + &a31 * (FpVar::Constant(pow2(32)) - &inv_pow);

    // Targets: pc + offset (JAL, branches, AUIPC) or rs1 + imm (JALR), mod 2^32.
    let is_jalr = is(Op::Jalr);
    let offset =
        is(Op::Jal) * d.imm_j() + d.any(&BRANCHES) * d.imm_b() + is(Op::Auipc) * d.imm_u() + &is_jalr * d.imm_i();
    let base = select(&is_jalr, &a.value, &cur.pc);
    let target_bits = decompose(cs, &(base + offset), 33)?;
    // JALR clears bit 0 of its target (B.23).
    let target = from_bits(&target_bits[..32]) - &is_jalr * FpVar::from(target_bits[0].clone());
    let pc_plus_4 = &cur.pc + Fr::from(4u64);

    // Branch decisions and the next pc.
    let taken_branch = is(Op::Beq) * FpVar::from(eq.clone())
        + is(Op::Bne) * (one() - FpVar::from(eq.clone()))
        + is(Op::Blt) * &lt
        + is(Op::Bge) * (one() - &lt)
        + is(Op::Bltu) * &ltu
        + is(Op::Bgeu) * (one() - &ltu);
    let jumps = is(Op::Jal) + &is_jalr + &taken_branch;
    let next_pc = select(&jumps, &target, &pc_plus_4);
    // A taken jump's target is 4-byte aligned (the NVM traps otherwise; a trapping run has no proof).
    // Bit 1 is checked; bit 0 is zero already: JALR clears it, and every other target is the pc
    // (4-byte aligned: the entry point is, and every next pc is by induction) plus an even offset.
    (&jumps * FpVar::from(target_bits[1].clone())).enforce_equal(&zero())?;

    // The value written to rd, selected by instruction group (exactly one selector is set).
    let rd_value = d.any(&[Op::Add, Op::Addi, Op::Sub]) * &sum
        + d.any(&[Op::Slt, Op::Slti]) * &lt
        + d.any(&[Op::Sltu, Op::Sltiu]) * &ltu
        + d.any(&[Op::And, Op::Andi]) * &and_v
        + d.any(&[Op::Xor, Op::Xori]) * &xor_v
        + d.any(&[Op::Or, Op::Ori]) * &or_v
        + d.any(&[Op::Sll, Op::Slli]) * &lo
        + d.any(&[Op::Srl, Op::Srli]) * &hi
        + d.any(&[Op::Sra, Op::Srai]) * &sra
        + is(Op::Lui) * d.imm_u()
        + is(Op::Auipc) * from_bits(&target_bits[..32])
        + d.any(&[Op::Jal, Op::Jalr]) * &pc_plus_4;

    // The write: rd's one-hot selector gated by "writes rd"; x0's selector updates nothing (B.19).
    let writes = one() - d.any(&BRANCHES) - is(Op::Fence);
    let rd_sel = one_hot(cs, d.rd())?;
    let mut regs = Vec::with_capacity(NUM_REGS);
    for (s, r) in rd_sel[1..].iter().zip(&cur.regs) {
        let w = FpVar::from(s.clone()) * &writes;
        regs.push(r + w * (&rd_value - r));
    }
    Ok(StepOut { next: CpuVar { pc: next_pc, regs }, rd_value })
}

/// Allocate a state as witnesses (tests and standalone synthesis).
pub fn alloc_state(cs: &ConstraintSystemRef<Fr>, pc: u32, regs: &[u32; 32]) -> Result<CpuVar, SynthesisError> {
    Ok(CpuVar {
        pc: FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(pc))))?,
        regs: regs[1..]
            .iter()
            .map(|v| FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(*v)))))
            .collect::<Result<_, _>>()?,
    })
}

/// The values of a state (prover side).
pub fn state_values(s: &CpuVar) -> Result<(u32, [u32; 32]), SynthesisError> {
    let to32 = |v: &FpVar<Fr>| value_u64(v).map(|x| x as u32);
    let mut regs = [0u32; 32];
    for (slot, r) in regs[1..].iter_mut().zip(&s.regs) {
        *slot = to32(r)?;
    }
    Ok((to32(&s.pc)?, regs))
}
