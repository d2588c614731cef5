//! Talking to a running network: the local network file written by `nexus up`, replica configs, and the
//! client calls behind `nexus deploy`, `nexus call` and `nexus status`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nexus_proto::MAX_MESSAGE_BYTES;
use nexus_proto::v1::admin_client::AdminClient;
use nexus_proto::v1::client_client::ClientClient;
use nexus_proto::v1::prover_client::ProverClient;
use nexus_proto::v1::{
    AddReplicaRequest, AdminResponse, GetReceiptRequest, QueryRequest, RemoveReplicaRequest, StatusRequest,
    StatusResponse, SubmitRequest, SubmitResponse,
};
use nexus_proto::v1::{JobRequest, JobStatusResponse};
use nexus_replica::admin::AdminCommand;
use nexus_replica::nexus_mpc::batch::{BatchMessage, MerklePath, receipt_digest, verify_path};
use nexus_replica::nexus_mpc::certificate::Certificate;
use nexus_replica::{AppId, ApplyOutcome, ClientKey, ClusterId, Receipt, Request, ZkJob};
use nexus_wasm_host::CallResult;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::receipt_file::ReceiptFile;

/// Deadline for one client RPC (a call waits for Raft to commit and apply it).
pub const CLIENT_RPC_TIMEOUT_SECS: u64 = 30;
/// Deadline for a membership change (adding a replica waits for it to catch up).
pub const ADMIN_RPC_TIMEOUT_SECS: u64 = 180;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("could not read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid file: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("no replica address: pass --replica ADDR or start a local network with `nexus up`")]
    NoReplica,
    #[error("replica {addr}: {reason}")]
    Rpc { addr: String, reason: String },
    #[error("replica {addr}: no receipt for call {call_id} (not applied there yet, or no such call)")]
    NoReceipt { addr: String, call_id: u64 },
}

fn rpc_error(addr: &str, status: &tonic::Status) -> NetworkError {
    NetworkError::Rpc { addr: addr.to_string(), reason: format!("{} ({:?})", status.message(), status.code()) }
}

/// A replica's configuration file (`nexus replica run --config FILE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaConfig {
    pub node_id: u64,
    /// 64 hex digits.
    pub cluster_id: String,
    /// Address the gRPC server listens on, e.g. "127.0.0.1:7100".
    pub listen: String,
    pub data_dir: PathBuf,
    /// Set on one replica of a new cluster: it initializes Raft with these members (node id → address).
    #[serde(default)]
    pub bootstrap_members: BTreeMap<String, String>,
    /// Public keys (64 hex digits) allowed to add and remove replicas; empty disables membership changes.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Build a snapshot every this many applied entries (default 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_every_entries: Option<u64>,
    /// Log entries kept after a snapshot for followers slightly behind (default 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_kept_after_snapshot: Option<u64>,
    /// Threshold certification of sealed batches (default on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certify: Option<bool>,
    /// Signers needed for a certificate (default 2f+1 of the voters, at least a majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certify_threshold: Option<u16>,
    /// Also certify every batch for this Ethereum chain (EIP-155 chain id) with a FROST(secp256k1, Keccak-256)
    /// key from the same ceremony, for the bridge contracts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evm_chain_id: Option<u64>,
    /// Threads of a prover worker inside this replica (default 0: none; workers run as `nexus prover run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prover_threads: Option<usize>,
    /// NVM steps per leaf of a proving job when this replica leads (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prover_steps_per_fold: Option<u64>,
    /// How long a worker's task lease lasts without a renewal, in milliseconds (default 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prover_lease_ms: Option<u64>,
}

/// What `nexus up` leaves for the other commands: where the local network's replicas listen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalNetwork {
    pub cluster_id: String,
    pub replicas: Vec<String>,
}

pub fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, NetworkError> {
    let text = std::fs::read_to_string(path).map_err(|source| NetworkError::Io { path: path.into(), source })?;
    toml::from_str(&text).map_err(|e| NetworkError::Parse { path: path.into(), reason: e.to_string() })
}

pub fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), NetworkError> {
    let text = toml::to_string(value).map_err(|e| NetworkError::Parse { path: path.into(), reason: e.to_string() })?;
    std::fs::write(path, text).map_err(|source| NetworkError::Io { path: path.into(), source })
}

pub fn parse_cluster_id(hex_id: &str) -> Option<ClusterId> {
    hex::decode(hex_id).ok()?.try_into().ok()
}

/// The replica to talk to: the one given, else the first of the local network.
pub fn replica_addr(given: Option<String>, config_dir: &Path) -> Result<String, NetworkError> {
    if let Some(addr) = given {
        return Ok(addr);
    }
    let path = config_dir.join("network.toml");
    if !path.exists() {
        return Err(NetworkError::NoReplica);
    }
    let network: LocalNetwork = read_toml(&path)?;
    network.replicas.into_iter().next().ok_or(NetworkError::NoReplica)
}

async fn channel(addr: &str, timeout_secs: u64) -> Result<tonic::transport::Channel, NetworkError> {
    let rpc = |reason: String| NetworkError::Rpc { addr: addr.to_string(), reason };
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| rpc(e.to_string()))?
        .timeout(std::time::Duration::from_secs(timeout_secs));
    endpoint.connect().await.map_err(|e| rpc(format!("cannot connect: {e}")))
}

pub async fn connect(addr: &str) -> Result<ClientClient<tonic::transport::Channel>, NetworkError> {
    Ok(ClientClient::new(channel(addr, CLIENT_RPC_TIMEOUT_SECS).await?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

pub async fn status(addr: &str) -> Result<StatusResponse, NetworkError> {
    let mut client = connect(addr).await?;
    let status = client.status(StatusRequest {}).await;
    status.map(|r| r.into_inner()).map_err(|s| rpc_error(addr, &s))
}

/// A clock-based nonce: strictly increasing for one client, without coordination between processes.
pub fn clock_nonce() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
}

/// The leader's address as the replica at `addr` knows it, if it knows one.
pub fn leader_addr(status: &StatusResponse) -> Option<String> {
    let leader = status.leader_id?;
    status.members.iter().find(|m| m.node_id == leader).map(|m| m.address.clone())
}

/// Signs `request` for the replica's cluster and submits it; returns the outcome and its log index. Sent to
/// the leader directly when the replica at `addr` names one (saving the forwarding hop), else to `addr`.
pub async fn submit(addr: &str, key: &ClientKey, request: Request) -> Result<(ApplyOutcome, u64), NetworkError> {
    let rpc = |reason: String| NetworkError::Rpc { addr: addr.to_string(), reason };
    let status = status(addr).await?;
    let cluster: ClusterId = status.cluster_id.as_slice().try_into().map_err(|_| rpc("bad cluster id".into()))?;
    let signed = key.sign(&cluster, clock_nonce(), request).encode();
    if let Some(leader) = leader_addr(&status)
        && leader != addr
        && let Ok(mut client) = connect(&leader).await
    {
        return submit_signed(&mut client, &leader, signed).await;
    }
    submit_signed(&mut connect(addr).await?, addr, signed).await
}

/// Submits an encoded signed request on `client`. An applied request comes back with its outcome, whether
/// the replica answered OK or with an error status carrying the response (a refusal, a trapped call).
pub async fn submit_signed(
    client: &mut ClientClient<tonic::transport::Channel>,
    addr: &str,
    signed_request: Vec<u8>,
) -> Result<(ApplyOutcome, u64), NetworkError> {
    let rpc = |reason: String| NetworkError::Rpc { addr: addr.to_string(), reason };
    let reply = match client.submit(SubmitRequest { signed_request }).await {
        Ok(reply) => reply.into_inner(),
        Err(status) if !status.details().is_empty() => SubmitResponse::decode(status.details())
            .map_err(|e| rpc(format!("error details do not decode ({e}): {}", status.message())))?,
        Err(status) => return Err(rpc_error(addr, &status)),
    };
    let outcome = postcard::from_bytes(&reply.outcome).map_err(|e| rpc(format!("outcome does not decode: {e}")))?;
    Ok((outcome, reply.log_index))
}

/// Asks the replica at `addr` (forwarded to the leader) for a membership change, signed by admin `key`.
pub async fn admin(addr: &str, key: &ClientKey, command: AdminCommand) -> Result<AdminResponse, NetworkError> {
    let rpc = |reason: String| NetworkError::Rpc { addr: addr.to_string(), reason };
    let status = status(addr).await?;
    let cluster: ClusterId = status.cluster_id.as_slice().try_into().map_err(|_| rpc("bad cluster id".into()))?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let signed = key.sign_admin(&cluster, now_ms, &command);
    let auth = Some(nexus_proto::v1::AdminAuth {
        timestamp_ms: signed.timestamp_ms,
        signer: signed.signer.to_vec(),
        signature: signed.signature.to_vec(),
    });
    // Adding waits for the new replica to catch up.
    let mut client = AdminClient::new(channel(addr, ADMIN_RPC_TIMEOUT_SECS).await?);
    let reply = match command {
        AdminCommand::AddReplica { node_id, address } => {
            client.add_replica(AddReplicaRequest { node_id, address, auth }).await
        }
        AdminCommand::RemoveReplica { node_id } => client.remove_replica(RemoveReplicaRequest { node_id, auth }).await,
    };
    reply.map(|r| r.into_inner()).map_err(|s| rpc_error(addr, &s))
}

/// A receipt as a replica serves it, with its sealed batch once there is one.
#[derive(Clone, Debug)]
pub struct ServedReceipt {
    pub receipt: Receipt,
    /// The batch message the replica built for the call's batch, and the receipt's Merkle path to its
    /// receipts root (checked here against the receipt's bytes); `None` until the batch is sealed.
    pub batch: Option<(BatchMessage, MerklePath)>,
    /// Once the batch is certified: the receipt file, checked here (path and signature, under the group key
    /// the certificate names; `nexus verify --group-key` checks it against a key the user trusts).
    pub certified: Option<ReceiptFile>,
    /// The receipt's bytes as the replica served them (what its Merkle leaf commits to).
    pub receipt_bytes: Vec<u8>,
    /// Once the batch is certified for Ethereum: the FROST(secp256k1, Keccak-256) certificate, checked here
    /// under the key it names, with the batch message for its chain.
    pub evm_certificate: Option<Certificate>,
    /// For a call made with `zk`: its proving job as the replicated state records it.
    pub zk_job: Option<ZkJob>,
    /// The proof, when asked for and proven (its digest is checked by whoever verifies it).
    pub proof: Option<Vec<u8>>,
}

/// The leader's progress report on a proving job (any replica answers once the job ended).
pub async fn job_status(addr: &str, call_id: u64) -> Result<JobStatusResponse, NetworkError> {
    let leader = leader_addr(&status(addr).await?).unwrap_or_else(|| addr.to_string());
    let mut client = ProverClient::new(channel(&leader, CLIENT_RPC_TIMEOUT_SECS).await?);
    let reply = client.job_status(JobRequest { call_id }).await;
    reply.map(|r| r.into_inner()).map_err(|s| rpc_error(&leader, &s))
}

/// The receipt of call `call_id` as the replica at `addr` stores it, with its batch proof checked.
pub async fn receipt(addr: &str, call_id: u64) -> Result<ServedReceipt, NetworkError> {
    receipt_with(addr, call_id, false).await
}

/// [`receipt`], with the call's proving job and, if `with_proof` and the job is proven, its proof.
pub async fn receipt_with(addr: &str, call_id: u64, with_proof: bool) -> Result<ServedReceipt, NetworkError> {
    let rpc = |reason: String| NetworkError::Rpc { addr: addr.to_string(), reason };
    let mut client = connect(addr).await?.max_decoding_message_size(nexus_replica::prover::protocol::MAX_TASK_BYTES);
    let request = GetReceiptRequest { call_id, with_proof, local_only: false };
    let reply = client.get_receipt(request).await.map_err(|s| match s.code() {
        tonic::Code::NotFound => NetworkError::NoReceipt { addr: addr.to_string(), call_id },
        _ => rpc_error(addr, &s),
    })?;
    let reply = reply.into_inner();
    let receipt: Receipt =
        postcard::from_bytes(&reply.receipt).map_err(|e| rpc(format!("receipt does not decode: {e}")))?;
    if receipt.call_id != call_id {
        return Err(rpc(format!("asked for receipt {call_id}, got {}", receipt.call_id)));
    }
    let batch = match reply.batch.as_slice() {
        [] => None,
        bytes => {
            let (message, path): (BatchMessage, MerklePath) =
                postcard::from_bytes(bytes).map_err(|e| rpc(format!("batch proof does not decode: {e}")))?;
            if !message.contains_index(call_id) {
                return Err(rpc(format!(
                    "batch {}..={} does not hold call {call_id}",
                    message.first_index, message.last_index
                )));
            }
            verify_path(&message.receipts_root, &receipt_digest(call_id, &reply.receipt), &path)
                .map_err(|e| rpc(format!("the receipt's Merkle path does not verify: {e}")))?;
            Some((message, path))
        }
    };
    let certified = match (reply.certificate.as_slice(), &batch) {
        ([], _) => None,
        (_, None) => return Err(rpc("a certificate came without its batch".into())),
        (bytes, Some((_, path))) => {
            let certificate: Certificate =
                postcard::from_bytes(bytes).map_err(|e| rpc(format!("certificate does not decode: {e}")))?;
            let file = ReceiptFile::new(&reply.receipt, &receipt, path, &certificate);
            file.verify(None).map_err(|e| rpc(format!("the receipt does not verify against its certificate: {e}")))?;
            Some(file)
        }
    };
    let evm_certificate = match (reply.evm_certificate.as_slice(), &batch) {
        ([], _) => None,
        (_, None) => return Err(rpc("an Ethereum certificate came without its batch".into())),
        (bytes, Some((message, _))) => {
            let certificate: Certificate =
                postcard::from_bytes(bytes).map_err(|e| rpc(format!("Ethereum certificate does not decode: {e}")))?;
            if certificate.message != (BatchMessage { chain_id: certificate.message.chain_id, ..*message }) {
                return Err(rpc("the Ethereum certificate is for another batch".into()));
            }
            certificate
                .verify::<nexus_replica::nexus_mpc::evm::Secp256k1EvmVerifier>(None)
                .map_err(|e| rpc(format!("the Ethereum certificate does not verify: {e}")))?;
            Some(certificate)
        }
    };
    let zk_job = match reply.zk_job.as_slice() {
        [] => None,
        bytes => Some(postcard::from_bytes(bytes).map_err(|e| rpc(format!("proving job does not decode: {e}")))?),
    };
    let proof = (!reply.proof.is_empty()).then_some(reply.proof);
    Ok(ServedReceipt { receipt, batch, certified, receipt_bytes: reply.receipt, evm_certificate, zk_job, proof })
}

/// How often [`wait_certified`] asks again.
pub const CERTIFICATE_POLL: Duration = Duration::from_millis(20);

/// The receipt of call `call_id` once its batch is certified, or the last one served if `timeout` passes
/// first (its `certified` is then `None`). A replica that has not applied the call yet is asked again.
pub async fn wait_certified(addr: &str, call_id: u64, timeout: Duration) -> Result<ServedReceipt, NetworkError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let served = match receipt(addr, call_id).await {
            Err(NetworkError::NoReceipt { .. }) if tokio::time::Instant::now() < deadline => None,
            other => Some(other?),
        };
        if let Some(served) = served
            && (served.certified.is_some() || tokio::time::Instant::now() >= deadline)
        {
            return Ok(served);
        }
        tokio::time::sleep(CERTIFICATE_POLL).await;
    }
}

/// A read-only call; returns the result and the applied index it ran at.
pub async fn query(
    addr: &str,
    app: &AppId,
    function: &str,
    input: &[u8],
    local: bool,
) -> Result<(CallResult, u64), NetworkError> {
    let rpc = |reason: String| NetworkError::Rpc { addr: addr.to_string(), reason };
    let mut client = connect(addr).await?;
    let request =
        QueryRequest { app: app.0.to_vec(), function: function.into(), input: input.to_vec(), caller: vec![], local };
    let reply = client.query(request).await.map_err(|s| rpc_error(addr, &s))?.into_inner();
    let result = postcard::from_bytes(&reply.result).map_err(|e| rpc(format!("result does not decode: {e}")))?;
    Ok((result, reply.applied_index))
}
