//! Co-processors in the proof: the CPU side moves a call's words through its data slot, one word
//! per micro-step, and the co-processor's own step circuit computes the function on those words;
//! a multiset of call elements joins the two.
//!
//! * **The CPU side** ([`crate::cpu::step`]): a co-processor instruction keeps its pc for
//!   [`Kind::words`] micro-steps; micro-step `i` accesses word `i` of the call ([`Kind::address`])
//!   through the ordinary data slot and memory argument (a read, or for the words the co-processor
//!   writes, a store of a 32-bit value the CPU does not compute), and multiplies the call element
//!   `(call, i, kind, old, new)` into the running product `CP` of the state, where `call` is the
//!   clock at the call's first micro-step; the step after the last word retires the instruction.
//! * **The co-processor side** ([`CallSteps`]): a folding chain of its own per kind, a few calls
//!   per fold, each call slot computing the function ([`sha256`], [`keccak`]) on its input words
//!   and multiplying the same elements, with its outputs as `new`, into its product `P`; a slot
//!   may be off (then everything in it is zero and it multiplies nothing).
//! * **The join**: `CP = Π P` over the kinds at the memory challenge `γ`. Elements pack injectively
//!   (every part range-bounded: the call 32 bits, the index 6, the kind 2, the words 32 each), the
//!   CPU's elements are bound by the access chain, and each chain's inputs by its own Poseidon
//!   chain `h`, which the verifier hashes into `γ` with the rest (C.27); so, but for probability
//!   (elements)/|Fr|, every call the CPU made is computed by exactly one slot of its kind on the
//!   words memory held, and its outputs are what memory holds afterwards. Two slots cannot claim one
//!   call: the CPU holds each `(call, i)` once.
//!
//! Why micro-steps and not accesses inside the co-processor circuit: the memory argument,
//! timestamps and permission flags stay in one place, and a call costs its words in CPU steps
//! (SHA-256: 25 steps, ~31k constraints, beside the compression's 27k; Keccak-f: 51 steps, ~63k,
//! beside the permutation's 154k) without a second memory argument or timestamp lanes.

pub mod gates;
pub mod keccak;
pub mod sha256;

use ark_bn254::Fr;
use ark_ff::Zero;
use ark_r1cs_std::{GR1CSVar, alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use nexus_nova::{step_circuit::StepCircuit, transcript::Transcript, transcript_gadget::TranscriptVar};
use nexus_vm::OPCODE_CUSTOM_0;
use nexus_vm::coprocessor::{
    KECCAK_F1600_FUNCT3, KECCAK_F1600_FUNCT7, SHA256_COMPRESS_FUNCT3, SHA256_COMPRESS_FUNCT7, encode_custom0,
    keccak_f1600, sha256_compress,
};

use crate::bits::pow2;
use gates::{Bit, WordBits, word_bits, word_value};

/// Transcript label of a co-processor's input chain.
pub const CALL_CHAIN_LABEL: &[u8] = b"nexus-nvm/call-chain/v1";
/// Length of a co-processor chain's state `[γ, h, P, calls]`.
pub const CALL_STATE_LEN: usize = 4;
/// Words packed into one absorbed element (7·32 = 224 bits, injective in `Fr`).
const WORDS_PER_ELEMENT: usize = 7;

/// The co-processors the circuit proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Keccak-f\[1600\] on the 50 words at rs1.
    Keccak,
    /// SHA-256 compression: the 16 block words at rs2 (read), then the 8 state words at rs1
    /// (replaced).
    Sha256,
}

impl Kind {
    /// Every kind, in the order of their tags.
    pub const ALL: [Kind; 2] = [Kind::Keccak, Kind::Sha256];

    /// The kind's tag in call elements and proof files.
    pub fn tag(self) -> u8 {
        match self {
            Kind::Keccak => 0,
            Kind::Sha256 => 1,
        }
    }

    /// The kind with `tag`.
    pub fn from_tag(tag: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// The kind an instruction word runs, if it is one exactly (rd = x0; Keccak's rs2 = x0), as
    /// the NVM's co-processors claim words.
    pub fn of_insn(insn: u32) -> Option<Kind> {
        if insn & 0x7f != OPCODE_CUSTOM_0 {
            return None;
        }
        let (rs1, rs2) = ((insn >> 15) & 0x1f, (insn >> 20) & 0x1f);
        if insn == encode_custom0(KECCAK_F1600_FUNCT3, KECCAK_F1600_FUNCT7, 0, rs1, 0) {
            Some(Kind::Keccak)
        } else if insn == encode_custom0(SHA256_COMPRESS_FUNCT3, SHA256_COMPRESS_FUNCT7, 0, rs1, rs2) {
            Some(Kind::Sha256)
        } else {
            None
        }
    }

    /// Words a call moves (one micro-step each).
    pub fn words(self) -> usize {
        match self {
            Kind::Keccak => 50,
            Kind::Sha256 => 24,
        }
    }

    /// Calls per fold of the kind's chain: the Keccak-f permutation is a fold's worth (~154k
    /// constraints) on its own; four compressions (~110k) make one of similar size.
    pub fn calls_per_fold(self) -> usize {
        match self {
            Kind::Keccak => 1,
            Kind::Sha256 => 4,
        }
    }

    /// The address of word `i` of a call with register operands `rs1`, `rs2`.
    pub fn address(self, i: usize, rs1: u32, rs2: u32) -> u32 {
        match self {
            Kind::Keccak => rs1.wrapping_add(4 * i as u32),
            Kind::Sha256 if i < 16 => rs2.wrapping_add(4 * i as u32),
            Kind::Sha256 => rs1.wrapping_add(4 * (i as u32 - 16)),
        }
    }

    /// Whether the call writes word `i`.
    pub fn writes(self, i: usize) -> bool {
        match self {
            Kind::Keccak => true,
            Kind::Sha256 => i >= 16,
        }
    }

    /// The words after a call on `inputs` (natively; `inputs.len()` = [`Self::words`]).
    pub fn compute(self, inputs: &[u32]) -> Vec<u32> {
        match self {
            Kind::Keccak => {
                let mut lanes = [0u64; 25];
                for (l, w) in lanes.iter_mut().zip(inputs.chunks(2)) {
                    *l = u64::from(w[0]) | u64::from(w.get(1).copied().unwrap_or(0)) << 32;
                }
                keccak_f1600(&mut lanes);
                lanes.iter().flat_map(|l| [*l as u32, (l >> 32) as u32]).collect()
            }
            Kind::Sha256 => {
                let mut block = [0u32; 16];
                for (b, w) in block.iter_mut().zip(inputs) {
                    // Memory words are little-endian; the schedule reads message bytes big-endian.
                    *b = w.swap_bytes();
                }
                let mut state = [0u32; 8];
                state.copy_from_slice(&inputs[16..24]);
                sha256_compress(&mut state, &block);
                inputs[..16].iter().chain(&state).copied().collect()
            }
        }
    }

    /// The circuit of the function: output words' bits from input words' bits.
    fn synthesize(self, cs: &ConstraintSystemRef<Fr>, inputs: &[WordBits]) -> Result<Vec<WordBits>, SynthesisError> {
        match self {
            Kind::Keccak => {
                let lanes: Vec<Vec<Bit>> = inputs.chunks(2).map(|w| w.concat()).collect();
                let out = keccak::permute(cs, &lanes)?;
                Ok(out.iter().flat_map(|l| [l[..32].to_vec(), l[32..].to_vec()]).collect())
            }
            Kind::Sha256 => {
                // Byte swap: schedule bit j is memory bit 8·(3 − j/8) + j%8.
                let block: Vec<WordBits> = inputs[..16]
                    .iter()
                    .map(|w| (0..32).map(|j| w[8 * (3 - j / 8) + j % 8].clone()).collect())
                    .collect();
                let state = sha256::compress(cs, &inputs[16..24], &block)?;
                Ok(inputs[..16].iter().cloned().chain(state).collect())
            }
        }
    }
}

/// A call element: `call + 2^32·i + 2^38·kind + 2^40·old + 2^72·new` (104 bits, injective for a
/// 32-bit call, `i < 64`, a 2-bit kind and 32-bit words).
pub fn call_element(kind: Kind, call: u32, i: usize, old: u32, new: u32) -> Fr {
    Fr::from(u64::from(call))
        + Fr::from(i as u64) * pow2(32)
        + Fr::from(u64::from(kind.tag())) * pow2(38)
        + Fr::from(u64::from(old)) * pow2(40)
        + Fr::from(u64::from(new)) * pow2(72)
}

/// [`call_element`] in circuit.
pub fn call_element_var(
    kind: &FpVar<Fr>,
    call: &FpVar<Fr>,
    i: &FpVar<Fr>,
    old: &FpVar<Fr>,
    new: &FpVar<Fr>,
) -> FpVar<Fr> {
    call + i * pow2(32) + kind * pow2(38) + old * pow2(40) + new * pow2(72)
}

/// One co-processor call as its chain proves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallWitness {
    /// The CPU's clock at the call's first micro-step.
    pub call: u32,
    /// The words the call read, in micro-step order.
    pub inputs: Vec<u32>,
}

/// One fold of a co-processor chain: [`Kind::calls_per_fold`] slots, `None` for a slot that is off
/// (only after the last call).
#[derive(Clone, Debug)]
pub struct CallSteps {
    /// Which co-processor.
    pub kind: Kind,
    /// The slots.
    pub calls: Vec<Option<CallWitness>>,
}

impl CallSteps {
    /// Placeholder slots for setting up parameters.
    pub fn placeholder(kind: Kind) -> Self {
        Self { kind, calls: vec![None; kind.calls_per_fold()] }
    }

    /// The chain's folds over `calls`, the last filled with slots that are off.
    pub fn folds(kind: Kind, calls: &[CallWitness]) -> Vec<CallSteps> {
        calls
            .chunks(kind.calls_per_fold())
            .map(|c| {
                let mut slots: Vec<_> = c.iter().cloned().map(Some).collect();
                slots.resize(kind.calls_per_fold(), None);
                CallSteps { kind, calls: slots }
            })
            .collect()
    }

    /// The elements a slot absorbs: `call + 2^32·on`, then the input words seven to an element.
    fn slot_elements(kind: Kind, slot: Option<&CallWitness>) -> Vec<Fr> {
        let zeros = vec![0u32; kind.words()];
        let (call, on, inputs) = match slot {
            Some(c) => (c.call, 1u64, &c.inputs),
            None => (0, 0, &zeros),
        };
        let mut out = vec![Fr::from(u64::from(call)) + Fr::from(on) * pow2(32)];
        out.extend(inputs.chunks(WORDS_PER_ELEMENT).map(|ws| {
            ws.iter().enumerate().fold(Fr::zero(), |acc, (j, w)| acc + Fr::from(u64::from(*w)) * pow2(32 * j as u32))
        }));
        out
    }

    /// The chain value after these folds, from `h` (natively, as the circuit computes it).
    pub fn chain(folds: &[CallSteps], mut h: Fr) -> Fr {
        for f in folds {
            let mut t = Transcript::new(CALL_CHAIN_LABEL);
            t.absorb(&h);
            for slot in &f.calls {
                for e in Self::slot_elements(f.kind, slot.as_ref()) {
                    t.absorb(&e);
                }
            }
            h = t.squeeze_fr();
        }
        h
    }
}

/// The initial state of a chain: `[γ, h = 0, P = 1, calls = 0]`.
pub fn initial_call_state(gamma: Fr) -> Vec<Fr> {
    vec![gamma, Fr::zero(), Fr::from(1u64), Fr::zero()]
}

impl StepCircuit<Fr> for CallSteps {
    fn arity(&self) -> usize {
        CALL_STATE_LEN
    }

    fn generate_constraints(
        &self,
        cs: ConstraintSystemRef<Fr>,
        _i: &FpVar<Fr>,
        z: &[FpVar<Fr>],
    ) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
        let [gamma, h, product, count] =
            <[FpVar<Fr>; CALL_STATE_LEN]>::try_from(z.to_vec()).map_err(|_| SynthesisError::Unsatisfiable)?;
        let (mut product, mut count) = (product, count);
        let kind = self.kind;
        let kind_var = FpVar::Constant(Fr::from(u64::from(kind.tag())));
        let one = FpVar::Constant(Fr::from(1u64));
        let zero = FpVar::Constant(Fr::zero());
        let mut chain = TranscriptVar::new(cs.clone(), CALL_CHAIN_LABEL)?;
        chain.absorb_fr(&[h])?;
        for slot in &self.calls {
            let on = FpVar::from(Boolean::new_witness(cs.clone(), || Ok(slot.is_some()))?);
            let off = &one - &on;
            let call = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(slot.as_ref().map_or(0, |c| c.call)))))?;
            word_bits(&cs, &call)?;
            // A slot that is off holds zeros (no free witness) and multiplies nothing.
            (&off * &call).enforce_equal(&zero)?;
            let mut inputs = Vec::with_capacity(kind.words());
            for i in 0..kind.words() {
                let v = slot.as_ref().and_then(|c| c.inputs.get(i)).copied().unwrap_or(0);
                let w = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(v))))?;
                let bits = word_bits(&cs, &w)?;
                (&off * &w).enforce_equal(&zero)?;
                inputs.push(bits);
            }
            let outputs = kind.synthesize(&cs, &inputs)?;
            let mut elements = vec![&call + &on * pow2(32)];
            for ws in inputs.chunks(WORDS_PER_ELEMENT) {
                elements.push(
                    ws.iter().enumerate().fold(zero.clone(), |acc, (j, w)| acc + word_value(w) * pow2(32 * j as u32)),
                );
            }
            chain.absorb_fr(&elements)?;
            for (i, (old, new)) in inputs.iter().zip(&outputs).enumerate() {
                let index = FpVar::Constant(Fr::from(i as u64));
                let e = call_element_var(&kind_var, &call, &index, &word_value(old), &word_value(new));
                product *= &on * (&gamma - e - Fr::from(1u64)) + Fr::from(1u64);
            }
            count += &on;
        }
        let p = FpVar::new_witness(cs.clone(), || product.value())?;
        p.enforce_equal(&product)?;
        Ok(vec![gamma, chain.squeeze_fr()?, p, count])
    }
}
