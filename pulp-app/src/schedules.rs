//! Scheduled syncs: beat schedules whose task is the repository's sync,
//! with the same reservations as a sync dispatched through the API.
//!
//! `pulp-app schedule add --repository <name> --cron "0 0 3 * * *"` stores
//! one; any number of `pulp-app beat` processes (and `dev`) fire it, each
//! occurrence exactly once. The sync then shows in `pulp task list` like any
//! other (its bookkeeping is recorded when it starts), and the schedule
//! keeps its last outcome and consecutive failures.

use taskq::beat::{Schedule, ScheduleEntry, Schedules, When};
use uuid::Uuid;

use crate::catalog::model::{Plugin, Repository};
use crate::services::Services;
use crate::tasks::sync::{SyncOptions, file_sync, puppet_sync, rpm_sync};

/// Why a schedule could not be saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// No repository of that plugin has that name.
    #[error("no {plugin} repository named {name:?}")]
    NoRepository {
        /// The plugin.
        plugin: &'static str,
        /// The name.
        name: String,
    },
    /// The repository has no default remote to sync from.
    #[error("repository {0:?} has no remote; set one first (pulp ... repository update --remote)")]
    NoRemote(String),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// taskq refused the schedule (bad timing, name, ...).
    #[error(transparent)]
    Taskq(#[from] taskq::Error),
}

/// The PRN used as a reservation and shown in `reserved_resources_record`.
fn prn(plugin: Plugin, model: &str, id: &Uuid) -> String {
    format!("prn:{}:{id}", plugin.prn_model(model))
}

/// Saves (creates or replaces) a schedule that syncs `repository`.
///
/// # Errors
/// [`ScheduleError`] naming what is wrong.
pub async fn put_sync_schedule(
    services: &Services,
    name: &str,
    plugin: Plugin,
    repository: &str,
    when: When,
    mirror: bool,
    failure_threshold: Option<u32>,
) -> Result<(), ScheduleError> {
    let id = services
        .catalog
        .id_by_name::<Repository>(plugin, repository)
        .await?
        .ok_or_else(|| ScheduleError::NoRepository {
            plugin: plugin.name(),
            name: repository.to_owned(),
        })?;
    let repo: Repository = services.catalog.require(&id).await?;
    let remote = repo
        .remote
        .ok_or_else(|| ScheduleError::NoRemote(repo.name.clone()))?;
    let options = SyncOptions {
        mirror,
        optimize: true,
        skip_types: Vec::new(),
    };
    let mut call = match plugin {
        Plugin::File => file_sync::call(repo.id, remote, options).into_raw()?,
        Plugin::Rpm => rpm_sync::call(repo.id, remote, options).into_raw()?,
        Plugin::Puppet => puppet_sync::call(repo.id, remote, options).into_raw()?,
    };
    call.options.on_worker_lost = taskq::OnWorkerLost::Fail;
    call.options.result_ttl = services.settings.task_result_ttl;
    call.options.resources.push(taskq::Resource::exclusive(prn(
        plugin,
        "repository",
        &repo.id,
    )));
    call.options
        .resources
        .push(taskq::Resource::shared(prn(plugin, "remote", &remote)));
    call.options
        .resources
        .push(taskq::Resource::shared(crate::tasks::dispatch::ORPHANS));
    call.options
        .headers
        .insert("pulp.created_by".to_owned(), format!("beat:{name}"));
    let mut schedule = Schedule::new(name, when, call);
    schedule.failure_threshold = failure_threshold;
    Schedules::new(&services.broker).put(&schedule).await?;
    Ok(())
}

/// Every schedule.
///
/// # Errors
/// Redis errors.
pub async fn list(services: &Services) -> Result<Vec<ScheduleEntry>, ScheduleError> {
    Ok(Schedules::new(&services.broker).list().await?)
}

/// Deletes a schedule; returns whether it existed.
///
/// # Errors
/// Redis errors.
pub async fn delete(services: &Services, name: &str) -> Result<bool, ScheduleError> {
    Ok(Schedules::new(&services.broker).delete(name).await?)
}
