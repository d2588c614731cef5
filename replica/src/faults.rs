//! Deliberate faults for process tests, compiled only with the `test-faults` feature.
//!
//! A test starts a replica process with `NEXUS_TEST_FAULTS` set to a comma-separated list of fault names; a
//! replica built without the feature ignores the variable, so a production binary has no way to misbehave on
//! purpose. The faults:
//!
//! - `corrupt-execution`: every call's output is altered after the app ran (the replica computes a wrong
//!   result, as a buggy or malicious replica would).
//! - `no-signing`: the replica serves Raft but refuses to take part in signing sessions (a signer that is down).
//! - `dkg-equivocate`: the replica sends different round-1 DKG packages to different peers.
//! - `evm-key-unusable`: the first DKG attempt's Ethereum key is treated as unusable with ecrecover (x ≥ n),
//!   as it is with probability 2⁻¹²⁸, so the retry can be tested.

/// Whether fault `name` is switched on for this process.
#[cfg(feature = "test-faults")]
pub fn active(name: &str) -> bool {
    static FAULTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FAULTS
        .get_or_init(|| {
            std::env::var("NEXUS_TEST_FAULTS")
                .map(|v| v.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect())
                .unwrap_or_default()
        })
        .iter()
        .any(|f| f == name)
}

/// Whether fault `name` is switched on for this process: never, without the `test-faults` feature.
#[cfg(not(feature = "test-faults"))]
pub fn active(_name: &str) -> bool {
    false
}
