//! Remotes: list, create, read, partial update, delete. Remotes are read
//! and written as [`PuppetRemote`] documents, so a puppet remote keeps its
//! `includes` (file and rpm remotes have none).

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::routing::{delete as delete_route, get, patch, post};
use chrono::Utc;
use uuid::Uuid;

use super::{check_name, created, fields, infix, ok};
use crate::api::AppState;
use crate::api::auth::User;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::{Kind, Route};
use crate::api::params::{ApiPath, Body, Params};
use crate::api::render::{self, select_fields};
use crate::catalog::ListFilter;
use crate::catalog::model::{Plugin, Policy, PuppetRemote, Remote, RemoteSecrets};
use crate::plugins::puppet::metadata::ModuleSlug;
use crate::tasks::dispatch::{Dispatch, accepted, dispatch};
use crate::tasks::settings;

crate::api_model! {
    /// Fields of a remote (create and partial update).
    pub(crate) struct RemoteBody {
        name: Option<String>,
        url: Option<String>,
        policy: Option<String>,
        pulp_labels: Option<BTreeMap<String, String>>,
        ca_cert: Option<String>,
        client_cert: Option<String>,
        client_key: Option<String>,
        tls_validation: Option<bool>,
        proxy_url: Option<String>,
        proxy_username: Option<String>,
        proxy_password: Option<String>,
        username: Option<String>,
        password: Option<String>,
        max_retries: Option<u32>,
        total_timeout: Option<f64>,
        connect_timeout: Option<f64>,
        sock_connect_timeout: Option<f64>,
        sock_read_timeout: Option<f64>,
        headers: Option<Vec<BTreeMap<String, String>>>,
        download_concurrency: Option<u32>,
        rate_limit: Option<u32>,
        sles_auth_token: Option<String>,
        includes: Option<Vec<String>>,
    }
}

pub(super) fn routes(plugin: Plugin) -> Vec<Route> {
    let x = infix(plugin);
    let list_path = format!("/pulp/api/v3/remotes/{}/", plugin.path());
    let href = format!("{{{x}_remote_href}}");
    let item = format!("{list_path}{{id}}/");
    vec![
        Route::new(
            "get",
            &list_path,
            &list_path,
            format!("remotes_{x}_list"),
            get(move |s, p| list(s, p, plugin)),
        )
        .list(&[
            ("name", Kind::Str),
            ("name__in", Kind::CommaList),
            ("name__contains", Kind::Str),
            ("name__icontains", Kind::Str),
            ("name__startswith", Kind::Str),
            ("pulp_label_select", Kind::Str),
        ]),
        Route::new(
            "post",
            &list_path,
            &list_path,
            format!("remotes_{x}_create"),
            post(move |s, u, b| create(s, u, b, plugin)),
        )
        .body::<RemoteBody>()
        .responses(&[201]),
        Route::new(
            "get",
            &href,
            &item,
            format!("remotes_{x}_read"),
            get(move |s, id| read(s, id, plugin)),
        )
        .path_param(format!("{x}_remote_href")),
        Route::new(
            "patch",
            &href,
            &item,
            format!("remotes_{x}_partial_update"),
            patch(move |s, u, id, b| update(s, u, id, b, plugin)),
        )
        .path_param(format!("{x}_remote_href"))
        .body::<RemoteBody>()
        .responses(&[202]),
        Route::new(
            "delete",
            &href,
            &item,
            format!("remotes_{x}_delete"),
            delete_route(move |s, u, id| remove(s, u, id, plugin)),
        )
        .path_param(format!("{x}_remote_href"))
        .responses(&[202]),
    ]
}

/// The label selector of `pulp_label_select`: `key=value` or `key`, comma-joined.
pub(crate) fn labels_match(labels: &BTreeMap<String, String>, select: Option<&str>) -> bool {
    select.is_none_or(|sel| {
        sel.split(',').all(|term| match term.split_once('=') {
            Some((k, v)) => labels.get(k.trim()).is_some_and(|x| x == v.trim()),
            None => labels.contains_key(term.trim()),
        })
    })
}

/// Name filters shared by every named collection.
pub(crate) fn name_filter<T: 'static>(
    params: &Params,
    name_of: fn(&T) -> &str,
    labels_of: fn(&T) -> &BTreeMap<String, String>,
) -> ListFilter<T> {
    let name_in = params.list("name__in");
    let contains = params.get("name__contains").map(str::to_owned);
    let icontains = params.get("name__icontains").map(str::to_lowercase);
    let starts = params.get("name__startswith").map(str::to_owned);
    let labels = params.get("pulp_label_select").map(str::to_owned);
    ListFilter {
        name: params.get("name").map(str::to_owned),
        predicate: Box::new(move |e: &T| {
            let n = name_of(e);
            (name_in.is_empty() || name_in.iter().any(|x| x == n))
                && contains.as_ref().is_none_or(|c| n.contains(c.as_str()))
                && icontains
                    .as_ref()
                    .is_none_or(|c| n.to_lowercase().contains(c.as_str()))
                && starts.as_ref().is_none_or(|c| n.starts_with(c.as_str()))
                && labels_match(labels_of(e), labels.as_deref())
        }),
    }
}

async fn list(
    State(state): State<AppState>,
    params: Params,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let (offset, limit) = params.page()?;
    let filter =
        name_filter::<PuppetRemote>(&params, |r| &r.remote.name, |r| &r.remote.pulp_labels);
    let page = state.catalog.list(plugin, &filter, offset, limit).await?;
    let (sel, exclude) = fields(&params);
    let results = page
        .items
        .iter()
        .map(|r| select_fields(render::remote(r), &sel, &exclude))
        .collect();
    Ok(ok(params.paginated(page.count, results)))
}

fn parse_policy(p: &str) -> Result<Policy, ApiError> {
    match p {
        "immediate" => Ok(Policy::Immediate),
        "on_demand" => Ok(Policy::OnDemand),
        "streamed" => Ok(Policy::Streamed),
        other => Err(ApiError::field(
            "policy",
            format!("\"{other}\" is not a valid choice."),
        )),
    }
}

fn check_url(url: &str) -> Result<(), ApiError> {
    let lower = url.to_ascii_lowercase();
    let ok_scheme = ["http://", "https://", "file://"]
        .iter()
        .any(|s| lower.starts_with(s));
    if !ok_scheme || url.len() < 8 || url.contains(char::is_whitespace) {
        return Err(ApiError::field(
            "url",
            "Enter a valid URL (http, https or file).",
        ));
    }
    Ok(())
}

/// Checks a puppet remote's `includes`: `author-name` (or `author/name`)
/// each, kept as `author-name`, without repeats.
fn check_includes(includes: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::with_capacity(includes.len());
    for i in includes {
        let slug = ModuleSlug::parse(i.trim())
            .map_err(|e| ApiError::field("includes", e.to_string()))?
            .to_string();
        if !out.contains(&slug) {
            out.push(slug);
        }
    }
    Ok(out)
}

/// Applies `b` to `doc` (for create, `doc` holds the defaults).
fn apply(doc: &mut PuppetRemote, mut b: RemoteBody) -> Result<(), ApiError> {
    if let Some(includes) = b.includes.take() {
        if doc.remote.plugin != Plugin::Puppet {
            return Err(ApiError::field(
                "includes",
                "Only puppet remotes have includes.",
            ));
        }
        doc.includes = check_includes(includes)?;
    }
    let r = &mut doc.remote;
    if let Some(name) = b.name {
        r.name = check_name("name", Some(&name))?;
    }
    if let Some(url) = b.url {
        check_url(&url)?;
        r.url = url;
    }
    if let Some(p) = b.policy {
        r.policy = parse_policy(&p)?;
        if r.plugin == Plugin::Puppet && r.policy != Policy::Immediate {
            return Err(ApiError::field(
                "policy",
                "Puppet remotes download every module (its metadata.json is read from its tarball): use \"immediate\".",
            ));
        }
    }
    if let Some(c) = b.download_concurrency {
        if c == 0 {
            return Err(ApiError::field(
                "download_concurrency",
                "Ensure this value is greater than or equal to 1.",
            ));
        }
        r.download_concurrency = Some(c);
    }
    for (field, v) in [
        ("total_timeout", b.total_timeout),
        ("connect_timeout", b.connect_timeout),
        ("sock_connect_timeout", b.sock_connect_timeout),
        ("sock_read_timeout", b.sock_read_timeout),
    ] {
        if v.is_some_and(|t| !(0.0..=86_400.0).contains(&t)) {
            return Err(ApiError::field(
                field,
                "Ensure this value is between 0 and 86400.",
            ));
        }
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if b.$f.is_some() { r.$f = b.$f; } )* };
    }
    set!(
        ca_cert,
        client_cert,
        proxy_url,
        max_retries,
        total_timeout,
        connect_timeout,
        sock_connect_timeout,
        sock_read_timeout,
        headers,
        rate_limit
    );
    if let Some(l) = b.pulp_labels {
        r.pulp_labels = l;
    }
    if let Some(t) = b.tls_validation {
        r.tls_validation = t;
    }
    let s = &mut r.secrets;
    macro_rules! secret {
        ($($f:ident),*) => { $( if b.$f.is_some() { s.$f = b.$f; } )* };
    }
    secret!(
        client_key,
        proxy_username,
        proxy_password,
        username,
        password,
        sles_auth_token
    );
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    Extension(_user): Extension<User>,
    Body(body): Body<RemoteBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let name = check_name("name", body.name.as_deref())?;
    let url = body.url.clone().ok_or_else(|| ApiError::required("url"))?;
    let now = Utc::now();
    let remote = Remote {
        id: Uuid::now_v7(),
        plugin,
        created: now,
        updated: now,
        name,
        url,
        policy: Policy::Immediate,
        pulp_labels: BTreeMap::new(),
        ca_cert: None,
        client_cert: None,
        tls_validation: true,
        proxy_url: None,
        max_retries: None,
        total_timeout: None,
        connect_timeout: None,
        sock_connect_timeout: None,
        sock_read_timeout: None,
        headers: None,
        download_concurrency: None,
        rate_limit: None,
        secrets: RemoteSecrets::default(),
    };
    let mut remote = PuppetRemote {
        remote,
        includes: Vec::new(),
    };
    apply(&mut remote, body)?;
    state.catalog.create(&remote).await?;
    Ok(created(render::remote(&remote)))
}

async fn load(state: &AppState, id: &str) -> ApiResult<PuppetRemote> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found("Remote"))?;
    state
        .catalog
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("Remote"))
}

async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let r = load(&state, &id).await?;
    if r.remote.plugin != plugin {
        return Err(ApiError::not_found("Remote"));
    }
    Ok(ok(render::remote(&r)))
}

/// Checks the change now (400 on a bad field), then applies it in a task
/// that waits for the syncs using the remote (see [`crate::tasks::settings`]).
async fn update(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath(id): ApiPath<String>,
    Body(body): Body<RemoteBody>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let old = load(&state, &id).await?;
    if old.remote.plugin != plugin {
        return Err(ApiError::not_found("Remote"));
    }
    let mut new = old.clone();
    apply(&mut new, body)?;
    let prn = remote_prn(&old.remote);
    dispatch_change(&state, &user, settings::Object::Remote, &old, &new, prn).await
}

/// Sends the task that changes `old` into `new` (an object of the
/// collection `object`, reserved as `prn`), after checking that a new name
/// is free; answers 202 with the task.
pub(crate) async fn dispatch_change<T: crate::catalog::Entity + serde::Serialize>(
    state: &AppState,
    user: &User,
    object: settings::Object,
    old: &T,
    new: &T,
    prn: String,
) -> ApiResult<super::Json> {
    if new.unique_name() != old.unique_name() {
        state.catalog.check_name_free(new).await?;
    }
    let doc = |e: &T| serde_json::to_value(e).map_err(|e| ApiError::internal(&e));
    let patch = settings::diff(&doc(old)?, &doc(new)?);
    let task = dispatch(
        state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.base.general_update",
            call: settings::update_object::call(object, old.id(), patch).into_raw()?,
            exclusive: vec![prn],
            shared: vec![],
        },
    )
    .await?;
    Ok(accepted(&task))
}

/// The PRN of a remote, the name syncs reserve it by (shared).
pub(crate) fn remote_prn(r: &Remote) -> String {
    format!("prn:{}:{}", r.plugin.prn_model("remote"), r.id)
}

/// Deletes the remote in a task that waits for the syncs using it.
async fn remove(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    ApiPath(id): ApiPath<String>,
    plugin: Plugin,
) -> ApiResult<super::Json> {
    let r = load(&state, &id).await?;
    if r.remote.plugin != plugin {
        return Err(ApiError::not_found("Remote"));
    }
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.base.general_delete",
            call: settings::delete_remote::call(r.remote.id).into_raw()?,
            exclusive: vec![remote_prn(&r.remote)],
            shared: vec![],
        },
    )
    .await?;
    Ok(accepted(&task))
}
