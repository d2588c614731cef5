// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Signature} from "./NexusTypes.sol";
import {FrostSecp256k1} from "./FrostSecp256k1.sol";

/// @title FROST(secp256k1, Keccak-256) signatures over any message, under a key given in the call.
/// @notice Stateless: it trusts no key, it only says whether `signature` is a signature of `message` by the key
/// (keyX, keyY). A contract that trusts a key must keep it (or a commitment to it) itself, as `NexusVerifier`
/// does. It exposes `FrostSecp256k1.verify` on its own, for tests against the suite's known-answer vectors and for
/// callers that sign other messages than batch certificates.
contract FrostSecp256k1Verifier {
    /// Whether `signature` is valid for `message` under (keyX, keyY); false also when the key is not usable with
    /// ecrecover (not on the curve, or x not in 1..n−1).
    function verify(bytes calldata message, uint256 keyX, uint256 keyY, Signature calldata signature)
        external
        view
        returns (bool)
    {
        if (!FrostSecp256k1.isUsableKey(keyX, keyY)) return false;
        return FrostSecp256k1.verify(message, keyX, keyY & 1, signature.rx, signature.ry, signature.z);
    }
}
