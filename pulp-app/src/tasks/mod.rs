//! Work that runs on worker processes: syncs, publishes, distribution
//! changes, orphan cleanup, content changes. Each is a taskq task (one file
//! per kind of work), dispatched by the API through [`dispatch`] with the
//! resources it reserves, so that only one operation at a time changes a
//! repository anywhere in the cluster.

pub mod copy;
pub mod dispatch;
pub mod distributions;
pub mod orphans;
pub mod progress;
pub mod publish;
pub mod repository;
pub mod settings;
pub mod sync;
pub mod upload;

use std::sync::Arc;

use taskq::TaskError;
use taskq::worker::WorkerBuilder;

pub use dispatch::{Dispatch, dispatch};
pub use progress::{Progress, ProgressReport};

use crate::services::Services;

/// Registers every pulp-app task on a worker.
pub fn register(builder: WorkerBuilder<Services>) -> WorkerBuilder<Services> {
    builder
        .register::<sync::file_sync>()
        .register::<sync::rpm_sync>()
        .register::<sync::puppet_sync>()
        .register::<publish::file_publish>()
        .register::<publish::rpm_publish>()
        .register::<publish::puppet_publish>()
        .register::<repository::modify>()
        .register::<repository::delete_repository>()
        .register::<repository::delete_version>()
        .register::<distributions::distribution_save>()
        .register::<distributions::distribution_delete>()
        .register::<orphans::orphan_cleanup>()
        .register::<copy::copy_content>()
        .register::<upload::rpm_upload>()
        .register::<settings::update_object>()
        .register::<settings::delete_remote>()
}

/// The services of a worker, as tasks receive them.
pub type Ctx = taskq::TaskContext<Services>;

/// Turns any error into a permanent task failure: pulp-app tasks are not
/// retried (a failed sync is re-run by the user, as in Pulp).
pub(crate) fn fail(e: impl std::fmt::Display) -> TaskError {
    TaskError::fail(e.to_string())
}

/// Records what a task created, for its task document.
pub(crate) async fn created(
    ctx: &Ctx,
    resources: Vec<String>,
    result: Option<serde_json::Value>,
) -> Result<(), TaskError> {
    ctx.state()
        .catalog
        .set_task_result(ctx.id().as_str(), resources, result)
        .await
        .map_err(fail)
}

/// Removes what killed processes left on the shared storage: temp files
/// of `tmp/` and unfinished publications, each only once nothing touched
/// it for [`stale_temp_age`](crate::config::Settings::stale_temp_age)
/// (other workers, on other hosts too, may be writing theirs right now).
/// Workers call it when they start. Returns how many entries were removed.
///
/// # Errors
/// If the storage cannot be listed or an entry cannot be removed.
pub async fn cleanup_stale_temp(services: &Services) -> Result<u64, crate::storage::StoreError> {
    let age = services.settings.stale_temp_age;
    let files = services.store.cleanup_tmp(age).await?;
    let publications = publish::cleanup_staging(services, age).await?;
    Ok(files + publications)
}

/// Shared services as an `Arc`, for spawned work.
pub(crate) fn services(ctx: &Ctx) -> Arc<Services> {
    ctx.state_arc()
}
