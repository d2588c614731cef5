//! The initial memory as a Poseidon Merkle root: the name of a program's image in the statement,
//! and what a verifier that holds only the root checks openings of touched words against.
//!
//! The image is its segment table (address, size in memory, bytes from the file, flags: what maps
//! a word, with which permissions, and which words are zero) and the file's bytes. Leaves are the
//! initial cells ([`crate::memory::cell`]: address, value, timestamp 0, permission flags) of the
//! file-backed words of every segment, in address order, padded with zeros to a power of two; a
//! node is the Poseidon hash of its two children. Everything else the program maps is zero by the
//! table (.bss, a heap in it, page tails) and the stack is zero and writable by definition, so a
//! 16 MiB heap costs the tree nothing. The image root hashes the tree's root, its leaf count, the
//! entry point and the table: it names the initial state as fully as the ELF does, in one field
//! element a contract can hold. A leaf names its own address, so an opening needs no index map,
//! and the zero padding opens as no address (address 0 is never mapped).

use std::collections::BTreeSet;

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use nexus_nova::transcript::Transcript;
use nexus_vm::Program;
use rayon::prelude::*;

use crate::memory::{cell, initial_cell};

/// Transcript label of a tree node.
pub const IMAGE_NODE_LABEL: &[u8] = b"nexus-nvm/image-node/v1";
/// Transcript label of the image root.
pub const IMAGE_ROOT_LABEL: &[u8] = b"nexus-nvm/image-root/v1";
/// Largest tree the verifier walks: 2^24 words (64 MiB of file-backed image).
pub const MAX_IMAGE_DEPTH: usize = 24;
/// Most segments an image commitment may list.
pub const MAX_IMAGE_SEGMENTS: usize = 64;

/// A segment as the image commits to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct SegmentEntry {
    /// First address.
    pub vaddr: u32,
    /// Size in memory.
    pub memsz: u32,
    /// Bytes from the file (the rest is zero).
    pub filesz: u32,
    /// `SEG_READ | SEG_WRITE | SEG_EXEC` bits.
    pub flags: u32,
}

impl SegmentEntry {
    /// The entry of a program's segment.
    pub fn of(s: &nexus_vm::LoadSegment) -> Self {
        SegmentEntry { vaddr: s.vaddr, memsz: s.memsz, filesz: s.data.len() as u32, flags: s.flags }
    }

    /// The table of `program`'s segments.
    pub fn table(program: &Program) -> Vec<SegmentEntry> {
        program.segments().iter().map(Self::of).collect()
    }

    fn end(&self) -> u64 {
        u64::from(self.vaddr) + u64::from(self.memsz)
    }

    /// Whether the word at `addr` (aligned) holds bytes from the file.
    fn file_backed(&self, addr: u32) -> bool {
        let (a, start) = (u64::from(addr), u64::from(self.vaddr));
        a + 4 > start && a < start + u64::from(self.filesz)
    }
}

/// The flags of the word at `addr` (4-byte aligned), or `None` if no segment's pages cover it (the
/// NVM maps whole pages): writable if its page is (segments sharing a page have equal flags, the
/// loader checks), executable only if an executable segment holds the whole word (as the NVM
/// fetches).
pub fn locate(segments: impl IntoIterator<Item = SegmentEntry> + Clone, addr: u32) -> Option<u32> {
    let page = u64::from(nexus_vm::PAGE_BYTES);
    let a = u64::from(addr);
    let seg = segments.clone().into_iter().find(|s| {
        let start = u64::from(s.vaddr) / page * page;
        a >= start && a + 4 <= s.end().div_ceil(page) * page
    })?;
    let executable =
        segments.into_iter().any(|s| s.flags & nexus_vm::SEG_EXEC != 0 && a >= u64::from(s.vaddr) && a + 4 <= s.end());
    Some(
        (if seg.flags & nexus_vm::SEG_WRITE != 0 { crate::memory::WRITABLE } else { 0 })
            | (if executable { crate::memory::EXECUTABLE } else { 0 }),
    )
}

/// A program's image as a Merkle tree (prover side: every level kept for openings).
#[derive(Clone, Debug)]
pub struct ImageTree {
    /// Level 0 is the leaves (padded), the last level the tree's root.
    levels: Vec<Vec<Fr>>,
    /// Word address of each unpadded leaf.
    addrs: Vec<u32>,
    entry: u32,
    segments: Vec<SegmentEntry>,
}

/// An opening of one leaf: its index, and its siblings from the leaf up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opening {
    /// Leaf index.
    pub index: u32,
    /// Siblings, leaf level first.
    pub path: Vec<Fr>,
}

fn node(base: &Transcript, left: &Fr, right: &Fr) -> Fr {
    let mut t = base.clone();
    t.absorb(left);
    t.absorb(right);
    t.squeeze_fr()
}

/// Every word address holding bytes from the file, in order.
fn image_words(segments: &[SegmentEntry]) -> Vec<u32> {
    let mut words = BTreeSet::new();
    for s in segments {
        let start = u64::from(s.vaddr) / 4 * 4;
        let end = (u64::from(s.vaddr) + u64::from(s.filesz)).div_ceil(4) * 4;
        words.extend((start..end).step_by(4).filter_map(|a| u32::try_from(a).ok()));
    }
    words.into_iter().collect()
}

impl ImageTree {
    /// The tree of `program`'s image (hashes each level in parallel).
    pub fn new(program: &Program) -> Self {
        let segments = SegmentEntry::table(program);
        let addrs = image_words(&segments);
        let mut leaves: Vec<Fr> = addrs
            .par_iter()
            .map(|a| initial_cell(program, *a).map_or(Fr::zero(), |(v, flags)| cell(*a, v, 0, flags)))
            .collect();
        leaves.resize(leaves.len().next_power_of_two().max(2), Fr::zero());
        let base = Transcript::new(IMAGE_NODE_LABEL);
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let above: Vec<Fr> = below.par_chunks(2).map(|p| node(&base, &p[0], &p[1])).collect();
            levels.push(above);
        }
        Self { levels, addrs, entry: program.entry(), segments }
    }

    /// The image root.
    pub fn root(&self) -> Fr {
        self.commitment().root()
    }

    /// The opening of the word at `addr`, if the image maps it.
    pub fn open(&self, addr: u32) -> Option<Opening> {
        let mut i = self.addrs.binary_search(&addr).ok()?;
        let index = u32::try_from(i).ok()?;
        let mut path = Vec::with_capacity(self.levels.len() - 1);
        for level in &self.levels[..self.levels.len() - 1] {
            path.push(level[i ^ 1]);
            i /= 2;
        }
        Some(Opening { index, path })
    }

    /// What [`verify_opening`] needs besides an opening: the tree's root, word count and entry.
    pub fn commitment(&self) -> ImageCommitment {
        ImageCommitment {
            tree_root: self.levels.last().and_then(|l| l.first()).copied().unwrap_or_default(),
            words: self.addrs.len() as u64,
            entry: self.entry,
            segments: self.segments.clone(),
        }
    }
}

/// The parts of an image root.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct ImageCommitment {
    /// The Merkle tree's root.
    pub tree_root: Fr,
    /// File-backed words (leaves before padding).
    pub words: u64,
    /// The entry point.
    pub entry: u32,
    /// The segment table.
    pub segments: Vec<SegmentEntry>,
}

impl ImageCommitment {
    /// The image root these parts hash to: `H(tree root, words, entry, segment count, segments)`.
    pub fn root(&self) -> Fr {
        let mut t = Transcript::new(IMAGE_ROOT_LABEL);
        t.absorb(&self.tree_root);
        t.absorb(&self.words);
        t.absorb(&u64::from(self.entry));
        t.absorb(&(self.segments.len() as u64));
        for s in &self.segments {
            for v in [s.vaddr, s.memsz, s.filesz, s.flags] {
                t.absorb(&u64::from(v));
            }
        }
        t.squeeze_fr()
    }

    /// Whether the word at `addr` must be opened (it holds bytes from the file); otherwise its
    /// initial value is zero.
    pub fn file_backed(&self, addr: u32) -> bool {
        self.segments.iter().any(|s| s.file_backed(addr))
    }

    /// Whether `opening` proves that the image's word at `addr` is `value` with `flags`.
    pub fn verify_opening(&self, addr: u32, value: u32, flags: u32, opening: &Opening) -> bool {
        // `words` may come from a proof: bounded before any arithmetic on it.
        if self.words > 1 << MAX_IMAGE_DEPTH || u64::from(opening.index) >= self.words {
            return false;
        }
        let depth = self.words.max(2).next_power_of_two().trailing_zeros() as usize;
        if opening.path.len() != depth {
            return false;
        }
        let base = Transcript::new(IMAGE_NODE_LABEL);
        let mut h = cell(addr, value, 0, flags);
        let mut i = opening.index;
        for sibling in &opening.path {
            h = if i.is_multiple_of(2) { node(&base, &h, sibling) } else { node(&base, sibling, &h) };
            i /= 2;
        }
        h == self.tree_root
    }
}

/// The initial memory as a verifier knows it: the image's commitment, and the initial value and
/// flags of a word (`None`: unmapped). From the ELF ([`Image::of_program`]) or from openings a
/// proof carries, checked against the commitment ([`Image::from_openings`]).
pub struct Image<'a> {
    /// The image's commitment (its root is in the statement and in `γ`).
    pub commitment: ImageCommitment,
    /// The program's SHA-256 digest when the verifier holds the ELF.
    pub program_digest: Option<[u8; 32]>,
    lookup: Box<dyn Fn(u32) -> Option<(u32, u32)> + 'a>,
}

/// A touched image word's initial value and flags with its opening, as a proof carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialWord {
    /// Word address.
    pub addr: u32,
    /// Initial value.
    pub value: u32,
    /// Permission flags.
    pub flags: u32,
    /// The leaf's opening.
    pub opening: Opening,
}

impl<'a> Image<'a> {
    /// The image of `program` (builds its tree).
    pub fn of_program(program: &'a Program) -> Self {
        Self {
            commitment: ImageTree::new(program).commitment(),
            program_digest: Some(program.digest()),
            lookup: Box::new(move |a| initial_cell(program, a)),
        }
    }

    /// The image known by `commitment` alone, with the file-backed words a proof opened; `None` if
    /// the table is too long or an opening does not verify. Stack words are zero and writable by
    /// definition, other mapped words zero unless file-backed, and a file-backed word without an
    /// opening is refused as unmapped.
    pub fn from_openings(commitment: ImageCommitment, words: &[InitialWord]) -> Option<Self> {
        if commitment.segments.len() > MAX_IMAGE_SEGMENTS {
            return None;
        }
        let mut cells = std::collections::BTreeMap::new();
        for w in words {
            if !commitment.verify_opening(w.addr, w.value, w.flags, &w.opening) {
                return None;
            }
            cells.insert(w.addr, (w.value, w.flags));
        }
        let segments = commitment.segments.clone();
        let lookup = move |a: u32| {
            if (nexus_vm::STACK_BOTTOM..nexus_vm::STACK_TOP).contains(&a) {
                return Some((0, crate::memory::WRITABLE));
            }
            let flags = locate(segments.iter().copied(), a)?;
            if segments.iter().any(|s| s.file_backed(a)) { cells.get(&a).copied() } else { Some((0, flags)) }
        };
        Some(Self { commitment, program_digest: None, lookup: Box::new(lookup) })
    }

    /// The initial value and flags of the word at `addr`, or `None` if unmapped.
    pub fn initial(&self, addr: u32) -> Option<(u32, u32)> {
        (self.lookup)(addr)
    }
}

/// The image root of `program`.
pub fn image_root_of(program: &Program) -> Fr {
    ImageTree::new(program).root()
}

/// A field element as 32 little-endian bytes (how the statement shows the image root).
pub fn fr_bytes(v: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&v.into_bigint().to_bytes_le());
    out
}

/// The field element with these 32 little-endian bytes, if they are its canonical encoding.
pub fn fr_from_bytes(bytes: &[u8; 32]) -> Option<Fr> {
    let v = Fr::from_le_bytes_mod_order(bytes);
    (fr_bytes(&v) == *bytes).then_some(v)
}
