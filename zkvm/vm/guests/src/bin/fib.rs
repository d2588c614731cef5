//! Iterative Fibonacci modulo 2^32: input = u32 LE iteration count; output = u32 LE result.
#![no_std]
#![no_main]

use nexus_vm_guests::{read_all, write};

#[unsafe(no_mangle)]
fn main() -> i32 {
    let mut buf = [0u8; 4];
    read_all(&mut buf);
    let n = u32::from_le_bytes(buf);
    let (mut a, mut b) = (0u32, 1u32);
    let mut i = 0;
    while i < n {
        let c = a.wrapping_add(b);
        a = b;
        b = core::hint::black_box(c);
        i += 1;
    }
    write(&a.to_le_bytes());
    0
}
