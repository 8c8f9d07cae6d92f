//! The crate's error type.

use std::time::Duration;

use crate::result::TaskFailure;

/// A `Result` whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to taskq.
///
/// Task *outcomes* (a task that failed, was canceled, ...) are not errors of
/// the library: they come back as [`Error::TaskFailed`] and
/// [`Error::TaskCanceled`] only when you wait for a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis refused a command or the connection broke.
    #[error("redis command failed")]
    Redis(#[source] redis::RedisError),

    /// A value could not be encoded as MessagePack.
    #[error("could not encode {what}")]
    Encode {
        /// What was being encoded (e.g. "arguments of task math.add").
        what: String,
        /// The encoder's complaint.
        #[source]
        source: rmp_serde::encode::Error,
    },

    /// Bytes from the broker could not be decoded.
    #[error("could not decode {what}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The decoder's complaint.
        #[source]
        source: rmp_serde::decode::Error,
    },

    /// A message on the wire does not follow the taskq framing.
    #[error("malformed message: {0}")]
    MalformedMessage(String),

    /// A task id is empty, too long or contains a newline.
    #[error("invalid task id {0:?}: ids are 1 to 200 bytes without newlines")]
    InvalidTaskId(String),

    /// No task with this id is known (it never existed or its record expired).
    #[error("no task with id {0}")]
    UnknownTask(String),

    /// Waiting for a result took longer than allowed.
    #[error("timed out after {0:?}")]
    Timeout(Duration),

    /// The task ran and failed (after its retries).
    #[error("task failed: {0}")]
    TaskFailed(TaskFailure),

    /// The task was canceled.
    #[error("task was canceled: {0}")]
    TaskCanceled(TaskFailure),

    /// A worker was asked to run a task name it has not registered.
    #[error("no task named {0:?} is registered")]
    UnregisteredTask(String),

    /// A resource name is empty or contains a newline or NUL byte.
    #[error("invalid resource name {0:?}: names are non-empty text without newlines or NUL bytes")]
    InvalidResource(String),

    /// The worker is no longer registered (its lease expired and its tasks
    /// were handed to other workers).
    #[error("the worker's lease was lost")]
    LeaseLost,

    /// A worker or beat was configured inconsistently.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A schedule specification could not be parsed.
    #[error("invalid schedule {spec:?}: {reason}")]
    InvalidSchedule {
        /// The text that was given.
        spec: String,
        /// Why it was refused.
        reason: String,
    },

    /// A rate limit specification could not be parsed.
    #[error("invalid rate limit {spec:?}: {reason}")]
    InvalidRateLimit {
        /// The text that was given.
        spec: String,
        /// Why it was refused.
        reason: String,
    },

    /// A lock could not be acquired before the deadline.
    #[error("lock {0:?} is held by someone else")]
    LockBusy(String),

    /// The broker was shut down.
    #[error("the broker is closed")]
    Closed,

    /// Reading or writing a local file failed (test harness, CLI).
    #[error("i/o error: {what}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's complaint.
        #[source]
        source: std::io::Error,
    },
}

impl From<redis::RedisError> for Error {
    fn from(err: redis::RedisError) -> Self {
        Error::Redis(err)
    }
}

impl Error {
    /// Whether retrying the same operation later may succeed (the connection
    /// dropped, Redis is restarting, a timeout).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_timeout()
                    || e.is_connection_refusal()
                    || matches!(
                        e.kind(),
                        redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
                            | redis::ErrorKind::Server(redis::ServerErrorKind::TryAgain)
                    )
            }
            Error::Timeout(_) => true,
            _ => false,
        }
    }

    pub(crate) fn encode(what: impl Into<String>, source: rmp_serde::encode::Error) -> Self {
        Error::Encode {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn decode(what: impl Into<String>, source: rmp_serde::decode::Error) -> Self {
        Error::Decode {
            what: what.into(),
            source,
        }
    }
}
