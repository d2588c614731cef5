//! SHA-256 compression co-processor.
//!
//! `.insn r 0x0B, 1, 0, x0, rs1, rs2`: rs1 points to the chaining state, 8 little-endian u32 words
//! H0..H7 (the layout of `[u32; 8]` in guest memory); rs2 points to one 64-byte message block, bytes
//! in message order (word t of the schedule is the big-endian value of bytes 4t..4t+4). The state is
//! replaced by the compression of the block. Both pointers must be 4-byte aligned. Reads the 8 state
//! words, then the 16 block words, then writes the 8 state words, each in ascending address order.

use super::{Coprocessor, CoprocessorMemory, check_aligned, matches_r_type};
use crate::TrapKind;

pub const SHA256_COMPRESS_FUNCT3: u32 = 1;
pub const SHA256_COMPRESS_FUNCT7: u32 = 0;

/// The round constants (FIPS 180-4 section 4.2.2).
pub const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

/// SHA-256 compression function (FIPS 180-4 section 6.2.2) on one block of 16 big-endian words.
pub fn sha256_compress(state: &mut [u32; 8], block: &[u32; 16]) {
    let mut w = [0u32; 64];
    w[..16].copy_from_slice(block);
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for t in 0..64 {
        let big_s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h.wrapping_add(big_s1).wrapping_add(ch).wrapping_add(K[t]).wrapping_add(w[t]);
        let big_s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = big_s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// The SHA-256 compression co-processor (custom-0, funct3 1, funct7 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sha256Compress;

impl Coprocessor for Sha256Compress {
    fn name(&self) -> &'static str {
        "sha256-compress"
    }

    fn claims(&self, insn: u32) -> bool {
        matches_r_type(insn, SHA256_COMPRESS_FUNCT3, SHA256_COMPRESS_FUNCT7, true)
    }

    fn execute(
        &self,
        _insn: u32,
        rs1: u32,
        rs2: u32,
        memory: &mut dyn CoprocessorMemory,
    ) -> Result<Option<u32>, TrapKind> {
        check_aligned(rs1)?;
        check_aligned(rs2)?;
        let mut state = [0u32; 8];
        for (i, s) in state.iter_mut().enumerate() {
            *s = memory.load_word(rs1.wrapping_add(4 * i as u32))?;
        }
        let mut block = [0u32; 16];
        for (i, w) in block.iter_mut().enumerate() {
            // Memory words are little-endian; SHA-256 reads message bytes big-endian.
            *w = memory.load_word(rs2.wrapping_add(4 * i as u32))?.swap_bytes();
        }
        sha256_compress(&mut state, &block);
        for (i, s) in state.iter().enumerate() {
            memory.store_word(rs1.wrapping_add(4 * i as u32), *s)?;
        }
        Ok(None)
    }
}
