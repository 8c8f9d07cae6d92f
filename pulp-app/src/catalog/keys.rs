//! Every Redis key of the catalog, named in one place. All share the hash
//! tag `{<namespace>}` so multi-key transactions and scripts work on Redis
//! Cluster. `docs/pulp-catalog.md` lists them with their types.

use uuid::Uuid;

use super::model::Plugin;

/// Builds catalog key names.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    p: String,
}

impl Keys {
    pub(crate) fn new(namespace: &str) -> Self {
        Keys {
            p: format!("{{{namespace}}}"),
        }
    }

    /// STRING (JSON): one entity of `collection` (`remote`, `repository`, ...).
    pub(crate) fn entity(&self, collection: &str, id: &Uuid) -> String {
        format!("{}:{collection}:{id}", self.p)
    }

    /// ZSET (score 0, member id): every entity of `collection` for `plugin`,
    /// in creation order (ids are UUIDv7).
    pub(crate) fn index(&self, collection: &str, plugin: Plugin) -> String {
        format!("{}:idx:{collection}:{}", self.p, plugin.name())
    }

    /// HASH: name → id, for `collection` of `plugin` (names are unique per type).
    pub(crate) fn names(&self, collection: &str, plugin: Plugin) -> String {
        format!("{}:names:{collection}:{}", self.p, plugin.name())
    }

    /// HASH: base path → distribution id, across all plugins.
    pub(crate) fn base_paths(&self) -> String {
        format!("{}:basepaths", self.p)
    }

    /// HASH: mutable state of a repository (`latest`, `next`, `last_sync`).
    pub(crate) fn repo_state(&self, repo: &Uuid) -> String {
        format!("{}:repository:{repo}:state", self.p)
    }

    /// ZSET (score = version number): the versions of a repository.
    pub(crate) fn versions(&self, repo: &Uuid) -> String {
        format!("{}:repository:{repo}:versions", self.p)
    }

    /// STRING (JSON): one repository version.
    pub(crate) fn version(&self, repo: &Uuid, number: u64) -> String {
        format!("{}:repository:{repo}:v:{number}", self.p)
    }

    /// ZSET (score 0, member content ref): content added by a version.
    pub(crate) fn version_added(&self, repo: &Uuid, number: u64) -> String {
        format!("{}:repository:{repo}:v:{number}:added", self.p)
    }

    /// ZSET (score 0, member content ref): content removed by a version.
    pub(crate) fn version_removed(&self, repo: &Uuid, number: u64) -> String {
        format!("{}:repository:{repo}:v:{number}:removed", self.p)
    }

    /// ZSET (score 0, member content ref): the content of the latest version.
    pub(crate) fn repo_content(&self, repo: &Uuid) -> String {
        format!("{}:repository:{repo}:content", self.p)
    }

    /// ZSET (score = created ms, member `<repo>/<number>`): every version.
    pub(crate) fn all_versions(&self) -> String {
        format!("{}:idx:repository_version", self.p)
    }

    /// ZSET (score 0, member publication id): publications of a repository.
    pub(crate) fn repo_publications(&self, repo: &Uuid) -> String {
        format!("{}:repository:{repo}:publications", self.p)
    }

    /// ZSET (score 0, member content ref `<tag>:<uuid>`): every content unit.
    pub(crate) fn all_content(&self) -> String {
        format!("{}:idx:content", self.p)
    }

    /// ZSET (score 0): content refs whose `field` equals `value` (filters).
    pub(crate) fn content_field(&self, tag: &str, field: &str, value: &str) -> String {
        format!("{}:cidx:{tag}:{field}:{value}", self.p)
    }

    /// ZSET: the content of version `number`, rebuilt from the diffs of the
    /// versions up to `latest` (expires after a few minutes of disuse).
    pub(crate) fn version_rebuild(&self, repo: &Uuid, number: u64, latest: u64) -> String {
        format!("{}:tmp:rebuild:{repo}:{number}:{latest}", self.p)
    }

    /// A temporary key for one query (expires by itself).
    pub(crate) fn temp(&self) -> String {
        format!("{}:tmp:{}", self.p, Uuid::now_v7())
    }

    /// ZSET (score 0, member task id): every task.
    pub(crate) fn tasks(&self) -> String {
        format!("{}:idx:task", self.p)
    }

    /// ZSET (member app name, score last heartbeat ms): live API or content
    /// apps (`kind` is `api` or `content`). Ephemeral, hence under `tmp:`:
    /// every heartbeat renews its expiry, so it vanishes with the last app.
    pub(crate) fn apps(&self, kind: &str) -> String {
        format!("{}:tmp:apps:{kind}", self.p)
    }

    /// HASH: username → argon2 PHC string.
    pub(crate) fn users(&self) -> String {
        format!("{}:users", self.p)
    }
}
