//! The ECALL ABI: a subset of Linux's RISC-V system calls, so guests also run under qemu-user.
//!
//! Number in a7, arguments in a0..a2, result in a0. Supported: `read` (63) on fd 0 (the call input),
//! `write` (64) on fd 1 (public output) and fd 2 (log), `exit` (93) and `exit_group` (94). Anything
//! else traps: unlike Linux we do not return `-ENOSYS`/`-EBADF`, because a proof of a run that
//! silently ignored a request would be misleading.
//!
//! Buffers are copied word by word so a traced run records one access per touched word.

use crate::decode::SINK_REG;
use crate::execute::Regs;
use crate::memory::GuestMemory;
use crate::trace::{IoState, MemAccess, Tracer};
use crate::{MAX_LOG_BYTES, MAX_OUTPUT_BYTES, TrapKind};

pub const SYS_READ: u32 = 63;
pub const SYS_WRITE: u32 = 64;
pub const SYS_EXIT: u32 = 93;
pub const SYS_EXIT_GROUP: u32 = 94;

pub const FD_INPUT: u32 = 0;
pub const FD_OUTPUT: u32 = 1;
pub const FD_LOG: u32 = 2;

const A0: u8 = 10;
const A1: u8 = 11;
const A2: u8 = 12;
const A7: u8 = 17;

/// Input and output streams of a run (or of one replayed segment: then `output` and `log` hold only
/// what this segment wrote, and the `*_before` counts what earlier segments wrote, for the limits).
pub(crate) struct Io<'a> {
    pub input: &'a [u8],
    pub input_pos: usize,
    pub output: Vec<u8>,
    pub log: Vec<u8>,
    pub output_before: usize,
    pub log_before: usize,
}

impl<'a> Io<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Io<'a> {
        Io { input, input_pos: 0, output: Vec::new(), log: Vec::new(), output_before: 0, log_before: 0 }
    }

    pub(crate) fn state(&self) -> IoState {
        IoState {
            input_pos: self.input_pos as u32,
            output_len: (self.output_before + self.output.len()) as u32,
            log_len: (self.log_before + self.log.len()) as u32,
        }
    }
}

/// Handles an ECALL. Returns `Some(exit code)` if the program exits.
#[inline(never)]
pub(crate) fn ecall<M: GuestMemory, T: Tracer>(
    regs: &mut Regs,
    mem: &mut M,
    io: &mut Io<'_>,
    tracer: &mut T,
) -> Result<Option<u32>, TrapKind> {
    let mut read = |r: u8| {
        let v = regs[r as usize];
        tracer.read_reg(r, v);
        v
    };
    let number = read(A7);
    let result = match number {
        SYS_EXIT | SYS_EXIT_GROUP => {
            let code = read(A0);
            return Ok(Some(code));
        }
        SYS_READ => {
            let (fd, buf, count) = (read(A0), read(A1), read(A2));
            if fd != FD_INPUT {
                return Err(TrapKind::BadFileDescriptor { number, fd });
            }
            let remaining = io.input.get(io.input_pos..).unwrap_or(&[]);
            let n = remaining.len().min(count as usize);
            let bytes = &remaining[..n];
            copy_to_guest(mem, tracer, buf, bytes)?;
            io.input_pos += n;
            n as u32
        }
        SYS_WRITE => {
            let (fd, buf, count) = (read(A0), read(A1), read(A2));
            let (sink, before, max_bytes) = match fd {
                FD_OUTPUT => (&mut io.output, io.output_before, MAX_OUTPUT_BYTES),
                FD_LOG => (&mut io.log, io.log_before, MAX_LOG_BYTES),
                _ => return Err(TrapKind::BadFileDescriptor { number, fd }),
            };
            if before + sink.len() + count as usize > max_bytes {
                return Err(if fd == FD_OUTPUT {
                    TrapKind::OutputLimitExceeded { max_bytes }
                } else {
                    TrapKind::LogLimitExceeded { max_bytes }
                });
            }
            copy_from_guest(mem, tracer, buf, count, sink)?;
            count
        }
        _ => return Err(TrapKind::UnknownSyscall { number }),
    };
    let old = regs[A0 as usize];
    regs[A0 as usize] = result;
    if T::ENABLED {
        tracer.write_reg(A0, old, result);
        tracer.io(io.state());
    }
    debug_assert_ne!(A0, SINK_REG);
    Ok(None)
}

/// Copies `bytes` to guest memory at `addr`, one read-modify-write per touched word.
fn copy_to_guest<M: GuestMemory, T: Tracer>(
    mem: &mut M,
    tracer: &mut T,
    addr: u32,
    bytes: &[u8],
) -> Result<(), TrapKind> {
    let mut i = 0usize;
    while i < bytes.len() {
        let a = addr.wrapping_add(i as u32);
        let word_addr = a & !3;
        let first = (a & 3) as usize;
        let take = (4 - first).min(bytes.len() - i);
        let old = mem.load_word(word_addr).map_err(|_| TrapKind::StoreFault { addr: a })?;
        let mut le = old.to_le_bytes();
        le[first..first + take].copy_from_slice(&bytes[i..i + take]);
        let new = u32::from_le_bytes(le);
        mem.store_word(word_addr, new).map_err(|_| TrapKind::StoreFault { addr: a })?;
        if T::ENABLED {
            tracer.mem(MemAccess { addr: word_addr, old, new, is_write: true });
        }
        i += take;
    }
    Ok(())
}

/// Appends `count` bytes of guest memory at `addr` to `sink`, one read per touched word.
fn copy_from_guest<M: GuestMemory, T: Tracer>(
    mem: &mut M,
    tracer: &mut T,
    addr: u32,
    count: u32,
    sink: &mut Vec<u8>,
) -> Result<(), TrapKind> {
    let mut i = 0u32;
    while i < count {
        let a = addr.wrapping_add(i);
        let word_addr = a & !3;
        let first = (a & 3) as usize;
        let take = (4 - first).min((count - i) as usize);
        let w = mem.load_word(word_addr)?;
        if T::ENABLED {
            tracer.mem(MemAccess { addr: word_addr, old: w, new: w, is_write: false });
        }
        sink.extend_from_slice(&w.to_le_bytes()[first..first + take]);
        i += take as u32;
    }
    Ok(())
}
