//! Syncing an rpm repository (work in progress in this tree).

use taskq::TaskError;
use uuid::Uuid;

use crate::tasks::Ctx;
use crate::tasks::sync::SyncOptions;

/// Runs an rpm sync.
///
/// # Errors
/// Always, for now.
pub async fn run(
    _ctx: &Ctx,
    _repository: Uuid,
    _remote: Uuid,
    _options: &SyncOptions,
) -> Result<(), TaskError> {
    Err(TaskError::fail("rpm sync: not yet"))
}
