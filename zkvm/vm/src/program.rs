//! A loaded program: entry point and loadable segments, plus its digest.

use sha2::{Digest, Sha256};

use crate::memory::PAGE_BYTES;

/// ELF segment permission bits (same values as `p_flags`).
pub const SEG_EXEC: u32 = 1;
pub const SEG_WRITE: u32 = 2;
pub const SEG_READ: u32 = 4;

/// Domain-separation prefix of the program digest; bump the version if the encoding changes.
pub const DIGEST_DOMAIN: &[u8] = b"nexus-nvm/program/v1";

/// One loadable segment, as it will be placed in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSegment {
    /// First address of the segment.
    pub vaddr: u32,
    /// Size in memory (>= `data.len()`); bytes past `data` are zero (.bss).
    pub memsz: u32,
    /// `SEG_READ | SEG_WRITE | SEG_EXEC` bits, as in the ELF `p_flags`.
    pub flags: u32,
    /// Initial bytes from the file (`p_filesz` of them).
    pub data: Vec<u8>,
}

impl LoadSegment {
    pub fn end(&self) -> u32 {
        self.vaddr + self.memsz
    }
    pub fn is_executable(&self) -> bool {
        self.flags & SEG_EXEC != 0
    }
}

/// A validated NVM program. Construct with [`Program::from_elf`]; every invariant the interpreter
/// relies on (segments sorted, disjoint, inside the program area, not W+X, entry executable) was
/// checked there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub(crate) entry: u32,
    pub(crate) segments: Vec<LoadSegment>,
    pub(crate) digest: [u8; 32],
}

impl Program {
    /// Assembles a program from already validated parts (used by the ELF loader).
    pub(crate) fn from_parts(entry: u32, segments: Vec<LoadSegment>) -> Program {
        let digest = compute_digest(entry, &segments);
        Program { entry, segments, digest }
    }

    /// The entry point (initial pc).
    pub fn entry(&self) -> u32 {
        self.entry
    }

    /// Loadable segments in ascending address order.
    pub fn segments(&self) -> &[LoadSegment] {
        &self.segments
    }

    /// The program digest, part of every proof's public statement. See NVM-SPEC.md, "Program digest":
    /// SHA-256 over `DIGEST_DOMAIN || u32le(entry) || u32le(n)` followed, for each of the `n`
    /// loadable segments in ascending vaddr order, by
    /// `u32le(vaddr) || u32le(memsz) || u32le(flags) || u32le(filesz) || file bytes`.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// `[first page, end of last page)` covering every segment.
    pub(crate) fn image_range(&self) -> (u32, u32) {
        let lo = self.segments.first().map_or(0, |s| s.vaddr) & !(PAGE_BYTES - 1);
        let hi = self.segments.last().map_or(0, |s| s.end());
        let hi = hi.div_ceil(PAGE_BYTES) * PAGE_BYTES;
        (lo, hi)
    }

    /// Executable address range `[lo, hi)` (union hull of executable segments).
    pub(crate) fn text_range(&self) -> (u32, u32) {
        let mut exec = self.segments.iter().filter(|s| s.is_executable());
        let first = exec.next();
        let lo = first.map_or(0, |s| s.vaddr);
        let hi = self.segments.iter().filter(|s| s.is_executable()).map(LoadSegment::end).max().unwrap_or(0);
        (lo, hi)
    }
}

fn compute_digest(entry: u32, segments: &[LoadSegment]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DIGEST_DOMAIN);
    h.update(entry.to_le_bytes());
    h.update((segments.len() as u32).to_le_bytes());
    for s in segments {
        h.update(s.vaddr.to_le_bytes());
        h.update(s.memsz.to_le_bytes());
        h.update(s.flags.to_le_bytes());
        h.update((s.data.len() as u32).to_le_bytes());
        h.update(&s.data);
    }
    h.finalize().into()
}
