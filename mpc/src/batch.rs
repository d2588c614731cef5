//! The batch message a replica certifies and the Merkle tree over the batch's receipts.

use serde::{Deserialize, Serialize};

use crate::sha256;

/// Domain tag of an encoded [`BatchMessage`]: a signature over it can never be taken for one over anything
/// else a Nexus key signs.
pub const BATCH_MESSAGE_DOMAIN: &[u8; 24] = b"nexus/mpc/batch-msg/v2\0\0";
/// Length of an encoded [`BatchMessage`].
pub const BATCH_MESSAGE_LEN: usize = BATCH_MESSAGE_DOMAIN.len() + 32 + 8 + 8 + 8 + 8 + 32 + 32;

const RECEIPT_TAG: &[u8] = b"nexus/mpc/receipt/v1";
const LEAF_TAG: &[u8] = b"nexus/mpc/merkle-leaf/v1";
const NODE_TAG: &[u8] = b"nexus/mpc/merkle-node/v1";
const ROOT_TAG: &[u8] = b"nexus/mpc/merkle-root/v1";

/// Most receipts one batch may hold (bounds a path's length and what a verifier accepts).
pub const MAX_BATCH_RECEIPTS: u64 = 1 << 32;

/// What a replica signs for one applied batch, built from its own execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMessage {
    /// The cluster this batch was applied in.
    pub cluster_id: [u8; 32],
    /// The Ethereum chain a certificate of this message is for (its EIP-155 chain id), so that a contract
    /// accepts only certificates made for its chain; 0 for a certificate meant for no chain (the Ed25519
    /// certificates clients check offline). Replicas seal with 0 and certify for a chain by setting it.
    pub chain_id: u64,
    /// Epoch of the group key that signs it.
    pub key_epoch: u64,
    /// First log index of the batch (inclusive).
    pub first_index: u64,
    /// Last log index of the batch (inclusive).
    pub last_index: u64,
    /// [`MerkleTree::root`] over the batch's receipt digests.
    pub receipts_root: [u8; 32],
    /// The state root after the batch.
    pub state_root: [u8; 32],
}

/// Why bytes are not an encoded [`BatchMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("batch message is {got} bytes, expected {BATCH_MESSAGE_LEN}")]
    Length { got: usize },
    #[error("batch message has the wrong domain tag")]
    Domain,
    #[error("batch message index range is empty: first {first} > last {last}")]
    EmptyRange { first: u64, last: u64 },
}

impl BatchMessage {
    /// The canonical encoding: domain tag, cluster id, chain id, key epoch, first and last index (big-endian
    /// u64), receipts root, state root. Fixed length, so no field can spill into another; it is also what
    /// Solidity's `abi.encodePacked` gives for (bytes24, bytes32, uint64, uint64, uint64, uint64, bytes32,
    /// bytes32), so a contract rebuilds it without parsing.
    pub fn encode(&self) -> [u8; BATCH_MESSAGE_LEN] {
        let mut out = [0u8; BATCH_MESSAGE_LEN];
        let mut w = Writer { buf: &mut out, at: 0 };
        w.put(BATCH_MESSAGE_DOMAIN);
        w.put(&self.cluster_id);
        w.put(&self.chain_id.to_be_bytes());
        w.put(&self.key_epoch.to_be_bytes());
        w.put(&self.first_index.to_be_bytes());
        w.put(&self.last_index.to_be_bytes());
        w.put(&self.receipts_root);
        w.put(&self.state_root);
        debug_assert_eq!(w.at, BATCH_MESSAGE_LEN);
        out
    }

    /// Decodes [`BatchMessage::encode`]'s output; anything else is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, BatchError> {
        let bytes: &[u8; BATCH_MESSAGE_LEN] = bytes.try_into().map_err(|_| BatchError::Length { got: bytes.len() })?;
        let (domain, rest) = bytes.split_at(BATCH_MESSAGE_DOMAIN.len());
        if domain != BATCH_MESSAGE_DOMAIN {
            return Err(BatchError::Domain);
        }
        let mut r = Reader { buf: rest };
        let m = BatchMessage {
            cluster_id: r.take(),
            chain_id: u64::from_be_bytes(r.take()),
            key_epoch: u64::from_be_bytes(r.take()),
            first_index: u64::from_be_bytes(r.take()),
            last_index: u64::from_be_bytes(r.take()),
            receipts_root: r.take(),
            state_root: r.take(),
        };
        m.check()?;
        Ok(m)
    }

    /// Checks the index range is not empty.
    pub fn check(&self) -> Result<(), BatchError> {
        if self.first_index > self.last_index {
            return Err(BatchError::EmptyRange { first: self.first_index, last: self.last_index });
        }
        Ok(())
    }

    /// Whether `index` is in the batch's log index range.
    pub fn contains_index(&self, index: u64) -> bool {
        (self.first_index..=self.last_index).contains(&index)
    }

    /// The name of the first field in which `self` and `other` differ, if any.
    pub fn first_difference(&self, other: &BatchMessage) -> Option<&'static str> {
        if self.cluster_id != other.cluster_id {
            Some("cluster_id")
        } else if self.chain_id != other.chain_id {
            Some("chain_id")
        } else if self.key_epoch != other.key_epoch {
            Some("key_epoch")
        } else if self.first_index != other.first_index {
            Some("first_index")
        } else if self.last_index != other.last_index {
            Some("last_index")
        } else if self.receipts_root != other.receipts_root {
            Some("receipts_root")
        } else if self.state_root != other.state_root {
            Some("state_root")
        } else {
            None
        }
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

/// Reads fixed-size fields from a buffer whose length was checked beforehand.
struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.buf.split_at(N);
        self.buf = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        out
    }
}

/// The digest of one receipt, the leaf value of the batch tree: SHA-256 over a domain tag, the receipt's
/// log index (big-endian u64) and the receipt's canonical bytes. Committing to the index means a receipt
/// cannot be presented as the result of another log entry.
pub fn receipt_digest(log_index: u64, receipt: &[u8]) -> [u8; 32] {
    sha256(&[RECEIPT_TAG, &log_index.to_be_bytes(), receipt])
}

fn leaf_hash(digest: &[u8; 32]) -> [u8; 32] {
    sha256(&[LEAF_TAG, digest])
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[NODE_TAG, left, right])
}

fn root_hash(leaf_count: u64, top: &[u8; 32]) -> [u8; 32] {
    sha256(&[ROOT_TAG, &leaf_count.to_be_bytes(), top])
}

/// A binary Merkle tree over receipt digests.
///
/// Leaves are `H(LEAF_TAG ‖ digest)`, inner nodes `H(NODE_TAG ‖ left ‖ right)`; at every level an odd last
/// node is promoted to the next level unchanged; the root is `H(ROOT_TAG ‖ leaf count ‖ top)` (the top of an
/// empty tree is 32 zero bytes). See the crate documentation for why this has no second-preimage ambiguity.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    /// `levels[0]` are the leaf hashes, the last level has one node (none for an empty tree).
    levels: Vec<Vec<[u8; 32]>>,
}

/// The sibling hashes from a leaf to the top, and the tree's shape (`leaf_count`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerklePath {
    /// Position of the leaf in the batch (0-based).
    pub leaf_index: u64,
    /// Number of leaves in the tree.
    pub leaf_count: u64,
    /// Sibling hashes, bottom up, skipping the levels where the node was promoted.
    pub siblings: Vec<[u8; 32]>,
}

/// Why a Merkle path does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is not below the leaf count {count}")]
    IndexOutOfRange { index: u64, count: u64 },
    #[error("leaf count {0} exceeds the limit")]
    TooManyLeaves(u64),
    #[error("path has {got} siblings, a tree of {count} leaves needs {expected} for leaf {index}")]
    WrongLength { index: u64, count: u64, got: usize, expected: usize },
    #[error("the leaf and path do not lead to the expected root")]
    RootMismatch,
}

impl MerkleTree {
    /// Builds the tree over `digests` (in batch order).
    pub fn new(digests: &[[u8; 32]]) -> Self {
        let mut levels = vec![digests.iter().map(leaf_hash).collect::<Vec<_>>()];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let prev = levels.last().map(Vec::as_slice).unwrap_or_default();
            let next = prev
                .chunks(2)
                .map(|pair| match pair {
                    [l, r] => node_hash(l, r),
                    // The odd last node is promoted unchanged (chunks are never empty).
                    [single, ..] => *single,
                    [] => [0u8; 32],
                })
                .collect();
            levels.push(next);
        }
        MerkleTree { levels }
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The root, committing to the leaf count.
    pub fn root(&self) -> [u8; 32] {
        let top = self.levels.last().and_then(|l| l.first()).copied().unwrap_or([0u8; 32]);
        root_hash(self.len(), &top)
    }

    /// The path of leaf `i`, or `None` if there is no such leaf.
    pub fn path(&self, i: u64) -> Option<MerklePath> {
        if i >= self.len() {
            return None;
        }
        let mut siblings = Vec::new();
        let mut pos = i as usize;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = pos ^ 1;
            if let Some(s) = level.get(sibling) {
                siblings.push(*s);
            }
            pos /= 2;
        }
        Some(MerklePath { leaf_index: i, leaf_count: self.len(), siblings })
    }
}

/// Verifies that `digest` is leaf `path.leaf_index` of a tree of `path.leaf_count` leaves with root `root`.
pub fn verify_path(root: &[u8; 32], digest: &[u8; 32], path: &MerklePath) -> Result<(), MerkleError> {
    let (index, count) = (path.leaf_index, path.leaf_count);
    if count > MAX_BATCH_RECEIPTS {
        return Err(MerkleError::TooManyLeaves(count));
    }
    if index >= count {
        return Err(MerkleError::IndexOutOfRange { index, count });
    }
    // Walk up the levels: at each, the node at `pos` of a level of `width` nodes has a sibling unless it is
    // the promoted last node of an odd level.
    let expected = {
        let (mut pos, mut width, mut n) = (index, count, 0usize);
        while width > 1 {
            if pos ^ 1 < width {
                n += 1;
            }
            pos /= 2;
            width = width.div_ceil(2);
        }
        n
    };
    if path.siblings.len() != expected {
        return Err(MerkleError::WrongLength { index, count, got: path.siblings.len(), expected });
    }
    let mut node = leaf_hash(digest);
    let (mut pos, mut width) = (index, count);
    let mut siblings = path.siblings.iter();
    while width > 1 {
        if pos ^ 1 < width {
            let Some(s) = siblings.next() else { return Err(MerkleError::RootMismatch) };
            node = if pos % 2 == 0 { node_hash(&node, s) } else { node_hash(s, &node) };
        }
        pos /= 2;
        width = width.div_ceil(2);
    }
    if root_hash(count, &node) != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(n: u64) -> Vec<[u8; 32]> {
        (0..n).map(|i| receipt_digest(100 + i, &i.to_le_bytes())).collect()
    }

    #[test]
    fn every_path_verifies_for_sizes_0_to_33() {
        for n in 0..=33u64 {
            let d = digests(n);
            let tree = MerkleTree::new(&d);
            assert_eq!(tree.len(), n);
            assert!(tree.path(n).is_none());
            for (i, leaf) in d.iter().enumerate() {
                let path = tree.path(i as u64).expect("leaf exists");
                verify_path(&tree.root(), leaf, &path).expect("valid path");
                // The same leaf at another position, or claimed in a tree of another size, fails.
                if n > 1 {
                    let mut moved = path.clone();
                    moved.leaf_index = (moved.leaf_index + 1) % n;
                    assert!(verify_path(&tree.root(), leaf, &moved).is_err());
                }
                let mut bigger = path.clone();
                bigger.leaf_count += 1;
                assert!(verify_path(&tree.root(), leaf, &bigger).is_err());
            }
        }
    }

    #[test]
    fn odd_node_promotion_is_not_duplication() {
        // [a,b,c] and [a,b,c,c] must have different roots (the CVE-2012-2459 ambiguity).
        let d = digests(3);
        let mut dup = d.clone();
        dup.push(d[2]);
        assert_ne!(MerkleTree::new(&d).root(), MerkleTree::new(&dup).root());
        // A leaf never equals an inner node: a two-leaf tree's top cannot be claimed as a leaf of another.
        let two = MerkleTree::new(&d[..2]);
        assert_ne!(two.root(), MerkleTree::new(&[]).root());
    }

    #[test]
    fn batch_message_round_trips_and_refuses_garbage() {
        let m = BatchMessage {
            cluster_id: [7; 32],
            chain_id: 31_337,
            key_epoch: 3,
            first_index: 10,
            last_index: 12,
            receipts_root: [1; 32],
            state_root: [2; 32],
        };
        let bytes = m.encode();
        assert_eq!(BatchMessage::decode(&bytes), Ok(m));
        assert_eq!(BatchMessage::decode(&bytes[1..]), Err(BatchError::Length { got: BATCH_MESSAGE_LEN - 1 }));
        let mut bad = bytes;
        bad[0] ^= 1;
        assert_eq!(BatchMessage::decode(&bad), Err(BatchError::Domain));
        let empty = BatchMessage { first_index: 13, ..m };
        assert!(matches!(BatchMessage::decode(&empty.encode()), Err(BatchError::EmptyRange { .. })));
        assert_eq!(m.first_difference(&BatchMessage { state_root: [9; 32], ..m }), Some("state_root"));
    }
}
