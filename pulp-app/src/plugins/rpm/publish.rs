//! Publishing an rpm repository version: `repodata/` that dnf reads and the
//! packages at the paths its primary.xml names.
//!
//! Packages are placed under `Packages/<first letter>/<file name>` (layout
//! `nested_alphabetically`) or `Packages/<file name>` (`flat`) as hard
//! links to their artifacts; packages not downloaded yet (on_demand) go to
//! the publication's on-demand index, which the content app serves by
//! fetching them on first request.
//!
//! The metadata writer ([`RepoWriter`]) is synchronous and writes primary,
//! filelists and other in one pass. It runs on a blocking thread and is fed
//! through a bounded channel while the catalog is read a page at a time, so
//! memory does not grow with the number of packages; the blocking thread
//! also reads each package's blob (files and changelogs) and links its
//! artifact. Everything is built in a staging directory that is renamed
//! into place only when complete.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::json;
use taskq::TaskError;
use uuid::Uuid;

use super::content::{self, PackageBlob};
use super::fail;
use super::metadata::{Advisory, Comps, RepoWriter};
use super::model::Package;
use super::report;
use super::rpmfile::is_primary;
use crate::api::render;
use crate::catalog::model::{
    ContentRecord, ContentType, Plugin, Publication, Repository, RpmPublishSettings,
};
use crate::checksum::{ChecksumKind, Sha256Digest};
use crate::services::Services;
use crate::tasks::publish::{
    RpmPublishOptions, Staging, io_fail, on_demand_index, version_to_publish,
};
use crate::tasks::{Ctx, created};

/// Records read from the catalog per request.
const PAGE: usize = 250;

/// Runs the rpm publish task.
///
/// # Errors
/// A permanent [`TaskError`] naming what failed.
pub async fn run(
    ctx: &Ctx,
    repository: Uuid,
    version: u64,
    options: &RpmPublishOptions,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let repo: Repository = s.catalog.require(&repository).await.map_err(fail)?;
    // Not cancelable half way: the writer thread must finish with its
    // staging directory (it is short).
    let p = publish(s, &repo, version, options, None).await?;
    created(
        ctx,
        vec![render::publication_href(p.plugin, &p.id)],
        Some(render::publication(&p, Vec::new())),
    )
    .await
}

/// The publish options a repository's settings imply.
pub fn default_options(repo: &Repository) -> RpmPublishOptions {
    let s = repo.rpm.clone().unwrap_or_default();
    RpmPublishOptions {
        checksum_type: s.checksum_type.unwrap_or_else(|| "sha256".to_owned()),
        layout: s.layout,
        compression_type: s.compression_type.unwrap_or_else(|| "gz".to_owned()),
        repo_config: s.repo_config,
    }
}

/// Where a package is published: `Packages/[<first letter>/]<file name>`,
/// the file name being that of its location (or `name-version-release.arch.rpm`).
///
/// # Errors
/// If the result is not a safe relative path.
pub fn published_path(pkg: &Package, flat: bool) -> Result<String, TaskError> {
    let name = pkg
        .location_href
        .rsplit('/')
        .next()
        .filter(|n| n.len() > 4 && n.ends_with(".rpm"))
        .map_or_else(|| pkg.filename(), str::to_owned);
    let path = if flat {
        format!("Packages/{name}")
    } else {
        let first: String = name
            .chars()
            .next()
            .map(|c| c.to_lowercase().collect())
            .unwrap_or_default();
        format!("Packages/{first}/{name}")
    };
    crate::relpath::safe_relative_path(&path)
        .map_err(|e| TaskError::fail(format!("package {}: {e}", pkg.name)))?;
    Ok(path)
}

/// One package on its way to the writer.
struct Item {
    package: Package,
    blob: Option<PathBuf>,
    artifact: Option<PathBuf>,
}

/// The writer's package source: receives items, completes each package
/// from its blob, links its artifact, and stops at the first error (which
/// it keeps for the caller).
struct Feed<'a> {
    rx: tokio::sync::mpsc::Receiver<Result<Item, TaskError>>,
    root: &'a Path,
    dirs: HashSet<PathBuf>,
    error: &'a mut Option<TaskError>,
}

impl Feed<'_> {
    fn prepare(&mut self, item: Item) -> Result<Package, TaskError> {
        let Item {
            mut package,
            blob,
            artifact,
        } = item;
        if let Some(blob) = blob {
            let bytes = std::fs::read(&blob).map_err(|e| io_fail("reading a blob", &e))?;
            let blob = PackageBlob::from_bytes(&bytes).map_err(|e| {
                TaskError::fail(format!("package {}: invalid blob: {e}", package.name))
            })?;
            package.files = blob.files;
            package.changelogs = blob.changelogs;
        }
        package.primary_files = package
            .files
            .iter()
            .filter(|f| is_primary(&f.path))
            .cloned()
            .collect();
        if let Some(src) = artifact {
            let dest = self.root.join(&package.location_href);
            if let Some(dir) = dest.parent()
                && !self.dirs.contains(dir)
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| io_fail("creating a publication directory", &e))?;
                self.dirs.insert(dir.to_path_buf());
            }
            if let Err(e) = std::fs::hard_link(&src, &dest) {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    return Err(TaskError::fail(format!(
                        "two packages of the version are published as {}",
                        package.location_href
                    )));
                }
                std::fs::copy(&src, &dest).map_err(|e| io_fail(&package.location_href, &e))?;
            }
        }
        Ok(package)
    }
}

impl Iterator for Feed<'_> {
    type Item = Package;

    fn next(&mut self) -> Option<Package> {
        if self.error.is_some() {
            return None;
        }
        let result = match self.rx.blocking_recv()? {
            Ok(item) => self.prepare(item),
            Err(e) => Err(e),
        };
        match result {
            Ok(p) => Some(p),
            Err(e) => {
                *self.error = Some(e);
                None
            }
        }
    }
}

/// Every record of `kind` in a version.
async fn records(
    s: &Services,
    key: &str,
    kind: ContentType,
) -> Result<Vec<ContentRecord>, TaskError> {
    let refs = s.catalog.refs_in(key, kind).await.map_err(fail)?;
    s.catalog.content(&refs).await.map_err(fail)
}

/// Publishes version `version` of `repo` as publication `id` (a new id if
/// `None`).
///
/// # Errors
/// A permanent [`TaskError`] naming what failed; nothing is published then.
pub async fn publish(
    s: &Services,
    repo: &Repository,
    version: u64,
    options: &RpmPublishOptions,
    id: Option<Uuid>,
) -> Result<Publication, TaskError> {
    let checksum: ChecksumKind = options.checksum_type.parse().map_err(|_| {
        TaskError::fail(format!(
            "unsupported checksum type {:?}",
            options.checksum_type
        ))
    })?;
    let flat = match options.layout.as_str() {
        "flat" => true,
        "nested_alphabetically" => false,
        other => return Err(TaskError::fail(format!("unknown layout {other:?}"))),
    };
    let key = version_to_publish(s, repo.id, version).await?;
    let started = std::time::Instant::now();
    let packages = s
        .catalog
        .refs_in(&key, ContentType::Package)
        .await
        .map_err(fail)?;
    let advisories: Vec<Advisory> = records(s, &key, ContentType::Advisory)
        .await?
        .iter()
        .filter_map(content::advisory_of)
        .collect();
    let mut comps = Comps::default();
    let mut has_comps = false;
    for kind in [
        ContentType::PackageGroup,
        ContentType::PackageCategory,
        ContentType::PackageEnvironment,
        ContentType::PackageLangpacks,
    ] {
        for r in records(s, &key, kind).await? {
            has_comps |= content::add_to_comps(&mut comps, &r);
        }
    }
    // Catalog order is id order; publish in a stable, readable order.
    comps.groups.sort_by(|a, b| a.id.cmp(&b.id));
    comps.categories.sort_by(|a, b| a.id.cmp(&b.id));
    comps.environments.sort_by(|a, b| a.id.cmp(&b.id));

    let id = id.unwrap_or_else(Uuid::now_v7);
    let staging = Staging::new(s, &id)
        .await
        .map_err(|e| io_fail("creating the publication directory", &e))?;
    let root = staging.path().to_path_buf();
    let count = packages.len() as u64;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Item, TaskError>>(512);
    let writer = tokio::task::spawn_blocking(move || {
        let mut error = None;
        let feed = Feed {
            rx,
            root: &root,
            dirs: HashSet::new(),
            error: &mut error,
        };
        let mut w = RepoWriter::new(&root)
            .checksum(checksum)
            .advisories(&advisories);
        if has_comps {
            w = w.comps(&comps);
        }
        let result = w.write(count, feed).map(|_| ());
        (result, error)
    });

    let mut on_demand = serde_json::Map::new();
    let produced = feed_packages(s, &packages, flat, &tx, &mut on_demand).await;
    if let Err(e) = &produced {
        let _ = tx.send(Err(TaskError::fail(e.to_string()))).await;
    }
    drop(tx);
    let (written, feed_error) = writer
        .await
        .map_err(|e| TaskError::fail(format!("the metadata writer failed: {e}")))?;
    produced?;
    if let Some(e) = feed_error {
        return Err(e);
    }
    written.map_err(|e| TaskError::fail(format!("writing the metadata: {}", report(&e))))?;
    tracing::info!(
        packages = count,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "rpm metadata written"
    );

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
        plugin: Plugin::Rpm,
        created: Utc::now(),
        repository: repo.id,
        version,
        manifest: None,
        rpm: Some(RpmPublishSettings {
            checksum_type: checksum.name().to_owned(),
            layout: options.layout.clone(),
            // The writer compresses with gzip only.
            compression_type: "gz".to_owned(),
            repo_config: options.repo_config.clone(),
        }),
    };
    s.catalog
        .create_publication(&publication)
        .await
        .map_err(fail)?;
    Ok(publication)
}

/// Reads the packages page by page and sends them to the writer, placing
/// each at its published path (in the package and, for content not yet
/// downloaded, in the on-demand index).
async fn feed_packages(
    s: &Services,
    refs: &[crate::catalog::model::ContentRef],
    flat: bool,
    tx: &tokio::sync::mpsc::Sender<Result<Item, TaskError>>,
    on_demand: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), TaskError> {
    let mut paths: HashSet<String> = HashSet::with_capacity(refs.len());
    for chunk in refs.chunks(PAGE) {
        let records = s.catalog.content(chunk).await.map_err(fail)?;
        if records.len() != chunk.len() {
            return Err(TaskError::fail(
                "some packages of the version are missing from the catalog",
            ));
        }
        for r in records {
            let mut package = content::package_of(&r).ok_or_else(|| {
                TaskError::fail(format!("content {} is not a readable package", r.r#ref))
            })?;
            let path = published_path(&package, flat)?;
            if !paths.insert(path.clone()) {
                return Err(TaskError::fail(format!(
                    "two packages of the version are published as {path}"
                )));
            }
            package.location_href = path.clone();
            package.location_base = None;
            let blob = match r.blobs.first() {
                Some(sha) => Some(s.store.path(&Sha256Digest::parse(sha).map_err(fail)?)),
                None => None,
            };
            let artifact = match &r.artifact {
                Some(sha) => Some(s.store.path(&Sha256Digest::parse(sha).map_err(fail)?)),
                None => {
                    on_demand.insert(path, json!(r.r#ref));
                    None
                }
            };
            let item = Item {
                package,
                blob,
                artifact,
            };
            if tx.send(Ok(item)).await.is_err() {
                // The writer stopped; it reports why.
                return Ok(());
            }
        }
    }
    Ok(())
}
