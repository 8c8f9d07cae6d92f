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
        .register::<publish::file_publish>()
        .register::<publish::rpm_publish>()
        .register::<repository::modify>()
        .register::<repository::delete_repository>()
        .register::<repository::delete_version>()
        .register::<distributions::distribution_save>()
        .register::<distributions::distribution_delete>()
        .register::<orphans::orphan_cleanup>()
        .register::<copy::copy_content>()
        .register::<upload::rpm_upload>()
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

/// Shared services as an `Arc`, for spawned work.
pub(crate) fn services(ctx: &Ctx) -> Arc<Services> {
    ctx.state_arc()
}
