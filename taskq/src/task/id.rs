//! Task identifiers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest accepted task id, in bytes.
pub const MAX_ID_LEN: usize = 200;

/// The identity of one task run (all its retries share it).
///
/// Generated ids are UUIDv7 (time-ordered, like Pulp's). Callers may choose
/// their own id, e.g. to make sending idempotent: a second send with an id
/// that is still known to the broker is ignored.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// A new, unique, time-ordered id.
    pub fn generate() -> Self {
        TaskId(uuid::Uuid::now_v7().to_string())
    }

    /// Wraps a caller-chosen id.
    ///
    /// # Errors
    /// [`Error::InvalidTaskId`] if the id is empty, longer than
    /// [`MAX_ID_LEN`] bytes, or contains a newline (the wire framing uses it).
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_ID_LEN || id.contains('\n') {
            return Err(Error::InvalidTaskId(id));
        }
        Ok(TaskId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's text, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0)
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_ordered() {
        let a = TaskId::generate();
        let b = TaskId::generate();
        assert_ne!(a, b);
        assert!(a < b, "UUIDv7 ids sort by creation time");
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(TaskId::new("").is_err());
        assert!(TaskId::new("a\nb").is_err());
        assert!(TaskId::new("x".repeat(MAX_ID_LEN + 1)).is_err());
        assert_eq!(
            TaskId::new("beat:nightly:1700000000").unwrap().as_str(),
            "beat:nightly:1700000000"
        );
    }
}
