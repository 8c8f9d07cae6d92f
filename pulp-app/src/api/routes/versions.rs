//! `GET /pulp/api/v3/repository_versions/`: every version of every
//! repository, filtered by `number` and by the content a version contains
//! (`content`, `content__in`); the filters are shared with the versions of
//! one repository and with publications.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::routing::get;
use uuid::Uuid;

use super::repositories::content_refs;
use super::{fields, ok};
use crate::api::AppState;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::{Kind, Route};
use crate::api::params::Params;
use crate::api::render::{self, select_fields};
use crate::catalog::model::ContentRef;

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

/// The `number` filter.
pub(crate) fn number_filter(params: &Params) -> ApiResult<Option<u64>> {
    params
        .get("number")
        .map(|n| {
            n.parse::<u64>()
                .map_err(|_| ApiError::field("number", "Enter a whole number."))
        })
        .transpose()
}

/// The `content` / `content__in` filters: the content units a version must
/// contain (at least one of). `None` when neither is given.
pub(crate) fn content_filter(params: &Params) -> ApiResult<Option<Vec<ContentRef>>> {
    let mut hrefs = params.list("content__in");
    hrefs.extend(params.get("content").map(str::to_owned));
    if hrefs.is_empty() {
        return Ok(None);
    }
    let field = if params.get("content").is_some() {
        "content"
    } else {
        "content__in"
    };
    Ok(Some(content_refs(field, &hrefs)?))
}

/// Answers "does version `number` of `repository` contain one of the
/// units?" for many versions, one catalog query per repository.
#[derive(Debug)]
pub(crate) struct ContainsCache<'a> {
    state: &'a AppState,
    refs: Vec<ContentRef>,
    known: HashMap<Uuid, HashSet<u64>>,
}

impl<'a> ContainsCache<'a> {
    /// A cache for versions containing one of `refs`.
    pub(crate) fn new(state: &'a AppState, refs: Vec<ContentRef>) -> Self {
        ContainsCache {
            state,
            refs,
            known: HashMap::new(),
        }
    }

    /// Whether version `number` of `repository` contains one of the units.
    pub(crate) async fn contains(&mut self, repository: Uuid, number: u64) -> ApiResult<bool> {
        if !self.known.contains_key(&repository) {
            let numbers = self
                .state
                .catalog
                .versions_containing(&repository, &self.refs)
                .await?;
            self.known.insert(repository, numbers.into_iter().collect());
        }
        Ok(self.known[&repository].contains(&number))
    }
}

async fn list(State(state): State<AppState>, params: Params) -> ApiResult<super::Json> {
    let (offset, limit) = params.page()?;
    let number = number_filter(&params)?;
    let content = content_filter(&params)?;
    let (count, refs) = if number.is_none() && content.is_none() {
        state.catalog.all_version_refs(offset, limit).await?
    } else {
        let (_, all) = state.catalog.all_version_refs(0, usize::MAX / 2).await?;
        let mut cache = content.map(|c| ContainsCache::new(&state, c));
        let mut matching = Vec::new();
        for v in all {
            if number.is_some_and(|n| n != v.number) {
                continue;
            }
            if let Some(cache) = cache.as_mut()
                && !cache.contains(v.repository, v.number).await?
            {
                continue;
            }
            matching.push(v);
        }
        let count = matching.len() as u64;
        (
            count,
            matching.into_iter().skip(offset).take(limit).collect(),
        )
    };
    let (sel, exclude) = fields(&params);
    let mut results = Vec::with_capacity(refs.len());
    for v in refs {
        if let Some(v) = state.catalog.version(v).await? {
            results.push(select_fields(render::version(&v), &sel, &exclude));
        }
    }
    Ok(ok(params.paginated(count, results)))
}
