//! Syncing an rpm repository from a yum repository.
//!
//! 1. Download `repodata/repomd.xml` (size-capped) and parse it; every
//!    href it lists is checked before anything else is fetched. With
//!    `optimize`, stop here when neither the remote's repomd.xml nor the
//!    sync's settings changed since the last sync (`sync.was_skipped`).
//! 2. Download primary, filelists, other, updateinfo and comps into temp
//!    files of the store, each verified against repomd.xml's checksum and
//!    size (and, while parsing, the decompressed checksum and size).
//! 3. Parse primary, filelists and other in lockstep on a blocking thread
//!    (they list packages in the same order) and hand packages over a
//!    bounded channel in chunks: memory does not grow with the repository.
//!    Each new package gets a blob (files and changelogs) written as a temp
//!    artifact and a line in a *plan*, an unlinked temp file of JSON lines:
//!    its record and what to download. Package hrefs are checked by the
//!    parser, so a hostile href fails the sync before any package is
//!    downloaded. Packages already in the catalog are reused as they are.
//! 4. With policy `immediate`, download the packages the store lacks,
//!    concurrently, each into a temp file verified against the metadata
//!    checksum and size. With `on_demand`/`streamed` the records keep a
//!    `source` and the content app fetches them on first request.
//! 5. Only when all of that succeeded: move the temp artifacts into the
//!    store, record the content, and create the repository version in one
//!    atomic step (mirror: exactly what the remote has; otherwise add).
//!
//! `skip_types: ["srpm"]` leaves source packages out.
//!
//! A failed or canceled sync drops its temp files and leaves the catalog
//! and the store as they were: nothing is written to either before step 5.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use taskq::TaskError;
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, AsyncWriteExt};
use uuid::Uuid;

use super::content::{self, PackageBlob, PackageParts};
use super::fail;
use super::metadata::{
    Comps, FilelistsReader, Limits, MetadataError, OtherReader, PrimaryReader, RepoMd,
    RepoMdRecord, UpdateInfoReader,
};
use super::model::Package;
use super::report;
use crate::api::render;
use crate::catalog::VersionChange;
use crate::catalog::model::{ContentRecord, ContentRef, Policy, Remote, Repository, Source};
use crate::checksum::{Checksum, Sha256Digest};
use crate::download::{Downloader, join_dir_url};
use crate::services::Services;
use crate::storage::{Expected, TempArtifact};
use crate::tasks::repository::commit;
use crate::tasks::sync::{SyncOptions, load_targets, skip_unchanged};
use crate::tasks::{Ctx, Progress, created};

/// Largest repomd.xml accepted.
const MAX_REPOMD: u64 = 16 * 1024 * 1024;
/// Largest metadata file accepted when repomd.xml gives no size.
const MAX_METADATA: u64 = 4 * 1024 * 1024 * 1024;
/// Largest package accepted when primary.xml gives no size.
const MAX_PACKAGE: u64 = 64 * 1024 * 1024 * 1024;
/// Packages per message from the parser.
const CHUNK: usize = 100;
/// Blob writes (and renames into the store) at once.
const FILE_CONCURRENCY: usize = 16;
/// Records per catalog write.
const WRITE_BATCH: usize = 100;

fn failed(what: &str, e: &(dyn std::error::Error + 'static)) -> TaskError {
    TaskError::fail(format!("{what}: {}", report(e)))
}

/// Runs an rpm sync (see the module docs).
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
    let mut progress = Progress::new(ctx);
    let prepared = tokio::select! {
        r = prepare(ctx, &repo, &remote, latest, options, &mut progress) => r?,
        () = ctx.cancelled() => return Err(TaskError::Canceled),
    };
    let Some(prepared) = prepared else {
        return created(ctx, Vec::new(), None).await;
    };
    // From here on the sync is committed to: not cancelable half way.
    let (version, publication) =
        associate(s, &repo, latest, options, prepared, &mut progress).await?;
    let mut resources = Vec::new();
    let mut result = None;
    if let Some(v) = &version {
        resources.push(render::version_href(repo.plugin, &repo.id, v.number));
        result = Some(render::version(v));
    }
    if let Some(p) = publication {
        resources.push(render::publication_href(repo.plugin, &p));
    }
    created(ctx, resources, result).await
}

/// Everything downloaded and planned, waiting to be stored.
struct Prepared {
    details: serde_json::Value,
    plan: Plan,
    packages: Vec<(u64, TempArtifact)>,
    blobs: Vec<TempArtifact>,
    on_demand: bool,
}

/// Steps 1 to 4; `None` when the sync is skipped.
async fn prepare(
    ctx: &Ctx,
    repo: &Repository,
    remote: &Remote,
    latest: u64,
    options: &SyncOptions,
    progress: &mut Progress,
) -> Result<Option<Prepared>, TaskError> {
    let s = ctx.state();
    let downloader = crate::plugins::remote_downloader(&s.downloader, remote)?;
    let p = progress
        .start(
            "sync.downloading.metadata",
            "Downloading Metadata Files",
            None,
        )
        .await;
    let repomd_url = join_dir_url(&remote.url, "repodata/repomd.xml")
        .map_err(|e| failed("invalid remote URL", &e))?;
    let bytes = downloader
        .fetch_bytes(repomd_url.as_str(), MAX_REPOMD)
        .await
        .map_err(|e| failed("could not download repodata/repomd.xml", &e))?;
    let repomd = RepoMd::parse(&bytes[..]).map_err(|e| failed("invalid repomd.xml", &e))?;
    let details = json!({
        "url": remote.url,
        "mirror": options.mirror,
        "remote_pk": remote.id.to_string(),
        "download_policy": remote.policy.as_str(),
        "repomd_checksum": Sha256Digest::of(&bytes).to_hex(),
        "skip_types": options.skip_types,
        "most_recent_version": latest,
    });
    if skip_unchanged(s, &repo.id, &details, options, progress).await? {
        progress.finish(p, "skipped").await;
        return Ok(None);
    }

    let files = fetch_metadata(s, &downloader, remote, &repomd, progress, p).await?;

    let on_demand = remote.policy != Policy::Immediate;
    let mut plan = Plan::new(s).await?;
    let mut blobs = Vec::new();
    let skip_srpm = options.skip_types.iter().any(|t| t == "srpm");
    plan_packages(
        s, remote, &files, skip_srpm, &mut plan, &mut blobs, progress,
    )
    .await?;
    plan_advisories_and_comps(&files, &mut plan, progress).await?;
    drop(files);

    let packages = download(ctx, s, &downloader, remote, &mut plan, progress).await?;
    Ok(Some(Prepared {
        details,
        plan,
        packages,
        blobs,
        on_demand,
    }))
}

/// One downloaded metadata file.
struct MetadataFile {
    record: RepoMdRecord,
    temp: TempArtifact,
}

impl MetadataFile {
    fn path(&self) -> PathBuf {
        self.temp.path().to_path_buf()
    }
}

/// The metadata files a sync reads.
struct MetadataFiles {
    primary: MetadataFile,
    filelists: Option<MetadataFile>,
    other: Option<MetadataFile>,
    updateinfo: Option<MetadataFile>,
    comps: Option<MetadataFile>,
}

/// Step 2: downloads the metadata files into verified temp files.
async fn fetch_metadata(
    s: &Services,
    downloader: &Downloader,
    remote: &Remote,
    repomd: &RepoMd,
    progress: &mut Progress,
    p: usize,
) -> Result<MetadataFiles, TaskError> {
    let primary = repomd
        .record("primary")
        .ok_or_else(|| TaskError::fail("repomd.xml lists no primary metadata"))?;
    let comps = repomd.record("group").or_else(|| repomd.record("group_gz"));
    let wanted: Vec<Option<&RepoMdRecord>> = vec![
        Some(primary),
        repomd.record("filelists"),
        repomd.record("other"),
        repomd.record("updateinfo"),
        comps,
    ];
    let total = wanted.iter().flatten().count() as u64;
    progress.set_total(p, total).await;
    let mut done = 0;
    let mut out: Vec<Option<MetadataFile>> = Vec::new();
    for record in wanted {
        let Some(record) = record else {
            out.push(None);
            continue;
        };
        let href = &record.location_href;
        let url = join_dir_url(&remote.url, href).map_err(|e| failed(&format!("{href:?}"), &e))?;
        let mut expected = Expected::default()
            .with_checksum(record.checksum.clone())
            .with_max_size(MAX_METADATA);
        if let Some(size) = record.size {
            expected = expected.with_size(size);
        }
        let temp = downloader
            .download_to_temp_file(url.as_str(), &expected, &s.store)
            .await
            .map_err(|e| failed(&format!("could not download {href}"), &e))?;
        out.push(Some(MetadataFile {
            record: record.clone(),
            temp,
        }));
        done += 1;
        progress.set(p, done).await;
    }
    progress.finish(p, "completed").await;
    let mut it = out.into_iter();
    let mut next = || it.next().flatten();
    let primary = next().ok_or_else(|| TaskError::fail("primary metadata missing"))?;
    Ok(MetadataFiles {
        primary,
        filelists: next(),
        other: next(),
        updateinfo: next(),
        comps: next(),
    })
}

/// A package download.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Fetch {
    href: String,
    url: String,
    checksum_type: String,
    checksum: String,
    size: Option<u64>,
}

/// One unit the sync will associate.
#[derive(Debug, Serialize, Deserialize)]
struct PlanEntry {
    record: ContentRecord,
    /// Already in the catalog as it is.
    stored: bool,
    /// Download this (policy immediate, not yet stored).
    fetch: Option<Fetch>,
}

/// The units of a sync, one JSON line each, in an unlinked temp file of
/// the store (gone with the process, whatever happens).
struct Plan {
    file: tokio::io::BufWriter<tokio::fs::File>,
    entries: u64,
    fetches: u64,
}

impl Plan {
    async fn new(s: &Services) -> Result<Self, TaskError> {
        let file = tempfile::tempfile_in(s.store.tmp_dir())
            .map_err(|e| failed("cannot create a temp file", &e))?;
        Ok(Plan {
            file: tokio::io::BufWriter::new(tokio::fs::File::from_std(file)),
            entries: 0,
            fetches: 0,
        })
    }

    async fn push(&mut self, entry: &PlanEntry) -> Result<(), TaskError> {
        let mut line = serde_json::to_vec(entry).map_err(|e| failed("plan", &e))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .await
            .map_err(|e| failed("writing a temp file", &e))?;
        self.entries += 1;
        self.fetches += u64::from(entry.fetch.is_some());
        Ok(())
    }

    /// The entries in order, with their index.
    async fn read(
        &mut self,
    ) -> Result<impl Stream<Item = Result<(u64, PlanEntry), TaskError>> + use<>, TaskError> {
        let io = |e: std::io::Error| failed("reading a temp file", &e);
        self.file.flush().await.map_err(io)?;
        let file = self.file.get_mut();
        file.seek(std::io::SeekFrom::Start(0)).await.map_err(io)?;
        let reader = file.try_clone().await.map_err(io)?;
        let lines = tokio::io::BufReader::new(reader).lines();
        Ok(futures::stream::unfold(
            (lines, 0u64),
            |(mut lines, i)| async move {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        let entry = serde_json::from_str(&line)
                            .map(|e| (i, e))
                            .map_err(|e| failed("reading the plan", &e));
                        Some((entry, (lines, i + 1)))
                    }
                    Ok(None) => None,
                    Err(e) => Some((Err(failed("reading a temp file", &e)), (lines, i + 1))),
                }
            },
        ))
    }
}

/// Why the package metadata could not be read.
#[derive(Debug, thiserror::Error)]
enum ParseError {
    /// A metadata file is invalid.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// filelists.xml or other.xml does not follow primary.xml's order.
    #[error(
        "{file}: package #{index} is {found}, but primary.xml lists {expected} there (the files must list packages in the same order)"
    )]
    OutOfOrder {
        /// The file.
        file: String,
        /// 1-based package index.
        index: u64,
        /// The pkgid primary.xml has.
        expected: String,
        /// The pkgid found.
        found: String,
    },
    /// filelists.xml or other.xml lists fewer or more packages than primary.xml.
    #[error("{file}: lists {what} packages than primary.xml")]
    CountMismatch {
        /// The file.
        file: String,
        /// `fewer` or `more`.
        what: &'static str,
    },
    /// Opening a temp file failed.
    #[error("cannot open {file}")]
    Open {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The receiving side stopped (the sync failed or was canceled).
    #[error("stopped")]
    Stopped,
}

/// Reads primary (with files and changelogs from filelists and other) and
/// sends packages in chunks. Returns the number of packages.
fn parse_packages(
    primary: &(RepoMdRecord, PathBuf),
    filelists: Option<&(RepoMdRecord, PathBuf)>,
    other: Option<&(RepoMdRecord, PathBuf)>,
    tx: &tokio::sync::mpsc::Sender<Vec<Package>>,
) -> Result<u64, ParseError> {
    let limits = Limits::default();
    let open = |(record, path): &(RepoMdRecord, PathBuf)| {
        let file = std::fs::File::open(path).map_err(|source| ParseError::Open {
            file: record.location_href.clone(),
            source,
        })?;
        Ok::<_, ParseError>(record.open_verified(file, &limits)?)
    };
    let mut packages =
        PrimaryReader::with_options(open(primary)?, &primary.0.location_href, &limits)?;
    let mut files = match filelists {
        Some(f) => Some((
            FilelistsReader::with_options(open(f)?, &f.0.location_href, &limits)?,
            f.0.location_href.clone(),
        )),
        None => None,
    };
    let mut changelogs = match other {
        Some(f) => Some((
            OtherReader::with_options(open(f)?, &f.0.location_href, &limits)?,
            f.0.location_href.clone(),
        )),
        None => None,
    };
    let check = |file: &str, index: u64, pkg: &Package, found: Option<&str>| match found {
        Some(id) if id.eq_ignore_ascii_case(&pkg.pkg_id) => Ok(()),
        Some(id) => Err(ParseError::OutOfOrder {
            file: file.to_owned(),
            index,
            expected: pkg.pkg_id.clone(),
            found: id.to_owned(),
        }),
        None => Err(ParseError::CountMismatch {
            file: file.to_owned(),
            what: "fewer",
        }),
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut count = 0u64;
    while let Some(mut pkg) = packages.next_package()? {
        count += 1;
        if let Some((reader, file)) = files.as_mut() {
            let entry = reader.next_package()?;
            check(file, count, &pkg, entry.as_ref().map(|e| e.pkg_id.as_str()))?;
            pkg.files = entry.map(|e| e.files).unwrap_or_default();
        }
        if let Some((reader, file)) = changelogs.as_mut() {
            let entry = reader.next_package()?;
            check(file, count, &pkg, entry.as_ref().map(|e| e.pkg_id.as_str()))?;
            pkg.changelogs = entry.map(|e| e.changelogs).unwrap_or_default();
        }
        chunk.push(pkg);
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            tx.blocking_send(full).map_err(|_| ParseError::Stopped)?;
        }
    }
    // Reading past the last package also checks each file's checksum and size.
    if let Some((mut reader, file)) = files
        && reader.next_package()?.is_some()
    {
        return Err(ParseError::CountMismatch { file, what: "more" });
    }
    if let Some((mut reader, file)) = changelogs
        && reader.next_package()?.is_some()
    {
        return Err(ParseError::CountMismatch { file, what: "more" });
    }
    if !chunk.is_empty() {
        tx.blocking_send(chunk).map_err(|_| ParseError::Stopped)?;
    }
    Ok(count)
}

/// The URL of a package: its `location href` under the remote's URL, or
/// under its `xml:base` when that is a URL of its own.
fn package_url(remote_url: &str, pkg: &Package) -> Result<String, TaskError> {
    let href = &pkg.location_href;
    let bad = |e: crate::download::DownloadError| failed(&format!("package {href:?}"), &e);
    let url = match pkg.location_base.as_deref().filter(|b| !b.is_empty()) {
        Some(base) if base.contains("://") => join_dir_url(base, href).map_err(bad)?,
        Some(base) => {
            let dir = join_dir_url(remote_url, base).map_err(bad)?;
            join_dir_url(dir.as_str(), href).map_err(bad)?
        }
        None => join_dir_url(remote_url, href).map_err(bad)?,
    };
    Ok(url.to_string())
}

/// Step 3 for packages: parse, write blobs, write the plan.
async fn plan_packages(
    s: &Services,
    remote: &Remote,
    files: &MetadataFiles,
    skip_srpm: bool,
    plan: &mut Plan,
    blobs: &mut Vec<TempArtifact>,
    progress: &mut Progress,
) -> Result<(), TaskError> {
    let p = progress
        .start("sync.parsing.packages", "Parsing Packages", None)
        .await;
    let source = |f: &MetadataFile| (f.record.clone(), f.path());
    let inputs = (
        source(&files.primary),
        files.filelists.as_ref().map(source),
        files.other.as_ref().map(source),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Package>>(2);
    let parser = tokio::task::spawn_blocking(move || {
        let (primary, filelists, other) = inputs;
        parse_packages(&primary, filelists.as_ref(), other.as_ref(), &tx)
    });
    let immediate = remote.policy == Policy::Immediate;
    let mut seen: HashSet<ContentRef> = HashSet::new();
    let mut parsed = 0u64;
    while let Some(chunk) = rx.recv().await {
        parsed += chunk.len() as u64;
        let mut fresh = Vec::with_capacity(chunk.len());
        for pkg in chunk {
            if skip_srpm && pkg.arch == "src" {
                continue;
            }
            if seen.insert(content::package_ref(&pkg)) {
                fresh.push(pkg);
            }
        }
        let refs: Vec<ContentRef> = fresh.iter().map(content::package_ref).collect();
        let mut existing: HashMap<ContentRef, ContentRecord> = s
            .catalog
            .content(&refs)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|r| (r.r#ref, r))
            .collect();
        let work = fresh.into_iter().map(|pkg| {
            let old = existing.remove(&content::package_ref(&pkg));
            plan_package(s, remote, immediate, pkg, old)
        });
        let mut entries = futures::stream::iter(work).buffered(FILE_CONCURRENCY);
        while let Some(done) = entries.next().await {
            let (entry, blob) = done?;
            plan.push(&entry).await?;
            blobs.extend(blob);
        }
        progress.set(p, parsed).await;
    }
    let count = match parser.await {
        Ok(Ok(count)) => count,
        Ok(Err(e)) => return Err(failed("invalid package metadata", &e)),
        Err(e) => return Err(failed("the metadata parser failed", &e)),
    };
    progress.set_total(p, count).await;
    progress.set(p, count).await;
    progress.finish(p, "completed").await;
    Ok(())
}

/// The plan entry (and new blob) of one package.
async fn plan_package(
    s: &Services,
    remote: &Remote,
    immediate: bool,
    pkg: Package,
    old: Option<ContentRecord>,
) -> Result<(PlanEntry, Option<TempArtifact>), TaskError> {
    let url = package_url(&remote.url, &pkg)?;
    let fetch = Fetch {
        href: pkg.location_href.clone(),
        url: url.clone(),
        checksum_type: pkg.checksum_type.clone(),
        checksum: pkg.pkg_id.clone(),
        size: (pkg.size_package > 0).then_some(pkg.size_package),
    };
    if immediate {
        // Refuse what cannot be verified before anything is downloaded.
        Checksum::parse(&fetch.checksum_type, &fetch.checksum)
            .map_err(|e| failed(&format!("package {:?}", pkg.location_href), &e))?;
    }
    if let Some(old) = old.filter(|o| !o.blobs.is_empty()) {
        let fetch = (immediate && old.artifact.is_none()).then_some(fetch);
        return Ok((
            PlanEntry {
                record: old,
                stored: true,
                fetch,
            },
            None,
        ));
    }
    let bytes = PackageBlob::of(&pkg).to_bytes();
    let blob_sha = Sha256Digest::of(&bytes);
    let mut temp = None;
    if !s.store.exists(&blob_sha).await.map_err(fail)? {
        let mut writer = s
            .store
            .begin_write(Expected::default())
            .await
            .map_err(|e| failed("writing a blob", &e))?;
        writer
            .write_chunk(&bytes)
            .await
            .map_err(|e| failed("writing a blob", &e))?;
        temp = Some(
            writer
                .finish_temp()
                .await
                .map_err(|e| failed("writing a blob", &e))?,
        );
    }
    // A package stored before (under another record) need not be fetched.
    let mut artifact = None;
    if let Some(sha) = content::metadata_sha256(&pkg)
        && let Ok(digest) = Sha256Digest::parse(&sha)
        && s.store.exists(&digest).await.map_err(fail)?
    {
        let stored = s.store.size(&digest).await.map_err(fail)?;
        if fetch.size.is_some_and(|size| size != stored) {
            return Err(TaskError::fail(format!(
                "package {:?}: primary.xml says {} bytes, but the package with its checksum has {stored}",
                pkg.location_href, pkg.size_package
            )));
        }
        artifact = Some(sha);
    }
    let source = Source {
        url,
        checksum_type: fetch.checksum_type.clone(),
        checksum: fetch.checksum.clone(),
        size: fetch.size,
        remote: Some(remote.id),
    };
    let record = content::package_record(
        &pkg,
        PackageParts {
            artifact: artifact.clone(),
            blob: Some(blob_sha.to_hex()),
            source: (!immediate && artifact.is_none()).then_some(source),
        },
    );
    let fetch = (immediate && artifact.is_none()).then_some(fetch);
    Ok((
        PlanEntry {
            record,
            stored: false,
            fetch,
        },
        temp,
    ))
}

/// Step 3 for advisories and comps (small: parsed whole).
async fn plan_advisories_and_comps(
    files: &MetadataFiles,
    plan: &mut Plan,
    progress: &mut Progress,
) -> Result<(), TaskError> {
    let source = |f: &MetadataFile| (f.record.clone(), f.path());
    if let Some((record, path)) = files.updateinfo.as_ref().map(source) {
        let p = progress
            .start("sync.parsing.advisories", "Parsing Advisories", None)
            .await;
        let records = tokio::task::spawn_blocking(move || {
            let limits = Limits::default();
            let file = std::fs::File::open(&path).map_err(|source| ParseError::Open {
                file: record.location_href.clone(),
                source,
            })?;
            let input = record.open_verified(file, &limits)?;
            let reader = UpdateInfoReader::with_options(input, &record.location_href, &limits)?;
            let mut out = Vec::new();
            for advisory in reader {
                out.push(content::advisory_record(&advisory?));
            }
            Ok::<_, ParseError>(out)
        })
        .await
        .map_err(|e| failed("the metadata parser failed", &e))?
        .map_err(|e| failed("invalid updateinfo", &e))?;
        push_all(plan, records, progress, p).await?;
    }
    if let Some((record, path)) = files.comps.as_ref().map(source) {
        let p = progress
            .start("sync.parsing.comps", "Parsing Comps", None)
            .await;
        let records = tokio::task::spawn_blocking(move || {
            let limits = Limits::default();
            let file = std::fs::File::open(&path).map_err(|source| ParseError::Open {
                file: record.location_href.clone(),
                source,
            })?;
            let input = record.open_verified(file, &limits)?;
            let comps = Comps::parse_with(input, &record.location_href, &limits)?;
            Ok::<_, ParseError>(content::comps_records(&comps))
        })
        .await
        .map_err(|e| failed("the metadata parser failed", &e))?
        .map_err(|e| failed("invalid comps", &e))?;
        push_all(plan, records, progress, p).await?;
    }
    Ok(())
}

async fn push_all(
    plan: &mut Plan,
    records: Vec<ContentRecord>,
    progress: &mut Progress,
    p: usize,
) -> Result<(), TaskError> {
    let mut seen = HashSet::new();
    for record in records {
        if seen.insert(record.r#ref) {
            plan.push(&PlanEntry {
                record,
                stored: false,
                fetch: None,
            })
            .await?;
        }
    }
    progress.set(p, seen.len() as u64).await;
    progress.finish(p, "completed").await;
    Ok(())
}

/// Downloads one package into a verified temp file.
async fn fetch(
    s: Arc<Services>,
    downloader: Downloader,
    index: u64,
    f: Fetch,
) -> Result<(u64, TempArtifact), TaskError> {
    let checksum =
        Checksum::parse(&f.checksum_type, &f.checksum).map_err(|e| failed(&f.url, &e))?;
    let mut expected = Expected::default()
        .with_checksum(checksum)
        .with_max_size(MAX_PACKAGE);
    if let Some(size) = f.size {
        expected = expected.with_size(size);
    }
    let temp = downloader
        .download_to_temp_file(&f.url, &expected, &s.store)
        .await
        .map_err(|e| failed(&format!("could not download {}", f.href), &e))?;
    Ok((index, temp))
}

/// Step 4: downloads what the plan says, concurrently; stops at the first
/// failure (dropping the temp files).
async fn download(
    ctx: &Ctx,
    s: &Services,
    downloader: &Downloader,
    remote: &Remote,
    plan: &mut Plan,
    progress: &mut Progress,
) -> Result<Vec<(u64, TempArtifact)>, TaskError> {
    let p = progress
        .start(
            "sync.downloading.artifacts",
            "Downloading Artifacts",
            Some(plan.fetches),
        )
        .await;
    if plan.fetches == 0 {
        progress.finish(p, "completed").await;
        return Ok(Vec::new());
    }
    let concurrency = remote
        .download_concurrency
        .map_or(s.settings.download_concurrency, |c| c as usize)
        .max(1);
    let services = crate::tasks::services(ctx);
    let entries = plan.read().await?;
    let downloads = entries
        .filter_map(|e| async move {
            match e {
                Ok((i, entry)) => entry.fetch.map(|f| Ok((i, f))),
                Err(e) => Some(Err(e)),
            }
        })
        .map(move |e| {
            let services = Arc::clone(&services);
            let downloader = downloader.clone();
            async move {
                let (i, f) = e?;
                fetch(services, downloader, i, f).await
            }
        })
        .buffer_unordered(concurrency);
    progress.collect(p, downloads).await
}

/// Rewrites records that now have their artifact, and indexes their new
/// `sha256` (the content is otherwise unchanged, so re-putting only adds
/// the missing index entries).
async fn record_artifacts(s: &Services, records: &[ContentRecord]) -> Result<(), TaskError> {
    s.catalog.replace_content(records).await.map_err(fail)?;
    s.catalog.put_content(records).await.map_err(fail)
}

/// Step 5: stores artifacts and content, creates the version, records the
/// sync; with `mirror`, also publishes the new version.
async fn associate(
    s: &Services,
    repo: &Repository,
    latest: u64,
    options: &SyncOptions,
    prepared: Prepared,
    progress: &mut Progress,
) -> Result<
    (
        Option<crate::catalog::model::RepositoryVersion>,
        Option<Uuid>,
    ),
    TaskError,
> {
    let Prepared {
        details,
        mut plan,
        packages,
        blobs,
        on_demand,
    } = prepared;
    let p = progress
        .start(
            "associating.content",
            "Associating Content",
            Some(plan.entries),
        )
        .await;
    let mut stored: HashMap<u64, String> = HashMap::with_capacity(packages.len());
    let mut persisted = futures::stream::iter(packages.into_iter().map(|(i, t)| async move {
        t.persist()
            .await
            .map(|a| (i, a.sha256.to_hex()))
            .map_err(|e| failed("storing a package", &e))
    }))
    .buffer_unordered(FILE_CONCURRENCY);
    while let Some(done) = persisted.next().await {
        let (i, sha) = done?;
        stored.insert(i, sha);
    }
    drop(persisted);
    let mut persisted = futures::stream::iter(
        blobs
            .into_iter()
            .map(|t| async move { t.persist().await.map_err(|e| failed("storing a blob", &e)) }),
    )
    .buffer_unordered(FILE_CONCURRENCY);
    while let Some(done) = persisted.next().await {
        done?;
    }
    drop(persisted);

    let mut refs = Vec::with_capacity(plan.entries as usize);
    let mut new_records = Vec::new();
    let mut updated = Vec::new();
    let mut entries = Box::pin(plan.read().await?);
    let mut done = 0u64;
    while let Some(entry) = entries.next().await {
        let (i, mut entry) = entry?;
        refs.push(entry.record.r#ref);
        let fetched = stored.get(&i);
        if let Some(sha) = fetched {
            content::set_package_artifact(&mut entry.record, sha);
            if !on_demand {
                entry.record.source = None;
            }
        }
        if !entry.stored {
            new_records.push(entry.record);
        } else if fetched.is_some() {
            updated.push(entry.record);
        }
        if new_records.len() >= WRITE_BATCH {
            s.catalog.put_content(&new_records).await.map_err(fail)?;
            done += new_records.len() as u64;
            new_records.clear();
            progress.set(p, done).await;
        }
        if updated.len() >= WRITE_BATCH {
            record_artifacts(s, &updated).await?;
            updated.clear();
        }
    }
    s.catalog.put_content(&new_records).await.map_err(fail)?;
    if !updated.is_empty() {
        record_artifacts(s, &updated).await?;
    }
    drop(entries);
    drop(plan);

    let total = refs.len() as u64;
    let change = VersionChange {
        add: refs,
        replace: options.mirror,
        ..Default::default()
    };
    let version = commit(s, repo, latest, &change).await?;
    let mut details = details;
    details["most_recent_version"] = json!(version.as_ref().map_or(latest, |v| v.number));
    s.catalog
        .set_repo_state_field(&repo.id, "last_sync", &details.to_string())
        .await
        .map_err(fail)?;
    progress.set(p, total).await;
    progress.finish(p, "completed").await;
    let mut publication = None;
    if let Some(v) = &version
        && options.mirror
        && !repo.autopublish
    {
        let opts = super::publish::default_options(repo);
        publication = Some(
            super::publish::publish(s, repo, v.number, &opts, None)
                .await?
                .id,
        );
    }
    Ok((version, publication))
}
