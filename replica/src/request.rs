//! What clients send: requests signed with their Ed25519 key.
//!
//! The signature covers a domain tag, the cluster id (a request for one cluster is worthless on another),
//! the nonce and the request. Every replica verifies it again when applying, so a lying leader cannot put
//! a request in the log that its signer did not make. Nonces are per signer and strictly increasing, which
//! stops replays; clients use a clock-based nonce so that independent processes with one key rarely clash.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::app::AppId;

/// Identifies a cluster; part of every signed message.
pub type ClusterId = [u8; 32];

/// Largest encoded request accepted (a module of up to 4 MiB plus headroom).
pub const MAX_REQUEST_BYTES: usize = 8 << 20;

const SIGNING_DOMAIN: &[u8] = b"nexus/request/v1\0";

/// A request, before signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Deploy a new app; the signer becomes its owner.
    Deploy { module: Vec<u8> },
    /// Replace an app's module, keeping its state. Only the owner may.
    Upgrade { app: AppId, module: Vec<u8> },
    /// Call a function of an app; the app sees the signer as its caller.
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

fn signed_message(cluster: &ClusterId, nonce: u64, request: &Request) -> Vec<u8> {
    let mut msg = SIGNING_DOMAIN.to_vec();
    msg.extend_from_slice(cluster);
    msg.extend_from_slice(&nonce.to_le_bytes());
    msg.extend(postcard::to_allocvec(request).expect("requests always encode"));
    msg
}

impl SignedRequest {
    /// Checks the signature (strict verification: no small-order keys, no malleable signatures, so every
    /// replica reaches the same verdict).
    pub fn verify(&self, cluster: &ClusterId) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.signer) else { return false };
        let signature = Signature::from_bytes(&self.signature);
        key.verify_strict(&signed_message(cluster, self.nonce, &self.request), &signature).is_ok()
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
