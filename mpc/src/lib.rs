//! Threshold certification for Nexus: the network-free core.
//!
//! Replicas run every call, order them with Raft, and then certify what they computed: a threshold t of the n
//! replicas (n = 3f+1, t = 2f+1) jointly sign one message per applied batch with FROST, under a group key that
//! no single replica holds. A client verifies a receipt offline with a plain Ed25519 verifier.
//!
//! This crate is the part that needs no network: pure state machines and data types that the replica drives
//! over its RPC. It is built on the ZF FROST crates (`frost-core`, `frost-ed25519`, pinned `=3.0.0`) and is
//! generic over [`frost_core::Ciphersuite`]. The test suite (`tests/common`) is written once and instantiated
//! for Ed25519 (with its production verifier) and for `frost-secp256k1-evm` (secp256k1 with a Keccak
//! challenge, for Ethereum), the latter checked with frost's own verification until its plain verifier (the
//! ecrecover formulation) is written; making it a production suite is implementing [`OfflineVerifier`] for it
//! and [`CertifyingSuite`] for its ciphersuite.
//!
//! # What is here
//!
//! - [`dkg`]: a DKG participant ([`dkg::Dkg`]): round 1 (`part1`, broadcast with an ephemeral X25519 key), an
//!   **echo check** of the round-1 broadcast, round 2 (`part2`, one secret package per recipient, **sealed**
//!   for it by the state machine), finish (`part3`) → key share and public key package;
//!   [`dkg::confirm_group_key`] before adopting the key. Limits on the number and size of everything a peer
//!   sends.
//! - [`batch`]: the [`batch::BatchMessage`] every replica builds from its own execution and its canonical,
//!   domain-separated encoding; the binary Merkle tree over receipt digests ([`batch::MerkleTree`]) with
//!   paths and [`batch::verify_path`].
//! - [`signing`]: one signing session: a signer ([`signing::Signer`]: commitments, then a signature share only
//!   for the message it computed itself), a coordinator ([`signing::Coordinator`]: signing package,
//!   aggregation with cheater identification) and [`signing::next_signer_set`] for retries.
//! - [`certificate`]: [`certificate::Certificate`] and [`certificate::ReceiptProof`], verified with
//!   `ed25519-dalek`'s `verify_strict` only (no FROST code on the verifier path) with precise errors.
//! - [`key_store`]: a key share on disk: 0600, temp file + fsync + rename, checksummed; files readable by
//!   others, truncated or garbage files are refused.
//!
//! # Design decisions
//!
//! **Echo check.** FROST's DKG assumes round 1 is a *broadcast*: every participant must see the same round-1
//! package from every other. Raft ordering alone does not give that against a lying sender (it is only crash
//! fault tolerant), and a participant that sends different commitments to different peers would leave them
//! with inconsistent key shares. So after round 1 each participant publishes an [`dkg::Echo`]: for every
//! participant (itself included), in ascending id order, the SHA-256 of the round-1 broadcast it holds (FROST
//! package and X25519 key), bound to the DKG context (cluster id, epoch, n, t). Part 2 runs only once all n
//! echoes are in and equal; otherwise the DKG aborts with [`dkg::DkgError::EchoMismatch`], which names the
//! participants whose package was seen in more than one version (the equivocators, as far as echoes tell) and
//! the echoers that disagree with us. Round-1 packages and echoes are not signed by their senders, so a lying
//! *echoer* can make an honest sender look like an equivocator: the abort is certain, the attribution is
//! evidence for an operator, not proof.
//!
//! **Sealed round 2.** Round-2 packages are secret shares. Rather than asking the transport for an encrypted
//! channel, the state machine seals each one: every participant draws an ephemeral X25519 key per DKG and
//! sends its public half in its round-1 broadcast (so the echo check also makes everyone agree on each
//! peer's key), and the package from i to j is ChaCha20-Poly1305 under HKDF-SHA256(salt = DKG context,
//! X25519(i, j), info = tag ‖ i ‖ j). Each key seals exactly one message, hence a fixed nonce. A package that
//! does not open aborts the DKG and names its sender ([`dkg::DkgError::Undecryptable`]). Senders are not
//! authenticated by this: the state machine trusts the `from` it is told (see the [`dkg`] module docs).
//!
//! **Merkle tree.** SHA-256 with distinct domain tags for the receipt digest, leaves, inner nodes and the root;
//! an odd node at the end of a level is **promoted** unchanged (not duplicated), and the root commits to the
//! number of leaves. Duplicating the last node is what made Bitcoin's tree ambiguous (`[a,b,c]` and
//! `[a,b,c,c]` share a root, CVE-2012-2459); promotion creates no such pair, leaf and inner hashes can never
//! be confused thanks to their tags, and with the leaf count in the root a path's shape (which side, which
//! levels have no sibling) is fixed by (index, count), so every root has exactly one leaf list behind it.
//! Each receipt digest also commits to the receipt's log index.
//!
//! **Nonces.** Signing nonces are created by [`signing::Signer::new`] from the caller's CSPRNG (the replica
//! passes `rand_core::OsRng`), live only in that
//! value's memory (zeroized on drop by frost), are never serialized by this crate, and are consumed by
//! [`signing::Signer::sign`], which takes `self`: one nonce pair signs at most one message. After a crash a
//! session is simply abandoned and a new one starts with new nonces: nothing is persisted, so nothing can be
//! reused.
//!
//! **Only sign what you computed.** A signer is created with the batch message it built from its own
//! execution and refuses ([`signing::SigningError::MessageMismatch`], naming the field) any signing package
//! whose message differs. With n = 3f+1 and t = 2f+1, two conflicting certificates for one index would need
//! f+1 replicas to sign both, so none can form while at most f are faulty, even if the Raft leader lies.
//!
//! # Wiring it into the replica (next step)
//!
//! 1. **Cluster init:** each replica runs a [`dkg::Dkg`] with the same [`dkg::DkgConfig`] (participants =
//!    replica ids, threshold t, context = cluster id and key epoch). Round-1 broadcasts and echoes are sent to
//!    every peer over the replica RPC; round-2 packages are already encrypted by the state machine for their
//!    recipient, so the caller just delivers each to the replica it names, over the same plain peer RPC (which
//!    must still tell truthfully which peer sent a message: a private network or mTLS, as for Raft). Feed
//!    every message to the state machine and carry out the actions it returns, in order (an `Abort` comes
//!    after the echo or round-2 packages that must still go out, so that every participant reaches the same
//!    verdict). When it finishes, save the share with [`key_store::save`], then announce the derived group
//!    key to all and adopt it only once [`dkg::confirm_group_key`] holds (a bad secret share is seen by its recipient
//!    alone, so part 3 can succeed for some and fail for others); then put the group key and epoch in the
//!    replicated state (and `nexus status`). On any error: abort, log it (it names culprits), start over with a
//!    new DKG (new randomness; never resume a failed one).
//! 2. **Per applied batch:** build [`batch::BatchMessage`] from the replica's own receipts (digests via
//!    [`batch::receipt_digest`], root via [`batch::MerkleTree`]) and state root. A coordinator (e.g. the
//!    leader) picks t signers ([`signing::next_signer_set`]), collects commitments, sends the signing package,
//!    collects shares and aggregates into a [`certificate::Certificate`]. Each signer answers only with a
//!    [`signing::Signer`] built on its *own* message. On timeout or identified cheaters, retry with the next
//!    signer set, excluding them.
//! 3. **Receipts** returned by Call/GetReceipt carry a [`certificate::ReceiptProof`]: receipt bytes, log
//!    index, Merkle path and certificate; `nexus verify` calls [`certificate::ReceiptProof::verify`].

pub mod batch;
pub mod certificate;
pub mod dkg;
pub mod evm;
pub mod key_store;
pub mod signing;

pub use frost_core;
pub use frost_ed25519;
pub use frost_secp256k1_evm;

pub use certificate::{CertificateError, Ed25519Verifier, OfflineVerifier};

/// A participant (replica) in the threshold scheme: its FROST identifier is this number (never 0).
pub type ParticipantId = u16;

/// Most participants in one group. Bounds what we accept from peers (echo sizes, signer sets).
pub const MAX_PARTICIPANTS: u16 = 256;

/// A FROST ciphersuite that Nexus can certify with: it names the plain (non-FROST) verifier that checks its
/// aggregated signatures offline.
pub trait CertifyingSuite: frost_core::Ciphersuite {
    /// The offline verifier for this suite's signatures.
    type Verifier: OfflineVerifier;
}

impl CertifyingSuite for frost_ed25519::Ed25519Sha512 {
    type Verifier = Ed25519Verifier;
}

impl CertifyingSuite for frost_secp256k1_evm::Secp256K1Keccak256 {
    type Verifier = evm::Secp256k1EvmVerifier;
}

/// The FROST identifier of a participant id (ids start at 1).
pub(crate) fn identifier<C: frost_core::Ciphersuite>(id: ParticipantId) -> Option<frost_core::Identifier<C>> {
    frost_core::Identifier::try_from(id).ok()
}

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}
