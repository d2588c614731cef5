//! Guest memory.
//!
//! Memory is word-granular: every access the interpreter makes is to a 4-byte aligned word, and
//! byte/halfword accesses are a read (or read-modify-write) of their containing word. That keeps the
//! trace uniform for the prover (one memory-checking row per word access) and the hot path cheap:
//! a load is one subtraction, one bounds check, one page-permission lookup and one indexed read.
//!
//! Two flat regions make up the address space: the *image* (from the lowest loaded segment to the
//! end of the highest one, with per-4 KiB-page permissions so gaps between segments stay unmapped)
//! and the *stack* (a fixed window below [`STACK_TOP`]). Everything else is unmapped.

use crate::TrapKind;
use crate::program::{Program, SEG_WRITE};

/// Size of a page: the granularity of permissions.
pub const PAGE_BYTES: u32 = 4096;
/// One past the highest stack address. The stack grows down from here.
pub const STACK_TOP: u32 = 0x8000_0000;
/// Size of the stack region `[STACK_TOP - STACK_BYTES, STACK_TOP)`.
pub const STACK_BYTES: u32 = 8 * 1024 * 1024;
/// Lowest stack address. Loadable segments must end at or below it.
pub const STACK_BOTTOM: u32 = STACK_TOP - STACK_BYTES;
/// Initial value of sp (x2): 16-byte aligned per the RISC-V psABI; the 16 bytes from sp up to
/// STACK_TOP are zero, which reads as `argc = 0, argv = {NULL}, envp = {NULL}, auxv = {AT_NULL}`
/// for a guest written for Linux.
pub const INITIAL_SP: u32 = STACK_TOP - 16;
/// Lowest address a segment may occupy: the first page stays unmapped so null pointers fault.
pub const MIN_SEGMENT_ADDR: u32 = PAGE_BYTES;

const WORDS_PER_PAGE: usize = (PAGE_BYTES / 4) as usize;
/// Page permission bits in the image.
pub(crate) const PAGE_MAPPED: u8 = 1;
pub(crate) const PAGE_WRITABLE: u8 = 2;

/// The word-level interface the interpreter runs on. Implemented by [`Memory`] (a full run) and by
/// the sparse memory of a segment replay. Addresses passed in are always 4-byte aligned.
pub(crate) trait GuestMemory {
    fn load_word(&mut self, addr: u32) -> Result<u32, TrapKind>;
    /// Stores `value` and returns the previous content of the word.
    fn store_word(&mut self, addr: u32, value: u32) -> Result<u32, TrapKind>;
}

/// Permissions of the address space, shared by full runs and replays so both fault identically.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    image_base: u32,
    image_words: usize,
    page_flags: Vec<u8>,
}

impl Layout {
    pub(crate) fn new(program: &Program) -> Layout {
        let (base, end) = program.image_range();
        let pages = ((end - base) / PAGE_BYTES) as usize;
        let mut page_flags = vec![0u8; pages];
        for seg in program.segments() {
            let first = ((seg.vaddr - base) / PAGE_BYTES) as usize;
            let last = ((seg.vaddr + seg.memsz - 1 - base) / PAGE_BYTES) as usize;
            // Executable segments are never writable (the loader rejects W+X), which is what makes
            // pre-decoding the text sound: code cannot change under the decoded copy.
            let flags = PAGE_MAPPED | if seg.flags & SEG_WRITE != 0 { PAGE_WRITABLE } else { 0 };
            for f in &mut page_flags[first..=last] {
                *f |= flags;
            }
        }
        Layout { image_base: base, image_words: pages * WORDS_PER_PAGE, page_flags }
    }

    /// Index of `addr` in the image word array if it lies in the image, with its page flags.
    #[inline(always)]
    fn image_slot(&self, addr: u32) -> Option<(usize, u8)> {
        let idx = (addr.wrapping_sub(self.image_base) >> 2) as usize;
        if idx < self.image_words {
            let flags = self.page_flags.get(idx / WORDS_PER_PAGE).copied().unwrap_or(0);
            Some((idx, flags))
        } else {
            None
        }
    }

    #[inline(always)]
    fn stack_slot(addr: u32) -> Option<usize> {
        let idx = (addr.wrapping_sub(STACK_BOTTOM) >> 2) as usize;
        (idx < (STACK_BYTES / 4) as usize).then_some(idx)
    }

    pub(crate) fn check_load(&self, addr: u32) -> Result<(), TrapKind> {
        match self.image_slot(addr) {
            Some((_, f)) if f & PAGE_MAPPED != 0 => Ok(()),
            Some(_) => Err(TrapKind::LoadFault { addr }),
            None if Self::stack_slot(addr).is_some() => Ok(()),
            None => Err(TrapKind::LoadFault { addr }),
        }
    }

    pub(crate) fn check_store(&self, addr: u32) -> Result<(), TrapKind> {
        match self.image_slot(addr) {
            Some((_, f)) if f & PAGE_WRITABLE != 0 => Ok(()),
            Some(_) => Err(TrapKind::StoreFault { addr }),
            None if Self::stack_slot(addr).is_some() => Ok(()),
            None => Err(TrapKind::StoreFault { addr }),
        }
    }
}

/// The full memory of a run.
#[derive(Debug, Clone)]
pub struct Memory {
    layout: Layout,
    image: Vec<u32>,
    stack: Vec<u32>,
}

impl Memory {
    /// Builds the initial memory of `program`: segment bytes at their vaddrs, zeros elsewhere.
    pub fn new(program: &Program) -> Memory {
        let layout = Layout::new(program);
        let mut image = vec![0u32; layout.image_words];
        for seg in program.segments() {
            for (i, &b) in seg.data.iter().enumerate() {
                let off = (seg.vaddr - layout.image_base) as usize + i;
                let word = &mut image[off / 4];
                *word |= (b as u32) << (8 * (off % 4));
            }
        }
        Memory { layout, image, stack: vec![0u32; (STACK_BYTES / 4) as usize] }
    }
}

impl GuestMemory for Memory {
    #[inline(always)]
    fn load_word(&mut self, addr: u32) -> Result<u32, TrapKind> {
        if let Some((idx, flags)) = self.layout.image_slot(addr) {
            if flags & PAGE_MAPPED != 0
                && let Some(w) = self.image.get(idx)
            {
                return Ok(*w);
            }
        } else if let Some(idx) = Layout::stack_slot(addr)
            && let Some(w) = self.stack.get(idx)
        {
            return Ok(*w);
        }
        Err(TrapKind::LoadFault { addr })
    }

    #[inline(always)]
    fn store_word(&mut self, addr: u32, value: u32) -> Result<u32, TrapKind> {
        if let Some((idx, flags)) = self.layout.image_slot(addr) {
            if flags & PAGE_WRITABLE != 0
                && let Some(w) = self.image.get_mut(idx)
            {
                return Ok(std::mem::replace(w, value));
            }
        } else if let Some(idx) = Layout::stack_slot(addr)
            && let Some(w) = self.stack.get_mut(idx)
        {
            return Ok(std::mem::replace(w, value));
        }
        Err(TrapKind::StoreFault { addr })
    }
}
