//! The REST API: a Pulp 3 compatible subset that the stock `pulp` command
//! line client drives (see `reference/pulp-api-contract.md`).
//!
//! Routes are declared once, in `routes/`, as [`openapi::Route`]s: the
//! router mounts their handlers and `/pulp/api/v3/docs/api.json` is
//! generated from the same list. Everything but `status` and the document
//! needs HTTP Basic authentication. Errors have one shape ([`error`]).

pub mod auth;
pub mod error;
pub mod heartbeat;
pub mod openapi;
pub mod params;
pub mod render;
pub mod routes;
pub mod schema;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::MethodRouter;

use crate::services::Services;

/// What every handler can reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>, Arc<auth::AuthCache>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl AppState {
    /// State over `services`.
    pub fn new(services: Arc<Services>) -> Self {
        AppState(services, Arc::new(auth::AuthCache::default()))
    }

    pub(crate) fn auth_cache(&self) -> &auth::AuthCache {
        &self.1
    }
}

/// The API router (without the content app). While it (or a clone) lives,
/// this process heartbeats as an API app (see [`heartbeat`]).
pub fn router(state: AppState) -> Router {
    let beat = Arc::new(heartbeat::spawn(
        state.catalog.clone(),
        crate::catalog::AppKind::Api,
    ));
    let routes = routes::all();
    let doc = Arc::new(openapi::document(&routes));
    let mut public: BTreeMap<String, MethodRouter<AppState>> = BTreeMap::new();
    let mut private: BTreeMap<String, MethodRouter<AppState>> = BTreeMap::new();
    for r in routes {
        let map = if r.public { &mut public } else { &mut private };
        let merged = match map.remove(&r.axum_path) {
            Some(existing) => existing.merge(r.handler),
            None => r.handler,
        };
        map.insert(r.axum_path, merged);
    }
    let mut protected = Router::new();
    for (path, handler) in private {
        protected = protected.route(&path, handler);
    }
    // Set on the routes present, so before the layer wraps them.
    let protected = protected
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_user,
        ));
    let mut open = Router::new().route(
        "/pulp/api/v3/docs/api.json",
        axum::routing::get(move || {
            let doc = Arc::clone(&doc);
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    );
    for (path, handler) in public {
        open = open.route(&path, handler);
    }
    let router = open
        .method_not_allowed_fallback(method_not_allowed)
        .merge(protected)
        .fallback(|| async { error::ApiError::not_found("page") })
        .with_state(state);
    error::one_shape(router).layer(axum::Extension(beat))
}

/// The answer to a known path with a method it does not have (axum adds
/// the `Allow` header).
async fn method_not_allowed(method: axum::http::Method) -> error::ApiError {
    error::ApiError::method_not_allowed(method.as_str())
}
