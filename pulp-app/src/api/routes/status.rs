//! `GET /pulp/api/v3/status/`: versions, online workers and apps,
//! connections, storage.

use std::path::PathBuf;

use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::ok;
use crate::api::AppState;
use crate::api::heartbeat::ONLINE_WITHIN;
use crate::api::openapi::{COMPONENTS, Route};
use crate::api::render::ts;
use crate::catalog::AppKind;

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route::new(
            "get",
            "/pulp/api/v3/status/",
            "/pulp/api/v3/status/",
            "status_read",
            get(status),
        )
        .public(),
    ]
}

/// `{"core": "3.123.1", ...}`: what every online process reports.
fn component_versions() -> Value {
    COMPONENTS
        .iter()
        .map(|(c, v)| ((*c).to_owned(), json!(v)))
        .collect::<serde_json::Map<String, Value>>()
        .into()
}

/// The apps of `kind` that sent a heartbeat recently.
async fn online_apps(state: &AppState, kind: AppKind) -> Vec<Value> {
    match state.catalog.online_apps(kind, ONLINE_WITHIN).await {
        Ok(apps) => apps
            .into_iter()
            .map(|(name, at)| {
                json!({"name": name, "last_heartbeat": ts(&at), "versions": component_versions()})
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, app = kind.name(), "cannot read app heartbeats");
            Vec::new()
        }
    }
}

/// Pulp's `storage`: total, used and free bytes of the file system holding
/// the storage path (free as available to unprivileged users, like
/// `shutil.disk_usage`); null if it cannot be read.
async fn storage(path: PathBuf) -> Value {
    let stat = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&path)).await;
    match stat {
        Ok(Ok(s)) => {
            let block = s.f_frsize;
            json!({
                "total": s.f_blocks.saturating_mul(block),
                "used": s.f_blocks.saturating_sub(s.f_bfree).saturating_mul(block),
                "free": s.f_bavail.saturating_mul(block),
            })
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the storage file system's figures");
            Value::Null
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the storage file system's figures");
            Value::Null
        }
    }
}

async fn status(State(state): State<AppState>) -> super::Json {
    let versions: Vec<Value> = COMPONENTS
        .iter()
        .map(|(c, v)| json!({"component": c, "version": v, "package": "pulp-app", "module": format!("pulp_app.{c}"), "domain_compatible": true}))
        .collect();
    let redis_ok = state.catalog.ping().await;
    let workers: Vec<Value> = state
        .client
        .broker()
        .workers()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|w| {
            let beat = chrono::DateTime::from_timestamp_millis(w.heartbeat_ms as i64).map(|t| ts(&t));
            json!({"name": format!("{}@{}", w.pid, w.host), "last_heartbeat": beat, "versions": component_versions()})
        })
        .collect();
    ok(json!({
        "versions": versions,
        "online_workers": workers,
        "online_api_apps": online_apps(&state, AppKind::Api).await,
        "online_content_apps": online_apps(&state, AppKind::Content).await,
        "database_connection": {"connected": redis_ok},
        "redis_connection": {"connected": redis_ok},
        "storage": storage(state.settings.storage_path.clone()).await,
        "content_settings": {
            "content_origin": state.settings.content_origin,
            "content_path_prefix": "/pulp/content/",
        },
        "domain_enabled": false,
    }))
}
