//! `GET /pulp/api/v3/repository_versions/`: every version of every repository.

use axum::extract::State;
use axum::routing::get;

use super::{fields, ok};
use crate::api::AppState;
use crate::api::error::ApiResult;
use crate::api::openapi::{Kind, Route};
use crate::api::params::Params;
use crate::api::render::{self, select_fields};

pub(super) fn routes() -> Vec<Route> {
    vec![
        Route::new(
            "get",
            "/pulp/api/v3/repository_versions/",
            "/pulp/api/v3/repository_versions/",
            "repository_versions_list",
            get(list),
        )
        .list(&[
            ("content", Kind::Str),
            ("content__in", Kind::CommaList),
            ("number", Kind::Int),
        ]),
    ]
}

async fn list(State(state): State<AppState>, params: Params) -> ApiResult<super::Json> {
    let (offset, limit) = params.page()?;
    let (count, refs) = state.catalog.all_version_refs(offset, limit).await?;
    let (sel, exclude) = fields(&params);
    let mut results = Vec::with_capacity(refs.len());
    for v in refs {
        if let Some(v) = state.catalog.version(v).await? {
            results.push(select_fields(render::version(&v), &sel, &exclude));
        }
    }
    Ok(ok(params.paginated(count, results)))
}
