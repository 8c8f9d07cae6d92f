//! The Forge v3 API of puppet distributions, answered from the files of
//! their publication (the layout is in
//! [`documents`](crate::plugins::puppet::documents)), so that
//! `puppet module install --module_repository <base_url>` and r10k work
//! against `/pulp/content/<base_path>/`:
//!
//! - `v3/releases?module=<a>-<m>&limit=<n>&offset=<n>` (and without
//!   `module`): a page of releases; `limit` defaults to 20 and is at most
//!   100; `exclude_fields` drops fields of each release, as on the Forge;
//!   other parameters (`sort_by`, `module_groups`) are accepted and
//!   ignored;
//! - `v3/releases/<a>-<m>-<version>` and `v3/modules/<a>-<m>`: one document;
//! - everything else (`v3/files/...` tarballs, the `.json` files
//!   themselves) is served as plain files.
//!
//! Errors are the Forge's JSON shape (`{"message", "errors"}`).

use std::path::Path;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::plugins::puppet::documents::{self, DEFAULT_LIMIT, MAX_LIMIT};
use crate::plugins::puppet::metadata::ModuleSlug;

/// Answers a Forge URL of the publication in `dir`; `None` for paths that
/// are plain files.
pub(super) async fn answer(
    dir: &Path,
    rest: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    head: bool,
) -> Option<Response> {
    if rest == "v3/releases" {
        return Some(releases(dir, query.unwrap_or("")).await);
    }
    for prefix in ["v3/releases/", "v3/modules/"] {
        if let Some(slug) = rest.strip_prefix(prefix)
            && !slug.is_empty()
            && !slug.contains('/')
            && !slug.ends_with(".json")
        {
            let file = dir.join(format!("{prefix}{slug}.json"));
            return Some(match tokio::fs::metadata(&file).await {
                Ok(m) if m.is_file() => super::serve::file(&file, headers, head).await,
                _ => error(StatusCode::NOT_FOUND, "404 Not Found", "No such document"),
            });
        }
    }
    None
}

/// A Forge error document.
fn error(status: StatusCode, message: &str, detail: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"message": message, "errors": [detail]}).to_string(),
    )
        .into_response()
}

fn bad_request(detail: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "400 Bad Request", detail)
}

/// A published JSON document; `None` when it is absent (an unknown module).
async fn read_json(dir: &Path, rel: &str) -> Result<Option<Value>, Response> {
    match tokio::fs::read(dir.join(rel)).await {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            tracing::warn!(error = %e, file = rel, "a published Forge document is not JSON");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, file = rel, "cannot read a published Forge document");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// The parameters of a listing.
#[derive(Debug, PartialEq, Eq)]
struct Query {
    module: Option<ModuleSlug>,
    limit: u64,
    offset: u64,
    exclude: Vec<String>,
}

/// Why a listing's query was refused (the Forge's 400 says it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadQuery(String);

fn parse_query(query: &str) -> Result<Query, BadQuery> {
    let mut q = Query {
        module: None,
        limit: DEFAULT_LIMIT,
        offset: 0,
        exclude: Vec::new(),
    };
    let number = |k: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| BadQuery(format!("'{k}' must be a non-negative integer")))
    };
    for (k, v) in crate::api::params::form_decode(query) {
        match k.as_str() {
            "module" => {
                q.module = Some(ModuleSlug::parse(&v).map_err(|e| BadQuery(e.to_string()))?);
            }
            "limit" => {
                let n = number(&k, &v)?;
                if n == 0 || n > MAX_LIMIT {
                    return Err(BadQuery(format!(
                        "'limit' must be between 1 and {MAX_LIMIT}"
                    )));
                }
                q.limit = n;
            }
            "offset" => q.offset = number(&k, &v)?,
            "exclude_fields" => q.exclude.extend(
                v.split([',', ' '])
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    Ok(q)
}

async fn releases(dir: &Path, query: &str) -> Response {
    let q = match parse_query(query) {
        Ok(q) => q,
        Err(e) => return bad_request(&e.to_string()),
    };
    let module = q.module.as_ref().map(ToString::to_string);
    let summaries = match &module {
        Some(m) => read_json(dir, &documents::module_path(m))
            .await
            .map(|doc| doc.and_then(|mut d| d.get_mut("releases").map(Value::take))),
        None => read_json(dir, documents::INDEX_PATH).await,
    };
    let summaries = match summaries {
        Ok(Some(Value::Array(list))) => list,
        Ok(_) => Vec::new(),
        Err(r) => return r,
    };
    let total = summaries.len() as u64;
    let start = usize::try_from(q.offset).unwrap_or(usize::MAX);
    let mut results = Vec::new();
    for s in summaries.iter().skip(start).take(q.limit as usize) {
        let Some(slug) = s.get("slug").and_then(Value::as_str) else {
            continue;
        };
        if slug.contains('/') || slug.starts_with('.') {
            continue;
        }
        match read_json(dir, &documents::release_path(slug)).await {
            Ok(Some(mut release)) => {
                if let Value::Object(map) = &mut release {
                    for f in &q.exclude {
                        map.remove(f);
                    }
                }
                results.push(release);
            }
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    let page = documents::page(module.as_deref(), q.limit, q.offset, total, &results);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        page.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_parameters() {
        let q = parse_query(
            "module=acme/web&sort_by=version&exclude_fields=readme%2Cchangelog&limit=5&offset=10",
        )
        .unwrap();
        assert_eq!(q.module.unwrap().to_string(), "acme-web");
        assert_eq!((q.limit, q.offset), (5, 10));
        assert_eq!(q.exclude, ["readme", "changelog"]);
        assert_eq!(parse_query("").unwrap().limit, DEFAULT_LIMIT);
        for bad in [
            "limit=0",
            "limit=101",
            "offset=-1",
            "module=../x",
            "limit=x",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
