//! Writing one artifact: a hashed, size-checked temp file that is verified,
//! fsynced and renamed into place, or removed.

use std::path::{Path, PathBuf};

use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufWriter};

use super::error::StoreError;
use super::{Artifact, ArtifactStore};
use crate::checksum::{Checksum, ChecksumKind, Hasher, Sha256Digest};

/// Buffer between chunks and the temp file: fewer, larger writes.
const WRITE_BUFFER: usize = 256 * 1024;

/// What the content of an artifact must satisfy. All fields are optional.
///
/// `size` and `max_size` are enforced while writing: the chunk that would
/// go past them is refused and nothing more is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// The exact size in bytes, if known (from metadata).
    pub size: Option<u64>,
    /// The checksum, if known (any supported algorithm).
    pub checksum: Option<Checksum>,
    /// A ceiling in bytes, for content of unknown size.
    pub max_size: Option<u64>,
}

impl Expected {
    /// Expects exactly `size` bytes.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Expects this checksum.
    pub fn with_checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = Some(checksum);
        self
    }

    /// Refuses more than `max` bytes.
    pub fn with_max_size(mut self, max: u64) -> Self {
        self.max_size = Some(max);
        self
    }

    /// The number of bytes after which writing must stop, and whether it is
    /// the exact size (rather than the maximum) that sets it.
    fn limit(&self) -> Option<(u64, bool)> {
        match (self.size, self.max_size) {
            (Some(s), Some(m)) if m < s => Some((m, false)),
            (Some(s), _) => Some((s, true)),
            (None, Some(m)) => Some((m, false)),
            (None, None) => None,
        }
    }
}

/// A temp file path that is removed when dropped, unless disarmed.
#[derive(Debug)]
pub(crate) struct TempPath(Option<PathBuf>);

impl TempPath {
    pub(crate) fn new(path: PathBuf) -> Self {
        TempPath(Some(path))
    }

    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // A quick unlink; blocking briefly is preferable to leaking the file.
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "could not remove temp file");
            }
        }
    }
}

/// Writes one artifact into a unique temp file of the store, hashing and
/// counting as it goes.
///
/// Finish it with [`finish`](Self::finish) (verify and move into the store)
/// or [`finish_temp`](Self::finish_temp) (verify and keep as a temp file).
/// Dropping it unfinished, or any failure, removes the temp file.
pub struct ArtifactWriter {
    // Declared before `temp` so the file is closed before it is unlinked.
    file: Option<BufWriter<File>>,
    temp: TempPath,
    store: ArtifactStore,
    hashers: Hashers,
    written: u64,
    expected: Expected,
    failed: bool,
}

impl std::fmt::Debug for ArtifactWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactWriter")
            .field("temp", &self.temp.path())
            .field("written", &self.written)
            .field("expected", &self.expected)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl ArtifactWriter {
    pub(crate) fn new(
        store: ArtifactStore,
        file: File,
        temp: TempPath,
        expected: Expected,
    ) -> Self {
        let extra = expected.checksum.as_ref().map(Checksum::kind);
        ArtifactWriter {
            file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
            temp,
            store,
            hashers: Hashers::new(extra),
            written: 0,
            expected,
            failed: false,
        }
    }

    /// Appends a chunk.
    ///
    /// # Errors
    ///
    /// [`StoreError::LongerThanExpected`] or [`StoreError::TooLarge`] when the
    /// chunk would pass the expected or maximum size (nothing of it is
    /// written), [`StoreError::Io`] on write errors, and
    /// [`StoreError::WriterFailed`] after an earlier error.
    pub async fn write_chunk(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::WriterFailed);
        }
        let total = self.written.saturating_add(chunk.len() as u64);
        if let Some((limit, exact)) = self.expected.limit()
            && total > limit
        {
            self.failed = true;
            return Err(if exact {
                StoreError::LongerThanExpected { expected: limit }
            } else {
                StoreError::TooLarge { max: limit }
            });
        }
        let Some(file) = self.file.as_mut() else {
            return Err(StoreError::WriterFailed);
        };
        // Marked failed until the write completes: if this future is dropped
        // half way (cancellation), the file no longer matches the digest.
        self.failed = true;
        file.write_all(chunk)
            .await
            .map_err(StoreError::io("write temp file", self.temp.path()))?;
        self.failed = false;
        self.hashers.update(chunk);
        self.written = total;
        Ok(())
    }

    /// Copies everything from `reader`, chunk by chunk.
    ///
    /// # Errors
    ///
    /// As [`write_chunk`](Self::write_chunk), plus [`StoreError::Io`] when
    /// reading fails (`source_path` names the source in that error).
    pub async fn write_from<R: AsyncRead + Unpin>(
        &mut self,
        mut reader: R,
        source_path: &Path,
    ) -> Result<u64, StoreError> {
        let mut buf = vec![0u8; 64 * 1024];
        let start = self.written;
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(StoreError::io("read", source_path))?;
            if n == 0 {
                return Ok(self.written - start);
            }
            self.write_chunk(&buf[..n]).await?;
        }
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Verifies, fsyncs and moves the content into the store.
    ///
    /// If the artifact is already stored (by another writer, process or
    /// host), the temp file is dropped instead: one copy per artifact.
    ///
    /// # Errors
    ///
    /// [`StoreError::SizeMismatch`] or [`StoreError::ChecksumMismatch`] when
    /// the content is not what was expected, [`StoreError::WriterFailed`]
    /// after an earlier error, [`StoreError::Io`] on filesystem errors.
    /// The temp file is removed in every case.
    pub async fn finish(self) -> Result<Artifact, StoreError> {
        self.finish_temp().await?.persist().await
    }

    /// Verifies and fsyncs the content, but keeps it as a temp file (for
    /// metadata that is parsed from disk and maybe stored later).
    ///
    /// # Errors
    ///
    /// As [`finish`](Self::finish).
    pub async fn finish_temp(mut self) -> Result<TempArtifact, StoreError> {
        if self.failed {
            return Err(StoreError::WriterFailed);
        }
        let mut file = self.file.take().ok_or(StoreError::WriterFailed)?;
        let path = self.temp.path().to_path_buf();
        file.flush()
            .await
            .map_err(StoreError::io("flush temp file", &path))?;
        let file = file.into_inner();
        file.sync_all()
            .await
            .map_err(StoreError::io("fsync temp file", &path))?;
        drop(file);

        if let Some(expected) = self.expected.size
            && self.written != expected
        {
            return Err(StoreError::SizeMismatch {
                expected,
                actual: self.written,
            });
        }
        let hashers = std::mem::replace(&mut self.hashers, Hashers::new(None));
        let (sha256, extra) = hashers.finish();
        if let Some(want) = &self.expected.checksum {
            let actual = extra.unwrap_or_else(|| Checksum::sha256(sha256));
            if actual != *want {
                return Err(StoreError::ChecksumMismatch {
                    kind: want.kind(),
                    expected: want.hex().to_owned(),
                    actual: actual.hex().to_owned(),
                });
            }
        }
        let temp = std::mem::replace(&mut self.temp, TempPath(None));
        Ok(TempArtifact {
            temp,
            store: self.store.clone(),
            artifact: Artifact {
                sha256,
                size: self.written,
            },
        })
    }
}

/// Verified content in a temp file of the store, removed when dropped
/// unless [`persist`](Self::persist)ed.
#[derive(Debug)]
pub struct TempArtifact {
    temp: TempPath,
    store: ArtifactStore,
    artifact: Artifact,
}

impl TempArtifact {
    /// Where the content is (inside the store's `tmp/`).
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Digest and size of the content.
    pub fn artifact(&self) -> Artifact {
        self.artifact
    }

    /// Moves the content into the store (or drops it if already stored).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the rename fails (the temp file is removed).
    pub async fn persist(self) -> Result<Artifact, StoreError> {
        let (artifact, dir) = self.place().await?;
        if let Some(dir) = dir {
            sync_dir(&dir).await;
        }
        Ok(artifact)
    }

    /// Persists many temp artifacts at once: every rename first (several at
    /// a time), then one fsync per directory they landed in, instead of one
    /// per artifact. A sync of 1,000 files touches at most 256 directories.
    ///
    /// # Errors
    ///
    /// The first [`StoreError::Io`]; temp files not yet moved are removed.
    pub async fn persist_all(temps: Vec<TempArtifact>) -> Result<Vec<Artifact>, StoreError> {
        use futures::StreamExt;
        let placed: Vec<Result<(Artifact, Option<PathBuf>), StoreError>> =
            futures::stream::iter(temps.into_iter().map(TempArtifact::place))
                .buffer_unordered(16)
                .collect()
                .await;
        let mut artifacts = Vec::with_capacity(placed.len());
        let mut dirs = std::collections::BTreeSet::new();
        for p in placed {
            let (artifact, dir) = p?;
            artifacts.push(artifact);
            dirs.extend(dir);
        }
        futures::stream::iter(dirs.into_iter().map(sync_dir_owned))
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
        Ok(artifacts)
    }

    /// Renames the content into place; returns the directory to fsync (none
    /// if the artifact was already stored).
    async fn place(self) -> Result<(Artifact, Option<PathBuf>), StoreError> {
        let dest = self.store.path(&self.artifact.sha256);
        let exists = tokio::fs::try_exists(&dest)
            .await
            .map_err(StoreError::io("check", &dest))?;
        if exists {
            tracing::debug!(sha256 = %self.artifact.sha256, "artifact already stored, dropping the copy");
            return Ok((self.artifact, None)); // `self.temp` is removed on drop
        }
        let dir = dest.parent().unwrap_or(self.store.root());
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(StoreError::io("create directory", dir))?;
        // rename() is atomic on one filesystem; a concurrent writer of the same
        // content may replace our file with an identical one, which is harmless.
        tokio::fs::rename(self.temp.path(), &dest)
            .await
            .map_err(StoreError::io("rename into place", &dest))?;
        self.temp.disarm();
        Ok((self.artifact, Some(dir.to_path_buf())))
    }
}

async fn sync_dir_owned(dir: PathBuf) {
    sync_dir(&dir).await;
}

/// Makes a rename durable (best effort: some filesystems refuse to fsync a directory).
async fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir).await
        && let Err(e) = d.sync_all().await
    {
        tracing::debug!(dir = %dir.display(), error = %e, "directory fsync failed");
    }
}

/// SHA-256 always (it names the artifact), plus one other algorithm when a
/// checksum of that kind must be verified.
struct Hashers {
    sha256: Hasher,
    extra: Option<Hasher>,
}

impl Hashers {
    fn new(extra: Option<ChecksumKind>) -> Self {
        Hashers {
            sha256: Hasher::new(ChecksumKind::Sha256),
            extra: extra
                .filter(|kind| *kind != ChecksumKind::Sha256)
                .map(Hasher::new),
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some(extra) = &mut self.extra {
            extra.update(data);
        }
    }

    /// The SHA-256 and, if one was requested, the other digest.
    fn finish(self) -> (Sha256Digest, Option<Checksum>) {
        let sha256 = self.sha256.finalize();
        let digest = sha256
            .to_sha256()
            .unwrap_or_else(|| unreachable!("a SHA-256 hasher yields a SHA-256 digest"));
        (digest, self.extra.map(Hasher::finalize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashers_compute_sha256_and_the_extra_digest() {
        let mut h = Hashers::new(Some(ChecksumKind::Sha1));
        h.update(b"");
        let (sha256, sha1) = h.finish();
        assert_eq!(sha256, Sha256Digest::of(b""));
        assert_eq!(
            sha1.map(|c| c.hex().to_owned()).as_deref(),
            Some("da39a3ee5e6b4b0d3255bfef95601890afd80709")
        );
        let (_, none) = Hashers::new(Some(ChecksumKind::Sha256)).finish();
        assert_eq!(none, None, "SHA-256 is not computed twice");
    }
}
