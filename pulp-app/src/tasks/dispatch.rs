//! Sending pulp-app tasks: recording Pulp's bookkeeping, reserving
//! resources, and rendering task documents as Pulp shows them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use taskq::{RawSignature, TaskId, TaskRecord, TaskState};

use crate::api::error::ApiError;
use crate::api::render::{task_href, ts};
use crate::catalog::model::TaskMeta;
use crate::services::Services;

use super::ProgressReport;

/// The resource orphan cleanup reserves exclusively. Every task that stores
/// content or artifacts, or adds content to a version (syncs, uploads,
/// copy, modify), reserves it shared: cleanup then waits until they have
/// committed what they stored, and they wait behind a cleanup that started
/// first, so cleanup never deletes what a running task is about to use
/// (whatever the orphan protection time).
pub const ORPHANS: &str = "pdrn:orphans";

/// A task to send.
#[derive(Debug)]
pub struct Dispatch {
    /// Pulp's name for it (shown as `name`).
    pub name: &'static str,
    /// The taskq call.
    pub call: RawSignature,
    /// Resources reserved exclusively (PRNs, e.g. `prn:file.filerepository:<id>`).
    pub exclusive: Vec<String>,
    /// Resources reserved shared.
    pub shared: Vec<String>,
}

/// Sends `d` on behalf of `user`; returns the task id.
///
/// # Errors
/// A 5xx [`ApiError`] if the catalog or the broker fails.
pub async fn dispatch(services: &Services, user: &str, d: Dispatch) -> Result<TaskId, ApiError> {
    let id = TaskId::generate();
    let mut record: Vec<String> = d.exclusive.clone();
    record.extend(d.shared.iter().map(|s| format!("shared:{s}")));
    let meta = TaskMeta {
        name: d.name.to_owned(),
        created: Some(Utc::now()),
        created_by: Some(user.to_owned()),
        logging_cid: uuid::Uuid::now_v7().simple().to_string(),
        reserved_resources_record: record,
        created_resources: Vec::new(),
        result: None,
    };
    let ttl = services.settings.task_result_ttl;
    services
        .catalog
        .put_task(id.as_str(), &meta, ttl + Duration::from_secs(3600))
        .await?;
    let mut call = d.call;
    call.options.id = Some(id.clone());
    call.options.result_ttl = ttl;
    call.options.on_worker_lost = taskq::OnWorkerLost::Fail;
    call.options
        .resources
        .extend(d.exclusive.into_iter().map(taskq::Resource::exclusive));
    call.options
        .resources
        .extend(d.shared.into_iter().map(taskq::Resource::shared));
    services.client.send_raw(call).await?;
    Ok(id)
}

/// Records Pulp's bookkeeping for a task that was not sent through
/// [`dispatch`] (a sync fired by beat), so that it shows in task listings.
pub async fn record_if_missing(ctx: &taskq::TaskContext<Services>, name: &str) {
    let s = ctx.state();
    let id = ctx.id().as_str();
    if let Ok(Some(_)) = s.catalog.task(id).await {
        return;
    }
    let Ok(Some(record)) = s.client.record(ctx.id()).await else {
        return;
    };
    let meta = TaskMeta {
        name: name.to_owned(),
        created: DateTime::<Utc>::from_timestamp_millis(record.created_ms as i64),
        created_by: ctx.header("pulp.created_by").map(str::to_owned),
        logging_cid: uuid::Uuid::now_v7().simple().to_string(),
        reserved_resources_record: record
            .resources
            .iter()
            .map(|l| match l.split_once(':') {
                Some(("s", r)) => format!("shared:{r}"),
                Some((_, r)) => r.to_owned(),
                None => l.clone(),
            })
            .collect(),
        created_resources: Vec::new(),
        result: None,
    };
    let ttl = s.settings.task_result_ttl + Duration::from_secs(3600);
    if let Err(e) = s.catalog.put_task(id, &meta, ttl).await {
        tracing::warn!(error = %e, "could not record a scheduled task");
    }
}

/// The `202 {"task": href}` answer.
pub fn accepted(id: &TaskId) -> (axum::http::StatusCode, axum::Json<Value>) {
    (
        axum::http::StatusCode::ACCEPTED,
        axum::Json(json!({"task": task_href(id.as_str())})),
    )
}

/// Pulp's state name for a taskq record.
pub fn pulp_state(r: &TaskRecord) -> &'static str {
    match r.state {
        TaskState::Pending | TaskState::Waiting | TaskState::Retrying => "waiting",
        TaskState::Started if r.cancel_requested => "canceling",
        TaskState::Started => "running",
        TaskState::Succeeded => "completed",
        TaskState::Failed => "failed",
        TaskState::Canceled => "canceled",
    }
}

fn ms_ts(ms: Option<u64>) -> Value {
    ms.and_then(|m| DateTime::<Utc>::from_timestamp_millis(m as i64))
        .map(|t| json!(ts(&t)))
        .unwrap_or(Value::Null)
}

/// A task document as Pulp shows it, from the catalog's bookkeeping and
/// taskq's record.
pub fn render(id: &str, meta: &TaskMeta, rec: Option<&TaskRecord>) -> Value {
    let state = rec.map(pulp_state).unwrap_or("waiting");
    let mut reports: Vec<ProgressReport> = rec
        .and_then(|r| r.progress_as::<Vec<ProgressReport>>().ok().flatten())
        .unwrap_or_default();
    if matches!(state, "canceled" | "failed") {
        for r in &mut reports {
            if r.state == "running" {
                r.state = state.to_owned();
            }
        }
    }
    let error = match (state, rec.and_then(|r| r.error.as_ref())) {
        ("failed", Some(e)) => json!({"description": e.message, "traceback": ""}),
        ("failed", None) => json!({"reason": "failed"}),
        _ => Value::Null,
    };
    let created = meta.created.as_ref().map(ts);
    let finished_ok = state == "completed";
    json!({
        "pulp_href": task_href(id),
        "prn": format!("prn:core.task:{id}"),
        "pulp_created": created,
        "pulp_last_updated": rec.and_then(|r| r.finished_ms.or(r.started_ms)).map_or_else(|| json!(created), |m| ms_ts(Some(m))),
        "state": state,
        "name": meta.name,
        "logging_cid": meta.logging_cid,
        "created_by": meta.created_by.as_deref().map(|u| match u.strip_prefix("beat:") {
            Some(_) => Value::String(u.to_owned()),
            None => Value::String(format!("/pulp/api/v3/users/{u}/")),
        }),
        "unblocked_at": rec.and_then(|r| r.started_ms).map_or(Value::Null, |m| ms_ts(Some(m))),
        "started_at": rec.and_then(|r| r.started_ms).map_or(Value::Null, |m| ms_ts(Some(m))),
        "finished_at": rec.and_then(|r| r.finished_ms).map_or(Value::Null, |m| ms_ts(Some(m))),
        "error": error,
        "worker": null,
        "parent_task": null,
        "child_tasks": [],
        "task_group": null,
        "progress_reports": reports,
        "created_resources": if finished_ok { json!(meta.created_resources) } else { json!([]) },
        "created_resource_prns": [],
        "reserved_resources_record": meta.reserved_resources_record,
        "result": if finished_ok { meta.result.clone().unwrap_or(Value::Null) } else { Value::Null },
        "pulp_api_version": "v3",
    })
}
