//! rpm-only operations: copying content between repositories and package
//! uploads.

use axum::Extension;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::routing::post;
use serde_json::{Value, json};

use super::repositories::{content_refs, load as load_repo, repo_prn};
use crate::api::AppState;
use crate::api::auth::User;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::Route;
use crate::api::params::{Body, Form};
use crate::api::render::{self, parse_href, parse_version_href};
use crate::catalog::model::Plugin;
use crate::checksum::Sha256Digest;
use crate::plugins::rpm::upload::{UploadError, create_package};
use crate::storage::Expected;
use crate::tasks::copy::{CopyStep, copy_content};
use crate::tasks::dispatch::{Dispatch, ORPHANS, accepted, dispatch};
use crate::tasks::upload::rpm_upload;

/// Largest package upload accepted.
const MAX_UPLOAD: u64 = 4 * 1024 * 1024 * 1024;

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
        Route::new(
            "post",
            "/pulp/api/v3/content/rpm/packages/",
            "/pulp/api/v3/content/rpm/packages/",
            "content_rpm_packages_create",
            post(upload_task).layer(DefaultBodyLimit::disable()),
        )
        .multipart(upload_schema())
        .responses(&[202]),
        Route::new(
            "post",
            "/pulp/api/v3/content/rpm/packages/upload/",
            "/pulp/api/v3/content/rpm/packages/upload/",
            "content_rpm_packages_upload",
            post(upload_now).layer(DefaultBodyLimit::disable()),
        )
        .multipart(upload_schema())
        .responses(&[201]),
    ]
}

/// The form of a package upload, as pulp-cli sends it.
fn upload_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "relative_path": {"type": "string"},
            "repository": {"type": "string"},
        },
    })
}

/// A received upload: the file (now an artifact) and the other fields.
struct Upload {
    artifact: Sha256Digest,
    relative_path: Option<String>,
    repository: Option<String>,
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::from_status(
        e.status(),
        format!("Invalid multipart body: {}", e.body_text()),
    )
}

/// Reads the multipart form, streaming `file` into the store.
async fn receive(state: &AppState, mut form: Multipart) -> ApiResult<Upload> {
    let mut artifact = None;
    let mut relative_path = None;
    let mut repository = None;
    while let Some(mut field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        match field.name().unwrap_or("") {
            "file" => {
                let mut writer = state
                    .store
                    .begin_write(Expected::default().with_max_size(MAX_UPLOAD))
                    .await
                    .map_err(|e| ApiError::internal(&e))?;
                while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
                    writer.write_chunk(&chunk).await.map_err(|e| match e {
                        crate::storage::StoreError::TooLarge { max } => {
                            ApiError::field("file", format!("Larger than {max} bytes."))
                        }
                        other => ApiError::internal(&other),
                    })?;
                }
                let stored = writer.finish().await.map_err(|e| ApiError::internal(&e))?;
                artifact = Some(stored.sha256);
            }
            "relative_path" => {
                relative_path = Some(field.text().await.map_err(|e| multipart_error(&e))?);
            }
            "repository" => {
                repository = Some(field.text().await.map_err(|e| multipart_error(&e))?);
            }
            name @ ("upload" | "artifact") => {
                return Err(ApiError::field(
                    name,
                    "Only direct file uploads are supported; send the package as `file`.",
                ));
            }
            _ => {}
        }
    }
    Ok(Upload {
        artifact: artifact.ok_or_else(|| ApiError::required("file"))?,
        relative_path: relative_path.filter(|p| !p.is_empty()),
        repository: repository.filter(|r| !r.is_empty()),
    })
}

/// `POST content/rpm/packages/`: creates the package in a task and, with
/// `repository`, adds it in a new version (202).
async fn upload_task(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Form(form): Form,
) -> ApiResult<super::Json> {
    let upload = receive(&state, form).await?;
    if let Some(p) = &upload.relative_path {
        crate::relpath::safe_relative_path(p)
            .map_err(|e| ApiError::field("relative_path", e.to_string()))?;
    }
    let repo = match &upload.repository {
        Some(href) => {
            let id = parse_href(href, "repositories", Plugin::Rpm).ok_or_else(|| {
                ApiError::field("repository", "Invalid hyperlink - No URL match.")
            })?;
            Some(
                load_repo(&state, &id.to_string(), Plugin::Rpm)
                    .await
                    .map_err(|_| {
                        ApiError::field("repository", "Invalid hyperlink - Object does not exist.")
                    })?,
            )
        }
        None => None,
    };
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.base.general_create",
            call: rpm_upload::call(
                upload.artifact.to_hex(),
                upload.relative_path,
                repo.as_ref().map(|r| r.id),
            )
            .into_raw()?,
            exclusive: repo.iter().map(repo_prn).collect(),
            shared: vec![ORPHANS.to_owned()],
        },
    )
    .await?;
    Ok(accepted(&task))
}

/// `POST content/rpm/packages/upload/`: creates the package at once (201).
async fn upload_now(State(state): State<AppState>, Form(form): Form) -> ApiResult<super::Json> {
    let upload = receive(&state, form).await?;
    if upload.repository.is_some() {
        return Err(ApiError::field(
            "repository",
            "Not accepted here; POST to /pulp/api/v3/content/rpm/packages/ to add to a repository.",
        ));
    }
    let record = create_package(&state, &upload.artifact, upload.relative_path.as_deref())
        .await
        .map_err(|e| match e {
            UploadError::NotAnRpm(_) | UploadError::RelativePath(_) => {
                ApiError::bad_request(crate::plugins::rpm::report(&e))
            }
            other => ApiError::internal(&other),
        })?;
    Ok(super::created(render::content(&record)))
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
    shared.sort();
    shared.dedup();
    shared.push(ORPHANS.to_owned());
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
