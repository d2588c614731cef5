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

    /// Reverts unless `receipt`, the receipt of log entry `logIndex`, is leaf `path.leafIndex` of a tree of
    /// `path.leafCount` leaves with root `root`, in a batch covering log indexes `firstIndex..=lastIndex` (which
    /// holds at most one receipt per log entry).
    function verify(
        bytes32 root,
        uint64 firstIndex,
        uint64 lastIndex,
        uint256 logIndex,
        bytes calldata receipt,
        MerklePath calldata path
    ) internal view {
        if (logIndex < firstIndex || logIndex > lastIndex) revert IndexNotInRange(logIndex, firstIndex, lastIndex);
        uint256 count = path.leafCount;
        if (count > MAX_LEAVES || count > uint256(lastIndex) - firstIndex + 1) revert TooManyLeaves(count);
        uint256 index = path.leafIndex;
        if (index >= count) revert LeafIndexOutOfRange(index, count);
        bytes32[] calldata siblings = path.siblings;
        (bytes32 computed, bool lengthOk) = _root(logIndex, receipt, index, count, siblings);
        if (!lengthOk) revert WrongPathLength(siblings.length, expectedSiblings(index, count));
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
            // The SHA-256 precompile fails only when out of gas.
            if iszero(staticcall(gas(), 0x02, m, add(28, receipt.length), 0x00, 0x20)) { revert(0, 0) }
            mstore(m, LEAF_TAG)
            mstore(add(m, 24), mload(0x00))
            if iszero(staticcall(gas(), 0x02, m, 56, 0x00, 0x20)) { revert(0, 0) }
            let node := mload(0x00)

            mstore(m, NODE_TAG)
            let pos := index
            let width := count
            let used := 0
            let available := siblings.length
            lengthOk := 1
            for {} gt(width, 1) {} {
                if lt(xor(pos, 1), width) {
                    if eq(used, available) {
                        lengthOk := 0
                        break
                    }
                    let sibling := calldataload(add(siblings.offset, shl(5, used)))
                    used := add(used, 1)
                    switch and(pos, 1)
                    case 0 {
                        mstore(add(m, 24), node)
                        mstore(add(m, 56), sibling)
                    }
                    default {
                        mstore(add(m, 24), sibling)
                        mstore(add(m, 56), node)
                    }
                    if iszero(staticcall(gas(), 0x02, m, 88, 0x00, 0x20)) { revert(0, 0) }
                    node := mload(0x00)
                }
                pos := shr(1, pos)
                width := shr(1, add(width, 1))
            }
            if iszero(eq(used, available)) { lengthOk := 0 }

            mstore(m, ROOT_TAG)
            mstore(add(m, 24), shl(192, count))
            mstore(add(m, 32), node)
            if iszero(staticcall(gas(), 0x02, m, 64, 0x00, 0x20)) { revert(0, 0) }
            computed := mload(0x00)
        }
    }
}
