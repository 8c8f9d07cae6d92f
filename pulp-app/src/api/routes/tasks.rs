//! Tasks: list (with Pulp's filters and `ordering`), read, cancel; task
//! groups (none exist).

use std::cmp::Ordering;

use axum::Extension;
use axum::extract::State;
use axum::routing::{get, patch};
use serde_json::Value;
use taskq::{CancelStatus, TaskId};

use super::{fields, ok};
use crate::api::AppState;
use crate::api::auth::User;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::{Kind, Route};
use crate::api::params::{ApiPath, Body, Params};
use crate::api::render::select_fields;
use crate::tasks::dispatch::render;

pub(super) fn routes() -> Vec<Route> {
    use Kind::{CommaList, Str};
    vec![
        Route::new(
            "get",
            "/pulp/api/v3/tasks/",
            "/pulp/api/v3/tasks/",
            "tasks_list",
            get(list),
        )
        .list(&[
            ("state", Str),
            ("state__in", CommaList),
            ("name", Str),
            ("name__contains", Str),
            ("logging_cid", Str),
            ("logging_cid__contains", Str),
            ("worker", Str),
            ("parent_task", Str),
            ("task_group", Str),
            ("created_resources", Str),
            ("reserved_resources", Str),
            ("reserved_resources__in", CommaList),
            ("exclusive_resources", Str),
            ("exclusive_resources__in", CommaList),
            ("shared_resources", Str),
            ("shared_resources__in", CommaList),
            ("started_at__gte", Str),
            ("started_at__lte", Str),
            ("finished_at__gte", Str),
            ("finished_at__lte", Str),
            ("ordering", Str),
        ]),
        Route::new(
            "get",
            "{task_href}",
            "/pulp/api/v3/tasks/{id}/",
            "tasks_read",
            get(read),
        )
        .path_param("task_href"),
        Route::new(
            "patch",
            "{task_href}",
            "/pulp/api/v3/tasks/{id}/",
            "tasks_cancel",
            patch(cancel),
        )
        .path_param("task_href")
        .body::<CancelBody>()
        .responses(&[200, 409]),
        Route::new(
            "get",
            "{task_group_href}",
            "/pulp/api/v3/task-groups/{id}/",
            "task_groups_read",
            get(group),
        )
        .path_param("task_group_href"),
    ]
}

crate::api_model! {
    /// `{"state": "canceled"}`.
    pub(crate) struct CancelBody {
        state: Option<String>,
    }
}

/// Loads and renders one task. The taskq record is read first: a task
/// writes what it created into its bookkeeping before its success is
/// recorded, so a record read first that says succeeded is never paired
/// with bookkeeping from before the task finished (read the other way
/// round, a task finishing between the two reads showed as completed with
/// no created resources).
async fn task_json(state: &AppState, id: &str) -> ApiResult<Value> {
    let rec = match TaskId::new(id) {
        Ok(tid) => state.client.record(&tid).await?,
        Err(_) => None,
    };
    let meta = state
        .catalog
        .task(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Task"))?;
    Ok(render(id, &meta, rec.as_ref()))
}

async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<super::Json> {
    Ok(ok(task_json(&state, &id).await?))
}

async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Extension(_user): Extension<User>,
    Body(body): Body<CancelBody>,
) -> ApiResult<super::Json> {
    match body.state.as_deref() {
        Some("canceled") => {}
        None => return Err(ApiError::required("state")),
        Some(_) => {
            return Err(ApiError::field(
                "state",
                "The only valid state is \"canceled\".",
            ));
        }
    }
    let before = task_json(&state, &id).await?;
    let tid = TaskId::new(id.clone()).map_err(|_| ApiError::not_found("Task"))?;
    match state.client.cancel(&tid).await? {
        CancelStatus::AlreadyFinished(taskq::TaskState::Canceled) => Ok(ok(before)),
        CancelStatus::AlreadyFinished(_) => {
            Ok((axum::http::StatusCode::CONFLICT, axum::Json(before)))
        }
        _ => Ok(ok(task_json(&state, &id).await?)),
    }
}

async fn group(ApiPath(_id): ApiPath<String>) -> ApiResult<super::Json> {
    Err(ApiError::not_found("TaskGroup"))
}

async fn list(State(state): State<AppState>, params: Params) -> ApiResult<super::Json> {
    let (offset, limit) = params.page()?;
    let ids = state.catalog.task_ids().await?;
    let metas = futures::future::join_all(ids.iter().map(|id| state.catalog.task(id))).await;
    let mut candidates = Vec::new();
    for (id, meta) in ids.into_iter().zip(metas) {
        if let Some(meta) = meta? {
            candidates.push((id, meta));
        }
    }
    // Filters on the catalog's bookkeeping first: they need no task record.
    let name = params.get("name").map(str::to_owned);
    let name_contains = params.get("name__contains").map(str::to_owned);
    let cid = params.get("logging_cid").map(str::to_owned);
    let cid_contains = params.get("logging_cid__contains").map(str::to_owned);
    let created = params.get("created_resources").map(str::to_owned);
    let any_of = |meta: &crate::catalog::model::TaskMeta, values: &[String], mode: &str| {
        values.is_empty()
            || meta.reserved_resources_record.iter().any(|r| {
                let (shared, bare) = match r.strip_prefix("shared:") {
                    Some(b) => (true, b),
                    None => (false, r.as_str()),
                };
                let kind_ok = match mode {
                    "exclusive" => !shared,
                    "shared" => shared,
                    _ => true,
                };
                kind_ok && values.iter().any(|v| v == bare || v == r)
            })
    };
    let mut resource_filters: Vec<(Vec<String>, &str)> = Vec::new();
    for (param, mode) in [
        ("reserved_resources", "any"),
        ("exclusive_resources", "exclusive"),
        ("shared_resources", "shared"),
    ] {
        let mut values = params.list(&format!("{param}__in"));
        values.extend(params.get(param).map(str::to_owned));
        if !values.is_empty() {
            resource_filters.push((values, mode));
        }
    }
    candidates.retain(|(_, m)| {
        name.as_ref().is_none_or(|n| &m.name == n)
            && name_contains
                .as_ref()
                .is_none_or(|n| m.name.contains(n.as_str()))
            && cid.as_ref().is_none_or(|c| &m.logging_cid == c)
            && cid_contains
                .as_ref()
                .is_none_or(|c| m.logging_cid.contains(c.as_str()))
            && created
                .as_ref()
                .is_none_or(|c| m.created_resources.iter().any(|r| r == c))
            && resource_filters
                .iter()
                .all(|(vals, mode)| any_of(m, vals, mode))
    });
    let state = &state;
    let records = futures::future::join_all(candidates.iter().map(|(id, _)| async move {
        match TaskId::new(id.clone()) {
            Ok(tid) => state.client.record(&tid).await,
            Err(_) => Ok(None),
        }
    }))
    .await;
    let mut states = params.list("state__in");
    states.extend(params.get("state").map(str::to_owned));
    for s in &states {
        if ![
            "waiting",
            "skipped",
            "running",
            "completed",
            "failed",
            "canceled",
            "canceling",
        ]
        .contains(&s.as_str())
        {
            return Err(ApiError::field(
                "state",
                format!("Select a valid choice. {s} is not one of the available choices."),
            ));
        }
    }
    let bounds = [
        ("started_at__gte", "started_at", true),
        ("started_at__lte", "started_at", false),
        ("finished_at__gte", "finished_at", true),
        ("finished_at__lte", "finished_at", false),
    ];
    let workers = worker_filter(state, &params).await?;
    let ordering = ordering(&params)?;
    // Tasks here have no parent and no group (both render as null), so a
    // valid filter on either matches nothing.
    let mut none_match = false;
    for param in ["parent_task", "task_group"] {
        if let Some(v) = params.get(param) {
            let collection = if param == "parent_task" {
                "tasks"
            } else {
                "task-groups"
            };
            task_uuid(v, collection)
                .ok_or_else(|| ApiError::field(param, "Invalid hyperlink - No URL match."))?;
            none_match = true;
        }
    }
    let (sel, exclude) = fields(&params);
    let mut rendered = Vec::new();
    for ((id, meta), rec) in candidates.iter().zip(records) {
        let rec = rec?;
        if none_match {
            continue;
        }
        if let Some(names) = &workers
            && !rec
                .as_ref()
                .and_then(|r| r.worker.as_ref())
                .is_some_and(|w| names.contains(w))
        {
            continue;
        }
        let doc = render(id, meta, rec.as_ref());
        if !states.is_empty() && !states.iter().any(|s| doc["state"] == s.as_str()) {
            continue;
        }
        let in_bounds = bounds
            .iter()
            .all(|(param, field, gte)| match params.get(param) {
                None => true,
                Some(limit) => doc[*field]
                    .as_str()
                    .is_some_and(|v| if *gte { v >= limit } else { v <= limit }),
            });
        if in_bounds {
            rendered.push(doc);
        }
    }
    if !ordering.is_empty() {
        // Stable, so ties keep the default order (newest first).
        rendered.sort_by(|a, b| {
            ordering
                .iter()
                .map(|(field, desc)| compare(&a[*field], &b[*field], *desc))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
    }
    let count = rendered.len() as u64;
    let page: Vec<Value> = rendered
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|d| select_fields(d, &sel, &exclude))
        .collect();
    Ok(ok(params.paginated(count, page)))
}

/// Fields `ordering` accepts (each optionally prefixed with `-`).
const ORDERING_FIELDS: [&str; 9] = [
    "pulp_created",
    "pulp_last_updated",
    "name",
    "state",
    "started_at",
    "finished_at",
    "unblocked_at",
    "logging_cid",
    "pulp_id",
];

/// The `ordering` parameter: (field of the task document, descending).
fn ordering(params: &Params) -> ApiResult<Vec<(&'static str, bool)>> {
    let mut out = Vec::new();
    for term in params.list("ordering") {
        let (desc, name) = match term.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, term.as_str()),
        };
        let field = ORDERING_FIELDS
            .iter()
            .find(|f| **f == name)
            .ok_or_else(|| {
                ApiError::field(
                    "ordering",
                    format!("Select a valid choice. {term} is not one of the available choices."),
                )
            })?;
        // pulp_id orders like the href (ids are time-ordered UUIDs).
        out.push((
            if *field == "pulp_id" {
                "pulp_href"
            } else {
                *field
            },
            desc,
        ));
    }
    Ok(out)
}

/// Compares two document fields as PostgreSQL orders columns: NULLs sort
/// after every value ascending, before every value descending. Timestamps
/// are ISO 8601 strings of one format, so text order is time order.
fn compare(a: &Value, b: &Value, desc: bool) -> Ordering {
    let o = match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (x, y) => x.to_string().cmp(&y.to_string()),
    };
    if desc { o.reverse() } else { o }
}

/// The `worker` filter: the ids of the workers it names, or `None` without
/// it. A worker is named by its id or by its name in `/status/`
/// (`<pid>@<host>`, online workers only), optionally as
/// `/pulp/api/v3/workers/<name>/`.
async fn worker_filter(state: &AppState, params: &Params) -> ApiResult<Option<Vec<String>>> {
    let Some(value) = params.get("worker") else {
        return Ok(None);
    };
    let wanted = value
        .strip_prefix("/pulp/api/v3/workers/")
        .map_or(value, |v| v.trim_end_matches('/'));
    let mut ids = vec![wanted.to_owned()];
    for w in state.client.broker().workers().await? {
        if format!("{}@{}", w.pid, w.host) == wanted {
            ids.push(w.id);
        }
    }
    Ok(Some(ids))
}

/// The id in a task (or task group) href, or a bare id.
fn task_uuid(value: &str, collection: &str) -> Option<uuid::Uuid> {
    let id = value
        .strip_prefix(&format!("/pulp/api/v3/{collection}/"))
        .map_or(value, |v| v.trim_end_matches('/'));
    id.parse().ok()
}
