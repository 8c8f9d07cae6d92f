//! Publishing a file repository version: the files at their relative paths
//! (hard links to the artifacts) and a PULP_MANIFEST listing them.

use chrono::Utc;
use taskq::TaskError;
use uuid::Uuid;

use super::content;
use super::manifest::{self, ManifestEntry};
use crate::api::render;
use crate::catalog::model::{ContentType, Publication, Repository};
use crate::checksum::Sha256Digest;
use crate::services::Services;
use crate::tasks::publish::{Staging, io_fail, on_demand_index, place, version_to_publish};
use crate::tasks::{Ctx, created, fail};

/// Runs the publish task.
///
/// # Errors
/// A permanent [`TaskError`] naming what failed.
pub async fn run(
    ctx: &Ctx,
    repository: Uuid,
    version: u64,
    manifest: &str,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let repo: Repository = s.catalog.require(&repository).await.map_err(fail)?;
    let p = publish(s, &repo, version, manifest).await?;
    created(
        ctx,
        vec![render::publication_href(p.plugin, &p.id)],
        Some(render::publication(&p, Vec::new())),
    )
    .await
}

/// Publishes version `version` of `repo`.
///
/// # Errors
/// A permanent [`TaskError`] naming what failed.
pub async fn publish(
    s: &Services,
    repo: &Repository,
    version: u64,
    manifest_name: &str,
) -> Result<Publication, TaskError> {
    let key = version_to_publish(s, repo.id, version).await?;
    let refs = s
        .catalog
        .refs_in(&key, ContentType::File)
        .await
        .map_err(fail)?;
    let id = Uuid::now_v7();
    let staging = Staging::new(s, &id)
        .await
        .map_err(|e| io_fail("creating the publication directory", &e))?;
    let mut entries: Vec<ManifestEntry> = Vec::with_capacity(refs.len());
    let mut on_demand = serde_json::Map::new();
    for chunk in refs.chunks(1000) {
        for record in s.catalog.content(chunk).await.map_err(fail)? {
            let Some(entry) = content::entry(&record) else {
                continue;
            };
            crate::relpath::safe_relative_path(&entry.relative_path).map_err(fail)?;
            if entry.relative_path == manifest_name {
                return Err(TaskError::fail(format!(
                    "a content unit has the manifest's name {manifest_name:?}; choose another manifest name"
                )));
            }
            match &record.artifact {
                Some(sha) => {
                    let digest = Sha256Digest::parse(sha).map_err(fail)?;
                    place(
                        s.store.path(&digest),
                        staging.path().join(&entry.relative_path),
                    )
                    .await
                    .map_err(|e| io_fail(&entry.relative_path, &e))?;
                }
                None => {
                    on_demand.insert(entry.relative_path.clone(), serde_json::json!(record.r#ref));
                }
            }
            entries.push(entry);
        }
    }
    entries.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
    tokio::fs::write(
        staging.path().join(manifest_name),
        manifest::write(&entries),
    )
    .await
    .map_err(|e| io_fail("writing the manifest", &e))?;
    if !on_demand.is_empty() {
        tokio::fs::write(
            on_demand_index(s, &id),
            serde_json::Value::Object(on_demand).to_string(),
        )
        .await
        .map_err(|e| io_fail("writing the on-demand index", &e))?;
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
        manifest: Some(manifest_name.to_owned()),
        rpm: None,
    };
    s.catalog
        .create_publication(&publication)
        .await
        .map_err(fail)?;
    Ok(publication)
}
