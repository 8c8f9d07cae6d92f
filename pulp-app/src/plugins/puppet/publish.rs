//! Publishing a puppet repository version as a static, read-only Forge:
//! the tarballs (hard links to the artifacts) and the Forge v3 JSON
//! documents, laid out as [`documents`](super::documents) describes, so the
//! content app answers `puppet module install --module_repository
//! <base_url>` from plain files.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;
use taskq::TaskError;
use uuid::Uuid;

use super::content::{self, Module};
use super::documents;
use super::metadata::Version;
use crate::api::render;
use crate::catalog::model::{ContentType, Publication, Repository};
use crate::checksum::Sha256Digest;
use crate::services::Services;
use crate::tasks::publish::{Staging, io_fail, place, version_to_publish};
use crate::tasks::{Ctx, created, fail};

/// Runs the publish task.
///
/// # Errors
/// A permanent [`TaskError`] naming what failed.
pub async fn run(ctx: &Ctx, repository: Uuid, version: u64) -> Result<(), TaskError> {
    let s = ctx.state();
    let repo: Repository = s.catalog.require(&repository).await.map_err(fail)?;
    let p = publish(s, &repo, version).await?;
    created(
        ctx,
        vec![render::publication_href(p.plugin, &p.id)],
        Some(render::publication(&p, Vec::new())),
    )
    .await
}

/// One published release, for the listings.
#[derive(Debug)]
struct Entry {
    module: Module,
    version: Version,
    created: DateTime<Utc>,
}

async fn write_json(dir: &Path, rel: &str, v: &Value) -> Result<(), TaskError> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| io_fail(rel, &e))?;
    }
    let bytes = serde_json::to_vec(v).map_err(fail)?;
    tokio::fs::write(&path, bytes)
        .await
        .map_err(|e| io_fail(rel, &e))
}

async fn read_json(dir: &Path, rel: &str) -> Result<Value, TaskError> {
    let bytes = tokio::fs::read(dir.join(rel))
        .await
        .map_err(|e| io_fail(rel, &e))?;
    serde_json::from_slice(&bytes).map_err(fail)
}

/// Publishes version `version` of `repo`.
///
/// # Errors
/// A permanent [`TaskError`] naming what failed.
pub async fn publish(
    s: &Services,
    repo: &Repository,
    version: u64,
) -> Result<Publication, TaskError> {
    let key = version_to_publish(s, repo.id, version).await?;
    let refs = s
        .catalog
        .refs_in(&key, ContentType::PuppetModule)
        .await
        .map_err(fail)?;
    let id = Uuid::now_v7();
    let staging = Staging::new(s, &id)
        .await
        .map_err(|e| io_fail("creating the publication directory", &e))?;
    let dir = staging.path().to_path_buf();
    let mut entries: Vec<Entry> = Vec::with_capacity(refs.len());
    let mut seen: HashMap<String, String> = HashMap::new();
    for chunk in refs.chunks(1000) {
        for record in s.catalog.content(chunk).await.map_err(fail)? {
            let Some(m) = content::module(&record) else {
                continue;
            };
            let slug = m.release_slug();
            if m.relative_path != format!("{slug}.tar.gz") {
                return Err(TaskError::fail(format!(
                    "module {slug}: unexpected relative path {:?}",
                    m.relative_path
                )));
            }
            crate::relpath::safe_relative_path(&m.relative_path).map_err(fail)?;
            let version = Version::parse(&m.version).map_err(fail)?;
            if let Some(other) = seen.insert(slug.clone(), m.sha256.clone()) {
                return Err(TaskError::fail(format!(
                    "the version holds two tarballs of {slug} ({other} and {}); remove one",
                    m.sha256
                )));
            }
            let artifact = record
                .artifact
                .as_deref()
                .ok_or_else(|| TaskError::fail(format!("module {slug} has no artifact")))?;
            let digest = Sha256Digest::parse(artifact).map_err(fail)?;
            let files = documents::file_path(&m.relative_path);
            place(s.store.path(&digest), dir.join(&files))
                .await
                .map_err(|e| io_fail(&files, &e))?;
            let blob = Sha256Digest::parse(&m.metadata_blob).map_err(fail)?;
            let metadata: Value = {
                let bytes = tokio::fs::read(s.store.path(&blob))
                    .await
                    .map_err(|e| io_fail(&format!("the metadata of {slug}"), &e))?;
                serde_json::from_slice(&bytes).map_err(fail)?
            };
            let doc = documents::release(&m, &metadata, &record.created);
            write_json(&dir, &documents::release_path(&slug), &doc).await?;
            entries.push(Entry {
                module: m,
                version,
                created: record.created,
            });
        }
    }
    // Modules in name order, newest version first.
    entries.sort_by(|a, b| {
        a.module
            .module_slug()
            .cmp(&b.module.module_slug())
            .then_with(|| b.version.cmp(&a.version))
    });
    let index: Vec<Value> = entries
        .iter()
        .map(|e| documents::release_summary(&e.module, &e.created))
        .collect();
    write_json(&dir, documents::INDEX_PATH, &Value::Array(index)).await?;
    for group in entries.chunk_by(|a, b| a.module.module_slug() == b.module.module_slug()) {
        let slug = group[0].module.module_slug();
        let current = group
            .iter()
            .find(|e| !e.version.is_prerelease())
            .unwrap_or(&group[0]);
        let current_doc = read_json(
            &dir,
            &documents::release_path(&current.module.release_slug()),
        )
        .await?;
        let releases = group
            .iter()
            .map(|e| documents::release_summary(&e.module, &e.created))
            .collect();
        let first = group
            .iter()
            .map(|e| e.created)
            .min()
            .unwrap_or(current.created);
        let doc = documents::module(&current.module, current_doc, releases, &first);
        write_json(&dir, &documents::module_path(&slug), &doc).await?;
    }
    staging
        .finish()
        .await
        .map_err(|e| io_fail("finishing the publication", &e))?;
    let publication = Publication {
        id,
        plugin: repo.plugin,
        created: Utc::now(),
        repository: repo.id,
        version,
        manifest: None,
        rpm: None,
    };
    s.catalog
        .create_publication(&publication)
        .await
        .map_err(fail)?;
    Ok(publication)
}
