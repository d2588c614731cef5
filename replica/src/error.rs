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

/// `From` every redb error type into `$target::Storage`: one list of redb's error types for every error enum of
/// the crate that wraps storage failures.
macro_rules! redb_errors_into {
    ($target:ident) => {
        $crate::error::redb_errors_into!(
            @each $target,
            redb::Error,
            redb::DatabaseError,
            redb::TransactionError,
            redb::TableError,
            redb::StorageError,
            redb::CommitError
        );
    };
    (@each $target:ident, $($ty:ty),*) => {$(
        impl From<$ty> for $target {
            fn from(e: $ty) -> Self {
                $target::Storage(e.to_string())
            }
        }
    )*};
}
pub(crate) use redb_errors_into;

redb_errors_into!(ReplicaError);
