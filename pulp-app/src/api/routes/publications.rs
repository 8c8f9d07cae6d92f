//! Publications: list (by repository, version, or content their version
//! contains), create (a task), read, delete.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete as delete_route, get, post};
use serde_json::Value;
use uuid::Uuid;

use super::repositories::{load as load_repo, repo_prn};
use super::versions::{ContainsCache, content_filter};
use super::{fields, infix, ok};
use crate::api::AppState;
use crate::api::auth::User;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::{Kind, Route};
use crate::api::params::{ApiPath, Body, Params};
use crate::api::render::{self, parse_href, parse_version_href, select_fields};
use crate::catalog::model::{Distribution, Plugin, Publication};
use crate::catalog::{ListFilter, Page};
use crate::tasks::dispatch::{Dispatch, accepted, dispatch};
use crate::tasks::publish::{RpmPublishOptions, file_publish, puppet_publish, rpm_publish};

crate::api_model! {
    /// What to publish.
    pub(crate) struct PublicationBody {
        repository: Option<String>,
        repository_version: Option<String>,
        manifest: Option<String>,
        checkpoint: Option<bool>,
        checksum_type: Option<String>,
        metadata_checksum_type: Option<String>,
        package_checksum_type: Option<String>,
        layout: Option<String>,
        compression_type: Option<String>,
        repo_config: Option<Value>,
    }
}

pub(super) fn routes(plugin: Plugin) -> Vec<Route> {
    let x = infix(plugin);
    let list_path = format!("/pulp/api/v3/publications/{}/", plugin.path());
    let href = format!("{{{x}_publication_href}}");
    let item = format!("{list_path}{{id}}/");
    vec![
        Route::new(
            "get",
            &list_path,
            &list_path,
            format!("publications_{x}_list"),
            get(move |s, p| list(s, p, plugin)),
        )
        .list(&[
            ("repository", Kind::Str),
            ("repository_version", Kind::Str),
            ("content", Kind::Str),
            ("content__in", Kind::CommaList),
        ]),
        Route::new(
            "post",
            &list_path,
            &list_path,
            format!("publications_{x}_create"),
            post(move |s, u, b| create(s, u, b, plugin)),
        )
        .body::<PublicationBody>()
        .responses(&[202]),
        Route::new(
            "get",
            &href,
            &item,
            format!("publications_{x}_read"),
            get(move |s, id| read(s, id, plugin)),
        )
        .path_param(format!("{x}_publication_href")),
        Route::new(
            "delete",
            &href,
            &item,
            format!("publications_{x}_delete"),
            delete_route(move |s, id| remove(s, id, plugin)),
        )
        .path_param(format!("{x}_publication_href"))
        .responses(&[204]),
    ]
}

/// Hrefs of the distributions serving a publication.
async fn serving(state: &AppState, p: &Publication) -> ApiResult<Vec<String>> {
    let all = state.catalog.load_all::<Distribution>(p.plugin).await?;
    Ok(all
        .iter()
        .filter(|d| d.publication == Some(p.id))
        .map(|d| render::distribution_href(d.plugin, &d.id))
        .collect())
}

async fn list(
    State(state): State<AppState>,
    params: Params,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let (offset, limit) = params.page()?;
    let repo = params
        .get("repository")
        .and_then(|h| parse_href(h, "repositories", plugin));
    let version = params
        .get("repository_version")
        .and_then(|h| parse_version_href(h, plugin));
    if params.get("repository").is_some() && repo.is_none() {
        return Err(ApiError::field("repository", "Invalid hyperlink."));
    }
    let filter = ListFilter {
        name: None,
        predicate: Box::new(move |p: &Publication| {
            repo.is_none_or(|r| p.repository == r)
                && version.is_none_or(|(r, n)| p.repository == r && p.version == n)
        }),
    };
    let content = content_filter(&params)?;
    let page = match content {
        None => state.catalog.list(plugin, &filter, offset, limit).await?,
        Some(refs) => {
            let all = state.catalog.list(plugin, &filter, 0, usize::MAX).await?;
            let mut cache = ContainsCache::new(&state, refs);
            let mut items = Vec::new();
            for p in all.items {
                if cache.contains(p.repository, p.version).await? {
                    items.push(p);
                }
            }
            Page {
                count: items.len() as u64,
                items: items.into_iter().skip(offset).take(limit).collect(),
            }
        }
    };
    let (sel, exclude) = fields(&params);
    let mut results = Vec::new();
    for p in &page.items {
        results.push(select_fields(
            render::publication(p, serving(&state, p).await?),
            &sel,
            &exclude,
        ));
    }
    Ok(ok(params.paginated(page.count, results)))
}

async fn create(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Body(body): Body<PublicationBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    if body.checkpoint == Some(true) {
        return Err(ApiError::field(
            "checkpoint",
            "Checkpoint publications are not supported.",
        ));
    }
    let (repo, version) = match (&body.repository_version, &body.repository) {
        (Some(vh), _) => {
            let (r, n) = parse_version_href(vh, plugin).ok_or_else(|| {
                ApiError::field("repository_version", "Invalid hyperlink - No URL match.")
            })?;
            let repo = load_repo(&state, &r.to_string(), plugin)
                .await
                .map_err(|_| {
                    ApiError::field(
                        "repository_version",
                        "Invalid hyperlink - Object does not exist.",
                    )
                })?;
            (repo, Some(n))
        }
        (None, Some(rh)) => {
            let r = parse_href(rh, "repositories", plugin).ok_or_else(|| {
                ApiError::field("repository", "Invalid hyperlink - No URL match.")
            })?;
            let repo = load_repo(&state, &r.to_string(), plugin)
                .await
                .map_err(|_| {
                    ApiError::field("repository", "Invalid hyperlink - Object does not exist.")
                })?;
            (repo, None)
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "Either the 'repository' or 'repository_version' need to be specified",
            ));
        }
    };
    let number = match version {
        Some(n) => n,
        None => state.catalog.latest_version(&repo.id).await?,
    };
    if state
        .catalog
        .version(crate::catalog::VersionRef {
            repository: repo.id,
            number,
        })
        .await?
        .is_none()
    {
        return Err(ApiError::field(
            "repository_version",
            "Invalid hyperlink - Object does not exist.",
        ));
    }
    let (name, call) = match plugin {
        Plugin::File => {
            let manifest = body
                .manifest
                .or(repo.manifest.clone())
                .unwrap_or_else(|| "PULP_MANIFEST".to_owned());
            if manifest.is_empty() || manifest.contains('/') || manifest.starts_with('.') {
                return Err(ApiError::field("manifest", "Enter a plain file name."));
            }
            (
                "pulp_file.app.tasks.publishing.publish",
                file_publish::call(repo.id, number, manifest).into_raw()?,
            )
        }
        Plugin::Rpm => {
            let defaults = repo.rpm.clone().unwrap_or_default();
            let checksum = body
                .checksum_type
                .or(body.package_checksum_type)
                .or(body.metadata_checksum_type)
                .or(defaults.checksum_type)
                .unwrap_or_else(|| "sha256".to_owned());
            if !["sha1", "sha224", "sha256", "sha384", "sha512"].contains(&checksum.as_str()) {
                return Err(ApiError::field(
                    "checksum_type",
                    format!("\"{checksum}\" is not a valid choice."),
                ));
            }
            let options = RpmPublishOptions {
                checksum_type: checksum,
                layout: body.layout.unwrap_or(defaults.layout),
                compression_type: body
                    .compression_type
                    .or(defaults.compression_type)
                    .unwrap_or_else(|| "gz".to_owned()),
                repo_config: body.repo_config.unwrap_or(defaults.repo_config),
            };
            (
                "pulp_rpm.app.tasks.publishing.publish",
                rpm_publish::call(repo.id, number, options).into_raw()?,
            )
        }
        Plugin::Puppet => (
            "pulp_puppet.app.tasks.publishing.publish",
            puppet_publish::call(repo.id, number).into_raw()?,
        ),
    };
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name,
            call,
            exclusive: vec![],
            shared: vec![repo_prn(&repo)],
        },
    )
    .await?;
    Ok(accepted(&task))
}

async fn load(state: &AppState, id: &str, plugin: Plugin) -> ApiResult<Publication> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found("Publication"))?;
    match state.catalog.get::<Publication>(&id).await? {
        Some(p) if p.plugin == plugin => Ok(p),
        _ => Err(ApiError::not_found("Publication")),
    }
}

async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let p = load(&state, &id, plugin).await?;
    Ok(ok(render::publication(&p, serving(&state, &p).await?)))
}

async fn remove(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    plugin: Plugin,
) -> ApiResult<StatusCode> {
    let p = load(&state, &id, plugin).await?;
    // Distributions that served it stop serving it.
    for mut d in state.catalog.load_all::<Distribution>(plugin).await? {
        if d.publication == Some(p.id) {
            let old = d.clone();
            d.publication = None;
            state.catalog.save_distribution(Some(&old), &d).await?;
        }
    }
    state.catalog.delete_publication(&p).await?;
    crate::tasks::publish::remove_publication_files(&state, &p.id).await;
    Ok(StatusCode::NO_CONTENT)
}
