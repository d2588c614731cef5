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
use crate::coprocessor::Kind;
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

/// What a step needs to know of the I/O streams: how far the system call in progress has got and
/// how much input is left (both decide whether a `read`/`write` moves another byte or retires).
#[derive(Clone, Debug)]
pub struct IoCursor {
    /// Bytes the `read`/`write` in progress has moved so far (0 between instructions).
    pub done: FpVar<Fr>,
    /// Input bytes not yet read.
    pub input_left: FpVar<Fr>,
}

impl IoCursor {
    /// No system call in progress and no input (tests of single instructions).
    pub fn idle() -> Self {
        Self { done: zero(), input_left: zero() }
    }
}

/// The bytes a step moved between memory and the I/O streams (at most one, see [`step`]).
#[derive(Clone, Debug)]
pub struct IoOut {
    /// The cursor's `done` after the step.
    pub done: FpVar<Fr>,
    /// 1 if the step read a byte of input (into memory).
    pub reads: FpVar<Fr>,
    /// The byte read (0 unless `reads`).
    pub input_byte: FpVar<Fr>,
    /// 1 if the step wrote a byte to the public output (fd 1).
    pub outputs: FpVar<Fr>,
    /// 1 if the step wrote a byte to the log (fd 2).
    pub logs: FpVar<Fr>,
    /// The byte written to the output or the log (meaningful when `outputs` or `logs`).
    pub written_byte: FpVar<Fr>,
}

/// What one step did.
pub struct StepOut {
    /// The state after the step.
    pub next: CpuVar,
    /// The value written to rd (0 when nothing is written).
    pub rd_value: FpVar<Fr>,
    /// The data access (loads, stores, and the byte a `read`/`write` moves).
    pub data: MemSlot,
    /// 1 if the step was the exiting ECALL.
    pub exits: FpVar<Fr>,
    /// a0, the exit code if the step exits.
    pub a0: FpVar<Fr>,
    /// The I/O the step did.
    pub io: IoOut,
    /// The co-processor word the step moved, if any.
    pub call: CallOut,
}

/// The word of a co-processor call a micro-step moves (see [`crate::coprocessor`]): the step's
/// call element is `(clk − index, index, kind, data.old, data.new)`.
#[derive(Clone, Debug)]
pub struct CallOut {
    /// 1 if the step moves a co-processor word.
    pub active: FpVar<Fr>,
    /// The kind's tag (0 Keccak-f, 1 SHA-256; meaningful when `active`).
    pub kind: FpVar<Fr>,
    /// The word's index in the call (the cursor's `done` before the step).
    pub index: FpVar<Fr>,
}

/// The prover's values for one step besides the instruction word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepHint {
    /// The data word a load, a store or a `read`/`write` byte accesses (0 otherwise).
    pub data_old: u32,
    /// The input byte a `read` step moves into memory (0 otherwise).
    pub input_byte: u8,
    /// The word a co-processor micro-step writes (0 otherwise).
    pub call_new: u32,
}

impl StepHint {
    /// A step whose data word (if any) is `data_old` and that reads no input.
    pub fn data(data_old: u32) -> Self {
        Self { data_old, input_byte: 0, call_new: 0 }
    }
}

/// Constrain one step from `cur`, executing the instruction `word_var` (whose value is `word`);
/// `hint.data_old` is the prover's value of the data word the step accesses, which the memory
/// argument checks through the returned slot.
///
/// System calls (ECALL; number in a7, arguments in a0..a2, as the NVM's ABI):
/// * `exit` (93, 94) halts with a0 as the exit code; the pc stays.
/// * `read` (63, fd 0) and `write` (64, fd 1 or 2) run as micro-steps: while bytes remain (for a
///   read, `min(a2, input left)`; for a write, `a2`), each step re-executes the ECALL, moves one byte
///   between the stream and memory at `a1 + done` through the data slot, and keeps the pc; the step
///   that finds nothing left retires the ECALL: a0 = bytes moved, pc + 4. A byte per step keeps the
///   circuit free of multi-lane shuffles and range comparisons (two zero tests decide "more"); the
///   cost is one step per I/O byte, below what guests spend per byte to decode or encode it.
/// * Anything else (another number, another fd) has no satisfying witness, as the NVM traps.
///
/// Co-processor instructions ([`crate::coprocessor`]) run as micro-steps the same way: word `done`
/// of the call per step, through the data slot, until all [`crate::coprocessor::Kind::words`] have
/// moved; then the step that retires the instruction (pc + 4, no register written). The word a call
/// writes is the prover's (range-checked on the remainder's bits, which no division uses then); the
/// co-processor's own circuit, joined by the call elements, decides it.
pub fn step(
    cs: &ConstraintSystemRef<Fr>,
    cur: &CpuVar,
    io: &IoCursor,
    word_var: &FpVar<Fr>,
    word: u32,
    hint: StepHint,
) -> Result<StepOut, SynthesisError> {
    step_decoded(cs, cur, io, DecodedVar::new(cs, word_var, word)?, hint)
}

/// Which system call an ECALL makes: one-hot (all zero for any other instruction).
struct SyscallVar {
    exit: FpVar<Fr>,
    read: FpVar<Fr>,
    write_output: FpVar<Fr>,
    write_log: FpVar<Fr>,
}

impl SyscallVar {
    /// The selectors for `is_ecall` with number `a7` and first argument `a0`; a number or fd the
    /// NVM does not serve leaves no satisfying assignment.
    fn new(
        cs: &ConstraintSystemRef<Fr>,
        is_ecall: &FpVar<Fr>,
        a7: &FpVar<Fr>,
        a0: &FpVar<Fr>,
    ) -> Result<Self, SynthesisError> {
        let (ecall, number, fd) = if cs.is_in_setup_mode() {
            (0, 0, 0)
        } else {
            (value_u64(is_ecall).unwrap_or(0), value_u64(a7).unwrap_or(0), value_u64(a0).unwrap_or(0))
        };
        let flag = |on: bool| -> Result<FpVar<Fr>, SynthesisError> {
            Ok(FpVar::from(Boolean::new_witness(cs.clone(), || Ok(ecall == 1 && on))?))
        };
        let exit = flag(matches!(number, 93 | 94))?;
        let read = flag(number == 63)?;
        let write_output = flag(number == 64 && fd == 1)?;
        let write_log = flag(number == 64 && fd == 2)?;
        (&exit + &read + &write_output + &write_log).enforce_equal(is_ecall)?;
        (&exit * (a7 - Fr::from(93u64)) * (a7 - Fr::from(94u64))).enforce_equal(&zero())?;
        (&read * (a7 - Fr::from(63u64))).enforce_equal(&zero())?;
        let writes = &write_output + &write_log;
        (&writes * (a7 - Fr::from(64u64))).enforce_equal(&zero())?;
        (&read * a0).enforce_equal(&zero())?;
        (&writes * a0).enforce_equal(&(&write_output + &write_log * Fr::from(2u64)))?;
        Ok(Self { exit, read, write_output, write_log })
    }
}

/// [`step`] on an already decoded instruction.
pub fn step_decoded(
    cs: &ConstraintSystemRef<Fr>,
    cur: &CpuVar,
    io: &IoCursor,
    d: DecodedVar,
    hint: StepHint,
) -> Result<StepOut, SynthesisError> {
    if cur.regs.len() != NUM_REGS {
        return Err(SynthesisError::Unsatisfiable);
    }
    let is = |op: Op| FpVar::from(d.is(op));
    let (keccak, sha) = (is(Op::Keccak), is(Op::Sha256));
    let calls = &keccak + &sha;

    // System calls: which one, and whether a read/write moves a byte this step (`moves`) or retires.
    let is_ecall = is(Op::Ecall);
    let (a0, a1, a2, a7) = (&cur.regs[9], &cur.regs[10], &cur.regs[11], &cur.regs[16]);
    let sys = SyscallVar::new(cs, &is_ecall, a7, a0)?;
    // `done ≤ a2` and "input left ≥ 0" hold by induction (both start at their bound's side and
    // advance by one only while nonzero), so nonzero means "more".
    // A co-processor's bound is its word count instead of a2 (the same zero test).
    let call_words = &keccak * Fr::from(Kind::Keccak.words() as u64) + &sha * Fr::from(Kind::Sha256.words() as u64);
    let limit = a2 + &calls * (call_words - a2);
    let more = one() - FpVar::from(is_zero(cs, &(limit - &io.done))?);
    let input_more = one() - FpVar::from(is_zero(cs, &io.input_left)?);
    let reads = materialize(cs, &(&sys.read * &more * &input_more))?;
    let outputs = materialize(cs, &(&sys.write_output * &more))?;
    let logs = materialize(cs, &(&sys.write_log * &more))?;
    let call_moves = materialize(cs, &(&calls * &more))?;
    let io_moves = &reads + &outputs + &logs;
    let moves = &io_moves + &call_moves;
    let reads_or_writes = &sys.read + &sys.write_output + &sys.write_log;
    let retires_io = &reads_or_writes - &io_moves;
    // Nothing is in progress at any other instruction.
    (&(one() - &reads_or_writes - &calls) * &io.done).enforce_equal(&zero())?;
    let moved_before = materialize(cs, &(&io_moves * &io.done))?;
    let done = materialize(cs, &(&moves * (&io.done + Fr::from(1u64))))?;
    // A call's word index in 6 bits (all zero at any other instruction). SHA-256's words 16..24 are
    // its state at rs1 (written), the first 16 its block at rs2 (read); Keccak-f's 50 are at rs1.
    let index_bits = decompose(cs, &(&calls * &io.done), 6)?;
    let sha_state = &sha * FpVar::from(index_bits[4].clone());
    let call_offset = from_bits(&index_bits) - &sha_state * Fr::from(16u64);
    let call_writes = materialize(cs, &(&call_moves * (&keccak + &sha_state)))?;
    // The input byte enters as ECALL's `b` (its rs2/immediate is 0), so the store lanes below put
    // it in memory; zero unless the step reads.
    let input_byte = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(hint.input_byte))))?;
    (&(one() - &reads) * &input_byte).enforce_equal(&zero())?;

    // Operands. `a` = rs1; `b` = rs2 for register ops and branches, the I immediate otherwise.
    let a = Word::from_var(cs, &read_reg(cs, &cur.regs, d.rs1())?)?;
    let rs2 = read_reg(cs, &cur.regs, d.rs2())?;
    let uses_rs2 = d.any(&REGISTER_ALU) + d.any(&MULDIV) + d.any(&BRANCHES) + d.any(&STORES);
    let b = Word::from_var(cs, &(select(&uses_rs2, &rs2, &d.imm_i()) + &input_byte))?;
    // An ECALL's `b` is the input byte: 8 bits.
    (&is_ecall * (&b.value - from_bits(&b.bits[..8]))).enforce_equal(&zero())?;

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
        // A co-processor's written word rides on r's bits.
        (0, if value_u64(&call_writes).unwrap_or(0) == 1 { u64::from(hint.call_new) } else { 0 })
    } else {
        let (n, dv) = (value_u64(&n_abs).unwrap_or(0), value_u64(&d_abs).unwrap_or(0));
        n.checked_div(dv).map_or((0, n), |q| (q, n % dv))
    };
    let q = Word::from_var(cs, &FpVar::new_witness(cs.clone(), || Ok(Fr::from(qv)))?)?;
    let r = Word::from_var(cs, &FpVar::new_witness(cs.clone(), || Ok(Fr::from(rv)))?)?;
    // Zero outside a division (unused parts carry zero), and q' = 0 when dividing by zero.
    (&(one() - &divides) * &q.value).enforce_equal(&zero())?;
    (&(one() - &divides - &call_writes) * &r.value).enforce_equal(&zero())?;
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
    // A read/write byte is at a1 + done.
    let offset = is(Op::Jal) * d.imm_j()
        + d.any(&BRANCHES) * d.imm_b()
        + is(Op::Auipc) * d.imm_u()
        + (&is_jalr + &loads) * d.imm_i()
        + &stores * d.imm_s()
        + &moved_before
        + call_offset * Fr::from(4u64);
    // A co-processor word is at rs1 + 4·offset, or for SHA-256's block at rs2 + 4·offset.
    let base = select(&(&is_jalr + &loads + &stores + &calls), &a.value, &cur.pc)
        + &io_moves * (a1 - &cur.pc)
        + (&sha - &sha_state) * (&rs2 - &a.value);
    let target_bits = decompose(cs, &(base + offset), 33)?;
    // JALR clears bit 0 of its target (B.23).
    let target = from_bits(&target_bits[..32]) - &is_jalr * FpVar::from(target_bits[0].clone());
    let pc_plus_4 = &cur.pc + Fr::from(4u64);
    // An exiting ECALL keeps the pc (the NVM does not advance a halted machine), and so does a
    // read/write that moves a byte (it runs again); neither writes rd.
    let exits = sys.exit.clone();

    // Branch decisions and the next pc.
    let taken_branch = is(Op::Beq) * FpVar::from(eq.clone())
        + is(Op::Bne) * (one() - FpVar::from(eq.clone()))
        + is(Op::Blt) * &lt
        + is(Op::Bge) * (one() - &lt)
        + is(Op::Bltu) * &ltu
        + is(Op::Bgeu) * (one() - &ltu);
    let jumps = is(Op::Jal) + &is_jalr + &taken_branch;
    let next_pc = select_var(cs, &jumps, &target, &(&pc_plus_4 - (&exits + &moves) * Fr::from(4u64)))?;
    // A taken jump's target is 4-byte aligned (the NVM traps otherwise; a trapping run has no proof).
    // Bit 1 is checked; bit 0 is zero already: JALR clears it, and every other target is the pc
    // (4-byte aligned: the entry point is, and every next pc is by induction) plus an even offset.
    (&jumps * FpVar::from(target_bits[1].clone())).enforce_equal(&zero())?;

    // Loads and stores: the word at `address & !3`; byte lane from the address's low bits.
    let (e0, e1) = (FpVar::from(target_bits[0].clone()), FpVar::from(target_bits[1].clone()));
    // Alignment (B.18): LW/SW need both low bits zero, LH/LHU/SH bit 0.
    ((d.any(&[Op::Lw, Op::Sw]) + &call_moves) * (&e0 + &e1)).enforce_equal(&zero())?;
    (d.any(&[Op::Lh, Op::Lhu, Op::Sh]) * &e0).enforce_equal(&zero())?;
    let accesses = &loads + &stores + &moves;
    let old = Word::from_var(cs, &FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(hint.data_old))))?)?;
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
    // Stores write exactly the low 8/16/32 bits of rs2 into their lane (B.16), a read the input
    // byte into its lane; loads and writes write nothing.
    let (low8, low16) = (from_bits(&b.bits[..8]), from_bits(&b.bits[..16]));
    let mut byte_delta = zero();
    for (k, l) in lane.iter().enumerate() {
        byte_delta += l * (&low8 - byte_of(&old, k)) * pow2(8 * k as u32);
    }
    let half_delta = select(&e1, &((&low16 - &half_hi) * pow2(16)), &(&low16 - &half_lo));
    let new = &old.value
        + (is(Op::Sb) + &reads) * byte_delta
        + is(Op::Sh) * half_delta
        + is(Op::Sw) * (&b.value - &old.value)
        + &call_writes * (&r.value - &old.value);
    let word_addr = from_bits(&target_bits[2..32]) * Fr::from(4u64);
    let data = MemSlot {
        active: accesses.clone(),
        addr: &accesses * word_addr,
        old: old.value.clone(),
        new,
        write: &stores + &reads + &call_writes,
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
    // ECALL's rd is x0; a retiring read/write sets a0 to the bytes it moved.
    let writes = one() - d.any(&BRANCHES) - is(Op::Fence) - &stores - &is_ecall - &calls;
    let rd_sel = one_hot(cs, d.rd())?;
    let mut regs = Vec::with_capacity(NUM_REGS);
    for (s, r) in rd_sel[1..].iter().zip(&cur.regs) {
        let w = FpVar::from(s.clone()) * &writes;
        regs.push(select_var(cs, &w, &rd_value, r)?);
    }
    regs[9] = select_var(cs, &retires_io, &io.done, &regs[9])?;
    let call = CallOut { active: call_moves, kind: sha, index: io.done.clone() };
    let io = IoOut { done, reads, input_byte, outputs, logs, written_byte: byte };
    Ok(StepOut { next: CpuVar { pc: next_pc, regs }, rd_value, data, exits, a0: a0.clone(), io, call })
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
