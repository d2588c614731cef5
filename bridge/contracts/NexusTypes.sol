// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @notice The certified batch message, field by field: `nexus-mpc`'s `BatchMessage`. The signed bytes are
/// abi.encodePacked(bytes24 "nexus/mpc/batch-msg/v2\0\0", clusterId, chainId, keyEpoch, firstIndex, lastIndex,
/// receiptsRoot, stateRoot) (152 bytes), which the verifier rebuilds from these fields: nothing to parse.
/// All fields are static, so the struct is encoded in place in calldata (no offset word).
struct Batch {
    bytes32 clusterId;
    uint64 chainId;
    uint64 keyEpoch;
    uint64 firstIndex;
    uint64 lastIndex;
    bytes32 receiptsRoot;
    bytes32 stateRoot;
}

/// @notice The group key in force: its x-coordinate and the parity of its y-coordinate (`nexus-mpc`'s `EvmKey`).
/// It travels in calldata; the verifier keeps only a hash of it (one storage slot read per certificate).
struct GroupKey {
    uint256 x;
    uint8 yParity;
}

/// @notice A FROST signature with R uncompressed (`nexus-mpc`'s `EvmSignature`).
struct Signature {
    uint256 rx;
    uint256 ry;
    uint256 z;
}

/// @notice A certificate: the batch message, the key that signed it and the signature. All static: ABI encoding
/// puts it in place, so as a function's first argument it sits at fixed calldata offsets.
struct Certificate {
    Batch batch;
    GroupKey key;
    Signature signature;
}

/// @notice A receipt's path to its batch's receipts root (`nexus-mpc`'s `MerklePath`): siblings bottom up,
/// none at the levels where the node is the promoted last node of an odd level.
struct MerklePath {
    uint64 leafIndex;
    uint64 leafCount;
    bytes32[] siblings;
}
