//! ELF loader: turns an untrusted file into a validated [`Program`].
//!
//! Every check here returns a typed [`ElfError`]; nothing in this module may panic on any input
//! (see the byte-mutation test in `tests/elf_loader.rs`). All arithmetic on file-controlled values is
//! checked or done in u64 before narrowing.

use elf::ElfBytes;
use elf::endian::LittleEndian;

use crate::ElfError;
use crate::memory::{MIN_SEGMENT_ADDR, PAGE_BYTES, STACK_BOTTOM};
use crate::program::{LoadSegment, Program, SEG_EXEC, SEG_READ, SEG_WRITE};

/// Largest ELF file accepted, in bytes. Guests are small no_std programs; the cap bounds the work a
/// deploy can cause before any validation.
pub const MAX_ELF_BYTES: usize = 64 * 1024 * 1024;
/// Largest distance from the first to the last loaded page, in bytes: memory is one flat array over
/// this span, so it must stay small enough to allocate per run.
pub const MAX_IMAGE_SPAN_BYTES: u64 = 256 * 1024 * 1024;
/// Largest span of executable memory, in bytes: the text is pre-decoded into 8 bytes per word on
/// every run, so its size bounds the start-up cost a program can impose.
pub const MAX_TEXT_BYTES: u64 = 16 * 1024 * 1024;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const ET_EXEC: u16 = 2;
const EM_RISCV: u16 = 243;
const EF_RISCV_RVC: u32 = 1;
const ELF32_EHDR_BYTES: usize = 52;

impl Program {
    /// Parses and validates a RISC-V ELF32 executable. See NVM-SPEC.md "Program loading".
    pub fn from_elf(bytes: &[u8]) -> Result<Program, ElfError> {
        load(bytes)
    }
}

fn load(bytes: &[u8]) -> Result<Program, ElfError> {
    if bytes.len() > MAX_ELF_BYTES {
        return Err(ElfError::TooLarge { size_bytes: bytes.len(), max_bytes: MAX_ELF_BYTES });
    }
    // Identification checks are done by hand first so the errors name the actual problem; the elf
    // crate would report several of them as generic parse errors.
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(ElfError::NotElf);
    }
    if bytes.len() < 6 {
        return Err(ElfError::Truncated { what: "ELF identification" });
    }
    if bytes[4] != 1 {
        return Err(ElfError::WrongClass { found: bytes[4] });
    }
    if bytes[5] != 1 {
        return Err(ElfError::WrongEndianness { found: bytes[5] });
    }
    if bytes.len() < ELF32_EHDR_BYTES {
        return Err(ElfError::Truncated { what: "ELF header" });
    }
    let file = ElfBytes::<LittleEndian>::minimal_parse(bytes).map_err(map_parse_error)?;
    let ehdr = &file.ehdr;
    if ehdr.e_machine != EM_RISCV {
        return Err(ElfError::WrongMachine { found: ehdr.e_machine });
    }
    if ehdr.e_type != ET_EXEC {
        return Err(ElfError::NotExecutable { found: ehdr.e_type });
    }
    if ehdr.e_flags & EF_RISCV_RVC != 0 {
        return Err(ElfError::CompressedInstructions { flags: ehdr.e_flags });
    }

    let mut segments = Vec::new();
    if let Some(table) = file.segments() {
        for ph in table.iter() {
            if ph.p_type == PT_DYNAMIC || ph.p_type == PT_INTERP {
                return Err(ElfError::NotStatic { p_type: ph.p_type });
            }
            if ph.p_type != PT_LOAD || ph.p_memsz == 0 {
                continue;
            }
            segments.push(load_segment(bytes, &ph)?);
        }
    }
    if segments.is_empty() {
        return Err(ElfError::NoSegments);
    }
    segments.sort_by_key(|s| s.vaddr);
    check_layout(&segments)?;

    let entry = ehdr.e_entry;
    let entry_ok = entry % 4 == 0
        && segments.iter().any(|s| s.is_executable() && entry >= s.vaddr as u64 && entry + 4 <= s.end() as u64);
    if !segments.iter().any(LoadSegment::is_executable) {
        return Err(ElfError::NoExecutableSegment);
    }
    if !entry_ok {
        return Err(ElfError::EntryNotExecutable { entry });
    }
    Ok(Program::from_parts(entry as u32, segments))
}

fn map_parse_error(e: elf::ParseError) -> ElfError {
    match e {
        elf::ParseError::SliceReadError(_) => ElfError::Truncated { what: "header table or segment" },
        other => ElfError::Malformed(other.to_string()),
    }
}

fn load_segment(bytes: &[u8], ph: &elf::segment::ProgramHeader) -> Result<LoadSegment, ElfError> {
    if ph.p_filesz > ph.p_memsz {
        return Err(ElfError::FileSizeExceedsMemSize { vaddr: ph.p_vaddr, filesz: ph.p_filesz, memsz: ph.p_memsz });
    }
    let end = ph.p_vaddr.checked_add(ph.p_memsz);
    let in_range = ph.p_vaddr >= MIN_SEGMENT_ADDR as u64 && end.is_some_and(|e| e <= STACK_BOTTOM as u64);
    if !in_range {
        return Err(ElfError::SegmentOutOfRange {
            vaddr: ph.p_vaddr,
            memsz: ph.p_memsz,
            min: MIN_SEGMENT_ADDR,
            max: STACK_BOTTOM,
        });
    }
    let data = ph
        .p_offset
        .checked_add(ph.p_filesz)
        .and_then(|end| bytes.get(usize::try_from(ph.p_offset).ok()?..usize::try_from(end).ok()?))
        .ok_or(ElfError::Truncated { what: "segment data" })?;
    let flags = ph.p_flags & (SEG_READ | SEG_WRITE | SEG_EXEC);
    let vaddr = ph.p_vaddr as u32;
    if flags & SEG_WRITE != 0 && flags & SEG_EXEC != 0 {
        return Err(ElfError::WritableExecutableSegment { vaddr });
    }
    Ok(LoadSegment { vaddr, memsz: ph.p_memsz as u32, flags, data: data.to_vec() })
}

/// Segments (sorted) must be disjoint, must not share a page unless their permissions agree, and
/// must fit in [`MAX_IMAGE_SPAN_BYTES`].
fn check_layout(segments: &[LoadSegment]) -> Result<(), ElfError> {
    for pair in segments.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.end() > b.vaddr {
            return Err(ElfError::OverlappingSegments { first: a.vaddr, second: b.vaddr });
        }
        let same_page = (a.end() - 1) / PAGE_BYTES == b.vaddr / PAGE_BYTES;
        if same_page && a.flags != b.flags {
            return Err(ElfError::SegmentsSharePage { first: a.vaddr, second: b.vaddr });
        }
    }
    if let (Some(first), Some(last)) = (segments.first(), segments.last()) {
        let span_bytes = (last.end() - (first.vaddr & !(PAGE_BYTES - 1))) as u64;
        if span_bytes > MAX_IMAGE_SPAN_BYTES {
            return Err(ElfError::ImageTooLarge { span_bytes, max_bytes: MAX_IMAGE_SPAN_BYTES });
        }
    }
    let mut exec = segments.iter().filter(|s| s.is_executable());
    if let Some(first) = exec.next() {
        let end = exec.next_back().unwrap_or(first).end();
        let text_bytes = (end - first.vaddr) as u64;
        if text_bytes > MAX_TEXT_BYTES {
            return Err(ElfError::TextTooLarge { text_bytes, max_bytes: MAX_TEXT_BYTES });
        }
    }
    Ok(())
}
