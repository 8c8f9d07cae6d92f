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

/// The `fields` / `exclude_fields` selection of a listing.
pub(crate) fn fields(params: &super::params::Params) -> (Vec<String>, Vec<String>) {
    (params.list("fields"), params.list("exclude_fields"))
}
