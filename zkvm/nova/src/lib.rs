//! Nova folding engine over the BN254/Grumpkin cycle (in progress; see the status section).

pub mod commitment;
pub mod nifs;
pub mod poseidon_params;
pub mod r1cs;
pub mod step_circuit;
pub mod transcript;
