//! `retain_package_versions`: a repository keeps only the newest N versions
//! of each package (by name and architecture), as pulp_rpm does for every
//! new repository version.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use taskq::TaskError;

use super::content::package_of;
use super::model::Nevra;
use super::rpmfile::rpmvercmp;
use crate::catalog::VersionChange;
use crate::catalog::model::{ContentRef, ContentType, Repository};
use crate::services::Services;
use crate::tasks::fail;

/// Orders two packages of one name by epoch, version and release, as rpm
/// does (a missing epoch is 0).
pub fn evr_cmp(a: &Nevra, b: &Nevra) -> Ordering {
    let epoch = |e: &str| {
        if e.is_empty() {
            "0".to_owned()
        } else {
            e.to_owned()
        }
    };
    rpmvercmp(&epoch(&a.epoch), &epoch(&b.epoch))
        .then_with(|| rpmvercmp(&a.version, &b.version))
        .then_with(|| rpmvercmp(&a.release, &b.release))
}

/// Rewrites `change` (to be applied on version `latest`) so the version it
/// makes keeps at most `keep` versions of each package: older ones are
/// neither added nor kept.
///
/// # Errors
/// Catalog errors.
pub async fn apply(
    s: &Services,
    repo: &Repository,
    latest: u64,
    keep: u64,
    change: &VersionChange,
) -> Result<VersionChange, TaskError> {
    // The packages the new version would hold.
    let mut packages: BTreeSet<ContentRef> = BTreeSet::new();
    if !change.replace {
        let content = s
            .catalog
            .version_content_key(crate::catalog::VersionRef {
                repository: repo.id,
                number: latest,
            })
            .await
            .map_err(fail)?;
        packages.extend(
            s.catalog
                .refs_in(&content, ContentType::Package)
                .await
                .map_err(fail)?,
        );
        for r in &change.remove {
            packages.remove(r);
        }
    }
    packages.extend(
        change
            .add
            .iter()
            .filter(|r| r.kind == ContentType::Package)
            .copied(),
    );
    let refs: Vec<ContentRef> = packages.into_iter().collect();
    let mut groups: BTreeMap<(String, String), Vec<(Nevra, ContentRef)>> = BTreeMap::new();
    for chunk in refs.chunks(1000) {
        for record in s.catalog.content(chunk).await.map_err(fail)? {
            if let Some(p) = package_of(&record) {
                let n = p.nevra();
                groups
                    .entry((n.name.clone(), n.arch.clone()))
                    .or_default()
                    .push((n, record.r#ref));
            }
        }
    }
    let mut dropped: HashSet<ContentRef> = HashSet::new();
    for versions in groups.values_mut() {
        if versions.len() as u64 <= keep {
            continue;
        }
        versions.sort_by(|a, b| evr_cmp(&b.0, &a.0));
        dropped.extend(versions.iter().skip(keep as usize).map(|(_, r)| *r));
    }
    let mut out = change.clone();
    if dropped.is_empty() {
        return Ok(out);
    }
    out.add.retain(|r| !dropped.contains(r));
    if !out.replace {
        out.remove.extend(dropped);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nevra(epoch: &str, version: &str, release: &str) -> Nevra {
        Nevra {
            name: "p".into(),
            epoch: epoch.into(),
            version: version.into(),
            release: release.into(),
            arch: "noarch".into(),
        }
    }

    #[test]
    fn epoch_then_version_then_release() {
        assert_eq!(
            evr_cmp(&nevra("1", "1.0", "1"), &nevra("0", "9.0", "9")),
            Ordering::Greater
        );
        assert_eq!(
            evr_cmp(&nevra("", "1.10", "1"), &nevra("0", "1.9", "1")),
            Ordering::Greater
        );
        assert_eq!(
            evr_cmp(&nevra("0", "1.0", "2"), &nevra("", "1.0", "10")),
            Ordering::Less
        );
        assert_eq!(
            evr_cmp(&nevra("", "1.0", "1"), &nevra("0", "1.0", "1")),
            Ordering::Equal
        );
    }
}
