//! Every API route, one module per resource.

mod content;
mod distributions;
mod orphans;
mod publications;
mod remotes;
mod repositories;
mod rpm;
mod status;
mod tasks;
mod versions;

use axum::http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::openapi::Route;
use crate::catalog::model::Plugin;

/// All routes of the API.
pub fn all() -> Vec<Route> {
    let mut r = Vec::new();
    r.extend(status::routes());
    r.extend(tasks::routes());
    r.extend(versions::routes());
    r.extend(orphans::routes());
    for plugin in Plugin::ALL {
        r.extend(remotes::routes(plugin));
        r.extend(repositories::routes(plugin));
        r.extend(publications::routes(plugin));
        r.extend(distributions::routes(plugin));
    }
    r.extend(content::routes());
    r.extend(rpm::routes());
    r
}

/// `file_file` / `rpm_rpm` / `puppet_puppet`: the operation-id infix of a plugin.
pub(crate) fn infix(plugin: Plugin) -> String {
    plugin.path().replace('/', "_")
}

/// A JSON response with a status.
pub(crate) type Json = (StatusCode, axum::Json<Value>);

/// 200 with `v`.
pub(crate) fn ok(v: Value) -> Json {
    (StatusCode::OK, axum::Json(v))
}

/// 201 with `v`.
pub(crate) fn created(v: Value) -> Json {
    (StatusCode::CREATED, axum::Json(v))
}

/// Checks a name field.
pub(crate) fn check_name(field: &str, name: Option<&str>) -> Result<String, ApiError> {
    let name = name.ok_or_else(|| ApiError::required(field))?.trim();
    if name.is_empty() {
        return Err(ApiError::field(field, "This field may not be blank."));
    }
    if name.len() > 255 {
        return Err(ApiError::field(
            field,
            "Ensure this field has no more than 255 characters.",
        ));
    }
    Ok(name.to_owned())
}

/// Refuses (409) to change `resource` (a PRN) while a task that reserved it,
/// exclusively or shared, has not finished: Pulp runs such changes as tasks
/// that wait for the reservation; this server changes remotes and
/// repositories at once, so it refuses instead of racing a sync that
/// already read them. `what` names the object in the message.
pub(crate) async fn refuse_if_reserved(
    state: &super::AppState,
    resource: &str,
    what: &str,
) -> Result<(), ApiError> {
    let shared = format!("shared:{resource}");
    let ids = state.catalog.task_ids().await?;
    let metas = futures::future::join_all(ids.iter().map(|id| state.catalog.task(id))).await;
    for (id, meta) in ids.iter().zip(metas) {
        let Some(meta) = meta? else { continue };
        if !meta
            .reserved_resources_record
            .iter()
            .any(|r| r == resource || *r == shared)
        {
            continue;
        }
        let Ok(tid) = taskq::TaskId::new(id.clone()) else {
            continue;
        };
        // No record: not sent yet (a moment) or long finished; not a holder.
        let Some(rec) = state.client.record(&tid).await? else {
            continue;
        };
        let pulp_state = crate::tasks::dispatch::pulp_state(&rec);
        if matches!(pulp_state, "waiting" | "running" | "canceling") {
            return Err(ApiError::conflict(format!(
                "The {what} is in use by task {} ({pulp_state}); try again when it has finished.",
                super::render::task_href(id)
            )));
        }
    }
    Ok(())
}

/// The `fields` / `exclude_fields` selection of a listing.
pub(crate) fn fields(params: &super::params::Params) -> (Vec<String>, Vec<String>) {
    (params.list("fields"), params.list("exclude_fields"))
}
