//! The interpreter loop.
//!
//! One generic loop serves fast runs, traced runs and segment replays: it is monomorphised over the
//! memory ([`GuestMemory`]) and the tracer ([`Tracer`]). With [`crate::trace::NoTrace`] every tracing
//! hook is an empty inline function and the `old` values only tracing needs are dead code, so the
//! fast path is a fetch from the pre-decoded array, one `match`, and the register/memory work.

use crate::coprocessor::{CoprocessorMemory, Coprocessors};
use crate::decode::{Insn, Op, decode};
use crate::memory::GuestMemory;
use crate::program::Program;
use crate::syscall::{Io, ecall};
use crate::trace::{MemAccess, Tracer};
use crate::{Trap, TrapKind};

/// The text segment(s), pre-decoded once per run.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    base: u32,
    insns: Vec<Insn>,
    raw: Vec<u32>,
}

impl Code {
    /// Decodes every word lying entirely inside an executable segment; words in gaps between
    /// executable segments become `NotExecutable`. Bytes past a segment's file data are zero, and
    /// the zero word is an illegal instruction.
    pub(crate) fn new(program: &Program, coprocessors: &Coprocessors) -> Code {
        let (lo, hi) = program.text_range();
        let base = lo & !3;
        let words = (hi.saturating_sub(base) / 4) as usize;
        let mut insns = vec![Insn::NOT_EXECUTABLE; words];
        let mut raw = vec![0u32; words];
        for seg in program.segments().iter().filter(|s| s.is_executable()) {
            let mut addr = seg.vaddr.div_ceil(4) * 4;
            while addr as u64 + 4 <= seg.end() as u64 {
                let off = (addr - seg.vaddr) as usize;
                let mut le = [0u8; 4];
                for (i, b) in le.iter_mut().enumerate() {
                    *b = seg.data.get(off + i).copied().unwrap_or(0);
                }
                let w = u32::from_le_bytes(le);
                let idx = ((addr - base) / 4) as usize;
                if let (Some(slot), Some(r)) = (insns.get_mut(idx), raw.get_mut(idx)) {
                    *slot = decode(w, addr, coprocessors);
                    *r = w;
                }
                addr += 4;
            }
        }
        Code { base, insns, raw }
    }
}

/// Registers: x0..x31 plus the write sink at index 32 (see [`crate::decode::SINK_REG`]). The array
/// has 256 entries so indexing with a `u8` needs no bounds check.
pub(crate) type Regs = [u32; 256];

/// Processor state of a run in progress.
#[derive(Clone)]
pub(crate) struct Cpu {
    pub regs: Regs,
    pub pc: u32,
    pub steps: u64,
}

impl Cpu {
    pub(crate) fn new(pc: u32, regs: &[u32; 32]) -> Cpu {
        let mut all = [0u32; 256];
        all[..32].copy_from_slice(regs);
        all[0] = 0;
        Cpu { regs: all, pc, steps: 0 }
    }

    pub(crate) fn arch_regs(&self) -> [u32; 32] {
        let mut r = [0u32; 32];
        r.copy_from_slice(&self.regs[..32]);
        r
    }
}

/// Why a step did not simply continue.
pub(crate) enum Stop {
    Trap(TrapKind),
    Exit(u32),
}

impl From<TrapKind> for Stop {
    fn from(k: TrapKind) -> Self {
        Stop::Trap(k)
    }
}

/// Runs until exit, trap, or `max_steps` total retired steps. Returns the exit code.
/// On return `cpu.pc` is the pc of the exiting or trapping instruction.
pub(crate) fn run<M: GuestMemory, T: Tracer>(
    cpu: &mut Cpu,
    code: &Code,
    mem: &mut M,
    io: &mut Io<'_>,
    coprocessors: &Coprocessors,
    tracer: &mut T,
    max_steps: u64,
) -> Result<u32, Trap> {
    let mut pc = cpu.pc;
    let mut steps = cpu.steps;
    let result = loop {
        if steps >= max_steps {
            break Err(TrapKind::StepLimitExceeded { max_steps });
        }
        let idx = (pc.wrapping_sub(code.base) >> 2) as usize;
        let Some(insn) = code.insns.get(idx) else {
            break Err(TrapKind::FetchFault { addr: pc });
        };
        if T::ENABLED {
            tracer.begin(pc, code.raw.get(idx).copied().unwrap_or(0));
        }
        match step(insn, pc, &mut cpu.regs, mem, io, coprocessors, code, idx, tracer) {
            Ok(next) => {
                if T::ENABLED {
                    tracer.end(next);
                }
                pc = next;
                steps += 1;
            }
            Err(Stop::Exit(exit_code)) => {
                if T::ENABLED {
                    tracer.end(pc);
                }
                steps += 1;
                break Ok(exit_code);
            }
            Err(Stop::Trap(kind)) => break Err(kind),
        }
    };
    cpu.pc = pc;
    cpu.steps = steps;
    result.map_err(|kind| Trap { pc, steps, kind })
}

/// Executes one instruction and returns the next pc.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step<M: GuestMemory, T: Tracer>(
    insn: &Insn,
    pc: u32,
    regs: &mut Regs,
    mem: &mut M,
    io: &mut Io<'_>,
    coprocessors: &Coprocessors,
    code: &Code,
    idx: usize,
    tracer: &mut T,
) -> Result<u32, Stop> {
    macro_rules! rs1 {
        () => {{
            let v = regs[insn.rs1 as usize];
            if T::ENABLED {
                tracer.read_reg(insn.rs1, v);
            }
            v
        }};
    }
    macro_rules! rs2 {
        () => {{
            let v = regs[insn.rs2 as usize];
            if T::ENABLED {
                tracer.read_reg(insn.rs2, v);
            }
            v
        }};
    }
    macro_rules! wr {
        ($v:expr) => {{
            let v = $v;
            let old = regs[insn.rd as usize];
            regs[insn.rd as usize] = v;
            if T::ENABLED {
                tracer.write_reg(insn.rd, old, v);
            }
        }};
    }
    macro_rules! load_word {
        ($addr:expr) => {{
            let addr = $addr;
            let w = mem.load_word(addr)?;
            if T::ENABLED {
                tracer.mem(MemAccess { addr, old: w, new: w, is_write: false });
            }
            w
        }};
    }
    macro_rules! branch {
        ($cond:expr) => {{
            let a = rs1!();
            let b = rs2!();
            if $cond(a, b) {
                return jump(insn.imm);
            }
        }};
    }

    let next = pc.wrapping_add(4);
    match insn.op {
        Op::Add => wr!(rs1!().wrapping_add(rs2!())),
        Op::Sub => wr!(rs1!().wrapping_sub(rs2!())),
        Op::Sll => wr!(rs1!() << (rs2!() & 31)),
        Op::Slt => wr!(((rs1!() as i32) < (rs2!() as i32)) as u32),
        Op::Sltu => wr!((rs1!() < rs2!()) as u32),
        Op::Xor => wr!(rs1!() ^ rs2!()),
        Op::Srl => wr!(rs1!() >> (rs2!() & 31)),
        Op::Sra => wr!(((rs1!() as i32) >> (rs2!() & 31)) as u32),
        Op::Or => wr!(rs1!() | rs2!()),
        Op::And => wr!(rs1!() & rs2!()),
        Op::Addi => wr!(rs1!().wrapping_add(insn.imm)),
        Op::Slti => wr!(((rs1!() as i32) < (insn.imm as i32)) as u32),
        Op::Sltiu => wr!((rs1!() < insn.imm) as u32),
        Op::Xori => wr!(rs1!() ^ insn.imm),
        Op::Ori => wr!(rs1!() | insn.imm),
        Op::Andi => wr!(rs1!() & insn.imm),
        Op::Slli => wr!(rs1!() << insn.imm),
        Op::Srli => wr!(rs1!() >> insn.imm),
        Op::Srai => wr!(((rs1!() as i32) >> insn.imm) as u32),
        Op::Lui | Op::Auipc => wr!(insn.imm),
        Op::Jal => {
            let target = insn.imm;
            if target & 3 != 0 {
                return Err(TrapKind::MisalignedFetch { addr: target }.into());
            }
            wr!(next);
            return Ok(target);
        }
        Op::Jalr => {
            let target = rs1!().wrapping_add(insn.imm) & !1;
            if target & 3 != 0 {
                return Err(TrapKind::MisalignedFetch { addr: target }.into());
            }
            wr!(next);
            return Ok(target);
        }
        Op::Beq => branch!(|a, b| a == b),
        Op::Bne => branch!(|a, b| a != b),
        Op::Blt => branch!(|a: u32, b: u32| (a as i32) < (b as i32)),
        Op::Bge => branch!(|a: u32, b: u32| (a as i32) >= (b as i32)),
        Op::Bltu => branch!(|a, b| a < b),
        Op::Bgeu => branch!(|a, b| a >= b),
        Op::Lw => {
            let addr = rs1!().wrapping_add(insn.imm);
            if addr & 3 != 0 {
                return Err(TrapKind::MisalignedLoad { addr }.into());
            }
            wr!(load_word!(addr));
        }
        Op::Lh | Op::Lhu => {
            let addr = rs1!().wrapping_add(insn.imm);
            if addr & 1 != 0 {
                return Err(TrapKind::MisalignedLoad { addr }.into());
            }
            let half = (load_word!(addr & !3) >> ((addr & 2) * 8)) as u16;
            wr!(if insn.op == Op::Lh { half as i16 as i32 as u32 } else { half as u32 });
        }
        Op::Lb | Op::Lbu => {
            let addr = rs1!().wrapping_add(insn.imm);
            let byte = (load_word!(addr & !3) >> ((addr & 3) * 8)) as u8;
            wr!(if insn.op == Op::Lb { byte as i8 as i32 as u32 } else { byte as u32 });
        }
        Op::Sw => {
            let addr = rs1!().wrapping_add(insn.imm);
            let value = rs2!();
            if addr & 3 != 0 {
                return Err(TrapKind::MisalignedStore { addr }.into());
            }
            let old = mem.store_word(addr, value)?;
            if T::ENABLED {
                tracer.mem(MemAccess { addr, old, new: value, is_write: true });
            }
        }
        Op::Sh | Op::Sb => {
            let addr = rs1!().wrapping_add(insn.imm);
            let value = rs2!();
            let (mask, shift) = if insn.op == Op::Sh {
                if addr & 1 != 0 {
                    return Err(TrapKind::MisalignedStore { addr }.into());
                }
                (0xffffu32, (addr & 2) * 8)
            } else {
                (0xffu32, (addr & 3) * 8)
            };
            store_sub_word(mem, tracer, addr, value, mask, shift)?;
        }
        Op::Mul => wr!(rs1!().wrapping_mul(rs2!())),
        Op::Mulh => wr!((((rs1!() as i32 as i64) * (rs2!() as i32 as i64)) >> 32) as u32),
        Op::Mulhsu => {
            wr!((((rs1!() as i32 as i64).wrapping_mul(rs2!() as u64 as i64)) >> 32) as u32)
        }
        Op::Mulhu => wr!((((rs1!() as u64) * (rs2!() as u64)) >> 32) as u32),
        Op::Div => {
            let (a, b) = (rs1!() as i32, rs2!() as i32);
            // Division by zero gives -1; i32::MIN / -1 overflows to i32::MIN (RISC-V spec 13.2).
            wr!(if b == 0 { u32::MAX } else { a.wrapping_div(b) as u32 })
        }
        Op::Divu => {
            let (a, b) = (rs1!(), rs2!());
            wr!(a.checked_div(b).unwrap_or(u32::MAX))
        }
        Op::Rem => {
            let (a, b) = (rs1!() as i32, rs2!() as i32);
            // Remainder by zero gives the dividend; i32::MIN % -1 gives 0.
            wr!(if b == 0 { a as u32 } else { a.wrapping_rem(b) as u32 })
        }
        Op::Remu => {
            let (a, b) = (rs1!(), rs2!());
            wr!(a.checked_rem(b).unwrap_or(a))
        }
        Op::Fence => {}
        Op::Ecall => {
            if let Some(code) = ecall(regs, mem, io, tracer)? {
                return Err(Stop::Exit(code));
            }
        }
        Op::Ebreak => return Err(TrapKind::Breakpoint.into()),
        Op::Custom => {
            let raw = code.raw.get(idx).copied().unwrap_or(0);
            let a = rs1!();
            let b = rs2!();
            let Some(cop) = coprocessors.get(insn.imm) else {
                return Err(TrapKind::IllegalInstruction { insn: raw }.into());
            };
            let mut cm = CopMem { mem, tracer };
            if let Some(v) = cop.execute(raw, a, b, &mut cm)? {
                wr!(v);
            }
        }
        Op::Illegal => {
            let raw = code.raw.get(idx).copied().unwrap_or(0);
            return Err(TrapKind::IllegalInstruction { insn: raw }.into());
        }
        Op::NotExecutable => return Err(TrapKind::FetchFault { addr: pc }.into()),
    }
    Ok(next)
}

/// Taken branch: the target was computed at decode time; it must be word aligned (no C extension).
#[inline(always)]
fn jump(target: u32) -> Result<u32, Stop> {
    if target & 3 != 0 { Err(TrapKind::MisalignedFetch { addr: target }.into()) } else { Ok(target) }
}

/// SB/SH as a read-modify-write of the containing word. A fault on the read half is reported as a
/// store fault, because the instruction is a store.
#[inline(always)]
fn store_sub_word<M: GuestMemory, T: Tracer>(
    mem: &mut M,
    tracer: &mut T,
    addr: u32,
    value: u32,
    mask: u32,
    shift: u32,
) -> Result<(), TrapKind> {
    let aligned = addr & !3;
    let old = mem.load_word(aligned).map_err(|_| TrapKind::StoreFault { addr })?;
    let new = (old & !(mask << shift)) | ((value & mask) << shift);
    mem.store_word(aligned, new)?;
    if T::ENABLED {
        tracer.mem(MemAccess { addr: aligned, old, new, is_write: true });
    }
    Ok(())
}

/// Memory view handed to co-processors: checks alignment and records every access.
struct CopMem<'a, M, T> {
    mem: &'a mut M,
    tracer: &'a mut T,
}

impl<M: GuestMemory, T: Tracer> CoprocessorMemory for CopMem<'_, M, T> {
    fn load_word(&mut self, addr: u32) -> Result<u32, TrapKind> {
        if addr & 3 != 0 {
            return Err(TrapKind::MisalignedLoad { addr });
        }
        let w = self.mem.load_word(addr)?;
        if T::ENABLED {
            self.tracer.mem(MemAccess { addr, old: w, new: w, is_write: false });
        }
        Ok(w)
    }

    fn store_word(&mut self, addr: u32, value: u32) -> Result<(), TrapKind> {
        if addr & 3 != 0 {
            return Err(TrapKind::MisalignedStore { addr });
        }
        let old = self.mem.store_word(addr, value)?;
        if T::ENABLED {
            self.tracer.mem(MemAccess { addr, old, new: value, is_write: true });
        }
        Ok(())
    }
}
