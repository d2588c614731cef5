//! The SHA-256 compression function in circuit (FIPS 180-4 section 6.2.2), on bits: σ/Σ are three
//! rotations XORed (two gates per bit, free where a shift brings in zeros), `Ch = g + e·(f − g)`
//! (one product per bit), `Maj = ab + c·(a + b − 2ab)` (two), and each sum mod 2^32 one
//! decomposition of the integer sum into 32 bits and its carry. About 27k constraints.

use ark_bn254::Fr;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use nexus_vm::coprocessor::SHA256_K;

use super::gates::{Bit, WordBits, add_mod32, and, rotr, shr, word_value, xor3};

fn small_sigma(
    cs: &ConstraintSystemRef<Fr>,
    w: &[Bit],
    r1: usize,
    r2: usize,
    s: usize,
) -> Result<WordBits, SynthesisError> {
    xor3(cs, &rotr(w, r1), &rotr(w, r2), &shr(w, s))
}

fn big_sigma(cs: &ConstraintSystemRef<Fr>, w: &[Bit], r: [usize; 3]) -> Result<WordBits, SynthesisError> {
    xor3(cs, &rotr(w, r[0]), &rotr(w, r[1]), &rotr(w, r[2]))
}

/// The compression of one block: `state` the chaining value H0..H7 and `block` the schedule's
/// first 16 words (big-endian words of the message), each as 32 bits; returns the new chaining
/// value as bits.
pub fn compress(
    cs: &ConstraintSystemRef<Fr>,
    state: &[WordBits],
    block: &[WordBits],
) -> Result<Vec<WordBits>, SynthesisError> {
    if state.len() != 8 || block.len() != 16 {
        return Err(SynthesisError::Unsatisfiable);
    }
    let mut w: Vec<WordBits> = block.to_vec();
    for t in 16..64 {
        let s0 = small_sigma(cs, &w[t - 15], 7, 18, 3)?;
        let s1 = small_sigma(cs, &w[t - 2], 17, 19, 10)?;
        let terms = [word_value(&w[t - 16]), word_value(&s0), word_value(&w[t - 7]), word_value(&s1)];
        w.push(add_mod32(cs, &terms, 0)?);
    }
    let mut v: Vec<WordBits> = state.to_vec();
    for (t, k) in SHA256_K.iter().enumerate() {
        let (a, b, c, e, f, g) = (&v[0], &v[1], &v[2], &v[4], &v[5], &v[6]);
        let s1 = big_sigma(cs, e, [6, 11, 25])?;
        let ch: Vec<FpVar<Fr>> = e.iter().zip(f).zip(g).map(|((e, f), g)| g + and(e, &(f - g))).collect();
        let s0 = big_sigma(cs, a, [2, 13, 22])?;
        let maj: Vec<FpVar<Fr>> = a
            .iter()
            .zip(b)
            .zip(c)
            .map(|((a, b), c)| {
                let ab = and(a, b);
                let rest = and(c, &(a + b - &ab - &ab));
                Ok(ab + rest)
            })
            .collect::<Result<_, SynthesisError>>()?;
        // T1 = h + Σ1 + Ch + K + W; e' = d + T1, a' = T1 + Σ0 + Maj, each one decomposition.
        let t1 = [word_value(&v[7]), word_value(&s1), word_value(&ch), word_value(&w[t])];
        let new_e = add_mod32(cs, &[&t1[..], &[word_value(&v[3])]].concat(), *k)?;
        let new_a = add_mod32(cs, &[&t1[..], &[word_value(&s0), word_value(&maj)]].concat(), *k)?;
        v.rotate_right(1);
        v[0] = new_a;
        v[4] = new_e;
    }
    state.iter().zip(&v).map(|(h, x)| add_mod32(cs, &[word_value(h), word_value(x)], 0)).collect()
}
