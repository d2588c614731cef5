//! Nexus on Ethereum: contracts that check what a Nexus cluster certified, and the Rust side that feeds them.
//!
//! A cluster certifies every sealed batch of receipts with a FROST(secp256k1, Keccak-256) threshold signature
//! (`nexus-mpc`, Ethereum suite). The contracts in `contracts/` check such a certificate with one `ecrecover`
//! call and a few Keccak hashes (`FrostSecp256k1.sol`), a receipt's Merkle path to the certified root with the
//! SHA-256 precompile (`ReceiptMerkle.sol`), the domain of a certificate (cluster id, key epoch, chain id), and
//! key rotations signed by the key in force (`NexusVerifier.sol`). `NexusConsumer.sol` is the pattern for an app
//! contract: it asks for a call (an event) and accepts the certified result in a callback (`fulfill`).
//!
//! The contracts are compiled offline by the npm `solc` package pinned to one version (`solc/`), and the
//! artifacts are committed (`artifacts/`, [`artifacts`]); a test recompiles them and checks they are
//! byte-identical.
//!
//! - [`abi`]: `sol!` bindings of the contracts.
//! - [`calldata`]: certificates, receipt proofs and deployments as ABI calldata.
//! - [`rotation`]: the key rotation message (what the replicas sign to hand over to the next key) and call.
//! - [`harness`] (feature `harness`, on by default): an in-process EVM (revm) to deploy and call the contracts
//!   and measure gas; the tests and `benches/gas.rs` use it.

pub mod abi;
pub mod artifacts;
pub mod calldata;
#[cfg(feature = "harness")]
pub mod harness;
pub mod rotation;

pub use calldata::{CertificateCalldata, ReceiptCalldata};
pub use rotation::RotationMessage;

/// Why something cannot be put in the form the contracts take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    #[error("the group key is not a secp256k1 key usable with ecrecover (a valid compressed point with 0 < x < n)")]
    UnusableKey,
    #[error("the new key is not the one the rotation message names")]
    KeyMismatch,
    #[error("bad signature: {0}")]
    Signature(#[source] nexus_mpc::CertificateError),
    #[error("the certificate's key epoch {certificate} differs from its message's key epoch {message}")]
    EpochMismatch { certificate: u64, message: u64 },
    #[error("invalid batch message: {0}")]
    Batch(#[from] nexus_mpc::batch::BatchError),
    #[error("a rotation must move to a later epoch, not from {old} to {new}")]
    EpochNotIncreasing { old: u64, new: u64 },
    #[error("artifact {name}: {reason}")]
    Artifact { name: &'static str, reason: String },
}
