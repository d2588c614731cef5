//! What the verifier does after the folding proof verifies: the run's initial state is the
//! program's on the claimed input, the memory challenge was drawn from the access chain, final
//! memory, co-processor inputs and output the proof claims, the machine halted, the memory products
//! balance, the co-processor chains computed exactly the calls the CPU made, and the stream
//! fingerprints match the claimed input and output. Returns the statement.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

use nexus_vm::{MAX_INPUT_BYTES, MAX_LOG_BYTES, MAX_OUTPUT_BYTES};

use crate::coprocessor::{CALL_STATE_LEN, Kind};
use crate::image::{Image, fr_bytes};
use crate::io::{PublicIo, fingerprint};
use crate::memory::{FinalCell, MemoryError, check_products};
use crate::steps::{CLK, CP, IO, STATE_LEN, initial_state, memory_challenge};

/// What a verified run proves: the program whose initial memory has this root, run on the input
/// with this digest, wrote the output with this digest and exited with this code after this many
/// instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The Poseidon Merkle root of the initial memory image, with its size and entry point
    /// ([`crate::image`]), as 32 little-endian bytes.
    pub image_root: [u8; 32],
    /// The NVM program digest (`Program::digest`), when verified against the ELF (`None` against
    /// the image root alone).
    pub program_digest: Option<[u8; 32]>,
    /// SHA-256 of the input (fd 0).
    pub input_digest: [u8; 32],
    /// SHA-256 of the output (fd 1).
    pub output_digest: [u8; 32],
    /// The exit code (all 32 bits).
    pub exit_code: u32,
    /// Retired instructions, the exiting ECALL included (a `read`/`write` counts once, as on the
    /// NVM, however many bytes it moved).
    pub steps: u64,
}

/// Why a run is refused after its folding proof verified.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunError {
    /// A state of the wrong length.
    #[error("state has {0} elements, expected {STATE_LEN}")]
    StateLength(usize),
    /// The run does not start where the program starts, or with another challenge than the one
    /// the access chain and the final memory give.
    #[error("the run does not start from the program's initial state with the challenge its accesses give")]
    InitialState,
    /// The proof ends before the program exits.
    #[error("the machine has not halted")]
    NotHalted,
    /// The memory check failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// A counter out of range (never for an honest proof).
    #[error("{0} out of range")]
    Range(&'static str),
    /// The bytes the run read are not the claimed input's.
    #[error("the run did not read the claimed input")]
    Input,
    /// The bytes the run wrote are not the claimed output.
    #[error("the run did not write the claimed output")]
    Output,
    /// The co-processor chains did not compute the calls the CPU made.
    #[error("the co-processor calls do not match the calls the program made")]
    Calls,
    /// A co-processor chain listed twice or out of order, or its state of the wrong length.
    #[error("the co-processor chains are malformed")]
    CallChains,
    /// A stream longer than the NVM allows (it would have refused the input or trapped).
    #[error("{0} bytes in {1}, above the NVM's limit")]
    Limit(u64, &'static str),
}

/// The first clock value a run may not reach: its timestamps (`2·clk + 1`, `2·clk + 2`) must fit
/// in [`crate::memory::TIMESTAMP_BITS`].
pub const MAX_CLOCK: u64 = 1 << (crate::memory::TIMESTAMP_BITS - 1);

fn small(v: &Fr, what: &'static str) -> Result<u64, RunError> {
    let big = v.into_bigint();
    if big.num_bits() > 32 {
        return Err(RunError::Range(what));
    }
    Ok(big.0[0])
}

/// The final state of a co-processor chain whose folding proof verified from
/// [`crate::coprocessor::initial_call_state`]: `[γ, h, P, calls]`.
#[derive(Clone, Copy, Debug)]
pub struct CallChainEnd<'a> {
    /// Which co-processor.
    pub kind: Kind,
    /// The chain's final state.
    pub z: &'a [Fr],
}

/// `(kind, h)` of each chain, for the memory challenge; refuses a chain of the wrong state length
/// or listed out of tag order.
pub fn call_chain_hashes(chains: &[CallChainEnd<'_>]) -> Result<Vec<(Kind, Fr)>, RunError> {
    let mut out: Vec<(Kind, Fr)> = Vec::with_capacity(chains.len());
    for c in chains {
        if c.z.len() != CALL_STATE_LEN || out.last().is_some_and(|(k, _)| *k >= c.kind) {
            return Err(RunError::CallChains);
        }
        out.push((c.kind, c.z[1]));
    }
    Ok(out)
}

/// Check the initial and final states `z0`, `z` of a verified folding proof of a run of `image` on the
/// claimed `io`, with the final memory `finals` the proof carries and the ends of its
/// co-processor chains.
pub fn finish(
    image: &Image<'_>,
    io: PublicIo<'_>,
    z0: &[Fr],
    z: &[Fr],
    finals: &[FinalCell],
    chains: &[CallChainEnd<'_>],
) -> Result<Statement, RunError> {
    for v in [z0, z] {
        if v.len() != STATE_LEN {
            return Err(RunError::StateLength(v.len()));
        }
    }
    if io.input.len() > MAX_INPUT_BYTES {
        return Err(RunError::Limit(io.input.len() as u64, "the input"));
    }
    let [clk, rs, ws, gamma, h_acc, halted, exit_code] = std::array::from_fn(|k| z[CLK + k]);
    let [_, in_pos, _, in_acc, out_len, out_acc, log_len] = std::array::from_fn(|k| z[IO + k]);
    let hashes = call_chain_hashes(chains)?;
    let image_root = image.commitment.root();
    if gamma != memory_challenge(image_root, io, h_acc, finals, &hashes)
        || z0 != initial_state(image.commitment.entry, gamma, io.input.len())
        || chains.iter().any(|c| c.z[0] != gamma)
    {
        return Err(RunError::InitialState);
    }
    if halted != Fr::from(1u64) {
        return Err(RunError::NotHalted);
    }
    check_products(image, gamma, rs, ws, finals)?;
    // Every call element the CPU multiplied, the chains multiplied, and no other.
    if z[CP] != chains.iter().map(|c| c.z[2]).product::<Fr>() {
        return Err(RunError::Calls);
    }
    let mut call_words = 0u64;
    for c in chains {
        call_words += small(&c.z[3], "call count")? * c.kind.words() as u64;
    }
    // `in_pos ≤ in_len` holds in circuit; `in_len` is the input's length by the initial state.
    let read = io.input.get(..small(&in_pos, "input position")? as usize).ok_or(RunError::Range("input position"))?;
    if in_acc != fingerprint(read, gamma) {
        return Err(RunError::Input);
    }
    let (out_len, log_len) = (small(&out_len, "output length")?, small(&log_len, "log length")?);
    if out_len > MAX_OUTPUT_BYTES as u64 {
        return Err(RunError::Limit(out_len, "the output"));
    }
    if log_len > MAX_LOG_BYTES as u64 {
        return Err(RunError::Limit(log_len, "the log"));
    }
    if out_len != io.output.len() as u64 || out_acc != fingerprint(io.output, gamma) {
        return Err(RunError::Output);
    }
    let moved = read.len() as u64 + out_len + log_len + call_words;
    // A step's data access is at 2·clk + 2, which must stay below 2^32 (C.29): the clock ends
    // below 2^31.
    let clk = small(&clk, "step count")?;
    if clk >= MAX_CLOCK {
        return Err(RunError::Range("step count"));
    }
    let steps = clk.checked_sub(moved).ok_or(RunError::Range("step count"))?;
    Ok(Statement {
        image_root: fr_bytes(&image_root),
        program_digest: image.program_digest,
        input_digest: io.input_digest(),
        output_digest: io.output_digest(),
        exit_code: small(&exit_code, "exit code")? as u32,
        steps,
    })
}
