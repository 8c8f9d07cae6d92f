//! Repository tasks: add/remove content (a new version), and deletion.

use taskq::{TaskContext, TaskError, task};
use uuid::Uuid;

use super::{created, fail};
use crate::api::render;
use crate::catalog::model::{
    ContentRef, ContentType, Distribution, Plugin, Publication, Repository, RepositoryVersion,
};
use crate::catalog::{VersionChange, VersionDeletion, VersionRef};
use crate::services::Services;

/// Creates a new version of `repository`: its latest version (or
/// `base_version`) plus `add`, minus `remove` (or minus everything).
#[task(name = "core.modify", queue = "pulp", on_worker_lost = "fail")]
pub async fn modify(
    ctx: TaskContext<Services>,
    repository: Uuid,
    add: Vec<ContentRef>,
    remove: Vec<ContentRef>,
    remove_all: bool,
    base_version: Option<u64>,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let repo: Repository = s.catalog.require(&repository).await.map_err(fail)?;
    let latest = s.catalog.latest_version(&repo.id).await.map_err(fail)?;
    let base = base_version.unwrap_or(latest);
    let base_key = s
        .catalog
        .version_content_key(VersionRef {
            repository: repo.id,
            number: base,
        })
        .await
        .map_err(|_| TaskError::fail(format!("version {base} of the repository does not exist")))?;
    let mut target: std::collections::BTreeSet<ContentRef> = std::collections::BTreeSet::new();
    if !remove_all {
        for kind in ContentType::ALL {
            target.extend(s.catalog.refs_in(&base_key, kind).await.map_err(fail)?);
        }
    }
    for r in &remove {
        target.remove(r);
    }
    target.extend(add.iter().copied());
    let change = VersionChange {
        add: target.into_iter().collect(),
        remove: Vec::new(),
        replace: true,
        base_version: base_version.filter(|b| *b != latest),
    };
    let version = commit(s, &repo, latest, &change).await?;
    match version {
        Some(v) => {
            let href = render::version_href(repo.plugin, &repo.id, v.number);
            created(&ctx, vec![href], Some(render::version(&v))).await
        }
        None => created(&ctx, Vec::new(), None).await,
    }
}

/// Commits a change and applies the repository's retention policies
/// (`retain_package_versions`, `retain_repo_versions`) and autopublish.
pub(crate) async fn commit(
    s: &Services,
    repo: &Repository,
    latest: u64,
    change: &VersionChange,
) -> Result<Option<RepositoryVersion>, TaskError> {
    let retained;
    let change = match repo.rpm.as_ref().map(|r| r.retain_package_versions) {
        Some(keep) if keep > 0 => {
            retained = crate::plugins::rpm::retention::apply(s, repo, latest, keep, change).await?;
            &retained
        }
        _ => change,
    };
    let version = s
        .catalog
        .commit_version(repo, latest, change)
        .await
        .map_err(fail)?;
    if version.is_some() {
        apply_retention(s, repo).await?;
    }
    if let Some(v) = &version
        && repo.autopublish
    {
        match repo.plugin {
            Plugin::File => {
                let manifest = repo
                    .manifest
                    .clone()
                    .unwrap_or_else(|| "PULP_MANIFEST".to_owned());
                crate::plugins::file::publish::publish(s, repo, v.number, &manifest).await?;
            }
            Plugin::Rpm => {
                let options = crate::plugins::rpm::publish::default_options(repo);
                crate::plugins::rpm::publish::publish(s, repo, v.number, &options, None).await?;
            }
            Plugin::Puppet => {
                crate::plugins::puppet::publish::publish(s, repo, v.number).await?;
            }
        }
    }
    Ok(version)
}

/// Deletes a repository, its versions and its publications; distributions
/// that served it stop serving it.
#[task(
    name = "core.delete_repository",
    queue = "pulp",
    on_worker_lost = "fail"
)]
pub async fn delete_repository(
    ctx: TaskContext<Services>,
    repository: Uuid,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let Some(repo) = s
        .catalog
        .get::<Repository>(&repository)
        .await
        .map_err(fail)?
    else {
        return Ok(());
    };
    let publications = s
        .catalog
        .repository_publications(&repo.id)
        .await
        .map_err(fail)?;
    withdraw(s, &repo, &publications, |d| {
        d.repository == Some(repo.id) || d.repository_version.is_some_and(|(r, _)| r == repo.id)
    })
    .await?;
    s.catalog.delete_repository(&repo).await.map_err(fail)?;
    created(&ctx, Vec::new(), None).await
}

/// Deletes version `number` of a repository, as Pulp does: its
/// publications go, distributions pinned to it stop serving it, and its
/// changes fold into the next version so no other version changes.
#[task(name = "core.delete_version", queue = "pulp", on_worker_lost = "fail")]
pub async fn delete_version(
    ctx: TaskContext<Services>,
    repository: Uuid,
    number: u64,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let Some(repo) = s
        .catalog
        .get::<Repository>(&repository)
        .await
        .map_err(fail)?
    else {
        return Ok(());
    };
    let numbers = s
        .catalog
        .all_version_numbers(&repo.id)
        .await
        .map_err(fail)?;
    if !numbers.contains(&number) {
        return created(&ctx, Vec::new(), None).await;
    }
    if numbers.len() <= 1 {
        return Err(TaskError::fail(ONLY_VERSION));
    }
    remove_versions(s, &repo, &[number]).await?;
    created(&ctx, Vec::new(), None).await
}

const ONLY_VERSION: &str =
    "Cannot delete repository version. Repositories must have at least one repository version.";

/// Deletes the oldest versions beyond the repository's `retain_repo_versions`.
async fn apply_retention(s: &Services, repo: &Repository) -> Result<(), TaskError> {
    let Some(keep) = repo.retain_repo_versions else {
        return Ok(());
    };
    let numbers = s
        .catalog
        .all_version_numbers(&repo.id)
        .await
        .map_err(fail)?;
    let excess = numbers.len().saturating_sub(keep.max(1) as usize);
    if excess > 0 {
        remove_versions(s, repo, &numbers[..excess]).await?;
    }
    Ok(())
}

/// Deletes versions (never the only one) with their publications.
async fn remove_versions(
    s: &Services,
    repo: &Repository,
    numbers: &[u64],
) -> Result<(), TaskError> {
    let publications: Vec<Publication> = s
        .catalog
        .repository_publications(&repo.id)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|p| numbers.contains(&p.version))
        .collect();
    withdraw(s, repo, &publications, |d| {
        d.repository_version
            .is_some_and(|(r, n)| r == repo.id && numbers.contains(&n))
    })
    .await?;
    for n in numbers {
        match s.catalog.delete_version(&repo.id, *n).await.map_err(fail)? {
            VersionDeletion::OnlyVersion => return Err(TaskError::fail(ONLY_VERSION)),
            VersionDeletion::Deleted | VersionDeletion::Missing => {}
        }
    }
    Ok(())
}

/// Stops distributions from serving `publications` (or anything else
/// `serves` says they serve of the repository), then deletes the
/// publications and their files.
async fn withdraw(
    s: &Services,
    repo: &Repository,
    publications: &[Publication],
    serves: impl Fn(&Distribution) -> bool,
) -> Result<(), TaskError> {
    let pub_ids: Vec<Uuid> = publications.iter().map(|p| p.id).collect();
    for mut d in s
        .catalog
        .load_all::<Distribution>(repo.plugin)
        .await
        .map_err(fail)?
    {
        if serves(&d) || d.publication.is_some_and(|p| pub_ids.contains(&p)) {
            let old = d.clone();
            if serves(&d) {
                d.repository = None;
                d.repository_version = None;
            }
            if d.publication.is_some_and(|p| pub_ids.contains(&p)) {
                d.publication = None;
            }
            s.catalog
                .save_distribution(Some(&old), &d)
                .await
                .map_err(fail)?;
        }
    }
    for p in publications {
        s.catalog.delete_publication(p).await.map_err(fail)?;
        super::publish::remove_publication_files(s, &p.id).await;
    }
    Ok(())
}
