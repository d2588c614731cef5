//! Traces: per-step records, fast/traced agreement, and independent replay of segments.

mod common;
use common::*;

use nexus_vm::{Program, ReplayError, Vm, VmConfig, replay_segment};

fn fixture(name: &str) -> Program {
    let path = format!("{}/tests/fixtures/{name}.elf", env!("CARGO_MANIFEST_DIR"));
    Program::from_elf(&std::fs::read(path).unwrap()).unwrap()
}

fn sha_input(count: u32, msg: &[u8]) -> Vec<u8> {
    let mut v = count.to_le_bytes().to_vec();
    v.extend(msg);
    v
}

#[test]
fn step_records_what_the_prover_needs() {
    let code = with_exit(vec![
        lui(28, DATA_VADDR >> 12),
        addi(T0, ZERO, -7),
        store(Store::Sb, T0, 28, 1),
        lw(T1, 28, 0),
        addi(ZERO, T1, 1),
    ]);
    let program = Program::from_elf(&elf(&code, &[0x11, 0x22, 0x33, 0x44], 4096)).unwrap();
    let vm = Vm::new(&program, &[], VmConfig::default()).unwrap();
    let (res, trace) = vm.run_traced().unwrap();
    let s = trace.steps();
    assert_eq!(s.len() as u64, res.steps);
    // lui: no reads, write x28.
    assert_eq!(s[0].pc, TEXT_VADDR);
    assert_eq!(s[0].insn, code[0]);
    assert_eq!(s[0].next_pc, TEXT_VADDR + 4);
    assert_eq!(s[0].reg_reads().count(), 0);
    let w = s[0].reg_write().unwrap();
    assert_eq!((w.index, w.old, w.new), (28, 0, DATA_VADDR));
    // sb: reads x28 then t0, one word-level write with old and new word.
    assert_eq!(s[2].reg_reads().collect::<Vec<_>>(), vec![(28, DATA_VADDR), (T0 as u8, (-7i32) as u32)]);
    assert_eq!(s[2].reg_write(), None);
    let m = trace.step_memory(2);
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].addr, m[0].old, m[0].new, m[0].is_write), (DATA_VADDR, 0x4433_2211, 0x4433_f911, true));
    // lw: a read with old == new.
    let m = trace.step_memory(3);
    assert_eq!((m[0].addr, m[0].old, m[0].new, m[0].is_write), (DATA_VADDR, 0x4433_f911, 0x4433_f911, false));
    assert_eq!(s[3].reg_write().unwrap().new, 0x4433_f911);
    // write to x0 is recorded as x0: 0 -> 0.
    let w = s[4].reg_write().unwrap();
    assert_eq!((w.index, w.old, w.new), (0, 0, 0));
    // exit ecall: reads a7 first, then a0; pc does not advance.
    let last = s.last().unwrap();
    assert_eq!(last.insn, ECALL);
    assert_eq!(last.reg_reads().collect::<Vec<_>>(), vec![(A7 as u8, 93), (A0 as u8, 0)]);
    assert_eq!(last.next_pc, last.pc);
    assert!(trace.bytes_per_step() >= 48.0);
}

#[test]
fn fast_and_traced_agree_on_guests() {
    let cases = [
        ("fib", 1000u32.to_le_bytes().to_vec()),
        ("sha256", sha_input(10, b"hello world, this is a message that spans blocks.....")),
    ];
    for (name, input) in cases {
        let program = fixture(name);
        let vm = Vm::new(&program, &input, VmConfig::default()).unwrap();
        let fast = vm.run_fast().unwrap();
        let (traced, trace) = vm.run_traced().unwrap();
        assert_eq!(fast, traced, "{name}");
        assert_eq!(trace.steps().len() as u64, fast.steps, "{name}");
        assert!(fast.steps > 1000, "{name}");
    }
}

#[test]
fn segments_replay_independently_to_the_same_final_state() {
    let program = fixture("sha256");
    let input = sha_input(3, &[0x5a; 100]);
    let vm = Vm::new(&program, &input, VmConfig::default()).unwrap();
    let (res, trace) = vm.run_traced().unwrap();
    for k in [1usize, 7, 64, 1000, 1 << 20] {
        let segments = trace.segments(k);
        assert_eq!(segments.len(), trace.steps().len().div_ceil(k));
        assert_eq!(segments[0].start, *trace.initial_state());
        let mut output = Vec::new();
        let mut log = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            // Segments chain: each starts where the previous ended.
            if i > 0 {
                assert_eq!(seg.start, segments[i - 1].end, "k={k} segment {i}");
            }
        }
        // Replay in reverse order, so no state can leak from one replay into the next.
        let mut outs = Vec::new();
        for seg in segments.iter().rev() {
            let out = replay_segment(&vm, seg).unwrap_or_else(|e| panic!("k={k} segment {}: {e}", seg.index));
            assert_eq!(out.end, seg.end);
            assert_eq!(out.memory_out, seg.memory_out);
            outs.push(out);
        }
        for out in outs.into_iter().rev() {
            output.extend(out.output);
            log.extend(out.log);
        }
        assert_eq!(output, res.output, "k={k}");
        assert_eq!(log, res.log, "k={k}");
        let last = segments.last().unwrap();
        assert_eq!(last.end.exit_code, Some(res.exit_code));
        assert_eq!(last.end.io.output_len as usize, res.output.len());
        assert_eq!(last.end.io.input_pos as usize, input.len());
        assert!(segments[..segments.len() - 1].iter().all(|s| s.end.exit_code.is_none()));
    }
}

#[test]
fn tampered_segments_are_rejected() {
    let program = fixture("sha256");
    let input = sha_input(2, b"abc");
    let vm = Vm::new(&program, &input, VmConfig::default()).unwrap();
    let (_, trace) = vm.run_traced().unwrap();
    let segments = trace.segments(500);
    let seg = segments.iter().find(|s| !s.memory_in.is_empty() && s.index > 0).unwrap();
    replay_segment(&vm, seg).unwrap();

    // A wrong initial memory value.
    let mut bad = seg.clone();
    bad.memory_in[0].1 ^= 1;
    assert!(replay_segment(&vm, &bad).is_err());
    // A missing memory word.
    let mut bad = seg.clone();
    bad.memory_in.remove(0);
    assert!(matches!(replay_segment(&vm, &bad), Err(ReplayError::MissingMemory { .. })));
    // A wrong start register (one that is read: sp is used by nearly everything).
    let mut bad = seg.clone();
    bad.start.regs[2] ^= 4;
    assert!(replay_segment(&vm, &bad).is_err());
    // A wrong claimed end state.
    let mut bad = seg.clone();
    bad.end.regs[31] ^= 1;
    bad.end.regs[1] ^= 1;
    assert!(matches!(replay_segment(&vm, &bad), Err(ReplayError::EndStateMismatch { .. })));
    let mut bad = seg.clone();
    bad.end.pc ^= 4;
    assert!(matches!(replay_segment(&vm, &bad), Err(ReplayError::EndStateMismatch { .. })));
    let mut bad = seg.clone();
    bad.memory_out[0].1 ^= 1;
    let r = replay_segment(&vm, &bad);
    assert!(
        matches!(r, Err(ReplayError::EndStateMismatch { what: "memory" })) || bad.memory_out == seg.memory_out,
        "{r:?}"
    );
    // A wrong recorded step.
    let mut steps = seg.steps.to_vec();
    let j = steps.iter().position(|s| s.reg_write().is_some_and(|w| w.index != 0)).unwrap();
    steps[j].rd_new ^= 1;
    let mut bad = seg.clone();
    bad.steps = &steps;
    assert!(matches!(replay_segment(&vm, &bad), Err(ReplayError::Mismatch { .. })));
    // x0 claimed nonzero, or a start after exit.
    let mut bad = seg.clone();
    bad.start.regs[0] = 1;
    assert!(matches!(replay_segment(&vm, &bad), Err(ReplayError::Malformed { .. })));
    let mut bad = seg.clone();
    bad.start.exit_code = Some(0);
    assert!(matches!(replay_segment(&vm, &bad), Err(ReplayError::Malformed { .. })));
    // A wrong io position.
    let mut bad = segments[0].clone();
    bad.start.io.input_pos = 1;
    assert!(replay_segment(&vm, &bad).is_err());
}

#[test]
fn streamed_segments_equal_segments_of_the_full_trace() {
    let program = fixture("sha256");
    let input = sha_input(4, &[7; 70]);
    let vm = Vm::new(&program, &input, VmConfig::default()).unwrap();
    let (res, trace) = vm.run_traced().unwrap();
    for k in [1usize, 100, 4096, trace.steps().len(), trace.steps().len() - 1, 1 << 30] {
        let expected = trace.segments(k);
        let mut got = 0usize;
        let streamed = vm
            .run_segmented(k, |seg| {
                let e = &expected[got];
                assert_eq!((seg.index, seg.first_step), (e.index, e.first_step), "k={k}");
                assert_eq!(seg.start, e.start, "k={k} segment {got}");
                assert_eq!(seg.end, e.end, "k={k} segment {got}");
                assert_eq!(seg.steps, e.steps, "k={k} segment {got}");
                assert_eq!(seg.mem, e.mem, "k={k} segment {got}");
                assert_eq!(seg.memory_in, e.memory_in);
                assert_eq!(seg.memory_out, e.memory_out);
                // Streamed segments replay like any other.
                if got.is_multiple_of(7) {
                    replay_segment(&vm, seg).unwrap();
                }
                got += 1;
            })
            .unwrap();
        assert_eq!(got, expected.len(), "k={k}");
        assert_eq!(streamed, res);
    }
}
