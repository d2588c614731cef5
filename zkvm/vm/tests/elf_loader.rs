//! ELF loader: one test per rejected input, the digest definition, and a byte-mutation test that
//! the loader never panics.

mod common;
use common::*;

use nexus_vm::{ElfError, MAX_ELF_BYTES, Program};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

fn good() -> Vec<u8> {
    elf(&with_exit(vec![NOP]), &[1, 2, 3], 64)
}

fn set16(f: &mut [u8], at: usize, v: u16) {
    f[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn set32(f: &mut [u8], at: usize, v: u32) {
    f[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
/// Offset of field `field` (in words) of program header `i`.
fn ph(i: usize, field: usize) -> usize {
    52 + 32 * i + 4 * field
}
const P_TYPE: usize = 0;
const P_OFFSET: usize = 1;
const P_VADDR: usize = 2;
const P_MEMSZ: usize = 5;
const P_FLAGS: usize = 6;

fn err(bytes: &[u8]) -> ElfError {
    Program::from_elf(bytes).expect_err("must be rejected")
}

#[test]
fn good_elf_loads() {
    let p = Program::from_elf(&good()).unwrap();
    assert_eq!(p.entry(), TEXT_VADDR);
    assert_eq!(p.segments().len(), 2);
    assert!(p.segments()[0].is_executable());
    assert_eq!(p.segments()[1].memsz, 64);
}

#[test]
fn rejects_non_elf_and_truncated_headers() {
    assert_eq!(err(b""), ElfError::NotElf);
    assert_eq!(err(b"\x7fEL"), ElfError::NotElf);
    assert_eq!(err(b"#!/bin/sh\n"), ElfError::NotElf);
    assert!(matches!(err(b"\x7fELF\x01"), ElfError::Truncated { .. }));
    assert!(matches!(err(&good()[..40]), ElfError::Truncated { .. }));
    // Program headers cut off.
    assert!(matches!(err(&good()[..60]), ElfError::Truncated { .. }));
    // Segment data cut off.
    let g = good();
    assert!(matches!(err(&g[..g.len() - 1]), ElfError::Truncated { .. }));
}

#[test]
fn rejects_wrong_identification() {
    let mut f = good();
    f[4] = 2;
    assert_eq!(err(&f), ElfError::WrongClass { found: 2 });
    let mut f = good();
    f[5] = 2;
    assert_eq!(err(&f), ElfError::WrongEndianness { found: 2 });
    let mut f = good();
    set16(&mut f, 18, 62); // x86-64
    assert_eq!(err(&f), ElfError::WrongMachine { found: 62 });
    let mut f = good();
    set16(&mut f, 16, 3); // ET_DYN
    assert_eq!(err(&f), ElfError::NotExecutable { found: 3 });
    let mut f = good();
    set32(&mut f, 36, 1); // EF_RISCV_RVC
    assert_eq!(err(&f), ElfError::CompressedInstructions { flags: 1 });
}

#[test]
fn rejects_bad_segments() {
    // No loadable segment.
    let mut f = good();
    set32(&mut f, ph(0, P_TYPE), 4);
    set32(&mut f, ph(1, P_TYPE), 4);
    assert_eq!(err(&f), ElfError::NoSegments);
    // No executable segment.
    let mut f = good();
    set32(&mut f, ph(0, P_FLAGS), 4);
    assert_eq!(err(&f), ElfError::NoExecutableSegment);
    // W+X.
    let mut f = good();
    set32(&mut f, ph(0, P_FLAGS), 7);
    assert_eq!(err(&f), ElfError::WritableExecutableSegment { vaddr: TEXT_VADDR });
    // Overlap: move data onto text.
    let mut f = good();
    set32(&mut f, ph(1, P_VADDR), TEXT_VADDR + 4);
    assert!(matches!(err(&f), ElfError::OverlappingSegments { .. }));
    // Different permissions sharing a page.
    let mut f = good();
    set32(&mut f, ph(1, P_VADDR), TEXT_VADDR + 0x200);
    assert!(matches!(err(&f), ElfError::SegmentsSharePage { .. }));
    // In the null page, in the stack, past 4 GiB.
    for vaddr in [0u32, 0x800, nexus_vm::STACK_BOTTOM, 0xffff_fff0] {
        let mut f = good();
        set32(&mut f, ph(1, P_VADDR), vaddr);
        assert!(matches!(err(&f), ElfError::SegmentOutOfRange { .. }), "vaddr {vaddr:#x}");
    }
    // filesz > memsz.
    let mut f = good();
    set32(&mut f, ph(1, P_MEMSZ), 2);
    assert!(matches!(err(&f), ElfError::FileSizeExceedsMemSize { .. }));
    // Segment data beyond the end of the file.
    let mut f = good();
    set32(&mut f, ph(1, P_OFFSET), 0xffff_fff0);
    assert!(matches!(err(&f), ElfError::Truncated { .. }));
    // Segments too far apart for one flat image.
    let mut f = good();
    set32(&mut f, ph(1, P_VADDR), 0x7000_0000);
    assert!(matches!(err(&f), ElfError::ImageTooLarge { .. }));
    // Huge executable segment (would make pre-decoding expensive).
    let mut f = good();
    set32(&mut f, ph(0, P_MEMSZ), 0x0200_0000);
    set32(&mut f, ph(1, P_VADDR), 0x0300_0000);
    assert!(matches!(err(&f), ElfError::TextTooLarge { .. }));
    // Dynamic linking.
    let mut f = good();
    set32(&mut f, ph(1, P_TYPE), 3);
    assert_eq!(err(&f), ElfError::NotStatic { p_type: 3 });
}

#[test]
fn rejects_bad_entry_points() {
    for entry in [DATA_VADDR, TEXT_VADDR + 2, TEXT_VADDR + 0x1000, 0] {
        let mut f = good();
        set32(&mut f, 24, entry);
        assert_eq!(err(&f), ElfError::EntryNotExecutable { entry: entry as u64 });
    }
}

#[test]
fn rejects_oversized_files_before_parsing() {
    let mut f = good();
    f.resize(MAX_ELF_BYTES + 1, 0);
    assert_eq!(err(&f), ElfError::TooLarge { size_bytes: MAX_ELF_BYTES + 1, max_bytes: MAX_ELF_BYTES });
}

#[test]
fn digest_follows_its_definition() {
    let p = Program::from_elf(&good()).unwrap();
    let mut h = Sha256::new();
    h.update(b"nexus-nvm/program/v1");
    h.update(p.entry().to_le_bytes());
    h.update(2u32.to_le_bytes());
    for s in p.segments() {
        h.update(s.vaddr.to_le_bytes());
        h.update(s.memsz.to_le_bytes());
        h.update(s.flags.to_le_bytes());
        h.update((s.data.len() as u32).to_le_bytes());
        h.update(&s.data);
    }
    let expected: [u8; 32] = h.finalize().into();
    assert_eq!(p.digest(), expected);

    // Every part of the program changes the digest.
    let variants = [
        elf(&with_exit(vec![NOP]), &[1, 2, 4], 64),      // data byte
        elf(&with_exit(vec![NOP]), &[1, 2, 3], 68),      // memsz
        elf(&with_exit(vec![NOP, NOP]), &[1, 2, 3], 64), // code
        elf_at(TEXT_VADDR + 4, TEXT_VADDR, &with_exit(vec![NOP]), DATA_VADDR, &[1, 2, 3], 64), // entry
        elf(&with_exit(vec![NOP]), &[1, 2, 3, 0], 64),   // filesz
    ];
    for (i, v) in variants.iter().enumerate() {
        let q = Program::from_elf(v).unwrap();
        assert_ne!(q.digest(), p.digest(), "variant {i}");
    }
    // Non-semantic bytes (padding between headers and text) do not.
    let mut f = good();
    f[200] = 0xaa;
    assert_eq!(Program::from_elf(&f).unwrap().digest(), p.digest());
}

#[test]
fn mutated_elves_never_panic() {
    let base = good();
    let mut rng = StdRng::seed_from_u64(42);
    let mut accepted = 0;
    for _ in 0..5_000 {
        let mut f = base.clone();
        for _ in 0..rng.random_range(1..8) {
            // Bias mutations toward the headers, where the interesting checks are.
            let i = if rng.random_bool(0.8) { rng.random_range(0..52 + 64) } else { rng.random_range(0..f.len()) };
            f[i] = rng.random();
        }
        if rng.random_bool(0.1) {
            f.truncate(rng.random_range(0..f.len()));
        }
        if let Ok(p) = Program::from_elf(&f) {
            accepted += 1;
            // Whatever loads must also run without panicking.
            let vm = nexus_vm::Vm::new(&p, &[], nexus_vm::VmConfig { max_steps: 1000, ..Default::default() }).unwrap();
            let _ = vm.run_fast();
        }
    }
    assert!(accepted > 0, "mutation test never exercised the accepting path");
}

#[test]
fn compiled_guests_load() {
    for name in ["fib", "sha256"] {
        let bytes = std::fs::read(format!("{}/tests/fixtures/{name}.elf", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let p = Program::from_elf(&bytes).unwrap();
        assert!(p.segments().iter().any(|s| s.is_executable()));
    }
}
