//! Syncing a puppet repository from a Forge (v3 API).
//!
//! 1. Page through `GET <url>/v3/releases` (once per module of `includes`,
//!    with `?module=author-name`; else the whole Forge), following
//!    `pagination.next`, each page size-capped and parsed as hostile
//!    input ([`listing`](super::listing)). A page that links back to one
//!    already read fails the sync, and so do more than
//!    [`MAX_RELEASES`](listing::MAX_RELEASES) releases.
//! 2. Skip everything if neither the listing nor the sync's settings
//!    changed since the last sync (`optimize`).
//! 3. For each release not in the catalog yet, concurrently: download the
//!    tarball into a temp file of the store, verified against the listed
//!    size and SHA-256, then read it ([`tarball`](super::tarball)):
//!    every member is checked, and its metadata.json must name the release
//!    the Forge listed. metadata.json goes into a temp blob artifact.
//! 4. Only when every release succeeded: move tarballs and blobs into the
//!    store, record the content, and create the new version in one atomic
//!    step (mirror: exactly what the Forge lists; otherwise added, with
//!    units of the same `author-name-version` replaced). A failed or
//!    canceled sync drops its temp files and leaves catalog and storage as
//!    they were.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use sha2::Digest as _;
use taskq::TaskError;
use uuid::Uuid;

use super::content;
use super::listing::{self, Release};
use super::metadata::ModuleSlug;
use super::tarball;
use crate::api::render;
use crate::catalog::model::{
    ContentRecord, ContentRef, ContentType, Policy, PuppetRemote, Repository,
};
use crate::catalog::{VersionChange, VersionRef};
use crate::checksum::{Checksum, Sha256Digest};
use crate::download::Downloader;
use crate::plugins::rpm::report;
use crate::services::Services;
use crate::storage::{Expected, TempArtifact};
use crate::tasks::repository::commit;
use crate::tasks::sync::{SyncOptions, load_targets, skip_unchanged};
use crate::tasks::{Ctx, Progress, created, fail};

/// Most listing pages read in one sync.
const MAX_PAGES: u64 = 100_000;

/// Runs a puppet sync (see the module docs).
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
    let (repo, remote): (Repository, PuppetRemote) = load_targets(s, &repository, &remote).await?;
    if remote.remote.policy != Policy::Immediate {
        return Err(TaskError::fail(
            "puppet remotes sync with the immediate policy only",
        ));
    }
    let latest = s.catalog.latest_version(&repo.id).await.map_err(fail)?;
    let downloader = crate::plugins::remote_downloader(&s.downloader, &remote.remote)?;
    let mut progress = Progress::new(ctx);

    let releases = tokio::select! {
        r = list_releases(&downloader, &remote, &mut progress) => r?,
        () = ctx.cancelled() => return Err(TaskError::Canceled),
    };
    let details = json!({
        "url": remote.remote.url,
        "includes": remote.includes,
        "mirror": options.mirror,
        "remote_pk": remote.remote.id.to_string(),
        "download_policy": remote.remote.policy.as_str(),
        "listing_checksum": listing_digest(&releases),
        "most_recent_version": latest,
    });
    if skip_unchanged(s, &repo.id, &details, options, &mut progress).await? {
        return created(ctx, Vec::new(), None).await;
    }
    progress
        .record(
            "sync.parsing.metadata",
            "Parsing Metadata",
            releases.len() as u64,
            "completed",
        )
        .await;

    let (known, fetched) =
        fetch_all(ctx, s, &downloader, &remote, &releases, &mut progress).await?;

    // From here on the sync is committed to.
    let total = (known.len() + fetched.len()) as u64;
    let p = progress
        .start("associating.content", "Associating Content", Some(total))
        .await;
    let mut temps = Vec::with_capacity(fetched.len() * 2);
    let mut records: Vec<ContentRecord> = Vec::with_capacity(fetched.len());
    for f in fetched {
        temps.extend(f.tarball);
        temps.push(f.blob);
        records.push(f.record);
    }
    TempArtifact::persist_all(temps).await.map_err(fail)?;
    s.catalog.put_content(&records).await.map_err(fail)?;
    let mut synced: HashMap<ContentRef, String> = known;
    for r in &records {
        if let Some(m) = content::module(r) {
            synced.insert(r.r#ref, m.release_slug());
        }
    }
    let remove = if options.mirror {
        Vec::new()
    } else {
        superseded(s, &repo, latest, &synced).await?
    };
    let change = VersionChange {
        add: synced.keys().copied().collect(),
        remove,
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
    progress.set(p, total).await;
    progress.finish(p, "completed").await;

    let mut resources = Vec::new();
    let mut result = None;
    if let Some(v) = &version {
        resources.push(render::version_href(repo.plugin, &repo.id, v.number));
        result = Some(render::version(v));
        if options.mirror && !repo.autopublish {
            let publication = super::publish::publish(s, &repo, v.number).await?;
            resources.push(render::publication_href(repo.plugin, &publication.id));
        }
    }
    created(ctx, resources, result).await
}

/// Step 1: every release the Forge lists (for `includes`, those modules).
async fn list_releases(
    downloader: &Downloader,
    remote: &PuppetRemote,
    progress: &mut Progress,
) -> Result<Vec<Release>, TaskError> {
    let base = remote.remote.url.as_str();
    let includes: Vec<ModuleSlug> = remote
        .includes
        .iter()
        .map(|i| ModuleSlug::parse(i).map_err(fail))
        .collect::<Result<_, _>>()?;
    let wanted: HashSet<&ModuleSlug> = includes.iter().collect();
    let queries: Vec<Option<&ModuleSlug>> = if includes.is_empty() {
        vec![None]
    } else {
        includes.iter().map(Some).collect()
    };
    let p = progress
        .start("sync.downloading.metadata", "Downloading Metadata", None)
        .await;
    let mut pages = 0u64;
    let mut out: BTreeMap<String, Release> = BTreeMap::new();
    for module in queries {
        let mut next = Some(listing::first_page(base, module).map_err(fail)?);
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(url) = next.take() {
            if !seen.insert(url.clone()) {
                progress.finish(p, "failed").await;
                return Err(TaskError::fail(format!(
                    "the Forge's pagination links back to {url}"
                )));
            }
            if pages >= MAX_PAGES {
                progress.finish(p, "failed").await;
                return Err(TaskError::fail(format!(
                    "the Forge lists more than {MAX_PAGES} pages"
                )));
            }
            let bytes = match downloader.fetch_bytes(&url, listing::MAX_PAGE).await {
                Ok(b) => b,
                Err(e) => {
                    progress.finish(p, "failed").await;
                    return Err(TaskError::fail(format!(
                        "could not download the release listing {url}: {}",
                        report(&e)
                    )));
                }
            };
            let page = match listing::parse_page(base, &url, &bytes) {
                Ok(page) => page,
                Err(e) => {
                    progress.finish(p, "failed").await;
                    return Err(TaskError::fail(format!("the release listing {url}: {e}")));
                }
            };
            pages += 1;
            progress.set(p, pages).await;
            for r in page.releases {
                // A Forge that ignores `?module=` still only yields `includes`.
                if !wanted.is_empty() && !wanted.contains(&r.slug) {
                    continue;
                }
                let label = r.release_slug();
                match out.get(&label) {
                    None => {
                        out.insert(label, r);
                    }
                    Some(old) if *old == r => {}
                    Some(_) => {
                        progress.finish(p, "failed").await;
                        return Err(TaskError::fail(format!(
                            "release {label:?} is listed twice with different files"
                        )));
                    }
                }
            }
            if out.len() > listing::MAX_RELEASES {
                progress.finish(p, "failed").await;
                return Err(TaskError::fail(format!(
                    "the Forge lists more than {} releases",
                    listing::MAX_RELEASES
                )));
            }
            next = page.next;
        }
    }
    progress.finish(p, "completed").await;
    Ok(out.into_values().collect())
}

/// A digest of what the listing says about each release (not of the pages,
/// whose download counts change all the time).
fn listing_digest(releases: &[Release]) -> String {
    let mut h = sha2::Sha256::new();
    for r in releases {
        h.update(
            format!(
                "{}\0{}\0{}\0{}\n",
                r.release_slug(),
                r.sha256.to_hex(),
                r.size,
                r.url
            )
            .as_bytes(),
        );
    }
    hex::encode(h.finalize())
}

/// A release downloaded (or found in the store) and checked.
#[derive(Debug)]
struct Fetched {
    record: ContentRecord,
    /// The tarball, when it was downloaded (not already stored).
    tarball: Option<TempArtifact>,
    /// metadata.json as a blob.
    blob: TempArtifact,
}

/// Step 3: the releases already in the catalog (ref → release slug), and
/// the others fetched and checked. Stops at the first failure or on
/// cancellation.
async fn fetch_all(
    ctx: &Ctx,
    s: &Services,
    downloader: &Downloader,
    remote: &PuppetRemote,
    releases: &[Release],
    progress: &mut Progress,
) -> Result<(HashMap<ContentRef, String>, Vec<Fetched>), TaskError> {
    let refs: Vec<ContentRef> = releases.iter().map(release_ref).collect();
    let mut known: HashMap<ContentRef, String> = HashMap::new();
    for record in s.catalog.content(&refs).await.map_err(fail)? {
        let Some(m) = content::module(&record) else {
            continue;
        };
        let stored = match Sha256Digest::parse(&m.sha256) {
            Ok(d) => s.store.exists(&d).await.map_err(fail)?,
            Err(_) => false,
        };
        if stored {
            known.insert(record.r#ref, m.release_slug());
        }
    }
    let wanted: Vec<Release> = releases
        .iter()
        .filter(|r| !known.contains_key(&release_ref(r)))
        .cloned()
        .collect();
    let p = progress
        .start(
            "sync.downloading.artifacts",
            "Downloading Artifacts",
            Some(wanted.len() as u64),
        )
        .await;
    let concurrency = remote
        .remote
        .download_concurrency
        .map_or(s.settings.download_concurrency, |c| c as usize)
        .max(1);
    let services = crate::tasks::services(ctx);
    let downloader = downloader.clone();
    let downloads = futures::stream::iter(
        wanted
            .into_iter()
            .map(move |r| fetch(Arc::clone(&services), downloader.clone(), r)),
    )
    .buffer_unordered(concurrency);
    let fetched = progress.collect(p, downloads).await?;
    Ok((known, fetched))
}

/// The content reference a listed release gets.
fn release_ref(r: &Release) -> ContentRef {
    content::content_ref(&r.release_slug(), &r.sha256.to_hex())
}

/// Downloads one release (unless the store has it), reads and checks it.
async fn fetch(s: Arc<Services>, downloader: Downloader, r: Release) -> Result<Fetched, TaskError> {
    let label = r.release_slug();
    let failed = |what: String| TaskError::fail(format!("module {label} ({}): {what}", r.url));
    let (tarball, path) = if s.store.exists(&r.sha256).await.map_err(fail)? {
        (None, s.store.path(&r.sha256))
    } else {
        let expected = Expected::default()
            .with_size(r.size)
            .with_checksum(Checksum::sha256(r.sha256));
        let temp = downloader
            .download_to_temp_file(&r.url, &expected, &s.store)
            .await
            .map_err(|e| failed(report(&e)))?;
        let path = temp.path().to_path_buf();
        (Some(temp), path)
    };
    let read = tokio::task::spawn_blocking(move || tarball::read(&path))
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(report(&e)))?;
    let m = &read.metadata;
    if m.slug != r.slug || m.version.as_str() != r.version.as_str() {
        return Err(failed(format!(
            "its metadata.json names {}, not the release the Forge lists",
            m.release_slug()
        )));
    }
    if read.sha256 != r.sha256 || read.size != r.size {
        return Err(failed(format!(
            "the stored tarball is {} bytes with SHA-256 {}, the Forge lists {} bytes and {}",
            read.size, read.sha256, r.size, r.sha256
        )));
    }
    let mut w = s
        .store
        .begin_write(Expected::default())
        .await
        .map_err(fail)?;
    w.write_chunk(&read.metadata_json).await.map_err(fail)?;
    let blob = w.finish_temp().await.map_err(fail)?;
    let record = content::record(&read, &blob.artifact().sha256.to_hex());
    Ok(Fetched {
        record,
        tarball,
        blob,
    })
}

/// Units of the latest version that share an `author-name-version` with a
/// synced unit but are another tarball: an additive sync replaces them (a
/// repository version holds one tarball per release).
async fn superseded(
    s: &Services,
    repo: &Repository,
    latest: u64,
    synced: &HashMap<ContentRef, String>,
) -> Result<Vec<ContentRef>, TaskError> {
    let slugs: HashSet<&str> = synced.values().map(String::as_str).collect();
    let key = s
        .catalog
        .version_content_key(VersionRef {
            repository: repo.id,
            number: latest,
        })
        .await
        .map_err(fail)?;
    let present = s
        .catalog
        .refs_in(&key, ContentType::PuppetModule)
        .await
        .map_err(fail)?;
    let mut out = Vec::new();
    for chunk in present.chunks(1000) {
        for record in s.catalog.content(chunk).await.map_err(fail)? {
            if let Some(m) = content::module(&record)
                && slugs.contains(m.release_slug().as_str())
                && !synced.contains_key(&record.r#ref)
            {
                out.push(record.r#ref);
            }
        }
    }
    Ok(out)
}
