//! The Keccak-f\[1600\] permutation in circuit, on bits: θ as column parities (four XOR gates per
//! column bit), one gate for `D` and one per state bit; ρ and π rewire (free); χ one product and one
//! XOR per bit; ι flips constant bits (free). About 6,400 constraints per round, 154k for the 24.

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use nexus_vm::coprocessor::{KECCAK_ROTATIONS, KECCAK_ROUND_CONSTANTS};

use super::gates::{Bit, and, not, xor};

/// Bits of a lane.
pub const LANE_BITS: usize = 64;

/// The permutation of 25 lanes (lane `x + 5y`), each 64 little-endian bits.
pub fn permute(cs: &ConstraintSystemRef<Fr>, lanes: &[Vec<Bit>]) -> Result<Vec<Vec<Bit>>, SynthesisError> {
    if lanes.len() != 25 || lanes.iter().any(|l| l.len() != LANE_BITS) {
        return Err(SynthesisError::Unsatisfiable);
    }
    let mut a: Vec<Vec<Bit>> = lanes.to_vec();
    for rc in KECCAK_ROUND_CONSTANTS {
        // θ
        let mut c = Vec::with_capacity(5);
        for x in 0..5 {
            let col = (0..LANE_BITS)
                .map(|z| {
                    let mut p = a[x][z].clone();
                    for y in 1..5 {
                        p = xor(cs, &p, &a[x + 5 * y][z])?;
                    }
                    Ok(p)
                })
                .collect::<Result<Vec<_>, SynthesisError>>()?;
            c.push(col);
        }
        for x in 0..5 {
            // D[x] = C[x−1] ⊕ rot(C[x+1], 1); rotating left by one takes bit z − 1.
            let d = (0..LANE_BITS)
                .map(|z| xor(cs, &c[(x + 4) % 5][z], &c[(x + 1) % 5][(z + LANE_BITS - 1) % LANE_BITS]))
                .collect::<Result<Vec<_>, _>>()?;
            for y in 0..5 {
                for (bit, dz) in a[x + 5 * y].iter_mut().zip(&d) {
                    *bit = xor(cs, bit, dz)?;
                }
            }
        }
        // ρ and π: B[y, 2x + 3y] = rot(A[x, y], r[x, y]).
        let mut b = vec![Vec::new(); 25];
        for x in 0..5 {
            for y in 0..5 {
                let i = x + 5 * y;
                let r = KECCAK_ROTATIONS[i] as usize;
                b[y + 5 * ((2 * x + 3 * y) % 5)] =
                    (0..LANE_BITS).map(|z| a[i][(z + LANE_BITS - r) % LANE_BITS].clone()).collect();
            }
        }
        // χ
        for y in 0..5 {
            for x in 0..5 {
                a[x + 5 * y] = (0..LANE_BITS)
                    .map(|z| {
                        let t = and(&not(&b[(x + 1) % 5 + 5 * y][z]), &b[(x + 2) % 5 + 5 * y][z]);
                        xor(cs, &b[x + 5 * y][z], &t)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
            }
        }
        // ι
        for (z, bit) in a[0].iter_mut().enumerate() {
            if (rc >> z) & 1 == 1 {
                *bit = not(bit);
            }
        }
    }
    Ok(a)
}
