//! updateinfo.xml: advisories (errata).
//!
//! [`UpdateInfoReader`] streams one [`Advisory`] at a time; unknown
//! elements are skipped. Optional text fields are empty strings when the
//! element is absent, and are not written back when empty.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::error::MetadataError;
use super::escape::{self, attribute, element};
use super::limits::Limits;
use super::stream::RecordStream;
use super::xml::{Element, XmlReader};
use crate::text::clip;

/// One `<update>`: an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Advisory {
    /// `<id>`, e.g. `FEDORA-2024-1234` or `RHSA-2024:0001`.
    pub id: String,
    /// `type` attribute: `security`, `bugfix`, `enhancement`, `newpackage`.
    pub advisory_type: String,
    /// `status` attribute: `stable`, `testing`, `final`, ...
    pub status: String,
    /// `version` attribute.
    pub version: String,
    /// `from` attribute (issuer e-mail).
    pub from: String,
    /// `<title>`.
    pub title: String,
    /// `<issued date>`, as written (`2024-01-01 00:00:00` or Unix seconds).
    pub issued: String,
    /// `<updated date>`, as written.
    pub updated: String,
    /// `<rights>`.
    pub rights: String,
    /// `<release>`.
    pub release: String,
    /// `<pushcount>`.
    pub pushcount: String,
    /// `<severity>`: `Low`, `Moderate`, `Important`, `Critical`, ...
    pub severity: String,
    /// `<summary>`.
    pub summary: String,
    /// `<description>`.
    pub description: String,
    /// `<solution>`.
    pub solution: String,
    /// `<reboot_suggested>` at advisory level (SUSE style).
    pub reboot_suggested: bool,
    /// `<references>`.
    pub references: Vec<AdvisoryReference>,
    /// `<pkglist>` collections.
    pub collections: Vec<AdvisoryCollection>,
}

/// One `<reference>` of an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdvisoryReference {
    /// `href`: link to the bug or CVE.
    pub href: String,
    /// `id`: bug number or CVE id.
    pub id: String,
    /// `type`: `bugzilla`, `cve`, `self`, ...
    pub ref_type: String,
    /// `title`.
    pub title: String,
}

/// One `<collection>` of an advisory's package list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdvisoryCollection {
    /// `short` attribute.
    pub short: String,
    /// `<name>`.
    pub name: String,
    /// `<module>` for modular advisories.
    pub module: Option<AdvisoryModule>,
    /// `<package>` entries.
    pub packages: Vec<AdvisoryPackage>,
}

/// A `<module>` of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdvisoryModule {
    /// Module name.
    pub name: String,
    /// Stream.
    pub stream: String,
    /// Version (a number, kept as written).
    pub version: String,
    /// Context.
    pub context: String,
    /// Architecture.
    pub arch: String,
}

/// One `<package>` of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdvisoryPackage {
    /// `name`.
    pub name: String,
    /// `epoch` (`0` when absent).
    pub epoch: String,
    /// `version`.
    pub version: String,
    /// `release`.
    pub release: String,
    /// `arch`.
    pub arch: String,
    /// `src`: the source RPM file name.
    pub src: String,
    /// `<filename>`: the binary RPM file name (a name, not a path).
    pub filename: String,
    /// `<sum>` digest, empty when absent.
    pub sum: String,
    /// `<sum type>` (`sha256`, `sha1`, `md5`, ...), empty when absent.
    pub sum_type: String,
    /// `<reboot_suggested>`.
    pub reboot_suggested: bool,
    /// `<restart_suggested>`.
    pub restart_suggested: bool,
    /// `<relogin_suggested>`.
    pub relogin_suggested: bool,
}

/// Streaming reader of updateinfo.xml.
///
/// ```
/// let xml = r#"<updates><update type="security" status="stable">
///   <id>FX-1</id><title>t</title><issued date="2024-01-01 00:00:00"/><whatever/>
///   </update></updates>"#;
/// let mut reader = pulp_app::plugins::rpm::metadata::UpdateInfoReader::new(xml.as_bytes()).unwrap();
/// let advisory = reader.next().unwrap().unwrap();
/// assert_eq!((advisory.id.as_str(), advisory.advisory_type.as_str()), ("FX-1", "security"));
/// ```
#[derive(Debug)]
pub struct UpdateInfoReader<R> {
    stream: RecordStream<R>,
}

impl<R: BufRead> UpdateInfoReader<R> {
    /// Start reading decompressed updateinfo.xml with default [`Limits`].
    ///
    /// # Errors
    ///
    /// Any parse error up to and including the root `<updates>` element.
    pub fn new(input: R) -> Result<Self, MetadataError> {
        Self::with_options(input, "updateinfo.xml", &Limits::default())
    }

    /// Start reading with explicit limits, naming the input `file` in errors.
    ///
    /// # Errors
    ///
    /// Any parse error up to and including the root `<updates>` element.
    pub fn with_options(input: R, file: &str, limits: &Limits) -> Result<Self, MetadataError> {
        Ok(UpdateInfoReader {
            stream: RecordStream::open(input, file, limits, "updates", "update")?,
        })
    }

    /// The next advisory, or `None` at the end of the document.
    ///
    /// # Errors
    ///
    /// Malformed or hostile XML, an `<update>` without `<id>`, more
    /// references or packages than [`Limits::max_entries`].
    pub fn next_advisory(&mut self) -> Result<Option<Advisory>, MetadataError> {
        self.stream.next_with(read_advisory)
    }
}

impl<R: BufRead> Iterator for UpdateInfoReader<R> {
    type Item = Result<Advisory, MetadataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_advisory().transpose()
    }
}

fn is_true(text: &str) -> bool {
    matches!(text.trim(), "True" | "true" | "TRUE" | "1" | "yes")
}

fn read_advisory<R: BufRead>(
    xml: &mut XmlReader<R>,
    update: &mut Element,
    index: u64,
) -> Result<Advisory, MetadataError> {
    let mut advisory = Advisory {
        advisory_type: update.take_attr("type").unwrap_or_default(),
        status: update.take_attr("status").unwrap_or_default(),
        version: update.take_attr("version").unwrap_or_default(),
        from: update.take_attr("from").unwrap_or_default(),
        ..Advisory::default()
    };
    while let Some(mut child) = xml.next_child()? {
        let field = match child.name.as_str() {
            "id" => &mut advisory.id,
            "title" => &mut advisory.title,
            "rights" => &mut advisory.rights,
            "release" => &mut advisory.release,
            "pushcount" => &mut advisory.pushcount,
            "severity" => &mut advisory.severity,
            "summary" => &mut advisory.summary,
            "description" => &mut advisory.description,
            "solution" => &mut advisory.solution,
            "issued" | "updated" => {
                let date = child.take_attr("date").unwrap_or_default();
                if child.name == "issued" {
                    advisory.issued = date;
                } else {
                    advisory.updated = date;
                }
                xml.skip()?;
                continue;
            }
            "reboot_suggested" => {
                advisory.reboot_suggested = is_true(&xml.read_text()?);
                continue;
            }
            "references" => {
                read_references(xml, &mut advisory)?;
                continue;
            }
            "pkglist" => {
                read_pkglist(xml, &mut advisory)?;
                continue;
            }
            _ => {
                xml.skip()?;
                continue;
            }
        };
        *field = xml.read_text()?;
    }
    if advisory.id.trim().is_empty() {
        return Err(xml.missing("id", format!("advisory #{index}")));
    }
    advisory.id = advisory.id.trim().to_owned();
    Ok(advisory)
}

fn read_references<R: BufRead>(
    xml: &mut XmlReader<R>,
    advisory: &mut Advisory,
) -> Result<(), MetadataError> {
    while let Some(mut child) = xml.next_child()? {
        if child.name == "reference" {
            advisory.references.push(AdvisoryReference {
                href: child.take_attr("href").unwrap_or_default(),
                id: child.take_attr("id").unwrap_or_default(),
                ref_type: child.take_attr("type").unwrap_or_default(),
                title: child.take_attr("title").unwrap_or_default(),
            });
            xml.check_count(
                advisory.references.len(),
                || format!("advisory {}", clip(&advisory.id)),
                "references",
            )?;
        }
        xml.skip()?;
    }
    Ok(())
}

fn read_pkglist<R: BufRead>(
    xml: &mut XmlReader<R>,
    advisory: &mut Advisory,
) -> Result<(), MetadataError> {
    let mut total = 0usize;
    while let Some(mut child) = xml.next_child()? {
        if child.name != "collection" {
            xml.skip()?;
            continue;
        }
        let mut collection = AdvisoryCollection {
            short: child.take_attr("short").unwrap_or_default(),
            ..AdvisoryCollection::default()
        };
        while let Some(mut item) = xml.next_child()? {
            match item.name.as_str() {
                "name" => collection.name = xml.read_text()?,
                "module" => {
                    collection.module = Some(AdvisoryModule {
                        name: item.take_attr("name").unwrap_or_default(),
                        stream: item.take_attr("stream").unwrap_or_default(),
                        version: item.take_attr("version").unwrap_or_default(),
                        context: item.take_attr("context").unwrap_or_default(),
                        arch: item.take_attr("arch").unwrap_or_default(),
                    });
                    xml.skip()?;
                }
                "package" => {
                    collection.packages.push(read_package(xml, &mut item)?);
                    total += 1;
                    xml.check_count(
                        total,
                        || format!("advisory {}", clip(&advisory.id)),
                        "packages",
                    )?;
                }
                _ => xml.skip()?,
            }
        }
        advisory.collections.push(collection);
        xml.check_count(
            advisory.collections.len(),
            || format!("advisory {}", clip(&advisory.id)),
            "collections",
        )?;
    }
    Ok(())
}

fn read_package<R: BufRead>(
    xml: &mut XmlReader<R>,
    element: &mut Element,
) -> Result<AdvisoryPackage, MetadataError> {
    let mut package = AdvisoryPackage {
        name: element.take_attr("name").unwrap_or_default(),
        epoch: element
            .take_attr("epoch")
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "0".to_owned()),
        version: element.take_attr("version").unwrap_or_default(),
        release: element.take_attr("release").unwrap_or_default(),
        arch: element.take_attr("arch").unwrap_or_default(),
        src: element.take_attr("src").unwrap_or_default(),
        ..AdvisoryPackage::default()
    };
    while let Some(mut child) = xml.next_child()? {
        match child.name.as_str() {
            "filename" => package.filename = xml.read_text()?.trim().to_owned(),
            "sum" => {
                package.sum_type = child.take_attr("type").unwrap_or_default();
                package.sum = xml.read_text()?.trim().to_owned();
            }
            "reboot_suggested" => package.reboot_suggested = is_true(&xml.read_text()?),
            "restart_suggested" => package.restart_suggested = is_true(&xml.read_text()?),
            "relogin_suggested" => package.relogin_suggested = is_true(&xml.read_text()?),
            _ => xml.skip()?,
        }
    }
    Ok(package)
}

/// The updateinfo.xml document header.
pub(crate) const HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n";
/// The updateinfo.xml document trailer.
pub(crate) const TRAILER: &str = "</updates>\n";

/// Append one `<update>` element, laid out as createrepo_c does.
pub(crate) fn write_advisory(out: &mut String, advisory: &Advisory) {
    out.push_str("  <update");
    for (key, value) in [
        ("from", &advisory.from),
        ("status", &advisory.status),
        ("type", &advisory.advisory_type),
        ("version", &advisory.version),
    ] {
        if !value.is_empty() {
            attribute(out, key, value);
        }
    }
    out.push_str(">\n");
    element(out, 4, "id", &advisory.id);
    optional(out, 4, "title", &advisory.title);
    for (name, date) in [("issued", &advisory.issued), ("updated", &advisory.updated)] {
        if !date.is_empty() {
            out.push_str("    <");
            out.push_str(name);
            attribute(out, "date", date);
            out.push_str("/>\n");
        }
    }
    optional(out, 4, "rights", &advisory.rights);
    optional(out, 4, "release", &advisory.release);
    optional(out, 4, "pushcount", &advisory.pushcount);
    optional(out, 4, "severity", &advisory.severity);
    optional(out, 4, "summary", &advisory.summary);
    optional(out, 4, "description", &advisory.description);
    optional(out, 4, "solution", &advisory.solution);
    if advisory.reboot_suggested {
        element(out, 4, "reboot_suggested", "True");
    }
    out.push_str("    <references>\n");
    for reference in &advisory.references {
        out.push_str("      <reference");
        attribute(out, "href", &reference.href);
        attribute(out, "id", &reference.id);
        attribute(out, "type", &reference.ref_type);
        attribute(out, "title", &reference.title);
        out.push_str("/>\n");
    }
    out.push_str("    </references>\n    <pkglist>\n");
    for collection in &advisory.collections {
        write_collection(out, collection);
    }
    out.push_str("    </pkglist>\n  </update>\n");
}

fn write_collection(out: &mut String, collection: &AdvisoryCollection) {
    out.push_str("      <collection");
    if !collection.short.is_empty() {
        attribute(out, "short", &collection.short);
    }
    out.push_str(">\n");
    element(out, 8, "name", &collection.name);
    if let Some(module) = &collection.module {
        out.push_str("        <module");
        attribute(out, "name", &module.name);
        attribute(out, "stream", &module.stream);
        attribute(out, "version", &module.version);
        attribute(out, "context", &module.context);
        attribute(out, "arch", &module.arch);
        out.push_str("/>\n");
    }
    for package in &collection.packages {
        out.push_str("        <package");
        attribute(out, "name", &package.name);
        attribute(out, "version", &package.version);
        attribute(out, "release", &package.release);
        attribute(out, "epoch", &package.epoch);
        attribute(out, "arch", &package.arch);
        attribute(out, "src", &package.src);
        out.push_str(">\n");
        element(out, 10, "filename", &package.filename);
        if !package.sum.is_empty() {
            out.push_str("          <sum");
            attribute(out, "type", &package.sum_type);
            out.push('>');
            escape::text(out, &package.sum);
            out.push_str("</sum>\n");
        }
        for (flag, name) in [
            (package.reboot_suggested, "reboot_suggested"),
            (package.restart_suggested, "restart_suggested"),
            (package.relogin_suggested, "relogin_suggested"),
        ] {
            if flag {
                element(out, 10, name, "True");
            }
        }
        out.push_str("        </package>\n");
    }
    out.push_str("      </collection>\n");
}

fn optional(out: &mut String, indent: usize, name: &str, value: &str) {
    if !value.is_empty() {
        element(out, indent, name, value);
    }
}
