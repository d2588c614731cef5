//! Certificates, receipts and deployments as the contracts take them (ABI calldata).
//!
//! A certificate (`nexus_mpc::certificate::Certificate`, FROST(secp256k1, Keccak-256) suite) becomes a
//! [`CertificateCalldata`]: the batch message field by field (the contract rebuilds its 152 signed bytes), the
//! group key as x and the parity of y ([`EvmKey`]), and the signature with R uncompressed ([`EvmSignature`]). A
//! receipt proof adds the log index, the receipt's bytes and its Merkle path ([`ReceiptCalldata`]).

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolCall, SolConstructor};
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::{AffinePoint, EncodedPoint};
use nexus_mpc::batch::{BatchMessage, MerklePath};
use nexus_mpc::certificate::{Certificate, ReceiptProof};
use nexus_mpc::evm::{EvmKey, EvmSignature};

use crate::BridgeError;
use crate::abi;
use crate::artifacts;

/// The batch message's fields as the contract's `Batch`.
pub fn batch(message: &BatchMessage) -> abi::Batch {
    abi::Batch {
        clusterId: B256::from(message.cluster_id),
        chainId: message.chain_id,
        keyEpoch: message.key_epoch,
        firstIndex: message.first_index,
        lastIndex: message.last_index,
        receiptsRoot: B256::from(message.receipts_root),
        stateRoot: B256::from(message.state_root),
    }
}

/// A group key as the contract's `GroupKey`.
pub fn group_key(key: &EvmKey) -> abi::GroupKey {
    abi::GroupKey { x: U256::from_be_bytes(key.x), yParity: key.y_parity }
}

/// A signature as the contract's `Signature`.
pub fn signature(signature: &EvmSignature) -> abi::Signature {
    abi::Signature {
        rx: U256::from_be_bytes(signature.rx),
        ry: U256::from_be_bytes(signature.ry),
        z: U256::from_be_bytes(signature.z),
    }
}

/// A Merkle path as the contract's `MerklePath`.
pub fn merkle_path(path: &MerklePath) -> abi::MerklePath {
    abi::MerklePath {
        leafIndex: path.leaf_index,
        leafCount: path.leaf_count,
        siblings: path.siblings.iter().copied().map(B256::from).collect(),
    }
}

/// A group key's affine coordinates (x, y), from its 33-byte compressed form, if it is usable on Ethereum
/// (a valid point with 0 < x < n: [`nexus_mpc::evm::evm_key_usable`]). The contracts take y when a key is
/// installed, to check it is on the curve without computing a square root.
pub fn key_coordinates(compressed: &[u8]) -> Result<(U256, U256), BridgeError> {
    EvmKey::from_compressed(compressed).ok_or(BridgeError::UnusableKey)?;
    let encoded = EncodedPoint::from_bytes(compressed).map_err(|_| BridgeError::UnusableKey)?;
    let point =
        Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&encoded)).ok_or(BridgeError::UnusableKey)?;
    let uncompressed = point.to_encoded_point(false);
    let (Some(x), Some(y)) = (uncompressed.x(), uncompressed.y()) else { return Err(BridgeError::UnusableKey) };
    Ok((U256::from_be_slice(x), U256::from_be_slice(y)))
}

/// A certificate in calldata form: the contracts' `Certificate`.
pub type CertificateCalldata = abi::Certificate;

impl abi::Certificate {
    /// From a FROST(secp256k1, Keccak-256) certificate. Checks the formats only (epochs agree, the index range
    /// is not empty, the key is usable on Ethereum, the signature decodes): whether it verifies is the
    /// contract's (or `Certificate::verify`'s) business.
    pub fn from_certificate(certificate: &Certificate) -> Result<Self, BridgeError> {
        if certificate.key_epoch != certificate.message.key_epoch {
            return Err(BridgeError::EpochMismatch {
                certificate: certificate.key_epoch,
                message: certificate.message.key_epoch,
            });
        }
        certificate.message.check()?;
        let key = EvmKey::from_compressed(&certificate.group_key).ok_or(BridgeError::UnusableKey)?;
        let sig = EvmSignature::from_frost(&certificate.signature).map_err(BridgeError::Signature)?;
        Ok(abi::Certificate { batch: batch(&certificate.message), key: group_key(&key), signature: signature(&sig) })
    }

    /// `NexusVerifier.verifyCertificate(certificate)`.
    pub fn verify_certificate_call(&self) -> Vec<u8> {
        abi::NexusVerifier::verifyCertificateCall { certificate: self.clone() }.abi_encode()
    }
}

/// A receipt with its path and certificate, in calldata form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptCalldata {
    pub certificate: CertificateCalldata,
    pub log_index: u64,
    pub receipt: Bytes,
    pub path: abi::MerklePath,
}

impl ReceiptCalldata {
    /// From a receipt proof whose certificate is of the FROST(secp256k1, Keccak-256) suite.
    pub fn from_proof(proof: &ReceiptProof) -> Result<Self, BridgeError> {
        Ok(ReceiptCalldata {
            certificate: CertificateCalldata::from_certificate(&proof.certificate)?,
            log_index: proof.log_index,
            receipt: Bytes::copy_from_slice(&proof.receipt),
            path: merkle_path(&proof.path),
        })
    }

    /// `NexusVerifier.verifyReceipt(certificate, logIndex, receipt, path)`.
    pub fn verify_receipt_call(&self) -> Vec<u8> {
        abi::NexusVerifier::verifyReceiptCall {
            certificate: self.certificate.clone(),
            logIndex: self.log_index,
            receipt: self.receipt.clone(),
            path: self.path.clone(),
        }
        .abi_encode()
    }

    /// `NexusConsumer.fulfill(requestId, certificate, logIndex, receipt, path)`.
    pub fn fulfill_call(&self, request_id: U256) -> Vec<u8> {
        abi::NexusConsumer::fulfillCall {
            requestId: request_id,
            certificate: self.certificate.clone(),
            logIndex: self.log_index,
            receipt: self.receipt.clone(),
            path: self.path.clone(),
        }
        .abi_encode()
    }
}

/// The creation transaction's data for a `NexusVerifier` of `cluster_id` trusting `group_key` (compressed,
/// FROST(secp256k1, Keccak-256)) at `key_epoch`.
pub fn verifier_deployment(cluster_id: [u8; 32], group_key: &[u8], key_epoch: u64) -> Result<Vec<u8>, BridgeError> {
    let (x, y) = key_coordinates(group_key)?;
    let mut code = artifacts::NEXUS_VERIFIER.creation_code()?;
    code.extend(
        abi::NexusVerifier::constructorCall { cluster: B256::from(cluster_id), x, y, epoch: key_epoch }.abi_encode(),
    );
    Ok(code)
}

/// The creation transaction's data for a `NexusConsumer` of the Nexus app `app` whose cluster's verifier is at
/// `verifier`.
pub fn consumer_deployment(verifier: Address, app: [u8; 32]) -> Result<Vec<u8>, BridgeError> {
    let mut code = artifacts::NEXUS_CONSUMER.creation_code()?;
    code.extend(abi::NexusConsumer::constructorCall { verifier_: verifier, app_: B256::from(app) }.abi_encode());
    Ok(code)
}
