//! One RV32IM step in circuit over the architectural state `(pc, x1..x31)`: fetch is given (the word
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
//! `a·2^(32−s)` gives SRL in its high word; SRA adds the sign fill), for MUL* (the signed high
//! words subtract the other operand per negative operand, mod 2^32) and for division, checked on
//! magnitudes (`|n| = q'·|d| + r'` with `r' < |d|`, unique) with the signs applied after; division
//! by zero gives all ones and the dividend, `INT_MIN / −1` gives `INT_MIN` and 0 as the NVM does.
//! Loads and stores compute their address on the same adder as jump targets and act on the data
//! word of a [`MemSlot`] (byte lanes from the address's low bits, sign extension, the stored lane
//! replaced by rs2's low bits), which the memory argument checks against memory.
//! PROVER-PITFALLS B.16 (store widths), B.17 (load address, sign extension), B.18 (alignment),
//! B.19 (x0), B.21 (exact 64-bit product), B.22 (division), B.23 (next pc, JALR bit 0, aligned
//! targets) are enforced here.

use ark_bn254::Fr;
use ark_ff::Zero;
use ark_r1cs_std::GR1CSVar;
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::bits::{Word, decompose, from_bits, is_zero, pow2, value_u64};
use crate::decode::{BRANCHES, DecodedVar, LOADS, MULDIV, Op, REGISTER_ALU, STORES};

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
    materialize(cs, &acc)
}

/// A linear combination as one fresh variable (one constraint). Values that many constraints use,
/// or that pass from step to step, are materialized so that no constraint row grows with the
/// number of steps or of uses: the folding prover's work is proportional to the matrices' nonzeros.
fn materialize(cs: &ConstraintSystemRef<Fr>, lc: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let v = FpVar::new_witness(cs.clone(), || lc.value())?;
    v.enforce_equal(lc)?;
    Ok(v)
}

/// `cond ? a : b` (`cond` a 0/1 value) as a fresh variable in one constraint: `cond·(a − b) = out − b`.
pub fn select_var(
    cs: &ConstraintSystemRef<Fr>,
    cond: &FpVar<Fr>,
    a: &FpVar<Fr>,
    b: &FpVar<Fr>,
) -> Result<FpVar<Fr>, SynthesisError> {
    let out = FpVar::new_witness(cs.clone(), || Ok(if cond.value()?.is_zero() { b.value()? } else { a.value()? }))?;
    (cond * (a - b)).enforce_equal(&(&out - b))?;
    Ok(out)
}

/// `cond ? a : b` (`cond` a 0/1 linear combination) as `b + cond·(a − b)`: one product, the result
/// a linear combination. For values used within the step; [`select_var`] for those that outlive it.
fn select(cond: &FpVar<Fr>, a: &FpVar<Fr>, b: &FpVar<Fr>) -> FpVar<Fr> {
    b + cond * (a - b)
}

/// A memory access slot of a step, for the memory argument: the word at `addr` held `old` and
/// holds `new` after the step. Every field is zero when the slot is unused (`active = 0`).
#[derive(Clone, Debug)]
pub struct MemSlot {
    /// 1 if the step accesses memory through this slot.
    pub active: FpVar<Fr>,
    /// Word address (4-byte aligned).
    pub addr: FpVar<Fr>,
    /// The word before.
    pub old: FpVar<Fr>,
    /// The word after (`= old` for a read).
    pub new: FpVar<Fr>,
    /// 1 for a store (the word must be writable).
    pub write: FpVar<Fr>,
}

impl MemSlot {
    /// The fetch of `word` at `pc`, a read, made when `active` (a running machine) and zeros
    /// otherwise.
    pub fn fetch(active: &FpVar<Fr>, pc: &FpVar<Fr>, word: &FpVar<Fr>) -> Self {
        let word = active * word;
        Self { active: active.clone(), addr: active * pc, old: word.clone(), new: word, write: zero() }
    }
}

/// What one step did.
pub struct StepOut {
    /// The state after the step.
    pub next: CpuVar,
    /// The value written to rd (0 when nothing is written).
    pub rd_value: FpVar<Fr>,
    /// The data access (loads and stores).
    pub data: MemSlot,
    /// 1 if the step was the exiting ECALL (the only system call proven so far).
    pub exits: FpVar<Fr>,
    /// a0, the exit code if the step exits.
    pub a0: FpVar<Fr>,
}

/// Constrain one step from `cur`, executing the instruction `word_var` (whose value is `word`);
/// `data_old` is the prover's value of the data word a load or store accesses (0 otherwise), which
/// the memory argument checks through the returned slot.
pub fn step(
    cs: &ConstraintSystemRef<Fr>,
    cur: &CpuVar,
    word_var: &FpVar<Fr>,
    word: u32,
    data_old: u32,
) -> Result<StepOut, SynthesisError> {
    step_decoded(cs, cur, DecodedVar::new(cs, word_var, word)?, data_old)
}

/// [`step`] on an already decoded instruction.
pub fn step_decoded(
    cs: &ConstraintSystemRef<Fr>,
    cur: &CpuVar,
    d: DecodedVar,
    data_old: u32,
) -> Result<StepOut, SynthesisError> {
    if cur.regs.len() != NUM_REGS {
        return Err(SynthesisError::Unsatisfiable);
    }
    let is = |op: Op| FpVar::from(d.is(op));

    // Operands. `a` = rs1; `b` = rs2 for register ops and branches, the I immediate otherwise.
    let a = Word::from_var(cs, &read_reg(cs, &cur.regs, d.rs1())?)?;
    let rs2 = read_reg(cs, &cur.regs, d.rs2())?;
    let uses_rs2 = d.any(&REGISTER_ALU) + d.any(&MULDIV) + d.any(&BRANCHES) + d.any(&STORES);
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
    let eq = is_zero(cs, &sum)?;

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
    let shifts_right = d.any(&[Op::Srl, Op::Srli, Op::Sra, Op::Srai]);

    // Division on magnitudes: |n| = q'·|d| + r' with r' < |d| (unsigned Euclid), signs applied after.
    let divides = d.any(&[Op::Div, Op::Divu, Op::Rem, Op::Remu]);
    let signed_div = d.any(&[Op::Div, Op::Rem]);
    let d_zero = FpVar::from(is_zero(cs, &b.value)?);
    let n_neg = &signed_div * &a31;
    let d_neg = &signed_div * &b31;
    let magnitude =
        |w: &Word, neg: &FpVar<Fr>| &w.value + neg * (FpVar::Constant(pow2(32)) - &w.value * Fr::from(2u64));
    let (n_abs, d_abs) = (magnitude(&a, &n_neg), magnitude(&b, &d_neg));
    let (qv, rv) = if cs.is_in_setup_mode() || value_u64(&divides).unwrap_or(0) == 0 {
        (0, 0)
    } else {
        let (n, dv) = (value_u64(&n_abs).unwrap_or(0), value_u64(&d_abs).unwrap_or(0));
        n.checked_div(dv).map_or((0, n), |q| (q, n % dv))
    };
    let q = Word::from_var(cs, &FpVar::new_witness(cs.clone(), || Ok(Fr::from(qv)))?)?;
    let r = Word::from_var(cs, &FpVar::new_witness(cs.clone(), || Ok(Fr::from(rv)))?)?;
    // Zero outside a division (unused parts carry zero), and q' = 0 when dividing by zero.
    (&(one() - &divides) * &q.value).enforce_equal(&zero())?;
    (&(one() - &divides) * &r.value).enforce_equal(&zero())?;
    (&d_zero * &q.value).enforce_equal(&zero())?;

    // One multiplier: a·2^s (SLL), a·2^(32−s) (SRL, SRA), a·b (MUL*), q'·|d| (DIV*, REM*).
    let multiplies = d.any(&[Op::Mul, Op::Mulh, Op::Mulhsu, Op::Mulhu]);
    let x = select(&divides, &q.value, &a.value);
    let y = &shifts_left * &pow + &shifts_right * &inv_pow + &multiplies * &b.value + &divides * &d_abs;
    let product = &x * &y;
    let product_bits = decompose(cs, &product, 64)?;
    let (lo, hi) = (from_bits(&product_bits[..32]), from_bits(&product_bits[32..]));
    let sra = &hi + &a31 * (FpVar::Constant(pow2(32)) - &inv_pow);

    // Division checks: q'·|d| + r' = |n|, and r' < |d| unless d = 0 (then r' = |n| and the slack
    // 2^32 − 1 − r' is in range anyway).
    (&divides * (&product + &r.value - &n_abs)).enforce_equal(&zero())?;
    let slack = &divides * (&d_abs - &r.value - Fr::from(1u64) + &d_zero * pow2(32));
    decompose(cs, &slack, 32)?;
    // Signs: the quotient is negative when exactly one operand is, the remainder takes n's sign.
    // `(2^32 − v)·(v ≠ 0)` is −v mod 2^32.
    let negate = |v: &Word| -> Result<FpVar<Fr>, SynthesisError> {
        let nonzero = one() - FpVar::from(is_zero(cs, &v.value)?);
        Ok((FpVar::Constant(pow2(32)) - &v.value) * nonzero)
    };
    let q_neg = &n_neg + &d_neg - &signed_div * &a31b31 * Fr::from(2u64);
    let quotient =
        select(&d_zero, &FpVar::Constant(pow2(32) - Fr::from(1u64)), &select(&q_neg, &negate(&q)?, &q.value));
    let remainder = select(&n_neg, &negate(&r)?, &r.value);

    // MULH/MULHSU: the signed high word is the unsigned one minus b (if a < 0) minus a (if b < 0
    // and MULH), mod 2^32.
    let high_signed = d.any(&[Op::Mulh, Op::Mulhsu]);
    let high_correction = &high_signed * &a31 * &b.value + is(Op::Mulh) * (&b31 * &a.value);
    let high_bits = decompose(cs, &(&hi - high_correction + FpVar::Constant(pow2(33))), 34)?;
    let high = from_bits(&high_bits[..32]);

    // Targets and addresses: pc + offset (JAL, branches, AUIPC) or rs1 + imm (JALR, loads,
    // stores), mod 2^32 with the carry in bit 32 (B.17).
    let is_jalr = is(Op::Jalr);
    let (loads, stores) = (d.any(&LOADS), d.any(&STORES));
    let offset = is(Op::Jal) * d.imm_j()
        + d.any(&BRANCHES) * d.imm_b()
        + is(Op::Auipc) * d.imm_u()
        + (&is_jalr + &loads) * d.imm_i()
        + &stores * d.imm_s();
    let base = select(&(&is_jalr + &loads + &stores), &a.value, &cur.pc);
    let target_bits = decompose(cs, &(base + offset), 33)?;
    // JALR clears bit 0 of its target (B.23).
    let target = from_bits(&target_bits[..32]) - &is_jalr * FpVar::from(target_bits[0].clone());
    let pc_plus_4 = &cur.pc + Fr::from(4u64);
    // ECALL: only `exit` (a7 = 93) and `exit_group` (94) are proven so far; an exiting ECALL keeps
    // the pc (the NVM does not advance a halted machine) and writes no register.
    let exits = is(Op::Ecall);
    let (a7, a0) = (&cur.regs[16], &cur.regs[9]);
    (&exits * (a7 - Fr::from(93u64)) * (a7 - Fr::from(94u64))).enforce_equal(&zero())?;

    // Branch decisions and the next pc.
    let taken_branch = is(Op::Beq) * FpVar::from(eq.clone())
        + is(Op::Bne) * (one() - FpVar::from(eq.clone()))
        + is(Op::Blt) * &lt
        + is(Op::Bge) * (one() - &lt)
        + is(Op::Bltu) * &ltu
        + is(Op::Bgeu) * (one() - &ltu);
    let jumps = is(Op::Jal) + &is_jalr + &taken_branch;
    let next_pc = select_var(cs, &jumps, &target, &(&pc_plus_4 - &exits * Fr::from(4u64)))?;
    // A taken jump's target is 4-byte aligned (the NVM traps otherwise; a trapping run has no proof).
    // Bit 1 is checked; bit 0 is zero already: JALR clears it, and every other target is the pc
    // (4-byte aligned: the entry point is, and every next pc is by induction) plus an even offset.
    (&jumps * FpVar::from(target_bits[1].clone())).enforce_equal(&zero())?;

    // Loads and stores: the word at `address & !3`; byte lane from the address's low bits.
    let (e0, e1) = (FpVar::from(target_bits[0].clone()), FpVar::from(target_bits[1].clone()));
    // Alignment (B.18): LW/SW need both low bits zero, LH/LHU/SH bit 0.
    (d.any(&[Op::Lw, Op::Sw]) * (&e0 + &e1)).enforce_equal(&zero())?;
    (d.any(&[Op::Lh, Op::Lhu, Op::Sh]) * &e0).enforce_equal(&zero())?;
    let accesses = &loads + &stores;
    let old = Word::from_var(cs, &FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(data_old))))?)?;
    (&(one() - &accesses) * &old.value).enforce_equal(&zero())?;
    let e01 = &e0 * &e1;
    let lane = [one() - &e0 - &e1 + &e01, &e0 - &e01, &e1 - &e01, e01];
    let byte_of = |w: &Word, k: usize| from_bits(&w.bits[8 * k..8 * k + 8]);
    let (mut byte, mut byte_sign) = (zero(), zero());
    for (k, l) in lane.iter().enumerate() {
        byte += l * byte_of(&old, k);
        byte_sign += l * FpVar::from(old.bits[8 * k + 7].clone());
    }
    let (half_lo, half_hi) = (from_bits(&old.bits[..16]), from_bits(&old.bits[16..]));
    let half = select(&e1, &half_hi, &half_lo);
    let half_sign = select(&e1, &FpVar::from(old.bits[31].clone()), &FpVar::from(old.bits[15].clone()));
    let loaded = is(Op::Lb) * (&byte + byte_sign * (pow2(32) - pow2(8)))
        + is(Op::Lbu) * &byte
        + is(Op::Lh) * (&half + half_sign * (pow2(32) - pow2(16)))
        + is(Op::Lhu) * &half
        + is(Op::Lw) * &old.value;
    // Stores write exactly the low 8/16/32 bits of rs2 into their lane (B.16); loads write nothing.
    let (low8, low16) = (from_bits(&b.bits[..8]), from_bits(&b.bits[..16]));
    let mut byte_delta = zero();
    for (k, l) in lane.iter().enumerate() {
        byte_delta += l * (&low8 - byte_of(&old, k)) * pow2(8 * k as u32);
    }
    let half_delta = select(&e1, &((&low16 - &half_hi) * pow2(16)), &(&low16 - &half_lo));
    let new = &old.value + is(Op::Sb) * byte_delta + is(Op::Sh) * half_delta + is(Op::Sw) * (&b.value - &old.value);
    let word_addr = from_bits(&target_bits[2..32]) * Fr::from(4u64);
    let data = MemSlot {
        active: accesses.clone(),
        addr: &accesses * word_addr,
        old: old.value.clone(),
        new,
        write: stores.clone(),
    };

    // The value written to rd, selected by instruction group (exactly one selector is set).
    let rd_lc = d.any(&[Op::Add, Op::Addi, Op::Sub]) * &sum
        + d.any(&[Op::Slt, Op::Slti]) * &lt
        + d.any(&[Op::Sltu, Op::Sltiu]) * &ltu
        + d.any(&[Op::And, Op::Andi]) * &and_v
        + d.any(&[Op::Xor, Op::Xori]) * &xor_v
        + d.any(&[Op::Or, Op::Ori]) * &or_v
        + d.any(&[Op::Sll, Op::Slli]) * &lo
        + d.any(&[Op::Srl, Op::Srli]) * &hi
        + d.any(&[Op::Sra, Op::Srai]) * &sra
        + is(Op::Mul) * &lo
        + is(Op::Mulhu) * &hi
        + &high_signed * &high
        + d.any(&[Op::Div, Op::Divu]) * &quotient
        + d.any(&[Op::Rem, Op::Remu]) * &remainder
        + is(Op::Lui) * d.imm_u()
        + is(Op::Auipc) * from_bits(&target_bits[..32])
        + d.any(&[Op::Jal, Op::Jalr]) * &pc_plus_4
        + loaded;
    let rd_value = materialize(cs, &rd_lc)?;

    // The write: rd's one-hot selector gated by "writes rd"; x0's selector updates nothing (B.19).
    let writes = one() - d.any(&BRANCHES) - is(Op::Fence) - &stores - &exits;
    let rd_sel = one_hot(cs, d.rd())?;
    let mut regs = Vec::with_capacity(NUM_REGS);
    for (s, r) in rd_sel[1..].iter().zip(&cur.regs) {
        let w = FpVar::from(s.clone()) * &writes;
        regs.push(select_var(cs, &w, &rd_value, r)?);
    }
    Ok(StepOut { next: CpuVar { pc: next_pc, regs }, rd_value, data, exits, a0: a0.clone() })
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
