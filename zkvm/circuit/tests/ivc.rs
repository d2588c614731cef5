//! NVM steps folded with the folding engine: a run's invocations proven with IVC, verified, and the
//! memory check finished as the verifier does; a forged load still folds (the step circuit only
//! sees a data word) but fails the memory check.

mod support;

use ark_bn254::Fr;
use nexus_nova::ivc::{IvcProof, PublicParams};
use nexus_nvm_circuit::image::{Image, image_root_of};
use nexus_nvm_circuit::{
    io::PublicIo,
    memory::{MemoryError, check_products},
    steps::{H_ACC, NvmSteps, memory_challenge, prepare},
};
use support::common::*;
use support::run_traced;

const K: usize = 4;

/// Twelve steps of loads, stores and arithmetic on the data buffer.
fn program_code() -> Vec<u32> {
    let mut code = li(5, DATA_VADDR).to_vec(); // 2 steps
    code.extend([
        lw(6, 5, 0),
        addi(6, 6, 3),
        sw(6, 5, 4),
        load(Load::Lbu, 7, 5, 5),
        add(8, 6, 7),
        store(Store::Sh, 8, 5, 10),
        lw(9, 5, 8),
        reg_op(RegOp::Mul, 10, 9, 8),
        sw(10, 5, 12),
        lw(11, 5, 12),
    ]);
    code
}

#[test]
fn a_folded_run_verifies_and_its_memory_balances() {
    let (program, trace) = run_traced(program_code());
    let run = prepare(&program, &[], &trace, 12, K).unwrap();
    let pp = PublicParams::setup(&NvmSteps::placeholder(K)).unwrap();
    eprintln!("augmented circuit with {K} NVM steps: {} constraints", pp.shape.num_constraints);
    let fold_all = |invocations: &[NvmSteps], z0: &[Fr]| {
        let mut proof = IvcProof::prove_first(&pp, &invocations[0], z0).unwrap();
        for inv in &invocations[1..] {
            proof.prove_step(&pp, inv).unwrap();
        }
        proof
    };
    let proof = fold_all(&run.invocations, &run.z0);
    let z = proof.verify(&pp, run.invocations.len() as u64, &run.z0).unwrap().to_vec();
    let (rs, ws, gamma, h_acc) = (z[33], z[34], z[35], z[H_ACC]);
    assert_eq!(memory_challenge(image_root_of(&program), PublicIo::EMPTY, h_acc, &run.finals, &[]), gamma);
    check_products(&Image::of_program(&program), gamma, rs, ws, &run.finals).unwrap();
    let expected_x11 =
        trace.steps()[..12].iter().rev().find_map(|s| s.reg_write().filter(|w| w.index == 11)).unwrap().new;
    assert_eq!(z[11], Fr::from(u64::from(expected_x11)), "x11 after the run");

    // The last load claims a word memory did not hold: every step still satisfies its circuit, so
    // the proof verifies, but the memory check does not balance, whatever final memory is claimed.
    let mut forged = run.clone();
    forged.invocations[2].steps[3].hint.data_old ^= 1;
    let proof = fold_all(&forged.invocations, &forged.z0);
    let z = proof.verify(&pp, 3, &forged.z0).unwrap().to_vec();
    let (rs, ws, gamma) = (z[33], z[34], z[35]);
    assert_eq!(check_products(&Image::of_program(&program), gamma, rs, ws, &run.finals), Err(MemoryError::Unbalanced));
    let mut lie = run.finals.clone();
    for c in &mut lie {
        c.value ^= 1;
    }
    assert_eq!(check_products(&Image::of_program(&program), gamma, rs, ws, &lie), Err(MemoryError::Unbalanced));
}

/// `a0 = 5!` by a loop, stored and reloaded through memory, then `exit(a0)`.
fn factorial_code() -> Vec<u32> {
    let mut code = li(T0, 5).to_vec();
    code.extend(li(A0, 1));
    code.extend(li(T1, DATA_VADDR));
    code.extend([
        reg_op(RegOp::Mul, A0, A0, T0), // loop:
        sw(A0, T1, 16),
        lw(A0, T1, 16),
        addi(T0, T0, -1),
        branch(Branch::Bne, T0, ZERO, -16),
    ]);
    code.extend(exit_seq());
    code
}

#[test]
fn a_whole_run_proves_its_exit_code_and_step_count() {
    let program = nexus_vm::Program::from_elf(&elf(&factorial_code(), &support::data_buffer(), 4096)).unwrap();
    let vm = nexus_vm::Vm::new(&program, &[], nexus_vm::VmConfig::default()).unwrap();
    let (result, trace) = vm.run_traced().unwrap();
    assert_eq!(result.exit_code, 120);
    let steps = trace.steps().len();
    let run = prepare(&program, &[], &trace, steps, K).unwrap();
    assert_eq!(run.invocations.len(), steps.div_ceil(K));
    let pp = PublicParams::setup(&NvmSteps::placeholder(K)).unwrap();
    let mut proof = IvcProof::prove_first(&pp, &run.invocations[0], &run.z0).unwrap();
    for inv in &run.invocations[1..] {
        proof.prove_step(&pp, inv).unwrap();
    }
    // The verifier: z0 from the program and the challenge the final state's chain gives.
    let z = proof.zi.clone();
    let gamma = memory_challenge(image_root_of(&program), PublicIo::EMPTY, z[H_ACC], &run.finals, &[]);
    let z0 = nexus_nvm_circuit::steps::initial_state(program.entry(), gamma, 0);
    proof.verify(&pp, proof.i, &z0).unwrap();
    let statement =
        nexus_nvm_circuit::verify::finish(&Image::of_program(&program), PublicIo::EMPTY, &z0, &z, &run.finals, &[])
            .unwrap();
    assert_eq!((statement.exit_code, statement.steps), (120, steps as u64));
    assert_eq!(statement.program_digest, Some(program.digest()));
    // Another program (one instruction different) has another digest and initial memory.
    let mut other_code = factorial_code();
    other_code[0] = lui(T0, 1);
    let other = nexus_vm::Program::from_elf(&elf(&other_code, &support::data_buffer(), 4096)).unwrap();
    assert!(
        nexus_nvm_circuit::verify::finish(&Image::of_program(&other), PublicIo::EMPTY, &z0, &z, &run.finals, &[])
            .is_err()
    );
    // Claims about the run other than the truth are refused: a final memory not the run's.
    let mut finals = run.finals.clone();
    finals.pop();
    assert!(
        nexus_nvm_circuit::verify::finish(&Image::of_program(&program), PublicIo::EMPTY, &z0, &z, &finals, &[])
            .is_err()
    );
}

#[test]
fn sequential_and_tree_proofs_of_the_same_run_both_verify() {
    // The run's invocations as the leaves of a PCD tree (proven level by level in parallel): the
    // root verifies like the sequential proof and ends in the same state, so the same statement.
    let mut code = li(A0, 3).to_vec();
    code.extend(li(T1, DATA_VADDR));
    code.extend([sw(A0, T1, 0), lw(A2, T1, 0), reg_op(RegOp::Mul, A0, A2, A2)]);
    code.extend(exit_seq());
    let program = nexus_vm::Program::from_elf(&elf(&code, &support::data_buffer(), 4096)).unwrap();
    let vm = nexus_vm::Vm::new(&program, &[], nexus_vm::VmConfig::default()).unwrap();
    let (result, trace) = vm.run_traced().unwrap();
    let run = prepare(&program, &[], &trace, trace.steps().len(), K).unwrap();
    let pp = nexus_nova::pcd::setup(&NvmSteps::placeholder(K)).unwrap();
    let root = nexus_nova::pcd::prove_tree(&pp, &run.invocations, &run.z0).unwrap();
    let z = root.verify(&pp, run.invocations.len() as u64, &run.z0).unwrap().to_vec();
    let statement =
        nexus_nvm_circuit::verify::finish(&Image::of_program(&program), PublicIo::EMPTY, &run.z0, &z, &run.finals, &[])
            .unwrap();
    assert_eq!((statement.exit_code, statement.steps), (result.exit_code, trace.steps().len() as u64));
    assert_eq!(result.exit_code, 9);
    // The sequential proof of the same run ends in the same state.
    let ivc = PublicParams::setup(&NvmSteps::placeholder(K)).unwrap();
    let mut proof = IvcProof::prove_first(&ivc, &run.invocations[0], &run.z0).unwrap();
    for inv in &run.invocations[1..] {
        proof.prove_step(&ivc, inv).unwrap();
    }
    assert_eq!(proof.verify(&ivc, run.invocations.len() as u64, &run.z0).unwrap(), &z[..]);
}

#[test]
fn proof_files_round_trip_and_bad_files_are_refused_cleanly() {
    use nexus_nvm_circuit::proof::{Folding, NvmParams, NvmProof, VerifyError, prove, verify};
    let program = nexus_vm::Program::from_elf(&elf(&factorial_code(), &support::data_buffer(), 4096)).unwrap();
    let params = NvmParams::new(8, Folding::Sequential).unwrap();
    let calls = std::sync::Mutex::new(Vec::new());
    let proof = prove(&params, &program, &[], |done, total| calls.lock().unwrap().push((done, total))).unwrap();
    let calls = calls.into_inner().unwrap();
    assert_eq!(calls.last().map(|c| c.0), calls.last().map(|c| c.1), "progress reaches the total");
    let bytes = proof.to_bytes().unwrap();
    let back = NvmProof::from_bytes(&bytes).unwrap();
    let statement = verify(&params, &program, &back).unwrap();
    assert_eq!(statement.exit_code, 120);
    // Truncated or extended files, and another file type, are decode errors.
    for cut in [0, 8, 20, bytes.len() / 3, bytes.len() - 1] {
        assert!(matches!(NvmProof::from_bytes(&bytes[..cut]), Err(VerifyError::Decode(_))), "cut {cut}");
    }
    let mut long = bytes.clone();
    long.push(1);
    assert!(matches!(NvmProof::from_bytes(&long), Err(VerifyError::Decode(_))));
    // A flipped byte anywhere is refused, by the decoder or the verifier, never accepted.
    for at in (20..bytes.len()).step_by(bytes.len() / 12) {
        let mut b = bytes.clone();
        b[at] ^= 0x10;
        if let Ok(p) = NvmProof::from_bytes(&b) {
            assert!(verify(&params, &program, &p).is_err(), "byte {at} flipped and accepted");
        }
    }
    // Every statement field lives in the proof's final state: changing one (steps, exit code, the
    // halt, the pc, a register) makes the folding proof fail, whatever else is kept.
    for (index, what) in [(32, "steps"), (38, "exit code"), (37, "halted"), (0, "pc"), (10, "a0")] {
        let mut p = back.clone();
        p.sequential.as_mut().unwrap().zi[index] += ark_bn254::Fr::from(1u64);
        assert!(verify(&params, &program, &p).is_err(), "{what} changed and accepted");
    }
    // The first row: a run claimed from another start (pc, sp, or non-empty products) is refused.
    let z = &back.sequential.as_ref().unwrap().zi;
    let z0 = nexus_nvm_circuit::steps::initial_state(
        program.entry(),
        memory_challenge(image_root_of(&program), PublicIo::EMPTY, z[H_ACC], &back_finals(&back), &[]),
        0,
    );
    for (index, what) in [(0, "entry pc"), (2, "sp"), (33, "RS"), (32, "clk")] {
        let mut bad = z0.clone();
        bad[index] += ark_bn254::Fr::from(4u64);
        let refused = nexus_nvm_circuit::verify::finish(
            &Image::of_program(&program),
            PublicIo::EMPTY,
            &bad,
            z,
            &back_finals(&back),
            &[],
        );
        assert!(refused.is_err(), "start with another {what} accepted");
    }
    // A claimed final memory that is not the run's, a proof under another program or k.
    let mut p = back.clone();
    p.finals[0][1] ^= 1;
    assert!(verify(&params, &program, &p).is_err());
    let other = nexus_vm::Program::from_elf(&elf(&factorial_code(), &[1; 16], 4096)).unwrap();
    assert!(verify(&params, &other, &back).is_err());
    let mut p = back;
    p.k = 4;
    assert_eq!(verify(&params, &program, &p), Err(VerifyError::Parameters(4, Some(Folding::Sequential))));
    assert!(matches!(NvmParams::new(0, Folding::Sequential), Err(VerifyError::StepsPerFold(0))));
}

fn back_finals(p: &nexus_nvm_circuit::proof::NvmProof) -> Vec<nexus_nvm_circuit::memory::FinalCell> {
    p.finals
        .iter()
        .map(|[addr, value, t]| nexus_nvm_circuit::memory::FinalCell { addr: *addr, value: *value, t: *t })
        .collect()
}

#[test]
fn tree_folded_proof_files_verify_and_name_their_folding() {
    use nexus_nvm_circuit::proof::{Folding, NvmParams, NvmProof, VerifyError, prove, verify};
    let program = nexus_vm::Program::from_elf(&elf(&factorial_code(), &support::data_buffer(), 4096)).unwrap();
    let tree = NvmParams::new(8, Folding::Tree).unwrap();
    let nodes = std::sync::Mutex::new(Vec::new());
    let proof = prove(&tree, &program, &[], |done, total| nodes.lock().unwrap().push((done, total))).unwrap();
    let mut nodes = nodes.into_inner().unwrap();
    nodes.sort();
    let leaves = proof.tree.as_ref().unwrap().b as usize;
    assert_eq!(nodes, (1..2 * leaves).map(|d| (d, 2 * leaves - 1)).collect::<Vec<_>>(), "every node reported");
    let back = NvmProof::from_bytes(&proof.to_bytes().unwrap()).unwrap();
    assert_eq!(back.folding(), Some(Folding::Tree));
    assert_eq!(verify(&tree, &program, &back).unwrap().exit_code, 120);
    // Under sequential parameters, with both or neither folding proof, or another final state: refused.
    let sequential = NvmParams::new(8, Folding::Sequential).unwrap();
    assert_eq!(verify(&sequential, &program, &back), Err(VerifyError::Parameters(8, Some(Folding::Tree))));
    let mut neither = back.clone();
    neither.tree = None;
    assert_eq!(verify(&tree, &program, &neither), Err(VerifyError::Parameters(8, None)));
    let mut both = back.clone();
    both.sequential = Some(prove(&sequential, &program, &[], |_, _| {}).unwrap().sequential.unwrap());
    assert_eq!(both.folding(), None);
    assert!(verify(&tree, &program, &both).is_err() && verify(&sequential, &program, &both).is_err());
    let mut forged = back;
    forged.tree.as_mut().unwrap().z_b[38] += Fr::from(1u64); // the exit code
    assert!(matches!(verify(&tree, &program, &forged), Err(VerifyError::Fold(_))));
}
