//! `GET /pulp/api/v3/status/`: versions, workers, connections.

use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::ok;
use crate::api::AppState;
use crate::api::openapi::{COMPONENTS, Route};
use crate::api::render::ts;

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
            json!({"name": format!("{}@{}", w.pid, w.host), "last_heartbeat": beat, "versions": {"core": COMPONENTS[0].1}})
        })
        .collect();
    ok(json!({
        "versions": versions,
        "online_workers": workers,
        "online_api_apps": [],
        "online_content_apps": [],
        "database_connection": {"connected": redis_ok},
        "redis_connection": {"connected": redis_ok},
        "storage": null,
        "content_settings": {
            "content_origin": state.settings.content_origin,
            "content_path_prefix": "/pulp/content/",
        },
        "domain_enabled": false,
    }))
}
