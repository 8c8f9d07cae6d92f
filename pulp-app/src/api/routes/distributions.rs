//! Distributions: list, create, read, partial update, delete. Changes run
//! as tasks (as in Pulp); the request is validated first so that mistakes
//! get a 400 at once.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::routing::{delete as delete_route, get, patch, post};
use chrono::Utc;
use uuid::Uuid;

use super::remotes::name_filter;
use super::repositories::content_refs;
use super::versions::ContainsCache;
use super::{check_name, fields, infix, ok};
use crate::api::AppState;
use crate::api::auth::User;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::{Kind, Route};
use crate::api::params::{ApiPath, Body, Params};
use crate::api::render::{self, parse_href, parse_version_href, select_fields};
use crate::catalog::Page;
use crate::catalog::model::{Distribution, Plugin, Publication, Repository};
use crate::tasks::dispatch::{Dispatch, accepted, dispatch};
use crate::tasks::distributions::{distribution_delete, distribution_save};

crate::api_model! {
    /// Fields of a distribution (create and partial update).
    pub(crate) struct DistributionBody {
        name: Option<String>,
        base_path: Option<String>,
        publication: Option<String>,
        repository: Option<String>,
        repository_version: Option<String>,
        content_guard: Option<String>,
        hidden: Option<bool>,
        pulp_labels: Option<BTreeMap<String, String>>,
        generate_repo_config: Option<bool>,
        checkpoint: Option<bool>,
    }
}

pub(super) fn routes(plugin: Plugin) -> Vec<Route> {
    let x = infix(plugin);
    let list_path = format!("/pulp/api/v3/distributions/{}/", plugin.path());
    let href = format!("{{{x}_distribution_href}}");
    let item = format!("{list_path}{{id}}/");
    let param = format!("{x}_distribution_href");
    vec![
        Route::new(
            "get",
            &list_path,
            &list_path,
            format!("distributions_{x}_list"),
            get(move |s, p| list(s, p, plugin)),
        )
        .list(&[
            ("name", Kind::Str),
            ("name__in", Kind::CommaList),
            ("name__contains", Kind::Str),
            ("name__icontains", Kind::Str),
            ("name__startswith", Kind::Str),
            ("base_path", Kind::Str),
            ("base_path__contains", Kind::Str),
            ("base_path__icontains", Kind::Str),
            ("base_path__in", Kind::CommaList),
            ("pulp_label_select", Kind::Str),
            ("repository", Kind::Str),
            ("with_content", Kind::Str),
        ]),
        Route::new(
            "post",
            &list_path,
            &list_path,
            format!("distributions_{x}_create"),
            post(move |s, u, b| create(s, u, b, plugin)),
        )
        .body::<DistributionBody>()
        .responses(&[202]),
        Route::new(
            "get",
            &href,
            &item,
            format!("distributions_{x}_read"),
            get(move |s, id| read(s, id, plugin)),
        )
        .path_param(&param),
        Route::new(
            "patch",
            &href,
            &item,
            format!("distributions_{x}_partial_update"),
            patch(move |s, u, id, b| update(s, u, id, b, plugin)),
        )
        .path_param(&param)
        .body::<DistributionBody>()
        .responses(&[202]),
        Route::new(
            "delete",
            &href,
            &item,
            format!("distributions_{x}_delete"),
            delete_route(move |s, u, id| remove(s, u, id, plugin)),
        )
        .path_param(&param)
        .responses(&[202]),
    ]
}

async fn list(
    State(state): State<AppState>,
    params: Params,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let (offset, limit) = params.page()?;
    let mut filter = name_filter::<Distribution>(&params, |d| &d.name, |d| &d.pulp_labels);
    let bp = params.get("base_path").map(str::to_owned);
    let bp_contains = params.get("base_path__contains").map(str::to_owned);
    let bp_icontains = params.get("base_path__icontains").map(str::to_lowercase);
    let bp_in = params.list("base_path__in");
    let repo = params
        .get("repository")
        .and_then(|h| parse_href(h, "repositories", plugin));
    let inner = filter.predicate;
    filter.predicate = Box::new(move |d: &Distribution| {
        inner(d)
            && bp.as_ref().is_none_or(|b| &d.base_path == b)
            && bp_contains
                .as_ref()
                .is_none_or(|b| d.base_path.contains(b.as_str()))
            && bp_icontains
                .as_ref()
                .is_none_or(|b| d.base_path.to_lowercase().contains(b.as_str()))
            && (bp_in.is_empty() || bp_in.iter().any(|b| b == &d.base_path))
            && repo.is_none_or(|r| d.repository == Some(r))
    });
    let page = match params.get("with_content") {
        None => state.catalog.list(plugin, &filter, offset, limit).await?,
        Some(href) => {
            let refs = content_refs("with_content", &[href.to_owned()])?;
            let all = state.catalog.list(plugin, &filter, 0, usize::MAX).await?;
            let mut cache = ContainsCache::new(&state, refs);
            let mut items = Vec::new();
            for d in all.items {
                if let Some(p) = served_publication(&state, &d).await?
                    && cache.contains(p.repository, p.version).await?
                {
                    items.push(d);
                }
            }
            Page {
                count: items.len() as u64,
                items: items.into_iter().skip(offset).take(limit).collect(),
            }
        }
    };
    let (sel, exclude) = fields(&params);
    let results = page
        .items
        .iter()
        .map(|d| {
            select_fields(
                render::distribution(d, &state.settings.content_origin),
                &sel,
                &exclude,
            )
        })
        .collect();
    Ok(ok(params.paginated(page.count, results)))
}

/// The publication a distribution serves now (as the content app picks
/// it): its own, else the newest of its repository, else the newest of its
/// pinned version; `with_content` matches what that publication's version
/// contains.
async fn served_publication(state: &AppState, d: &Distribution) -> ApiResult<Option<Publication>> {
    if let Some(id) = d.publication {
        return Ok(state.catalog.get::<Publication>(&id).await?);
    }
    let (repo, version) = match (d.repository, d.repository_version) {
        (Some(r), _) => (r, None),
        (None, Some((r, n))) => (r, Some(n)),
        (None, None) => return Ok(None),
    };
    let pubs = state.catalog.repository_publications(&repo).await?;
    Ok(pubs
        .into_iter()
        .find(|p| version.is_none_or(|n| p.version == n)))
}

/// Checks a base path: relative, no empty, `.` or `..` segments, plain characters.
fn check_base_path(bp: &str) -> ApiResult<String> {
    let bp = bp.trim_matches('/');
    let ok_chars = bp
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./~+".contains(c));
    if bp.is_empty() || !ok_chars || bp.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(ApiError::field(
            "base_path",
            "Enter a relative path of letters, digits and -_.~+ segments.",
        ));
    }
    Ok(bp.to_owned())
}

/// Applies `b` to `d`, checking that what it points at exists.
async fn apply(state: &AppState, d: &mut Distribution, b: DistributionBody) -> ApiResult<()> {
    if let Some(n) = b.name {
        d.name = check_name("name", Some(&n))?;
    }
    if let Some(bp) = b.base_path {
        d.base_path = check_base_path(&bp)?;
    }
    if b.checkpoint == Some(true) {
        return Err(ApiError::field(
            "checkpoint",
            "Checkpoint distributions are not supported.",
        ));
    }
    if b.content_guard.is_some() {
        return Err(ApiError::field(
            "content_guard",
            "Content guards are not supported.",
        ));
    }
    let plugin = d.plugin;
    let given = [&b.publication, &b.repository, &b.repository_version]
        .iter()
        .filter(|v| v.as_deref().is_some_and(|s| !s.is_empty()))
        .count();
    if given > 1 {
        return Err(ApiError::bad_request(
            "Only one of the attributes 'repository', 'repository_version' and 'publication' may be used simultaneously.",
        ));
    }
    let touched =
        b.publication.is_some() || b.repository.is_some() || b.repository_version.is_some();
    if touched {
        d.publication = None;
        d.repository = None;
        d.repository_version = None;
    }
    if let Some(h) = b.publication.filter(|s| !s.is_empty()) {
        let id = parse_href(&h, "publications", plugin)
            .ok_or_else(|| ApiError::field("publication", "Invalid hyperlink - No URL match."))?;
        state
            .catalog
            .get::<Publication>(&id)
            .await?
            .ok_or_else(|| {
                ApiError::field("publication", "Invalid hyperlink - Object does not exist.")
            })?;
        d.publication = Some(id);
    }
    if let Some(h) = b.repository.filter(|s| !s.is_empty()) {
        let id = parse_href(&h, "repositories", plugin)
            .ok_or_else(|| ApiError::field("repository", "Invalid hyperlink - No URL match."))?;
        state.catalog.get::<Repository>(&id).await?.ok_or_else(|| {
            ApiError::field("repository", "Invalid hyperlink - Object does not exist.")
        })?;
        d.repository = Some(id);
    }
    if let Some(h) = b.repository_version.filter(|s| !s.is_empty()) {
        let (r, n) = parse_version_href(&h, plugin).ok_or_else(|| {
            ApiError::field("repository_version", "Invalid hyperlink - No URL match.")
        })?;
        state
            .catalog
            .version(crate::catalog::VersionRef {
                repository: r,
                number: n,
            })
            .await?
            .ok_or_else(|| {
                ApiError::field(
                    "repository_version",
                    "Invalid hyperlink - Object does not exist.",
                )
            })?;
        d.repository_version = Some((r, n));
    }
    if let Some(h) = b.hidden {
        d.hidden = h;
    }
    if let Some(l) = b.pulp_labels {
        d.pulp_labels = l;
    }
    if let Some(g) = b.generate_repo_config {
        d.generate_repo_config = g && plugin == Plugin::Rpm;
    }
    Ok(())
}

/// Early uniqueness checks, for a 400 now rather than a failed task later
/// (the task's atomic save remains the real guard).
async fn precheck(state: &AppState, old: Option<&Distribution>, d: &Distribution) -> ApiResult<()> {
    if old.is_none_or(|o| o.name != d.name)
        && state
            .catalog
            .id_by_name::<Distribution>(d.plugin, &d.name)
            .await?
            .is_some()
    {
        return Err(ApiError::field("name", "This field must be unique."));
    }
    if old.is_none_or(|o| o.base_path != d.base_path) {
        for (bp, id) in state.catalog.base_paths().await? {
            if old.is_some_and(|o| o.id == id) {
                continue;
            }
            if bp == d.base_path {
                return Err(ApiError::field("base_path", "This field must be unique."));
            }
            if d.base_path.starts_with(&format!("{bp}/"))
                || bp.starts_with(&format!("{}/", d.base_path))
            {
                return Err(ApiError::field(
                    "base_path",
                    format!("Overlaps with an existing distribution at {bp:?}."),
                ));
            }
        }
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Body(body): Body<DistributionBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let name = check_name("name", body.name.as_deref())?;
    let base_path = check_base_path(
        body.base_path
            .as_deref()
            .ok_or_else(|| ApiError::required("base_path"))?,
    )?;
    let now = Utc::now();
    let mut d = Distribution {
        id: Uuid::now_v7(),
        plugin,
        created: now,
        updated: now,
        name,
        base_path,
        publication: None,
        repository: None,
        repository_version: None,
        hidden: false,
        pulp_labels: BTreeMap::new(),
        generate_repo_config: false,
    };
    apply(&state, &mut d, body).await?;
    precheck(&state, None, &d).await?;
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.base.general_create",
            call: distribution_save::call(d, false).into_raw()?,
            exclusive: vec![],
            shared: vec![],
        },
    )
    .await?;
    Ok(accepted(&task))
}

async fn load(state: &AppState, id: &str, plugin: Plugin) -> ApiResult<Distribution> {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::not_found("Distribution"))?;
    match state.catalog.get::<Distribution>(&id).await? {
        Some(d) if d.plugin == plugin => Ok(d),
        _ => Err(ApiError::not_found("Distribution")),
    }
}

fn prn(d: &Distribution) -> String {
    format!("prn:{}:{}", d.plugin.prn_model("distribution"), d.id)
}

async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let d = load(&state, &id, plugin).await?;
    Ok(ok(render::distribution(&d, &state.settings.content_origin)))
}

async fn update(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath(id): ApiPath<String>,
    Body(body): Body<DistributionBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let old = load(&state, &id, plugin).await?;
    let mut d = old.clone();
    apply(&state, &mut d, body).await?;
    d.updated = Utc::now();
    precheck(&state, Some(&old), &d).await?;
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.base.general_update",
            call: distribution_save::call(d, true).into_raw()?,
            exclusive: vec![prn(&old)],
            shared: vec![],
        },
    )
    .await?;
    Ok(accepted(&task))
}

async fn remove(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath(id): ApiPath<String>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let d = load(&state, &id, plugin).await?;
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.base.general_delete",
            call: distribution_delete::call(d.id).into_raw()?,
            exclusive: vec![prn(&d)],
            shared: vec![],
        },
    )
    .await?;
    Ok(accepted(&task))
}
