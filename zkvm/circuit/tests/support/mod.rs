//! Shared by the circuit's tests: the NVM tests' encoder and ELF writer, and a random program
//! generator over registers and a data buffer.
#![allow(dead_code)]

#[path = "../../../vm/tests/common/mod.rs"]
pub mod common;

use common::*;
use nexus_vm::{Program, Trace, Vm, VmConfig};
use rand::{Rng, SeedableRng, rngs::StdRng};

pub fn interesting(rng: &mut StdRng) -> u32 {
    const SPECIAL: [u32; 9] = [0, 1, u32::MAX, 0x8000_0000, 0x7fff_ffff, 0x8000_0001, 2, 31, 32];
    match rng.random_range(0..3) {
        0 => SPECIAL[rng.random_range(0..SPECIAL.len())],
        1 => rng.random_range(0..64),
        _ => rng.random(),
    }
}

/// The register holding the data buffer's address (never a random destination).
pub const BASE: u32 = 31;

/// A random straight-line or forward-jumping program over registers and a data buffer (no system
/// call).
pub fn random_code(seed: u64, len: usize) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut code = Vec::new();
    for r in 1..BASE {
        code.extend(li(r, interesting(&mut rng)));
    }
    code.extend(li(BASE, DATA_VADDR));
    let src = |rng: &mut StdRng| rng.random_range(0..32);
    let dst = |rng: &mut StdRng| rng.random_range(0..BASE);
    while code.len() < len {
        let skip = rng.random_range(0..3usize);
        match rng.random_range(0..12) {
            0..=3 => code.push(reg_op(
                REG_OPS[rng.random_range(0..REG_OPS.len())],
                dst(&mut rng),
                src(&mut rng),
                src(&mut rng),
            )),
            4 | 5 => {
                let op = IMM_OPS[rng.random_range(0..IMM_OPS.len())];
                let imm = match op {
                    ImmOp::Slli | ImmOp::Srli | ImmOp::Srai => rng.random_range(0..32),
                    _ => rng.random_range(-2048..2048),
                };
                code.push(imm_op(op, dst(&mut rng), src(&mut rng), imm));
            }
            6 => code.push(if rng.random_bool(0.5) {
                lui(dst(&mut rng), rng.random())
            } else {
                auipc(dst(&mut rng), rng.random())
            }),
            7 => {
                let kind = LOADS[rng.random_range(0..LOADS.len())];
                let align = match kind {
                    Load::Lw => 4,
                    Load::Lh | Load::Lhu => 2,
                    _ => 1,
                };
                code.push(load(kind, dst(&mut rng), BASE, rng.random_range(0..2048 / align) * align));
            }
            8 => {
                let kind = STORES[rng.random_range(0..STORES.len())];
                let align = match kind {
                    Store::Sw => 4,
                    Store::Sh => 2,
                    Store::Sb => 1,
                };
                code.push(store(kind, src(&mut rng), BASE, rng.random_range(0..2048 / align) * align));
            }
            9 => {
                let kind = BRANCHES[rng.random_range(0..BRANCHES.len())];
                code.push(branch(kind, src(&mut rng), src(&mut rng), 4 * (skip as i32 + 1)));
                code.extend((0..skip).map(|_| addi(dst(&mut rng), src(&mut rng), 1)));
            }
            10 => {
                code.push(jal(dst(&mut rng), 4 * (skip as i32 + 1)));
                code.extend((0..skip).map(|_| addi(dst(&mut rng), src(&mut rng), 1)));
            }
            _ => {
                // auipc t, 0 ; jalr rd, t, 8 + 4·skip (+1: JALR clears bit 0)
                let t = rng.random_range(1..BASE);
                code.push(auipc(t, 0));
                code.push(jalr(dst(&mut rng), t, 8 + 4 * skip as i32 + rng.random_range(0..2)));
                code.extend((0..skip).map(|_| addi(dst(&mut rng), src(&mut rng), 1)));
            }
        }
    }
    code.push(FENCE);
    code
}

/// A 4 KiB data buffer of varied bytes (the buffer at `DATA_VADDR` the programs use).
pub fn data_buffer() -> Vec<u8> {
    (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// `code` followed by `exit(0)`, with the data buffer, loaded and run traced.
pub fn run_traced(code: Vec<u32>) -> (Program, Trace) {
    let program = Program::from_elf(&elf(&with_exit(code), &data_buffer(), 4096)).unwrap();
    let vm = Vm::new(&program, &[], VmConfig::default()).unwrap();
    let (_, trace) = vm.run_traced().unwrap();
    (program, trace)
}

/// The witnesses of `cs` from index `first` on that can each be changed alone (by one) with the
/// constraints still satisfied: a sound circuit has none. `cs` must be satisfied.
pub fn free_witnesses(cs: &ark_relations::gr1cs::ConstraintSystemRef<ark_bn254::Fr>, first: usize) -> Vec<usize> {
    use ark_ff::One;
    let (shape, a) = nexus_nova::r1cs::extract(cs).unwrap();
    let a = a.unwrap();
    shape.check_relation(ark_bn254::Fr::one(), &a.x, &a.w, None).unwrap();
    (first..a.w.len())
        .filter(|&j| {
            let mut w = a.w.clone();
            w[j] += ark_bn254::Fr::one();
            shape.check_relation(ark_bn254::Fr::one(), &a.x, &w, None).is_ok()
        })
        .collect()
}

/// Runs every invocation through the standalone step circuit (each satisfied) from `z0`; returns
/// the final state.
pub fn step_all(invocations: &[nexus_nvm_circuit::steps::NvmSteps], z0: &[ark_bn254::Fr]) -> Vec<ark_bn254::Fr> {
    use ark_ff::One;
    let mut z = z0.to_vec();
    for (i, inv) in invocations.iter().enumerate() {
        let s = nexus_nova::step_circuit::synthesize_step(inv, i as u64, &z).unwrap();
        s.shape
            .check_relation(ark_bn254::Fr::one(), &s.x, &s.w, None)
            .unwrap_or_else(|e| panic!("invocation {i}: {e}"));
        z = s.z_out;
    }
    z
}
