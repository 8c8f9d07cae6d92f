//! Parsing a real createrepo_c repository (built by make_rpm_repo.sh with
//! rpmbuild, createrepo_c and modifyrepo_c) against its ground truth.

mod support;

use std::collections::HashMap;
use std::io::Read;

use pulp_app::checksum::{Checksum, ChecksumKind};
use pulp_app::plugins::rpm::metadata::{
    Limits, MetadataError, PrimaryReader, RepoMd, verify_reader,
};
use pulp_app::plugins::rpm::model::{Dependency, FileKind};
use support::{fixtures, metadata};

const N: usize = 200;

/// `name`, `name >= 1.0`, `name = 1:2-3` as fixture-packages.tsv spells them.
fn spellings(dep: &Dependency) -> Vec<String> {
    let Some(flags) = &dep.flags else {
        return vec![dep.name.clone()];
    };
    let op = match flags.as_str() {
        "EQ" => "=",
        "LT" => "<",
        "LE" => "<=",
        "GT" => ">",
        "GE" => ">=",
        other => panic!("unexpected flags {other}"),
    };
    let mut evr = dep.ver.clone().unwrap_or_default();
    if let Some(rel) = &dep.rel {
        evr = format!("{evr}-{rel}");
    }
    let mut out = vec![format!("{} {op} {evr}", dep.name)];
    if let Some(epoch) = &dep.epoch {
        out.push(format!("{} {op} {epoch}:{evr}", dep.name));
    }
    out
}

#[test]
fn every_fixture_package_is_found_with_the_right_fields() {
    let Some(repo) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let truth = metadata::ground_truth(&repo);
    assert_eq!(truth.len(), N);
    let parsed = metadata::parse_repo(&repo).expect("parse fixture repo");
    assert_eq!(parsed.packages.len(), N);
    let by_location: HashMap<&str, _> = parsed
        .packages
        .iter()
        .map(|p| (p.location_href.as_str(), p))
        .collect();
    for t in &truth {
        let p = by_location
            .get(t.location.as_str())
            .unwrap_or_else(|| panic!("{} missing from primary.xml", t.location));
        assert_eq!(
            (&p.name, &p.epoch, &p.version, &p.release, &p.arch),
            (&t.name, &t.epoch, &t.version, &t.release, &t.arch),
            "{}",
            t.location
        );
        assert_eq!(p.pkg_id, t.sha256, "{}", t.location);
        assert_eq!(p.checksum_type, "sha256");
        assert_eq!(p.size_package, t.size, "{}", t.location);
        let requires: Vec<Vec<String>> = p.requires.iter().map(spellings).collect();
        assert_eq!(requires.len(), t.requires.len(), "{} requires", t.location);
        for want in &t.requires {
            assert!(
                requires.iter().any(|s| s.contains(want)),
                "{}: requires {want:?} not in {requires:?}",
                t.location
            );
        }
        let provides: Vec<Vec<String>> = p.provides.iter().map(spellings).collect();
        for want in &t.provides {
            assert!(
                provides.iter().any(|s| s.contains(want)),
                "{}: provides {want:?} not in {provides:?}",
                t.location
            );
        }
        // rpm adds the self-provide `name = epoch:version-release`.
        assert!(
            p.provides.iter().any(|d| d.name == p.name
                && d.flags.as_deref() == Some("EQ")
                && d.ver.as_deref() == Some(p.version.as_str())),
            "{}: no self-provide",
            t.location
        );
        // Every fixture package has a data file, a README and a %dir.
        assert!(p.files.len() >= 3, "{}: files {:?}", t.location, p.files);
        assert!(p.files.iter().any(|f| f.kind == FileKind::Dir));
        assert_eq!(p.changelogs.len(), 2, "{}", t.location);
        assert!(p.changelogs[0].author.contains('<'), "author unescaped");
        assert!(p.time_build > 0 && p.rpm_header_end > p.rpm_header_start);
        assert!(!p.summary.is_empty() && !p.description.is_empty() && !p.rpm_license.is_empty());
    }
}

#[test]
fn updateinfo_and_comps_parse() {
    let Some(repo) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let parsed = metadata::parse_repo(&repo).expect("parse");
    // make_rpm_repo.sh: N/50 advisories (max 20), 1-4 packages each.
    assert_eq!(parsed.advisories.len(), N / 50);
    let source = std::fs::read_to_string(repo.join("updateinfo.xml")).unwrap();
    for advisory in &parsed.advisories {
        assert!(source.contains(&format!("<id>{}</id>", advisory.id)));
        assert!(!advisory.advisory_type.is_empty() && !advisory.severity.is_empty());
        assert_eq!(advisory.issued, "2024-01-01 00:00:00");
        assert!(!advisory.references.is_empty());
        let packages = &advisory.collections[0].packages;
        assert!((1..=4).contains(&packages.len()));
        for pkg in packages {
            assert!(pkg.filename.ends_with(".rpm") && pkg.sum.len() == 64);
            assert_eq!(pkg.sum_type, "sha256");
            let known = parsed.packages.iter().any(|p| p.pkg_id == pkg.sum);
            assert!(known, "advisory package {} not in the repo", pkg.filename);
        }
    }
    let comps = parsed.comps.expect("group record");
    assert_eq!(comps.groups.len(), 6);
    assert_eq!(comps.categories.len(), 1);
    assert_eq!(comps.environments.len(), 1);
    assert_eq!(comps.categories[0].group_ids.len(), 6);
    let names: Vec<&str> = parsed.packages.iter().map(|p| p.name.as_str()).collect();
    for group in &comps.groups {
        assert!(group.id.starts_with("fixture-group-") && group.uservisible);
        assert!(!group.packages.is_empty());
        for req in &group.packages {
            assert!(
                names.contains(&req.name.as_str()),
                "{} not in repo",
                req.name
            );
        }
    }
}

#[test]
fn repomd_checksums_verify() {
    let Some(repo) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let repomd = RepoMd::parse(&std::fs::read(repo.join("repodata/repomd.xml")).unwrap()[..])
        .expect("repomd");
    assert_eq!(repomd.revision, "1704067200");
    let types: Vec<&str> = repomd
        .records
        .iter()
        .map(|r| r.data_type.as_str())
        .collect();
    for t in [
        "primary",
        "filelists",
        "other",
        "group",
        "group_gz",
        "updateinfo",
        "primary_db",
    ] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }
    for record in &repomd.records {
        assert!(record.location_href.starts_with("repodata/"));
        assert_eq!(record.timestamp, Some(1704067200));
        // The stored file: checksum and size.
        let file = std::fs::File::open(repo.join(&record.location_href)).unwrap();
        let size = verify_reader(&record.location_href, file, &record.checksum, record.size)
            .unwrap_or_else(|e| panic!("{}: {e}", record.location_href));
        assert_eq!(Some(size), record.size);
        // The content: open-checksum and open-size, through the decompressor.
        if record.data_type.ends_with("_db") {
            assert_eq!(record.database_version, Some(10));
        }
        let mut reader = record.open_in(&repo, &Limits::default()).unwrap();
        let mut content = Vec::new();
        reader
            .read_to_end(&mut content)
            .map_err(|e| MetadataError::from_io(&record.location_href, e))
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(open_size) = record.open_size {
            assert_eq!(content.len() as u64, open_size);
        }
    }
}

#[test]
fn a_tampered_file_fails_verification_while_parsing() {
    let Some(repo) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let repomd =
        RepoMd::parse(&std::fs::read(repo.join("repodata/repomd.xml")).unwrap()[..]).unwrap();
    let mut record = repomd.record("primary").unwrap().clone();
    let bytes = std::fs::read(repo.join(&record.location_href)).unwrap();
    // A record that promises a different checksum: parsing must fail at the end.
    record.checksum = Checksum::new(ChecksumKind::Sha256, &"0".repeat(64)).unwrap();
    let input = record
        .open_verified(&bytes[..], &Limits::default())
        .unwrap();
    let result: Result<Vec<_>, _> =
        PrimaryReader::with_options(input, "primary", &Limits::default())
            .unwrap()
            .collect();
    match result {
        Err(MetadataError::ChecksumMismatch {
            file,
            expected,
            actual,
        }) => {
            assert_eq!(file, record.location_href);
            assert_eq!(expected, format!("sha256:{}", "0".repeat(64)));
            assert!(actual.starts_with("sha256:"));
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
}
