//! What clients send: requests signed with their Ed25519 key.
//!
//! The signature covers a domain tag, the cluster id (a request for one cluster is worthless on another),
//! the nonce and the request. Every replica verifies it again when applying, so a lying leader cannot put
//! a request in the log that its signer did not make. Nonces are per signer and strictly increasing, which
//! stops replays; clients use a clock-based nonce so that independent processes with one key rarely clash.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::AppId;

/// Identifies a cluster; part of every signed message.
pub type ClusterId = [u8; 32];

/// Largest encoded request accepted (a module of up to 4 MiB and an ELF of up to
/// [`MAX_PROGRAM_BYTES`](crate::zk::MAX_PROGRAM_BYTES), plus headroom).
pub const MAX_REQUEST_BYTES: usize = 12 << 20;

const SIGNING_DOMAIN: &[u8] = b"nexus/request/v1\0";

/// A request, before signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Deploy a new app; the signer becomes its owner. `program` is the app's NVM build (riscv32im ELF), which
    /// calls made with `zk` are proven on; without it the app serves only the Nexus tier.
    Deploy { module: Vec<u8>, program: Option<Vec<u8>> },
    /// Replace an app's module (and NVM build: `None` removes it), keeping its state. Only the owner may.
    Upgrade { app: AppId, module: Vec<u8>, program: Option<Vec<u8>> },
    /// Call a function of an app; the app sees the signer as its caller. With `zk`, the call is also run on
    /// the NVM and, if both runs agree, proven by the network's prover workers.
    Call { app: AppId, function: String, input: Vec<u8>, zk: bool },
}

/// A request with its signer, nonce and signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRequest {
    pub request: Request,
    pub nonce: u64,
    pub signer: [u8; 32],
    #[serde(with = "signature_bytes")]
    pub signature: [u8; 64],
}

/// serde has no impls for arrays longer than 32; a signature is carried as bytes of fixed length.
mod signature_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(sig)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let bytes: &[u8] = Deserialize::deserialize(d)?;
        bytes.try_into().map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"64 bytes"))
    }
}

/// What a client key signs: a domain tag (requests and admin commands have their own), the cluster id, a
/// counter (the nonce, or an admin command's timestamp), and the body's postcard encoding.
pub(crate) fn domain_message<T: Serialize>(domain: &[u8], cluster: &ClusterId, counter: u64, body: &T) -> Vec<u8> {
    let mut msg = domain.to_vec();
    msg.extend_from_slice(cluster);
    msg.extend_from_slice(&counter.to_le_bytes());
    msg.extend(postcard::to_allocvec(body).expect("requests and commands always encode"));
    msg
}

fn signed_message(cluster: &ClusterId, nonce: u64, request: &Request) -> Vec<u8> {
    domain_message(SIGNING_DOMAIN, cluster, nonce, request)
}

impl SignedRequest {
    /// Checks the signature (strict verification: no small-order keys, no malleable signatures, so every
    /// replica reaches the same verdict).
    pub fn verify(&self, cluster: &ClusterId) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.signer) else { return false };
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&signed_message(cluster, self.nonce, &self.request), &signature).is_ok()
    }

    /// [`verify`](Self::verify), remembering verdicts in `cache`: a request this process verified before (the
    /// leader when it was submitted, a follower when the entry arrived) is not verified again when applied.
    /// The cache is keyed by a digest of everything the verdict depends on, so it gives the same answer as
    /// verifying: the same bytes always get the same verdict.
    pub fn verify_with(&self, cluster: &ClusterId, cache: &SignatureCache) -> bool {
        let message = signed_message(cluster, self.nonce, &self.request);
        let digest: [u8; 32] = Sha256::new()
            .chain_update(&message)
            .chain_update(self.signer)
            .chain_update(self.signature)
            .finalize()
            .into();
        if cache.verified(&digest) {
            return true;
        }
        let Some(key) = cache.key(&self.signer) else { return false };
        let ok = key.verify_strict(&message, &Signature::from_bytes(&self.signature)).is_ok();
        if ok {
            cache.remember(digest);
        }
        ok
    }

    /// The app this request creates or addresses.
    pub fn app(&self) -> AppId {
        match &self.request {
            Request::Deploy { .. } => AppId::derive(&self.signer, self.nonce),
            Request::Upgrade { app, .. } | Request::Call { app, .. } => *app,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("requests always encode")
    }

    /// Decodes a request received from outside, refusing oversized input before parsing it.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(format!("request is {} bytes, more than the limit of {MAX_REQUEST_BYTES}", bytes.len()));
        }
        postcard::from_bytes(bytes).map_err(|e| format!("request does not decode: {e}"))
    }
}

/// Most verified-request digests a [`SignatureCache`] keeps (oldest forgotten first).
pub const MAX_CACHED_SIGNATURES: usize = 65_536;
/// Most decompressed public keys a [`SignatureCache`] keeps (forgotten all at once when full).
pub const MAX_CACHED_KEYS: usize = 16_384;

/// Digests of verified requests: a set to look up, and their order to forget the oldest.
type VerifiedDigests = (HashSet<[u8; 32]>, VecDeque<[u8; 32]>);

/// Signature verdicts and decompressed public keys, shared by the parts of one replica that verify requests.
#[derive(Default)]
pub struct SignatureCache {
    verified: Mutex<VerifiedDigests>,
    keys: Mutex<HashMap<[u8; 32], VerifyingKey>>,
}

impl SignatureCache {
    fn verified(&self, digest: &[u8; 32]) -> bool {
        self.verified.lock().unwrap_or_else(|p| p.into_inner()).0.contains(digest)
    }

    fn remember(&self, digest: [u8; 32]) {
        let mut guard = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *guard;
        if set.insert(digest) {
            order.push_back(digest);
            if order.len() > MAX_CACHED_SIGNATURES
                && let Some(oldest) = order.pop_front()
            {
                set.remove(&oldest);
            }
        }
    }

    /// The signer's key, decompressed once (decompression is a field inversion, a good part of a verify).
    fn key(&self, signer: &[u8; 32]) -> Option<VerifyingKey> {
        if let Some(key) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(signer) {
            return Some(*key);
        }
        let key = VerifyingKey::from_bytes(signer).ok()?;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.insert(*signer, key);
        Some(key)
    }
}

/// A client's signing key.
pub struct ClientKey(SigningKey);

impl ClientKey {
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&secret))
    }

    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    pub fn sign(&self, cluster: &ClusterId, nonce: u64, request: Request) -> SignedRequest {
        let signature = self.0.sign(&signed_message(cluster, nonce, &request)).to_bytes();
        SignedRequest { request, nonce, signer: self.public(), signature }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: ClusterId = [3; 32];

    fn call(input: u8) -> Request {
        Request::Call { app: AppId([1; 32]), function: "f".into(), input: vec![input], zk: false }
    }

    #[test]
    fn a_cached_verdict_covers_only_the_exact_request_it_was_given_for() {
        let cache = SignatureCache::default();
        let key = ClientKey::from_secret([4; 32]);
        let signed = key.sign(&CLUSTER, 7, call(1));
        assert!(signed.verify_with(&CLUSTER, &cache));
        assert!(signed.verify_with(&CLUSTER, &cache), "from the cache");
        // The same signature over another body, nonce, signer or cluster is still checked, and refused.
        let other_body = SignedRequest { request: call(2), ..signed.clone() };
        assert!(!other_body.verify_with(&CLUSTER, &cache));
        assert!(!SignedRequest { nonce: 8, ..signed.clone() }.verify_with(&CLUSTER, &cache));
        let stranger = ClientKey::from_secret([5; 32]).public();
        assert!(!SignedRequest { signer: stranger, ..signed.clone() }.verify_with(&CLUSTER, &cache));
        assert!(!signed.verify_with(&[9; 32], &cache));
        let mut flipped = signed.clone();
        flipped.signature[10] ^= 1;
        assert!(!flipped.verify_with(&CLUSTER, &cache));
        // A key that is not a curve point is refused, not cached.
        assert!(!SignedRequest { signer: [0xff; 32], ..signed }.verify_with(&CLUSTER, &cache));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = SignatureCache::default();
        for i in 0..(MAX_CACHED_SIGNATURES + 10) {
            let mut digest = [0u8; 32];
            digest[..8].copy_from_slice(&(i as u64).to_le_bytes());
            cache.remember(digest);
        }
        let (set, order) = &*cache.verified.lock().unwrap();
        assert_eq!((set.len(), order.len()), (MAX_CACHED_SIGNATURES, MAX_CACHED_SIGNATURES));
        assert!(!set.contains(&[0u8; 32]), "the oldest went first");
    }
}
