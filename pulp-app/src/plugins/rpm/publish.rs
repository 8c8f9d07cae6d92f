//! Publishing an rpm repository version (work in progress in this tree).

use taskq::TaskError;
use uuid::Uuid;

use crate::catalog::model::{Publication, Repository};
use crate::services::Services;
use crate::tasks::Ctx;
use crate::tasks::publish::RpmPublishOptions;

/// Runs the rpm publish task.
///
/// # Errors
/// Always, for now.
pub async fn run(
    _ctx: &Ctx,
    _repository: Uuid,
    _version: u64,
    _options: &RpmPublishOptions,
) -> Result<(), TaskError> {
    Err(TaskError::fail("rpm publish: not yet"))
}

/// The publish options a repository's settings imply.
pub fn default_options(repo: &Repository) -> RpmPublishOptions {
    let s = repo.rpm.clone().unwrap_or_default();
    RpmPublishOptions {
        checksum_type: s.checksum_type.unwrap_or_else(|| "sha256".to_owned()),
        layout: s.layout,
        compression_type: s.compression_type.unwrap_or_else(|| "gz".to_owned()),
        repo_config: s.repo_config,
    }
}

/// Publishes a version.
///
/// # Errors
/// Always, for now.
pub async fn publish(
    _s: &Services,
    _repo: &Repository,
    _version: u64,
    _options: &RpmPublishOptions,
    _id: Option<Uuid>,
) -> Result<Publication, TaskError> {
    Err(TaskError::fail("rpm publish: not yet"))
}
