//! Content uploads: an uploaded file (already stored as an artifact by the
//! API) becomes a content unit, optionally added to a repository.

use taskq::{TaskContext, TaskError, task};
use uuid::Uuid;

use super::{created, fail};
use crate::api::render;
use crate::catalog::VersionChange;
use crate::catalog::model::Repository;
use crate::checksum::Sha256Digest;
use crate::services::Services;

/// Creates an rpm package from the stored artifact `artifact` (sha256) and,
/// with `repository`, adds it in a new version.
#[task(name = "rpm.upload", queue = "pulp", on_worker_lost = "fail")]
pub async fn rpm_upload(
    ctx: TaskContext<Services>,
    artifact: String,
    relative_path: Option<String>,
    repository: Option<Uuid>,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let digest = Sha256Digest::parse(&artifact).map_err(fail)?;
    let record = crate::plugins::rpm::upload::create_package(s, &digest, relative_path.as_deref())
        .await
        .map_err(|e| TaskError::fail(crate::plugins::rpm::report(&e)))?;
    let mut resources = vec![render::content_href(record.r#ref.kind, &record.r#ref.id)];
    if let Some(repo) = repository {
        let repo: Repository = s.catalog.require(&repo).await.map_err(fail)?;
        let latest = s.catalog.latest_version(&repo.id).await.map_err(fail)?;
        let change = VersionChange {
            add: vec![record.r#ref],
            ..Default::default()
        };
        if let Some(v) = super::repository::commit(s, &repo, latest, &change).await? {
            resources.push(render::version_href(repo.plugin, &repo.id, v.number));
        }
    }
    created(&ctx, resources, Some(render::content(&record))).await
}
