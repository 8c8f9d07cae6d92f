//! yum metadata test helpers: the ground truth make_rpm_repo.sh writes, and
//! a full parse of a repository into packages with files and changelogs.

use std::collections::HashMap;
use std::path::Path;

use pulp_app::plugins::rpm::metadata::{
    Advisory, Comps, FilelistsReader, Limits, MetadataError, OtherReader, PrimaryReader, RepoMd,
    UpdateInfoReader,
};
use pulp_app::plugins::rpm::model::Package;

/// One row of fixture-packages.tsv.
#[derive(Debug, Clone)]
pub struct Truth {
    pub name: String,
    pub epoch: String,
    pub version: String,
    pub release: String,
    pub arch: String,
    pub location: String,
    pub sha256: String,
    pub size: u64,
    pub requires: Vec<String>,
    pub provides: Vec<String>,
}

pub fn ground_truth(repo: &Path) -> Vec<Truth> {
    let text = std::fs::read_to_string(repo.join("fixture-packages.tsv")).expect("read tsv");
    let split = |s: &str| -> Vec<String> {
        s.split(';')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    };
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert!(f.len() >= 8, "bad tsv line {line:?}");
            Truth {
                name: f[0].into(),
                epoch: f[1].into(),
                version: f[2].into(),
                release: f[3].into(),
                arch: f[4].into(),
                location: f[5].into(),
                sha256: f[6].into(),
                size: f[7].parse().expect("size"),
                requires: split(f.get(8).copied().unwrap_or("")),
                provides: split(f.get(9).copied().unwrap_or("")),
            }
        })
        .collect()
}

/// Everything a repository's metadata says.
pub struct Parsed {
    pub repomd: RepoMd,
    pub packages: Vec<Package>,
    pub advisories: Vec<Advisory>,
    pub comps: Option<Comps>,
}

/// Parse and verify primary, filelists, other, updateinfo and group of the
/// repository at `root`, joining files and changelogs into the packages.
pub fn parse_repo(root: &Path) -> Result<Parsed, MetadataError> {
    let limits = Limits::default();
    let repomd_bytes = std::fs::read(root.join("repodata/repomd.xml")).expect("read repomd");
    let repomd = RepoMd::parse(&repomd_bytes[..])?;
    let record = |t: &str| {
        repomd
            .record(t)
            .unwrap_or_else(|| panic!("no {t} record"))
            .clone()
    };
    let primary = record("primary");
    let mut packages = Vec::new();
    let mut reader = PrimaryReader::with_options(
        primary.open_in(root, &limits)?,
        &primary.location_href,
        &limits,
    )?;
    let declared = reader.declared_count();
    for pkg in &mut reader {
        packages.push(pkg?);
    }
    assert_eq!(declared, Some(packages.len() as u64), "packages= attribute");
    let index: HashMap<String, usize> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pkg_id.clone(), i))
        .collect();
    let filelists = record("filelists");
    for entry in FilelistsReader::with_options(
        filelists.open_in(root, &limits)?,
        &filelists.location_href,
        &limits,
    )? {
        let entry = entry?;
        let pkg = &mut packages[index[&entry.pkg_id]];
        assert_eq!(entry.nevra, pkg.nevra());
        pkg.files = entry.files;
    }
    let other = record("other");
    for entry in
        OtherReader::with_options(other.open_in(root, &limits)?, &other.location_href, &limits)?
    {
        let entry = entry?;
        let pkg = &mut packages[index[&entry.pkg_id]];
        assert_eq!(entry.nevra, pkg.nevra());
        pkg.changelogs = entry.changelogs;
    }
    let advisories = match repomd.record("updateinfo") {
        None => Vec::new(),
        Some(r) => {
            UpdateInfoReader::with_options(r.open_in(root, &limits)?, &r.location_href, &limits)?
                .collect::<Result<_, _>>()?
        }
    };
    let comps = match repomd.record("group") {
        None => None,
        Some(r) => Some(Comps::parse_with(
            r.open_in(root, &limits)?,
            &r.location_href,
            &limits,
        )?),
    };
    Ok(Parsed {
        repomd,
        packages,
        advisories,
        comps,
    })
}
