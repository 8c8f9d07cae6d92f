//! rpm-only operations: copying content between repositories and package
//! uploads.

use axum::Extension;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

use super::repositories::{content_refs, load as load_repo, repo_prn};
use crate::api::AppState;
use crate::api::auth::User;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::Route;
use crate::api::params::Body;
use crate::api::render::{parse_href, parse_version_href};
use crate::catalog::model::Plugin;
use crate::tasks::copy::{CopyStep, copy_content};
use crate::tasks::dispatch::{Dispatch, accepted, dispatch};

crate::api_model! {
    /// What to copy where (pulp_rpm's `config`).
    pub(crate) struct CopyBody {
        config: Option<Vec<Value>>,
        dependency_solving: Option<bool>,
    }
}

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route::new(
            "post",
            "/pulp/api/v3/rpm/copy/",
            "/pulp/api/v3/rpm/copy/",
            "copy_content",
            post(copy),
        )
        .body::<CopyBody>()
        .responses(&[202]),
    ]
}

async fn copy(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Body(body): Body<CopyBody>,
) -> ApiResult<super::Json> {
    if body.dependency_solving == Some(true) {
        return Err(ApiError::field(
            "dependency_solving",
            "Dependency solving is not supported; copy the packages you need (dependency_solving=false).",
        ));
    }
    let config = body.config.ok_or_else(|| ApiError::required("config"))?;
    if config.is_empty() {
        return Err(ApiError::field(
            "config",
            "Give at least one source and destination.",
        ));
    }
    let mut steps = Vec::new();
    let mut exclusive = Vec::new();
    let mut shared = Vec::new();
    for entry in &config {
        let text = |k: &str| entry.get(k).and_then(Value::as_str);
        let (src_repo, src_version) =
            parse_version_href(text("source_repo_version").unwrap_or(""), Plugin::Rpm).ok_or_else(
                || {
                    ApiError::field(
                        "config",
                        "source_repo_version must be an rpm repository version href",
                    )
                },
            )?;
        let dest = parse_href(text("dest_repo").unwrap_or(""), "repositories", Plugin::Rpm)
            .ok_or_else(|| ApiError::field("config", "dest_repo must be an rpm repository href"))?;
        let src = load_repo(&state, &src_repo.to_string(), Plugin::Rpm).await?;
        let dst = load_repo(&state, &dest.to_string(), Plugin::Rpm).await?;
        let content: Option<Vec<String>> =
            entry.get("content").and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            });
        let content = match content {
            Some(hrefs) => Some(content_refs("config", &hrefs)?),
            None => None,
        };
        shared.push(repo_prn(&src));
        exclusive.push(repo_prn(&dst));
        steps.push(CopyStep {
            source: src.id,
            source_version: src_version,
            dest: dst.id,
            content,
        });
    }
    exclusive.sort();
    exclusive.dedup();
    shared.retain(|s| !exclusive.contains(s));
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulp_rpm.app.tasks.copy.copy_content",
            call: copy_content::call(steps).into_raw()?,
            exclusive,
            shared,
        },
    )
    .await?;
    Ok(accepted(&task))
}
