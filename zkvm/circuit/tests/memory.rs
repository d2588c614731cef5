//! The memory argument: whole runs prepared, stepped through the step circuit k steps at a time,
//! and checked as the verifier would; forged reads, timestamps and permissions refused
//! (PROVER-PITFALLS C.27–C.31).

mod support;

use ark_bn254::Fr;
use ark_ff::One;
use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar};
use ark_relations::gr1cs::ConstraintSystem;
use nexus_nova::step_circuit::synthesize_step;
use nexus_nvm_circuit::image::{Image, image_root_of};
use nexus_nvm_circuit::{
    cpu::MemSlot,
    io::PublicIo,
    memory::{AccessHint, EXECUTABLE, FinalCell, MemoryError, ProductsVar, SlotKind, WRITABLE, access, check_products},
    steps::{H_ACC, NvmSteps, STATE_LEN, memory_challenge, prepare},
};
use nexus_vm::{Program, Trace};
use support::common::*;
use support::{random_code, run_traced, step_all};

/// Steps before the exit sequence's system call, rounded down to a multiple of `k`.
fn provable_steps(trace: &Trace, k: usize) -> usize {
    let n = trace.steps().iter().position(|s| s.insn == ECALL).unwrap_or(trace.steps().len());
    n / k * k
}

#[test]
fn whole_runs_balance_and_bind_the_challenge() {
    for (seed, k) in [(1u64, 4usize), (2, 8)] {
        let (program, trace) = run_traced(random_code(seed, 200));
        let n = provable_steps(&trace, k);
        let run = prepare(&program, &[], &trace, n, k).unwrap();
        let z = step_all(&run.invocations, &run.z0);
        assert_eq!(z.len(), STATE_LEN);
        // The architectural state is the NVM's after n steps.
        let after = &trace.steps()[n];
        assert_eq!(z[0], Fr::from(u64::from(after.pc)));
        assert_eq!(z[32], Fr::from(n as u64), "clk");
        let (gamma, rs, ws, h_acc) = (z[35], z[33], z[34], z[H_ACC]);
        // The verifier's two checks: γ drawn from the chain and the final memory, products balanced.
        assert_eq!(gamma, run.z0[35]);
        assert_eq!(memory_challenge(image_root_of(&program), PublicIo::EMPTY, h_acc, &run.finals, &[]), gamma);
        check_products(&Image::of_program(&program), gamma, rs, ws, &run.finals).unwrap();
        // A final memory with one value changed, or one cell dropped, does not balance (C.30).
        let mut wrong = run.finals.clone();
        wrong[0].value ^= 1;
        assert_eq!(check_products(&Image::of_program(&program), gamma, rs, ws, &wrong), Err(MemoryError::Unbalanced));
        let fewer = &run.finals[1..];
        assert_eq!(check_products(&Image::of_program(&program), gamma, rs, ws, fewer), Err(MemoryError::Unbalanced));
        // Duplicated or unordered addresses are refused before any product (C.30).
        let mut dup = run.finals.clone();
        dup.insert(1, dup[0]);
        assert!(matches!(
            check_products(&Image::of_program(&program), gamma, rs, ws, &dup),
            Err(MemoryError::Order(_))
        ));
        let mut unmapped = run.finals.clone();
        unmapped.push(FinalCell { addr: 0x10, value: 0, t: 1 });
        unmapped.sort_by_key(|c| c.addr);
        assert_eq!(
            check_products(&Image::of_program(&program), gamma, rs, ws, &unmapped),
            Err(MemoryError::Unmapped(0x10))
        );
    }
}

/// A two-segment program (text, writable data at `DATA_VADDR`) and a γ.
fn setup() -> (Program, Fr) {
    let program = Program::from_elf(&elf(&with_exit(vec![NOP]), &[7, 0, 0, 0], 4096)).unwrap();
    (program, Fr::from(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834u128) * Fr::from(0x1234_5678_9abc_def1u64))
}

/// Runs `accesses` (slot values and hints, at times 1, 2, …) through [`access`] from `RS = WS = 1`;
/// returns whether the circuit is satisfied and the final products.
fn run_accesses(accesses: &[(SlotKind, [u64; 5], AccessHint)], gamma: Fr) -> (bool, Fr, Fr) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let w = |v: Fr| FpVar::new_witness(cs.clone(), || Ok(v)).unwrap();
    let g = w(gamma);
    let mut p = ProductsVar { rs: w(Fr::one()), ws: w(Fr::one()) };
    for (t, (kind, [active, addr, old, new, write], hint)) in accesses.iter().enumerate() {
        let slot = MemSlot {
            active: w(Fr::from(*active)),
            addr: w(Fr::from(*addr)),
            old: w(Fr::from(*old)),
            new: w(Fr::from(*new)),
            write: w(Fr::from(*write)),
        };
        let _element = access(&cs, &mut p, &g, &slot, &w(Fr::from(t as u64 + 1)), *hint, *kind).unwrap();
    }
    use ark_r1cs_std::GR1CSVar;
    (cs.is_satisfied().unwrap(), p.rs.value().unwrap(), p.ws.value().unwrap())
}

const D: u64 = DATA_VADDR as u64;

fn data_hint(t_old: u32) -> AccessHint {
    AccessHint { t_old, flags: WRITABLE }
}

#[test]
fn a_read_of_a_value_memory_did_not_hold_does_not_balance() {
    let (program, gamma) = setup();
    // Store 5 over the initial 7 at t = 1, read it back at t = 2: balances with final (5, t = 2).
    let honest = [(SlotKind::Data, [1, D, 7, 5, 1], data_hint(0)), (SlotKind::Data, [1, D, 5, 5, 0], data_hint(1))];
    let finals = [FinalCell { addr: DATA_VADDR, value: 5, t: 2 }];
    let (ok, rs, ws) = run_accesses(&honest, gamma);
    assert!(ok);
    check_products(&Image::of_program(&program), gamma, rs, ws, &finals).unwrap();
    // The read claims 6 (and the final memory follows the lie): the circuit is satisfied, the
    // products are not.
    let mut forged = honest;
    forged[1].1 = [1, D, 6, 6, 0];
    let (ok, rs, ws) = run_accesses(&forged, gamma);
    assert!(ok);
    let lie = [FinalCell { addr: DATA_VADDR, value: 6, t: 2 }];
    assert_eq!(check_products(&Image::of_program(&program), gamma, rs, ws, &lie), Err(MemoryError::Unbalanced));
    assert_eq!(check_products(&Image::of_program(&program), gamma, rs, ws, &finals), Err(MemoryError::Unbalanced));
    // Reading the initial 7 again after the store (a stale read with t_old = 0) does not balance.
    let mut stale = honest;
    stale[1] = (SlotKind::Data, [1, D, 7, 7, 0], data_hint(0));
    let (ok, rs, ws) = run_accesses(&stale, gamma);
    assert!(ok);
    let finals_stale = [FinalCell { addr: DATA_VADDR, value: 7, t: 2 }];
    assert_eq!(
        check_products(&Image::of_program(&program), gamma, rs, ws, &finals_stale),
        Err(MemoryError::Unbalanced)
    );
}

#[test]
fn timestamps_must_increase_and_stay_in_range() {
    let (_, gamma) = setup();
    // C.28: t_old equal to or after t_now is refused by the circuit.
    for t_old in [2, 3, u32::MAX] {
        let bad =
            [(SlotKind::Data, [1, D, 7, 7, 0], data_hint(0)), (SlotKind::Data, [1, D, 7, 7, 0], data_hint(t_old))];
        assert!(!run_accesses(&bad, gamma).0, "t_old {t_old} at t = 2 accepted");
    }
    // An unused slot carries zeros: a timestamp or flag hint on it is refused.
    for hint in [data_hint(1), AccessHint { t_old: 0, flags: WRITABLE }, AccessHint { t_old: 0, flags: EXECUTABLE }] {
        assert!(!run_accesses(&[(SlotKind::Data, [0, 0, 0, 0, 0], hint)], gamma).0, "{hint:?}");
    }
    assert!(run_accesses(&[(SlotKind::Data, [0, 0, 0, 0, 0], AccessHint::default())], gamma).0);
}

#[test]
fn permissions_travel_with_the_cells() {
    let (program, gamma) = setup();
    let text = u64::from(program.entry());
    let insn = u64::from(NOP);
    let text_flags = AccessHint { t_old: 0, flags: EXECUTABLE };
    // A fetch of the text balances; a fetch claiming a data cell executable does not.
    let (ok, rs, ws) = run_accesses(&[(SlotKind::Fetch, [1, text, insn, insn, 0], text_flags)], gamma);
    assert!(ok);
    check_products(
        &Image::of_program(&program),
        gamma,
        rs,
        ws,
        &[FinalCell { addr: program.entry(), value: NOP, t: 1 }],
    )
    .unwrap();
    let fetch_data = [(SlotKind::Fetch, [1, D, 7, 7, 0], AccessHint { t_old: 0, flags: EXECUTABLE | WRITABLE })];
    let (ok, rs, ws) = run_accesses(&fetch_data, gamma);
    assert!(ok);
    let finals = [FinalCell { addr: DATA_VADDR, value: 7, t: 1 }];
    assert_eq!(check_products(&Image::of_program(&program), gamma, rs, ws, &finals), Err(MemoryError::Unbalanced));
    // A fetch with its true (non-executable) flags is refused by the circuit.
    assert!(!run_accesses(&[(SlotKind::Fetch, [1, D, 7, 7, 0], data_hint(0))], gamma).0);
    // A store into the text: refused with the text's flags, unbalanced with forged ones.
    assert!(!run_accesses(&[(SlotKind::Data, [1, text, insn, 0, 1], text_flags)], gamma).0);
    let forged = AccessHint { t_old: 0, flags: EXECUTABLE | WRITABLE };
    let (ok, rs, ws) = run_accesses(&[(SlotKind::Data, [1, text, insn, 0, 1], forged)], gamma);
    assert!(ok);
    let finals = [FinalCell { addr: program.entry(), value: 0, t: 1 }];
    assert_eq!(check_products(&Image::of_program(&program), gamma, rs, ws, &finals), Err(MemoryError::Unbalanced));
}

#[test]
fn constraints_per_step_with_memory_and_chain() {
    // The marginal cost of one more NVM step in an invocation: CPU, two memory accesses and two
    // chain elements (the fold's own overhead is the folding engine's, measured there).
    let size = |k: usize| {
        let z = vec![Fr::from(0u64); STATE_LEN];
        synthesize_step(&NvmSteps::placeholder(k), 0, &z).unwrap().shape.num_constraints
    };
    let (one, nine) = (size(1), size(9));
    let per_step = (nine - one) / 8;
    eprintln!("invocation of 1 step: {one} constraints; per additional step: {per_step}");
    assert!(per_step < 1_500, "{per_step}");
}

#[test]
fn a_halted_machine_only_idles() {
    // B.24: after the exiting ECALL the filling steps must be the no-op, fetching nothing; the
    // state after them is the halted state (pc and clk unchanged).
    let mut code = li(A0, 7).to_vec();
    code.extend(exit_seq());
    let program = Program::from_elf(&elf(&code, &support::data_buffer(), 4096)).unwrap();
    let vm = nexus_vm::Vm::new(&program, &[], nexus_vm::VmConfig::default()).unwrap();
    let (_, trace) = vm.run_traced().unwrap();
    let steps = trace.steps().len(); // 5: li (2), li a7 (2), ecall
    let run = prepare(&program, &[], &trace, steps, 8).unwrap();
    let z = step_all(&run.invocations, &run.z0);
    let ecall_pc = trace.steps()[steps - 1].pc;
    assert_eq!(
        (z[0], z[32], z[37], z[38]),
        (Fr::from(u64::from(ecall_pc)), Fr::from(steps as u64), Fr::one(), Fr::from(7u64))
    );
    check_products(&Image::of_program(&program), z[35], z[33], z[34], &run.finals).unwrap();
    // A filling step that is not the no-op is refused.
    let mut busy = run.invocations[0].clone();
    busy.steps[6].insn = addi(A0, A0, 1);
    let s = synthesize_step(&busy, 0, &run.z0).unwrap();
    assert!(s.shape.check_relation(Fr::one(), &s.x, &s.w, None).is_err());
    // A system call the NVM does not serve (write to fd 7) has no trace to prove.
    let mut code = li(A0, 7).to_vec();
    code.extend(li(A7, 64));
    code.push(ECALL);
    let program = Program::from_elf(&elf(&code, &support::data_buffer(), 4096)).unwrap();
    let vm = nexus_vm::Vm::new(&program, &[], nexus_vm::VmConfig::default()).unwrap();
    let trace = vm.run_traced().map(|(_, t)| t);
    if let Ok(trace) = trace {
        assert!(prepare(&program, &[], &trace, trace.steps().len(), 8).is_err());
    }
}

#[test]
fn a_skipped_or_repeated_instruction_does_not_balance() {
    // Straight-line code, so any step can execute another instruction without trapping: the step
    // circuit is satisfied, but the fetch removes a cell memory never held at that pc.
    let mut code = li(A0, 1).to_vec();
    code.extend([addi(A0, A0, 1), addi(A0, A0, 2), reg_op(RegOp::Add, A0, A0, A0), addi(A0, A0, 3)]);
    code.extend(exit_seq());
    let program = Program::from_elf(&elf(&code, &support::data_buffer(), 4096)).unwrap();
    let (_, trace) = nexus_vm::Vm::new(&program, &[], nexus_vm::VmConfig::default()).unwrap().run_traced().unwrap();
    let run = prepare(&program, &[], &trace, trace.steps().len(), 4).unwrap();
    let honest = step_all(&run.invocations, &run.z0);
    check_products(&Image::of_program(&program), honest[35], honest[33], honest[34], &run.finals).unwrap();
    let insn = |i: usize| run.invocations[i / 4].steps[i % 4].insn;
    // Step 3 executes step 4's instruction (step 3 skipped), or step 4 repeats step 3's.
    for (at, word) in [(3, insn(4)), (4, insn(3))] {
        let mut forged = run.invocations.clone();
        forged[at / 4].steps[at % 4].insn = word;
        let z = step_all(&forged, &run.z0);
        let refused = check_products(&Image::of_program(&program), z[35], z[33], z[34], &run.finals);
        assert_eq!(refused, Err(MemoryError::Unbalanced), "step {at} runs {word:#010x}");
    }
}
