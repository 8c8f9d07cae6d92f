//! other.xml: the changelogs of every package.
//!
//! [`OtherReader`] streams one [`PackageChangelogs`] per package; memory
//! use does not grow with the number of packages.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::error::MetadataError;
use super::escape;
use super::limits::Limits;
use super::stream::{RecordStream, package_identity, read_version};
use super::xml::{Element, XmlReader};
use crate::plugins::rpm::model::{Changelog, Nevra, Package};

/// Namespace of other.xml.
pub const OTHER_NS: &str = "http://linux.duke.edu/metadata/other";

/// The changelogs of one package, as listed in other.xml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChangelogs {
    /// The package checksum (`pkgid`), which links the entry to primary.xml.
    pub pkg_id: String,
    /// Name, epoch, version, release and arch as other.xml repeats them.
    pub nevra: Nevra,
    /// Changelog entries in document order (createrepo_c: oldest first).
    pub changelogs: Vec<Changelog>,
}

/// Streaming reader of other.xml.
///
/// ```
/// let xml = r#"<otherdata packages="1"><package pkgid="ab" name="a" arch="noarch">
///   <version epoch="0" ver="1" rel="1"/>
///   <changelog author="Me &lt;me@example.com&gt; - 1-1" date="1700000000">- init</changelog>
///   </package></otherdata>"#;
/// let mut reader = pulp_app::plugins::rpm::metadata::OtherReader::new(xml.as_bytes()).unwrap();
/// let entry = reader.next().unwrap().unwrap();
/// assert_eq!(entry.changelogs[0].author, "Me <me@example.com> - 1-1");
/// ```
#[derive(Debug)]
pub struct OtherReader<R> {
    stream: RecordStream<R>,
}

impl<R: BufRead> OtherReader<R> {
    /// Start reading decompressed other.xml with default [`Limits`].
    ///
    /// # Errors
    ///
    /// Any parse error up to and including the root `<otherdata>` element.
    pub fn new(input: R) -> Result<Self, MetadataError> {
        Self::with_options(input, "other.xml", &Limits::default())
    }

    /// Start reading with explicit limits, naming the input `file` in errors.
    ///
    /// # Errors
    ///
    /// Any parse error up to and including the root `<otherdata>` element.
    pub fn with_options(input: R, file: &str, limits: &Limits) -> Result<Self, MetadataError> {
        Ok(OtherReader {
            stream: RecordStream::open(input, file, limits, "otherdata", "package")?,
        })
    }

    /// The root's `packages="N"` attribute.
    pub fn declared_count(&self) -> Option<u64> {
        self.stream.declared()
    }

    /// The next package's changelogs, or `None` at the end of the document.
    ///
    /// # Errors
    ///
    /// Malformed or hostile XML, a `<package>` without `pkgid`/`name`, a
    /// non-numeric `date`, more changelogs than [`Limits::max_entries`].
    pub fn next_package(&mut self) -> Result<Option<PackageChangelogs>, MetadataError> {
        self.stream
            .next_with(|xml, element, _| read_entry(xml, element))
    }
}

impl<R: BufRead> Iterator for OtherReader<R> {
    type Item = Result<PackageChangelogs, MetadataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_package().transpose()
    }
}

fn read_entry<R: BufRead>(
    xml: &mut XmlReader<R>,
    element: &mut Element,
) -> Result<PackageChangelogs, MetadataError> {
    let (pkg_id, mut nevra) = package_identity(xml, element)?;
    let mut changelogs = Vec::new();
    while let Some(mut child) = xml.next_child()? {
        match child.name.as_str() {
            "version" => read_version(xml, child, &mut nevra)?,
            "changelog" => {
                let author = child.take_attr("author").unwrap_or_default();
                let date = xml.num_attr(&child, "date")?.unwrap_or(0);
                let text = xml.read_text()?;
                changelogs.push(Changelog { author, date, text });
                xml.check_count(
                    changelogs.len(),
                    || format!("package {pkg_id}"),
                    "changelogs",
                )?;
            }
            _ => xml.skip()?,
        }
    }
    Ok(PackageChangelogs {
        pkg_id,
        nevra,
        changelogs,
    })
}

/// Append one `<package>` element of other.xml.
pub(crate) fn write_package(out: &mut String, pkg: &Package) {
    super::filelists::write_header(out, pkg);
    for entry in &pkg.changelogs {
        out.push_str("  <changelog");
        escape::attribute(out, "author", &entry.author);
        escape::attribute(out, "date", &entry.date.to_string());
        out.push('>');
        escape::text(out, &entry.text);
        out.push_str("</changelog>\n");
    }
    out.push_str("</package>\n");
}
