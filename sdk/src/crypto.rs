//! Hash primitives that run as co-processor instructions on the NVM and as portable code elsewhere.
//!
//! On the NVM each call is one custom instruction (see `zkvm/vm/NVM-SPEC.md`, "Co-processors") instead of
//! thousands of base instructions, which is what makes hashing cheap to prove. On wasm32 the same functions
//! are ordinary Rust, so an app gets identical results on both targets.

/// SHA-256 initial chaining value.
const SHA256_IV: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// The Keccak-f[1600] permutation, in place.
pub fn keccak_f1600(state: &mut [u64; 25]) {
    #[cfg(target_arch = "riscv32")]
    // SAFETY: the instruction reads and writes exactly the 200 bytes of `state` (custom-0, funct3 0).
    unsafe {
        core::arch::asm!(".insn r 0x0B, 0, 0, x0, {0}, x0", in(reg) state.as_mut_ptr(), options(nostack));
    }
    #[cfg(not(target_arch = "riscv32"))]
    keccak::f1600(state);
}

/// One SHA-256 compression of a 64-byte block into the chaining state.
pub fn sha256_compress(state: &mut [u32; 8], block: &[u8; 64]) {
    #[cfg(target_arch = "riscv32")]
    // SAFETY: reads the 8 state words and the 64 block bytes, writes the 8 state words (custom-0, funct3 1).
    // Both are 4-byte aligned: `[u32; 8]` by type, the block by copying it into an aligned buffer.
    unsafe {
        #[repr(align(4))]
        struct Aligned([u8; 64]);
        let block = Aligned(*block);
        core::arch::asm!(".insn r 0x0B, 1, 0, x0, {0}, {1}", in(reg) state.as_mut_ptr(), in(reg) block.0.as_ptr(),
            options(nostack));
    }
    #[cfg(not(target_arch = "riscv32"))]
    sha2::compress256(state, core::slice::from_ref(block.into()));
}

/// SHA-256 of `data`, using [`sha256_compress`].
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut state = SHA256_IV;
    let mut blocks = data.chunks_exact(64);
    for block in &mut blocks {
        sha256_compress(&mut state, block.try_into().expect("chunks_exact gives 64 bytes"));
    }
    // Padding: 0x80, zeros, then the bit length as a big-endian u64, in one or two final blocks.
    let rest = blocks.remainder();
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() < 56 { 64 } else { 128 };
    tail[tail_len - 8..tail_len].copy_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in tail[..tail_len].chunks_exact(64) {
        sha256_compress(&mut state, block.try_into().expect("chunks_exact gives 64 bytes"));
    }
    let mut out = [0u8; 32];
    for (word, bytes) in state.iter().zip(out.chunks_exact_mut(4)) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Keccak-256 (the Ethereum variant: padding byte 0x01) of `data`, using [`keccak_f1600`].
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    const RATE_BYTES: usize = 136;
    let mut state = [0u64; 25];
    let absorb = |state: &mut [u64; 25], block: &[u8]| {
        for (lane, bytes) in state.iter_mut().zip(block.chunks_exact(8)) {
            *lane ^= u64::from_le_bytes(bytes.try_into().expect("8-byte chunk"));
        }
        keccak_f1600(state);
    };
    let mut blocks = data.chunks_exact(RATE_BYTES);
    for block in &mut blocks {
        absorb(&mut state, block);
    }
    let rest = blocks.remainder();
    let mut last = [0u8; RATE_BYTES];
    last[..rest.len()].copy_from_slice(rest);
    last[rest.len()] ^= 0x01;
    last[RATE_BYTES - 1] ^= 0x80;
    absorb(&mut state, &last);
    let mut out = [0u8; 32];
    for (lane, bytes) in state.iter().zip(out.chunks_exact_mut(8)) {
        bytes.copy_from_slice(&lane.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_vectors_at_padding_boundaries() {
        use sha2::Digest;
        for len in [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 1000] {
            let data: alloc::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
            let expected: [u8; 32] = sha2::Sha256::digest(&data).into();
            assert_eq!(sha256(&data), expected, "length {len}");
        }
    }

    #[test]
    fn keccak256_matches_known_vectors() {
        // Keccak-256("") and Keccak-256("abc") as used by Ethereum.
        let empty = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";
        let abc = "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45";
        let hex = |b: [u8; 32]| b.iter().map(|x| alloc::format!("{x:02x}")).collect::<alloc::string::String>();
        assert_eq!(hex(keccak256(b"")), empty);
        assert_eq!(hex(keccak256(b"abc")), abc);
        let long = [0x5au8; 300];
        assert_ne!(keccak256(&long), keccak256(&long[..299]));
    }
}
