//! Regression tests named after PROVER-PITFALLS entries that the broader suites cover only
//! implicitly: an unwritten register that changes (B.12), bits that do not recombine into their
//! value or wrap past the field (B.14), counters past their width (C.29), a misaligned final cell
//! (C.30) and the last row of a run (C.31: a run that stops before its exit, or whose exit step is
//! changed).

mod support;

use ark_bn254::Fr;
use ark_ff::{One, PrimeField};
use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar};
use ark_relations::gr1cs::ConstraintSystem;
use nexus_nova::r1cs::extract;
use nexus_nvm_circuit::image::Image;
use nexus_nvm_circuit::{
    bits::decompose,
    cpu::{IoCursor, StepHint, alloc_state, step},
    io::PublicIo,
    memory::{FinalCell, MemoryError},
    steps::{CLK, IO, prepare},
    verify::{RunError, finish},
};
use support::common::*;
use support::step_all;

/// The witness index of a variable (it must be a single allocated witness).
fn witness_index(v: &FpVar<Fr>) -> usize {
    match v {
        FpVar::Var(a) => {
            assert!(a.variable.is_witness());
            a.variable.index().unwrap()
        }
        FpVar::Constant(_) => panic!("a constant"),
    }
}

#[test]
fn b12_an_unwritten_register_cannot_change() {
    // ADD x3, x1, x2: every next register but x3 must keep its value.
    let word = reg_op(RegOp::Add, 3, 1, 2);
    let cs = ConstraintSystem::<Fr>::new_ref();
    let mut regs = [0u32; 32];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = 1000 + i as u32;
    }
    let cur = alloc_state(&cs, 0x11000, &regs).unwrap();
    let w = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(word)))).unwrap();
    let out = step(&cs, &cur, &IoCursor::idle(), &w, word, StepHint::default()).unwrap();
    let (shape, a) = extract(&cs).unwrap();
    let a = a.unwrap();
    shape.check_relation(Fr::one(), &a.x, &a.w, None).unwrap();
    for (r, next) in out.next.regs.iter().enumerate() {
        let mut w = a.w.clone();
        w[witness_index(next)] += Fr::one();
        assert!(shape.check_relation(Fr::one(), &a.x, &w, None).is_err(), "x{} changed freely", r + 1);
    }
}

#[test]
fn b14_bits_recombine_into_their_value_without_wrapping() {
    let satisfied = |v: Fr, n: u32| {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let var = FpVar::new_witness(cs.clone(), || Ok(v)).unwrap();
        decompose(&cs, &var, n).unwrap();
        cs.is_satisfied().unwrap()
    };
    assert!(satisfied(Fr::from(u64::from(u32::MAX)), 32));
    // Values at or past 2^32, and "negative" ones (p − 1 would wrap into any bit pattern mod p).
    assert!(!satisfied(Fr::from(1u64 << 32), 32));
    assert!(!satisfied(-Fr::one(), 32));
    assert!(!satisfied(Fr::from(Fr::MODULUS_BIT_SIZE as u64) * Fr::from(1u64 << 40), 32));
    // A flipped bit with the value kept does not recombine.
    let cs = ConstraintSystem::<Fr>::new_ref();
    let var = FpVar::new_witness(cs.clone(), || Ok(Fr::from(0b1011u64))).unwrap();
    let bits = decompose(&cs, &var, 8).unwrap();
    let (shape, a) = extract(&cs).unwrap();
    let a = a.unwrap();
    let mut w = a.w.clone();
    let bit = match &bits[2] {
        ark_r1cs_std::boolean::Boolean::Var(b) => b.variable().index().unwrap(),
        ark_r1cs_std::boolean::Boolean::Constant(_) => panic!("constant bit"),
    };
    w[bit] = Fr::one() - w[bit];
    assert!(shape.check_relation(Fr::one(), &a.x, &w, None).is_err());
}

#[test]
fn c31_the_last_row_is_the_exit() {
    // li a0, 7; exit. A prefix that stops before the exit is not a proof of a run; the exit step
    // with another code changes the final state, which the statement reads.
    let mut code = li(A0, 7).to_vec();
    code.extend(exit_seq());
    let program = nexus_vm::Program::from_elf(&elf(&code, &support::data_buffer(), 4096)).unwrap();
    let (_, trace) = nexus_vm::Vm::new(&program, &[], nexus_vm::VmConfig::default()).unwrap().run_traced().unwrap();
    let steps = trace.steps().len();
    let run = prepare(&program, &[], &trace, steps - 1, steps - 1).unwrap();
    let z = step_all(&run.invocations, &run.z0);
    assert_eq!(
        finish(&Image::of_program(&program), PublicIo::EMPTY, &run.z0, &z, &run.finals, &[]),
        Err(RunError::NotHalted)
    );
    let run = prepare(&program, &[], &trace, steps, 2).unwrap();
    let z = step_all(&run.invocations, &run.z0);
    let statement = finish(&Image::of_program(&program), PublicIo::EMPTY, &run.z0, &z, &run.finals, &[]).unwrap();
    assert_eq!((statement.exit_code, statement.steps), (7, steps as u64));
    // The last invocation's final state names the exit; a stream counter past the end is refused.
    let mut late = z.clone();
    late[IO + 1] += Fr::one(); // in_pos beyond the (empty) input
    assert!(finish(&Image::of_program(&program), PublicIo::EMPTY, &run.z0, &late, &run.finals, &[]).is_err());
}

/// `li a0, 7; exit` on the NVM: the program and its honest final state, folded at k = 2.
fn exit_seven() -> (nexus_vm::Program, nexus_nvm_circuit::steps::PreparedRun, Vec<Fr>) {
    let mut code = li(A0, 7).to_vec();
    code.extend(exit_seq());
    let program = nexus_vm::Program::from_elf(&elf(&code, &support::data_buffer(), 4096)).unwrap();
    let (_, trace) = nexus_vm::Vm::new(&program, &[], nexus_vm::VmConfig::default()).unwrap().run_traced().unwrap();
    let run = prepare(&program, &[], &trace, trace.steps().len(), 2).unwrap();
    let z = step_all(&run.invocations, &run.z0);
    (program, run, z)
}

#[test]
fn c29_counters_past_their_width_are_refused() {
    // The clock bounds the timestamps (2·clk + 2 must stay below 2^32), the streams are bounded by
    // the NVM's limits, and every counter is a 32-bit value: a final state claiming more is refused
    // even where the rest of the run checks out.
    let (program, run, z) = exit_seven();
    let image = Image::of_program(&program);
    finish(&image, PublicIo::EMPTY, &run.z0, &z, &run.finals, &[]).unwrap();
    let cases: [(usize, u64, RunError); 5] = [
        (CLK, 1 << 31, RunError::Range("step count")),
        (CLK, 1 << 32, RunError::Range("step count")),
        (IO + 1, 1 << 32, RunError::Range("input position")),
        (
            IO + 4,
            nexus_vm::MAX_OUTPUT_BYTES as u64 + 1,
            RunError::Limit(nexus_vm::MAX_OUTPUT_BYTES as u64 + 1, "the output"),
        ),
        (IO + 6, nexus_vm::MAX_LOG_BYTES as u64 + 1, RunError::Limit(nexus_vm::MAX_LOG_BYTES as u64 + 1, "the log")),
    ];
    for (index, value, refusal) in cases {
        let mut bad = z.clone();
        bad[index] = Fr::from(value);
        assert_eq!(
            finish(&image, PublicIo::EMPTY, &run.z0, &bad, &run.finals, &[]),
            Err(refusal),
            "z[{index}] = {value}"
        );
    }
}

#[test]
fn c30_a_misaligned_final_cell_is_refused() {
    let (program, run, z) = exit_seven();
    let mut finals = run.finals.clone();
    let at = finals.partition_point(|c| c.addr < DATA_VADDR + 2);
    finals.insert(at, FinalCell { addr: DATA_VADDR + 2, value: 0, t: 0 });
    let refused = finish(&Image::of_program(&program), PublicIo::EMPTY, &run.z0, &z, &finals, &[]);
    // γ is drawn from the claimed final memory, so the run no longer starts from its challenge;
    // the memory check itself names the misaligned cell.
    assert_eq!(refused, Err(RunError::InitialState));
    let gamma = z[CLK + 3];
    assert_eq!(
        nexus_nvm_circuit::memory::check_products(&Image::of_program(&program), gamma, z[CLK + 1], z[CLK + 2], &finals),
        Err(MemoryError::Misaligned(DATA_VADDR + 2))
    );
}
