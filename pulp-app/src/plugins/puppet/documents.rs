//! The Forge v3 documents a puppet publication holds, and where: the one
//! place that knows the published layout, used by the publish task to
//! write it and by the content app to answer Forge URLs from it.
//!
//! | Forge URL (under the distribution's base URL) | answered from |
//! |---|---|
//! | `v3/releases?module=<a>-<m>&limit=&offset=` | `v3/modules/<a>-<m>.json` (its `releases`) and the release files |
//! | `v3/releases?limit=&offset=` | `v3/releases.json` (every release, in short) and the release files |
//! | `v3/releases/<a>-<m>-<version>` | `v3/releases/<a>-<m>-<version>.json` |
//! | `v3/modules/<a>-<m>` | `v3/modules/<a>-<m>.json` |
//! | `v3/files/<a>-<m>-<version>.tar.gz` | the same path (the tarball) |
//!
//! Listings are in module name order, newest version first within a
//! module; `pagination.next` is relative to the Forge's root, as the Forge
//! writes it, so clients that follow it (`puppet module install`, r10k)
//! see every release. The `.json` files are plain files of the
//! publication too, for clients that cannot send queries.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::content::Module;

/// Releases per page when the client does not say (the Forge's default).
pub const DEFAULT_LIMIT: u64 = 20;
/// Most releases per page (the Forge's maximum).
pub const MAX_LIMIT: u64 = 100;

/// `v3/files/<relative_path>`.
pub fn file_path(relative_path: &str) -> String {
    format!("v3/files/{relative_path}")
}

/// `v3/releases/<slug>.json`.
pub fn release_path(release_slug: &str) -> String {
    format!("v3/releases/{release_slug}.json")
}

/// `v3/modules/<slug>.json`.
pub fn module_path(module_slug: &str) -> String {
    format!("v3/modules/{module_slug}.json")
}

/// `v3/releases.json`: every release in short, in listing order.
pub const INDEX_PATH: &str = "v3/releases.json";

/// The Forge URL of the page at `offset` (what `pagination` links say).
pub fn page_url(module_slug: Option<&str>, limit: u64, offset: u64) -> String {
    match module_slug {
        Some(m) => format!("/v3/releases?module={m}&limit={limit}&offset={offset}"),
        None => format!("/v3/releases?limit={limit}&offset={offset}"),
    }
}

fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S %z").to_string()
}

/// The short form of a module (in a release's `module`).
fn module_ref(m: &Module) -> Value {
    json!({
        "uri": format!("/v3/modules/{}", m.module_slug()),
        "slug": m.module_slug(),
        "name": m.name,
        "deprecated_at": null,
        "owner": {
            "uri": format!("/v3/users/{}", m.author),
            "slug": m.author,
            "username": m.author,
        },
    })
}

/// A release as the Forge shows it, with its whole `metadata`.
pub fn release(m: &Module, metadata: &Value, created: &DateTime<Utc>) -> Value {
    json!({
        "uri": format!("/v3/releases/{}", m.release_slug()),
        "slug": m.release_slug(),
        "module": module_ref(m),
        "version": m.version,
        "metadata": metadata,
        "tags": [],
        "supported": false,
        "pdk": false,
        "validation_score": null,
        "file_uri": format!("/{}", file_path(&m.relative_path)),
        "file_size": m.size,
        "file_md5": m.md5,
        "file_sha256": m.sha256,
        "downloads": 0,
        "readme": null,
        "changelog": null,
        "license": null,
        "reference": null,
        "tasks": [],
        "plans": [],
        "created_at": ts(created),
        "updated_at": ts(created),
        "deleted_at": null,
        "deleted_for": null,
    })
}

/// The short form of a release (in a module's `releases`).
pub fn release_summary(m: &Module, created: &DateTime<Utc>) -> Value {
    json!({
        "uri": format!("/v3/releases/{}", m.release_slug()),
        "slug": m.release_slug(),
        "version": m.version,
        "supported": false,
        "created_at": ts(created),
        "deleted_at": null,
        "file_uri": format!("/{}", file_path(&m.relative_path)),
        "file_size": m.size,
    })
}

/// A module as the Forge shows it: its newest release in full and every
/// release in short, newest first.
pub fn module(
    current: &Module,
    current_release: Value,
    releases: Vec<Value>,
    created: &DateTime<Utc>,
) -> Value {
    let mut v = module_ref(current);
    v["downloads"] = json!(0);
    v["created_at"] = json!(ts(created));
    v["updated_at"] = json!(ts(created));
    v["deprecated_for"] = Value::Null;
    v["superseded_by"] = Value::Null;
    v["endorsement"] = Value::Null;
    v["module_group"] = json!("base");
    v["premium"] = json!(false);
    v["current_release"] = current_release;
    v["releases"] = Value::Array(releases);
    v["homepage_url"] = Value::Null;
    v["issues_url"] = Value::Null;
    v
}

/// A page of `limit` releases at `offset` of `total`.
pub fn page(
    module_slug: Option<&str>,
    limit: u64,
    offset: u64,
    total: u64,
    results: &[Value],
) -> Value {
    let link = |o: u64| json!(page_url(module_slug, limit, o));
    let last = total.saturating_sub(1) / limit.max(1) * limit.max(1);
    json!({
        "pagination": {
            "limit": limit,
            "offset": offset,
            "first": link(0),
            "previous": if offset == 0 { Value::Null } else { link(offset.saturating_sub(limit)) },
            "current": link(offset),
            "next": if offset.saturating_add(limit) < total { link(offset + limit) } else { Value::Null },
            "last": link(last),
            "total": total,
        },
        "results": results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_link_relative_to_the_forge_root() {
        let p = page(Some("acme-web"), 2, 2, 5, &[json!(1), json!(2)]);
        let g = &p["pagination"];
        assert_eq!(g["next"], "/v3/releases?module=acme-web&limit=2&offset=4");
        assert_eq!(
            g["previous"],
            "/v3/releases?module=acme-web&limit=2&offset=0"
        );
        assert_eq!(g["last"], "/v3/releases?module=acme-web&limit=2&offset=4");
        assert_eq!(g["total"], 5);
        let end = page(None, 2, 4, 5, &[json!(1)]);
        assert!(end["pagination"]["next"].is_null());
        assert_eq!(end["pagination"]["first"], "/v3/releases?limit=2&offset=0");
    }
}
