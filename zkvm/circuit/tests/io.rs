//! The `read` and `write` system calls: one circuit step per byte moved and one to retire, exactly
//! the NVM's results (bytes moved, a0, memory, output), every witness pinned; the statement's input
//! and output are the bytes the run moved, and claims of other bytes are refused even by a prover
//! who draws the challenge for them.

mod support;

use ark_bn254::Fr;
use ark_ff::{One, PrimeField};
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, fields::fp::FpVar};
use ark_relations::gr1cs::ConstraintSystem;
use nexus_nvm_circuit::image::{Image, image_root_of};
use nexus_nvm_circuit::{
    cpu::{IoCursor, StepHint, alloc_state, state_values, step},
    io::PublicIo,
    proof::{Folding, NvmParams, prove, verify},
    steps::{H_ACC, IO, PreparedRun, initial_state, memory_challenge, prepare},
    verify::{RunError, Statement, finish},
};
use nexus_vm::{Program, Vm, VmConfig};
use sha2::{Digest, Sha256};
use support::common::*;
use support::step_all;

/// Reads up to `count` bytes of input to `DATA_VADDR + offset`, logs them (fd 2), writes them to
/// the output (fd 1), and exits with the number of bytes read.
fn echo(offset: u32, count: u32) -> Program {
    Program::from_elf(&elf(&echo_code(DATA_VADDR + offset, count, true), &support::data_buffer(), 4096)).unwrap()
}

/// Runs `program` on `input`, prepares the whole run with `k`, steps it and finishes it as the
/// verifier does with the output the run wrote.
fn prove_unfolded(program: &Program, input: &[u8], k: usize) -> (PreparedRun, Vec<Fr>, Statement) {
    let vm = Vm::new(program, input, VmConfig::default()).unwrap();
    let (result, trace) = vm.run_traced().unwrap();
    let run = prepare(program, input, &trace, trace.steps().len(), k).unwrap();
    assert_eq!(run.output, result.output, "the output the circuit's steps write is the NVM's");
    let z = step_all(&run.invocations, &run.z0);
    let statement =
        finish(&Image::of_program(program), PublicIo { input, output: &run.output }, &run.z0, &z, &run.finals, &[])
            .unwrap();
    assert_eq!((statement.exit_code, statement.steps), (result.exit_code, trace.steps().len() as u64));
    (run, z, statement)
}

#[test]
fn reads_and_writes_prove_the_bytes_the_nvm_moved() {
    // Aligned and unaligned buffers; fewer, exactly as many, and more bytes asked than there are.
    for (offset, count, input) in [
        (1, 16, &b"hello, zk world, and more"[..]),
        (0, 8, &b"12345678"[..]),
        (3, 40, &b"short"[..]),
        (2, 0, &b"ignored"[..]),
        (0, 12, &b""[..]),
    ] {
        let program = echo(offset, count);
        let (run, z, statement) = prove_unfolded(&program, input, 8);
        let n = input.len().min(count as usize);
        assert_eq!(run.output, &input[..n]);
        assert_eq!(statement.exit_code as usize, n);
        assert_eq!(statement.input_digest, <[u8; 32]>::from(Sha256::digest(input)));
        assert_eq!(statement.output_digest, <[u8; 32]>::from(Sha256::digest(&input[..n])));
        // The streams: n bytes read, n written to the output and n to the log, none in flight.
        let io = |k: usize| z[IO + k];
        assert_eq!(
            [io(0), io(1), io(2), io(4), io(6)],
            [0, n, input.len(), n, n].map(|v| Fr::from(v as u64)),
            "offset {offset}, count {count}"
        );
    }
}

#[test]
fn claims_of_other_input_or_output_are_refused() {
    let program = echo(1, 16);
    let input = b"the claimed input";
    let (run, z, _) = prove_unfolded(&program, input, 8);
    let honest = PublicIo { input, output: &run.output };
    // Other bytes of the same length, under the honest run's challenge: γ does not match.
    let mut other_input = input.to_vec();
    other_input[3] ^= 1;
    let mut other_output = run.output.clone();
    other_output[0] ^= 1;
    for claim in [
        PublicIo { input: &other_input, ..honest },
        PublicIo { output: &other_output, ..honest },
        PublicIo { output: &run.output[1..], ..honest },
    ] {
        assert_eq!(
            finish(&Image::of_program(&program), claim, &run.z0, &z, &run.finals, &[]),
            Err(RunError::InitialState)
        );
    }
    // A prover who draws γ for the claimed bytes and steps the same run from it: every step is
    // satisfied and memory balances, but the fingerprints are of the bytes the run moved.
    for (claim, refusal) in [
        (PublicIo { input: &other_input, ..honest }, RunError::Input),
        (PublicIo { output: &other_output, ..honest }, RunError::Output),
    ] {
        let gamma = memory_challenge(image_root_of(&program), claim, z[H_ACC], &run.finals, &[]);
        let z0 = initial_state(program.entry(), gamma, claim.input.len());
        let z = step_all(&run.invocations, &z0);
        assert_eq!(finish(&Image::of_program(&program), claim, &z0, &z, &run.finals, &[]), Err(refusal));
    }
}

#[test]
fn proofs_carry_their_input_and_output() {
    let program = echo(2, 10);
    let params = NvmParams::new(8, Folding::Sequential).unwrap();
    let proof = prove(&params, &program, b"0123456789abc", |_, _| {}).unwrap();
    assert_eq!(proof.output, b"0123456789");
    let statement = verify(&params, &program, &proof).unwrap();
    assert_eq!(statement.exit_code, 10);
    let mut p = proof.clone();
    p.input.push(b'!');
    assert!(verify(&params, &program, &p).is_err(), "a longer input accepted");
    let mut p = proof.clone();
    p.output[9] = b'X';
    assert!(verify(&params, &program, &p).is_err(), "another output accepted");
    let mut p = proof;
    p.output.clear();
    assert!(verify(&params, &program, &p).is_err(), "an empty output accepted");
}

/// One ECALL step from registers `regs` and the I/O cursor `(done, input_left)`.
struct Call {
    regs: [u32; 32],
    done: u32,
    input_left: u32,
    hint: StepHint,
}

const PC: u32 = 0x11000;

fn syscall(number: u32, fd: u32, buf: u32, count: u32) -> [u32; 32] {
    let mut regs = [0u32; 32];
    regs[A7 as usize] = number;
    regs[A0 as usize] = fd;
    regs[A1 as usize] = buf;
    regs[A2 as usize] = count;
    regs[2] = 0x7000;
    regs
}

/// What a synthesized ECALL step did.
struct Outcome {
    /// The constraints are satisfied.
    ok: bool,
    /// The next pc and a0.
    pc_a0: (u32, u32),
    /// The data slot `[active, addr, old, new, write]`.
    slot: [u64; 5],
    /// The stream flags `[reads, outputs, logs]`.
    flags: [u64; 3],
    /// Witnesses that are not pinned (when satisfied).
    free: Vec<usize>,
}

fn run_call(call: &Call) -> Outcome {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let cur = alloc_state(&cs, PC, &call.regs).unwrap();
    let word = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(ECALL)))).unwrap();
    let constant = |v: u32| FpVar::Constant(Fr::from(u64::from(v)));
    let cursor = IoCursor { done: constant(call.done), input_left: constant(call.input_left) };
    let out = step(&cs, &cur, &cursor, &word, ECALL, call.hint).unwrap();
    let value = |v: &FpVar<Fr>| v.value().unwrap().into_bigint().0[0];
    let (pc, regs) = state_values(&out.next).unwrap();
    let d = &out.data;
    let slot = [&d.active, &d.addr, &d.old, &d.new, &d.write].map(value);
    let flags = [&out.io.reads, &out.io.outputs, &out.io.logs].map(value);
    let ok = cs.is_satisfied().unwrap();
    let free = if ok { support::free_witnesses(&cs, 33) } else { Vec::new() };
    Outcome { ok, pc_a0: (pc, regs[A0 as usize]), slot, flags, free }
}

#[test]
fn a_system_call_step_moves_one_byte_or_retires() {
    let buf = DATA_VADDR + 5;
    let word = DATA_VADDR + 4;
    // read: 2 of 5 bytes done, 7 input bytes left: the byte 0xab goes into lane 3 of the word at
    // buf + 2 (= DATA_VADDR + 7), the pc stays.
    let read = Call {
        regs: syscall(63, 0, buf, 5),
        done: 2,
        input_left: 7,
        hint: StepHint { data_old: 0x1122_3344, input_byte: 0xab, call_new: 0 },
    };
    let o = run_call(&read);
    assert!(o.ok && o.free.is_empty(), "free witnesses {:?}", o.free);
    assert_eq!(o.pc_a0, (PC, 0));
    assert_eq!(o.slot, [1, u64::from(word), 0x1122_3344, 0xab22_3344, 1]);
    assert_eq!(o.flags, [1, 0, 0]);
    // read, input exhausted after 3 bytes: retires with a0 = 3.
    let o = run_call(&Call { done: 3, input_left: 0, hint: StepHint::default(), ..read });
    assert!(o.ok && o.free.is_empty());
    assert_eq!((o.pc_a0, o.slot, o.flags), ((PC + 4, 3), [0; 5], [0; 3]));
    // write to the log, 1 of 2 bytes done: reads lane 2 of the word at buf + 1 (= DATA_VADDR + 6).
    let log = Call {
        regs: syscall(64, 2, buf, 2),
        done: 1,
        input_left: 0,
        hint: StepHint { data_old: 0x1122_3344, input_byte: 0, call_new: 0 },
    };
    let o = run_call(&log);
    assert!(o.ok && o.free.is_empty());
    assert_eq!((o.pc_a0.0, o.slot, o.flags), (PC, [1, u64::from(word), 0x1122_3344, 0x1122_3344, 0], [0, 0, 1]));
    // write to the output, all done: retires with a0 = count.
    let o = run_call(&Call { regs: syscall(64, 1, buf, 2), done: 2, hint: StepHint::default(), ..log });
    assert!(o.ok);
    assert_eq!((o.pc_a0, o.flags), ((PC + 4, 2), [0; 3]));
    // Refused: another fd, another number, an input byte on a write, a byte not in its lane.
    let unsatisfied = |call: Call| !run_call(&call).ok;
    assert!(unsatisfied(Call { regs: syscall(63, 1, buf, 5), ..read }), "read from fd 1");
    assert!(unsatisfied(Call { regs: syscall(64, 3, buf, 2), ..log }), "write to fd 3");
    assert!(unsatisfied(Call { regs: syscall(65, 0, buf, 5), ..read }), "system call 65");
    assert!(unsatisfied(Call { hint: StepHint { input_byte: 7, ..log.hint }, ..log }), "input byte on a write");
    // A prover who claims the read retired early (done 2 of 5, input left): no assignment with
    // pc + 4 exists; the honest one keeps the pc.
    assert_eq!(run_call(&read).pc_a0.0, PC);
}

#[test]
fn a_byte_in_flight_belongs_to_a_system_call() {
    // `done ≠ 0` at any instruction other than a read/write is unsatisfiable (exit included).
    let in_flight = |regs: &[u32; 32], word: u32| {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let cur = alloc_state(&cs, PC, regs).unwrap();
        let w = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(word)))).unwrap();
        let cursor = IoCursor { done: FpVar::Constant(Fr::one()), input_left: FpVar::Constant(Fr::from(0u64)) };
        step(&cs, &cur, &cursor, &w, word, StepHint::default()).unwrap();
        cs.is_satisfied().unwrap()
    };
    assert!(!in_flight(&syscall(93, 0, 0, 0), ECALL));
    assert!(!in_flight(&[0; 32], addi(0, 0, 0)));
}
