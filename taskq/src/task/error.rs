//! What a task returns when it does not succeed.

use std::fmt;
use std::time::Duration;

/// A boxed error from task code.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error type of a task: says by its variant whether the task should be
/// retried or has failed for good.
///
/// Any `std::error::Error` converts into [`TaskError::Retry`] through `?`, so
/// transient errors (a network hiccup) are retried up to the task's
/// `max_retries`; use [`TaskError::fail`] for errors that retrying cannot fix.
/// Like `anyhow::Error`, this type deliberately does not implement
/// `std::error::Error` itself (that would conflict with the blanket `From`).
pub enum TaskError {
    /// Try again later (if retries remain), optionally after a given delay
    /// instead of the task's backoff.
    Retry {
        /// Overrides the backoff delay for this retry.
        after: Option<Duration>,
        /// Why the attempt failed.
        source: BoxError,
    },
    /// Give up now: no retry.
    Fail(BoxError),
    /// The task observed its cancellation token and stopped.
    Canceled,
}

impl TaskError {
    /// A retryable failure.
    pub fn retry(source: impl Into<BoxError>) -> Self {
        TaskError::Retry {
            after: None,
            source: source.into(),
        }
    }

    /// A retryable failure that should be retried after `after`.
    pub fn retry_after(after: Duration, source: impl Into<BoxError>) -> Self {
        TaskError::Retry {
            after: Some(after),
            source: source.into(),
        }
    }

    /// A permanent failure.
    pub fn fail(source: impl Into<BoxError>) -> Self {
        TaskError::Fail(source.into())
    }

    /// The error message, with its chain of causes joined by ": ".
    pub fn message(&self) -> String {
        match self {
            TaskError::Retry { source, .. } | TaskError::Fail(source) => chain(source.as_ref()),
            TaskError::Canceled => "canceled".to_owned(),
        }
    }
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.ends_with(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(err: E) -> Self {
        TaskError::retry(err)
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Retry { .. } => write!(f, "retryable error: {}", self.message()),
            TaskError::Fail(_) => write!(f, "{}", self.message()),
            TaskError::Canceled => f.write_str("canceled"),
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Retry { after, source } => f
                .debug_struct("Retry")
                .field("after", after)
                .field("source", source)
                .finish(),
            TaskError::Fail(source) => f.debug_tuple("Fail").field(source).finish(),
            TaskError::Canceled => f.write_str("Canceled"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    fn fails() -> Result<(), TaskError> {
        Err(Outer(std::io::Error::other("disk on fire")))?;
        Ok(())
    }

    #[test]
    fn question_mark_makes_a_retry_with_the_cause_chain() {
        let err = fails().unwrap_err();
        assert!(matches!(err, TaskError::Retry { after: None, .. }));
        assert_eq!(err.message(), "outer: disk on fire");
    }

    #[test]
    fn fail_from_str() {
        let err = TaskError::fail("bad input");
        assert!(matches!(err, TaskError::Fail(_)));
        assert_eq!(err.to_string(), "bad input");
    }
}
