//! The catalog: remotes, repositories and their immutable versions, content,
//! publications, distributions, task bookkeeping and users, kept in Redis
//! beside the task queue.
//!
//! Entities are JSON strings under `{ns}:<collection>:<id>`, indexed by a
//! sorted set per collection and plugin (ids are UUIDv7, so lexicographic
//! order is creation order). Names are unique per collection and plugin
//! through a hash `name → id` that a Lua script checks and sets together
//! with the entity. A repository version stores only what it changed (the
//! content it added and removed); the repository keeps the full content
//! set of its latest version, so memory grows with change, not with the
//! number of versions. Older versions are reconstructed on demand.

mod apps;
mod content;
mod distributions;
mod keys;
pub mod model;
mod store;
mod tasks;
mod users;
mod versions;

use redis::aio::ConnectionManager;

pub use apps::AppKind;
pub use content::{ContentFilter, ContentPage};
pub(crate) use keys::Keys;
pub use store::{Entity, ListFilter, Page};
pub use versions::{VersionChange, VersionDeletion, VersionRef};

/// What went wrong in the catalog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// Redis failed.
    #[error("catalog storage failed")]
    Redis(#[from] redis::RedisError),
    /// A stored document could not be read or written.
    #[error("catalog document {key} is invalid")]
    Json {
        /// The key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A unique field is taken.
    #[error("{field} {value:?} is already used")]
    Conflict {
        /// The field (`name`, `base_path`).
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A base path overlaps another distribution's.
    #[error("base path {0:?} overlaps with an existing distribution")]
    Overlap(String),
    /// The entity does not exist.
    #[error("not found")]
    NotFound,
    /// Someone else changed the repository meanwhile (should not happen while
    /// tasks hold their reservations).
    #[error("the repository changed concurrently; its latest version is now {0}")]
    Concurrent(u64),
}

/// A `Result` with [`CatalogError`].
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The catalog; cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    conn: ConnectionManager,
    keys: Keys,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// A catalog in `namespace` on `conn`.
    pub fn new(conn: ConnectionManager, namespace: &str) -> Self {
        Catalog {
            conn,
            keys: Keys::new(namespace),
        }
    }

    pub(crate) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> bool {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn())
            .await
            .is_ok()
    }
}

fn to_json<T: serde::Serialize>(key: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|source| CatalogError::Json {
        key: key.to_owned(),
        source,
    })
}

fn from_json<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| CatalogError::Json {
        key: key.to_owned(),
        source,
    })
}
