//! Per-instruction-class tests with the edge cases the RISC-V spec singles out. Expected values come
//! from the spec's definitions (computed here with Rust integer semantics), not from running the NVM.

mod common;
use common::*;
use nexus_vm::{TrapKind, VmError};

/// Runs `body` (preceded by nothing, followed by exit 0) and returns the final registers.
fn regs_after(body: Vec<u32>) -> [u32; 32] {
    run_code(&with_exit(body), &[]).expect("program must exit").1
}

fn li_v(rd: u32, v: u32) -> Vec<u32> {
    li(rd, v).to_vec()
}

fn trap_of(body: Vec<u32>) -> nexus_vm::Trap {
    match run_code(&with_exit(body), &[]) {
        Err(VmError::Trap(t)) => t,
        other => panic!("expected a trap, got {other:?}"),
    }
}

const EDGE: [u32; 10] = [0, 1, 2, 0xffff_ffff, 0x8000_0000, 0x7fff_ffff, 0x8000_0001, 0x1234_5678, 0xfffe_0001, 31];

fn reg_op_reference(op: RegOp, a: u32, b: u32) -> u32 {
    let (sa, sb) = (a as i32, b as i32);
    match op {
        RegOp::Add => a.wrapping_add(b),
        RegOp::Sub => a.wrapping_sub(b),
        RegOp::Sll => a.wrapping_shl(b),
        RegOp::Slt => (sa < sb) as u32,
        RegOp::Sltu => (a < b) as u32,
        RegOp::Xor => a ^ b,
        RegOp::Srl => a.wrapping_shr(b),
        RegOp::Sra => sa.wrapping_shr(b) as u32,
        RegOp::Or => a | b,
        RegOp::And => a & b,
        RegOp::Mul => a.wrapping_mul(b),
        RegOp::Mulh => ((i128::from(sa) * i128::from(sb)) >> 32) as u32,
        RegOp::Mulhsu => ((i128::from(sa) * i128::from(b)) >> 32) as u32,
        RegOp::Mulhu => ((u128::from(a) * u128::from(b)) >> 32) as u32,
        RegOp::Div if b == 0 => u32::MAX,
        RegOp::Div if sa == i32::MIN && sb == -1 => a,
        RegOp::Div => (sa / sb) as u32,
        RegOp::Divu if b == 0 => u32::MAX,
        RegOp::Divu => a / b,
        RegOp::Rem if b == 0 => a,
        RegOp::Rem if sa == i32::MIN && sb == -1 => 0,
        RegOp::Rem => (sa % sb) as u32,
        RegOp::Remu if b == 0 => a,
        RegOp::Remu => a % b,
    }
}

#[test]
fn register_ops_on_edge_values() {
    for op in REG_OPS {
        let mut body = Vec::new();
        let mut expected = Vec::new();
        // One program per op: all pairs of edge values, results in t2 written to memory.
        body.extend(li_v(28, DATA_VADDR));
        for (i, &a) in EDGE.iter().enumerate() {
            for (j, &b) in EDGE.iter().enumerate() {
                body.extend(li_v(T0, a));
                body.extend(li_v(T1, b));
                body.push(reg_op(op, T2, T0, T1));
                body.push(sw(T2, 28, ((i * EDGE.len() + j) * 4) as i32));
                expected.push(reg_op_reference(op, a, b));
            }
        }
        // Read results back through the output.
        body.extend(li_v(A0, 1));
        body.extend(li_v(A1, DATA_VADDR));
        body.extend(li_v(A2, (expected.len() * 4) as u32));
        body.extend(li_v(A7, 64));
        body.push(ECALL);
        let (res, _) = run_code(&with_exit(body), &[]).unwrap();
        let got: Vec<u32> = res.output.chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
            let (a, b) = (EDGE[k / EDGE.len()], EDGE[k % EDGE.len()]);
            assert_eq!(g, e, "{op:?}({a:#x}, {b:#x})");
        }
        assert_eq!(got.len(), expected.len());
    }
}

#[test]
fn division_special_cases_from_the_spec() {
    let r = regs_after(
        [
            li_v(T0, 0x8000_0000),
            li_v(T1, u32::MAX),
            vec![
                reg_op(RegOp::Div, 8, T0, T1),
                reg_op(RegOp::Rem, 9, T0, T1),
                reg_op(RegOp::Div, 18, T0, ZERO),
                reg_op(RegOp::Divu, 19, T0, ZERO),
                reg_op(RegOp::Rem, 20, T0, ZERO),
                reg_op(RegOp::Remu, 21, T0, ZERO),
            ],
        ]
        .concat(),
    );
    assert_eq!(r[8], 0x8000_0000, "INT_MIN / -1 = INT_MIN");
    assert_eq!(r[9], 0, "INT_MIN % -1 = 0");
    assert_eq!(r[18], u32::MAX, "x / 0 = -1");
    assert_eq!(r[19], u32::MAX, "x /u 0 = 2^32 - 1");
    assert_eq!(r[20], 0x8000_0000, "x % 0 = x");
    assert_eq!(r[21], 0x8000_0000, "x %u 0 = x");
}

#[test]
fn writes_to_x0_are_dropped() {
    let r =
        regs_after(vec![addi(ZERO, ZERO, 5), lui(ZERO, 0x12345), jal(ZERO, 4), add(T0, ZERO, ZERO), addi(T1, ZERO, 0)]);
    assert_eq!(r[0], 0);
    assert_eq!(r[T0 as usize], 0);
    assert_eq!(r[T1 as usize], 0);
}

#[test]
fn immediate_ops_and_shift_masking() {
    let a = 0x8000_00f0u32;
    let r = regs_after(
        [
            li_v(T0, a),
            vec![
                imm_op(ImmOp::Addi, 8, T0, -1),
                imm_op(ImmOp::Slti, 9, T0, 0),
                imm_op(ImmOp::Sltiu, 18, T0, -1), // -1 sign-extends to 0xffffffff
                imm_op(ImmOp::Xori, 19, T0, -1),
                imm_op(ImmOp::Ori, 20, T0, 0x70f),
                imm_op(ImmOp::Andi, 21, T0, -16),
                imm_op(ImmOp::Slli, 22, T0, 31),
                imm_op(ImmOp::Srli, 23, T0, 4),
                imm_op(ImmOp::Srai, 24, T0, 4),
            ],
            // Register shifts use only the low 5 bits of rs2: shifting by 33 shifts by 1.
            li_v(T1, 33),
            vec![reg_op(RegOp::Sll, 25, T0, T1), reg_op(RegOp::Srl, 26, T0, T1), reg_op(RegOp::Sra, 27, T0, T1)],
        ]
        .concat(),
    );
    assert_eq!(r[8], a.wrapping_sub(1));
    assert_eq!(r[9], 1);
    assert_eq!(r[18], 1);
    assert_eq!(r[19], !a);
    assert_eq!(r[20], a | 0x70f);
    assert_eq!(r[21], a & !15);
    assert_eq!(r[22], a << 31);
    assert_eq!(r[23], a >> 4);
    assert_eq!(r[24], ((a as i32) >> 4) as u32);
    assert_eq!(r[25], a << 1);
    assert_eq!(r[26], a >> 1);
    assert_eq!(r[27], ((a as i32) >> 1) as u32);
}

#[test]
fn lui_and_auipc() {
    let r = regs_after(vec![lui(T0, 0xfffff), auipc(T1, 0), auipc(T2, 0x80000)]);
    assert_eq!(r[T0 as usize], 0xffff_f000);
    assert_eq!(r[T1 as usize], TEXT_VADDR + 4, "auipc adds its own pc");
    assert_eq!(r[T2 as usize], (TEXT_VADDR + 8).wrapping_add(0x8000_0000));
}

#[test]
fn loads_sign_and_zero_extend() {
    let data: Vec<u8> = vec![0x80, 0xff, 0x7f, 0x01, 0xaa, 0x55, 0x00, 0x80];
    let mut body = li_v(28, DATA_VADDR);
    for (i, kind) in LOADS.iter().enumerate() {
        body.push(load(*kind, 5 + i as u32, 28, 0));
    }
    body.push(load(Load::Lb, 18, 28, 3));
    body.push(load(Load::Lh, 19, 28, 6));
    body.push(load(Load::Lhu, 20, 28, 6));
    body.push(load(Load::Lbu, 21, 28, 7));
    let (_, r) = run_code(&with_exit(body), &data).unwrap();
    assert_eq!(r[5], 0xffff_ff80, "LB of 0x80");
    assert_eq!(r[6], 0xffff_ff80, "LH of 0xff80");
    assert_eq!(r[7], 0x017f_ff80, "LW");
    assert_eq!(r[8], 0x80, "LBU of 0x80");
    assert_eq!(r[9], 0xff80, "LHU of 0xff80");
    assert_eq!(r[18], 1);
    assert_eq!(r[19], 0xffff_8000);
    assert_eq!(r[20], 0x8000);
    assert_eq!(r[21], 0x80);
}

#[test]
fn stores_write_exactly_their_width() {
    let mut body = li_v(28, DATA_VADDR);
    body.extend(li_v(T0, 0xdead_beef));
    body.extend(li_v(T1, u32::MAX));
    body.push(sw(T1, 28, 0));
    body.push(sw(T1, 28, 4));
    body.push(sw(T1, 28, 8));
    body.push(store(Store::Sb, T0, 28, 1));
    body.push(store(Store::Sh, T0, 28, 6));
    body.push(sw(T0, 28, 8));
    body.push(lw(8, 28, 0));
    body.push(lw(9, 28, 4));
    body.push(lw(18, 28, 8));
    let r = regs_after_with_data(body);
    assert_eq!(r[8], 0xffff_efff);
    assert_eq!(r[9], 0xbeef_ffff);
    assert_eq!(r[18], 0xdead_beef);
}

fn regs_after_with_data(body: Vec<u32>) -> [u32; 32] {
    run_code(&with_exit(body), &[0; 16]).unwrap().1
}

#[test]
fn branches_at_boundaries() {
    // For each branch and pair, set t2 = 1 if taken, by branching over "t2 = 0".
    let pairs =
        [(0u32, 0u32), (0x7fff_ffff, 0x8000_0000), (0x8000_0000, 0x7fff_ffff), (u32::MAX, 0), (0, u32::MAX), (5, 5)];
    for kind in BRANCHES {
        for (a, b) in pairs {
            let body = [li_v(T0, a), li_v(T1, b), vec![addi(T2, ZERO, 1), branch(kind, T0, T1, 8), addi(T2, ZERO, 0)]]
                .concat();
            let taken = regs_after(body)[T2 as usize] == 1;
            let (sa, sb) = (a as i32, b as i32);
            let expected = match kind {
                Branch::Beq => a == b,
                Branch::Bne => a != b,
                Branch::Blt => sa < sb,
                Branch::Bge => sa >= sb,
                Branch::Bltu => a < b,
                Branch::Bgeu => a >= b,
            };
            assert_eq!(taken, expected, "{kind:?} {a:#x} {b:#x}");
        }
    }
}

#[test]
fn backward_branch_loop_counts() {
    // t0 = 10; loop: t1 += t0; t0 -= 1; bne t0, x0, loop
    let r = regs_after(vec![
        addi(T0, ZERO, 10),
        addi(T1, ZERO, 0),
        add(T1, T1, T0),
        addi(T0, T0, -1),
        branch(Branch::Bne, T0, ZERO, -8),
    ]);
    assert_eq!(r[T1 as usize], 55);
}

#[test]
fn jal_and_jalr_link_and_clear_bit_zero() {
    // auipc t0, 0 (pc = P); jalr ra, t0, 13 -> target P + 12 (bit 0 cleared); skipped; landing.
    let r = regs_after(vec![
        auipc(T0, 0),
        jalr(RA, T0, 13),
        addi(T1, ZERO, 99),
        addi(T2, ZERO, 7),
        jal(8, 8),
        addi(T2, ZERO, 99),
    ]);
    assert_eq!(r[RA as usize], TEXT_VADDR + 8);
    assert_eq!(r[T1 as usize], 0, "skipped by jalr");
    assert_eq!(r[T2 as usize], 7, "skipped by jal");
    assert_eq!(r[8], TEXT_VADDR + 20);
}

#[test]
fn fence_is_a_no_op() {
    let r = regs_after(vec![addi(T0, ZERO, 3), FENCE, addi(T0, T0, 1)]);
    assert_eq!(r[T0 as usize], 4);
}

#[test]
fn traps_carry_pc_and_address() {
    let base = li_v(28, DATA_VADDR);
    let pc_after_base = TEXT_VADDR + 8;

    let t = trap_of([base.clone(), vec![lw(T0, 28, 2)]].concat());
    assert_eq!(t.kind, TrapKind::MisalignedLoad { addr: DATA_VADDR + 2 });
    assert_eq!(t.pc, pc_after_base);
    assert_eq!(t.steps, 2);

    let t = trap_of([base.clone(), vec![load(Load::Lh, T0, 28, 1)]].concat());
    assert_eq!(t.kind, TrapKind::MisalignedLoad { addr: DATA_VADDR + 1 });
    let t = trap_of([base.clone(), vec![store(Store::Sh, T0, 28, 3)]].concat());
    assert_eq!(t.kind, TrapKind::MisalignedStore { addr: DATA_VADDR + 3 });
    let t = trap_of([base.clone(), vec![sw(T0, 28, 1)]].concat());
    assert_eq!(t.kind, TrapKind::MisalignedStore { addr: DATA_VADDR + 1 });

    // Unmapped: one page past the data segment, and the null page.
    let t = trap_of([li_v(28, DATA_VADDR + 0x1000), vec![lw(T0, 28, 0)]].concat());
    assert_eq!(t.kind, TrapKind::LoadFault { addr: DATA_VADDR + 0x1000 });
    let t = trap_of(vec![store(Store::Sb, T0, ZERO, 5)]);
    assert_eq!(t.kind, TrapKind::StoreFault { addr: 5 });

    // Self-modifying code: the text segment is not writable.
    let t = trap_of([li_v(28, TEXT_VADDR), vec![sw(ZERO, 28, 0)]].concat());
    assert_eq!(t.kind, TrapKind::StoreFault { addr: TEXT_VADDR });
    // ... but it is readable.
    let r = regs_after([li_v(28, TEXT_VADDR), vec![lw(T0, 28, 0)]].concat());
    assert_eq!(r[T0 as usize], li(28, TEXT_VADDR)[0]);

    let t = trap_of(vec![NOP, EBREAK]);
    assert_eq!((t.kind, t.pc), (TrapKind::Breakpoint, TEXT_VADDR + 4));

    let t = trap_of(vec![0xffff_ffff]);
    assert_eq!(t.kind, TrapKind::IllegalInstruction { insn: 0xffff_ffff });
    assert_eq!(t.pc, TEXT_VADDR);

    // Jump to a misaligned target: the jump traps, with the target as address.
    let t = trap_of(vec![NOP, jal(RA, 6)]);
    assert_eq!(t.kind, TrapKind::MisalignedFetch { addr: TEXT_VADDR + 10 });
    assert_eq!(t.pc, TEXT_VADDR + 4);
    // Not-taken branch to a misaligned target does not trap.
    let r = regs_after(vec![branch(Branch::Bne, ZERO, ZERO, 6), addi(T0, ZERO, 1)]);
    assert_eq!(r[T0 as usize], 1);

    // Jump out of the text segment: the fetch traps at the target.
    let t = trap_of([li_v(28, DATA_VADDR), vec![jalr(ZERO, 28, 0)]].concat());
    assert_eq!(t.kind, TrapKind::FetchFault { addr: DATA_VADDR });
    assert_eq!(t.pc, DATA_VADDR);

    // Falling off the end of the text.
    let program = nexus_vm::Program::from_elf(&elf(&[NOP], &[], 0)).unwrap();
    let err = run_program(&program, &[]).unwrap_err();
    assert_eq!(
        err,
        VmError::Trap(nexus_vm::Trap {
            pc: TEXT_VADDR + 4,
            steps: 1,
            kind: TrapKind::FetchFault { addr: TEXT_VADDR + 4 }
        })
    );
}

#[test]
fn step_limit_traps() {
    let program = nexus_vm::Program::from_elf(&elf(&[jal(ZERO, 0)], &[], 0)).unwrap();
    let config = nexus_vm::VmConfig { max_steps: 1000, ..Default::default() };
    let vm = nexus_vm::Vm::new(&program, &[], config).unwrap();
    for err in [vm.run_fast().unwrap_err(), vm.run_traced().unwrap_err()] {
        assert_eq!(
            err,
            VmError::Trap(nexus_vm::Trap {
                pc: TEXT_VADDR,
                steps: 1000,
                kind: TrapKind::StepLimitExceeded { max_steps: 1000 }
            })
        );
    }
}

#[test]
fn stack_pointer_and_stack_memory() {
    let r = regs_after(vec![
        addi(SP, SP, -16),
        addi(T0, ZERO, 42),
        sw(T0, SP, 12),
        lw(T1, SP, 12),
        lw(T2, SP, 16), // argc slot: zero
    ]);
    assert_eq!(r[SP as usize], nexus_vm::INITIAL_SP - 16);
    assert_eq!(r[T1 as usize], 42);
    assert_eq!(r[T2 as usize], 0);
    // Below the stack region is unmapped.
    let t = trap_of([li_v(T0, nexus_vm::STACK_BOTTOM - 4), vec![lw(T1, T0, 0)]].concat());
    assert_eq!(t.kind, TrapKind::LoadFault { addr: nexus_vm::STACK_BOTTOM - 4 });
}
