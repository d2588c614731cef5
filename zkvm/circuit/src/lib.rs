//! The NVM step circuit (issue 7): RV32IM steps as R1CS over BN254's `Fr`, for the
//! folding engine (`nexus-nova`). The design the pieces are built to is in `ARCHITECTURE.md`
//! ("The NVM prover"):
//!
//! * [`bits`]: 32-bit words with constrained bit decompositions;
//! * [`decode`]: one selector per instruction, fixed fields checked (non-canonical encodings select
//!   nothing);
//! * [`cpu`]: one RV32IM step over the registers and pc held in the state, loads and stores
//!   through a data slot ([`cpu::MemSlot`]), and the system calls: `exit`, and `read`/`write` one
//!   byte per step;
//! * [`io`]: the public input and output, their digests and fingerprints;
//! * [`memory`]: the offline memory check of the fetch and data slots (cells with permission
//!   flags, range-checked timestamps, running products) and the verifier's final check;
//! * [`steps`]: the step circuit of `k` NVM steps for the folding engine, and [`steps::prepare`],
//!   which turns a trace into invocations and draws the memory challenge after the prover is bound
//!   to every access; the exiting ECALL halts the machine (later steps are no-ops);
//! * [`verify`]: the checks after the folding proof verifies, returning the statement (program,
//!   input and output digests, exit code, step count);
//! * [`proof`]: parameters per `k`, `prove` (run, prepare, fold) and `verify`, and the proof file;
//! * [`coprocessor`]: Keccak-f and SHA-256 compression as circuits of their own, folded in chains
//!   joined to the CPU's micro-steps by call elements.
//!
//! 1,254 constraints per NVM step with its two memory accesses.

pub mod bits;
pub mod coprocessor;
pub mod cpu;
pub mod decode;
pub mod image;
pub mod io;
pub mod memory;
pub mod proof;
pub mod steps;
pub mod verify;
