//! How entities look in the API: hrefs, PRNs, timestamps and fields as Pulp
//! 3 shows them (reference/pulp-cli-traffic.md has captured examples).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::catalog::model::{
    ContentRecord, ContentType, Distribution, Plugin, Publication, PuppetRemote, Repository,
    RepositoryVersion,
};
use crate::catalog::{Catalog, Result};

/// Root of every API path.
pub const API: &str = "/pulp/api/v3/";

/// Pulp's timestamp format: `2026-11-25T07:40:43.615620Z`.
pub fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `/pulp/api/v3/remotes/file/file/<id>/`.
pub fn remote_href(plugin: Plugin, id: &Uuid) -> String {
    format!("{API}remotes/{}/{id}/", plugin.path())
}

/// `/pulp/api/v3/repositories/file/file/<id>/`.
pub fn repository_href(plugin: Plugin, id: &Uuid) -> String {
    format!("{API}repositories/{}/{id}/", plugin.path())
}

/// `/pulp/api/v3/repositories/file/file/<id>/versions/<n>/`.
pub fn version_href(plugin: Plugin, repo: &Uuid, number: u64) -> String {
    format!("{}versions/{number}/", repository_href(plugin, repo))
}

/// `/pulp/api/v3/publications/file/file/<id>/`.
pub fn publication_href(plugin: Plugin, id: &Uuid) -> String {
    format!("{API}publications/{}/{id}/", plugin.path())
}

/// `/pulp/api/v3/distributions/file/file/<id>/`.
pub fn distribution_href(plugin: Plugin, id: &Uuid) -> String {
    format!("{API}distributions/{}/{id}/", plugin.path())
}

/// `/pulp/api/v3/content/file/files/<id>/`.
pub fn content_href(kind: ContentType, id: &Uuid) -> String {
    format!("{API}content/{}/{id}/", kind.href_path())
}

/// `/pulp/api/v3/tasks/<id>/`.
pub fn task_href(id: &str) -> String {
    format!("{API}tasks/{id}/")
}

/// `/pulp/api/v3/artifacts/<id>/` for the artifact with this sha256.
pub fn artifact_href(sha256: &str) -> String {
    let id = crate::catalog::model::ContentRef::derive(
        ContentType::File,
        &format!("artifact\0{sha256}"),
    )
    .id;
    format!("{API}artifacts/{id}/")
}

/// Extracts the id from an href of `collection` (`remotes`, ...) for `plugin`.
pub fn parse_href(href: &str, collection: &str, plugin: Plugin) -> Option<Uuid> {
    let rest = href
        .strip_prefix(API)?
        .strip_prefix(collection)?
        .strip_prefix('/')?;
    let rest = rest.strip_prefix(plugin.path())?.strip_prefix('/')?;
    rest.trim_end_matches('/').parse().ok()
}

/// Extracts (repository id, version number) from a version href.
pub fn parse_version_href(href: &str, plugin: Plugin) -> Option<(Uuid, u64)> {
    let prefix = format!("{API}repositories/{}/", plugin.path());
    let rest = href.strip_prefix(&prefix)?;
    let (id, rest) = rest.split_once('/')?;
    let n = rest.strip_prefix("versions/")?.trim_end_matches('/');
    Some((id.parse().ok()?, n.parse().ok()?))
}

/// A remote as the API shows it (secrets never included), with the puppet
/// plugin's `includes` for puppet remotes.
pub fn remote(doc: &PuppetRemote) -> Value {
    let r = &doc.remote;
    let hidden: Vec<Value> = [
        ("client_key", &r.secrets.client_key),
        ("proxy_username", &r.secrets.proxy_username),
        ("proxy_password", &r.secrets.proxy_password),
        ("username", &r.secrets.username),
        ("password", &r.secrets.password),
    ]
    .iter()
    .map(|(n, v)| json!({"name": n, "is_set": v.is_some()}))
    .collect();
    let mut v = json!({
        "pulp_href": remote_href(r.plugin, &r.id),
        "prn": format!("prn:{}:{}", r.plugin.prn_model("remote"), r.id),
        "pulp_created": ts(&r.created),
        "pulp_last_updated": ts(&r.updated),
        "name": r.name,
        "url": r.url,
        "pulp_labels": r.pulp_labels,
        "policy": r.policy.as_str(),
        "hidden_fields": hidden,
        "ca_cert": r.ca_cert,
        "client_cert": r.client_cert,
        "tls_validation": r.tls_validation,
        "proxy_url": r.proxy_url,
        "max_retries": r.max_retries,
        "total_timeout": r.total_timeout,
        "connect_timeout": r.connect_timeout,
        "sock_connect_timeout": r.sock_connect_timeout,
        "sock_read_timeout": r.sock_read_timeout,
        "headers": r.headers,
        "download_concurrency": r.download_concurrency,
        "rate_limit": r.rate_limit,
    });
    match r.plugin {
        Plugin::Rpm => v["sles_auth_token"] = json!(null),
        Plugin::Puppet => v["includes"] = json!(doc.includes),
        Plugin::File => {}
    }
    v
}

/// A repository as the API shows it.
///
/// # Errors
/// Catalog errors (reading its latest version and sync details).
pub async fn repository(catalog: &Catalog, r: &Repository) -> Result<Value> {
    let href = repository_href(r.plugin, &r.id);
    let latest = catalog.latest_version(&r.id).await.unwrap_or(0);
    let last_sync: Value = catalog
        .repo_state_field(&r.id, "last_sync")
        .await?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| json!({}));
    let mut v = json!({
        "pulp_href": href,
        "prn": format!("prn:{}:{}", r.plugin.prn_model("repository"), r.id),
        "pulp_created": ts(&r.created),
        "pulp_last_updated": ts(&r.updated),
        "versions_href": format!("{href}versions/"),
        "pulp_labels": r.pulp_labels,
        "latest_version_href": version_href(r.plugin, &r.id, latest),
        "name": r.name,
        "description": r.description,
        "retain_repo_versions": r.retain_repo_versions,
        "retain_checkpoints": null,
        "remote": r.remote.map(|id| remote_href(r.plugin, &id)),
        "autopublish": r.autopublish,
    });
    match (&r.plugin, &r.rpm) {
        (Plugin::Rpm, Some(s)) => {
            for (k, val) in [
                ("metadata_signing_service", json!(null)),
                ("package_signing_service", json!(null)),
                ("package_signing_fingerprint", json!("")),
                ("retain_package_versions", json!(s.retain_package_versions)),
                ("checksum_type", json!(s.checksum_type)),
                ("metadata_checksum_type", json!(s.checksum_type)),
                ("package_checksum_type", json!(s.checksum_type)),
                ("sqlite_metadata", json!(false)),
                ("repo_config", s.repo_config.clone()),
                ("compression_type", json!(s.compression_type)),
                ("layout", json!(s.layout)),
                ("osv_config", json!(null)),
                ("last_sync_details", last_sync),
            ] {
                v[k] = val;
            }
        }
        (Plugin::File, _) => {
            v["manifest"] = json!(r.manifest);
            v["last_sync_details"] = last_sync;
        }
        _ => v["last_sync_details"] = last_sync,
    }
    Ok(v)
}

/// A repository version as the API shows it.
pub fn version(v: &RepositoryVersion) -> Value {
    let href = version_href(v.plugin, &v.repository, v.number);
    let section = |counts: &std::collections::BTreeMap<String, u64>, filter: &str| -> Value {
        let map: serde_json::Map<String, Value> = counts
            .iter()
            .filter_map(|(t, c)| {
                let kind = ContentType::ALL.into_iter().find(|k| k.pulp_name() == t)?;
                Some((
                    t.clone(),
                    json!({"count": c, "href": format!("{API}content/{}/?{filter}={href}", kind.href_path())}),
                ))
            })
            .collect();
        Value::Object(map)
    };
    json!({
        "pulp_href": href,
        "prn": format!("prn:core.repositoryversion:{}", v.id),
        "pulp_created": ts(&v.created),
        "pulp_last_updated": ts(&v.created),
        "number": v.number,
        "repository": repository_href(v.plugin, &v.repository),
        "base_version": v.base_version.map(|b| version_href(v.plugin, &v.repository, b)),
        "content_summary": {
            "added": section(&v.summary.added, "repository_version_added"),
            "removed": section(&v.summary.removed, "repository_version_removed"),
            "present": section(&v.summary.present, "repository_version"),
        },
        "vuln_report": null,
    })
}

/// A publication as the API shows it.
pub fn publication(p: &Publication, distributions: Vec<String>) -> Value {
    let mut v = json!({
        "pulp_href": publication_href(p.plugin, &p.id),
        "prn": format!("prn:{}:{}", p.plugin.prn_model("publication"), p.id),
        "pulp_created": ts(&p.created),
        "pulp_last_updated": ts(&p.created),
        "repository": repository_href(p.plugin, &p.repository),
        "repository_version": version_href(p.plugin, &p.repository, p.version),
        "checkpoint": false,
        "distributions": Value::from(distributions),
    });
    match &p.rpm {
        Some(s) => {
            v["layout"] = json!(s.layout);
            v["checksum_type"] = json!(s.checksum_type);
            v["package_checksum_type"] = json!(s.checksum_type);
            v["metadata_checksum_type"] = json!(s.checksum_type);
            v["repo_config"] = s.repo_config.clone();
            v["sqlite_metadata"] = json!(false);
            v["compression_type"] = json!(s.compression_type);
        }
        None if p.plugin == Plugin::File => v["manifest"] = json!(p.manifest),
        None => {}
    }
    v
}

/// A distribution as the API shows it.
pub fn distribution(d: &Distribution, content_origin: &str) -> Value {
    let mut v = json!({
        "pulp_href": distribution_href(d.plugin, &d.id),
        "prn": format!("prn:{}:{}", d.plugin.prn_model("distribution"), d.id),
        "pulp_created": ts(&d.created),
        "pulp_last_updated": ts(&d.updated),
        "base_path": d.base_path,
        "base_url": format!("{content_origin}/pulp/content/{}/", d.base_path),
        "content_guard": null,
        "content_guard_prn": null,
        "no_content_change_since": null,
        "hidden": d.hidden,
        "pulp_labels": d.pulp_labels,
        "name": d.name,
        "repository": d.repository.map(|id| repository_href(d.plugin, &id)),
        "publication": d.publication.map(|id| publication_href(d.plugin, &id)),
        "repository_version": d.repository_version.map(|(r, n)| version_href(d.plugin, &r, n)),
        "checkpoint": false,
    });
    if d.plugin == Plugin::Rpm {
        v["generate_repo_config"] = json!(d.generate_repo_config);
    }
    v
}

/// A content unit as the API shows it: the common fields plus the
/// plugin's data.
pub fn content(c: &ContentRecord) -> Value {
    let mut v = json!({
        "pulp_href": content_href(c.r#ref.kind, &c.r#ref.id),
        "prn": format!("prn:{}:{}", c.r#ref.kind.pulp_name().replace("file.file", "file.filecontent"), c.r#ref.id),
        "pulp_created": ts(&c.created),
        "pulp_last_updated": ts(&c.created),
        "pulp_labels": {},
        "vuln_report": null,
        "artifact": c.artifact.as_deref().map(artifact_href),
    });
    if let (Value::Object(out), Value::Object(data)) = (&mut v, &c.data) {
        for (k, val) in data {
            out.entry(k.clone()).or_insert_with(|| val.clone());
        }
    }
    v
}

/// Keeps only `fields` (if any) and drops `exclude_fields` of a rendered
/// entity, as Pulp's `fields`/`exclude_fields` parameters do.
pub fn select_fields(mut v: Value, fields: &[String], exclude: &[String]) -> Value {
    if let Value::Object(map) = &mut v {
        if !fields.is_empty() {
            map.retain(|k, _| fields.iter().any(|f| f == k));
        }
        for f in exclude {
            map.remove(f);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_round_trip() {
        let id = Uuid::now_v7();
        let h = remote_href(Plugin::File, &id);
        assert_eq!(parse_href(&h, "remotes", Plugin::File), Some(id));
        assert_eq!(parse_href(&h, "remotes", Plugin::Rpm), None);
        let v = version_href(Plugin::Rpm, &id, 7);
        assert_eq!(parse_version_href(&v, Plugin::Rpm), Some((id, 7)));
        assert!(
            parse_version_href(
                "/pulp/api/v3/repositories/rpm/rpm/x/versions/1/",
                Plugin::Rpm
            )
            .is_none()
        );
    }

    #[test]
    fn timestamps_look_like_pulps() {
        let t: DateTime<Utc> = "2026-11-25T07:40:43.615620Z".parse().unwrap();
        assert_eq!(ts(&t), "2026-11-25T07:40:43.615620Z");
    }
}
