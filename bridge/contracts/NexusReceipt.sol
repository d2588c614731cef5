// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title The fields of a Nexus receipt that an app contract needs.
/// @notice A receipt's bytes are the postcard encoding of `nexus-replica`'s `Receipt`:
///   call_id (varint u64), app ([u8; 32], raw), function (varint length ‖ UTF-8), caller ([u8; 32]),
///   input_digest ([u8; 32], SHA-256 of the input), output (Option<Vec<u8>>: 0x00 | 0x01 ‖ varint length ‖ bytes),
///   trap (Option<Trap>), fuel_used (varint), state_root ([u8; 32]).
/// Only the prefix up to the output is read: what follows is covered by the receipt digest all the same. A
/// receipt without output (the call trapped) is a failed call. Every read is bounds-checked and anything
/// malformed reverts; varints must be canonical (what postcard writes), so one receipt has one reading.
library NexusReceipt {
    /// Where the receipt stops making sense.
    error MalformedReceipt(uint256 offset);

    struct Prefix {
        /// The call's id: the log index of the call.
        uint64 callId;
        /// The app called.
        bytes32 app;
        /// keccak256 of the function name's bytes.
        bytes32 functionHash;
        /// The caller's Ed25519 key.
        bytes32 caller;
        /// SHA-256 of the call input.
        bytes32 inputDigest;
        /// Whether the call returned (an output follows) rather than trapped.
        bool returned;
        /// Where the output is in the receipt (0, 0 when it trapped).
        uint256 outputOffset;
        uint256 outputLength;
    }

    /// Reads the prefix of `receipt`; reverts with `MalformedReceipt` if it is not one.
    function parse(bytes calldata receipt) internal pure returns (Prefix memory p) {
        uint256 pos;
        uint256 callId;
        (callId, pos) = _varint(receipt, 0, 64);
        p.callId = uint64(callId);
        (p.app, pos) = _word(receipt, pos);
        uint256 length;
        (length, pos) = _varint(receipt, pos, 64);
        if (length > receipt.length - pos) revert MalformedReceipt(pos);
        p.functionHash = keccak256(receipt[pos:pos + length]);
        pos += length;
        (p.caller, pos) = _word(receipt, pos);
        (p.inputDigest, pos) = _word(receipt, pos);
        if (pos >= receipt.length) revert MalformedReceipt(pos);
        uint8 tag = uint8(receipt[pos]);
        pos++;
        if (tag == 1) {
            (length, pos) = _varint(receipt, pos, 64);
            if (length > receipt.length - pos) revert MalformedReceipt(pos);
            p.returned = true;
            p.outputOffset = pos;
            p.outputLength = length;
        } else if (tag != 0) {
            revert MalformedReceipt(pos - 1);
        }
    }

    function _word(bytes calldata receipt, uint256 pos) private pure returns (bytes32 word, uint256 next) {
        if (receipt.length < 32 || pos > receipt.length - 32) revert MalformedReceipt(pos);
        word = bytes32(receipt[pos:pos + 32]);
        next = pos + 32;
    }

    /// A LEB128 varint of at most `bits` bits, canonical (no superfluous trailing zero group, no bits beyond
    /// `bits`): what postcard writes.
    function _varint(bytes calldata receipt, uint256 pos, uint256 bits) private pure returns (uint256 value, uint256 next) {
        uint256 start = pos;
        for (uint256 shift = 0; shift < bits; shift += 7) {
            if (pos >= receipt.length) revert MalformedReceipt(pos);
            uint256 b = uint8(receipt[pos]);
            pos++;
            value |= (b & 0x7f) << shift;
            if (b & 0x80 == 0) {
                if ((b == 0 && pos - start > 1) || value >> bits != 0) revert MalformedReceipt(start);
                return (value, pos);
            }
        }
        revert MalformedReceipt(start);
    }
}
