//! Proving calls (Nexus Zero tier): what the replicated state records about an app's NVM build and about the
//! proving job of a call made with `zk`.
//!
//! An app may be deployed with its riscv32im ELF next to its wasm module. Every replica parses the ELF when the
//! deploy is applied and records the program's SHA-256 digest and image root (the Poseidon root of its initial
//! memory, what an NVM proof is verified against without the ELF) in the app's record.
//!
//! A call with `zk` set runs on the wasm host as every call does; in addition every replica runs the same call
//! on the NVM, inside the apply, on the call envelope the SDK reads (function, caller, input and the app state
//! the call sees), with a step limit. The two runs must agree (exit 0, same output, same state writes): if they
//! do, a [`ZkJob`] in state [`ZkState::Proving`] is recorded and the receipt names the program and the NVM input
//! it is proven on ([`ZkClaim`]), so the certificate binds them; if they do not, the job ends at once as
//! [`ZkState::OutputsDiffer`] and nothing is ever proven for that call. Running the NVM on every replica costs
//! milliseconds (the interpreter runs tens of millions of instructions a second, and [`MAX_ZK_STEPS`] bounds a
//! job far below that), and it makes the verdict part of the replicated state instead of one node's word.
//!
//! The proving itself is off the log: the leader cuts the run into a tree of nodes that prover workers claim,
//! prove and submit (`node::prover`); only the result enters the log ([`ZkResult`]), with the proof's digest.
//! The proof's bytes are a blob each replica keeps next to its state, checked against that digest.

use nexus_sdk::nvm_envelope::{NvmCall, NvmReturn};
use nexus_vm::{Program, Vm, VmConfig};
use nexus_wasm_host::{CallResult, Outcome, StateError, StateView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest ELF a deploy may carry.
pub const MAX_PROGRAM_BYTES: usize = 4 << 20;
/// Most NVM steps a proven call may take: a run of more is refused at apply (about three hours of proving on
/// one worker at ~100 cycles/s).
pub const MAX_ZK_STEPS: u64 = 1 << 20;
/// Largest app state a proven call's envelope may carry (the NVM sees the whole state of the app).
pub const MAX_ZK_STATE_BYTES: usize = 1 << 20;
/// Most state entries a proven call's envelope may carry.
pub const MAX_ZK_STATE_ENTRIES: usize = 16_384;

/// An app's NVM build as the state records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRecord {
    /// SHA-256 program digest (`nexus_vm::Program::digest`); the key of the stored ELF.
    pub digest: [u8; 32],
    /// The image root, little-endian field element bytes (`nexus_nvm_circuit::image`).
    pub image_root: [u8; 32],
}

impl ProgramRecord {
    /// Parses an ELF within the size limit; the error says why it is refused. (What a replica checks before a
    /// deploy reaches the log: the image root is computed only when the deploy is applied.)
    pub fn parse(elf: &[u8]) -> Result<Program, String> {
        if elf.len() > MAX_PROGRAM_BYTES {
            return Err(format!("the ELF is {} bytes, more than the limit of {MAX_PROGRAM_BYTES}", elf.len()));
        }
        Program::from_elf(elf).map_err(|e| e.to_string())
    }

    /// Parses an ELF and computes its digest and image root; the error says why the ELF is refused.
    pub fn of_elf(elf: &[u8]) -> Result<(Program, Self), String> {
        let program = Self::parse(elf)?;
        let image_root = nexus_nvm_circuit::image::fr_bytes(&nexus_nvm_circuit::image::image_root_of(&program));
        let record = Self { digest: program.digest(), image_root };
        Ok((program, record))
    }
}

/// What a proven call's receipt carries: the certificate covers it, so a proof checked against these values is
/// a proof of this call of this app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZkClaim {
    /// The app's program digest at the call.
    pub program_digest: [u8; 32],
    /// Its image root (what the proof is verified against).
    pub image_root: [u8; 32],
    /// SHA-256 of the NVM's input: the call envelope with the state the call saw.
    pub nvm_input_digest: [u8; 32],
    /// NVM instructions the run retired.
    pub steps: u64,
}

/// Where a proving job is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZkState {
    /// Waiting for workers.
    Proving,
    /// Proven: the proof file's SHA-256 and size.
    Proven { proof_digest: [u8; 32], proof_bytes: u64 },
    /// The wasm and NVM builds of the app disagree on this call; nothing is proven.
    OutputsDiffer(String),
    /// The job could not be proven (the reason).
    Failed(String),
}

impl ZkState {
    pub fn is_final(&self) -> bool {
        !matches!(self, ZkState::Proving)
    }
}

/// A proving job, keyed by its call id (table `zk_jobs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZkJob {
    pub call_id: u64,
    pub program: ProgramRecord,
    /// The NVM's input: the postcard `NvmCall` envelope.
    pub input: Vec<u8>,
    /// NVM instructions of the run (0 if it never ran to completion).
    pub steps: u64,
    pub state: ZkState,
}

/// The log entry that ends a job (proposed by the leader once the root verified, or when it cannot be proven).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZkResult {
    pub call_id: u64,
    pub state: ZkState,
}

/// App state entries (key, value) in key order.
pub type StateEntries = Vec<(Vec<u8>, Vec<u8>)>;

/// The app state a call sees, in key order, bounded by [`MAX_ZK_STATE_BYTES`] and [`MAX_ZK_STATE_ENTRIES`].
pub(crate) fn visible_state(view: &dyn StateView) -> Result<Result<StateEntries, String>, StateError> {
    let mut entries = Vec::new();
    let mut bytes = 0usize;
    let mut from: Option<Vec<u8>> = None;
    loop {
        let bound = match &from {
            Some(key) => std::ops::Bound::Excluded(key.as_slice()),
            None => std::ops::Bound::Unbounded,
        };
        let Some(key) = view.next_key(bound)? else { break };
        let value = view.get(&key)?.unwrap_or_default();
        bytes += key.len() + value.len();
        if bytes > MAX_ZK_STATE_BYTES || entries.len() >= MAX_ZK_STATE_ENTRIES {
            return Ok(Err(format!(
                "the app's state is larger than a proven call may carry ({MAX_ZK_STATE_ENTRIES} entries, \
                 {MAX_ZK_STATE_BYTES} bytes)"
            )));
        }
        from = Some(key.clone());
        entries.push((key, value));
    }
    Ok(Ok(entries))
}

/// The NVM input of a call: the SDK's envelope.
pub fn nvm_input(function: &str, caller: [u8; 32], input: &[u8], state: StateEntries) -> Vec<u8> {
    postcard::to_allocvec(&NvmCall::new(function, Some(caller), input.to_vec(), state)).expect("envelopes encode")
}

/// Runs the call on the NVM and compares it with the wasm run: `Ok(steps)` if both returned the same output and
/// the same writes, otherwise why they differ.
pub fn check_nvm_run(program: &Program, input: &[u8], wasm: &CallResult) -> Result<u64, String> {
    let Outcome::Returned(wasm_output) = &wasm.outcome else {
        return Err("the call trapped on the wasm host; only returned calls are proven".into());
    };
    let config = VmConfig { max_steps: MAX_ZK_STEPS, ..VmConfig::default() };
    let vm = Vm::new(program, input, config).map_err(|e| format!("the NVM refused the call: {e}"))?;
    let run = vm.run_fast().map_err(|e| format!("the NVM run did not exit: {e}"))?;
    if run.exit_code != 0 {
        return Err(format!("the NVM run exited with code {} where the wasm run returned", run.exit_code));
    }
    let ret: NvmReturn =
        postcard::from_bytes(&run.output).map_err(|e| format!("the NVM run's output is not an SDK result: {e}"))?;
    if &ret.output != wasm_output {
        return Err(format!(
            "outputs differ: wasm returned 0x{}, the NVM 0x{}",
            short_hex(wasm_output),
            short_hex(&ret.output)
        ));
    }
    let wasm_writes: Vec<(Vec<u8>, Option<Vec<u8>>)> =
        wasm.writes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if ret.plain_writes() != wasm_writes {
        return Err("outputs differ: the wasm and NVM runs wrote different state".into());
    }
    Ok(run.steps)
}

fn short_hex(bytes: &[u8]) -> String {
    if bytes.len() <= 32 { hex::encode(bytes) } else { format!("{}…", hex::encode(&bytes[..32])) }
}

/// SHA-256 of a proof file, as [`ZkState::Proven`] records it.
pub fn proof_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
