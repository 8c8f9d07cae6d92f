//! Content-addressed artifact storage on a directory shared by many hosts
//! and processes (local disk or NFS).
//!
//! Layout under the root:
//!
//! ```text
//! artifacts/<sha256[0..2]>/<sha256[2..]>   one file per distinct content
//! tmp/<random>.part                        content being written
//! ```
//!
//! Content is written to a unique temp file in `tmp/` (same filesystem, so
//! the final `rename` is atomic), hashed and counted while it is written,
//! verified against what the caller expected, fsynced, and only then renamed
//! into `artifacts/`. Readers therefore never see partial content, and a
//! stored file's name is always the SHA-256 of its bytes. Two writers of the
//! same content (threads, processes or hosts) both succeed and leave one
//! copy. A writer that fails or is dropped removes its temp file; the temp
//! files of crashed processes are removed by [`ArtifactStore::cleanup_tmp`],
//! which every worker calls when it starts (for entries older than the
//! `stale_temp_secs` setting, as other hosts may be writing theirs).
//!
//! Large per-package metadata (file lists, changelogs) is stored the same
//! way, with [`ArtifactStore::put_bytes`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), pulp_app::storage::StoreError> {
//! use pulp_app::storage::{ArtifactStore, Expected};
//!
//! let store = ArtifactStore::new("/var/lib/pulp/media").await?;
//! let mut writer = store.begin_write(Expected::default().with_max_size(1 << 20)).await?;
//! writer.write_chunk(b"hello").await?;
//! let artifact = writer.finish().await?;
//! assert!(store.exists(&artifact.sha256).await?);
//! # Ok(())
//! # }
//! ```

mod error;
mod writer;

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::fs::File;

use crate::checksum::{Sha256Digest, is_lower_hex};

pub use self::error::StoreError;
use self::writer::TempPath;
pub use self::writer::{ArtifactWriter, Expected, TempArtifact};

/// A stored artifact: its digest and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Artifact {
    /// SHA-256 of the content; also its name in the store.
    pub sha256: Sha256Digest,
    /// Size in bytes.
    pub size: u64,
}

/// A content-addressed store rooted at a directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    artifacts: PathBuf,
    tmp: PathBuf,
}

impl ArtifactStore {
    /// Opens (creating if needed) a store rooted at `root`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if `artifacts/` or `tmp/` cannot be created.
    pub async fn new(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let artifacts = root.join("artifacts");
        let tmp = root.join("tmp");
        for dir in [&artifacts, &tmp] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(StoreError::io("create directory", dir))?;
        }
        Ok(ArtifactStore {
            inner: Arc::new(Inner {
                root,
                artifacts,
                tmp,
            }),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The directory holding temp files (`<root>/tmp`).
    pub fn tmp_dir(&self) -> &Path {
        &self.inner.tmp
    }

    /// Where the artifact with this digest is (or would be) stored.
    pub fn path(&self, sha256: &Sha256Digest) -> PathBuf {
        let hex = sha256.to_hex();
        self.inner.artifacts.join(&hex[..2]).join(&hex[2..])
    }

    /// Whether the artifact is stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if that cannot be determined (e.g. permission denied).
    pub async fn exists(&self, sha256: &Sha256Digest) -> Result<bool, StoreError> {
        let path = self.path(sha256);
        tokio::fs::try_exists(&path)
            .await
            .map_err(StoreError::io("check", path))
    }

    /// Size of a stored artifact in bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] if it is not stored, [`StoreError::Io`] otherwise.
    pub async fn size(&self, sha256: &Sha256Digest) -> Result<u64, StoreError> {
        let path = self.path(sha256);
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(meta.len()),
            Err(e) => Err(self.not_found_or(sha256, "stat", path, e)),
        }
    }

    /// Opens a stored artifact for reading.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] if it is not stored, [`StoreError::Io`] otherwise.
    pub async fn open(&self, sha256: &Sha256Digest) -> Result<File, StoreError> {
        let path = self.path(sha256);
        match File::open(&path).await {
            Ok(file) => Ok(file),
            Err(e) => Err(self.not_found_or(sha256, "open", path, e)),
        }
    }

    /// Removes a stored artifact; `false` if it was not there.
    ///
    /// Callers must know that nothing references it any more (orphan cleanup).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if it exists but cannot be removed.
    pub async fn delete(&self, sha256: &Sha256Digest) -> Result<bool, StoreError> {
        let path = self.path(sha256);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("remove", path)(e)),
        }
    }

    /// Starts writing an artifact whose content must meet `expected`.
    ///
    /// The expectations are given up front so that the size limits hold
    /// while writing and the right extra digest is computed on the way.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the temp file cannot be created.
    pub async fn begin_write(&self, expected: Expected) -> Result<ArtifactWriter, StoreError> {
        let (file, temp) = self.create_temp_file().await?;
        Ok(ArtifactWriter::new(self.clone(), file, temp, expected))
    }

    /// Stores a byte slice (e.g. a serialized file list).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] on filesystem errors.
    pub async fn put_bytes(&self, bytes: &[u8]) -> Result<Artifact, StoreError> {
        let mut writer = self.begin_write(Expected::default()).await?;
        writer.write_chunk(bytes).await?;
        writer.finish().await
    }

    /// Copies a local file into the store, hashing it on the way.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the file cannot be read, and the verification
    /// errors of [`ArtifactWriter::finish`] if it does not meet `expected`.
    pub async fn import_file(
        &self,
        path: &Path,
        expected: Expected,
    ) -> Result<Artifact, StoreError> {
        let source = File::open(path)
            .await
            .map_err(StoreError::io("open", path))?;
        let mut writer = self.begin_write(expected).await?;
        writer.write_from(source, path).await?;
        writer.finish().await
    }

    /// Lists every stored artifact, one shard directory at a time (memory
    /// stays bounded by the largest shard). Entries that are not artifacts
    /// (stray files, NFS `.nfs*` leftovers) are skipped with a warning.
    pub fn list(&self) -> ArtifactList {
        ArtifactList {
            artifacts: self.inner.artifacts.clone(),
            shards: None,
            current: VecDeque::new(),
        }
    }

    /// Removes temp files (and directories) of `tmp/` last modified more
    /// than `older_than` ago: the leftovers of crashed processes. Returns
    /// how many entries were removed.
    ///
    /// Pick `older_than` well above the longest download (e.g. an hour), as
    /// another host may still be writing a temp file that looks idle. A
    /// directory's age is that of the newest thing in it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if `tmp/` cannot be listed. Entries that vanish
    /// meanwhile (removed by their writer) are not errors.
    pub async fn cleanup_tmp(&self, older_than: Duration) -> Result<u64, StoreError> {
        remove_stale(&self.inner.tmp, older_than, |_| true).await
    }

    /// Creates a new, uniquely named temp file (`O_EXCL`, retried on a clash).
    ///
    /// The file is created on a blocking thread whose result carries the
    /// guard that removes it: if the caller is dropped meanwhile (a canceled
    /// task), the file is removed when the thread finishes, instead of
    /// being left behind.
    async fn create_temp_file(&self) -> Result<(File, TempPath), StoreError> {
        let tmp = self.inner.tmp.clone();
        let created = tokio::task::spawn_blocking(move || {
            let mut attempt = 0;
            loop {
                let path = tmp.join(format!("{}.part", unique_name()));
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                {
                    Ok(file) => return Ok((file, TempPath::new(path))),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                        attempt += 1;
                    }
                    Err(e) => return Err(StoreError::io("create temp file", path)(e)),
                }
            }
        })
        .await
        .map_err(|e| {
            StoreError::io("create temp file", &self.inner.tmp)(std::io::Error::other(e))
        })?;
        let (file, temp) = created?;
        Ok((File::from_std(file), temp))
    }

    fn not_found_or(
        &self,
        sha256: &Sha256Digest,
        op: &'static str,
        path: PathBuf,
        e: std::io::Error,
    ) -> StoreError {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotFound {
                sha256: sha256.to_hex(),
            }
        } else {
            StoreError::io(op, path)(e)
        }
    }
}

/// Removes the entries of `dir` whose name passes `wanted` and that nothing
/// touched for longer than `older_than` (see [`tree_age`]); returns how many
/// were removed.
///
/// # Errors
///
/// [`StoreError::Io`] if `dir` cannot be listed or an entry cannot be
/// removed. Entries that vanish meanwhile are not errors.
pub async fn remove_stale(
    dir: &Path,
    older_than: Duration,
    wanted: impl Fn(&str) -> bool,
) -> Result<u64, StoreError> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StoreError::io("list", dir)(e)),
    };
    let mut removed = 0;
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(StoreError::io("list", dir))?
    {
        let path = entry.path();
        if !entry.file_name().to_str().is_some_and(&wanted) {
            continue;
        }
        let Some(age) = tree_age(path.clone(), older_than).await else {
            continue; // vanished, or touched recently
        };
        if age <= older_than {
            continue;
        }
        let result = match entry.file_type().await {
            Ok(t) if t.is_dir() => tokio::fs::remove_dir_all(&path).await,
            Ok(_) => tokio::fs::remove_file(&path).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                tracing::info!(path = %path.display(), age_secs = age.as_secs(), "removed abandoned temp file");
                removed += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("remove", path)(e)),
        }
    }
    Ok(removed)
}

/// How long ago anything in `path` (a file, or a directory tree: the
/// newest of its entries' modification times) was modified. Stops early,
/// returning `None`, as soon as something younger than `min_age` turns up,
/// and when `path` vanishes. Symlinks are not followed.
pub async fn tree_age(path: PathBuf, min_age: Duration) -> Option<Duration> {
    tokio::task::spawn_blocking(move || {
        let now = SystemTime::now();
        let age_of = |meta: &std::fs::Metadata| {
            meta.modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default()
        };
        let meta = std::fs::symlink_metadata(&path).ok()?;
        let mut youngest = age_of(&meta);
        if youngest <= min_age {
            return None;
        }
        if !meta.is_dir() {
            return Some(youngest);
        }
        let mut stack = vec![path];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in rd.flatten() {
                let Ok(meta) = entry.metadata() else {
                    continue;
                };
                youngest = youngest.min(age_of(&meta));
                if youngest <= min_age {
                    return None;
                }
                if meta.is_dir() {
                    stack.push(entry.path());
                }
            }
        }
        Some(youngest)
    })
    .await
    .ok()
    .flatten()
}

/// A name no other process on any host will pick: 128 bits from the
/// randomly keyed std hasher, mixed with the pid, the time and a counter.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let word = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u32(std::process::id());
        h.write_u128(nanos);
        h.write_u64(count);
        h.finish()
    };
    format!("{:016x}{:016x}-{}", word(1), word(2), std::process::id())
}

/// The artifacts of a store, listed lazily (see [`ArtifactStore::list`]).
#[derive(Debug)]
pub struct ArtifactList {
    artifacts: PathBuf,
    /// Shard directories still to read (`None` until the first call).
    shards: Option<Vec<PathBuf>>,
    current: VecDeque<Sha256Digest>,
}

impl ArtifactList {
    /// The next stored artifact's digest, `None` when done.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if a directory cannot be listed.
    pub async fn next(&mut self) -> Option<Result<Sha256Digest, StoreError>> {
        loop {
            if let Some(digest) = self.current.pop_front() {
                return Some(Ok(digest));
            }
            if self.shards.is_none() {
                match self.read_shards().await {
                    Ok(shards) => self.shards = Some(shards),
                    Err(e) => {
                        self.shards = Some(Vec::new());
                        return Some(Err(e));
                    }
                }
            }
            let shard = self.shards.as_mut()?.pop()?;
            if let Err(e) = self.read_shard(&shard).await {
                return Some(Err(e));
            }
        }
    }

    /// Turns the listing into a `Stream`.
    pub fn into_stream(self) -> impl Stream<Item = Result<Sha256Digest, StoreError>> {
        futures::stream::unfold(self, |mut list| async move {
            let item = list.next().await?;
            Some((item, list))
        })
    }

    /// The two-hex-character shard directories, in reverse order (popped from the end).
    async fn read_shards(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut shards = Vec::new();
        let mut entries = tokio::fs::read_dir(&self.artifacts)
            .await
            .map_err(StoreError::io("list", &self.artifacts))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(StoreError::io("list", &self.artifacts))?
        {
            let name = entry.file_name();
            let valid = name
                .to_str()
                .is_some_and(|n| n.len() == 2 && is_lower_hex(n));
            if valid {
                shards.push(entry.path());
            } else {
                tracing::warn!(path = %entry.path().display(), "ignoring unexpected entry in the artifact store");
            }
        }
        shards.sort_unstable_by(|a, b| b.cmp(a));
        Ok(shards)
    }

    async fn read_shard(&mut self, shard: &Path) -> Result<(), StoreError> {
        let prefix = shard
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut entries = match tokio::fs::read_dir(shard).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("list", shard)(e)),
        };
        let mut found = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(StoreError::io("list", shard))?
        {
            let digest = entry
                .file_name()
                .to_str()
                .and_then(|rest| Sha256Digest::parse(&format!("{prefix}{rest}")).ok());
            match digest {
                Some(d) => found.push(d),
                None => {
                    tracing::warn!(path = %entry.path().display(), "ignoring unexpected entry in the artifact store")
                }
            }
        }
        found.sort_unstable();
        self.current.extend(found);
        Ok(())
    }
}
