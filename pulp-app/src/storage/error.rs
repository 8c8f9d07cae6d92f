//! The error type of the artifact store.

use std::path::PathBuf;

use crate::checksum::{ChecksumError, ChecksumKind};

/// Why an artifact store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done, e.g. `create temp file`.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A digest or checksum given to the store is malformed.
    #[error(transparent)]
    Checksum(#[from] ChecksumError),

    /// More bytes arrived than the expected size; writing stopped at once.
    #[error("more data than the expected {expected} bytes")]
    LongerThanExpected {
        /// The expected size.
        expected: u64,
    },

    /// More bytes arrived than the maximum size; writing stopped at once.
    #[error("more data than the maximum of {max} bytes")]
    TooLarge {
        /// The maximum size.
        max: u64,
    },

    /// The content ended with a size other than the expected one.
    #[error("size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The expected size.
        expected: u64,
        /// The size written.
        actual: u64,
    },

    /// The content's checksum differs from the expected one.
    #[error("{kind} checksum mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The algorithm.
        kind: ChecksumKind,
        /// The expected digest (hex).
        expected: String,
        /// The digest of the content written (hex).
        actual: String,
    },

    /// No artifact with that digest is stored.
    #[error("artifact {sha256} not found")]
    NotFound {
        /// The digest looked up.
        sha256: String,
    },

    /// An earlier write on this writer failed, so its content is unknown.
    #[error("an earlier write to this artifact failed; the writer cannot be finished")]
    WriterFailed,
}

impl StoreError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io { op, path, source }
    }
}
