// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

// The order of secp256k1's group.
uint256 constant SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;
// secp256k1's field prime.
uint256 constant SECP256K1_P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f;
// The end of the challenge's b0 preimage, I2OSP(48, 2) ‖ I2OSP(0, 1) ‖ DST ‖ I2OSP(32, 1), as two words: 0x00 0x30
// 0x00 and the first 29 bytes of the DST, then the DST's last 3 bytes ("hal") and its length 0x20. The DST is
// "FROST-secp256k1-KECCAK256-v1chal", exactly one word.
uint256 constant FROST_CHALLENGE_TRAILER_HI = 0x00300046524f53542d736563703235366b312d4b454343414b3235362d763163;
uint256 constant FROST_CHALLENGE_TRAILER_LO = 0x68616c2000000000000000000000000000000000000000000000000000000000;

/// @title FROST(secp256k1, Keccak-256) signature verification with one `ecrecover` call.
/// @notice The suite is the ZF `frost-secp256k1-evm` 3.0.0 one that the Nexus replicas sign with
/// (`nexus-mpc`'s `evm.rs` is the Rust twin of this file):
/// - challenge c = H2(R_enc ‖ PK_enc ‖ msg), H2 = hash_to_field with expand_message_xmd over Keccak-256, domain
///   tag "FROST-secp256k1-KECCAK256-v1chal", 48 bytes of output reduced mod n; R_enc and PK_enc are compressed
///   SEC1 points (0x02 | 0x03 by the parity of y, then x);
/// - a signature (R, z) is valid when z·G = R + c·PK.
/// Instead of two scalar multiplications, `ecrecover(h, v, r, s)` (which returns the address of r⁻¹·(s·R' − h·G)
/// with R' the point of x-coordinate r and y-parity v − 27) is asked for the address of z·G − c·PK by putting the
/// group key in R': r = PKx, v = 27 + parity(PKy), s = n − c·PKx, h = n − z·PKx. The result must be the address
/// of R, keccak256(Rx ‖ Ry). R is taken in full (x and y) so that the challenge bytes and the address come from
/// the same coordinates: taking the two independently would let anyone forge.
library FrostSecp256k1 {
    /// The order of secp256k1's group.
    uint256 internal constant N = SECP256K1_N;
    /// secp256k1's field prime.
    uint256 internal constant P = SECP256K1_P;

    /// Where the signed message starts in a challenge buffer: 136 zero bytes (Keccak-256's block, the Z_pad of
    /// expand_message_xmd), R_enc (33 bytes), PK_enc (33 bytes).
    uint256 internal constant MESSAGE_OFFSET = 202;
    /// Bytes after the message in the b0 preimage: I2OSP(48, 2) ‖ I2OSP(0, 1) ‖ DST (32) ‖ I2OSP(32, 1).
    uint256 internal constant TRAILER_BYTES = 36;
    /// Bytes a challenge buffer needs besides the message: MESSAGE_OFFSET and the trailer written as two words.
    uint256 internal constant BUFFER_EXTRA = 266;

    uint256 private constant TRAILER_HI = FROST_CHALLENGE_TRAILER_HI;
    uint256 private constant TRAILER_LO = FROST_CHALLENGE_TRAILER_LO;

    /// Whether (x, y) is an affine point of secp256k1 with canonical coordinates (both below p).
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool ok) {
        assembly ("memory-safe") {
            ok := and(
                and(lt(x, P), lt(y, P)), eq(mulmod(y, y, P), addmod(mulmod(x, mulmod(x, x, P), P), 7, P))
            )
        }
    }

    /// Whether signatures under the key (x, y) can be checked with `ecrecover`: a point of the curve whose x is
    /// in 1..n−1 (`ecrecover` refuses r ≥ n, and x mod n would name another point). A DKG whose key fails this
    /// (probability about 2⁻¹²⁸) is run again; `nexus-mpc`'s `evm_key_usable` is the same test.
    function isUsableKey(uint256 x, uint256 y) internal pure returns (bool) {
        return x != 0 && x < N && isOnCurve(x, y);
    }

    /// Verifies a signature over the message of `messageLength` bytes that the caller wrote at
    /// `buffer + MESSAGE_OFFSET`. The buffer must have `messageLength + BUFFER_EXTRA` bytes of memory the caller
    /// may overwrite, and its first 136 bytes must be zero (fresh memory is; `verify` zeroes them): the caller
    /// writes the message in place and leaves the zero padding alone, which saves copying and clearing.
    /// @param keyX the group key's x-coordinate, already checked with `isUsableKey`.
    /// @param keyParity the parity of the group key's y-coordinate, 0 or 1.
    function verifyInBuffer(
        uint256 buffer,
        uint256 messageLength,
        uint256 keyX,
        uint256 keyParity,
        uint256 rx,
        uint256 ry,
        uint256 z
    ) internal view returns (bool ok) {
        assembly ("memory-safe") {
            // b0 preimage: Z_pad (136 zero bytes, already there) ‖ R_enc ‖ PK_enc ‖ message (already there) ‖
            // trailer. PK's x is written before R's prefix byte and R's x before PK's prefix byte, since a word
            // write covers the byte after it.
            mstore(add(buffer, 170), keyX)
            mstore8(add(buffer, 169), add(2, keyParity))
            mstore(add(buffer, 137), rx)
            mstore8(add(buffer, 136), add(2, and(ry, 1)))
            let trailer := add(add(buffer, MESSAGE_OFFSET), messageLength)
            mstore(trailer, TRAILER_HI)
            mstore(add(trailer, 0x20), TRAILER_LO)
            let b0 := keccak256(buffer, add(add(MESSAGE_OFFSET, messageLength), TRAILER_BYTES))
            // b1 = H(b0 ‖ 0x01 ‖ DST ‖ 0x20), b2 = H((b0 ^ b1) ‖ 0x02 ‖ DST ‖ 0x20): the DST and its length are
            // already in place after the trailer's first three bytes, so only the first 33 bytes change.
            let blocks := sub(trailer, 30)
            mstore(blocks, b0)
            mstore8(add(trailer, 2), 1)
            let b1 := keccak256(blocks, 66)
            mstore(blocks, xor(b0, b1))
            mstore8(add(trailer, 2), 2)
            let b2 := keccak256(blocks, 66)
            // c = OS2IP(b1 ‖ b2[0..16]) mod n = b1·2¹²⁸ + (b2 >> 128) mod n.
            let c := addmod(mulmod(b1, 0x100000000000000000000000000000000, N), shr(128, b2), N)

            // z in 1..n−1 (z ≥ n would make z and z + n both valid; the Rust verifier refuses z ≥ n), c ≠ 0
            // (then s = n, which ecrecover refuses: probability 2⁻²⁵⁶, the signers sign again), R on the curve.
            ok := and(and(lt(z, N), iszero(iszero(z))), iszero(iszero(c)))
            ok := and(ok, and(and(lt(rx, P), lt(ry, P)), eq(mulmod(ry, ry, P), addmod(mulmod(rx, mulmod(rx, rx, P), P), 7, P))))

            // address(R), in scratch space.
            mstore(0x00, rx)
            mstore(0x20, ry)
            let rAddress := and(keccak256(0x00, 0x40), 0xffffffffffffffffffffffffffffffffffffffff)

            // ecrecover(h = n − z·x, v = 27 + parity, r = x, s = n − c·x) = address(z·G − c·PK). z and x are
            // nonzero below the prime n, so z·x mod n ≠ 0 and h < n; likewise s.
            mstore(buffer, sub(N, mulmod(z, keyX, N)))
            mstore(add(buffer, 0x20), add(27, keyParity))
            mstore(add(buffer, 0x40), keyX)
            mstore(add(buffer, 0x60), sub(N, mulmod(c, keyX, N)))
            // ecrecover returns nothing on failure and leaves the output area as it was: clear it, and require
            // 32 bytes back.
            mstore(0x00, 0)
            let called := staticcall(gas(), 0x01, buffer, 0x80, 0x00, 0x20)
            ok := and(ok, and(and(called, eq(returndatasize(), 0x20)), eq(mload(0x00), rAddress)))
        }
    }

    /// Verifies a signature over `message` (copied into a fresh buffer; for messages that are not built in
    /// place).
    function verify(bytes memory message, uint256 keyX, uint256 keyParity, uint256 rx, uint256 ry, uint256 z)
        internal
        view
        returns (bool)
    {
        uint256 buffer;
        uint256 length = message.length;
        assembly ("memory-safe") {
            buffer := mload(0x40)
            mstore(0x40, add(buffer, add(length, BUFFER_EXTRA)))
            // Memory past the free memory pointer may have been used: clear the zero padding.
            mstore(buffer, 0)
            mstore(add(buffer, 0x20), 0)
            mstore(add(buffer, 0x40), 0)
            mstore(add(buffer, 0x60), 0)
            mstore(add(buffer, 0x80), 0)
            mcopy(add(buffer, MESSAGE_OFFSET), add(message, 0x20), length)
        }
        return verifyInBuffer(buffer, length, keyX, keyParity, rx, ry, z);
    }
}
