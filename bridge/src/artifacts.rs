//! The compiled contracts, as committed in `artifacts/` (built by `solc/compile.js` with the pinned solc; a
//! test rebuilds them and checks they are byte-identical).

use crate::BridgeError;

/// A committed contract artifact.
#[derive(Clone, Copy, Debug)]
pub struct Artifact {
    /// The contract's name.
    pub name: &'static str,
    /// Creation bytecode, hex.
    creation_hex: &'static str,
    /// Deployed (runtime) bytecode, hex.
    runtime_hex: &'static str,
    /// The ABI, JSON.
    pub abi_json: &'static str,
}

impl Artifact {
    /// The creation bytecode (constructor arguments go after it).
    pub fn creation_code(&self) -> Result<Vec<u8>, BridgeError> {
        decode(self.name, self.creation_hex)
    }

    /// The bytecode a deployment leaves on chain.
    pub fn runtime_code(&self) -> Result<Vec<u8>, BridgeError> {
        decode(self.name, self.runtime_hex)
    }
}

fn decode(name: &'static str, text: &str) -> Result<Vec<u8>, BridgeError> {
    hex::decode(text.trim()).map_err(|e| BridgeError::Artifact { name, reason: e.to_string() })
}

/// `NexusVerifier`: certificates, receipts, key rotation.
pub const NEXUS_VERIFIER: Artifact = Artifact {
    name: "NexusVerifier",
    creation_hex: include_str!("../artifacts/NexusVerifier.bin"),
    runtime_hex: include_str!("../artifacts/NexusVerifier.bin-runtime"),
    abi_json: include_str!("../artifacts/NexusVerifier.abi.json"),
};

/// `NexusConsumer`: the example app contract (request, certified callback).
pub const NEXUS_CONSUMER: Artifact = Artifact {
    name: "NexusConsumer",
    creation_hex: include_str!("../artifacts/NexusConsumer.bin"),
    runtime_hex: include_str!("../artifacts/NexusConsumer.bin-runtime"),
    abi_json: include_str!("../artifacts/NexusConsumer.abi.json"),
};

/// `FrostSecp256k1Verifier`: stateless FROST(secp256k1, Keccak-256) verification of any message.
pub const FROST_VERIFIER: Artifact = Artifact {
    name: "FrostSecp256k1Verifier",
    creation_hex: include_str!("../artifacts/FrostSecp256k1Verifier.bin"),
    runtime_hex: include_str!("../artifacts/FrostSecp256k1Verifier.bin-runtime"),
    abi_json: include_str!("../artifacts/FrostSecp256k1Verifier.abi.json"),
};

/// Every committed artifact.
pub const ALL: [Artifact; 3] = [NEXUS_VERIFIER, NEXUS_CONSUMER, FROST_VERIFIER];
