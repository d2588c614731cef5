//! A DKG participant as a pure state machine: no I/O, the caller moves the messages.
//!
//! Messages: the participant's round-1 broadcast, its [`Echo`] (broadcast), and one round-2 package per other
//! participant (to that recipient only). Messages may arrive in any order: echoes and round-2 packages that
//! arrive early are held (bounded) until their turn.
//!
//! **Round-2 packages are sealed by the state machine**, so every message can travel over a plain RPC.
//! [`Dkg::start`] also draws an ephemeral X25519 key pair, and the round-1 broadcast carries the public key
//! next to the FROST round-1 package, in one canonical encoding:
//!
//! ```text
//! u32 big-endian length of the FROST package ‖ FROST round-1 package ‖ 32-byte X25519 public key
//! ```
//!
//! Anything else is refused as [`DkgError::Malformed`]. The echo digests cover the whole broadcast, so a
//! passed echo check also means every participant holds the same encryption key for every peer. Each round-2
//! package (a secret share) is then sealed with ChaCha20-Poly1305 under a key that only its sender and its
//! recipient can derive: HKDF-SHA256 of their X25519 shared secret, salted with [`DkgConfig::context`], with
//! the direction (sender id, recipient id) in the info string. A package that does not open
//! ([`DkgError::Undecryptable`]: sealed for another recipient, under another key, or altered) aborts the DKG
//! and names its sender.
//!
//! This gives confidentiality (no one but the recipient, other participants included, reads a share) and
//! integrity of round-2 packages. It does not authenticate senders: the state machine believes the `from` it
//! is given, so the transport must still say truthfully which peer sent a message (a private network or
//! mTLS, as for the Raft traffic); an attacker able to impersonate a replica can take part in its name.

use std::collections::{BTreeMap, BTreeSet};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use frost_core::keys::dkg::{self, round1, round2};
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::{Ciphersuite, Identifier};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey, ReusableSecret};
use zeroize::Zeroizing;

use crate::{MAX_PARTICIPANTS, ParticipantId, identifier, sha256};

/// v2: the digests cover the round-1 broadcast with its X25519 key (v1 covered the FROST package alone).
const ECHO_TAG: &[u8] = b"nexus/mpc/dkg-echo/v2";
/// HKDF info prefix of round-2 sealing keys; the sender and recipient ids (u16 big-endian) follow.
const ROUND2_KEY_TAG: &[u8] = b"nexus/mpc/dkg-round2/v1";

/// Largest FROST round-1 package accepted, per coefficient commitment (t of them) plus a fixed overhead.
/// Generous for every suite with elements of up to 64 bytes.
const ROUND1_BYTES_PER_COEFFICIENT: usize = 80;
const ROUND1_BYTES_OVERHEAD: usize = 256;
/// The round-1 broadcast around the FROST package: its u32 length and the X25519 public key.
const ROUND1_LENGTH_BYTES: usize = 4;
const X25519_KEY_BYTES: usize = 32;
/// Largest round-2 plaintext (a serialized FROST round-2 package) sealed or accepted.
const MAX_ROUND2_PLAINTEXT_BYTES: usize = 256;
/// The Poly1305 tag that sealing appends.
const AEAD_TAG_BYTES: usize = 16;
/// Largest (sealed) round-2 package accepted.
pub const MAX_ROUND2_BYTES: usize = MAX_ROUND2_PLAINTEXT_BYTES + AEAD_TAG_BYTES;

/// The parameters every participant of one DKG must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkgConfig {
    /// This participant.
    pub me: ParticipantId,
    /// Every participant, `me` included (ids ≥ 1).
    pub participants: BTreeSet<ParticipantId>,
    /// Signers needed for a signature (t).
    pub threshold: u16,
    /// What this DKG is for, e.g. a hash of the cluster id and key epoch: echoes of different DKGs never match.
    pub context: [u8; 32],
}

impl DkgConfig {
    /// Largest round-1 broadcast (FROST package, its length and the X25519 key) accepted from a peer.
    pub fn max_round1_bytes(&self) -> usize {
        ROUND1_LENGTH_BYTES + self.max_frost_round1_bytes() + X25519_KEY_BYTES
    }

    fn max_frost_round1_bytes(&self) -> usize {
        ROUND1_BYTES_OVERHEAD + ROUND1_BYTES_PER_COEFFICIENT * usize::from(self.threshold)
    }
}

/// What a participant publishes after round 1: for every participant in ascending id order, the SHA-256 of
/// the round-1 broadcast it received from it (its own included: FROST package and X25519 key), bound to the
/// DKG context, n and t.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    /// `(participant, digest of its round-1 broadcast)`, ascending by participant.
    pub digests: Vec<(ParticipantId, [u8; 32])>,
}

/// The result of a completed DKG.
#[derive(Clone, Debug)]
pub struct DkgOutput<C: Ciphersuite> {
    /// This participant's id.
    pub participant: ParticipantId,
    /// The secret key share (with the group key and this participant's verifying share).
    pub key_package: KeyPackage<C>,
    /// The group key and every participant's verifying share: public.
    pub public_key_package: PublicKeyPackage<C>,
}

impl<C: Ciphersuite> DkgOutput<C> {
    /// The serialized group public key.
    pub fn group_key(&self) -> Result<Vec<u8>, DkgError> {
        self.public_key_package.verifying_key().serialize().map_err(|e| DkgError::Frost(e.to_string()))
    }
}

/// What the caller must do after feeding the state machine a message.
#[derive(Clone, Debug)]
pub enum DkgAction<C: Ciphersuite> {
    /// Broadcast this echo to every other participant.
    BroadcastEcho(Echo),
    /// Send this round-2 package to `to` only. It is already sealed for `to` (ChaCha20-Poly1305 under a key
    /// only `to` and this participant can derive), so any transport will do.
    SendRound2 { to: ParticipantId, package: Vec<u8> },
    /// The DKG is complete.
    Finished(Box<DkgOutput<C>>),
    /// The DKG failed (echo mismatch, a culprit found by part 2 or 3); it is aborted. Comes last, after the
    /// actions that must still be carried out.
    Abort(DkgError),
}

/// Why a DKG step failed.
///
/// Returned as `Err` by a call when the message itself is refused: every such error except
/// [`DkgError::UnknownParticipant`] and [`DkgError::FromSelf`] (which only reject that message) also aborts
/// the DKG. Failures of the protocol found once a phase is complete (echo mismatch, culprits) come as
/// [`DkgAction::Abort`]. After an abort every call returns [`DkgError::Aborted`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DkgError {
    #[error("invalid DKG configuration: {0}")]
    Config(String),
    #[error("participant {0} is not in this DKG")]
    UnknownParticipant(ParticipantId),
    #[error("message claims to come from this participant itself")]
    FromSelf,
    #[error("{what} from participant {from} is {got} bytes, the limit is {limit}")]
    TooLarge { what: &'static str, from: ParticipantId, got: usize, limit: usize },
    #[error("malformed {what} from participant {from}: {reason}")]
    Malformed { what: &'static str, from: ParticipantId, reason: String },
    #[error("participant {from} sent two different {what}s")]
    Conflicting { what: &'static str, from: ParticipantId },
    #[error(
        "the round-2 package from participant {from} does not decrypt: not sealed for this participant under \
         the keys of the round-1 broadcasts, or altered on the way"
    )]
    Undecryptable { from: ParticipantId },
    #[error(
        "echo check failed: round-1 broadcast is inconsistent; packages seen in more than one version from \
         {equivocators:?}; echoes disagreeing with ours from {disagreeing:?}"
    )]
    EchoMismatch { equivocators: Vec<ParticipantId>, disagreeing: Vec<ParticipantId> },
    #[error("participant {0} misbehaved in the DKG (invalid proof of knowledge or secret share)")]
    Culprit(ParticipantId),
    #[error("the group key is not confirmed: no key from {missing:?}, a different key from {disagreeing:?}")]
    KeyNotConfirmed { missing: Vec<ParticipantId>, disagreeing: Vec<ParticipantId> },
    #[error("frost: {0}")]
    Frost(String),
    #[error("the DKG was aborted by an earlier error")]
    Aborted,
}

impl DkgError {
    fn is_fatal(&self) -> bool {
        !matches!(self, DkgError::UnknownParticipant(_) | DkgError::FromSelf)
    }

    /// The participants this error blames, if any.
    pub fn culprits(&self) -> Vec<ParticipantId> {
        match self {
            DkgError::Conflicting { from, .. }
            | DkgError::TooLarge { from, .. }
            | DkgError::Malformed { from, .. }
            | DkgError::Undecryptable { from }
            | DkgError::Culprit(from) => vec![*from],
            DkgError::EchoMismatch { equivocators, .. } => equivocators.clone(),
            _ => vec![],
        }
    }
}

/// A round-1 broadcast as received.
struct Round1<C: Ciphersuite> {
    /// The whole broadcast, as received: what echoes digest and duplicates are compared with.
    bytes: Vec<u8>,
    package: round1::Package<C>,
    /// The sender's ephemeral X25519 key for round 2.
    x25519: PublicKey,
}

/// Splits a round-1 broadcast into the FROST package bytes and the X25519 public key; `None` unless it is
/// exactly the canonical encoding.
fn decode_round1(bytes: &[u8]) -> Option<(&[u8], [u8; X25519_KEY_BYTES])> {
    let (len, rest) = bytes.split_first_chunk::<ROUND1_LENGTH_BYTES>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() != len.checked_add(X25519_KEY_BYTES)? {
        return None;
    }
    let (frost, key) = rest.split_at(len);
    Some((frost, key.try_into().ok()?))
}

/// The canonical round-1 broadcast: FROST package length (u32 big-endian), FROST package, X25519 key.
fn encode_round1(frost: &[u8], x25519: &PublicKey) -> Result<Vec<u8>, DkgError> {
    let len = u32::try_from(frost.len()).map_err(|_| DkgError::Frost("round-1 package too large".into()))?;
    let mut out = Vec::with_capacity(ROUND1_LENGTH_BYTES + frost.len() + X25519_KEY_BYTES);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(frost);
    out.extend_from_slice(x25519.as_bytes());
    Ok(out)
}

/// One participant of one DKG run.
pub struct Dkg<C: Ciphersuite> {
    cfg: DkgConfig,
    ids: BTreeMap<Identifier<C>, ParticipantId>,
    /// Round-1 secret, until part 2 consumes it.
    round1_secret: Option<round1::SecretPackage<C>>,
    /// The ephemeral X25519 secret that opens and seals round-2 packages (zeroized on drop), until the DKG
    /// finishes or aborts.
    x25519_secret: Option<ReusableSecret>,
    /// Round-1 broadcasts as received (own included).
    round1: BTreeMap<ParticipantId, Round1<C>>,
    my_echo: Option<Echo>,
    echoes: BTreeMap<ParticipantId, Echo>,
    round2_secret: Option<round2::SecretPackage<C>>,
    /// Sealed round-2 packages as received, kept to recognise duplicates (not secret).
    round2_sealed: BTreeMap<ParticipantId, Vec<u8>>,
    /// Round-2 packages opened (secret shares: zeroized on drop). A sealed package is opened once the echo
    /// check has passed, i.e. under the keys every participant agrees on.
    round2: BTreeMap<ParticipantId, Zeroizing<Vec<u8>>>,
    aborted: bool,
    finished: bool,
}

impl<C: Ciphersuite> Dkg<C> {
    /// Starts a DKG: runs part 1, draws the ephemeral X25519 key pair, and returns the state machine and the
    /// round-1 broadcast (FROST package and X25519 public key, see the module docs) to send to every peer.
    pub fn start<R: RngCore + CryptoRng>(cfg: DkgConfig, rng: &mut R) -> Result<(Self, Vec<u8>), DkgError> {
        let n = cfg.participants.len();
        if n < 2 || n > usize::from(MAX_PARTICIPANTS) {
            return Err(DkgError::Config(format!("{n} participants, need 2..={MAX_PARTICIPANTS}")));
        }
        if cfg.threshold < 2 || usize::from(cfg.threshold) > n {
            return Err(DkgError::Config(format!("threshold {} with {n} participants", cfg.threshold)));
        }
        if !cfg.participants.contains(&cfg.me) {
            return Err(DkgError::Config(format!("participant {} is not in the participant set", cfg.me)));
        }
        let mut ids = BTreeMap::new();
        for &p in &cfg.participants {
            let id = identifier::<C>(p).ok_or_else(|| DkgError::Config(format!("participant id {p} is invalid")))?;
            ids.insert(id, p);
        }
        let me = identifier::<C>(cfg.me).ok_or_else(|| DkgError::Config("own id is invalid".into()))?;
        let (secret, package) =
            dkg::part1::<C, _>(me, n as u16, cfg.threshold, &mut *rng).map_err(|e| DkgError::Frost(e.to_string()))?;
        let x25519_secret = ReusableSecret::random_from_rng(&mut *rng);
        let x25519 = PublicKey::from(&x25519_secret);
        let bytes = encode_round1(&package.serialize().map_err(|e| DkgError::Frost(e.to_string()))?, &x25519)?;
        let mut round1 = BTreeMap::new();
        round1.insert(cfg.me, Round1 { bytes: bytes.clone(), package, x25519 });
        let dkg = Dkg {
            cfg,
            ids,
            round1_secret: Some(secret),
            x25519_secret: Some(x25519_secret),
            round1,
            my_echo: None,
            echoes: BTreeMap::new(),
            round2_secret: None,
            round2_sealed: BTreeMap::new(),
            round2: BTreeMap::new(),
            aborted: false,
            finished: false,
        };
        Ok((dkg, bytes))
    }

    /// The configuration.
    pub fn config(&self) -> &DkgConfig {
        &self.cfg
    }

    /// Feeds the round-1 broadcast of `from`.
    pub fn on_round1(&mut self, from: ParticipantId, bytes: &[u8]) -> Result<Vec<DkgAction<C>>, DkgError> {
        self.guarded(|s| {
            s.check_peer(from)?;
            let limit = s.cfg.max_round1_bytes();
            if bytes.len() > limit {
                return Err(DkgError::TooLarge { what: "round-1 package", from, got: bytes.len(), limit });
            }
            if let Some(seen) = s.round1.get(&from) {
                return if seen.bytes == bytes {
                    Ok(vec![])
                } else {
                    Err(DkgError::Conflicting { what: "round-1 package", from })
                };
            }
            let malformed = |reason: String| DkgError::Malformed { what: "round-1 package", from, reason };
            let (frost, x25519) = decode_round1(bytes).ok_or_else(|| {
                malformed("not a u32 big-endian length, that many FROST bytes and a 32-byte X25519 key".into())
            })?;
            let x25519 = PublicKey::from(x25519);
            // A low-order key gives an all-zero shared secret with every key: the shares sealed for it would
            // be readable by anyone. It depends on the key alone, so every participant refuses it alike.
            if let Some(secret) = &s.x25519_secret
                && !secret.diffie_hellman(&x25519).was_contributory()
            {
                return Err(malformed("X25519 key of low order (non-contributory)".into()));
            }
            let package = round1::Package::<C>::deserialize(frost).map_err(|e| malformed(e.to_string()))?;
            let coefficients = package.commitment().serialize().map_err(|e| malformed(e.to_string()))?.len();
            if coefficients != usize::from(s.cfg.threshold) {
                return Err(malformed(format!(
                    "{coefficients} coefficient commitments, threshold is {}",
                    s.cfg.threshold
                )));
            }
            s.round1.insert(from, Round1 { bytes: bytes.to_vec(), package, x25519 });
            s.advance()
        })
    }

    /// Feeds an echo from `from`.
    pub fn on_echo(&mut self, from: ParticipantId, echo: Echo) -> Result<Vec<DkgAction<C>>, DkgError> {
        self.guarded(|s| {
            s.check_peer(from)?;
            if echo.digests.len() != s.cfg.participants.len()
                || !echo.digests.iter().map(|(p, _)| p).eq(s.cfg.participants.iter())
            {
                return Err(DkgError::Malformed {
                    what: "echo",
                    from,
                    reason: "does not list every participant once, in ascending order".into(),
                });
            }
            if let Some(seen) = s.echoes.get(&from) {
                return if *seen == echo { Ok(vec![]) } else { Err(DkgError::Conflicting { what: "echo", from }) };
            }
            s.echoes.insert(from, echo);
            s.advance()
        })
    }

    /// Feeds a (sealed) round-2 package that `from` sent to this participant.
    ///
    /// It is opened at once if this participant's echo check has passed, and a package that does not open is
    /// refused here ([`DkgError::Undecryptable`]); one that arrives earlier is held and opened when the check
    /// passes, and then a failure comes as [`DkgAction::Abort`]. Either way the DKG aborts.
    pub fn on_round2(&mut self, from: ParticipantId, bytes: &[u8]) -> Result<Vec<DkgAction<C>>, DkgError> {
        self.guarded(|s| {
            s.check_peer(from)?;
            if bytes.len() > MAX_ROUND2_BYTES {
                return Err(DkgError::TooLarge {
                    what: "round-2 package",
                    from,
                    got: bytes.len(),
                    limit: MAX_ROUND2_BYTES,
                });
            }
            if let Some(seen) = s.round2_sealed.get(&from) {
                return if seen.as_slice() == bytes {
                    Ok(vec![])
                } else {
                    Err(DkgError::Conflicting { what: "round-2 package", from })
                };
            }
            s.round2_sealed.insert(from, bytes.to_vec());
            s.open_round2()?;
            s.advance()
        })
    }

    fn guarded(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Vec<DkgAction<C>>, DkgError>,
    ) -> Result<Vec<DkgAction<C>>, DkgError> {
        if self.aborted {
            return Err(DkgError::Aborted);
        }
        let result = f(self);
        if let Err(e) = &result
            && e.is_fatal()
        {
            self.abort();
        }
        result
    }

    fn check_peer(&self, from: ParticipantId) -> Result<(), DkgError> {
        if from == self.cfg.me {
            return Err(DkgError::FromSelf);
        }
        if !self.cfg.participants.contains(&from) {
            return Err(DkgError::UnknownParticipant(from));
        }
        Ok(())
    }

    fn frost_error(&self, e: frost_core::Error<C>) -> DkgError {
        match e.culprits().first().and_then(|id| self.ids.get(id)) {
            Some(&p) => DkgError::Culprit(p),
            None => DkgError::Frost(e.to_string()),
        }
    }

    /// Moves through every phase whose inputs are complete. A protocol failure found here comes as a final
    /// [`DkgAction::Abort`] after the actions that must still go out: the echo created in the same step must
    /// reach the others so that every participant reaches the same verdict.
    fn advance(&mut self) -> Result<Vec<DkgAction<C>>, DkgError> {
        let mut actions = Vec::new();
        if let Err(e) = self.advance_into(&mut actions) {
            self.abort();
            actions.push(DkgAction::Abort(e));
        }
        Ok(actions)
    }

    fn abort(&mut self) {
        self.aborted = true;
        // Drop the secrets: a failed DKG is started over, never resumed.
        self.round1_secret = None;
        self.x25519_secret = None;
        self.round2_secret = None;
        self.round2.clear();
    }

    /// The ChaCha20-Poly1305 cipher for the round-2 package that `sender` seals for `recipient`; `peer` is the
    /// other side's X25519 key.
    ///
    /// The key is HKDF-SHA256(salt = DKG context, IKM = X25519 shared secret, info = tag ‖ sender ‖
    /// recipient), so the two directions between a pair get different keys. Every participant draws a fresh
    /// X25519 key in each [`Dkg::start`], and part 2 runs once per DKG, so each such key seals exactly one
    /// message (a resent package is the same ciphertext): the fixed all-zero nonce never repeats under a key.
    fn round2_cipher(
        &self,
        peer: &PublicKey,
        sender: ParticipantId,
        recipient: ParticipantId,
    ) -> Result<ChaCha20Poly1305, DkgError> {
        let secret = self.x25519_secret.as_ref().ok_or(DkgError::Aborted)?;
        let shared = secret.diffie_hellman(peer);
        if !shared.was_contributory() {
            // Refused with the round-1 broadcast already; kept here so no key ever comes from a zero secret.
            let from = if sender == self.cfg.me { recipient } else { sender };
            return Err(DkgError::Malformed {
                what: "round-1 package",
                from,
                reason: "X25519 key of low order (non-contributory)".into(),
            });
        }
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(&self.cfg.context), shared.as_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf.expand_multi_info(&[ROUND2_KEY_TAG, &sender.to_be_bytes(), &recipient.to_be_bytes()], &mut key[..])
            .map_err(|e| DkgError::Frost(format!("round-2 key derivation: {e}")))?;
        Ok(ChaCha20Poly1305::new(Key::from_slice(&key[..])))
    }

    /// Seals the round-2 package for `to`.
    fn seal_round2(&self, to: ParticipantId, plaintext: &[u8]) -> Result<Vec<u8>, DkgError> {
        let peer = self.round1.get(&to).ok_or(DkgError::UnknownParticipant(to))?.x25519;
        let cipher = self.round2_cipher(&peer, self.cfg.me, to)?;
        // Room for the tag up front: the buffer never reallocates, so no unzeroized copy of the share is left.
        let mut buffer = Zeroizing::new(Vec::with_capacity(plaintext.len() + AEAD_TAG_BYTES));
        buffer.extend_from_slice(plaintext);
        cipher
            .encrypt_in_place(&Nonce::default(), &[], &mut *buffer)
            .map_err(|_| DkgError::Frost("round-2 sealing failed".into()))?;
        // Now ciphertext and tag: not secret.
        Ok(std::mem::take(&mut *buffer))
    }

    /// Opens every held round-2 package, once the echo check has passed (part 2 ran) and until part 3.
    fn open_round2(&mut self) -> Result<(), DkgError> {
        if self.round2_secret.is_none() {
            return Ok(());
        }
        let pending: Vec<_> = self.round2_sealed.keys().filter(|p| !self.round2.contains_key(p)).copied().collect();
        for from in pending {
            let sealed = &self.round2_sealed[&from];
            let peer = self.round1.get(&from).ok_or(DkgError::UnknownParticipant(from))?.x25519;
            let cipher = self.round2_cipher(&peer, from, self.cfg.me)?;
            let mut buffer = Zeroizing::new(sealed.clone());
            cipher
                .decrypt_in_place(&Nonce::default(), &[], &mut *buffer)
                .map_err(|_| DkgError::Undecryptable { from })?;
            self.round2.insert(from, buffer);
        }
        Ok(())
    }

    fn advance_into(&mut self, actions: &mut Vec<DkgAction<C>>) -> Result<(), DkgError> {
        let n = self.cfg.participants.len();
        if self.finished {
            return Ok(());
        }
        // Round 1 complete → echo.
        if self.my_echo.is_none() && self.round1.len() == n {
            let (n_be, t_be) = ((n as u64).to_be_bytes(), self.cfg.threshold.to_be_bytes());
            let digests = self
                .round1
                .iter()
                .map(|(&p, r1)| {
                    let len = (r1.bytes.len() as u64).to_be_bytes();
                    (p, sha256(&[ECHO_TAG, &self.cfg.context, &n_be, &t_be, &p.to_be_bytes(), &len, &r1.bytes]))
                })
                .collect();
            let echo = Echo { digests };
            self.my_echo = Some(echo.clone());
            actions.push(DkgAction::BroadcastEcho(echo));
        }
        // Every echo in → compare, then part 2.
        if let Some(mine) = &self.my_echo
            && self.echoes.len() == n - 1
            && let Some(secret) = self.round1_secret.take()
        {
            let disagreeing: Vec<_> = self.echoes.iter().filter(|(_, e)| *e != mine).map(|(&p, _)| p).collect();
            if !disagreeing.is_empty() {
                let mut equivocators = Vec::new();
                for (i, (p, d)) in mine.digests.iter().enumerate() {
                    if self.echoes.values().any(|e| e.digests.get(i).is_some_and(|(_, other)| other != d)) {
                        equivocators.push(*p);
                    }
                }
                return Err(DkgError::EchoMismatch { equivocators, disagreeing });
            }
            let others = self.peer_round1();
            let (secret2, packages) = dkg::part2(secret, &others).map_err(|e| self.frost_error(e))?;
            for (id, package) in packages {
                let to =
                    *self.ids.get(&id).ok_or_else(|| DkgError::Frost("part2 produced an unknown recipient".into()))?;
                let plaintext = Zeroizing::new(package.serialize().map_err(|e| DkgError::Frost(e.to_string()))?);
                let package = self.seal_round2(to, &plaintext)?;
                actions.push(DkgAction::SendRound2 { to, package });
            }
            self.round2_secret = Some(secret2);
            // Round-2 packages that came before the echo check passed.
            self.open_round2()?;
        }
        // Every round-2 package in → part 3.
        if let Some(secret2) = &self.round2_secret
            && self.round2.len() == n - 1
        {
            let mut packages = BTreeMap::new();
            for (&from, bytes) in &self.round2 {
                let package = round2::Package::<C>::deserialize(bytes).map_err(|e| DkgError::Malformed {
                    what: "round-2 package",
                    from,
                    reason: e.to_string(),
                })?;
                packages.insert(self.frost_id(from)?, package);
            }
            let others = self.peer_round1();
            let (key_package, public_key_package) =
                dkg::part3(secret2, &others, &packages).map_err(|e| self.frost_error(e))?;
            self.finished = true;
            self.round2_secret = None;
            self.x25519_secret = None;
            self.round2.clear();
            actions.push(DkgAction::Finished(Box::new(DkgOutput {
                participant: self.cfg.me,
                key_package,
                public_key_package,
            })));
        }
        Ok(())
    }

    fn frost_id(&self, p: ParticipantId) -> Result<Identifier<C>, DkgError> {
        identifier::<C>(p).ok_or(DkgError::UnknownParticipant(p))
    }

    /// The parsed round-1 packages of the other participants, keyed by FROST identifier.
    fn peer_round1(&self) -> BTreeMap<Identifier<C>, round1::Package<C>> {
        self.round1
            .iter()
            .filter(|(p, _)| **p != self.cfg.me)
            .filter_map(|(&p, r1)| Some((identifier::<C>(p)?, r1.package.clone())))
            .collect()
    }
}

/// The last step before adopting a group key: part 3 can succeed for some participants and fail for others
/// (a wrong secret share is only seen by its recipient), so every participant announces the group key it
/// derived (`None` if its DKG failed) and the key is adopted only if every participant announced exactly
/// `mine`.
pub fn confirm_group_key(
    participants: &BTreeSet<ParticipantId>,
    mine: &[u8],
    announced: &BTreeMap<ParticipantId, Option<Vec<u8>>>,
) -> Result<(), DkgError> {
    let missing: Vec<_> =
        participants.iter().filter(|p| announced.get(p).is_none_or(|k| k.is_none())).copied().collect();
    let disagreeing: Vec<_> = participants
        .iter()
        .filter(|p| announced.get(p).and_then(|k| k.as_deref()).is_some_and(|k| k != mine))
        .copied()
        .collect();
    if !missing.is_empty() || !disagreeing.is_empty() {
        return Err(DkgError::KeyNotConfirmed { missing, disagreeing });
    }
    Ok(())
}
