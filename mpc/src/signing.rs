//! One FROST signing session over one batch message, as pure state machines.
//!
//! A session has a coordinator (any replica, e.g. the leader) and a signer set of t participants:
//! 1. each signer creates a [`Signer`] with the message **it computed itself** and sends its commitments;
//! 2. the coordinator collects them ([`Coordinator::on_commitments`]) and sends every signer the signing
//!    package;
//! 3. each signer checks the package's message against its own and returns a signature share
//!    ([`Signer::sign`]), or refuses;
//! 4. the coordinator collects the shares and aggregates them into a [`Certificate`]; an invalid share names
//!    its signer ([`SigningError::Cheaters`]).
//!
//! A session that stalls or fails is abandoned, not repaired: the caller starts another one with the next
//! signer set ([`next_signer_set`]), excluding cheaters and signers that did not answer. Nonces never outlive
//! their [`Signer`].

use std::collections::{BTreeMap, BTreeSet};

use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::round1::{SigningCommitments, SigningNonces};
use frost_core::round2::SignatureShare;
use frost_core::{CheaterDetection, Ciphersuite, Identifier, SigningPackage};
use rand_core::{CryptoRng, RngCore};

use crate::batch::BatchMessage;
use crate::certificate::Certificate;
use crate::{MAX_PARTICIPANTS, ParticipantId, identifier};

/// Largest commitments message accepted.
pub const MAX_COMMITMENTS_BYTES: usize = 512;
/// Largest signature share accepted.
pub const MAX_SHARE_BYTES: usize = 128;
/// Largest signing package accepted (commitments of up to [`MAX_PARTICIPANTS`] signers and the message).
pub const MAX_SIGNING_PACKAGE_BYTES: usize = 1024 + (MAX_PARTICIPANTS as usize) * (MAX_COMMITMENTS_BYTES + 64);

/// Why a signing step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("invalid signing session: {0}")]
    Config(String),
    #[error("participant {0} is not in this session's signer set")]
    NotASigner(ParticipantId),
    #[error("{what} from participant {from} is {got} bytes, the limit is {limit}")]
    TooLarge { what: &'static str, from: ParticipantId, got: usize, limit: usize },
    #[error("malformed {what} from participant {from}: {reason}")]
    Malformed { what: &'static str, from: ParticipantId, reason: String },
    #[error("participant {from} sent two different {what}s")]
    Conflicting { what: &'static str, from: ParticipantId },
    #[error("the signing package is {got} bytes, the limit is {limit}")]
    PackageTooLarge { got: usize, limit: usize },
    #[error("malformed signing package: {0}")]
    MalformedPackage(String),
    #[error("refusing to sign: the message differs from this replica's own computation in {field}")]
    MessageMismatch { field: &'static str },
    #[error("the signing package does not include this signer's commitments as it made them")]
    CommitmentMismatch,
    #[error("the session is not ready: waiting for {waiting_for:?}")]
    NotReady { waiting_for: Vec<ParticipantId> },
    #[error("invalid signature shares from {culprits:?}")]
    Cheaters { culprits: Vec<ParticipantId> },
    #[error("only {available} signers are available, {needed} are needed")]
    NotEnoughSigners { available: usize, needed: usize },
    #[error("frost: {0}")]
    Frost(String),
}

fn frost<C: Ciphersuite>(e: frost_core::Error<C>) -> SigningError {
    SigningError::Frost(e.to_string())
}

/// One participant's side of one signing session. Holds the session's nonces in memory only; [`Signer::sign`]
/// consumes it, so a nonce pair signs at most once.
pub struct Signer<C: Ciphersuite> {
    key_package: KeyPackage<C>,
    own_message: BatchMessage,
    nonces: SigningNonces<C>,
    commitments: SigningCommitments<C>,
}

impl<C: Ciphersuite> Signer<C> {
    /// Round 1: fresh nonces from `rng` and the commitments to send to the coordinator. `own_message` is the
    /// batch message this replica built from its own execution.
    pub fn new<R: RngCore + CryptoRng>(
        key_package: &KeyPackage<C>,
        own_message: BatchMessage,
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), SigningError> {
        own_message.check().map_err(|e| SigningError::Config(e.to_string()))?;
        let (nonces, commitments) = frost_core::round1::commit(key_package.signing_share(), rng);
        let bytes = commitments.serialize().map_err(frost)?;
        Ok((Signer { key_package: key_package.clone(), own_message, nonces, commitments }, bytes))
    }

    /// Round 2: the signature share for `signing_package`, only if its message is exactly the one this replica
    /// computed and it carries this signer's commitments. Consumes the signer (and its nonces) either way.
    pub fn sign(self, signing_package: &[u8]) -> Result<Vec<u8>, SigningError> {
        if signing_package.len() > MAX_SIGNING_PACKAGE_BYTES {
            return Err(SigningError::PackageTooLarge { got: signing_package.len(), limit: MAX_SIGNING_PACKAGE_BYTES });
        }
        let package = SigningPackage::<C>::deserialize(signing_package)
            .map_err(|e| SigningError::MalformedPackage(e.to_string()))?;
        let message =
            BatchMessage::decode(package.message()).map_err(|_| SigningError::MessageMismatch { field: "encoding" })?;
        if let Some(field) = self.own_message.first_difference(&message) {
            return Err(SigningError::MessageMismatch { field });
        }
        // Defense in depth: the bytes signed are exactly our own encoding.
        if package.message().as_slice() != self.own_message.encode().as_slice() {
            return Err(SigningError::MessageMismatch { field: "encoding" });
        }
        if package.signing_commitments().len() > usize::from(MAX_PARTICIPANTS) {
            return Err(SigningError::MalformedPackage("more signers than a group can have".into()));
        }
        if package.signing_commitments().get(self.key_package.identifier()) != Some(&self.commitments) {
            return Err(SigningError::CommitmentMismatch);
        }
        let share = frost_core::round2::sign(&package, &self.nonces, &self.key_package).map_err(frost)?;
        Ok(share.serialize())
    }
}

/// The coordinator of one signing session: one message, one signer set.
pub struct Coordinator<C: Ciphersuite> {
    public_key_package: PublicKeyPackage<C>,
    message: BatchMessage,
    signers: BTreeMap<ParticipantId, Identifier<C>>,
    commitments: BTreeMap<Identifier<C>, SigningCommitments<C>>,
    package: Option<SigningPackage<C>>,
    shares: BTreeMap<Identifier<C>, SignatureShare<C>>,
}

impl<C: Ciphersuite> Coordinator<C> {
    /// A session for `message` (the coordinator's own computation) among `signers`, which must be at least t
    /// participants of the group.
    pub fn new(
        public_key_package: &PublicKeyPackage<C>,
        message: BatchMessage,
        signers: &BTreeSet<ParticipantId>,
    ) -> Result<Self, SigningError> {
        message.check().map_err(|e| SigningError::Config(e.to_string()))?;
        let t = public_key_package
            .min_signers()
            .ok_or_else(|| SigningError::Config("public key package has no threshold".into()))?;
        if signers.len() < usize::from(t) {
            return Err(SigningError::NotEnoughSigners { available: signers.len(), needed: usize::from(t) });
        }
        if signers.len() > usize::from(MAX_PARTICIPANTS) {
            return Err(SigningError::Config(format!("{} signers, at most {MAX_PARTICIPANTS}", signers.len())));
        }
        let mut ids = BTreeMap::new();
        for &p in signers {
            let id = identifier::<C>(p).ok_or(SigningError::NotASigner(p))?;
            if !public_key_package.verifying_shares().contains_key(&id) {
                return Err(SigningError::Config(format!("participant {p} is not in the group")));
            }
            ids.insert(p, id);
        }
        Ok(Coordinator {
            public_key_package: public_key_package.clone(),
            message,
            signers: ids,
            commitments: BTreeMap::new(),
            package: None,
            shares: BTreeMap::new(),
        })
    }

    /// The session's signer set.
    pub fn signers(&self) -> BTreeSet<ParticipantId> {
        self.signers.keys().copied().collect()
    }

    fn signer(&self, from: ParticipantId) -> Result<Identifier<C>, SigningError> {
        self.signers.get(&from).copied().ok_or(SigningError::NotASigner(from))
    }

    /// Feeds `from`'s round-1 commitments. Returns the signing package to send to every signer once all
    /// signers' commitments are in.
    pub fn on_commitments(&mut self, from: ParticipantId, bytes: &[u8]) -> Result<Option<Vec<u8>>, SigningError> {
        let id = self.signer(from)?;
        if bytes.len() > MAX_COMMITMENTS_BYTES {
            return Err(SigningError::TooLarge {
                what: "commitments",
                from,
                got: bytes.len(),
                limit: MAX_COMMITMENTS_BYTES,
            });
        }
        let commitments = SigningCommitments::<C>::deserialize(bytes).map_err(|e| SigningError::Malformed {
            what: "commitments",
            from,
            reason: e.to_string(),
        })?;
        match self.commitments.get(&id) {
            Some(seen) if *seen == commitments => return Ok(None),
            Some(_) => return Err(SigningError::Conflicting { what: "commitments", from }),
            None => {}
        }
        if self.package.is_some() {
            return Ok(None);
        }
        self.commitments.insert(id, commitments);
        if self.commitments.len() < self.signers.len() {
            return Ok(None);
        }
        let package = SigningPackage::new(self.commitments.clone(), &self.message.encode());
        let bytes = package.serialize().map_err(frost)?;
        self.package = Some(package);
        Ok(Some(bytes))
    }

    /// Feeds `from`'s signature share. Returns whether every signer's share is in.
    pub fn on_share(&mut self, from: ParticipantId, bytes: &[u8]) -> Result<bool, SigningError> {
        let id = self.signer(from)?;
        if self.package.is_none() {
            return Err(SigningError::NotReady { waiting_for: self.waiting_for() });
        }
        if bytes.len() > MAX_SHARE_BYTES {
            return Err(SigningError::TooLarge {
                what: "signature share",
                from,
                got: bytes.len(),
                limit: MAX_SHARE_BYTES,
            });
        }
        let share = SignatureShare::<C>::deserialize(bytes).map_err(|e| SigningError::Malformed {
            what: "signature share",
            from,
            reason: e.to_string(),
        })?;
        match self.shares.get(&id) {
            Some(seen) if *seen == share => {}
            Some(_) => return Err(SigningError::Conflicting { what: "signature share", from }),
            None => {
                self.shares.insert(id, share);
            }
        }
        Ok(self.shares.len() == self.signers.len())
    }

    /// The signers the session is still waiting for (commitments, then shares): the ones to exclude from the
    /// next signer set after a timeout.
    pub fn waiting_for(&self) -> Vec<ParticipantId> {
        let have = if self.package.is_none() { &self.commitments } else { return self.waiting_for_shares() };
        self.signers.iter().filter(|(_, id)| !have.contains_key(id)).map(|(&p, _)| p).collect()
    }

    fn waiting_for_shares(&self) -> Vec<ParticipantId> {
        self.signers.iter().filter(|(_, id)| !self.shares.contains_key(id)).map(|(&p, _)| p).collect()
    }

    /// Aggregates the shares into a certificate. Invalid shares are identified: [`SigningError::Cheaters`]
    /// names every signer whose share does not verify against its verifying share.
    pub fn aggregate(&self) -> Result<Certificate, SigningError> {
        let package =
            self.package.as_ref().ok_or_else(|| SigningError::NotReady { waiting_for: self.waiting_for() })?;
        if self.shares.len() < self.signers.len() {
            return Err(SigningError::NotReady { waiting_for: self.waiting_for_shares() });
        }
        let signature = frost_core::aggregate_custom(
            package,
            &self.shares,
            &self.public_key_package,
            CheaterDetection::AllCheaters,
        )
        .map_err(|e| {
            let culprits: Vec<_> = e
                .culprits()
                .iter()
                .filter_map(|id| self.signers.iter().find(|(_, s)| *s == id).map(|(&p, _)| p))
                .collect();
            if culprits.is_empty() { frost(e) } else { SigningError::Cheaters { culprits } }
        })?;
        Ok(Certificate {
            message: self.message,
            signature: signature.serialize().map_err(frost)?,
            group_key: self.public_key_package.verifying_key().serialize().map_err(frost)?,
            key_epoch: self.message.key_epoch,
        })
    }
}

/// The signer set for attempt number `attempt` (0, 1, …) of a session: `threshold` participants taken in
/// ascending order from a start that rotates with `attempt`, skipping `excluded` (cheaters, unresponsive
/// signers). Deterministic, so every replica computes the same set for the same inputs.
pub fn next_signer_set(
    participants: &BTreeSet<ParticipantId>,
    threshold: u16,
    excluded: &BTreeSet<ParticipantId>,
    attempt: u64,
) -> Result<BTreeSet<ParticipantId>, SigningError> {
    let candidates: Vec<_> = participants.difference(excluded).copied().collect();
    let needed = usize::from(threshold);
    if candidates.len() < needed || needed == 0 {
        return Err(SigningError::NotEnoughSigners { available: candidates.len(), needed });
    }
    let start = (attempt % candidates.len() as u64) as usize;
    Ok(candidates.iter().cycle().skip(start).take(needed).copied().collect())
}
