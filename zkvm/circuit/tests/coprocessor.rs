//! Co-processors in the proof: the SHA-256 and Keccak-f circuits against the NVM's functions, whole
//! runs that call both proven and verified, and refusals: a forged co-processor word, a chain
//! left out, a chain of another run.

mod support;

use ark_bn254::Fr;
use ark_ff::PrimeField;
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystem, ConstraintSystemRef};
use nexus_nvm_circuit::coprocessor::gates::{word_bits, word_value};
use nexus_nvm_circuit::coprocessor::{CallSteps, CallWitness, Kind, initial_call_state, keccak, sha256};
use nexus_nvm_circuit::cpu::{IoCursor, StepHint, alloc_state, step};
use nexus_nvm_circuit::image::{Image, image_root_of};
use nexus_nvm_circuit::io::PublicIo;
use nexus_nvm_circuit::proof::{Folding, NvmParams, VerifyError, prove, verify};
use nexus_nvm_circuit::steps::{GAMMA, H_ACC, memory_challenge, prepare};
use nexus_nvm_circuit::verify::{CallChainEnd, RunError, call_chain_hashes, finish};
use nexus_vm::coprocessor::{encode_custom0, keccak_f1600, sha256_compress};
use nexus_vm::{Program, Vm, VmConfig};
use rand::{Rng, SeedableRng, rngs::StdRng};
use support::common::*;
use support::step_all;

fn input_words(cs: &ConstraintSystemRef<Fr>, words: &[u32]) -> Vec<Vec<FpVar<Fr>>> {
    words
        .iter()
        .map(|w| word_bits(cs, &FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(*w)))).unwrap()).unwrap())
        .collect()
}

fn value(bits: &[FpVar<Fr>]) -> u32 {
    let v = word_value(bits).value().unwrap().into_bigint();
    u32::try_from(v.0[0]).unwrap()
}

#[test]
fn sha256_compression_circuit_computes_what_the_nvm_does() {
    let mut rng = StdRng::seed_from_u64(7);
    let state: [u32; 8] = rng.random();
    let block: [u32; 16] = rng.random();
    let cs = ConstraintSystem::<Fr>::new_ref();
    let out = sha256::compress(&cs, &input_words(&cs, &state), &input_words(&cs, &block)).unwrap();
    let mut expected = state;
    sha256_compress(&mut expected, &block);
    assert_eq!(out.iter().map(|w| value(w)).collect::<Vec<_>>(), expected);
    assert!(cs.is_satisfied().unwrap());
    eprintln!("SHA-256 compression: {} constraints", cs.num_constraints());
}

#[test]
fn keccak_permutation_circuit_computes_what_the_nvm_does() {
    let mut rng = StdRng::seed_from_u64(8);
    let lanes: [u64; 25] = rng.random();
    let cs = ConstraintSystem::<Fr>::new_ref();
    let words: Vec<u32> = lanes.iter().flat_map(|l| [*l as u32, (l >> 32) as u32]).collect();
    let bits = input_words(&cs, &words);
    let lane_bits: Vec<Vec<FpVar<Fr>>> = bits.chunks(2).map(|w| w.concat()).collect();
    let out = keccak::permute(&cs, &lane_bits).unwrap();
    let mut expected = lanes;
    keccak_f1600(&mut expected);
    for (l, e) in out.iter().zip(expected) {
        assert_eq!(u64::from(value(&l[..32])) | u64::from(value(&l[32..])) << 32, e);
    }
    assert!(cs.is_satisfied().unwrap());
    eprintln!("Keccak-f[1600]: {} constraints", cs.num_constraints());
}

/// Data layout of the test program: a Keccak state at 0, a SHA-256 state at 256, a block at 512.
const KECCAK_AT: u32 = DATA_VADDR;
const SHA_STATE_AT: u32 = DATA_VADDR + 256;
const SHA_BLOCK_AT: u32 = DATA_VADDR + 512;

/// Keccak-f on the state, then SHA-256 `sha_calls` times on the same block.
fn program_code(sha_calls: usize) -> Vec<u32> {
    let mut code = li(5, KECCAK_AT).to_vec();
    code.extend(li(6, SHA_STATE_AT));
    code.extend(li(7, SHA_BLOCK_AT));
    code.push(encode_custom0(0, 0, 0, 5, 0));
    for _ in 0..sha_calls {
        code.push(encode_custom0(1, 0, 0, 6, 7));
    }
    code
}

fn program(sha_calls: usize) -> Program {
    Program::from_elf(&elf(&with_exit(program_code(sha_calls)), &support::data_buffer(), 4096)).unwrap()
}

#[test]
fn a_run_calling_both_coprocessors_is_proven_and_verified() {
    let program = program(2);
    let vm = Vm::new(&program, &[], VmConfig::default()).unwrap();
    let (_, trace) = vm.run_traced().unwrap();
    let params = NvmParams::new(16, Folding::Sequential).unwrap();
    let proof = prove(&params, &program, &[], |_, _| {}).unwrap();
    assert_eq!(proof.calls.len(), 2, "one chain per co-processor called");
    let statement = verify(&params, &program, &proof).unwrap();
    assert_eq!(statement.steps, trace.steps().len() as u64, "a call counts as one instruction");
    // The final memory the verifier checked holds what the co-processors compute.
    let data = support::data_buffer();
    let word = |at: u32| u32::from_le_bytes(data[(at - DATA_VADDR) as usize..][..4].try_into().unwrap());
    let mut state: [u32; 8] = std::array::from_fn(|i| word(SHA_STATE_AT + 4 * i as u32));
    let block: [u32; 16] = std::array::from_fn(|i| word(SHA_BLOCK_AT + 4 * i as u32).swap_bytes());
    sha256_compress(&mut state, &block);
    sha256_compress(&mut state, &block);
    let proven = |at: u32| proof.finals.iter().find(|[addr, _, _]| *addr == at).map(|c| c[1]);
    assert_eq!((0..8).map(|i| proven(SHA_STATE_AT + 4 * i)).collect::<Vec<_>>(), state.map(Some));
    let mut lanes: [u64; 25] = std::array::from_fn(|i| {
        u64::from(word(KECCAK_AT + 8 * i as u32)) | u64::from(word(KECCAK_AT + 8 * i as u32 + 4)) << 32
    });
    keccak_f1600(&mut lanes);
    assert_eq!(proven(KECCAK_AT + 4), Some((lanes[0] >> 32) as u32));

    // Without a chain the calls are unaccounted for; with a chain of another run, γ or the chain's
    // folding proof fails.
    let mut missing = proof.clone();
    missing.calls.remove(1);
    assert!(verify(&params, &program, &missing).is_err());
    let other = prove(&params, &self::program(1), &[], |_, _| {}).unwrap();
    let mut swapped = proof.clone();
    swapped.calls[1] = other.calls[1].clone();
    assert!(verify(&params, &program, &swapped).is_err());
    let mut reordered = proof.clone();
    reordered.calls.swap(0, 1);
    assert!(matches!(verify(&params, &program, &reordered), Err(VerifyError::Run(RunError::CallChains))));
}

/// Each chain's final state over `calls` from `γ`, every fold synthesized on its own.
fn chain_states(calls: &[(Kind, Vec<CallWitness>)], gamma: Fr) -> Vec<(Kind, Vec<Fr>)> {
    calls
        .iter()
        .map(|(kind, calls)| {
            let mut z = initial_call_state(gamma);
            for (i, f) in CallSteps::folds(*kind, calls).iter().enumerate() {
                let s = nexus_nova::step_circuit::synthesize_step(f, i as u64, &z).unwrap();
                s.shape.check_relation(Fr::from(1u64), &s.x, &s.w, None).unwrap();
                z = s.z_out;
            }
            (*kind, z)
        })
        .collect()
}

#[test]
fn a_forged_coprocessor_word_satisfies_the_cpu_but_not_the_join() {
    const K: usize = 32;
    let program = program(1);
    let vm = Vm::new(&program, &[], VmConfig::default()).unwrap();
    let (_, trace) = vm.run_traced().unwrap();
    let mut run = prepare(&program, &[], &trace, trace.steps().len(), K).unwrap();
    // The chains, honest: their inputs are what memory held.
    let ends = chain_states(&run.calls, run.z0[GAMMA]);
    let chain_ends: Vec<CallChainEnd<'_>> = ends.iter().map(|(kind, z)| CallChainEnd { kind: *kind, z }).collect();
    let honest = step_all(&run.invocations, &run.z0);
    finish(&Image::of_program(&program), PublicIo::EMPTY, &run.z0, &honest, &run.finals, &chain_ends).unwrap();

    // SHA-256's last state word is written by a micro-step; the prover claims another value and
    // keeps memory consistent (the word is never read again, the final memory says so).
    let sha_state_last = SHA_STATE_AT + 28;
    let step = run
        .invocations
        .iter_mut()
        .flat_map(|inv| inv.steps.iter_mut())
        .rfind(|s| s.hint.call_new != 0 && s.data.flags != 0 && s.hint.data_old != s.hint.call_new)
        .unwrap();
    step.hint.call_new ^= 1;
    let forged = step.hint.call_new;
    let cell = run.finals.iter_mut().find(|c| c.addr == sha_state_last).unwrap();
    cell.value = forged;
    // γ as the verifier draws it from the forged run's access chain.
    let z = step_all(&run.invocations, &run.z0);
    let gamma = memory_challenge(
        image_root_of(&program),
        PublicIo::EMPTY,
        z[H_ACC],
        &run.finals,
        &call_chain_hashes(&chain_ends).unwrap(),
    );
    run.z0[GAMMA] = gamma;
    let ends = chain_states(&run.calls, gamma);
    let chain_ends: Vec<CallChainEnd<'_>> = ends.iter().map(|(kind, z)| CallChainEnd { kind: *kind, z }).collect();
    // Every CPU step is satisfied and memory balances; the call elements do not.
    let z = step_all(&run.invocations, &run.z0);
    assert_eq!(
        finish(&Image::of_program(&program), PublicIo::EMPTY, &run.z0, &z, &run.finals, &chain_ends),
        Err(RunError::Calls)
    );
}

/// One synthesis of micro-step `done` of the co-processor instruction `word` (rs1 = x5, rs2 = x6);
/// returns the constraint system and the data slot's `(new, write)`.
fn micro_step_slot(word: u32, done: u64, hint: StepHint, rs1: u32) -> (ConstraintSystemRef<Fr>, Fr, Fr) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let mut regs = [0u32; 32];
    regs[5] = rs1;
    regs[6] = 0x0010_0400;
    let cur = alloc_state(&cs, 0x11000, &regs).unwrap();
    let word_var = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(word)))).unwrap();
    let cursor = IoCursor { done: FpVar::Constant(Fr::from(done)), input_left: FpVar::Constant(Fr::from(0u64)) };
    let out = step(&cs, &cur, &cursor, &word_var, word, hint).unwrap();
    (cs, out.data.new.value().unwrap(), out.data.write.value().unwrap())
}

fn micro_step(word: u32, done: u64, hint: StepHint, rs1: u32) -> ConstraintSystemRef<Fr> {
    micro_step_slot(word, done, hint, rs1).0
}

#[test]
fn coprocessor_micro_steps_leave_no_witness_free() {
    let keccak = encode_custom0(0, 0, 0, 5, 0);
    let sha = encode_custom0(1, 0, 0, 5, 6);
    let moved = StepHint { data_old: 0x1234_5678, input_byte: 0, call_new: 0x9abc_def0 };
    let read = StepHint { call_new: 0, ..moved };
    for (word, done, hint) in [
        (keccak, 0, moved),
        (keccak, 49, moved),
        (keccak, 50, StepHint::default()),
        (sha, 3, read),
        (sha, 16, moved),
        (sha, 24, StepHint::default()),
    ] {
        let cs = micro_step(word, done, hint, 0x0010_0000);
        assert!(cs.is_satisfied().unwrap(), "{word:#010x} at word {done}");
        // The first 33 witnesses are the state and the word (fixed by the caller).
        let free = support::free_witnesses(&cs, 33);
        assert!(free.is_empty(), "{word:#010x} at word {done}: free witnesses {free:?}");
    }
}

#[test]
fn coprocessor_words_are_where_the_nvm_accesses_them() {
    let keccak = encode_custom0(0, 0, 0, 5, 0);
    let sha = encode_custom0(1, 0, 0, 5, 6);
    let moved = StepHint { data_old: 1, input_byte: 0, call_new: 2 };
    // A misaligned pointer traps on the NVM and has no satisfying micro-step.
    assert!(!micro_step(keccak, 0, moved, 0x0010_0002).is_satisfied().unwrap());
    // A word SHA-256 only reads stays as it was (and needs no write permission); its state words
    // are replaced.
    let (cs, new, write) = micro_step_slot(sha, 15, moved, 0x0010_0000);
    assert!(cs.is_satisfied().unwrap());
    assert_eq!((new, write), (Fr::from(1u64), Fr::from(0u64)));
    let (cs, new, write) = micro_step_slot(sha, 16, moved, 0x0010_0000);
    assert!(cs.is_satisfied().unwrap());
    assert_eq!((new, write), (Fr::from(2u64), Fr::from(1u64)));
    // A co-processor writes no register (rd = x0), and Keccak-f names no rs2.
    assert!(!micro_step(keccak | (1 << 7), 0, moved, 0x0010_0000).is_satisfied().unwrap());
    assert!(!micro_step(keccak | (6 << 20), 0, moved, 0x0010_0000).is_satisfied().unwrap());
}

#[test]
fn b26_every_witness_of_a_run_is_wired() {
    // PROVER-PITFALLS B.26: a constraint that exists but is not wired leaves a witness free. In
    // every invocation of a run with loads, stores, a co-processor call of each kind and an input
    // byte, and in a fold of each chain, witnesses perturbed alone (300 per invocation, sampled:
    // a full scan is minutes; single steps are scanned whole in `rv32i`, `io` and above) must each
    // break it.
    use ark_ff::One;
    use rand::seq::IndexedRandom;
    let mut code = program_code(1);
    code.extend([lw(8, 6, 0), sw(8, 6, 4)]);
    code.extend(echo_code(SHA_BLOCK_AT, 1, false));
    let program = Program::from_elf(&elf(&code, &support::data_buffer(), 4096)).unwrap();
    let input = b"x";
    let (_, trace) = Vm::new(&program, input, VmConfig::default()).unwrap().run_traced().unwrap();
    let run = prepare(&program, input, &trace, trace.steps().len(), 4).unwrap();
    let mut rng = StdRng::seed_from_u64(26);
    let mut z = run.z0.clone();
    for (i, inv) in run.invocations.iter().enumerate() {
        let s = nexus_nova::step_circuit::synthesize_step(inv, i as u64, &z).unwrap();
        s.shape.check_relation(Fr::one(), &s.x, &s.w, None).unwrap();
        let indices: Vec<usize> = (0..s.w.len()).collect();
        for &j in indices.choose_multiple(&mut rng, 300) {
            let mut w = s.w.clone();
            w[j] += Fr::one();
            assert!(s.shape.check_relation(Fr::one(), &s.x, &w, None).is_err(), "invocation {i}: witness {j} is free");
        }
        z = s.z_out;
    }
    for (kind, calls) in &run.calls {
        // One fold with a call and (for SHA-256) slots that are off.
        let fold = &CallSteps::folds(*kind, calls)[0];
        let s = nexus_nova::step_circuit::synthesize_step(fold, 0, &initial_call_state(run.z0[GAMMA])).unwrap();
        s.shape.check_relation(Fr::one(), &s.x, &s.w, None).unwrap();
        let indices: Vec<usize> = (0..s.w.len()).collect();
        for &j in indices.choose_multiple(&mut rng, 150) {
            let mut w = s.w.clone();
            w[j] += Fr::one();
            assert!(s.shape.check_relation(Fr::one(), &s.x, &w, None).is_err(), "{kind:?} fold: witness {j} is free");
        }
    }
}
