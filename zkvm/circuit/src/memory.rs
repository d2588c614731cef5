//! The memory argument (offline memory checking) for the step circuit's access slots.
//!
//! Memory is a set of cells `(address, value, timestamp, flags)` over 32-bit words, `flags` =
//! writable + 2·executable fixed per address by the program image. An access to a word removes the
//! cell as it was, `(a, v_old, t_old, f)`, from a running product `RS` and adds it as it is,
//! `(a, v_new, t_now, f)`, to `WS` (a cell packs into one field element, [`cell`]; both products
//! take factors `γ − cell`). `t_old < t_now` is range-checked (C.28) and `t_old` itself is below
//! `2^32` (a "negative" timestamp could otherwise alias a cell of other flags), so every cell
//! written is read at most once; at the end the verifier builds the initial cells of the touched
//! addresses from the ELF and the final cells from the proof and checks
//! `Π initial · WS = RS · Π final` ([`check_products`]). Flags travel unchanged with every cell, so a
//! fetch (which requires `executable`) from data or a store (which requires `writable`) into text
//! cannot balance.
//!
//! `γ` must be drawn after the prover is bound to every access (C.27): each access's prover-chosen
//! values pack into an element ([`chain_element`]; a fetch's 98 bits, a data access's 130), a
//! step's two into one field element ([`step_element`]), absorbed into a Poseidon chain whose final
//! value the verifier hashes into `γ`. One element per step, not per access, halves the chain's
//! Poseidon work, which is most of a step's full-width witness.

use std::collections::BTreeMap;

use ark_bn254::Fr;
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use nexus_vm::{Program, STACK_BOTTOM, STACK_TOP};

use crate::bits::{decompose, pow2};
use crate::cpu::MemSlot;
use crate::image::{Image, SegmentEntry, locate};

/// Bits of a timestamp: a run of up to `2^31 − 1` steps (two accesses each).
pub const TIMESTAMP_BITS: u32 = 32;

/// Flag: the word may be stored to.
pub const WRITABLE: u32 = 1;
/// Flag: the word may be fetched.
pub const EXECUTABLE: u32 = 2;

/// Errors of the verifier's memory check.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MemoryError {
    /// Final cells must be listed once each, in increasing address order (C.30).
    #[error("final memory is not in strictly increasing address order at {0:#x}")]
    Order(u32),
    /// A final cell at an address the program cannot access.
    #[error("final memory names {0:#x}, which is not mapped")]
    Unmapped(u32),
    /// A final cell at an address that is not word-aligned.
    #[error("final memory names {0:#x}, which is not word-aligned")]
    Misaligned(u32),
    /// The products do not balance: some access read what memory did not hold.
    #[error("the memory accesses do not match the initial and final memory")]
    Unbalanced,
}

/// The initial value and flags of the word at `addr` (4-byte aligned), or `None` if unmapped: the
/// pages of the program's segments with their flags ([`locate`]) and bytes, and the stack.
pub fn initial_cell(program: &Program, addr: u32) -> Option<(u32, u32)> {
    if (STACK_BOTTOM..STACK_TOP).contains(&addr) {
        return Some((0, WRITABLE));
    }
    let flags = locate(program.segments().iter().map(SegmentEntry::of), addr)?;
    // Every segment's file bytes land in memory where they belong, as the NVM loads them (two
    // segments may share a page, even a word).
    let mut value = 0u32;
    for seg in program.segments() {
        for k in 0..4u32 {
            let byte =
                addr.checked_add(k).and_then(|b| b.checked_sub(seg.vaddr)).and_then(|off| seg.data.get(off as usize));
            value |= u32::from(*byte.unwrap_or(&0)) << (8 * k);
        }
    }
    Some((value, flags))
}

/// A cell as one field element: `a + 2^32·v + 2^64·t + 2^96·f` (injective for 32-bit `a`, `v`,
/// `t` and 2-bit `f`).
pub fn cell(addr: u32, value: u32, t: u32, flags: u32) -> Fr {
    Fr::from(u64::from(addr))
        + Fr::from(u64::from(value)) * pow2(32)
        + Fr::from(u64::from(t)) * pow2(64)
        + Fr::from(u64::from(flags)) * pow2(96)
}

/// A cell of the final memory, as the proof lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalCell {
    /// Word address.
    pub addr: u32,
    /// Value at the end.
    pub value: u32,
    /// Timestamp of its last access.
    pub t: u32,
}

/// The verifier's check: `Π (γ − initial) · ws = rs · Π (γ − final)` over the final cells (flags and
/// initial values from the program, not from the proof).
pub fn check_products(image: &Image<'_>, gamma: Fr, rs: Fr, ws: Fr, finals: &[FinalCell]) -> Result<(), MemoryError> {
    let (mut init, mut fin) = (Fr::from(1u64), Fr::from(1u64));
    let mut last: Option<u32> = None;
    for c in finals {
        if last.is_some_and(|l| l >= c.addr) {
            return Err(MemoryError::Order(c.addr));
        }
        last = Some(c.addr);
        if c.addr % 4 != 0 {
            return Err(MemoryError::Misaligned(c.addr));
        }
        let (v0, flags) = image.initial(c.addr).ok_or(MemoryError::Unmapped(c.addr))?;
        init *= gamma - cell(c.addr, v0, 0, flags);
        fin *= gamma - cell(c.addr, c.value, c.t, flags);
    }
    if init * ws == rs * fin { Ok(()) } else { Err(MemoryError::Unbalanced) }
}

/// The prover's side: the last timestamp and value of every touched word, and the hints of each
/// access.
#[derive(Clone, Debug, Default)]
pub struct MemoryTracker {
    cells: BTreeMap<u32, (u32, u32)>,
}

/// What the prover supplies for one access.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccessHint {
    /// Timestamp of the previous access to the word (0: initial memory).
    pub t_old: u32,
    /// The word's flags.
    pub flags: u32,
}

impl MemoryTracker {
    /// Record an access at `t_now` of the word at `addr` leaving it `new`; returns its hint, or
    /// `None` for an unmapped address (the NVM would have trapped).
    pub fn access(&mut self, program: &Program, addr: u32, new: u32, t_now: u32) -> Option<AccessHint> {
        let (_, flags) = initial_cell(program, addr)?;
        let t_old = self.cells.get(&addr).map_or(0, |(_, t)| *t);
        self.cells.insert(addr, (new, t_now));
        Some(AccessHint { t_old, flags })
    }

    /// The word at `addr` now (its initial value if untouched), or `None` if unmapped.
    pub fn value(&self, program: &Program, addr: u32) -> Option<u32> {
        match self.cells.get(&addr) {
            Some((v, _)) => Some(*v),
            None => initial_cell(program, addr).map(|(v, _)| v),
        }
    }

    /// The final memory: every touched word, in address order.
    pub fn finals(&self) -> Vec<FinalCell> {
        self.cells.iter().map(|(a, (v, t))| FinalCell { addr: *a, value: *v, t: *t }).collect()
    }
}

/// The running products in circuit.
#[derive(Clone, Debug)]
pub struct ProductsVar {
    /// Product over removed cells.
    pub rs: FpVar<Fr>,
    /// Product over added cells.
    pub ws: FpVar<Fr>,
}

/// Which slot an access is: a fetch must be executable, a data write must be writable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    /// The instruction fetch (always active, a read).
    Fetch,
    /// The data access of a load or store.
    Data,
}

/// Constrain one access through `slot` at time `t_now`; updates the products and returns the
/// element the access chain absorbs: `a + 2^32·v_old + 2^64·v_new + 2^96·t_old + 2^128·f` (zero
/// for an unused slot, whose hints are pinned to zero).
pub fn access(
    cs: &ConstraintSystemRef<Fr>,
    products: &mut ProductsVar,
    gamma: &FpVar<Fr>,
    slot: &MemSlot,
    t_now: &FpVar<Fr>,
    hint: AccessHint,
    kind: SlotKind,
) -> Result<FpVar<Fr>, SynthesisError> {
    let one = FpVar::Constant(Fr::from(1u64));
    let zero = FpVar::Constant(Fr::from(0u64));
    let t_old = FpVar::new_witness(cs.clone(), || Ok(Fr::from(u64::from(hint.t_old))))?;
    let writable = Boolean::new_witness(cs.clone(), || Ok(hint.flags & WRITABLE != 0))?;
    let executable = Boolean::new_witness(cs.clone(), || Ok(hint.flags & EXECUTABLE != 0))?;
    let (w, x) = (FpVar::from(writable), FpVar::from(executable));
    // Timestamps (C.28, C.29): t_old < 2^32 and t_old < t_now.
    decompose(cs, &t_old, TIMESTAMP_BITS)?;
    decompose(cs, &(&slot.active * (t_now - &t_old - Fr::from(1u64))), TIMESTAMP_BITS)?;
    // An unused slot carries zeros.
    let idle = &one - &slot.active;
    for v in [&t_old, &w, &x] {
        (&idle * v).enforce_equal(&zero)?;
    }
    match kind {
        SlotKind::Fetch => (&slot.active * (&one - &x)).enforce_equal(&zero)?,
        SlotKind::Data => (&slot.write * (&one - &w)).enforce_equal(&zero)?,
    }
    let flags = &w + &x * Fr::from(2u64);
    let pack = |v: &FpVar<Fr>, t: &FpVar<Fr>| &slot.addr + v * pow2(32) + t * pow2(64) + &flags * pow2(96);
    let (removed, added) = (pack(&slot.old, &t_old), pack(&slot.new, t_now));
    products.rs *= &slot.active * (gamma - removed - Fr::from(1u64)) + Fr::from(1u64);
    products.ws *= &slot.active * (gamma - added - Fr::from(1u64)) + Fr::from(1u64);
    // Every part is range-bounded (32-bit words and timestamps, boolean flags), so the packing is
    // injective. A fetch's new value is its old one by construction ([`MemSlot::fetch`]).
    Ok(match kind {
        SlotKind::Fetch => &slot.addr + &slot.old * pow2(32) + &t_old * pow2(64) + flags * pow2(96),
        SlotKind::Data => {
            &slot.addr + &slot.old * pow2(32) + &slot.new * pow2(64) + &t_old * pow2(96) + flags * pow2(128)
        }
    })
}

/// Bits of a fetch's chain element (address, word, old timestamp, flags).
pub const FETCH_ELEMENT_BITS: u32 = 98;

/// [`access`]'s chain element, natively (`new` is ignored for a fetch).
pub fn chain_element(kind: SlotKind, addr: u32, old: u32, new: u32, hint: AccessHint) -> Fr {
    let (a, o, t, f) = (
        Fr::from(u64::from(addr)),
        Fr::from(u64::from(old)),
        Fr::from(u64::from(hint.t_old)),
        Fr::from(u64::from(hint.flags)),
    );
    match kind {
        SlotKind::Fetch => a + o * pow2(32) + t * pow2(64) + f * pow2(96),
        SlotKind::Data => a + o * pow2(32) + Fr::from(u64::from(new)) * pow2(64) + t * pow2(96) + f * pow2(128),
    }
}

/// A step's element of the access chain: its fetch's element and its data access's, shifted past
/// it (98 + 130 bits: one field element, injective).
pub fn step_element(fetch: Fr, data: Fr) -> Fr {
    fetch + data * pow2(FETCH_ELEMENT_BITS)
}
