//! The content app: serves what distributions publish, at
//! `/pulp/content/<base_path>/<relative_path>` (see the contract's section 9).
//!
//! A distribution serves a publication, or the newest publication of a
//! repository, or the newest publication of a pinned version. Publications
//! are directories of plain files, so serving is reading files: with HEAD,
//! single byte ranges (206), nginx-style directory listings, and
//! `404: Not Found` in plain text. Content published on demand is fetched
//! from its remote on first request, verified, kept in the store, and then
//! served like the rest. Puppet distributions also answer the Forge v3
//! API from their publication ([`forge`]).

mod forge;
mod listing;
mod serve;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use uuid::Uuid;

use crate::catalog::model::{Distribution, Plugin, Publication};
use crate::services::Services;
use crate::tasks::publish::publication_dir;

/// The content app's router. While it (or a clone) lives, this process
/// heartbeats as a content app, so `/status/` lists it among
/// `online_content_apps`.
pub fn router(services: Arc<Services>) -> Router {
    let beat = Arc::new(crate::api::heartbeat::spawn(
        services.catalog.clone(),
        crate::catalog::AppKind::Content,
    ));
    Router::new()
        .route("/pulp/content/", get(root))
        .route("/pulp/content/{*path}", get(content))
        .fallback(|| async { not_found() })
        .with_state(services)
        .layer(axum::Extension(beat))
}

/// `404: Not Found` as Pulp's content app answers it.
pub(crate) fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404: Not Found",
    )
        .into_response()
}

async fn root(State(s): State<Arc<Services>>) -> Response {
    let Ok(paths) = s.catalog.base_paths().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let mut entries = Vec::new();
    for (bp, id) in paths {
        if let Ok(Some(d)) = s.catalog.get::<Distribution>(&id).await
            && !d.hidden
        {
            entries.push(listing::Entry::dir(format!("{bp}/")));
        }
    }
    listing::page("/pulp/content/", entries)
}

/// The publication a distribution serves now.
async fn publication_of(s: &Services, d: &Distribution) -> Option<Publication> {
    if let Some(id) = d.publication {
        return s.catalog.get::<Publication>(&id).await.ok().flatten();
    }
    let (repo, version) = match (d.repository, d.repository_version) {
        (Some(r), _) => (r, None),
        (None, Some((r, n))) => (r, Some(n)),
        (None, None) => return None,
    };
    let pubs = s.catalog.repository_publications(&repo).await.ok()?;
    pubs.into_iter()
        .find(|p| version.is_none_or(|n| p.version == n))
}

async fn content(
    State(s): State<Arc<Services>>,
    Path(path): Path<String>,
    req: Request,
) -> Response {
    let Ok(Some((dist, rest))) = s.catalog.distribution_for_path(&path).await else {
        return not_found();
    };
    let want_dir = rest.is_empty() || path.ends_with('/');
    let rest_clean = rest.trim_end_matches('/');
    if !rest_clean.is_empty() && crate::relpath::safe_relative_path(rest_clean).is_err() {
        return not_found();
    }
    if dist.generate_repo_config && rest_clean == "config.repo" {
        return serve::repo_config(&s, &dist);
    }
    let Some(publication) = publication_of(&s, &dist).await else {
        return not_found();
    };
    let dir: PathBuf = publication_dir(&s, &publication.id);
    let target = if rest_clean.is_empty() {
        dir.clone()
    } else {
        dir.join(rest_clean)
    };
    let head = req.method() == axum::http::Method::HEAD;
    if dist.plugin == Plugin::Puppet
        && let Some(answer) =
            forge::answer(&dir, rest_clean, req.uri().query(), req.headers(), head).await
    {
        return answer;
    }
    let url_path = format!("/pulp/content/{}/{}", dist.base_path, rest);
    match tokio::fs::metadata(&target).await {
        Ok(m) if m.is_dir() => {
            if want_dir {
                listing::directory(&target, &url_path).await
            } else {
                // Like nginx: a directory without its slash is not found.
                not_found()
            }
        }
        Ok(_) if want_dir => not_found(),
        Ok(_) => serve::file(&target, req.headers(), head).await,
        Err(_) if !want_dir => {
            match serve::on_demand(&s, &publication.id, rest_clean, &target).await {
                Some(()) => serve::file(&target, req.headers(), head).await,
                None => not_found(),
            }
        }
        Err(_) => not_found(),
    }
}

/// Helper for tests: the id of the publication a base path serves.
pub async fn served_publication(s: &Services, base_path: &str) -> Option<Uuid> {
    let (d, _) = s
        .catalog
        .distribution_for_path(base_path)
        .await
        .ok()
        .flatten()?;
    publication_of(s, &d).await.map(|p| p.id)
}
