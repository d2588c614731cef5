// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {MerklePath} from "./NexusTypes.sol";

/// @title A receipt's Merkle path to its batch's receipts root.
/// @notice Mirrors `nexus-mpc`'s `batch.rs` exactly (SHA-256 precompile; the tags are ASCII without terminator):
/// - receipt digest = sha256("nexus/mpc/receipt/v1" ‖ uint64be logIndex ‖ receipt bytes): a receipt cannot be
///   presented as the result of another log entry;
/// - leaf = sha256("nexus/mpc/merkle-leaf/v1" ‖ digest), node = sha256("nexus/mpc/merkle-node/v1" ‖ left ‖ right):
///   distinct tags, so a leaf is never taken for an inner node;
/// - an odd last node of a level is promoted unchanged (not duplicated: no CVE-2012-2459 ambiguity), so the path
///   has no sibling at that level;
/// - root = sha256("nexus/mpc/merkle-root/v1" ‖ uint64be leafCount ‖ top): with the count in the root, (index,
///   count) fix the path's shape, and the number of siblings must be exactly what they imply.
library ReceiptMerkle {
    /// Most receipts one batch may hold (`MAX_BATCH_RECEIPTS`): at most 32 levels.
    uint256 internal constant MAX_LEAVES = 1 << 32;

    // The tags, left-aligned in a word (20 and 24 bytes).
    uint256 private constant RECEIPT_TAG = 0x6e657875732f6d70632f726563656970742f7631000000000000000000000000;
    uint256 private constant LEAF_TAG = 0x6e657875732f6d70632f6d65726b6c652d6c6561662f76310000000000000000;
    uint256 private constant NODE_TAG = 0x6e657875732f6d70632f6d65726b6c652d6e6f64652f76310000000000000000;
    uint256 private constant ROOT_TAG = 0x6e657875732f6d70632f6d65726b6c652d726f6f742f76310000000000000000;

    error IndexNotInRange(uint256 logIndex, uint64 firstIndex, uint64 lastIndex);
    error TooManyLeaves(uint256 leafCount);
    error LeafIndexOutOfRange(uint256 leafIndex, uint256 leafCount);
    error WrongPathLength(uint256 got, uint256 expected);
    error RootMismatch();

    /// Reverts unless `receipt`, the receipt of log entry `logIndex`, is leaf `leafIndex` of a tree of
    /// `leafCount` leaves with root `root` (path: `siblings`), in a batch covering log indexes
    /// `firstIndex..=lastIndex` (at most 2⁶⁴ − 1; a batch holds at most one receipt per log entry).
    function verify(
        bytes32 root,
        uint256 firstIndex,
        uint256 lastIndex,
        uint256 logIndex,
        bytes calldata receipt,
        uint256 leafIndex,
        uint256 leafCount,
        bytes32[] calldata siblings
    ) internal view {
        if (logIndex < firstIndex || logIndex > lastIndex) {
            revert IndexNotInRange(logIndex, uint64(firstIndex), uint64(lastIndex));
        }
        if (leafCount > MAX_LEAVES || leafCount > lastIndex - firstIndex + 1) revert TooManyLeaves(leafCount);
        if (leafIndex >= leafCount) revert LeafIndexOutOfRange(leafIndex, leafCount);
        (bytes32 computed, bool lengthOk) = _root(logIndex, receipt, leafIndex, leafCount, siblings);
        if (!lengthOk) revert WrongPathLength(siblings.length, expectedSiblings(leafIndex, leafCount));
        if (computed != root) revert RootMismatch();
    }

    /// The number of siblings on the path of leaf `index` in a tree of `count` leaves: one per level where the
    /// node is not the promoted last node of an odd level.
    function expectedSiblings(uint256 index, uint256 count) internal pure returns (uint256 n) {
        (uint256 pos, uint256 width) = (index, count);
        while (width > 1) {
            if (pos ^ 1 < width) n++;
            pos >>= 1;
            width = (width + 1) >> 1;
        }
    }

    /// The root the receipt and path lead to, and whether the path had exactly the siblings its shape needs.
    /// Assembly: one SHA-256 precompile call per level on a reused buffer (tag ‖ left ‖ right), instead of
    /// `abi.encodePacked`, which would allocate fresh memory at every level.
    function _root(uint256 logIndex, bytes calldata receipt, uint256 index, uint256 count, bytes32[] calldata siblings)
        private
        view
        returns (bytes32 computed, bool lengthOk)
    {
        assembly ("memory-safe") {
            // Temporary memory past the free memory pointer; nothing is allocated.
            let m := mload(0x40)
            mstore(m, RECEIPT_TAG)
            mstore(add(m, 20), shl(192, logIndex))
            calldatacopy(add(m, 28), receipt.offset, receipt.length)
            // The SHA-256 precompile fails only when out of gas; every call's success is kept in `ok`.
            let ok := staticcall(gas(), 0x02, m, add(28, receipt.length), 0x00, 0x20)
            mstore(m, LEAF_TAG)
            mstore(add(m, 24), mload(0x00))
            ok := and(ok, staticcall(gas(), 0x02, m, 56, 0x00, 0x20))
            let node := mload(0x00)

            // Each level: NODE_TAG ‖ left ‖ right at m, the node on the left when its position is even. Siblings
            // are read without a bound check per level: reading past the array reads other calldata (or zeros),
            // and the count is checked once at the end, which refuses such a path all the same.
            mstore(m, NODE_TAG)
            let left := add(m, 24)
            let right := add(m, 56)
            let next := siblings.offset
            let pos := index
            let width := count
            for {} gt(width, 1) {} {
                if lt(xor(pos, 1), width) {
                    let odd := shl(5, and(pos, 1))
                    mstore(add(left, odd), node)
                    mstore(sub(right, odd), calldataload(next))
                    next := add(next, 0x20)
                    ok := and(ok, staticcall(gas(), 0x02, m, 88, 0x00, 0x20))
                    node := mload(0x00)
                }
                pos := shr(1, pos)
                width := shr(1, add(width, 1))
            }
            lengthOk := eq(next, add(siblings.offset, shl(5, siblings.length)))

            mstore(m, ROOT_TAG)
            mstore(add(m, 24), shl(192, count))
            mstore(add(m, 32), node)
            ok := and(ok, staticcall(gas(), 0x02, m, 64, 0x00, 0x20))
            if iszero(ok) { revert(0, 0) }
            computed := mload(0x00)
        }
    }
}
