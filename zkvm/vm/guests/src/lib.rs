//! Minimal runtime for NVM guests: `_start`, the ecall wrappers, and a panic handler. The same ELF
//! runs under the NVM and under `qemu-riscv32` (the Linux syscall subset is the NVM's ABI).
#![no_std]

use core::arch::asm;

core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".globl _start",
    "_start:",
    // sp is set by the loader (NVM: INITIAL_SP; Linux: the kernel's stack); keep it 16-aligned.
    "    andi sp, sp, -16",
    "    call __nvm_main",
    "    li a7, 93",
    "    ecall",
    "1:  j 1b",
);

unsafe extern "Rust" {
    fn main() -> i32;
}

#[unsafe(no_mangle)]
extern "C" fn __nvm_main() -> i32 {
    unsafe { main() }
}

fn syscall3(n: u32, a0: u32, a1: u32, a2: u32) -> u32 {
    let ret;
    unsafe {
        asm!("ecall", in("a7") n, inlateout("a0") a0 => ret, in("a1") a1, in("a2") a2, options(nostack));
    }
    ret
}

/// Reads up to `buf.len()` bytes of input; 0 at end of input.
pub fn read(buf: &mut [u8]) -> usize {
    syscall3(63, 0, buf.as_mut_ptr() as u32, buf.len() as u32) as usize
}

/// Reads the whole input into `buf`, returning the number of bytes read.
pub fn read_all(buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        let k = read(&mut buf[n..]);
        if k == 0 {
            break;
        }
        n += k;
    }
    n
}

/// Appends to the public output.
pub fn write(bytes: &[u8]) {
    syscall3(64, 1, bytes.as_ptr() as u32, bytes.len() as u32);
}

/// Appends to the log.
pub fn log(bytes: &[u8]) {
    syscall3(64, 2, bytes.as_ptr() as u32, bytes.len() as u32);
}

pub fn exit(code: i32) -> ! {
    syscall3(93, code as u32, 0, 0);
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    log(b"panic\n");
    exit(101)
}
