//! The NVM (riscv32im) executable of this app: the library's entry points behind the SDK's `_start`.
#![no_std]
#![no_main]

use counter as _;
