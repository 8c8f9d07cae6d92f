//! rpm copy: adds content of one repository version to other repositories.

use serde::{Deserialize, Serialize};
use taskq::{TaskContext, TaskError, task};
use uuid::Uuid;

use super::{created, fail};
use crate::api::render;
use crate::catalog::model::{ContentRef, ContentType, Repository};
use crate::catalog::{VersionChange, VersionRef};
use crate::services::Services;

/// One source → destination pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyStep {
    /// Source repository.
    pub source: Uuid,
    /// Source version number.
    pub source_version: u64,
    /// Destination repository.
    pub dest: Uuid,
    /// Only these units (they must be in the source version); all if `None`.
    pub content: Option<Vec<ContentRef>>,
}

/// Copies content between rpm repositories, one new version per destination.
#[task(name = "rpm.copy", queue = "pulp", on_worker_lost = "fail")]
pub async fn copy_content(
    ctx: TaskContext<Services>,
    steps: Vec<CopyStep>,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let mut hrefs = Vec::new();
    let mut last = None;
    for step in steps {
        let key = s
            .catalog
            .version_content_key(VersionRef {
                repository: step.source,
                number: step.source_version,
            })
            .await
            .map_err(|_| TaskError::fail("the source repository version does not exist"))?;
        let mut present = Vec::new();
        for kind in ContentType::ALL {
            present.extend(s.catalog.refs_in(&key, kind).await.map_err(fail)?);
        }
        let selected: Vec<ContentRef> = match &step.content {
            Some(only) => {
                let set: std::collections::HashSet<&ContentRef> = present.iter().collect();
                if let Some(missing) = only.iter().find(|r| !set.contains(r)) {
                    return Err(TaskError::fail(format!(
                        "content {} is not in the source repository version",
                        render::content_href(missing.kind, &missing.id)
                    )));
                }
                only.clone()
            }
            None => present,
        };
        let dest: Repository = s.catalog.require(&step.dest).await.map_err(fail)?;
        let latest = s.catalog.latest_version(&dest.id).await.map_err(fail)?;
        let change = VersionChange {
            add: selected,
            ..Default::default()
        };
        if let Some(v) = super::repository::commit(s, &dest, latest, &change).await? {
            hrefs.push(render::version_href(dest.plugin, &dest.id, v.number));
            last = Some(render::version(&v));
        }
    }
    created(&ctx, hrefs, last).await
}
