//! Sync tasks: `file.sync`, `rpm.sync` and `puppet.sync`. A sync reserves
//! its repository exclusively, its remote shared, and `pdrn:orphans` shared.

use serde::{Deserialize, Serialize};
use taskq::{TaskContext, TaskError, task};
use uuid::Uuid;

use crate::services::Services;

/// The repository and the remote (as the plugin's remote type `R`) that a
/// sync task names.
///
/// # Errors
/// A task failure if either is gone or the catalog cannot be read.
pub(crate) async fn load_targets<R>(
    s: &Services,
    repository: &Uuid,
    remote: &Uuid,
) -> Result<(crate::catalog::model::Repository, R), TaskError>
where
    R: crate::catalog::Entity + serde::de::DeserializeOwned,
{
    let repo = s.catalog.require(repository).await.map_err(super::fail)?;
    let remote = s
        .catalog
        .get(remote)
        .await
        .map_err(super::fail)?
        .ok_or_else(|| TaskError::fail("the remote was deleted"))?;
    Ok((repo, remote))
}

/// With `optimize`, whether the repository's last sync had exactly these
/// `details` (the remote's settings and a digest of its metadata, as each
/// plugin records them in `last_sync`); if so, records Pulp's
/// `sync.was_skipped` report, and the caller ends the sync.
///
/// # Errors
/// A task failure if the catalog cannot be read.
pub(crate) async fn skip_unchanged(
    s: &Services,
    repository: &Uuid,
    details: &serde_json::Value,
    options: &SyncOptions,
    progress: &mut super::Progress,
) -> Result<bool, TaskError> {
    if !options.optimize {
        return Ok(false);
    }
    let last = s
        .catalog
        .repo_state_field(repository, "last_sync")
        .await
        .map_err(super::fail)?;
    let unchanged = last
        .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
        .as_ref()
        == Some(details);
    if unchanged {
        progress
            .record(
                "sync.was_skipped",
                "Skipping Sync (no change from previous sync)",
                0,
                "skipped",
            )
            .await;
    }
    Ok(unchanged)
}

/// Options of a sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOptions {
    /// Make the repository exactly what the remote has (remove the rest).
    pub mirror: bool,
    /// Skip the sync when nothing changed since the last one.
    pub optimize: bool,
    /// rpm: content types not to sync (`srpm`, `treeinfo`).
    pub skip_types: Vec<String>,
}

/// Syncs a file repository from a PULP_MANIFEST remote.
#[task(name = "file.sync", queue = "pulp", on_worker_lost = "fail")]
pub async fn file_sync(
    ctx: TaskContext<Services>,
    repository: Uuid,
    remote: Uuid,
    options: SyncOptions,
) -> Result<(), TaskError> {
    super::dispatch::record_if_missing(&ctx, "pulp_file.app.tasks.synchronizing.synchronize").await;
    crate::plugins::file::sync::run(&ctx, repository, remote, &options).await
}

/// Syncs an rpm repository from a yum repository remote.
#[task(name = "rpm.sync", queue = "pulp", on_worker_lost = "fail")]
pub async fn rpm_sync(
    ctx: TaskContext<Services>,
    repository: Uuid,
    remote: Uuid,
    options: SyncOptions,
) -> Result<(), TaskError> {
    super::dispatch::record_if_missing(&ctx, "pulp_rpm.app.tasks.synchronizing.synchronize").await;
    crate::plugins::rpm::sync::run(&ctx, repository, remote, &options).await
}

/// Syncs a puppet repository from a Puppet Forge (v3 API) remote.
#[task(name = "puppet.sync", queue = "pulp", on_worker_lost = "fail")]
pub async fn puppet_sync(
    ctx: TaskContext<Services>,
    repository: Uuid,
    remote: Uuid,
    options: SyncOptions,
) -> Result<(), TaskError> {
    super::dispatch::record_if_missing(&ctx, "pulp_puppet.app.tasks.synchronizing.synchronize")
        .await;
    crate::plugins::puppet::sync::run(&ctx, repository, remote, &options).await
}
