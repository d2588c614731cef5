// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Certificate, GroupKey, Signature, MerklePath} from "./NexusTypes.sol";
import {
    FrostSecp256k1,
    SECP256K1_N,
    SECP256K1_P,
    FROST_CHALLENGE_TRAILER_HI,
    FROST_CHALLENGE_TRAILER_LO
} from "./FrostSecp256k1.sol";
import {ReceiptMerkle} from "./ReceiptMerkle.sol";

/// @title Checks Nexus certificates and the receipts they cover, for one cluster.
/// @notice A certificate is a FROST(secp256k1, Keccak-256) signature by the cluster's group key over a batch
/// message. The contract accepts it only for its own cluster, for the chain it runs on (block.chainid) and for the
/// key epoch in force, so a certificate made for another cluster, chain or retired key is refused even though its
/// signature is valid. A receipt is accepted with a certificate and its Merkle path to the certified receipts
/// root. The key changes only by a rotation that the key in force signs. Anyone may call every function: what
/// is accepted depends on signatures alone.
contract NexusVerifier {
    /// Domain tag of a rotation message: a signature over one can never be taken for a certificate.
    bytes24 private constant ROTATE_DOMAIN = "nexus/bridge/rotate/v1\x00\x00";
    /// Bytes of a batch message: 24 + 32 + 4 × 8 + 32 + 32.
    uint256 private constant BATCH_MESSAGE_BYTES = 152;

    /// The cluster whose certificates this contract accepts.
    bytes32 public immutable clusterId;

    /// keccak256(abi.encode(key x, key y parity, key epoch)) of the key in force: the only slot a certificate
    /// check reads (one cold SLOAD, 2,100 gas, instead of one per field); the key itself comes in calldata.
    bytes32 private keyCommitment;
    /// The key in force, for readers (`groupKey`); never read by a check.
    uint256 private keyX;
    uint64 private keyEpoch;
    uint8 private keyParity;

    event KeyRotated(uint64 indexed oldEpoch, uint64 indexed newEpoch, uint256 keyX, uint8 keyParity);

    error WrongCluster(bytes32 got);
    error WrongChain(uint256 got, uint256 expected);
    error MalformedBatch();
    error WrongKeyEpoch(uint256 got, uint256 current);
    error UnknownKey();
    error BadSignature();
    error UnusableKey();
    error EpochNotIncreasing(uint256 current, uint256 proposed);

    /// @param cluster the cluster id.
    /// @param x the first group key's x-coordinate, y its y-coordinate (passed in full so that the contract checks
    /// the point is on the curve without a square root); epoch its key epoch.
    constructor(bytes32 cluster, uint256 x, uint256 y, uint64 epoch) {
        // Batch messages carry the chain id as a uint64: a chain whose id does not fit could never be certified.
        if (block.chainid > type(uint64).max) revert WrongChain(block.chainid, type(uint64).max);
        if (!FrostSecp256k1.isUsableKey(x, y)) revert UnusableKey();
        clusterId = cluster;
        _setKey(x, uint8(y & 1), epoch);
    }

    /// The key in force: x, parity of y, epoch.
    function groupKey() external view returns (uint256 x, uint8 yParity, uint64 epoch) {
        return (keyX, keyParity, keyEpoch);
    }

    /// Reverts unless the certificate (a signature by `key` over `batch`) certifies its batch for this cluster,
    /// this chain and the key in force.
    function verifyCertificate(Certificate calldata) external view {
        _checkCertificate();
    }

    /// Reverts unless `receipt` (its canonical bytes), the receipt of log entry `logIndex`, is in the batch that
    /// `certificate` certifies, at `path`.
    function verifyReceipt(
        Certificate calldata,
        uint64 logIndex,
        bytes calldata receipt,
        MerklePath calldata path
    ) external view {
        _checkCertificate();
        // The batch fields from their fixed places (the certificate check validated them).
        bytes32 root;
        uint256 first;
        uint256 last;
        assembly {
            root := calldataload(CD_ROOTS)
            first := calldataload(CD_FIRST)
            last := calldataload(CD_LAST)
        }
        ReceiptMerkle.verify(root, first, last, logIndex, receipt, path.leafIndex, path.leafCount, path.siblings);
    }

    /// Replaces the key in force with (`newX`, `newY`) at `newEpoch`, on a signature by the key in force
    /// (`current`) over abi.encodePacked(bytes24 "nexus/bridge/rotate/v1\0\0", clusterId, uint64 chainId,
    /// uint64 oldEpoch, uint64 newEpoch, bytes32 newX, uint8 parity(newY)). From then on, certificates of the old
    /// epoch are refused. The new key's y is not signed: x and the parity determine it, and the contract checks
    /// that (newX, newY) is on the curve.
    function rotateKey(GroupKey calldata current, Signature calldata signature, uint64 newEpoch, uint256 newX, uint256 newY)
        external
    {
        uint64 oldEpoch = keyEpoch;
        if (keccak256(abi.encode(current.x, current.yParity, oldEpoch)) != keyCommitment) revert UnknownKey();
        if (newEpoch <= oldEpoch) revert EpochNotIncreasing(oldEpoch, newEpoch);
        if (!FrostSecp256k1.isUsableKey(newX, newY)) revert UnusableKey();
        uint8 newParity = uint8(newY & 1);
        bytes memory message =
            abi.encodePacked(ROTATE_DOMAIN, clusterId, uint64(block.chainid), oldEpoch, newEpoch, newX, newParity);
        if (!FrostSecp256k1.verify(message, current.x, current.yParity, signature.rx, signature.ry, signature.z)) {
            revert BadSignature();
        }
        emit KeyRotated(oldEpoch, newEpoch, newX, newParity);
        _setKey(newX, newParity, newEpoch);
    }

    function _setKey(uint256 x, uint8 parity, uint64 epoch) private {
        keyCommitment = keccak256(abi.encode(x, parity, epoch));
        keyX = x;
        keyEpoch = epoch;
        keyParity = parity;
    }

    // Where a certificate is in the calldata of every function that checks one: it is always the first argument
    // and all static, so ABI encoding puts it in place at fixed offsets.
    uint256 private constant CD_CLUSTER = 0x04;
    uint256 private constant CD_CHAIN = 0x24;
    uint256 private constant CD_EPOCH = 0x44;
    uint256 private constant CD_FIRST = 0x64;
    uint256 private constant CD_LAST = 0x84;
    uint256 private constant CD_ROOTS = 0xa4; // receiptsRoot, stateRoot
    uint256 private constant CD_KEY = 0xe4; // x, yParity
    uint256 private constant CD_RX = 0x124;
    uint256 private constant CD_RY = 0x144;
    uint256 private constant CD_Z = 0x164;

    // The challenge buffer is fresh memory at 0x80 (the certificate check is the first thing an external call
    // does, before anything is allocated), so its 136 bytes of zero padding are already there and every
    // address is a constant. The batch message goes at 0x80 + 202.
    uint256 private constant BUFFER = 0x80;
    uint256 private constant MESSAGE = 0x80 + 202;
    /// The batch domain tag as a number (right-aligned), for a word write that ends where the tag ends.
    uint256 private constant BATCH_DOMAIN_RIGHT = 0x6e657875732f6d70632f62617463682d6d73672f76320000;

    /// The certificate check. The success path is straight-line assembly with one storage read (the key
    /// commitment) and one branch at the end; which check failed is worked out only on failure (`_refuse`).
    /// The signature check is `FrostSecp256k1.verifyInBuffer` (see there for the why of each step) written out
    /// with constant addresses, which saves a few hundred gas; rotations go through the library itself, and the
    /// tests check both against the same signatures.
    function _checkCertificate() private view {
        bytes32 cluster = clusterId;
        bytes32 commitment = keyCommitment;
        bool ok;
        assembly {
            let chain := calldataload(CD_CHAIN)
            let epoch := calldataload(CD_EPOCH)
            let first := calldataload(CD_FIRST)
            let last := calldataload(CD_LAST)
            let x := calldataload(CD_KEY)
            let parity := calldataload(add(CD_KEY, 0x20))
            // keccak256(key x word, key parity word, epoch word) must be the commitment of the key in force: in
            // scratch space and the free memory pointer's slot, restored right after (nothing is allocated yet).
            mstore(0x00, x)
            mstore(0x20, parity)
            mstore(0x40, epoch)
            ok := eq(keccak256(0x00, 0x60), commitment)
            mstore(0x40, 0x80)
            ok := and(
                and(ok, and(eq(calldataload(CD_CLUSTER), cluster), eq(chain, chainid()))),
                iszero(or(shr(64, or(first, last)), gt(first, last)))
            )

            // The b0 preimage of the challenge at BUFFER: 136 zero bytes (fresh memory), R_enc, PK_enc, the batch
            // message, the trailer. Written right to left: a word write of a uint64 at (end - 32) puts it in its
            // 8 bytes and zeroes the 24 before them, which the next field then covers. (A field with bits above
            // 64 failed the check above.)
            mstore(add(MESSAGE, 184), FROST_CHALLENGE_TRAILER_LO)
            mstore(add(MESSAGE, 152), FROST_CHALLENGE_TRAILER_HI)
            calldatacopy(add(MESSAGE, 88), CD_ROOTS, 0x40)
            mstore(add(MESSAGE, 56), last)
            mstore(add(MESSAGE, 48), first)
            mstore(add(MESSAGE, 40), epoch)
            mstore(add(MESSAGE, 32), chain)
            mstore(add(MESSAGE, 24), cluster)
            // The tag ends at MESSAGE + 24; the write also zeroes the 8 bytes before MESSAGE, which PK's x covers.
            mstore(sub(MESSAGE, 8), BATCH_DOMAIN_RIGHT)
            mstore(add(BUFFER, 170), x)
            mstore8(add(BUFFER, 169), add(2, parity))
            let rx := calldataload(CD_RX)
            let ry := calldataload(CD_RY)
            mstore(add(BUFFER, 137), rx)
            mstore8(add(BUFFER, 136), add(2, and(ry, 1)))
            let b0 := keccak256(BUFFER, 390) // 202 + 152 + 36
            // b1, b2: H(b ‖ i ‖ DST ‖ 0x20) with the DST and its length already in place in the trailer.
            let blocks := add(MESSAGE, 122) // trailer - 30
            mstore(blocks, b0)
            mstore8(add(MESSAGE, 154), 1)
            let b1 := keccak256(blocks, 66)
            mstore(blocks, xor(b0, b1))
            mstore8(add(MESSAGE, 154), 2)
            let c := addmod(mulmod(b1, 0x100000000000000000000000000000000, SECP256K1_N), shr(128, keccak256(blocks, 66)), SECP256K1_N)

            let z := calldataload(CD_Z)
            ok := and(ok, and(and(lt(z, SECP256K1_N), iszero(iszero(z))), iszero(iszero(c))))
            ok := and(
                ok,
                and(
                    and(lt(rx, SECP256K1_P), lt(ry, SECP256K1_P)),
                    eq(
                        mulmod(ry, ry, SECP256K1_P),
                        addmod(mulmod(rx, mulmod(rx, rx, SECP256K1_P), SECP256K1_P), 7, SECP256K1_P)
                    )
                )
            )
            mstore(0x00, rx)
            mstore(0x20, ry)
            let rAddress := and(keccak256(0x00, 0x40), 0xffffffffffffffffffffffffffffffffffffffff)
            // ecrecover(n − z·x, 27 + parity, x, n − c·x) = address(z·G − c·PK), which must be address(R).
            mstore(BUFFER, sub(SECP256K1_N, mulmod(z, x, SECP256K1_N)))
            mstore(add(BUFFER, 0x20), add(27, parity))
            mstore(add(BUFFER, 0x40), x)
            mstore(add(BUFFER, 0x60), sub(SECP256K1_N, mulmod(c, x, SECP256K1_N)))
            mstore(0x00, 0)
            ok := and(ok, staticcall(gas(), 0x01, BUFFER, 0x80, 0x00, 0x20))
            ok := and(ok, and(eq(returndatasize(), 0x20), eq(mload(0x00), rAddress)))
        }
        if (!ok) _refuse();
    }

    /// Reverts with the reason a certificate was refused (off the success path, so it costs nothing there).
    function _refuse() private view {
        bytes32 cluster;
        uint256 chain;
        uint256 epoch;
        uint256 first;
        uint256 last;
        uint256 x;
        uint256 parity;
        assembly {
            cluster := calldataload(CD_CLUSTER)
            chain := calldataload(CD_CHAIN)
            epoch := calldataload(CD_EPOCH)
            first := calldataload(CD_FIRST)
            last := calldataload(CD_LAST)
            x := calldataload(CD_KEY)
            parity := calldataload(add(CD_KEY, 0x20))
        }
        if (cluster != clusterId) revert WrongCluster(cluster);
        if (chain != block.chainid) revert WrongChain(chain, block.chainid);
        if (first > type(uint64).max || last > type(uint64).max || first > last) revert MalformedBatch();
        if (epoch != keyEpoch) revert WrongKeyEpoch(epoch, keyEpoch);
        if (keccak256(abi.encode(x, parity, epoch)) != keyCommitment) revert UnknownKey();
        revert BadSignature();
    }
}
