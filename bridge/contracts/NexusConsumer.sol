// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Certificate, MerklePath} from "./NexusTypes.sol";
import {NexusVerifier} from "./NexusVerifier.sol";
import {NexusReceipt} from "./NexusReceipt.sol";

/// @title An app contract that has a Nexus app compute for it: the consumer pattern.
/// @notice 1. `request` records what is asked (function and input of the Nexus app this contract is bound to) and
/// emits `CallRequested`. 2. Anyone (a relayer) submits that call to the Nexus cluster, waits for the certified
/// receipt, and calls `fulfill` with the receipt, its Merkle path and the batch certificate. 3. `fulfill` accepts
/// the result only if the verifier accepts the certificate and path, and the receipt is a call of this app, of the
/// requested function, on the requested input; then it hands the output to `_onResult` (a call that trapped is
/// delivered as a failure, with no output). The relayer is not trusted: it can only deliver what the cluster
/// certified, or nothing.
/// @dev A receipt fulfils at most one request: the same certified call cannot answer two requests. A request whose
/// answer must be fresh should make its input unique (e.g. include the request id), since any certified call of
/// the same function on the same input is an answer.
contract NexusConsumer {
    /// The verifier of the cluster that runs the app.
    NexusVerifier public immutable verifier;
    /// The Nexus app (its 32-byte id) whose results this contract accepts.
    bytes32 public immutable app;

    enum Status {
        None,
        Pending,
        Fulfilled
    }

    struct Request {
        Status status;
        /// keccak256 of the function name.
        bytes32 functionHash;
        /// SHA-256 of the input: what the receipt carries.
        bytes32 inputDigest;
    }

    struct Result {
        bool returned;
        uint64 callId;
        bytes output;
    }

    uint256 public requestCount;
    mapping(uint256 => Request) public requests;
    mapping(uint256 => Result) private results;
    /// Nexus call ids (log indexes) already used to fulfil a request.
    mapping(uint64 => bool) public callUsed;

    event CallRequested(uint256 indexed requestId, bytes32 indexed app, string functionName, bytes input);
    event CallFulfilled(uint256 indexed requestId, uint64 callId, bool returned, bytes output);

    error UnknownRequest(uint256 requestId);
    error AlreadyFulfilled(uint256 requestId);
    error CallIdMismatch(uint64 callId, uint64 logIndex);
    error CallAlreadyUsed(uint64 callId);
    error WrongApp(bytes32 got);
    error WrongFunction();
    error WrongInput();

    constructor(NexusVerifier verifier_, bytes32 app_) {
        verifier = verifier_;
        app = app_;
    }

    /// Asks for `functionName(input)` on the app; returns the request id.
    function request(string calldata functionName, bytes calldata input) external returns (uint256 requestId) {
        requestId = requestCount++;
        requests[requestId] = Request(Status.Pending, keccak256(bytes(functionName)), sha256(input));
        emit CallRequested(requestId, app, functionName, input);
    }

    /// Delivers the certified result of request `requestId`: reverts unless the receipt is certified and is
    /// the requested call.
    function fulfill(
        uint256 requestId,
        Certificate calldata certificate,
        uint64 logIndex,
        bytes calldata receipt,
        MerklePath calldata path
    ) external {
        Request storage r = requests[requestId];
        if (r.status == Status.None) revert UnknownRequest(requestId);
        if (r.status == Status.Fulfilled) revert AlreadyFulfilled(requestId);
        // Certificate, epoch, chain, cluster and Merkle path: the verifier reverts (with its reason) otherwise.
        verifier.verifyReceipt(certificate, logIndex, receipt, path);
        NexusReceipt.Prefix memory p = NexusReceipt.parse(receipt);
        // The receipt digest commits to the log index; the receipt's own call id must say the same.
        if (p.callId != logIndex) revert CallIdMismatch(p.callId, logIndex);
        if (callUsed[p.callId]) revert CallAlreadyUsed(p.callId);
        if (p.app != app) revert WrongApp(p.app);
        if (p.functionHash != r.functionHash) revert WrongFunction();
        if (p.inputDigest != r.inputDigest) revert WrongInput();
        r.status = Status.Fulfilled;
        callUsed[p.callId] = true;
        bytes calldata output = receipt[p.outputOffset:p.outputOffset + p.outputLength];
        _onResult(requestId, p.callId, p.returned, output);
    }

    /// The callback: what the app does with a certified result. This example stores it and emits an event.
    function _onResult(uint256 requestId, uint64 callId, bool returned, bytes calldata output) internal virtual {
        results[requestId] = Result(returned, callId, output);
        emit CallFulfilled(requestId, callId, returned, output);
    }

    /// The stored result of a fulfilled request.
    function result(uint256 requestId) external view returns (bool fulfilled, bool returned, uint64 callId, bytes memory output) {
        Result storage r = results[requestId];
        return (requests[requestId].status == Status.Fulfilled, r.returned, r.callId, r.output);
    }
}
