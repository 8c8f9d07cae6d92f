//! The RPM package model shared by the yum metadata parser/writer and the
//! `.rpm` header reader. Pure data: serde-serializable, no I/O.
//!
//! Field names follow createrepo_c / pulp_rpm where they exist so that the
//! REST API can expose them under Pulp's names.

use serde::{Deserialize, Serialize};

/// Name, epoch, version, release, arch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nevra {
    /// Package name, e.g. `bash`.
    pub name: String,
    /// Epoch as written in metadata (`"0"` when absent).
    pub epoch: String,
    /// Upstream version, e.g. `5.2.15`.
    pub version: String,
    /// Release, e.g. `1.fc38`.
    pub release: String,
    /// Architecture, e.g. `x86_64`, `noarch`, `src`.
    pub arch: String,
}

/// One dependency entry (`<rpm:entry name=".." flags="GE" epoch="0" ver="1" rel="2" pre="1"/>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dependency {
    /// Capability name, e.g. `libc.so.6()(64bit)` or `/usr/bin/sh`.
    pub name: String,
    /// Comparison: one of `EQ`, `LT`, `LE`, `GT`, `GE`, or `None` for unversioned.
    pub flags: Option<String>,
    /// Epoch of the compared version.
    pub epoch: Option<String>,
    /// Version of the compared version.
    pub ver: Option<String>,
    /// Release of the compared version.
    pub rel: Option<String>,
    /// `pre="1"` (a pre-install requirement); only meaningful for requires.
    pub pre: bool,
}

/// The kind of a file entry in filelists.xml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A regular file (no `type` attribute).
    File,
    /// `type="dir"`.
    Dir,
    /// `type="ghost"`.
    Ghost,
}

/// One file shipped by a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// What the entry is.
    pub kind: FileKind,
    /// Absolute path inside the package, e.g. `/usr/bin/bash`.
    pub path: String,
}

/// One changelog entry from other.xml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changelog {
    /// `author` attribute, e.g. `Jane Doe <jane@example.com> - 1.0-1`.
    pub author: String,
    /// `date` attribute: seconds since the epoch.
    pub date: i64,
    /// Entry text.
    pub text: String,
}

/// Everything primary.xml says about one package, plus its file list
/// and changelogs (filelists.xml / other.xml), which callers may keep
/// elsewhere (they are large) and leave empty here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Package {
    /// Package name.
    pub name: String,
    /// Epoch (`"0"` when absent).
    pub epoch: String,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture.
    pub arch: String,
    /// The package checksum (`<checksum pkgid="YES">`), lowercase hex. Also the pkgId.
    pub pkg_id: String,
    /// Checksum algorithm of `pkg_id`: `sha256`, `sha1`, `sha512`, ...
    pub checksum_type: String,
    /// One-line summary.
    pub summary: String,
    /// Long description.
    pub description: String,
    /// Packager, may be empty.
    pub packager: String,
    /// Upstream URL, may be empty.
    pub url: String,
    /// `<time file=..>`: when the file was added to the repository.
    pub time_file: i64,
    /// `<time build=..>`: build time.
    pub time_build: i64,
    /// `<size package=..>`: size of the .rpm file in bytes.
    pub size_package: u64,
    /// `<size installed=..>`.
    pub size_installed: u64,
    /// `<size archive=..>`.
    pub size_archive: u64,
    /// `<location href=..>`: path of the .rpm relative to the repository root.
    pub location_href: String,
    /// `<location xml:base=..>`, if any.
    pub location_base: Option<String>,
    /// `<rpm:license>`.
    pub rpm_license: String,
    /// `<rpm:vendor>`.
    pub rpm_vendor: String,
    /// `<rpm:group>`.
    pub rpm_group: String,
    /// `<rpm:buildhost>`.
    pub rpm_buildhost: String,
    /// `<rpm:sourcerpm>`.
    pub rpm_sourcerpm: String,
    /// `<rpm:header-range start=..>`.
    pub rpm_header_start: u64,
    /// `<rpm:header-range end=..>`.
    pub rpm_header_end: u64,
    /// `<rpm:provides>`.
    pub provides: Vec<Dependency>,
    /// `<rpm:requires>`.
    pub requires: Vec<Dependency>,
    /// `<rpm:conflicts>`.
    pub conflicts: Vec<Dependency>,
    /// `<rpm:obsoletes>`.
    pub obsoletes: Vec<Dependency>,
    /// `<rpm:suggests>`.
    pub suggests: Vec<Dependency>,
    /// `<rpm:enhances>`.
    pub enhances: Vec<Dependency>,
    /// `<rpm:recommends>`.
    pub recommends: Vec<Dependency>,
    /// `<rpm:supplements>`.
    pub supplements: Vec<Dependency>,
    /// Files listed in primary.xml (the "primary" subset: /etc/*, */bin/*, /usr/lib/sendmail).
    pub primary_files: Vec<FileEntry>,
    /// All files (filelists.xml). Empty when the caller keeps them elsewhere.
    pub files: Vec<FileEntry>,
    /// Changelogs (other.xml). Empty when the caller keeps them elsewhere.
    pub changelogs: Vec<Changelog>,
}

impl Package {
    /// The package's name-epoch-version-release.arch.
    pub fn nevra(&self) -> Nevra {
        Nevra {
            name: self.name.clone(),
            epoch: self.epoch.clone(),
            version: self.version.clone(),
            release: self.release.clone(),
            arch: self.arch.clone(),
        }
    }

    /// The conventional file name `name-version-release.arch.rpm`.
    pub fn filename(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.version, self.release, self.arch
        )
    }
}
