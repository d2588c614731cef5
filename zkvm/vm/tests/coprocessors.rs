//! Co-processors: results against reference crates, encodings, trace records, registration.

mod common;
use common::*;

use std::sync::Arc;

use nexus_vm::coprocessor::encode_custom0;
use nexus_vm::{Coprocessor, CoprocessorMemory, Coprocessors, Program, TrapKind, Vm, VmConfig, VmError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// `.insn r 0x0B, 0, 0, x0, a0, x0`
fn keccak_insn(rs1: u32) -> u32 {
    encode_custom0(0, 0, 0, rs1, 0)
}
/// `.insn r 0x0B, 1, 0, x0, a0, a1`
fn sha_insn(rs1: u32, rs2: u32) -> u32 {
    encode_custom0(1, 0, 0, rs1, rs2)
}

/// Runs `insns` with `data` at DATA_VADDR, then writes `out_len` bytes from DATA_VADDR to stdout.
fn run_with(insns: Vec<u32>, data: &[u8], out_len: u32, config: VmConfig) -> Result<Vec<u8>, VmError> {
    let mut code = insns;
    code.extend(li(A0, 1));
    code.extend(li(A1, DATA_VADDR));
    code.extend(li(A2, out_len));
    code.extend(li(A7, 64));
    code.push(ECALL);
    let program = Program::from_elf(&elf(&with_exit(code), data, 4096)).unwrap();
    let vm = Vm::new(&program, &[], config)?;
    let fast = vm.run_fast()?;
    let (traced, _) = vm.run_traced()?;
    assert_eq!(fast, traced);
    Ok(fast.output)
}

#[test]
fn encodings_match_the_spec() {
    // The words `.insn r 0x0B, f3, f7, x0, a0, a1` assembles to (R-type: f7|rs2|rs1|f3|rd|opcode).
    assert_eq!(keccak_insn(A0), 0x0005_000b);
    assert_eq!(sha_insn(A0, A1), 0x00b5_100b);
}

#[test]
fn keccak_matches_reference() {
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..20 {
        let mut lanes = [0u64; 25];
        lanes.iter_mut().for_each(|l| *l = rng.random());
        let data: Vec<u8> = lanes.iter().flat_map(|l| l.to_le_bytes()).collect();
        let mut code = li(T0, DATA_VADDR).to_vec();
        code.push(keccak_insn(T0));
        let out = run_with(code, &data, 200, VmConfig::default()).unwrap();
        keccak::f1600(&mut lanes);
        let expected: Vec<u8> = lanes.iter().flat_map(|l| l.to_le_bytes()).collect();
        assert_eq!(out, expected);
    }
    // The exported software permutation agrees too (the prover's witness generator may use it).
    let mut a = [7u64; 25];
    let mut b = a;
    nexus_vm::coprocessor::keccak_f1600(&mut a);
    keccak::f1600(&mut b);
    assert_eq!(a, b);
}

#[test]
fn sha256_matches_reference() {
    let mut rng = StdRng::seed_from_u64(2);
    for _ in 0..20 {
        let mut state = [0u32; 8];
        state.iter_mut().for_each(|s| *s = rng.random());
        let block: [u8; 64] = std::array::from_fn(|_| rng.random());
        let mut data: Vec<u8> = state.iter().flat_map(|s| s.to_le_bytes()).collect();
        data.extend(block);
        let mut code = li(T0, DATA_VADDR).to_vec();
        code.extend(li(T1, DATA_VADDR + 32));
        code.push(sha_insn(T0, T1));
        let out = run_with(code, &data, 32, VmConfig::default()).unwrap();
        sha2::block_api::compress256(&mut state, &[block]);
        let expected: Vec<u8> = state.iter().flat_map(|s| s.to_le_bytes()).collect();
        assert_eq!(out, expected);
    }
}

#[test]
fn unregistered_or_non_canonical_custom_words_are_illegal() {
    let mut code = li(T0, DATA_VADDR).to_vec();
    code.push(keccak_insn(T0));
    let config = VmConfig { coprocessors: Coprocessors::none(), ..Default::default() };
    match run_with(code, &[0; 200], 0, config) {
        Err(VmError::Trap(t)) => {
            assert_eq!(t.kind, TrapKind::IllegalInstruction { insn: keccak_insn(T0) });
            assert_eq!(t.pc, TEXT_VADDR + 8);
        }
        other => panic!("{other:?}"),
    }
    // rd != x0, rs2 != x0 for keccak, other funct7, custom-1 opcode: not claimed by the defaults.
    for w in [
        encode_custom0(0, 0, 5, T0, 0),
        encode_custom0(0, 0, 0, T0, 3),
        encode_custom0(1, 1, 0, T0, T1),
        encode_custom0(2, 0, 0, T0, T1),
        keccak_insn(T0) | 0x20, // custom-1
    ] {
        let mut code = li(T0, DATA_VADDR).to_vec();
        code.push(w);
        match run_with(code, &[0; 200], 0, VmConfig::default()) {
            Err(VmError::Trap(t)) => assert_eq!(t.kind, TrapKind::IllegalInstruction { insn: w }),
            other => panic!("{w:#x}: {other:?}"),
        }
    }
}

#[test]
fn coprocessor_faults_trap() {
    // Misaligned state pointer.
    let mut code = li(T0, DATA_VADDR + 2).to_vec();
    code.push(keccak_insn(T0));
    let e = run_with(code, &[0; 200], 0, VmConfig::default()).unwrap_err();
    assert!(matches!(e, VmError::Trap(t) if t.kind == TrapKind::MisalignedLoad { addr: DATA_VADDR + 2 }));
    // State in read-only text: reads succeed, the first write faults.
    let mut code = li(T0, TEXT_VADDR).to_vec();
    code.push(keccak_insn(T0));
    code.extend([NOP; 60]);
    let e = run_with(code, &[0; 200], 0, VmConfig::default()).unwrap_err();
    assert!(matches!(e, VmError::Trap(t) if t.kind == TrapKind::StoreFault { addr: TEXT_VADDR }));
}

#[test]
fn keccak_step_trace_record() {
    let mut code = li(T0, DATA_VADDR).to_vec();
    code.push(keccak_insn(T0));
    let program = Program::from_elf(&elf(&with_exit(code), &[0; 200], 4096)).unwrap();
    let vm = Vm::new(&program, &[], VmConfig::default()).unwrap();
    let (_, trace) = vm.run_traced().unwrap();
    let i = trace.steps().iter().position(|s| s.insn == keccak_insn(T0)).unwrap();
    let step = trace.steps()[i];
    assert_eq!(step.reg_reads().collect::<Vec<_>>(), vec![(T0 as u8, DATA_VADDR), (0, 0)]);
    assert_eq!(step.reg_write(), None);
    let mem = trace.step_memory(i);
    assert_eq!(mem.len(), 100);
    assert!(mem[..50].iter().all(|a| !a.is_write && a.old == 0));
    assert!(mem[50..].iter().all(|a| a.is_write));
    assert_eq!(mem[50].addr, DATA_VADDR);
    let mut lanes = [0u64; 25];
    keccak::f1600(&mut lanes);
    assert_eq!(mem[50].new, lanes[0] as u32);
    assert_eq!(mem[51].new, (lanes[0] >> 32) as u32);
    // The segment containing the co-processor step replays.
    for seg in trace.segments(2) {
        nexus_vm::replay_segment(&vm, &seg).unwrap();
    }
}

/// A user-defined co-processor on custom-1: rd = rs1 * 3 + mem[rs2].
#[derive(Debug)]
struct MulAddMem;
impl Coprocessor for MulAddMem {
    fn name(&self) -> &'static str {
        "test-muladd"
    }
    fn claims(&self, insn: u32) -> bool {
        insn & 0xfe00_707f == 0x0000_002b
    }
    fn execute(
        &self,
        _insn: u32,
        rs1: u32,
        rs2: u32,
        memory: &mut dyn CoprocessorMemory,
    ) -> Result<Option<u32>, TrapKind> {
        Ok(Some(rs1.wrapping_mul(3).wrapping_add(memory.load_word(rs2)?)))
    }
}

#[test]
fn custom_coprocessors_register_through_the_trait() {
    let insn = (T1 << 20) | (T0 << 15) | (T2 << 7) | 0x2b; // custom-1, rd = t2
    let mut code = li(T0, 5).to_vec();
    code.extend(li(T1, DATA_VADDR));
    code.push(insn);
    code.extend(li(T0, DATA_VADDR));
    code.push(sw(T2, T0, 0));
    let config = VmConfig { coprocessors: Coprocessors::default().with(Arc::new(MulAddMem)), ..Default::default() };
    assert_eq!(config.coprocessors.names(), ["keccak-f1600", "sha256-compress", "test-muladd"]);
    let out = run_with(code, &100u32.to_le_bytes(), 4, config).unwrap();
    assert_eq!(out, 115u32.to_le_bytes());
}
