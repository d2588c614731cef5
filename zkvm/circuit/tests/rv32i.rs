//! The RV32I step circuit against the NVM: random register programs, every step synthesized from the
//! state the NVM had before it, satisfied, and leaving exactly the state the NVM had after it; and
//! the decoder's soundness cases (PROVER-PITFALLS B.13, B.15, B.19, B.20, B.23).

mod support;

use ark_bn254::Fr;
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystem, ConstraintSystemRef};
use nexus_nvm_circuit::{
    cpu::{IoCursor, StepHint, alloc_state, state_values, step, step_decoded},
    decode::{self as circuit_decode, DecodedVar, OPS, Op},
};
use support::common::*;
use support::{BASE, random_code, run_traced};

fn word_var(cs: &ConstraintSystemRef<Fr>, word: u32) -> FpVar<Fr> {
    FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(word)))).unwrap()
}

/// Runs `code` (with a 4 KiB data buffer at `DATA_VADDR`) on the NVM and checks every step before
/// the exit sequence's ECALL against the circuit: satisfied, the NVM's next state, and the NVM's
/// memory access in the data slot. Returns the number of steps checked and the largest constraint
/// count.
fn check_against_nvm(code: Vec<u32>) -> (usize, usize) {
    let (_, trace) = run_traced(code);
    let mut regs = trace.initial_state().regs;
    let (mut checked, mut max_constraints) = (0, 0);
    for (i, s) in trace.steps().iter().enumerate() {
        if Op::decode(s.insn).is_none() {
            assert_eq!(s.insn, ECALL, "only the exit's ECALL is outside the circuit's set");
            break;
        }
        let access = trace.step_memory(i).first().copied();
        let cs = ConstraintSystem::<Fr>::new_ref();
        let cur = alloc_state(&cs, s.pc, &regs).unwrap();
        let out = step(
            &cs,
            &cur,
            &IoCursor::idle(),
            &word_var(&cs, s.insn),
            s.insn,
            StepHint::data(access.map_or(0, |a| a.old)),
        )
        .unwrap();
        if let Some(w) = s.reg_write() {
            regs[w.index as usize] = w.new;
        }
        regs[0] = 0;
        let at = format!("step at pc {:#x} ({:#010x})", s.pc, s.insn);
        assert!(cs.is_satisfied().unwrap(), "{at} unsatisfied");
        assert_eq!(state_values(&out.next).unwrap(), (s.next_pc, regs), "{at}");
        let slot = [&out.data.active, &out.data.addr, &out.data.old, &out.data.new].map(|v| v.value().unwrap());
        let expected = access.map_or([0; 4], |a| [1, u64::from(a.addr), u64::from(a.old), u64::from(a.new)]);
        assert_eq!(slot, expected.map(Fr::from), "{at}: data slot");
        max_constraints = max_constraints.max(cs.num_constraints());
        checked += 1;
    }
    (checked, max_constraints)
}

#[test]
fn random_programs_step_exactly_as_the_nvm() {
    let mut total = 0;
    for seed in 0..6 {
        let (n, constraints) = check_against_nvm(random_code(seed, 260));
        total += n;
        if seed == 0 {
            eprintln!("one RV32I step: {constraints} constraints");
        }
        assert!(constraints < 1_000, "{constraints} constraints per step");
    }
    assert!(total > 1_000, "{total} steps checked");
}

#[test]
fn b17_negative_offsets_carry_into_the_address() {
    // Loads and stores at rs1 + a negative immediate: the address adder's carry out of bit 31 is
    // dropped (mod 2^32), as the NVM computes it, for every width and lane.
    let mut code = li(5, DATA_VADDR + 2048).to_vec();
    code.extend(li(2, 0x8182_8384));
    for offset in [-2048, -1024, -4, -3, -2, -1] {
        for kind in LOADS {
            let align = match kind {
                Load::Lw => 4,
                Load::Lh | Load::Lhu => 2,
                _ => 1,
            };
            if offset % align == 0 {
                code.push(load(kind, 4, 5, offset));
            }
        }
        for kind in STORES {
            let align = match kind {
                Store::Sw => 4,
                Store::Sh => 2,
                Store::Sb => 1,
            };
            if offset % align == 0 {
                code.push(store(kind, 2, 5, offset));
            }
        }
    }
    let (checked, _) = check_against_nvm(code);
    assert!(checked > 30, "{checked} steps checked");
}

#[test]
fn edge_values_of_every_class() {
    let mut code = Vec::new();
    // Shifts by 0 and 31, signed/unsigned compares at the extremes, MUL* at −2^31 and 2^32 − 1
    // (B.21), division by zero and INT_MIN / −1 (B.22), JALR clearing bit 0, x0 as rd.
    for (r, v) in [(5, 0x8000_0000u32), (6, u32::MAX), (7, 1), (8, 0x7fff_ffff), (14, 7), (15, (-7i32) as u32), (16, 2)]
    {
        code.extend(li(r, v));
    }
    for op in REG_OPS {
        let pairs =
            [(5, 6), (6, 5), (5, 8), (7, 0), (0, 7), (6, 6), (5, 5), (14, 16), (15, 16), (14, 6), (15, 6), (8, 5)];
        for (a, b) in pairs {
            code.push(reg_op(op, 9, a, b));
        }
    }
    for op in IMM_OPS {
        let imms: &[i32] = match op {
            ImmOp::Slli | ImmOp::Srli | ImmOp::Srai => &[0, 1, 31],
            _ => &[-2048, -1, 0, 2047],
        };
        for imm in imms {
            code.push(imm_op(op, 10, 5, *imm));
            code.push(imm_op(op, 0, 6, *imm)); // rd = x0: dropped (B.19)
        }
    }
    code.extend([auipc(11, 0), jalr(12, 11, 9), FENCE, lui(0, 0xfffff), addi(0, 0, 5), add(13, 0, 0)]);
    // Every load of every lane, sign extension of 0x80 / 0x8000 (B.17), stores of every width into
    // every lane keeping the other bytes (B.16).
    code.extend(li(BASE, DATA_VADDR));
    code.extend(li(20, 0x8070_8090));
    code.push(sw(20, BASE, 0));
    for kind in LOADS {
        for off in 0..4 {
            let ok = match kind {
                Load::Lw => off == 0,
                Load::Lh | Load::Lhu => off % 2 == 0,
                _ => true,
            };
            if ok {
                code.push(load(kind, 21, BASE, off));
            }
        }
    }
    for (kind, offs) in [(Store::Sb, &[0, 1, 2, 3][..]), (Store::Sh, &[0, 2][..]), (Store::Sw, &[0][..])] {
        for off in offs {
            code.push(store(kind, 6, BASE, 8 + *off));
            code.push(lw(22, BASE, 8));
        }
    }
    let (n, _) = check_against_nvm(code);
    assert!(n > 100);
}

/// Synthesizes one step of `word` with the given selectors from a fixed state; true if satisfied.
fn satisfied_with(word: u32, selected: &[bool; OPS.len()]) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let mut regs = [0u32; 32];
    for (i, r) in regs.iter_mut().enumerate().skip(1) {
        *r = (i as u32).wrapping_mul(0x0101_0101);
    }
    let cur = alloc_state(&cs, 0x11000, &regs).unwrap();
    let d = DecodedVar::with_selectors(&cs, &word_var(&cs, word), word, selected).unwrap();
    step_decoded(&cs, &cur, &IoCursor::idle(), d, StepHint::default()).unwrap();
    cs.is_satisfied().unwrap()
}

fn only(op: Op) -> [bool; OPS.len()] {
    OPS.map(|o| o == op)
}

#[test]
fn selectors_are_one_hot_and_match_the_encoding() {
    let add_word = reg_op(RegOp::Add, 3, 1, 2);
    assert!(satisfied_with(add_word, &only(Op::Add)));
    // B.13: none selected, two selected.
    assert!(!satisfied_with(add_word, &[false; OPS.len()]));
    let mut two = only(Op::Add);
    two[OPS.iter().position(|o| *o == Op::Sub).unwrap()] = true;
    assert!(!satisfied_with(add_word, &two));
    // Another instruction than the word encodes.
    for op in [Op::Sub, Op::Addi, Op::Xor, Op::Lui, Op::Beq] {
        assert!(!satisfied_with(add_word, &only(op)), "ADD word accepted as {op:?}");
    }
}

#[test]
fn non_canonical_encodings_select_nothing() {
    // B.15: every fixed field checked. Each word differs from a valid one in one fixed field.
    let cases: [(u32, Op); 6] = [
        (imm_op(ImmOp::Slli, 3, 1, 4) | (1 << 25), Op::Slli), // SLLI with imm[11:5] ≠ 0
        (imm_op(ImmOp::Srli, 3, 1, 4) | (1 << 26), Op::Srli), // SRLI with funct7 = 2
        (imm_op(ImmOp::Srai, 3, 1, 4) | (1 << 25), Op::Srai), // SRAI with funct7 = 0x21
        (jalr(3, 1, 4) | (1 << 12), Op::Jalr),                // JALR with funct3 = 1
        (reg_op(RegOp::Add, 3, 1, 2) | (1 << 26), Op::Add),   // ADD with funct7 = 2
        (reg_op(RegOp::Sra, 3, 1, 2) ^ (1 << 30), Op::Sra),   // SRA with funct7 = 0 (that is SRL)
    ];
    for (word, op) in cases {
        assert_ne!(Op::decode(word), Some(op), "{word:#010x}");
        assert!(!satisfied_with(word, &only(op)), "non-canonical {word:#010x} accepted as {op:?}");
    }
    // Decoding agrees with the NVM: the SRA-with-funct7-0 word is SRL, honestly selected.
    assert_eq!(Op::decode(reg_op(RegOp::Sra, 3, 1, 2) ^ (1 << 30)), Some(Op::Srl));
}

#[test]
fn every_witness_is_pinned() {
    // Perturbing any single witness of an honest step breaks it: no free variable that a prover
    // could use to change an output (PROVER-PITFALLS B.26; zero tests pin their inverse, B.33).
    for word in [
        reg_op(RegOp::Sra, 3, 1, 2),
        reg_op(RegOp::Div, 3, 1, 2),
        reg_op(RegOp::Remu, 3, 1, 0),
        reg_op(RegOp::Mulh, 3, 1, 2),
        branch(Branch::Blt, 1, 2, 8),
        jalr(1, 5, 5),
        lui(4, 0x12345),
        load(Load::Lb, 4, 5, 3),
        store(Store::Sh, 2, 5, 2),
    ] {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let mut regs = [0u32; 32];
        regs[1] = 0x8000_0010;
        regs[2] = 7;
        regs[5] = 0x11000;
        let cur = alloc_state(&cs, 0x11000, &regs).unwrap();
        step(&cs, &cur, &IoCursor::idle(), &word_var(&cs, word), word, StepHint::data(data_word(word))).unwrap();
        // The first 33 witnesses are the state and the word (inputs here, fixed by the caller).
        let free = support::free_witnesses(&cs, 33);
        assert!(free.is_empty(), "{word:#010x}: free witnesses {free:?}");
    }
}

/// A data word for a load or store (which word memory holds is the memory argument's to check),
/// zero for every other instruction (whose data slot must be empty).
fn data_word(word: u32) -> u32 {
    let accesses =
        Op::decode(word).is_some_and(|op| circuit_decode::LOADS.contains(&op) || circuit_decode::STORES.contains(&op));
    if accesses { 0x8070_8090 } else { 0 }
}

/// One honest synthesis of `word` from `regs` at `pc`; true if satisfied.
fn satisfied_at(pc: u32, regs: &[u32; 32], word: u32) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let cur = alloc_state(&cs, pc, regs).unwrap();
    step(&cs, &cur, &IoCursor::idle(), &word_var(&cs, word), word, StepHint::data(data_word(word))).unwrap();
    cs.is_satisfied().unwrap()
}

#[test]
fn misaligned_jump_targets_are_unsatisfiable() {
    // B.23: the NVM traps on a jump or taken branch to an address not 4-byte aligned, so no step
    // may take one; JALR clears bit 0 first, so bit 1 is what counts for it.
    let pc = 0x11000;
    let mut regs = [0u32; 32];
    regs[5] = 0x11005; // bit 0 set: cleared by JALR, target 0x11004
    assert!(satisfied_at(pc, &regs, jalr(1, 5, 0)));
    regs[5] = 0x11006; // bit 1 set
    assert!(!satisfied_at(pc, &regs, jalr(1, 5, 0)));
    regs[5] = 0x11004;
    assert!(!satisfied_at(pc, &regs, jalr(1, 5, 2)));
    assert!(!satisfied_at(pc, &regs, jalr(1, 5, 3)));
    assert!(satisfied_at(pc, &regs, jalr(1, 5, 1)));
    assert!(!satisfied_at(pc, &regs, jal(1, 2)));
    assert!(!satisfied_at(pc, &regs, jal(1, 6)));
    assert!(satisfied_at(pc, &regs, jal(1, 8)));
    // A branch with a misaligned offset is fine untaken, refused taken.
    regs[6] = 1;
    assert!(satisfied_at(pc, &regs, branch(Branch::Beq, 6, 0, 2)));
    assert!(!satisfied_at(pc, &regs, branch(Branch::Bne, 6, 0, 2)));
}

#[test]
fn misaligned_data_accesses_are_unsatisfiable() {
    // B.18: LW/SW need 4-byte alignment, LH/LHU/SH 2-byte; byte accesses any address.
    let mut regs = [0u32; 32];
    regs[5] = DATA_VADDR;
    for (word, ok) in [
        (lw(1, 5, 0), true),
        (lw(1, 5, 2), false),
        (lw(1, 5, 1), false),
        (sw(1, 5, 4), true),
        (sw(1, 5, 6), false),
        (load(Load::Lh, 1, 5, 2), true),
        (load(Load::Lhu, 1, 5, 3), false),
        (store(Store::Sh, 1, 5, 1), false),
        (load(Load::Lbu, 1, 5, 3), true),
        (store(Store::Sb, 1, 5, 3), true),
    ] {
        assert_eq!(satisfied_at(0x11000, &regs, word), ok, "{word:#010x}");
    }
}
