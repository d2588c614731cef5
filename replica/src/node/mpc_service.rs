//! The `Mpc` service between replicas: DKG messages, signing rounds, and certificates for the leader to log.
//! Thin: each call goes to the [`Certifier`](super::certify::Certifier), which holds the protocol state.

use std::sync::Arc;

use nexus_mpc::certificate::Certificate;
use nexus_proto::v1::mpc_server::Mpc;
use nexus_proto::v1::{
    CommitRequest, CommitResponse, DkgAck, DkgMessage, ProposeRequest, ProposeResponse, SignRequest, SignResponse,
};
use tonic::{Request, Response, Status};

use super::certify::Certifier;
use crate::group_key::CertSuite;

/// Largest encoded certificate accepted (a batch message, a signature and a key are well under this).
pub const MAX_CERTIFICATE_BYTES: usize = 1024;

pub struct MpcService {
    certifier: Arc<Certifier>,
}

impl MpcService {
    pub fn new(certifier: Arc<Certifier>) -> Self {
        Self { certifier }
    }
}

#[tonic::async_trait]
impl Mpc for MpcService {
    async fn dkg(&self, request: Request<DkgMessage>) -> Result<Response<DkgAck>, Status> {
        self.certifier.on_dkg_message(request.into_inner())?;
        Ok(Response::new(DkgAck {}))
    }

    async fn commit(&self, request: Request<CommitRequest>) -> Result<Response<CommitResponse>, Status> {
        let commitments = self.certifier.on_commit(request.into_inner()).await?;
        Ok(Response::new(CommitResponse { commitments }))
    }

    async fn sign(&self, request: Request<SignRequest>) -> Result<Response<SignResponse>, Status> {
        let share = self.certifier.on_sign(request.into_inner())?;
        Ok(Response::new(SignResponse { share }))
    }

    async fn propose(&self, request: Request<ProposeRequest>) -> Result<Response<ProposeResponse>, Status> {
        let request = request.into_inner();
        let suite = CertSuite::from_wire(request.suite)
            .ok_or_else(|| Status::invalid_argument(format!("unknown suite {}", request.suite)))?;
        let bytes = request.certificate;
        if bytes.len() > MAX_CERTIFICATE_BYTES {
            return Err(Status::out_of_range(format!(
                "certificate of {} bytes, the limit is {MAX_CERTIFICATE_BYTES}",
                bytes.len()
            )));
        }
        let certificate: Certificate =
            postcard::from_bytes(&bytes).map_err(|e| Status::invalid_argument(format!("certificate: {e}")))?;
        let log_index = self.certifier.on_propose(suite, certificate).await?;
        Ok(Response::new(ProposeResponse { log_index }))
    }
}
