//! Distribution tasks: create or update, and delete.

use taskq::{TaskContext, TaskError, task};
use uuid::Uuid;

use super::{created, fail};
use crate::api::render;
use crate::catalog::model::Distribution;
use crate::services::Services;

/// Saves a distribution (created, or updated when `update`).
#[task(
    name = "core.distribution_save",
    queue = "pulp",
    on_worker_lost = "fail"
)]
pub async fn distribution_save(
    ctx: TaskContext<Services>,
    distribution: Distribution,
    update: bool,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let old = if update {
        Some(
            s.catalog
                .require::<Distribution>(&distribution.id)
                .await
                .map_err(fail)?,
        )
    } else {
        None
    };
    s.catalog
        .save_distribution(old.as_ref(), &distribution)
        .await
        .map_err(fail)?;
    let href = render::distribution_href(distribution.plugin, &distribution.id);
    let rendered = render::distribution(&distribution, &s.settings.content_origin);
    let resources = if update { Vec::new() } else { vec![href] };
    created(&ctx, resources, Some(rendered)).await
}

/// Deletes a distribution.
#[task(
    name = "core.distribution_delete",
    queue = "pulp",
    on_worker_lost = "fail"
)]
pub async fn distribution_delete(
    ctx: TaskContext<Services>,
    distribution: Uuid,
) -> Result<(), TaskError> {
    let s = ctx.state();
    if let Some(d) = s
        .catalog
        .get::<Distribution>(&distribution)
        .await
        .map_err(fail)?
    {
        s.catalog.delete_distribution(&d).await.map_err(fail)?;
    }
    created(&ctx, Vec::new(), None).await
}
