//! Publish tasks: write a repository version's metadata into a new
//! publication directory, then record the publication. A publish reserves
//! its repository shared (publishes may overlap, syncs may not).
//!
//! Publications live in `<storage>/publications/<id>/`: metadata files plus
//! hard links to the artifacts at their published paths, so the content app
//! serves plain files. They are built in `publications/.tmp-<id>/` and
//! renamed into place only when complete.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use taskq::{TaskContext, TaskError, task};
use uuid::Uuid;

use crate::services::Services;

/// Options of an rpm publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpmPublishOptions {
    /// Checksum type of metadata and packages.
    pub checksum_type: String,
    /// `nested_alphabetically` or `flat`.
    pub layout: String,
    /// `gz` or `zstd`.
    pub compression_type: String,
    /// Extra dnf repo config.
    pub repo_config: serde_json::Value,
}

/// Publishes a file repository version (writes its PULP_MANIFEST).
#[task(name = "file.publish", queue = "pulp", on_worker_lost = "fail")]
pub async fn file_publish(
    ctx: TaskContext<Services>,
    repository: Uuid,
    version: u64,
    manifest: String,
) -> Result<(), TaskError> {
    crate::plugins::file::publish::run(&ctx, repository, version, &manifest).await
}

/// Publishes an rpm repository version (writes repodata for dnf).
#[task(name = "rpm.publish", queue = "pulp", on_worker_lost = "fail")]
pub async fn rpm_publish(
    ctx: TaskContext<Services>,
    repository: Uuid,
    version: u64,
    options: RpmPublishOptions,
) -> Result<(), TaskError> {
    crate::plugins::rpm::publish::run(&ctx, repository, version, &options).await
}

/// Publishes a puppet repository version (a static, read-only Forge).
#[task(name = "puppet.publish", queue = "pulp", on_worker_lost = "fail")]
pub async fn puppet_publish(
    ctx: TaskContext<Services>,
    repository: Uuid,
    version: u64,
) -> Result<(), TaskError> {
    crate::plugins::puppet::publish::run(&ctx, repository, version).await
}

/// The catalog key of the content of version `version` of `repository`,
/// to publish it.
///
/// # Errors
/// A task failure saying the version does not exist.
pub(crate) async fn version_to_publish(
    s: &Services,
    repository: Uuid,
    version: u64,
) -> Result<String, TaskError> {
    s.catalog
        .version_content_key(crate::catalog::VersionRef {
            repository,
            number: version,
        })
        .await
        .map_err(|_| TaskError::fail(format!("version {version} does not exist")))
}

/// The directory of a publication.
pub fn publication_dir(services: &Services, id: &Uuid) -> PathBuf {
    services
        .store
        .root()
        .join("publications")
        .join(id.to_string())
}

/// Content published on demand: a JSON object relative path → content
/// reference, beside the publication directory (`<id>.ondemand.json`).
pub fn on_demand_index(services: &Services, id: &Uuid) -> PathBuf {
    services
        .store
        .root()
        .join("publications")
        .join(format!("{id}.ondemand.json"))
}

/// A publication being built; removed on drop unless finished.
#[derive(Debug)]
pub struct Staging {
    tmp: PathBuf,
    done: PathBuf,
    finished: bool,
}

impl Staging {
    /// A fresh staging directory for publication `id`.
    ///
    /// # Errors
    /// If the directory cannot be created.
    pub async fn new(services: &Services, id: &Uuid) -> std::io::Result<Self> {
        let root = services.store.root().join("publications");
        let tmp = root.join(format!(".tmp-{id}"));
        tokio::fs::create_dir_all(&tmp).await?;
        Ok(Staging {
            tmp,
            done: root.join(id.to_string()),
            finished: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the directory into place.
    ///
    /// # Errors
    /// If the rename fails.
    pub async fn finish(mut self) -> std::io::Result<()> {
        tokio::fs::rename(&self.tmp, &self.done).await?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Places artifact `src` at `dest` inside a publication: a hard link (no
/// copy) when the filesystem allows, else a copy.
///
/// # Errors
/// If neither works.
pub async fn place(src: PathBuf, dest: PathBuf) -> std::io::Result<()> {
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    match tokio::fs::hard_link(&src, &dest).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => tokio::fs::copy(&src, &dest).await.map(|_| ()),
    }
}

/// Removes the staging directories (`publications/.tmp-<id>/`) of
/// publications whose process died (a SIGKILL leaves them behind) that
/// nothing touched for longer than `older_than`; returns how many. Another
/// host may be building a publication right now, so `older_than` must be
/// well above the longest publish.
///
/// # Errors
/// If `publications/` cannot be listed or a directory cannot be removed.
pub async fn cleanup_staging(
    services: &Services,
    older_than: std::time::Duration,
) -> Result<u64, crate::storage::StoreError> {
    let root = services.store.root().join("publications");
    crate::storage::remove_stale(&root, older_than, |name| name.starts_with(".tmp-")).await
}

/// Removes a deleted publication's files (best effort).
pub async fn remove_publication_files(services: &Services, id: &Uuid) {
    let _ = tokio::fs::remove_file(on_demand_index(services, id)).await;
    let dir = publication_dir(services, id);
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, dir = %dir.display(), "could not remove publication files");
    }
}

/// Fails a task with a storage error.
pub(crate) fn io_fail(what: &str, e: &std::io::Error) -> TaskError {
    TaskError::fail(format!("{what}: {e}"))
}
