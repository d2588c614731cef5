//! A DKG participant as a pure state machine: no I/O, the caller moves the messages.
//!
//! Messages: the participant's round-1 package (broadcast), its [`Echo`] (broadcast), and one round-2 package
//! per other participant (secret: to that recipient only, over an authenticated, encrypted channel). Messages
//! may arrive in any order: echoes and round-2 packages that arrive early are held (bounded) until their turn.

use std::collections::{BTreeMap, BTreeSet};

use frost_core::keys::dkg::{self, round1, round2};
use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::{Ciphersuite, Identifier};
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{MAX_PARTICIPANTS, ParticipantId, identifier, sha256};

const ECHO_TAG: &[u8] = b"nexus/mpc/dkg-echo/v1";

/// Largest round-1 package accepted, per coefficient commitment (t of them) plus a fixed overhead. Generous
/// for every suite with elements of up to 64 bytes.
const ROUND1_BYTES_PER_COEFFICIENT: usize = 80;
const ROUND1_BYTES_OVERHEAD: usize = 256;
/// Largest round-2 package accepted.
pub const MAX_ROUND2_BYTES: usize = 256;

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
    /// Largest round-1 package accepted from a peer.
    pub fn max_round1_bytes(&self) -> usize {
        ROUND1_BYTES_OVERHEAD + ROUND1_BYTES_PER_COEFFICIENT * usize::from(self.threshold)
    }
}

/// What a participant publishes after round 1: for every participant in ascending id order, the SHA-256 of
/// the round-1 package it received from it (its own included), bound to the DKG context, n and t.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    /// `(participant, digest of its round-1 package)`, ascending by participant.
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
    /// Send this round-2 package to `to` only. It is a secret share: only over an encrypted, authenticated
    /// channel, never logged or persisted.
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
            | DkgError::Culprit(from) => vec![*from],
            DkgError::EchoMismatch { equivocators, .. } => equivocators.clone(),
            _ => vec![],
        }
    }
}

/// One participant of one DKG run.
pub struct Dkg<C: Ciphersuite> {
    cfg: DkgConfig,
    ids: BTreeMap<Identifier<C>, ParticipantId>,
    /// Round-1 secret, until part 2 consumes it.
    round1_secret: Option<round1::SecretPackage<C>>,
    /// Round-1 packages as received (own included): raw bytes and parsed.
    round1: BTreeMap<ParticipantId, (Vec<u8>, round1::Package<C>)>,
    my_echo: Option<Echo>,
    echoes: BTreeMap<ParticipantId, Echo>,
    round2_secret: Option<round2::SecretPackage<C>>,
    /// Round-2 packages received (secret shares: zeroized on drop).
    round2: BTreeMap<ParticipantId, Zeroizing<Vec<u8>>>,
    aborted: bool,
    finished: bool,
}

impl<C: Ciphersuite> Dkg<C> {
    /// Starts a DKG: runs part 1 and returns the state machine and the round-1 package to broadcast.
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
        let bytes = package.serialize().map_err(|e| DkgError::Frost(e.to_string()))?;
        let mut round1 = BTreeMap::new();
        round1.insert(cfg.me, (bytes.clone(), package));
        let dkg = Dkg {
            cfg,
            ids,
            round1_secret: Some(secret),
            round1,
            my_echo: None,
            echoes: BTreeMap::new(),
            round2_secret: None,
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

    /// Feeds a round-1 package from `from`.
    pub fn on_round1(&mut self, from: ParticipantId, bytes: &[u8]) -> Result<Vec<DkgAction<C>>, DkgError> {
        self.guarded(|s| {
            s.check_peer(from)?;
            let limit = s.cfg.max_round1_bytes();
            if bytes.len() > limit {
                return Err(DkgError::TooLarge { what: "round-1 package", from, got: bytes.len(), limit });
            }
            if let Some((seen, _)) = s.round1.get(&from) {
                return if seen == bytes {
                    Ok(vec![])
                } else {
                    Err(DkgError::Conflicting { what: "round-1 package", from })
                };
            }
            let malformed = |reason: String| DkgError::Malformed { what: "round-1 package", from, reason };
            let package = round1::Package::<C>::deserialize(bytes).map_err(|e| malformed(e.to_string()))?;
            let coefficients = package.commitment().serialize().map_err(|e| malformed(e.to_string()))?.len();
            if coefficients != usize::from(s.cfg.threshold) {
                return Err(malformed(format!(
                    "{coefficients} coefficient commitments, threshold is {}",
                    s.cfg.threshold
                )));
            }
            s.round1.insert(from, (bytes.to_vec(), package));
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

    /// Feeds a round-2 package that `from` sent to this participant.
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
            if let Some(seen) = s.round2.get(&from) {
                return if seen.as_slice() == bytes {
                    Ok(vec![])
                } else {
                    Err(DkgError::Conflicting { what: "round-2 package", from })
                };
            }
            s.round2.insert(from, Zeroizing::new(bytes.to_vec()));
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
        self.round2_secret = None;
        self.round2.clear();
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
                .map(|(&p, (bytes, _))| {
                    let len = (bytes.len() as u64).to_be_bytes();
                    (p, sha256(&[ECHO_TAG, &self.cfg.context, &n_be, &t_be, &p.to_be_bytes(), &len, bytes]))
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
                let package = package.serialize().map_err(|e| DkgError::Frost(e.to_string()))?;
                actions.push(DkgAction::SendRound2 { to, package });
            }
            self.round2_secret = Some(secret2);
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
            .filter_map(|(&p, (_, package))| Some((identifier::<C>(p)?, package.clone())))
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
