//! `POST /pulp/api/v3/orphans/cleanup/`: removes content and artifacts that
//! no repository version uses.

use axum::Extension;
use axum::extract::State;
use axum::routing::post;

use super::repositories::content_refs;
use crate::api::AppState;
use crate::api::auth::User;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::Route;
use crate::api::params::Body;
use crate::tasks::dispatch::{Dispatch, ORPHANS, accepted, dispatch};
use crate::tasks::orphans::orphan_cleanup;

crate::api_model! {
    /// Options of an orphan cleanup.
    pub(crate) struct CleanupBody {
        orphan_protection_time: Option<u64>,
        content_hrefs: Option<Vec<String>>,
    }
}

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route::new(
            "post",
            "/pulp/api/v3/orphans/cleanup/",
            "/pulp/api/v3/orphans/cleanup/",
            "orphans_cleanup_cleanup",
            post(cleanup),
        )
        .body::<CleanupBody>()
        .responses(&[202]),
    ]
}

async fn cleanup(
    State(state): State<AppState>,
    Extension(user): Extension<User>,
    Body(body): Body<CleanupBody>,
) -> ApiResult<super::Json> {
    let minutes = body.orphan_protection_time.unwrap_or(1440);
    if minutes > 60 * 24 * 365 * 10 {
        return Err(ApiError::field("orphan_protection_time", "Too large."));
    }
    let only = match body.content_hrefs {
        Some(h) => Some(content_refs("content_hrefs", &h)?),
        None => None,
    };
    let call = orphan_cleanup::call(minutes, only).into_raw()?;
    let task = dispatch(
        &state,
        &user.0,
        Dispatch {
            name: "pulpcore.app.tasks.orphan.orphan_cleanup",
            call,
            exclusive: vec![ORPHANS.to_owned()],
            shared: vec![],
        },
    )
    .await?;
    Ok(accepted(&task))
}
