//! Keccak-f\[1600\] permutation co-processor.
//!
//! `.insn r 0x0B, 0, 0, x0, rs1, x0`: permutes in place the 200-byte state at address rs1 (4-byte
//! aligned), laid out as 25 little-endian u64 lanes, lane `x + 5*y` at offset `8*(x + 5*y)` (the
//! layout of `[u64; 25]` in every common Keccak implementation). Reads all 50 words, then writes
//! all 50 words, in ascending address order.

use super::{Coprocessor, CoprocessorMemory, check_aligned, matches_r_type};
use crate::TrapKind;

pub const KECCAK_F1600_FUNCT3: u32 = 0;
pub const KECCAK_F1600_FUNCT7: u32 = 0;

/// The round constants of iota.
pub const ROUND_CONSTANTS: [u64; 24] = [
    0x0000_0000_0000_0001,
    0x0000_0000_0000_8082,
    0x8000_0000_0000_808a,
    0x8000_0000_8000_8000,
    0x0000_0000_0000_808b,
    0x0000_0000_8000_0001,
    0x8000_0000_8000_8081,
    0x8000_0000_0000_8009,
    0x0000_0000_0000_008a,
    0x0000_0000_0000_0088,
    0x0000_0000_8000_8009,
    0x0000_0000_8000_000a,
    0x0000_0000_8000_808b,
    0x8000_0000_0000_008b,
    0x8000_0000_0000_8089,
    0x8000_0000_0000_8003,
    0x8000_0000_0000_8002,
    0x8000_0000_0000_0080,
    0x0000_0000_0000_800a,
    0x8000_0000_8000_000a,
    0x8000_0000_8000_8081,
    0x8000_0000_0000_8080,
    0x0000_0000_8000_0001,
    0x8000_0000_8000_8008,
];

/// Rotation offsets r[x][y] indexed by lane `x + 5*y`.
pub const ROTATIONS: [u32; 25] =
    [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];

/// The Keccak-f\[1600\] permutation (24 rounds of theta, rho, pi, chi, iota).
pub fn keccak_f1600(a: &mut [u64; 25]) {
    for rc in ROUND_CONSTANTS {
        // theta
        let mut c = [0u64; 5];
        for (x, cx) in c.iter_mut().enumerate() {
            *cx = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
        }
        for x in 0..5 {
            let d = c[(x + 4) % 5] ^ c[(x + 1) % 5].rotate_left(1);
            for y in 0..5 {
                a[x + 5 * y] ^= d;
            }
        }
        // rho and pi: B[y][2x+3y] = rot(A[x][y], r[x][y])
        let mut b = [0u64; 25];
        for x in 0..5 {
            for y in 0..5 {
                let i = x + 5 * y;
                b[y + 5 * ((2 * x + 3 * y) % 5)] = a[i].rotate_left(ROTATIONS[i]);
            }
        }
        // chi
        for y in 0..5 {
            for x in 0..5 {
                a[x + 5 * y] = b[x + 5 * y] ^ (!b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
            }
        }
        // iota
        a[0] ^= rc;
    }
}

/// The Keccak-f\[1600\] co-processor (custom-0, funct3 0, funct7 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeccakF1600;

impl Coprocessor for KeccakF1600 {
    fn name(&self) -> &'static str {
        "keccak-f1600"
    }

    fn claims(&self, insn: u32) -> bool {
        matches_r_type(insn, KECCAK_F1600_FUNCT3, KECCAK_F1600_FUNCT7, false)
    }

    fn execute(
        &self,
        _insn: u32,
        rs1: u32,
        _rs2: u32,
        memory: &mut dyn CoprocessorMemory,
    ) -> Result<Option<u32>, TrapKind> {
        check_aligned(rs1)?;
        let mut lanes = [0u64; 25];
        for (i, lane) in lanes.iter_mut().enumerate() {
            let addr = rs1.wrapping_add(8 * i as u32);
            let lo = memory.load_word(addr)?;
            let hi = memory.load_word(addr.wrapping_add(4))?;
            *lane = (lo as u64) | ((hi as u64) << 32);
        }
        keccak_f1600(&mut lanes);
        for (i, lane) in lanes.iter().enumerate() {
            let addr = rs1.wrapping_add(8 * i as u32);
            memory.store_word(addr, *lane as u32)?;
            memory.store_word(addr.wrapping_add(4), (*lane >> 32) as u32)?;
        }
        Ok(None)
    }
}
