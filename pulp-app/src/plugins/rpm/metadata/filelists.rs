//! filelists.xml: the complete file list of every package.
//!
//! [`FilelistsReader`] streams one [`PackageFiles`] per package; memory use
//! does not grow with the number of packages.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::error::MetadataError;
use super::escape;
use super::limits::Limits;
use super::stream::{RecordStream, file_kind, package_identity, read_version};
use super::xml::XmlReader;
use crate::plugins::rpm::model::{FileEntry, Nevra, Package};

/// Namespace of filelists.xml.
pub const FILELISTS_NS: &str = "http://linux.duke.edu/metadata/filelists";

/// The files of one package, as listed in filelists.xml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFiles {
    /// The package checksum (`pkgid`), which links the entry to primary.xml.
    pub pkg_id: String,
    /// Name, epoch, version, release and arch as filelists.xml repeats them.
    pub nevra: Nevra,
    /// Every file, directory and ghost entry.
    pub files: Vec<FileEntry>,
}

/// Streaming reader of filelists.xml.
///
/// ```
/// let xml = r#"<filelists packages="1"><package pkgid="ab" name="a" arch="noarch">
///   <version epoch="0" ver="1" rel="1"/><file type="dir">/d</file><file>/d/f</file>
///   </package></filelists>"#;
/// let mut reader = pulp_app::plugins::rpm::metadata::FilelistsReader::new(xml.as_bytes()).unwrap();
/// let entry = reader.next().unwrap().unwrap();
/// assert_eq!(entry.files.len(), 2);
/// ```
#[derive(Debug)]
pub struct FilelistsReader<R> {
    stream: RecordStream<R>,
}

impl<R: BufRead> FilelistsReader<R> {
    /// Start reading decompressed filelists.xml with default [`Limits`].
    ///
    /// # Errors
    ///
    /// Any parse error up to and including the root `<filelists>` element.
    pub fn new(input: R) -> Result<Self, MetadataError> {
        Self::with_options(input, "filelists.xml", &Limits::default())
    }

    /// Start reading with explicit limits, naming the input `file` in errors.
    ///
    /// # Errors
    ///
    /// Any parse error up to and including the root `<filelists>` element.
    pub fn with_options(input: R, file: &str, limits: &Limits) -> Result<Self, MetadataError> {
        Ok(FilelistsReader {
            stream: RecordStream::open(input, file, limits, "filelists", "package")?,
        })
    }

    /// The root's `packages="N"` attribute.
    pub fn declared_count(&self) -> Option<u64> {
        self.stream.declared()
    }

    /// The next package's files, or `None` at the end of the document.
    ///
    /// # Errors
    ///
    /// Malformed or hostile XML, a `<package>` without `pkgid`/`name`, an
    /// unknown file `type`, more files than [`Limits::max_entries`].
    pub fn next_package(&mut self) -> Result<Option<PackageFiles>, MetadataError> {
        self.stream
            .next_with(|xml, element, _| read_entry(xml, element))
    }
}

impl<R: BufRead> Iterator for FilelistsReader<R> {
    type Item = Result<PackageFiles, MetadataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_package().transpose()
    }
}

fn read_entry<R: BufRead>(
    xml: &mut XmlReader<R>,
    element: &mut super::xml::Element,
) -> Result<PackageFiles, MetadataError> {
    let (pkg_id, mut nevra) = package_identity(xml, element)?;
    let mut files = Vec::new();
    while let Some(child) = xml.next_child()? {
        match child.name.as_str() {
            "version" => read_version(xml, child, &mut nevra)?,
            "file" => {
                let kind = file_kind(xml, &child)?;
                let path = xml.read_text()?;
                files.push(FileEntry { kind, path });
                xml.check_count(files.len(), || format!("package {pkg_id}"), "files")?;
            }
            _ => xml.skip()?,
        }
    }
    Ok(PackageFiles {
        pkg_id,
        nevra,
        files,
    })
}

/// Append one `<package>` element of filelists.xml.
pub(crate) fn write_package(out: &mut String, pkg: &Package) {
    write_header(out, pkg);
    for file in &pkg.files {
        super::primary::write_file(out, 2, file);
    }
    out.push_str("</package>\n");
}

/// `<package pkgid name arch>` and `<version/>`, shared with other.xml.
pub(crate) fn write_header(out: &mut String, pkg: &Package) {
    out.push_str("<package");
    escape::attribute(out, "pkgid", &pkg.pkg_id);
    escape::attribute(out, "name", &pkg.name);
    escape::attribute(out, "arch", &pkg.arch);
    out.push_str(">\n  <version");
    escape::attribute(out, "epoch", &pkg.epoch);
    escape::attribute(out, "ver", &pkg.version);
    escape::attribute(out, "rel", &pkg.release);
    out.push_str("/>\n");
}
