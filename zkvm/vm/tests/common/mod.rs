//! Test support: a small RV32IM encoder and a minimal ELF32 writer.
//!
//! The encoder is written from the RISC-V unprivileged spec's instruction formats, independently of
//! the crate's decoder, so that encoder/decoder agreement is itself evidence (and differential runs
//! against qemu check both).
#![allow(dead_code)]

use nexus_vm::{Program, RunResult, Trace, Vm, VmConfig};

pub const TEXT_VADDR: u32 = 0x0001_1000;
pub const DATA_VADDR: u32 = 0x0010_0000;

// ---- registers ----
pub const ZERO: u32 = 0;
pub const RA: u32 = 1;
pub const SP: u32 = 2;
pub const T0: u32 = 5;
pub const T1: u32 = 6;
pub const T2: u32 = 7;
pub const A0: u32 = 10;
pub const A1: u32 = 11;
pub const A2: u32 = 12;
pub const A7: u32 = 17;

// ---- formats ----
pub fn r_type(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
pub fn i_type(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32) -> u32 {
    assert!((-2048..2048).contains(&imm), "I immediate {imm} out of range");
    (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
pub fn s_type(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    assert!((-2048..2048).contains(&imm), "S immediate {imm} out of range");
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | 0x23
}
pub fn b_type(offset: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    assert!(offset % 2 == 0 && (-4096..4096).contains(&offset));
    let o = offset as u32;
    (((o >> 12) & 1) << 31)
        | (((o >> 5) & 0x3f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (f3 << 12)
        | (((o >> 1) & 0xf) << 8)
        | (((o >> 11) & 1) << 7)
        | 0x63
}
pub fn u_type(imm20: u32, rd: u32, op: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | op
}
pub fn j_type(offset: i32, rd: u32) -> u32 {
    assert!(offset % 2 == 0 && (-(1 << 20)..(1 << 20)).contains(&offset));
    let o = offset as u32;
    (((o >> 20) & 1) << 31)
        | (((o >> 1) & 0x3ff) << 21)
        | (((o >> 11) & 1) << 20)
        | (((o >> 12) & 0xff) << 12)
        | (rd << 7)
        | 0x6f
}

// ---- RV32I ----
pub fn lui(rd: u32, imm20: u32) -> u32 {
    u_type(imm20 & 0xfffff, rd, 0x37)
}
pub fn auipc(rd: u32, imm20: u32) -> u32 {
    u_type(imm20 & 0xfffff, rd, 0x17)
}
pub fn jal(rd: u32, offset: i32) -> u32 {
    j_type(offset, rd)
}
pub fn jalr(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x67)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Branch {
    Beq = 0,
    Bne = 1,
    Blt = 4,
    Bge = 5,
    Bltu = 6,
    Bgeu = 7,
}
pub const BRANCHES: [Branch; 6] = [Branch::Beq, Branch::Bne, Branch::Blt, Branch::Bge, Branch::Bltu, Branch::Bgeu];
pub fn branch(kind: Branch, rs1: u32, rs2: u32, offset: i32) -> u32 {
    b_type(offset, rs2, rs1, kind as u32)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    Lb = 0,
    Lh = 1,
    Lw = 2,
    Lbu = 4,
    Lhu = 5,
}
pub const LOADS: [Load; 5] = [Load::Lb, Load::Lh, Load::Lw, Load::Lbu, Load::Lhu];
pub fn load(kind: Load, rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, kind as u32, rd, 0x03)
}
pub fn lw(rd: u32, rs1: u32, imm: i32) -> u32 {
    load(Load::Lw, rd, rs1, imm)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Sb = 0,
    Sh = 1,
    Sw = 2,
}
pub const STORES: [Store; 3] = [Store::Sb, Store::Sh, Store::Sw];
pub fn store(kind: Store, rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(imm, rs2, rs1, kind as u32)
}
pub fn sw(rs2: u32, rs1: u32, imm: i32) -> u32 {
    store(Store::Sw, rs2, rs1, imm)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImmOp {
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
}
pub const IMM_OPS: [ImmOp; 9] = [
    ImmOp::Addi,
    ImmOp::Slti,
    ImmOp::Sltiu,
    ImmOp::Xori,
    ImmOp::Ori,
    ImmOp::Andi,
    ImmOp::Slli,
    ImmOp::Srli,
    ImmOp::Srai,
];
/// For shifts `imm` is the shift amount (0..32).
pub fn imm_op(op: ImmOp, rd: u32, rs1: u32, imm: i32) -> u32 {
    let shift = |f7: u32, f3: u32| {
        assert!((0..32).contains(&imm));
        r_type(f7, imm as u32, rs1, f3, rd, 0x13)
    };
    match op {
        ImmOp::Addi => i_type(imm, rs1, 0, rd, 0x13),
        ImmOp::Slti => i_type(imm, rs1, 2, rd, 0x13),
        ImmOp::Sltiu => i_type(imm, rs1, 3, rd, 0x13),
        ImmOp::Xori => i_type(imm, rs1, 4, rd, 0x13),
        ImmOp::Ori => i_type(imm, rs1, 6, rd, 0x13),
        ImmOp::Andi => i_type(imm, rs1, 7, rd, 0x13),
        ImmOp::Slli => shift(0, 1),
        ImmOp::Srli => shift(0, 5),
        ImmOp::Srai => shift(0x20, 5),
    }
}
pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    imm_op(ImmOp::Addi, rd, rs1, imm)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegOp {
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
}
pub const REG_OPS: [RegOp; 18] = [
    RegOp::Add,
    RegOp::Sub,
    RegOp::Sll,
    RegOp::Slt,
    RegOp::Sltu,
    RegOp::Xor,
    RegOp::Srl,
    RegOp::Sra,
    RegOp::Or,
    RegOp::And,
    RegOp::Mul,
    RegOp::Mulh,
    RegOp::Mulhsu,
    RegOp::Mulhu,
    RegOp::Div,
    RegOp::Divu,
    RegOp::Rem,
    RegOp::Remu,
];
pub fn reg_op(op: RegOp, rd: u32, rs1: u32, rs2: u32) -> u32 {
    let (f7, f3) = match op {
        RegOp::Add => (0, 0),
        RegOp::Sub => (0x20, 0),
        RegOp::Sll => (0, 1),
        RegOp::Slt => (0, 2),
        RegOp::Sltu => (0, 3),
        RegOp::Xor => (0, 4),
        RegOp::Srl => (0, 5),
        RegOp::Sra => (0x20, 5),
        RegOp::Or => (0, 6),
        RegOp::And => (0, 7),
        RegOp::Mul => (1, 0),
        RegOp::Mulh => (1, 1),
        RegOp::Mulhsu => (1, 2),
        RegOp::Mulhu => (1, 3),
        RegOp::Div => (1, 4),
        RegOp::Divu => (1, 5),
        RegOp::Rem => (1, 6),
        RegOp::Remu => (1, 7),
    };
    r_type(f7, rs2, rs1, f3, rd, 0x33)
}
pub fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
    reg_op(RegOp::Add, rd, rs1, rs2)
}

pub const FENCE: u32 = 0x0ff0_000f;
pub const ECALL: u32 = 0x0000_0073;
pub const EBREAK: u32 = 0x0010_0073;
pub const NOP: u32 = 0x0000_0013;

/// `li rd, value` as exactly two instructions (LUI + ADDI), so code size is predictable.
pub fn li(rd: u32, value: u32) -> [u32; 2] {
    let lo = ((value & 0xfff) as i32) << 20 >> 20;
    let hi = value.wrapping_sub(lo as u32) >> 12;
    [lui(rd, hi), addi(rd, rd, lo)]
}

/// `a7 = 93; ecall` with a0 already holding the exit code.
pub fn exit_seq() -> Vec<u32> {
    let mut v = li(A7, 93).to_vec();
    v.push(ECALL);
    v
}

/// Reads up to `count` bytes of input to `buf`, writes them to the log (fd 2) if `log`, then to the
/// output (fd 1), and exits with the number of bytes read.
pub fn echo_code(buf: u32, count: u32, log: bool) -> Vec<u32> {
    let mut code = li(A0, 0).to_vec();
    code.extend(li(A1, buf));
    code.extend(li(A2, count));
    code.extend(li(A7, 63));
    code.push(ECALL);
    code.push(addi(A2, A0, 0));
    code.extend(li(A7, 64));
    for fd in if log { &[2, 1][..] } else { &[1][..] } {
        code.extend(li(A0, *fd));
        code.push(ECALL);
    }
    code.extend(exit_seq());
    code
}

// ---- ELF writer ----

/// Writes a minimal static ELF32 RISC-V ET_EXEC: one PT_LOAD R+X text segment at `TEXT_VADDR` and,
/// if `data_memsz > 0`, one PT_LOAD R+W data segment at `DATA_VADDR` (file bytes `data`, zero-filled
/// up to `data_memsz`). File offsets are congruent to vaddrs modulo 4 KiB, as Linux requires.
pub fn elf(text: &[u32], data: &[u8], data_memsz: u32) -> Vec<u8> {
    elf_at(TEXT_VADDR, TEXT_VADDR, text, DATA_VADDR, data, data_memsz)
}

pub fn elf_at(entry: u32, text_vaddr: u32, text: &[u32], data_vaddr: u32, data: &[u8], data_memsz: u32) -> Vec<u8> {
    let has_data = data_memsz > 0;
    let phnum: u16 = if has_data { 2 } else { 1 };
    let text_off = 0x1000u32 + (text_vaddr & 0xfff);
    let text_bytes: Vec<u8> = text.iter().flat_map(|w| w.to_le_bytes()).collect();
    let data_off = (text_off + text_bytes.len() as u32).div_ceil(0x1000) * 0x1000 + (data_vaddr & 0xfff);
    let mut f = vec![0u8; 52];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 1; // ELFCLASS32
    f[5] = 1; // little endian
    f[6] = 1; // EV_CURRENT
    let put16 = |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |f: &mut Vec<u8>, at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put16(&mut f, 16, 2); // ET_EXEC
    put16(&mut f, 18, 243); // EM_RISCV
    put32(&mut f, 20, 1); // e_version
    put32(&mut f, 24, entry);
    put32(&mut f, 28, 52); // e_phoff
    put32(&mut f, 32, 0); // e_shoff
    put32(&mut f, 36, 0); // e_flags: soft-float ABI, no RVC
    put16(&mut f, 40, 52); // e_ehsize
    put16(&mut f, 42, 32); // e_phentsize
    put16(&mut f, 44, phnum);
    put16(&mut f, 46, 40); // e_shentsize
    put16(&mut f, 48, 0);
    put16(&mut f, 50, 0);
    let phdr = |p_type: u32, off: u32, vaddr: u32, filesz: u32, memsz: u32, flags: u32| {
        [p_type, off, vaddr, vaddr, filesz, memsz, flags, 0x1000]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    f.extend(phdr(1, text_off, text_vaddr, text_bytes.len() as u32, text_bytes.len() as u32, 5));
    if has_data {
        f.extend(phdr(1, data_off, data_vaddr, data.len() as u32, data_memsz, 6));
    }
    f.resize(text_off as usize, 0);
    f.extend(&text_bytes);
    if has_data {
        f.resize(data_off as usize, 0);
        f.extend(data);
    }
    f
}

// ---- running ----

/// Runs `text` (which must exit) with a 4 KiB zeroed data segment at `DATA_VADDR`, both fast and
/// traced, checks both agree, and returns the result with the final registers.
pub fn run_code(text: &[u32], data: &[u8]) -> Result<(RunResult, [u32; 32]), nexus_vm::VmError> {
    let program = Program::from_elf(&elf(text, data, 4096.max(data.len() as u32))).expect("test ELF must load");
    run_program(&program, &[])
}

pub fn run_program(program: &Program, input: &[u8]) -> Result<(RunResult, [u32; 32]), nexus_vm::VmError> {
    let vm = Vm::new(program, input, VmConfig::default())?;
    let fast = vm.run_fast();
    let traced = vm.run_traced();
    match (fast, traced) {
        (Ok(f), Ok((t, trace))) => {
            assert_eq!(f, t, "fast and traced runs disagree");
            let regs = final_regs(&trace);
            Ok((f, regs))
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "fast and traced runs trap differently");
            Err(a)
        }
        (a, b) => panic!("fast and traced runs disagree: {a:?} vs {:?}", b.map(|x| x.0)),
    }
}

/// Architectural registers after the last step.
pub fn final_regs(trace: &Trace) -> [u32; 32] {
    let segs = trace.segments(usize::MAX);
    segs.last().map_or(trace.initial_state().regs, |s| s.end.regs)
}

/// Appends `a0 = 0; exit` to `code`.
pub fn with_exit(mut code: Vec<u32>) -> Vec<u32> {
    code.push(addi(A0, ZERO, 0));
    code.extend(exit_seq());
    code
}
