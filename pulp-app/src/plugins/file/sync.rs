//! Syncing a file repository from a PULP_MANIFEST.
//!
//! 1. Download the manifest (size-capped) and parse all of it: a hostile
//!    entry fails the sync before anything is downloaded.
//! 2. Skip everything if nothing changed since the last sync (`optimize`).
//! 3. Download missing artifacts concurrently into temp files of the store,
//!    each verified against the manifest's size and SHA-256.
//! 4. Only when every download succeeded: move the artifacts into the
//!    store, record the content, and create the new repository version in
//!    one atomic step. A failed or canceled sync drops its temp files and
//!    leaves catalog and storage as they were.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use taskq::TaskError;
use uuid::Uuid;

use super::content;
use super::manifest::{self, ManifestEntry};
use crate::api::render;
use crate::catalog::VersionChange;
use crate::catalog::model::{Policy, Remote, Repository, Source};
use crate::checksum::{Checksum, Sha256Digest};
use crate::download::{Downloader, join_url};
use crate::plugins::rpm::report;
use crate::services::Services;
use crate::storage::{Expected, TempArtifact};
use crate::tasks::repository::commit;
use crate::tasks::sync::{SyncOptions, load_targets, skip_unchanged};
use crate::tasks::{Ctx, Progress, created, fail};

/// Largest manifest accepted.
const MAX_MANIFEST: u64 = 256 * 1024 * 1024;

/// Runs a file sync (see the module docs).
///
/// # Errors
/// A permanent [`TaskError`] naming what failed; [`TaskError::Canceled`]
/// when canceled.
pub async fn run(
    ctx: &Ctx,
    repository: Uuid,
    remote: Uuid,
    options: &SyncOptions,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let (repo, remote): (Repository, Remote) = load_targets(s, &repository, &remote).await?;
    let latest = s.catalog.latest_version(&repo.id).await.map_err(fail)?;
    let downloader = crate::plugins::remote_downloader(&s.downloader, &remote)?;
    let mut progress = Progress::new(ctx);

    let p = progress
        .start("sync.downloading.metadata", "Downloading Metadata", Some(1))
        .await;
    let bytes = downloader
        .fetch_bytes(&remote.url, MAX_MANIFEST)
        .await
        .map_err(|e| {
            TaskError::fail(format!(
                "could not download the manifest {}: {}",
                remote.url,
                report(&e)
            ))
        })?;
    progress.set(p, 1).await;
    progress.finish(p, "completed").await;

    let details = json!({
        "url": remote.url,
        "mirror": options.mirror,
        "remote_pk": remote.id.to_string(),
        "download_policy": remote.policy.as_str(),
        "manifest_checksum": Sha256Digest::of(&bytes).to_hex(),
        "most_recent_version": latest,
    });
    if skip_unchanged(s, &repo.id, &details, options, &mut progress).await? {
        return created(ctx, Vec::new(), None).await;
    }

    let text = std::str::from_utf8(&bytes)
        .map_err(|_| TaskError::fail("the manifest is not UTF-8 text"))?;
    let entries = manifest::parse(text).map_err(fail)?;
    progress
        .record(
            "sync.parsing.metadata",
            "Parsing Metadata Lines",
            entries.len() as u64,
            "completed",
        )
        .await;

    let temps = download(ctx, s, &downloader, &remote, &entries, &mut progress).await?;

    let p = progress
        .start(
            "associating.content",
            "Associating Content",
            Some(entries.len() as u64),
        )
        .await;
    let on_demand = remote.policy != Policy::Immediate;
    let persisted: std::collections::HashSet<String> = TempArtifact::persist_all(temps)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|a| a.sha256.to_hex())
        .collect();
    let mut records = Vec::with_capacity(entries.len());
    for e in &entries {
        let stored = persisted.contains(&e.sha256)
            || s.store.exists(&parse_digest(e)?).await.map_err(fail)?;
        let source = Source {
            url: join_url(&remote.url, &e.relative_path)
                .map_err(fail)?
                .to_string(),
            checksum_type: "sha256".to_owned(),
            checksum: e.sha256.clone(),
            size: Some(e.size),
            remote: Some(remote.id),
        };
        records.push(content::record(
            e,
            stored.then(|| e.sha256.clone()),
            (on_demand || !stored).then_some(source),
        ));
    }
    s.catalog.put_content(&records).await.map_err(fail)?;
    let change = VersionChange {
        add: records.iter().map(|r| r.r#ref).collect(),
        replace: options.mirror,
        ..Default::default()
    };
    let version = commit(s, &repo, latest, &change).await?;
    let mut details = details;
    details["most_recent_version"] = json!(version.as_ref().map_or(latest, |v| v.number));
    s.catalog
        .set_repo_state_field(&repo.id, "last_sync", &details.to_string())
        .await
        .map_err(fail)?;
    progress.set(p, entries.len() as u64).await;
    progress.finish(p, "completed").await;

    let mut resources = Vec::new();
    let mut result = None;
    if let Some(v) = &version {
        resources.push(render::version_href(repo.plugin, &repo.id, v.number));
        result = Some(render::version(v));
        if options.mirror && !repo.autopublish {
            let manifest = repo
                .manifest
                .clone()
                .unwrap_or_else(|| "PULP_MANIFEST".to_owned());
            let publication = super::publish::publish(s, &repo, v.number, &manifest).await?;
            resources.push(render::publication_href(repo.plugin, &publication.id));
        }
    }
    created(ctx, resources, result).await
}

/// Downloads one manifest entry into a verified temp file.
async fn fetch(
    s: Arc<Services>,
    downloader: Downloader,
    manifest_url: String,
    e: ManifestEntry,
) -> Result<TempArtifact, TaskError> {
    let url = join_url(&manifest_url, &e.relative_path)
        .map_err(|err| TaskError::fail(format!("{}: {err}", e.relative_path)))?;
    let expected = Expected::default()
        .with_size(e.size)
        .with_checksum(Checksum::sha256(parse_digest(&e)?));
    downloader
        .download_to_temp_file(url.as_str(), &expected, &s.store)
        .await
        .map_err(|err| TaskError::fail(format!("{}: {}", e.relative_path, report(&err))))
}

fn parse_digest(e: &ManifestEntry) -> Result<Sha256Digest, TaskError> {
    Sha256Digest::parse(&e.sha256)
        .map_err(|err| TaskError::fail(format!("{}: {err}", e.relative_path)))
}

/// Downloads what the store lacks (policy `immediate`) into verified temp
/// files; stops at the first failure or on cancellation.
async fn download(
    ctx: &Ctx,
    s: &Services,
    downloader: &Downloader,
    remote: &Remote,
    entries: &[ManifestEntry],
    progress: &mut Progress,
) -> Result<Vec<TempArtifact>, TaskError> {
    let mut wanted: Vec<ManifestEntry> = Vec::new();
    if remote.policy == Policy::Immediate {
        let mut seen = std::collections::HashSet::new();
        for e in entries {
            if seen.insert(e.sha256.as_str())
                && !s.store.exists(&parse_digest(e)?).await.map_err(fail)?
            {
                wanted.push(e.clone());
            }
        }
    }
    let p = progress
        .start(
            "sync.downloading.artifacts",
            "Downloading Artifacts",
            Some(wanted.len() as u64),
        )
        .await;
    let concurrency = remote
        .download_concurrency
        .map_or(s.settings.download_concurrency, |c| c as usize)
        .max(1);
    let services = crate::tasks::services(ctx);
    let url = remote.url.clone();
    let downloader = downloader.clone();
    let downloads = futures::stream::iter(
        wanted
            .into_iter()
            .map(move |e| fetch(Arc::clone(&services), downloader.clone(), url.clone(), e)),
    )
    .buffer_unordered(concurrency);
    progress.collect(p, downloads).await
}
