//! rpm content units as the catalog keeps them: packages, advisories and
//! comps (groups, categories, environments, langpacks).
//!
//! A package's record holds what primary.xml says about it under Pulp's
//! field names (the API shows them as they are) and is indexed by the
//! fields the content filters use. Its file list and changelogs, which can
//! be large, live in a *blob*: a small JSON artifact in the store
//! ([`PackageBlob`]), referenced from [`ContentRecord::blobs`], so Redis
//! holds only what listings need.
//!
//! Unit ids derive from natural keys: a package from its NEVRA, checksum
//! type and pkgId (as pulp_rpm's uniqueness constraint), an advisory or a
//! comps unit from its id and a digest of its content, so the same unit
//! found twice is one record and a changed one is a new record.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::metadata::{
    Advisory, AdvisoryCollection, AdvisoryModule, AdvisoryPackage, AdvisoryReference, Category,
    Comps, Environment, Group, Langpack,
};
use super::model::{Changelog, Dependency, FileEntry, Package};
use crate::catalog::model::{ContentRecord, ContentRef, ContentType, Source};
use crate::checksum::Sha256Digest;

/// The large per-package metadata kept in a blob artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageBlob {
    /// Every file, directory and ghost (filelists.xml).
    pub files: Vec<FileEntry>,
    /// Changelog entries, oldest first (other.xml).
    pub changelogs: Vec<Changelog>,
}

impl PackageBlob {
    /// The blob of a package (its `files` and `changelogs`).
    pub fn of(package: &Package) -> Self {
        PackageBlob {
            files: package.files.clone(),
            changelogs: package.changelogs.clone(),
        }
    }

    /// The bytes stored in the artifact.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads stored bytes.
    ///
    /// # Errors
    /// If they are not a blob.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// A dependency as Pulp lists it: `[name, flags, epoch, version, release, pre]`.
type PulpDependency = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
);

/// The JSON of a package record, under Pulp's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PackageData {
    name: String,
    epoch: String,
    version: String,
    release: String,
    arch: String,
    #[serde(rename = "pkgId")]
    pkg_id: String,
    checksum_type: String,
    #[serde(default)]
    sha256: Option<String>,
    summary: String,
    description: String,
    url: String,
    requires: Vec<PulpDependency>,
    provides: Vec<PulpDependency>,
    conflicts: Vec<PulpDependency>,
    obsoletes: Vec<PulpDependency>,
    suggests: Vec<PulpDependency>,
    enhances: Vec<PulpDependency>,
    recommends: Vec<PulpDependency>,
    supplements: Vec<PulpDependency>,
    location_base: String,
    location_href: String,
    rpm_buildhost: String,
    rpm_group: String,
    rpm_license: String,
    rpm_packager: String,
    rpm_sourcerpm: String,
    rpm_vendor: String,
    rpm_header_start: u64,
    rpm_header_end: u64,
    is_modular: bool,
    size_archive: u64,
    size_installed: u64,
    size_package: u64,
    time_build: i64,
    time_file: i64,
}

fn to_pulp(deps: &[Dependency]) -> Vec<PulpDependency> {
    deps.iter()
        .map(|d| {
            (
                d.name.clone(),
                d.flags.clone(),
                d.epoch.clone(),
                d.ver.clone(),
                d.rel.clone(),
                d.pre,
            )
        })
        .collect()
}

fn from_pulp(deps: Vec<PulpDependency>) -> Vec<Dependency> {
    deps.into_iter()
        .map(|(name, flags, epoch, ver, rel, pre)| Dependency {
            name,
            flags,
            epoch,
            ver,
            rel,
            pre,
        })
        .collect()
}

/// The reference of a package: (name, epoch, version, release, arch,
/// checksum type, pkgId).
pub fn package_ref(p: &Package) -> ContentRef {
    ContentRef::derive(
        ContentType::Package,
        &[
            p.name.as_str(),
            &p.epoch,
            &p.version,
            &p.release,
            &p.arch,
            &p.checksum_type,
            &p.pkg_id,
        ]
        .join("\0"),
    )
}

/// The SHA-256 of a package, when its metadata checksum is one.
pub fn metadata_sha256(p: &Package) -> Option<String> {
    (p.checksum_type == "sha256" && Sha256Digest::parse(&p.pkg_id).is_ok())
        .then(|| p.pkg_id.clone())
}

/// What a package record is made of besides the package itself.
#[derive(Debug, Clone, Default)]
pub struct PackageParts {
    /// The stored `.rpm` (sha256), if downloaded.
    pub artifact: Option<String>,
    /// The blob with files and changelogs (sha256).
    pub blob: Option<String>,
    /// Where to download the `.rpm` on demand.
    pub source: Option<Source>,
}

/// The record of a package (files and changelogs are left to the blob).
pub fn package_record(p: &Package, parts: PackageParts) -> ContentRecord {
    let sha256 = parts.artifact.clone().or_else(|| metadata_sha256(p));
    let data = PackageData {
        name: p.name.clone(),
        epoch: p.epoch.clone(),
        version: p.version.clone(),
        release: p.release.clone(),
        arch: p.arch.clone(),
        pkg_id: p.pkg_id.clone(),
        checksum_type: p.checksum_type.clone(),
        sha256: sha256.clone(),
        summary: p.summary.clone(),
        description: p.description.clone(),
        url: p.url.clone(),
        requires: to_pulp(&p.requires),
        provides: to_pulp(&p.provides),
        conflicts: to_pulp(&p.conflicts),
        obsoletes: to_pulp(&p.obsoletes),
        suggests: to_pulp(&p.suggests),
        enhances: to_pulp(&p.enhances),
        recommends: to_pulp(&p.recommends),
        supplements: to_pulp(&p.supplements),
        location_base: p.location_base.clone().unwrap_or_default(),
        location_href: p.location_href.clone(),
        rpm_buildhost: p.rpm_buildhost.clone(),
        rpm_group: p.rpm_group.clone(),
        rpm_license: p.rpm_license.clone(),
        rpm_packager: p.packager.clone(),
        rpm_sourcerpm: p.rpm_sourcerpm.clone(),
        rpm_vendor: p.rpm_vendor.clone(),
        rpm_header_start: p.rpm_header_start,
        rpm_header_end: p.rpm_header_end,
        is_modular: false,
        size_archive: p.size_archive,
        size_installed: p.size_installed,
        size_package: p.size_package,
        time_build: p.time_build,
        time_file: p.time_file,
    };
    let mut indexes = vec![
        ("name".to_owned(), p.name.clone()),
        ("epoch".to_owned(), p.epoch.clone()),
        ("version".to_owned(), p.version.clone()),
        ("release".to_owned(), p.release.clone()),
        ("arch".to_owned(), p.arch.clone()),
        ("pkgId".to_owned(), p.pkg_id.clone()),
        ("checksum_type".to_owned(), p.checksum_type.clone()),
        ("location_href".to_owned(), p.location_href.clone()),
    ];
    if let Some(sha) = sha256 {
        indexes.push(("sha256".to_owned(), sha));
    }
    ContentRecord {
        r#ref: package_ref(p),
        created: Utc::now(),
        artifact: parts.artifact,
        blobs: parts.blob.into_iter().collect(),
        source: parts.source,
        indexes,
        data: serde_json::to_value(data).unwrap_or(Value::Null),
    }
}

/// Records that the `.rpm` of a package record is now stored: sets its
/// artifact and its `sha256` field and index.
pub fn set_package_artifact(record: &mut ContentRecord, sha256: &str) {
    record.artifact = Some(sha256.to_owned());
    if let Value::Object(data) = &mut record.data {
        data.insert("sha256".to_owned(), json!(sha256));
    }
    if !record.indexes.iter().any(|(f, _)| f == "sha256") {
        record
            .indexes
            .push(("sha256".to_owned(), sha256.to_owned()));
    }
}

/// A package record read back: the package (without files and changelogs,
/// which are in its blob), or `None` if the record is not a package.
pub fn package_of(record: &ContentRecord) -> Option<Package> {
    if record.r#ref.kind != ContentType::Package {
        return None;
    }
    let d = PackageData::deserialize(&record.data).ok()?;
    Some(Package {
        name: d.name,
        epoch: d.epoch,
        version: d.version,
        release: d.release,
        arch: d.arch,
        pkg_id: d.pkg_id,
        checksum_type: d.checksum_type,
        summary: d.summary,
        description: d.description,
        packager: d.rpm_packager,
        url: d.url,
        time_file: d.time_file,
        time_build: d.time_build,
        size_package: d.size_package,
        size_installed: d.size_installed,
        size_archive: d.size_archive,
        location_href: d.location_href,
        location_base: Some(d.location_base).filter(|b| !b.is_empty()),
        rpm_license: d.rpm_license,
        rpm_vendor: d.rpm_vendor,
        rpm_group: d.rpm_group,
        rpm_buildhost: d.rpm_buildhost,
        rpm_sourcerpm: d.rpm_sourcerpm,
        rpm_header_start: d.rpm_header_start,
        rpm_header_end: d.rpm_header_end,
        provides: from_pulp(d.provides),
        requires: from_pulp(d.requires),
        conflicts: from_pulp(d.conflicts),
        obsoletes: from_pulp(d.obsoletes),
        suggests: from_pulp(d.suggests),
        enhances: from_pulp(d.enhances),
        recommends: from_pulp(d.recommends),
        supplements: from_pulp(d.supplements),
        primary_files: Vec::new(),
        files: Vec::new(),
        changelogs: Vec::new(),
    })
}

/// The SHA-256 (hex) of a value's canonical JSON: the content digest in
/// the natural keys of advisories and comps units.
fn digest<T: Serialize>(value: &T) -> String {
    Sha256Digest::of(&serde_json::to_vec(value).unwrap_or_default()).to_hex()
}

/// An advisory package as Pulp lists it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AdvisoryPackageData {
    name: String,
    epoch: String,
    version: String,
    release: String,
    arch: String,
    src: String,
    filename: String,
    sum: String,
    sum_type: String,
    reboot_suggested: bool,
    restart_suggested: bool,
    relogin_suggested: bool,
}

/// An advisory collection as Pulp lists it (`pkglist`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CollectionData {
    name: String,
    shortname: String,
    module: Option<AdvisoryModule>,
    packages: Vec<AdvisoryPackageData>,
}

/// An advisory reference as Pulp lists it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ReferenceData {
    href: String,
    ref_id: String,
    title: String,
    ref_type: String,
}

/// The JSON of an advisory record, under Pulp's field names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AdvisoryData {
    id: String,
    #[serde(rename = "type")]
    advisory_type: String,
    status: String,
    version: String,
    fromstr: String,
    title: String,
    issued_date: String,
    updated_date: String,
    rights: String,
    release: String,
    pushcount: String,
    severity: String,
    summary: String,
    description: String,
    solution: String,
    reboot_suggested: bool,
    references: Vec<ReferenceData>,
    pkglist: Vec<CollectionData>,
    digest: String,
}

/// The record of an advisory.
pub fn advisory_record(a: &Advisory) -> ContentRecord {
    let digest = digest(a);
    let data = AdvisoryData {
        id: a.id.clone(),
        advisory_type: a.advisory_type.clone(),
        status: a.status.clone(),
        version: a.version.clone(),
        fromstr: a.from.clone(),
        title: a.title.clone(),
        issued_date: a.issued.clone(),
        updated_date: a.updated.clone(),
        rights: a.rights.clone(),
        release: a.release.clone(),
        pushcount: a.pushcount.clone(),
        severity: a.severity.clone(),
        summary: a.summary.clone(),
        description: a.description.clone(),
        solution: a.solution.clone(),
        reboot_suggested: a.reboot_suggested,
        references: a
            .references
            .iter()
            .map(|r| ReferenceData {
                href: r.href.clone(),
                ref_id: r.id.clone(),
                title: r.title.clone(),
                ref_type: r.ref_type.clone(),
            })
            .collect(),
        pkglist: a
            .collections
            .iter()
            .map(|c| CollectionData {
                name: c.name.clone(),
                shortname: c.short.clone(),
                module: c.module.clone(),
                packages: c
                    .packages
                    .iter()
                    .map(|p| AdvisoryPackageData {
                        name: p.name.clone(),
                        epoch: p.epoch.clone(),
                        version: p.version.clone(),
                        release: p.release.clone(),
                        arch: p.arch.clone(),
                        src: p.src.clone(),
                        filename: p.filename.clone(),
                        sum: p.sum.clone(),
                        sum_type: p.sum_type.clone(),
                        reboot_suggested: p.reboot_suggested,
                        restart_suggested: p.restart_suggested,
                        relogin_suggested: p.relogin_suggested,
                    })
                    .collect(),
            })
            .collect(),
        digest: digest.clone(),
    };
    let mut indexes = vec![
        ("id".to_owned(), a.id.clone()),
        ("type".to_owned(), a.advisory_type.clone()),
        ("status".to_owned(), a.status.clone()),
    ];
    if !a.severity.is_empty() {
        indexes.push(("severity".to_owned(), a.severity.clone()));
    }
    ContentRecord {
        r#ref: ContentRef::derive(ContentType::Advisory, &format!("{}\0{digest}", a.id)),
        created: Utc::now(),
        artifact: None,
        blobs: Vec::new(),
        source: None,
        indexes,
        data: serde_json::to_value(data).unwrap_or(Value::Null),
    }
}

/// An advisory record read back.
pub fn advisory_of(record: &ContentRecord) -> Option<Advisory> {
    if record.r#ref.kind != ContentType::Advisory {
        return None;
    }
    let d = AdvisoryData::deserialize(&record.data).ok()?;
    Some(Advisory {
        id: d.id,
        advisory_type: d.advisory_type,
        status: d.status,
        version: d.version,
        from: d.fromstr,
        title: d.title,
        issued: d.issued_date,
        updated: d.updated_date,
        rights: d.rights,
        release: d.release,
        pushcount: d.pushcount,
        severity: d.severity,
        summary: d.summary,
        description: d.description,
        solution: d.solution,
        reboot_suggested: d.reboot_suggested,
        references: d
            .references
            .into_iter()
            .map(|r| AdvisoryReference {
                href: r.href,
                id: r.ref_id,
                ref_type: r.ref_type,
                title: r.title,
            })
            .collect(),
        collections: d
            .pkglist
            .into_iter()
            .map(|c| AdvisoryCollection {
                short: c.shortname,
                name: c.name,
                module: c.module,
                packages: c
                    .packages
                    .into_iter()
                    .map(|p| AdvisoryPackage {
                        name: p.name,
                        epoch: p.epoch,
                        version: p.version,
                        release: p.release,
                        arch: p.arch,
                        src: p.src,
                        filename: p.filename,
                        sum: p.sum,
                        sum_type: p.sum_type,
                        reboot_suggested: p.reboot_suggested,
                        restart_suggested: p.restart_suggested,
                        relogin_suggested: p.relogin_suggested,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// A comps unit's record: its model as JSON plus `digest`, indexed by `id`.
fn comps_record<T: Serialize>(kind: ContentType, id: Option<&str>, unit: &T) -> ContentRecord {
    let digest = digest(unit);
    let mut data = serde_json::to_value(unit).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut data {
        map.insert("digest".to_owned(), json!(digest));
    }
    let key = match id {
        Some(id) => format!("{id}\0{digest}"),
        None => digest,
    };
    ContentRecord {
        r#ref: ContentRef::derive(kind, &key),
        created: Utc::now(),
        artifact: None,
        blobs: Vec::new(),
        source: None,
        indexes: id
            .map(|id| vec![("id".to_owned(), id.to_owned())])
            .unwrap_or_default(),
        data,
    }
}

/// The records of a comps document: one per group, category and
/// environment, and one for all its langpacks (if any).
pub fn comps_records(comps: &Comps) -> Vec<ContentRecord> {
    let mut out = Vec::new();
    for g in &comps.groups {
        out.push(comps_record(ContentType::PackageGroup, Some(&g.id), g));
    }
    for c in &comps.categories {
        out.push(comps_record(ContentType::PackageCategory, Some(&c.id), c));
    }
    for e in &comps.environments {
        out.push(comps_record(
            ContentType::PackageEnvironment,
            Some(&e.id),
            e,
        ));
    }
    if !comps.langpacks.is_empty() {
        out.push(comps_record(
            ContentType::PackageLangpacks,
            None,
            &json!({"matches": comps.langpacks}),
        ));
    }
    out
}

/// Adds a comps record back into a comps document; false if the record is
/// not a comps unit or does not read back.
pub fn add_to_comps(comps: &mut Comps, record: &ContentRecord) -> bool {
    let data = record.data.clone();
    match record.r#ref.kind {
        ContentType::PackageGroup => serde_json::from_value::<Group>(data)
            .map(|g| comps.groups.push(g))
            .is_ok(),
        ContentType::PackageCategory => serde_json::from_value::<Category>(data)
            .map(|c| comps.categories.push(c))
            .is_ok(),
        ContentType::PackageEnvironment => serde_json::from_value::<Environment>(data)
            .map(|e| comps.environments.push(e))
            .is_ok(),
        ContentType::PackageLangpacks => data
            .get("matches")
            .cloned()
            .and_then(|m| serde_json::from_value::<Vec<Langpack>>(m).ok())
            .map(|l| comps.langpacks.extend(l))
            .is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::rpm::model::FileKind;

    fn package() -> Package {
        Package {
            name: "a".into(),
            epoch: "1".into(),
            version: "2.0".into(),
            release: "3".into(),
            arch: "noarch".into(),
            pkg_id: "ab".repeat(32),
            checksum_type: "sha256".into(),
            summary: "s".into(),
            location_href: "Packages/a/a-2.0-3.noarch.rpm".into(),
            requires: vec![Dependency {
                name: "b".into(),
                flags: Some("GE".into()),
                epoch: Some("0".into()),
                ver: Some("1".into()),
                rel: None,
                pre: true,
            }],
            files: vec![FileEntry {
                kind: FileKind::File,
                path: "/usr/bin/a".into(),
            }],
            ..Package::default()
        }
    }

    #[test]
    fn packages_round_trip_without_their_blob() {
        let p = package();
        let r = package_record(&p, PackageParts::default());
        assert_eq!(r.r#ref, package_ref(&p));
        assert_eq!(r.data["pkgId"], p.pkg_id);
        assert_eq!(r.data["sha256"], p.pkg_id, "sha256 packages know it");
        assert_eq!(
            r.data["requires"][0],
            json!(["b", "GE", "0", "1", null, true])
        );
        assert!(r.indexes.contains(&("name".into(), "a".into())));
        let back = package_of(&r).unwrap();
        assert_eq!(
            back,
            Package {
                files: Vec::new(),
                ..p.clone()
            }
        );
        let blob = PackageBlob::of(&p);
        assert_eq!(PackageBlob::from_bytes(&blob.to_bytes()).unwrap(), blob);
    }

    #[test]
    fn refs_follow_the_natural_key() {
        let p = package();
        let mut q = p.clone();
        q.location_href = "elsewhere.rpm".into();
        assert_eq!(package_ref(&p), package_ref(&q), "location is not identity");
        q.pkg_id = "cd".repeat(32);
        assert_ne!(package_ref(&p), package_ref(&q));
    }

    #[test]
    fn advisories_round_trip_and_change_id_with_content() {
        let a = Advisory {
            id: "FX-1".into(),
            advisory_type: "security".into(),
            severity: "Low".into(),
            collections: vec![AdvisoryCollection {
                name: "c".into(),
                packages: vec![AdvisoryPackage {
                    name: "a".into(),
                    filename: "a.rpm".into(),
                    ..AdvisoryPackage::default()
                }],
                ..AdvisoryCollection::default()
            }],
            ..Advisory::default()
        };
        let r = advisory_record(&a);
        assert_eq!(r.data["type"], "security");
        assert_eq!(advisory_of(&r).unwrap(), a);
        let mut b = a.clone();
        b.title = "changed".into();
        assert_ne!(advisory_record(&b).r#ref, r.r#ref);
    }
}
