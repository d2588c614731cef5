//! NVM steps folded with the folding engine: a run's invocations proven with IVC, verified, and the
//! memory check finished as the verifier does; a forged load still folds (the step circuit only
//! sees a data word) but fails the memory check.

mod support;

use ark_bn254::Fr;
use nexus_nova::ivc::{IvcProof, PublicParams};
use nexus_nvm_circuit::{
    memory::{MemoryError, check_products},
    steps::{NvmSteps, memory_challenge, prepare},
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
    let run = prepare(&program, &trace, 12, K).unwrap();
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
    let (rs, ws, gamma, h_acc) = (z[33], z[34], z[35], z[36]);
    assert_eq!(memory_challenge(&program, h_acc, &run.finals), gamma);
    check_products(&program, gamma, rs, ws, &run.finals).unwrap();
    let expected_x11 =
        trace.steps()[..12].iter().rev().find_map(|s| s.reg_write().filter(|w| w.index == 11)).unwrap().new;
    assert_eq!(z[11], Fr::from(u64::from(expected_x11)), "x11 after the run");

    // The last load claims a word memory did not hold: every step still satisfies its circuit, so
    // the proof verifies, but the memory check does not balance, whatever final memory is claimed.
    let mut forged = run.clone();
    forged.invocations[2].steps[3].data_old ^= 1;
    let proof = fold_all(&forged.invocations, &forged.z0);
    let z = proof.verify(&pp, 3, &forged.z0).unwrap().to_vec();
    let (rs, ws, gamma) = (z[33], z[34], z[35]);
    assert_eq!(check_products(&program, gamma, rs, ws, &run.finals), Err(MemoryError::Unbalanced));
    let mut lie = run.finals.clone();
    for c in &mut lie {
        c.value ^= 1;
    }
    assert_eq!(check_products(&program, gamma, rs, ws, &lie), Err(MemoryError::Unbalanced));
}
