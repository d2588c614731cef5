//! The initial memory's Poseidon Merkle root: it names the image, its openings verify and nothing
//! else does, and a proof verifies against the root alone (no ELF) with the same statement.

mod support;

use ark_bn254::Fr;
use nexus_nvm_circuit::image::{ImageTree, fr_bytes, fr_from_bytes};
use nexus_nvm_circuit::memory::{MemoryError, initial_cell};
use nexus_nvm_circuit::proof::{Folding, NvmParams, VerifyError, prove, verify, verify_image};
use nexus_nvm_circuit::verify::RunError;
use nexus_vm::Program;
use support::common::*;

/// Loads and stores in the file-backed data and a store into the zero-filled (.bss) words after it.
fn program_with(data: &[u8]) -> Program {
    let mut code = li(5, DATA_VADDR).to_vec();
    code.extend([lw(6, 5, 0), addi(6, 6, 1), sw(6, 5, 4), lw(7, 5, 2044)]);
    code.extend(li(9, DATA_VADDR + data.len() as u32 + 8));
    code.extend([sw(6, 9, 0), lw(10, 9, 4)]);
    Program::from_elf(&elf(&with_exit(code), data, data.len() as u32 + 8192)).unwrap()
}

#[test]
fn the_image_root_names_the_initial_memory_and_openings_check_words() {
    let data = support::data_buffer();
    let program = program_with(&data);
    let tree = ImageTree::new(&program);
    let commitment = tree.commitment();
    assert_eq!(commitment.root(), ImageTree::new(&program).root(), "deterministic");
    assert_eq!(fr_from_bytes(&fr_bytes(&commitment.root())), Some(commitment.root()));
    // One byte of data elsewhere is another image.
    let mut other = data.clone();
    other[4000] ^= 1;
    assert_ne!(ImageTree::new(&program_with(&other)).root(), commitment.root());

    for addr in [program.entry(), DATA_VADDR, DATA_VADDR + 4092] {
        let (value, flags) = initial_cell(&program, addr).unwrap();
        let opening = tree.open(addr).unwrap();
        assert!(commitment.verify_opening(addr, value, flags, &opening), "{addr:#x}");
        // Another value, other flags, another address, another leaf or a changed sibling: refused.
        assert!(!commitment.verify_opening(addr, value ^ 1, flags, &opening));
        assert!(!commitment.verify_opening(addr, value, flags ^ 1, &opening));
        assert!(!commitment.verify_opening(addr + 4, value, flags, &opening));
        let mut moved = opening.clone();
        moved.index ^= 1;
        assert!(!commitment.verify_opening(addr, value, flags, &moved));
        let mut bent = opening.clone();
        bent.path[0] += Fr::from(1u64);
        assert!(!commitment.verify_opening(addr, value, flags, &bent));
        let mut short = opening;
        short.path.pop();
        assert!(!commitment.verify_opening(addr, value, flags, &short));
    }
    assert!(tree.open(0x10).is_none(), "an unmapped word has no opening");
    // Zero-filled words are named by the segment table, not the tree.
    let bss = DATA_VADDR + data.len() as u32 + 8;
    assert!(tree.open(bss).is_none() && !commitment.file_backed(bss) && commitment.file_backed(DATA_VADDR));
    assert_eq!(initial_cell(&program, bss), Some((0, nexus_nvm_circuit::memory::WRITABLE)));
}

#[test]
fn a_proof_verifies_against_the_image_root_alone() {
    let program = program_with(&support::data_buffer());
    let params = NvmParams::new(8, Folding::Sequential).unwrap();
    let proof = prove(&params, &program, &[], |_, _| {}).unwrap();
    let with_elf = verify(&params, &program, &proof).unwrap();
    let root = ImageTree::new(&program).root();
    let alone = verify_image(&params, root, &proof).unwrap();
    assert_eq!(with_elf.program_digest, Some(program.digest()));
    assert_eq!(alone.program_digest, None);
    assert_eq!(alone.image_root, fr_bytes(&root));
    assert_eq!(
        (alone.image_root, alone.steps, alone.exit_code),
        (with_elf.image_root, with_elf.steps, with_elf.exit_code)
    );

    assert!(proof.initial.iter().all(|w| w.addr < DATA_VADDR + 4096), "only file-backed words are opened");
    // Another root; an opened word with another value; a word left unopened.
    assert_eq!(verify_image(&params, root + Fr::from(1u64), &proof), Err(VerifyError::Opening));
    let mut forged = proof.clone();
    forged.initial[0].value ^= 1;
    assert_eq!(verify_image(&params, root, &forged), Err(VerifyError::Opening));
    let mut missing = proof.clone();
    let dropped = missing.initial.pop().unwrap().addr;
    assert_eq!(
        verify_image(&params, root, &missing),
        Err(VerifyError::Run(RunError::Memory(MemoryError::Unmapped(dropped))))
    );
}

/// An ELF whose data is two segments sharing a page and a word: A's 10 bytes at `DATA_VADDR`, then
/// B's 6 bytes of 0xab right after them.
fn two_segments_sharing_a_word(code: &[u32]) -> Vec<u8> {
    let mut f = elf(code, &[0x11; 10], 10);
    let b_vaddr = DATA_VADDR + 10;
    let off = f.len().next_multiple_of(0x1000) as u32 + (b_vaddr & 0xfff);
    let phdr: Vec<u8> = [1u32, off, b_vaddr, b_vaddr, 6, 6, 6, 0x1000].iter().flat_map(|w| w.to_le_bytes()).collect();
    f[52 + 2 * 32..52 + 3 * 32].copy_from_slice(&phdr);
    f[44..46].copy_from_slice(&3u16.to_le_bytes());
    f.resize(off as usize, 0);
    f.extend([0xab; 6]);
    f
}

#[test]
fn segments_sharing_a_word_load_both_their_bytes() {
    // Regression: a word's initial value took only the first segment covering its page, so B's
    // bytes in A's last word read as zero, unlike the NVM, which loads every segment's bytes.
    let mut code = li(5, DATA_VADDR).to_vec();
    code.push(lw(A0, 5, 8));
    code.extend(exit_seq());
    let program = Program::from_elf(&two_segments_sharing_a_word(&code)).unwrap();
    assert_eq!(program.segments().len(), 3, "text, A and B");
    assert_eq!(initial_cell(&program, DATA_VADDR + 8).map(|c| c.0), Some(0xabab_1111));
    let run = nexus_vm::Vm::new(&program, &[], nexus_vm::VmConfig::default()).unwrap().run_fast().unwrap();
    assert_eq!(run.exit_code, 0xabab_1111);
    let params = NvmParams::new(4, Folding::Sequential).unwrap();
    let proof = prove(&params, &program, &[], |_, _| {}).unwrap();
    assert_eq!(verify(&params, &program, &proof).unwrap().exit_code, 0xabab_1111);
    let root = ImageTree::new(&program).root();
    assert_eq!(verify_image(&params, root, &proof).unwrap().exit_code, 0xabab_1111);
}
