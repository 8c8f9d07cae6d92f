//! repomd.xml: the index of a repository's metadata files.
//!
//! [`RepoMd::parse`] reads it; [`RepoMdRecord::open_verified`] turns the raw
//! bytes of one listed file into a decompressed stream whose checksum, size,
//! open-checksum and open-size are checked while it is being read (the
//! final `read` fails on a mismatch). [`RepoMd::to_xml`] writes it back in
//! createrepo_c's layout.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::decompress::{Compression, Decompressed, open_decompressed};
use super::error::MetadataError;
use super::escape;
use super::limits::Limits;
use super::verify::VerifyingReader;
use super::xml::{Element, XmlReader};
use crate::checksum::{Checksum, ChecksumError};
use crate::relpath::safe_relative_path;

/// Namespace of repomd.xml.
pub const REPO_NS: &str = "http://linux.duke.edu/metadata/repo";

/// The parsed repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepoMd {
    /// `<revision>`: createrepo_c uses a Unix timestamp; any string is allowed.
    /// Empty if absent.
    pub revision: String,
    /// One record per `<data>` element, in document order.
    pub records: Vec<RepoMdRecord>,
}

/// One `<data type="...">` record of repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoMdRecord {
    /// `primary`, `filelists`, `other`, `updateinfo`, `group`, `group_gz`,
    /// `primary_db`, `modules`, ...
    pub data_type: String,
    /// `<location href>`, validated by [`safe_relative_path`].
    pub location_href: String,
    /// Checksum of the file as stored (compressed).
    pub checksum: Checksum,
    /// Checksum of the decompressed content, if listed.
    pub open_checksum: Option<Checksum>,
    /// Size of the file as stored.
    pub size: Option<u64>,
    /// Size of the decompressed content.
    pub open_size: Option<u64>,
    /// `<timestamp>`: Unix time.
    pub timestamp: Option<i64>,
    /// `<database_version>` of sqlite records.
    pub database_version: Option<u32>,
}

/// A verified, decompressed metadata stream: see [`RepoMdRecord::open_verified`].
pub type VerifiedReader<R> =
    BufReader<VerifyingReader<Decompressed<BufReader<VerifyingReader<R>>>>>;

impl RepoMd {
    /// Parse repomd.xml with default [`Limits`].
    ///
    /// ```
    /// let xml = r#"<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>7</revision>
    ///   <data type="primary"><checksum type="sha256">e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855</checksum>
    ///   <location href="repodata/p.xml.gz"/><size>0</size></data></repomd>"#;
    /// let md = pulp_app::plugins::rpm::metadata::RepoMd::parse(xml.as_bytes()).unwrap();
    /// assert_eq!(md.record("primary").unwrap().location_href, "repodata/p.xml.gz");
    /// ```
    ///
    /// # Errors
    ///
    /// Malformed or hostile XML, a `<data>` without `type`, `checksum` or
    /// `location`, an unsupported checksum type (`md5`), an unsafe href.
    pub fn parse<R: BufRead>(input: R) -> Result<Self, MetadataError> {
        Self::parse_with(input, "repomd.xml", &Limits::default())
    }

    /// Parse with explicit limits, naming the input `file` in errors.
    ///
    /// # Errors
    ///
    /// As [`RepoMd::parse`].
    pub fn parse_with<R: BufRead>(
        input: R,
        file: &str,
        limits: &Limits,
    ) -> Result<Self, MetadataError> {
        let mut xml = XmlReader::new(input, file, limits);
        xml.root("repomd")?;
        let mut repomd = RepoMd::default();
        while let Some(mut child) = xml.next_child()? {
            match child.name.as_str() {
                "revision" => repomd.revision = xml.read_text()?.trim().to_owned(),
                "data" => {
                    let data_type = xml.required_attr(&mut child, "type")?;
                    repomd.records.push(read_record(&mut xml, data_type)?);
                    xml.check_count(repomd.records.len(), || "repomd".to_owned(), "records")?;
                }
                _ => xml.skip()?,
            }
        }
        xml.finish()?;
        Ok(repomd)
    }

    /// The first record of type `data_type`.
    pub fn record(&self, data_type: &str) -> Option<&RepoMdRecord> {
        self.records.iter().find(|r| r.data_type == data_type)
    }

    /// Serialize as createrepo_c does (`repo` and `rpm` namespaces, records
    /// in the given order).
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(512 + 600 * self.records.len());
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str("<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n");
        escape::element(&mut out, 2, "revision", &self.revision);
        for record in &self.records {
            record.write(&mut out);
        }
        out.push_str("</repomd>\n");
        out
    }
}

fn read_record<R: BufRead>(
    xml: &mut XmlReader<R>,
    data_type: String,
) -> Result<RepoMdRecord, MetadataError> {
    let context = || format!("repomd record {data_type:?}");
    let (mut checksum, mut open_checksum, mut href) = (None, None, None);
    let (mut size, mut open_size, mut timestamp, mut database_version) = (None, None, None, None);
    while let Some(mut child) = xml.next_child()? {
        match child.name.as_str() {
            "checksum" => checksum = Some(read_checksum(xml, &mut child)?),
            "open-checksum" => open_checksum = Some(read_checksum(xml, &mut child)?),
            "location" => {
                let value = xml.required_attr(&mut child, "href")?;
                safe_relative_path(&value)?;
                href = Some(value);
                xml.skip()?;
            }
            "size" => size = Some(read_number(xml, &child)?),
            "open-size" => open_size = Some(read_number(xml, &child)?),
            "timestamp" => timestamp = Some(read_number(xml, &child)?),
            "database_version" => database_version = Some(read_number(xml, &child)?),
            _ => xml.skip()?,
        }
    }
    Ok(RepoMdRecord {
        location_href: href.ok_or_else(|| xml.missing("location", context()))?,
        checksum: checksum.ok_or_else(|| xml.missing("checksum", context()))?,
        data_type,
        open_checksum,
        size,
        open_size,
        timestamp,
        database_version,
    })
}

fn read_checksum<R: BufRead>(
    xml: &mut XmlReader<R>,
    element: &mut Element,
) -> Result<Checksum, MetadataError> {
    let kind = xml.required_attr(element, "type")?;
    let position = element.position;
    let hex = xml.read_text()?;
    Checksum::parse(&kind, hex.trim()).map_err(|e| match e {
        ChecksumError::Invalid { kind, value } => MetadataError::InvalidValue {
            file: xml.file().to_owned(),
            position,
            field: format!("{kind} checksum"),
            value,
        },
        other => MetadataError::Checksum(other),
    })
}

fn read_number<R: BufRead, T: std::str::FromStr>(
    xml: &mut XmlReader<R>,
    element: &Element,
) -> Result<T, MetadataError> {
    let text = xml.read_text()?;
    xml.number(&text, element.position, || element.name.clone())
}

impl RepoMdRecord {
    /// The compression named by the href's extension.
    ///
    /// # Errors
    ///
    /// [`MetadataError::UnsupportedCompression`] (e.g. `.zck`).
    pub fn compression(&self) -> Result<Compression, MetadataError> {
        Compression::from_path(&self.location_href)
    }

    /// Wrap the raw (as stored) bytes of this record's file in a verifying,
    /// decompressing reader:
    ///
    /// 1. the raw bytes are hashed and counted against `checksum` / `size`
    ///    (a file longer than `size` fails as soon as the extra byte arrives);
    /// 2. the compression from the href is cross-checked against the magic
    ///    bytes, and decoding enforces `limits`;
    /// 3. the decompressed bytes are hashed and counted against
    ///    `open_checksum` / `open_size` when the record lists them.
    ///
    /// A mismatch fails the `read` that reaches the end of the data; the
    /// readers of this module report it as
    /// [`MetadataError::ChecksumMismatch`] / [`MetadataError::SizeMismatch`]
    /// (they read every document to its end so this check always runs).
    ///
    /// # Errors
    ///
    /// Errors of [`Compression::detect`], or [`MetadataError::Io`] if the
    /// first bytes cannot be read.
    pub fn open_verified<R: Read>(
        &self,
        raw: R,
        limits: &Limits,
    ) -> Result<VerifiedReader<R>, MetadataError> {
        let href = self.location_href.as_str();
        let hashed = VerifyingReader::new(raw, href, Some(&self.checksum), self.size);
        let mut buffered = BufReader::with_capacity(64 * 1024, hashed);
        let head = buffered
            .fill_buf()
            .map_err(|e| MetadataError::from_io(href, e))?;
        let compression = Compression::detect(href, head)?;
        let decompressed = open_decompressed(buffered, compression, limits).with_name(href);
        let open_name = format!("{href} (decompressed)");
        let verified = VerifyingReader::new(
            decompressed,
            &open_name,
            self.open_checksum.as_ref(),
            self.open_size,
        );
        Ok(BufReader::with_capacity(64 * 1024, verified))
    }

    /// [`RepoMdRecord::open_verified`] on the file `repo_root/location_href`.
    ///
    /// # Errors
    ///
    /// [`MetadataError::Io`] if the file cannot be opened, then as
    /// [`RepoMdRecord::open_verified`].
    pub fn open_in(
        &self,
        repo_root: &Path,
        limits: &Limits,
    ) -> Result<VerifiedReader<File>, MetadataError> {
        let path = repo_root.join(safe_relative_path(&self.location_href)?);
        let file = File::open(&path).map_err(|e| MetadataError::Io {
            file: path.display().to_string(),
            source: e,
        })?;
        self.open_verified(file, limits)
    }

    fn write(&self, out: &mut String) {
        out.push_str("  <data");
        escape::attribute(out, "type", &self.data_type);
        out.push_str(">\n");
        write_checksum(out, "checksum", &self.checksum);
        if let Some(open) = &self.open_checksum {
            write_checksum(out, "open-checksum", open);
        }
        out.push_str("    <location");
        escape::attribute(out, "href", &self.location_href);
        out.push_str("/>\n");
        if let Some(timestamp) = self.timestamp {
            escape::element(out, 4, "timestamp", &timestamp.to_string());
        }
        if let Some(size) = self.size {
            escape::element(out, 4, "size", &size.to_string());
        }
        if let Some(open_size) = self.open_size {
            escape::element(out, 4, "open-size", &open_size.to_string());
        }
        if let Some(version) = self.database_version {
            escape::element(out, 4, "database_version", &version.to_string());
        }
        out.push_str("  </data>\n");
    }
}

fn write_checksum(out: &mut String, element: &str, checksum: &Checksum) {
    out.push_str("    <");
    out.push_str(element);
    escape::attribute(out, "type", checksum.kind().name());
    out.push('>');
    out.push_str(checksum.hex());
    out.push_str("</");
    out.push_str(element);
    out.push_str(">\n");
}
