//! primary.xml: one `<package>` per RPM with everything dnf needs to
//! resolve dependencies.
//!
//! [`PrimaryReader`] streams packages one at a time; memory use does not
//! grow with the number of packages. The crate-private `write_package` emits one package in
//! createrepo_c's layout (used by [`super::write`]).

use std::io::BufRead;

use super::error::MetadataError;
use super::escape;
use super::limits::Limits;
use super::stream::{RecordStream, file_kind};
use super::xml::{Element, XmlReader};
use crate::checksum::{ChecksumKind, is_hex};
use crate::plugins::rpm::model::{Dependency, FileEntry, FileKind, Package};
use crate::relpath::{safe_location_base, safe_relative_path};
use crate::text::clip;

/// Namespace of primary.xml's default (common) elements.
pub const COMMON_NS: &str = "http://linux.duke.edu/metadata/common";
/// Namespace of primary.xml's `rpm:` elements.
pub const RPM_NS: &str = "http://linux.duke.edu/metadata/rpm";

/// Streaming reader of primary.xml.
///
/// ```
/// let xml = r#"<metadata packages="1"><package type="rpm"><name>a</name><arch>noarch</arch>
///   <version epoch="0" ver="1" rel="1"/>
///   <checksum type="sha1" pkgid="YES">da39a3ee5e6b4b0d3255bfef95601890afd80709</checksum>
///   <location href="a-1-1.noarch.rpm"/></package></metadata>"#;
/// let mut reader = pulp_app::plugins::rpm::metadata::PrimaryReader::new(xml.as_bytes()).unwrap();
/// assert_eq!(reader.declared_count(), Some(1));
/// let pkg = reader.next().unwrap().unwrap();
/// assert_eq!(pkg.location_href, "a-1-1.noarch.rpm");
/// assert!(reader.next().is_none());
/// ```
#[derive(Debug)]
pub struct PrimaryReader<R> {
    stream: RecordStream<R>,
}

impl<R: BufRead> PrimaryReader<R> {
    /// Start reading decompressed primary.xml from `input` with default
    /// [`Limits`]; errors name the file `primary.xml`.
    ///
    /// # Errors
    ///
    /// Any parse error up to and including the root `<metadata>` element.
    pub fn new(input: R) -> Result<Self, MetadataError> {
        Self::with_options(input, "primary.xml", &Limits::default())
    }

    /// Start reading with explicit limits, naming the input `file` in errors.
    ///
    /// # Errors
    ///
    /// Any parse error up to and including the root `<metadata>` element.
    pub fn with_options(input: R, file: &str, limits: &Limits) -> Result<Self, MetadataError> {
        Ok(PrimaryReader {
            stream: RecordStream::open(input, file, limits, "metadata", "package")?,
        })
    }

    /// The root's `packages="N"` attribute (what the file claims to hold).
    pub fn declared_count(&self) -> Option<u64> {
        self.stream.declared()
    }

    /// Packages returned so far.
    pub fn packages_read(&self) -> u64 {
        self.stream.seen()
    }

    /// The next package, or `None` at the end of the document.
    ///
    /// # Errors
    ///
    /// Malformed or hostile XML, missing required elements (`name`, `arch`,
    /// `version`, `checksum`, `location`), unsafe location hrefs, numbers
    /// that do not parse, limits exceeded. After an error the reader
    /// returns `None`.
    pub fn next_package(&mut self) -> Result<Option<Package>, MetadataError> {
        self.stream
            .next_with(|xml, _, index| read_package(xml, index))
    }
}

impl<R: BufRead> Iterator for PrimaryReader<R> {
    type Item = Result<Package, MetadataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_package().transpose()
    }
}

fn describe(index: u64, pkg: &Package) -> String {
    if pkg.name.is_empty() {
        format!("package #{index}")
    } else {
        format!("package #{index} ({})", clip(&pkg.name))
    }
}

/// Read the children of one `<package>` element.
fn read_package<R: BufRead>(xml: &mut XmlReader<R>, index: u64) -> Result<Package, MetadataError> {
    let mut pkg = Package {
        epoch: "0".to_owned(),
        ..Package::default()
    };
    let (mut seen_version, mut seen_checksum, mut seen_location) = (false, false, false);
    while let Some(mut child) = xml.next_child()? {
        match child.name.as_str() {
            "name" => pkg.name = xml.read_text()?,
            "arch" => pkg.arch = xml.read_text()?,
            "version" => {
                pkg.epoch = child
                    .take_attr("epoch")
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| "0".to_owned());
                pkg.version = xml.required_attr(&mut child, "ver")?;
                pkg.release = child.take_attr("rel").unwrap_or_default();
                seen_version = true;
                xml.skip()?;
            }
            "checksum" => {
                let kind = xml.required_attr(&mut child, "type")?;
                let position = child.position;
                let hex = xml.read_text()?;
                pkg.checksum_type = normalize_checksum_type(&kind);
                pkg.pkg_id = checked_hex(xml, &pkg.checksum_type, hex.trim(), position)?;
                seen_checksum = true;
            }
            "summary" => pkg.summary = xml.read_text()?,
            "description" => pkg.description = xml.read_text()?,
            "packager" => pkg.packager = xml.read_text()?,
            "url" => pkg.url = xml.read_text()?,
            "time" => {
                pkg.time_file = xml.num_attr(&child, "file")?.unwrap_or(0);
                pkg.time_build = xml.num_attr(&child, "build")?.unwrap_or(0);
                xml.skip()?;
            }
            "size" => {
                pkg.size_package = xml.num_attr(&child, "package")?.unwrap_or(0);
                pkg.size_installed = xml.num_attr(&child, "installed")?.unwrap_or(0);
                pkg.size_archive = xml.num_attr(&child, "archive")?.unwrap_or(0);
                xml.skip()?;
            }
            "location" => {
                let href = xml.required_attr(&mut child, "href")?;
                safe_relative_path(&href)?;
                pkg.location_href = href;
                if let Some(base) = child.take_attr("xml:base") {
                    safe_location_base(&base)?;
                    pkg.location_base = Some(base);
                }
                seen_location = true;
                xml.skip()?;
            }
            "format" => read_format(xml, &mut pkg, index)?,
            _ => xml.skip()?,
        }
    }
    let context = || describe(index, &pkg);
    if pkg.name.is_empty() {
        return Err(xml.missing("name", context()));
    }
    if pkg.arch.is_empty() {
        return Err(xml.missing("arch", context()));
    }
    if !seen_version {
        return Err(xml.missing("version", context()));
    }
    if !seen_checksum {
        return Err(xml.missing("checksum", context()));
    }
    if !seen_location {
        return Err(xml.missing("location", context()));
    }
    Ok(pkg)
}

/// Canonical name for the checksum types this module knows (`sha` becomes
/// `sha1`); other names (`md5`) are kept, lowercased, so the package can
/// still be listed even though it cannot be verified.
fn normalize_checksum_type(name: &str) -> String {
    match name.parse::<ChecksumKind>() {
        Ok(kind) => kind.name().to_owned(),
        Err(_) => name.to_ascii_lowercase(),
    }
}

/// Lowercase hex of the right length for known checksum types.
fn checked_hex<R: BufRead>(
    xml: &XmlReader<R>,
    kind: &str,
    hex: &str,
    position: u64,
) -> Result<String, MetadataError> {
    let expected_len = kind.parse::<ChecksumKind>().map(ChecksumKind::hex_len).ok();
    let well_formed =
        hex.len() <= 128 && is_hex(hex) && expected_len.is_none_or(|len| len == hex.len());
    if !well_formed {
        return Err(MetadataError::InvalidValue {
            file: xml.file().to_owned(),
            position,
            field: format!("{kind} checksum"),
            value: clip(hex),
        });
    }
    Ok(hex.to_ascii_lowercase())
}

fn read_format<R: BufRead>(
    xml: &mut XmlReader<R>,
    pkg: &mut Package,
    index: u64,
) -> Result<(), MetadataError> {
    while let Some(child) = xml.next_child()? {
        match child.name.as_str() {
            "license" => pkg.rpm_license = xml.read_text()?,
            "vendor" => pkg.rpm_vendor = xml.read_text()?,
            "group" => pkg.rpm_group = xml.read_text()?,
            "buildhost" => pkg.rpm_buildhost = xml.read_text()?,
            "sourcerpm" => pkg.rpm_sourcerpm = xml.read_text()?,
            "header-range" => {
                pkg.rpm_header_start = xml.num_attr(&child, "start")?.unwrap_or(0);
                pkg.rpm_header_end = xml.num_attr(&child, "end")?.unwrap_or(0);
                xml.skip()?;
            }
            "file" => {
                let kind = file_kind(xml, &child)?;
                let path = xml.read_text()?;
                pkg.primary_files.push(FileEntry { kind, path });
                xml.check_count(pkg.primary_files.len(), || describe(index, pkg), "files")?;
            }
            list => {
                let Some((what, deps)) = dependency_list(pkg, list) else {
                    xml.skip()?;
                    continue;
                };
                read_dependencies(xml, deps, what, index)?;
            }
        }
    }
    Ok(())
}

/// The dependency vector for an `rpm:<kind>` element name.
fn dependency_list<'p>(
    pkg: &'p mut Package,
    name: &str,
) -> Option<(&'static str, &'p mut Vec<Dependency>)> {
    Some(match name {
        "provides" => ("provides", &mut pkg.provides),
        "requires" => ("requires", &mut pkg.requires),
        "conflicts" => ("conflicts", &mut pkg.conflicts),
        "obsoletes" => ("obsoletes", &mut pkg.obsoletes),
        "suggests" => ("suggests", &mut pkg.suggests),
        "enhances" => ("enhances", &mut pkg.enhances),
        "recommends" => ("recommends", &mut pkg.recommends),
        "supplements" => ("supplements", &mut pkg.supplements),
        _ => return None,
    })
}

fn read_dependencies<R: BufRead>(
    xml: &mut XmlReader<R>,
    deps: &mut Vec<Dependency>,
    what: &'static str,
    index: u64,
) -> Result<(), MetadataError> {
    while let Some(mut entry) = xml.next_child()? {
        if entry.name != "entry" {
            xml.skip()?;
            continue;
        }
        deps.push(dependency(xml, &mut entry)?);
        xml.check_count(deps.len(), || format!("package #{index}"), what)?;
        xml.skip()?;
    }
    Ok(())
}

fn dependency<R: BufRead>(
    xml: &XmlReader<R>,
    entry: &mut Element,
) -> Result<Dependency, MetadataError> {
    Ok(Dependency {
        name: xml.required_attr(entry, "name")?,
        flags: entry.take_attr("flags"),
        epoch: entry.take_attr("epoch"),
        ver: entry.take_attr("ver"),
        rel: entry.take_attr("rel"),
        pre: matches!(entry.attr("pre"), Some("1" | "true" | "True" | "TRUE")),
    })
}

/// Append one `<package>` element of primary.xml, laid out as createrepo_c
/// does (two-space indentation, `rpm:` prefix for format elements).
pub(crate) fn write_package(out: &mut String, pkg: &Package) {
    use escape::{attribute, element};
    out.push_str("<package type=\"rpm\">\n");
    element(out, 2, "name", &pkg.name);
    element(out, 2, "arch", &pkg.arch);
    out.push_str("  <version");
    attribute(out, "epoch", &pkg.epoch);
    attribute(out, "ver", &pkg.version);
    attribute(out, "rel", &pkg.release);
    out.push_str("/>\n  <checksum");
    attribute(out, "type", &pkg.checksum_type);
    out.push_str(" pkgid=\"YES\">");
    escape::text(out, &pkg.pkg_id);
    out.push_str("</checksum>\n");
    element(out, 2, "summary", &pkg.summary);
    element(out, 2, "description", &pkg.description);
    element(out, 2, "packager", &pkg.packager);
    element(out, 2, "url", &pkg.url);
    out.push_str("  <time");
    attribute(out, "file", &pkg.time_file.to_string());
    attribute(out, "build", &pkg.time_build.to_string());
    out.push_str("/>\n  <size");
    attribute(out, "package", &pkg.size_package.to_string());
    attribute(out, "installed", &pkg.size_installed.to_string());
    attribute(out, "archive", &pkg.size_archive.to_string());
    out.push_str("/>\n  <location");
    if let Some(base) = pkg.location_base.as_deref().filter(|b| !b.is_empty()) {
        attribute(out, "xml:base", base);
    }
    attribute(out, "href", &pkg.location_href);
    out.push_str("/>\n  <format>\n");
    element(out, 4, "rpm:license", &pkg.rpm_license);
    element(out, 4, "rpm:vendor", &pkg.rpm_vendor);
    element(out, 4, "rpm:group", &pkg.rpm_group);
    element(out, 4, "rpm:buildhost", &pkg.rpm_buildhost);
    element(out, 4, "rpm:sourcerpm", &pkg.rpm_sourcerpm);
    out.push_str("    <rpm:header-range");
    attribute(out, "start", &pkg.rpm_header_start.to_string());
    attribute(out, "end", &pkg.rpm_header_end.to_string());
    out.push_str("/>\n");
    let lists: [(&str, &[Dependency]); 8] = [
        ("provides", &pkg.provides),
        ("requires", &pkg.requires),
        ("conflicts", &pkg.conflicts),
        ("obsoletes", &pkg.obsoletes),
        ("suggests", &pkg.suggests),
        ("enhances", &pkg.enhances),
        ("recommends", &pkg.recommends),
        ("supplements", &pkg.supplements),
    ];
    for (name, deps) in lists {
        write_dependencies(out, name, deps);
    }
    for file in &pkg.primary_files {
        write_file(out, 4, file);
    }
    out.push_str("  </format>\n</package>\n");
}

fn write_dependencies(out: &mut String, list: &str, deps: &[Dependency]) {
    if deps.iter().all(|d| d.name.is_empty()) {
        return;
    }
    out.push_str("    <rpm:");
    out.push_str(list);
    out.push_str(">\n");
    for dep in deps.iter().filter(|d| !d.name.is_empty()) {
        out.push_str("      <rpm:entry");
        escape::attribute(out, "name", &dep.name);
        if let Some(flags) = dep.flags.as_deref().filter(|f| !f.is_empty()) {
            escape::attribute(out, "flags", flags);
            for (key, value) in [("epoch", &dep.epoch), ("ver", &dep.ver), ("rel", &dep.rel)] {
                if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                    escape::attribute(out, key, value);
                }
            }
        }
        if dep.pre {
            out.push_str(" pre=\"1\"");
        }
        out.push_str("/>\n");
    }
    out.push_str("    </rpm:");
    out.push_str(list);
    out.push_str(">\n");
}

/// Append `<file>` / `<file type="dir|ghost">` (shared with filelists.xml).
pub(crate) fn write_file(out: &mut String, indent: usize, file: &FileEntry) {
    escape::push_indent(out, indent);
    out.push_str(match file.kind {
        FileKind::File => "<file>",
        FileKind::Dir => "<file type=\"dir\">",
        FileKind::Ghost => "<file type=\"ghost\">",
    });
    escape::text(out, &file.path);
    out.push_str("</file>\n");
}
