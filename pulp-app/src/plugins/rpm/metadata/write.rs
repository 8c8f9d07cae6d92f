//! The publisher: writes `repodata/` for a set of packages.
//!
//! ```no_run
//! # fn packages() -> Vec<pulp_app::plugins::rpm::model::Package> { Vec::new() }
//! let packages = packages();
//! let repomd = pulp_app::plugins::rpm::metadata::RepoWriter::new("/srv/repo")
//!     .revision("42")
//!     .write(packages.len() as u64, &packages)?;
//! assert!(repomd.record("primary").is_some());
//! # Ok::<(), pulp_app::plugins::rpm::metadata::MetadataError>(())
//! ```
//!
//! Output, as createrepo_c lays it out (`--unique-md-filenames`, the
//! default): `repodata/<sha256>-primary.xml.gz`, `-filelists.xml.gz`,
//! `-other.xml.gz`, `-updateinfo.xml.gz` (only with advisories),
//! `-comps.xml` + `-comps.xml.gz` (only with comps; records `group` and
//! `group_gz`), and `repodata/repomd.xml`. The checksum in a file name is
//! that of the file as stored. primary, filelists and other are written in
//! a single pass over the packages, so they can be streamed from storage.
//! Every file is first written under a temporary name and renamed when
//! complete; repomd.xml is renamed last, so a reader never sees a
//! repomd.xml that points at missing files. Older files in `repodata/` are
//! left alone; no sqlite databases are produced.

use std::borrow::Borrow;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;

use super::comps::Comps;
use super::error::MetadataError;
use super::repomd::{RepoMd, RepoMdRecord};
use super::updateinfo::{self, Advisory};
use super::{filelists, other, primary};
use crate::checksum::{Checksum, ChecksumKind, Hasher, HashingWriter};
use crate::plugins::rpm::model::Package;

/// Writes a repository's metadata. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct RepoWriter<'a> {
    root: PathBuf,
    gzip_level: u32,
    checksum: ChecksumKind,
    revision: Option<String>,
    timestamp: Option<i64>,
    advisories: &'a [Advisory],
    comps: Option<&'a Comps>,
}

impl<'a> RepoWriter<'a> {
    /// Write into `root/repodata/` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RepoWriter {
            root: root.into(),
            gzip_level: 1,
            checksum: ChecksumKind::Sha256,
            revision: None,
            timestamp: None,
            advisories: &[],
            comps: None,
        }
    }

    /// gzip level 0–9. Default 1 (fast; output is ~10 % larger than level 6).
    pub fn gzip_level(mut self, level: u32) -> Self {
        self.gzip_level = level.min(9);
        self
    }

    /// Checksum algorithm for file names and repomd.xml. Default SHA-256.
    pub fn checksum(mut self, kind: ChecksumKind) -> Self {
        self.checksum = kind;
        self
    }

    /// `<revision>` of repomd.xml. Default: the timestamp.
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = Some(revision.into());
        self
    }

    /// `<timestamp>` of every record, in Unix seconds. Default: now.
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Also write updateinfo.xml with these advisories (if any).
    pub fn advisories(mut self, advisories: &'a [Advisory]) -> Self {
        self.advisories = advisories;
        self
    }

    /// Also write comps.xml (records `group` and `group_gz`).
    pub fn comps(mut self, comps: &'a Comps) -> Self {
        self.comps = Some(comps);
        self
    }

    /// Write everything and return the repomd.xml that was written.
    ///
    /// `package_count` goes into the `packages="N"` attribute before the
    /// first package is written and must equal the number of packages the
    /// iterator yields. A caller whose package source fails part-way should
    /// stop iterating; the count check then fails and nothing is published.
    ///
    /// # Errors
    ///
    /// [`MetadataError::Io`] if a file cannot be created or written,
    /// [`MetadataError::CountMismatch`] if the iterator yields a different
    /// number of packages than announced. On error, no repomd.xml is
    /// written and temporary files are removed.
    pub fn write<I>(&self, package_count: u64, packages: I) -> Result<RepoMd, MetadataError>
    where
        I: IntoIterator,
        I::Item: Borrow<Package>,
    {
        let repodata = self.root.join("repodata");
        fs::create_dir_all(&repodata).map_err(|e| io_error(&repodata, e))?;
        let timestamp = self.timestamp.unwrap_or_else(now);
        let mut records = self.write_packages(&repodata, package_count, packages)?;
        if let Some(comps) = self.comps {
            records.extend(self.write_comps(&repodata, comps)?);
        }
        if !self.advisories.is_empty() {
            records.push(self.write_updateinfo(&repodata)?);
        }
        for record in &mut records {
            record.timestamp = Some(timestamp);
        }
        let repomd = RepoMd {
            revision: self
                .revision
                .clone()
                .unwrap_or_else(|| timestamp.to_string()),
            records,
        };
        let mut file = TempFile::create(&repodata, "repomd.xml")?;
        file.write_all(repomd.to_xml().as_bytes())?;
        file.commit(&repodata.join("repomd.xml"))?;
        Ok(repomd)
    }

    fn write_packages<I>(
        &self,
        repodata: &Path,
        package_count: u64,
        packages: I,
    ) -> Result<Vec<RepoMdRecord>, MetadataError>
    where
        I: IntoIterator,
        I::Item: Borrow<Package>,
    {
        let header = |root: &str, ns: &str, extra: &str| {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{ns}\"{extra} packages=\"{package_count}\">\n"
            )
        };
        let rpm_ns = format!(" xmlns:rpm=\"{}\"", primary::RPM_NS);
        let mut primary_out = self.gz_file(repodata, "primary.xml.gz")?;
        let mut filelists_out = self.gz_file(repodata, "filelists.xml.gz")?;
        let mut other_out = self.gz_file(repodata, "other.xml.gz")?;
        primary_out.write(header("metadata", primary::COMMON_NS, &rpm_ns).as_bytes())?;
        filelists_out.write(header("filelists", filelists::FILELISTS_NS, "").as_bytes())?;
        other_out.write(header("otherdata", other::OTHER_NS, "").as_bytes())?;

        let mut buf = String::with_capacity(64 * 1024);
        let mut written = 0u64;
        for package in packages {
            let package = package.borrow();
            written += 1;
            buf.clear();
            primary::write_package(&mut buf, package);
            primary_out.write(buf.as_bytes())?;
            buf.clear();
            filelists::write_package(&mut buf, package);
            filelists_out.write(buf.as_bytes())?;
            buf.clear();
            other::write_package(&mut buf, package);
            other_out.write(buf.as_bytes())?;
        }
        if written != package_count {
            return Err(MetadataError::CountMismatch {
                file: repodata.join("primary.xml.gz").display().to_string(),
                declared: package_count,
                actual: written,
            });
        }
        primary_out.write(b"</metadata>")?;
        filelists_out.write(b"</filelists>")?;
        other_out.write(b"</otherdata>")?;
        Ok(vec![
            primary_out.finish(repodata, "primary")?,
            filelists_out.finish(repodata, "filelists")?,
            other_out.finish(repodata, "other")?,
        ])
    }

    fn write_updateinfo(&self, repodata: &Path) -> Result<RepoMdRecord, MetadataError> {
        let mut out = self.gz_file(repodata, "updateinfo.xml.gz")?;
        out.write(updateinfo::HEADER.as_bytes())?;
        let mut buf = String::with_capacity(4096);
        for advisory in self.advisories {
            buf.clear();
            updateinfo::write_advisory(&mut buf, advisory);
            out.write(buf.as_bytes())?;
        }
        out.write(updateinfo::TRAILER.as_bytes())?;
        out.finish(repodata, "updateinfo")
    }

    /// comps.xml as-is (`group`) and gzipped (`group_gz`).
    fn write_comps(
        &self,
        repodata: &Path,
        comps: &Comps,
    ) -> Result<[RepoMdRecord; 2], MetadataError> {
        let xml = comps.to_xml();
        let plain_checksum = Checksum::of(self.checksum, xml.as_bytes());
        let name = format!("{}-comps.xml", plain_checksum.hex());
        let mut plain = TempFile::create(repodata, "comps.xml")?;
        plain.write_all(xml.as_bytes())?;
        plain.commit(&repodata.join(&name))?;
        let group = RepoMdRecord {
            data_type: "group".to_owned(),
            location_href: format!("repodata/{name}"),
            checksum: plain_checksum,
            open_checksum: None,
            size: Some(xml.len() as u64),
            open_size: None,
            timestamp: None,
            database_version: None,
        };
        let mut gz = self.gz_file(repodata, "comps.xml.gz")?;
        gz.write(xml.as_bytes())?;
        let group_gz = gz.finish(repodata, "group_gz")?;
        Ok([group, group_gz])
    }

    fn gz_file(&self, repodata: &Path, suffix: &'static str) -> Result<GzFile, MetadataError> {
        let temp = TempFile::create(repodata, suffix)?;
        let path = temp.path.clone();
        let file = temp.take_file()?;
        let hashing = HashingWriter::new(BufWriter::with_capacity(256 * 1024, file), self.checksum);
        Ok(GzFile {
            encoder: GzEncoder::new(hashing, flate2::Compression::new(self.gzip_level)),
            open: Hasher::new(self.checksum),
            open_size: 0,
            temp: TempPath { path: Some(path) },
            suffix,
        })
    }
}

/// A gzip-compressed metadata file being written, hashed before and after
/// compression.
struct GzFile {
    encoder: GzEncoder<HashingWriter<BufWriter<File>>>,
    open: Hasher,
    open_size: u64,
    temp: TempPath,
    suffix: &'static str,
}

impl GzFile {
    fn write(&mut self, data: &[u8]) -> Result<(), MetadataError> {
        self.open.update(data);
        self.open_size += data.len() as u64;
        self.encoder
            .write_all(data)
            .map_err(|e| io_error(self.temp.path(), e))
    }

    /// Finish compression, rename to `<checksum>-<suffix>` and describe it.
    fn finish(self, repodata: &Path, data_type: &str) -> Result<RepoMdRecord, MetadataError> {
        let GzFile {
            encoder,
            open,
            open_size,
            mut temp,
            suffix,
        } = self;
        let temp_path = temp.path().to_path_buf();
        let hashing = encoder.finish().map_err(|e| io_error(&temp_path, e))?;
        let (writer, checksum, size) = hashing.finish();
        writer
            .into_inner()
            .map_err(|e| io_error(&temp_path, e.into_error()))?;
        let name = format!("{}-{suffix}", checksum.hex());
        temp.commit(&repodata.join(&name))?;
        Ok(RepoMdRecord {
            data_type: data_type.to_owned(),
            location_href: format!("repodata/{name}"),
            checksum,
            open_checksum: Some(open.finalize()),
            size: Some(size),
            open_size: Some(open_size),
            timestamp: None,
            database_version: None,
        })
    }
}

/// A path that is removed when dropped unless committed (renamed).
struct TempPath {
    path: Option<PathBuf>,
}

impl TempPath {
    fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new("<committed>"))
    }

    fn commit(&mut self, target: &Path) -> Result<(), MetadataError> {
        if let Some(path) = self.path.take() {
            fs::rename(&path, target).map_err(|e| io_error(target, e))?;
        }
        Ok(())
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// An uncompressed file written under a temporary name.
struct TempFile {
    file: Option<BufWriter<File>>,
    path: PathBuf,
    guard: TempPath,
}

impl TempFile {
    fn create(dir: &Path, suffix: &str) -> Result<Self, MetadataError> {
        let path = dir.join(format!(".tmp-{}-{}", std::process::id(), suffix));
        let file = File::create(&path).map_err(|e| io_error(&path, e))?;
        Ok(TempFile {
            file: Some(BufWriter::new(file)),
            guard: TempPath {
                path: Some(path.clone()),
            },
            path,
        })
    }

    /// Hand the file over to a [`GzFile`], which takes over the cleanup.
    fn take_file(mut self) -> Result<File, MetadataError> {
        let writer = self
            .file
            .take()
            .ok_or_else(|| io_error(&self.path, gone()))?;
        let file = writer
            .into_inner()
            .map_err(|e| io_error(&self.path, e.into_error()))?;
        self.guard.path = None;
        Ok(file)
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), MetadataError> {
        let writer = self
            .file
            .as_mut()
            .ok_or_else(|| io_error(&self.path, gone()))?;
        writer.write_all(data).map_err(|e| io_error(&self.path, e))
    }

    fn commit(mut self, target: &Path) -> Result<(), MetadataError> {
        if let Some(writer) = self.file.take() {
            writer
                .into_inner()
                .map_err(|e| io_error(&self.path, e.into_error()))?;
        }
        self.guard.commit(target)
    }
}

fn gone() -> std::io::Error {
    std::io::Error::other("file already closed")
}

fn io_error(path: &Path, source: std::io::Error) -> MetadataError {
    MetadataError::Io {
        file: path.display().to_string(),
        source,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
