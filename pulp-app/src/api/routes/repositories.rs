//! Repositories: CRUD, sync, modify, and their versions.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::routing::{delete as delete_route, get, patch, post};
use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use super::remotes::dispatch_change;
use super::remotes::name_filter;
use super::versions::{content_filter, number_filter};
use super::{check_name, created, fields, infix, ok};
use crate::api::AppState;
use crate::api::auth::User;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::{Kind, Route};
use crate::api::params::{ApiPath, Body, Params};
use crate::api::render::{self, parse_href, parse_version_href, select_fields};
use crate::catalog::VersionRef;
use crate::catalog::model::{ContentRef, ContentType, Plugin, Remote, Repository, RpmRepoSettings};
use crate::tasks::dispatch::{Dispatch, ORPHANS, accepted, dispatch};
use crate::tasks::{repository as repo_tasks, settings, sync};

crate::api_model! {
    /// Fields of a repository (create and partial update).
    pub(crate) struct RepositoryBody {
        name: Option<String>,
        description: Option<String>,
        remote: Option<String>,
        retain_repo_versions: Option<u64>,
        autopublish: Option<bool>,
        manifest: Option<String>,
        pulp_labels: Option<BTreeMap<String, String>>,
        retain_package_versions: Option<u64>,
        checksum_type: Option<String>,
        metadata_checksum_type: Option<String>,
        package_checksum_type: Option<String>,
        compression_type: Option<String>,
        layout: Option<String>,
        repo_config: Option<Value>,
    }
}

crate::api_model! {
    /// Options of a sync.
    pub(crate) struct SyncBody {
        remote: Option<String>,
        mirror: Option<bool>,
        optimize: Option<bool>,
        sync_policy: Option<String>,
        skip_types: Option<Vec<String>>,
    }
}

crate::api_model! {
    /// Content to add and remove in a new version.
    pub(crate) struct ModifyBody {
        add_content_units: Option<Vec<String>>,
        remove_content_units: Option<Vec<String>>,
        base_version: Option<String>,
    }
}

pub(super) fn routes(plugin: Plugin) -> Vec<Route> {
    let x = infix(plugin);
    let list_path = format!("/pulp/api/v3/repositories/{}/", plugin.path());
    let href = format!("{{{x}_repository_href}}");
    let item = format!("{list_path}{{id}}/");
    let vhref = format!("{{{x}_repository_version_href}}");
    let vitem = format!("{item}versions/{{number}}/");
    let param = format!("{x}_repository_href");
    vec![
        Route::new(
            "get",
            &list_path,
            &list_path,
            format!("repositories_{x}_list"),
            get(move |s, p| list(s, p, plugin)),
        )
        .list(&[
            ("name", Kind::Str),
            ("name__in", Kind::CommaList),
            ("name__contains", Kind::Str),
            ("name__icontains", Kind::Str),
            ("name__startswith", Kind::Str),
            ("pulp_label_select", Kind::Str),
            ("remote", Kind::Str),
        ]),
        Route::new(
            "post",
            &list_path,
            &list_path,
            format!("repositories_{x}_create"),
            post(move |s, b| create(s, b, plugin)),
        )
        .body::<RepositoryBody>()
        .responses(&[201]),
        Route::new(
            "get",
            &href,
            &item,
            format!("repositories_{x}_read"),
            get(move |s, id| read(s, id, plugin)),
        )
        .path_param(&param),
        Route::new(
            "patch",
            &href,
            &item,
            format!("repositories_{x}_partial_update"),
            patch(move |s, u, id, b| update(s, u, id, b, plugin)),
        )
        .path_param(&param)
        .body::<RepositoryBody>()
        .responses(&[202]),
        Route::new(
            "delete",
            &href,
            &item,
            format!("repositories_{x}_delete"),
            delete_route(move |s, u, id| remove(s, u, id, plugin)),
        )
        .path_param(&param)
        .responses(&[202]),
        Route::new(
            "post",
            format!("{href}sync/"),
            format!("{item}sync/"),
            format!("repositories_{x}_sync"),
            post(move |s, u, id, b| sync_repo(s, u, id, b, plugin)),
        )
        .path_param(&param)
        .body::<SyncBody>()
        .responses(&[202]),
        Route::new(
            "post",
            format!("{href}modify/"),
            format!("{item}modify/"),
            format!("repositories_{x}_modify"),
            post(move |s, u, id, b| modify(s, u, id, b, plugin)),
        )
        .path_param(&param)
        .body::<ModifyBody>()
        .responses(&[202]),
        Route::new(
            "get",
            format!("{href}versions/"),
            format!("{item}versions/"),
            format!("repositories_{x}_versions_list"),
            get(move |s, id, p| versions(s, id, p, plugin)),
        )
        .path_param(&param)
        .list(&[
            ("number", Kind::Int),
            ("content", Kind::Str),
            ("content__in", Kind::CommaList),
        ]),
        Route::new(
            "get",
            &vhref,
            &vitem,
            format!("repositories_{x}_versions_read"),
            get(move |s, p| version(s, p, plugin)),
        )
        .path_param(format!("{x}_repository_version_href")),
        Route::new(
            "delete",
            &vhref,
            &vitem,
            format!("repositories_{x}_versions_delete"),
            delete_route(move |s, u, p| delete_version(s, u, p, plugin)),
        )
        .path_param(format!("{x}_repository_version_href"))
        .responses(&[202]),
    ]
}

async fn list(
    State(state): State<AppState>,
    params: Params,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let (offset, limit) = params.page()?;
    let mut filter = name_filter::<Repository>(&params, |r| &r.name, |r| &r.pulp_labels);
    if let Some(remote) = params.get("remote") {
        let remote = parse_href(remote, "remotes", plugin);
        let inner = filter.predicate;
        filter.predicate = Box::new(move |r: &Repository| inner(r) && r.remote == remote);
    }
    let page = state.catalog.list(plugin, &filter, offset, limit).await?;
    let (sel, exclude) = fields(&params);
    let mut results = Vec::with_capacity(page.items.len());
    for r in &page.items {
        results.push(select_fields(
            render::repository(&state.catalog, r).await?,
            &sel,
            &exclude,
        ));
    }
    Ok(ok(params.paginated(page.count, results)))
}

async fn remote_id(state: &AppState, plugin: Plugin, href: &str) -> ApiResult<Uuid> {
    let id = parse_href(href, "remotes", plugin)
        .ok_or_else(|| ApiError::field("remote", "Invalid hyperlink - No URL match."))?;
    state
        .catalog
        .get::<Remote>(&id)
        .await?
        .map(|r| r.id)
        .ok_or_else(|| ApiError::field("remote", "Invalid hyperlink - Object does not exist."))
}

async fn apply(state: &AppState, r: &mut Repository, b: RepositoryBody) -> ApiResult<()> {
    if let Some(n) = b.name {
        r.name = check_name("name", Some(&n))?;
    }
    if b.description.is_some() {
        r.description = b.description;
    }
    if let Some(href) = b.remote {
        r.remote = if href.is_empty() {
            None
        } else {
            Some(remote_id(state, r.plugin, &href).await?)
        };
    }
    if let Some(n) = b.retain_repo_versions {
        if n == 0 {
            return Err(ApiError::field(
                "retain_repo_versions",
                "Ensure this value is greater than or equal to 1.",
            ));
        }
        r.retain_repo_versions = Some(n);
    }
    if let Some(a) = b.autopublish {
        r.autopublish = a;
    }
    if let Some(l) = b.pulp_labels {
        r.pulp_labels = l;
    }
    if let Some(m) = b.manifest {
        if r.plugin != Plugin::File || m.is_empty() || m.contains('/') {
            return Err(ApiError::field("manifest", "Enter a file name."));
        }
        r.manifest = Some(m);
    }
    if let Some(s) = r.rpm.as_mut() {
        if let Some(n) = b.retain_package_versions {
            s.retain_package_versions = n;
        }
        let checksum = b
            .checksum_type
            .or(b.package_checksum_type)
            .or(b.metadata_checksum_type);
        if let Some(c) = checksum {
            if !["sha1", "sha224", "sha256", "sha384", "sha512"].contains(&c.as_str()) {
                return Err(ApiError::field(
                    "checksum_type",
                    format!("\"{c}\" is not a valid choice."),
                ));
            }
            s.checksum_type = Some(c);
        }
        if let Some(c) = b.compression_type {
            if !["gz", "zstd"].contains(&c.as_str()) {
                return Err(ApiError::field(
                    "compression_type",
                    format!("\"{c}\" is not a valid choice."),
                ));
            }
            s.compression_type = Some(c);
        }
        if let Some(l) = b.layout {
            if !["nested_alphabetically", "flat"].contains(&l.as_str()) {
                return Err(ApiError::field(
                    "layout",
                    format!("\"{l}\" is not a valid choice."),
                ));
            }
            s.layout = l;
        }
        if let Some(c) = b.repo_config {
            s.repo_config = c;
        }
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    Body(body): Body<RepositoryBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let name = check_name("name", body.name.as_deref())?;
    let now = Utc::now();
    let mut repo = Repository {
        id: Uuid::now_v7(),
        plugin,
        created: now,
        updated: now,
        name,
        description: None,
        retain_repo_versions: None,
        remote: None,
        autopublish: false,
        manifest: (plugin == Plugin::File).then(|| "PULP_MANIFEST".to_owned()),
        pulp_labels: BTreeMap::new(),
        rpm: (plugin == Plugin::Rpm).then(RpmRepoSettings::default),
    };
    apply(&state, &mut repo, body).await?;
    state.catalog.create_repository(&repo).await?;
    Ok(created(render::repository(&state.catalog, &repo).await?))
}

pub(crate) async fn load(state: &AppState, id: &str, plugin: Plugin) -> ApiResult<Repository> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found("Repository"))?;
    match state.catalog.get::<Repository>(&id).await? {
        Some(r) if r.plugin == plugin => Ok(r),
        _ => Err(ApiError::not_found("Repository")),
    }
}

async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let r = load(&state, &id, plugin).await?;
    Ok(ok(render::repository(&state.catalog, &r).await?))
}

/// Checks the change now (400 on a bad field), then applies it in a task
/// that waits for the repository's running and queued tasks (see
/// [`crate::tasks::settings`]).
async fn update(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath(id): ApiPath<String>,
    Body(body): Body<RepositoryBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let old = load(&state, &id, plugin).await?;
    let mut new = old.clone();
    apply(&state, &mut new, body).await?;
    let prn = repo_prn(&old);
    dispatch_change(&state, &user, settings::Object::Repository, &old, &new, prn).await
}

/// The PRN of a repository, used as its reservation resource.
pub(crate) fn repo_prn(r: &Repository) -> String {
    format!("prn:{}:{}", r.plugin.prn_model("repository"), r.id)
}

async fn remove(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath(id): ApiPath<String>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let r = load(&state, &id, plugin).await?;
    let call = repo_tasks::delete_repository::call(r.id).into_raw()?;
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.base.general_delete",
            call,
            exclusive: vec![repo_prn(&r)],
            shared: vec![],
        },
    )
    .await?;
    Ok(accepted(&task))
}

async fn sync_repo(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath(id): ApiPath<String>,
    Body(body): Body<SyncBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let repo = load(&state, &id, plugin).await?;
    let remote = match body.remote.as_deref() {
        Some(href) => remote_id(&state, plugin, href).await?,
        None => repo
            .remote
            .ok_or_else(|| ApiError::field("remote", "This repository has no remote; pass one."))?,
    };
    let mirror = match body.sync_policy.as_deref() {
        None => body.mirror.unwrap_or(false),
        Some("additive") => false,
        Some("mirror_complete" | "mirror_content_only") => true,
        Some(other) => {
            return Err(ApiError::field(
                "sync_policy",
                format!("\"{other}\" is not a valid choice."),
            ));
        }
    };
    let options = sync::SyncOptions {
        mirror,
        optimize: body.optimize.unwrap_or(true),
        skip_types: body.skip_types.unwrap_or_default(),
    };
    let (name, call) = match plugin {
        Plugin::File => (
            "pulp_file.app.tasks.synchronizing.synchronize",
            sync::file_sync::call(repo.id, remote, options).into_raw()?,
        ),
        Plugin::Rpm => (
            "pulp_rpm.app.tasks.synchronizing.synchronize",
            sync::rpm_sync::call(repo.id, remote, options).into_raw()?,
        ),
        Plugin::Puppet => (
            "pulp_puppet.app.tasks.synchronizing.synchronize",
            sync::puppet_sync::call(repo.id, remote, options).into_raw()?,
        ),
    };
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name,
            call,
            exclusive: vec![repo_prn(&repo)],
            shared: vec![
                format!("prn:{}:{remote}", plugin.prn_model("remote")),
                ORPHANS.to_owned(),
            ],
        },
    )
    .await?;
    Ok(accepted(&task))
}

/// Parses content hrefs of any type into references.
pub(crate) fn content_refs(field: &str, hrefs: &[String]) -> ApiResult<Vec<ContentRef>> {
    hrefs
        .iter()
        .map(|h| {
            ContentType::ALL
                .into_iter()
                .find_map(|kind| {
                    let prefix = format!("{}content/{}/", render::API, kind.href_path());
                    let id = h
                        .strip_prefix(&prefix)?
                        .trim_end_matches('/')
                        .parse()
                        .ok()?;
                    Some(ContentRef { kind, id })
                })
                .ok_or_else(|| ApiError::field(field, format!("Invalid content href: {h}")))
        })
        .collect()
}

async fn modify(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath(id): ApiPath<String>,
    Body(body): Body<ModifyBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let repo = load(&state, &id, plugin).await?;
    let add = content_refs(
        "add_content_units",
        &body.add_content_units.unwrap_or_default(),
    )?;
    let remove_all = body.remove_content_units.as_deref() == Some(&["*".to_owned()][..]);
    let remove = if remove_all {
        Vec::new()
    } else {
        content_refs(
            "remove_content_units",
            &body.remove_content_units.unwrap_or_default(),
        )?
    };
    let found = state.catalog.content(&add).await?;
    if found.len() != add.len() {
        return Err(ApiError::field(
            "add_content_units",
            "Some content units do not exist.",
        ));
    }
    let base = match body.base_version.as_deref() {
        Some(h) => Some(
            parse_version_href(h, plugin)
                .filter(|(r, _)| *r == repo.id)
                .map(|(_, n)| n)
                .ok_or_else(|| {
                    ApiError::field("base_version", "Not a version of this repository.")
                })?,
        ),
        None => None,
    };
    let call = repo_tasks::modify::call(repo.id, add, remove, remove_all, base).into_raw()?;
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.repository.add_and_remove",
            call,
            exclusive: vec![repo_prn(&repo)],
            shared: vec![ORPHANS.to_owned()],
        },
    )
    .await?;
    Ok(accepted(&task))
}

async fn versions(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    params: Params,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let repo = load(&state, &id, plugin).await?;
    let (offset, limit) = params.page()?;
    let (sel, exclude) = fields(&params);
    let number = number_filter(&params)?;
    let content = content_filter(&params)?;
    let (count, numbers) = if number.is_none() && content.is_none() {
        state
            .catalog
            .version_numbers(&repo.id, offset, limit)
            .await?
    } else {
        let mut all = state.catalog.all_version_numbers(&repo.id).await?;
        all.reverse();
        all.retain(|n| number.is_none_or(|want| want == *n));
        if let Some(refs) = content {
            let containing: std::collections::HashSet<u64> = state
                .catalog
                .versions_containing(&repo.id, &refs)
                .await?
                .into_iter()
                .collect();
            all.retain(|n| containing.contains(n));
        }
        let count = all.len() as u64;
        (count, all.into_iter().skip(offset).take(limit).collect())
    };
    let mut results = Vec::with_capacity(numbers.len());
    for n in numbers {
        if let Some(v) = state
            .catalog
            .version(VersionRef {
                repository: repo.id,
                number: n,
            })
            .await?
        {
            results.push(select_fields(render::version(&v), &sel, &exclude));
        }
    }
    Ok(ok(params.paginated(count, results)))
}

async fn version(
    State(state): State<AppState>,
    ApiPath((id, number)): ApiPath<(String, u64)>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let repo = load(&state, &id, plugin).await?;
    let v = state
        .catalog
        .version(VersionRef {
            repository: repo.id,
            number,
        })
        .await?
        .ok_or_else(|| ApiError::not_found("RepositoryVersion"))?;
    Ok(ok(render::version(&v)))
}

async fn delete_version(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath((id, number)): ApiPath<(String, u64)>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let repo = load(&state, &id, plugin).await?;
    state
        .catalog
        .version(VersionRef {
            repository: repo.id,
            number,
        })
        .await?
        .ok_or_else(|| ApiError::not_found("RepositoryVersion"))?;
    let call = repo_tasks::delete_version::call(repo.id, number).into_raw()?;
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.repository.delete_version",
            call,
            exclusive: vec![repo_prn(&repo)],
            shared: vec![],
        },
    )
    .await?;
    Ok(accepted(&task))
}
