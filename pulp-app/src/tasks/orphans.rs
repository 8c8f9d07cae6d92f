//! Orphan cleanup: removes content that no repository version uses and
//! artifacts that no content uses, older than a protection time (content a
//! running sync is about to use is younger than that).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use taskq::{TaskContext, TaskError, task};

use super::{Progress, created, fail};
use crate::catalog::model::{ContentRef, ContentType, Plugin, Repository};
use crate::checksum::Sha256Digest;
use crate::services::Services;

/// Removes orphaned content and artifacts older than `protection_minutes`.
/// With `only`, considers just those content units.
#[task(name = "core.orphan_cleanup", queue = "pulp", on_worker_lost = "fail")]
pub async fn orphan_cleanup(
    ctx: TaskContext<Services>,
    protection_minutes: u64,
    only: Option<Vec<ContentRef>>,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let mut progress = Progress::new(&ctx);
    let cutoff = Utc::now() - chrono::Duration::minutes(protection_minutes as i64);

    // Everything any version of any repository contains was added by some
    // version of it, so the union of the "added" sets is what is in use.
    let mut used: HashSet<ContentRef> = HashSet::new();
    for plugin in Plugin::ALL {
        for repo in s
            .catalog
            .load_all::<Repository>(plugin)
            .await
            .map_err(fail)?
        {
            let (_, numbers) = s
                .catalog
                .version_numbers(&repo.id, 0, usize::MAX / 2)
                .await
                .map_err(fail)?;
            for n in numbers {
                let key = s.catalog.version_diff_key(
                    crate::catalog::VersionRef {
                        repository: repo.id,
                        number: n,
                    },
                    true,
                );
                for kind in ContentType::ALL {
                    used.extend(s.catalog.refs_in(&key, kind).await.map_err(fail)?);
                }
            }
        }
    }
    let candidates = match only {
        Some(refs) => refs,
        None => s.catalog.all_content_refs().await.map_err(fail)?,
    };
    let unused: Vec<ContentRef> = candidates
        .into_iter()
        .filter(|r| !used.contains(r))
        .collect();
    let records = s.catalog.content(&unused).await.map_err(fail)?;
    let orphans: Vec<_> = records.into_iter().filter(|r| r.created < cutoff).collect();
    let removed_content = orphans.len() as u64;
    s.catalog.delete_content(&orphans).await.map_err(fail)?;
    progress
        .record(
            "clean-up.content",
            "Clean up orphan Content",
            removed_content,
            "completed",
        )
        .await;

    // Artifacts: in use if any remaining content needs them.
    let mut needed: HashSet<String> = HashSet::new();
    let all = s.catalog.all_content_refs().await.map_err(fail)?;
    for chunk in all.chunks(5000) {
        for r in s.catalog.content(chunk).await.map_err(fail)? {
            needed.extend(r.artifact);
            needed.extend(r.blobs);
        }
    }
    let protect = SystemTime::now() - Duration::from_secs(protection_minutes * 60);
    let mut removed_artifacts = 0u64;
    let mut list = s.store.list();
    while let Some(digest) = list.next().await {
        let digest: Sha256Digest = digest.map_err(fail)?;
        if needed.contains(&digest.to_hex()) {
            continue;
        }
        let old_enough = tokio::fs::metadata(s.store.path(&digest))
            .await
            .and_then(|m| m.modified())
            .is_ok_and(|t| t <= protect);
        if old_enough && s.store.delete(&digest).await.map_err(fail)? {
            removed_artifacts += 1;
        }
    }
    progress
        .record(
            "clean-up.artifacts",
            "Clean up orphan Artifacts",
            removed_artifacts,
            "completed",
        )
        .await;
    tracing::info!(
        content = removed_content,
        artifacts = removed_artifacts,
        "orphan cleanup done"
    );
    created(&ctx, Vec::new(), None).await
}
