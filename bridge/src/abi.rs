//! `sol!` bindings of the contracts in `contracts/`: their structs, functions, events and errors, written
//! against the Solidity sources (the committed ABI JSON in `artifacts/` is what solc says they are; a test
//! checks the two name the same selectors).

// The macro generates items without docs.
#![allow(missing_docs)]

use alloy_sol_types::sol;

sol! {
    /// `NexusTypes.sol`: a batch message, field by field.
    #[derive(Debug, PartialEq, Eq)]
    struct Batch {
        bytes32 clusterId;
        uint64 chainId;
        uint64 keyEpoch;
        uint64 firstIndex;
        uint64 lastIndex;
        bytes32 receiptsRoot;
        bytes32 stateRoot;
    }

    /// `NexusTypes.sol`: the group key, x and parity of y.
    #[derive(Debug, PartialEq, Eq)]
    struct GroupKey {
        uint256 x;
        uint8 yParity;
    }

    /// `NexusTypes.sol`: a FROST signature with R uncompressed.
    #[derive(Debug, PartialEq, Eq)]
    struct Signature {
        uint256 rx;
        uint256 ry;
        uint256 z;
    }

    /// `NexusTypes.sol`: a certificate: batch message, key, signature.
    #[derive(Debug, PartialEq, Eq)]
    struct Certificate {
        Batch batch;
        GroupKey key;
        Signature signature;
    }

    /// `NexusTypes.sol`: a receipt's Merkle path.
    #[derive(Debug, PartialEq, Eq)]
    struct MerklePath {
        uint64 leafIndex;
        uint64 leafCount;
        bytes32[] siblings;
    }

    /// `NexusVerifier.sol`, with the errors of the libraries it uses (they surface in its revert data).
    #[derive(Debug, PartialEq, Eq)]
    contract NexusVerifier {
        constructor(bytes32 cluster, uint256 x, uint256 y, uint64 epoch);

        function clusterId() external view returns (bytes32);
        function groupKey() external view returns (uint256 x, uint8 yParity, uint64 epoch);
        function verifyCertificate(Certificate calldata certificate) external view;
        function verifyReceipt(
            Certificate calldata certificate,
            uint64 logIndex,
            bytes calldata receipt,
            MerklePath calldata path
        ) external view;
        function rotateKey(GroupKey calldata current, Signature calldata signature, uint64 newEpoch, uint256 newX, uint256 newY) external;

        event KeyRotated(uint64 indexed oldEpoch, uint64 indexed newEpoch, uint256 keyX, uint8 keyParity);

        error WrongCluster(bytes32 got);
        error WrongChain(uint256 got, uint256 expected);
        error MalformedBatch();
        error WrongKeyEpoch(uint256 got, uint256 current);
        error UnknownKey();
        error BadSignature();
        error UnusableKey();
        error EpochNotIncreasing(uint256 current, uint256 proposed);
        // ReceiptMerkle.sol
        error IndexNotInRange(uint256 logIndex, uint64 firstIndex, uint64 lastIndex);
        error TooManyLeaves(uint256 leafCount);
        error LeafIndexOutOfRange(uint256 leafIndex, uint256 leafCount);
        error WrongPathLength(uint256 got, uint256 expected);
        error RootMismatch();
    }

    /// `FrostSecp256k1Verifier.sol`: stateless verification of any message under a key given in the call.
    #[derive(Debug, PartialEq, Eq)]
    contract FrostSecp256k1Verifier {
        function verify(bytes calldata message, uint256 keyX, uint256 keyY, Signature calldata signature) external view returns (bool);
    }

    /// `NexusConsumer.sol`, with the receipt parser's error.
    #[derive(Debug, PartialEq, Eq)]
    contract NexusConsumer {
        constructor(address verifier_, bytes32 app_);

        function verifier() external view returns (address);
        function app() external view returns (bytes32);
        function requestCount() external view returns (uint256);
        function callUsed(uint64 callId) external view returns (bool);
        function request(string calldata functionName, bytes calldata input) external returns (uint256 requestId);
        function fulfill(
            uint256 requestId,
            Certificate calldata certificate,
            uint64 logIndex,
            bytes calldata receipt,
            MerklePath calldata path
        ) external;
        function result(uint256 requestId) external view returns (bool fulfilled, bool returned, uint64 callId, bytes memory output);

        event CallRequested(uint256 indexed requestId, bytes32 indexed app, string functionName, bytes input);
        event CallFulfilled(uint256 indexed requestId, uint64 callId, bool returned, bytes output);

        error UnknownRequest(uint256 requestId);
        error AlreadyFulfilled(uint256 requestId);
        error CallIdMismatch(uint64 callId, uint64 logIndex);
        error CallAlreadyUsed(uint64 callId);
        error WrongApp(bytes32 got);
        error WrongFunction();
        error WrongInput();
        // NexusReceipt.sol
        error MalformedReceipt(uint256 offset);
    }
}
