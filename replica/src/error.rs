//! Failures of the replica itself. A request that is refused is not an error here: it is an
//! [`ApplyOutcome::Rejected`](crate::ApplyOutcome), a deterministic result every replica reaches.

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("storage failed: {0}")]
    Storage(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("log entry {index} arrived after {applied}; entries must be applied in order without gaps")]
    OutOfOrder { index: u64, applied: u64 },
    #[error("the wasm host failed: {0}")]
    Host(String),
}

macro_rules! storage_errors {
    ($($ty:ty),*) => {$(
        impl From<$ty> for ReplicaError {
            fn from(e: $ty) -> Self {
                ReplicaError::Storage(e.to_string())
            }
        }
    )*};
}
storage_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
