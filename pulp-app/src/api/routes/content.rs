//! Content listings per type, with Pulp's filters and true counts, and
//! reading one unit.

use axum::extract::State;
use axum::routing::get;
use uuid::Uuid;

use super::{fields, ok};
use crate::api::AppState;
use crate::api::error::{ApiError, ApiResult};
use crate::api::openapi::{Kind, Route};
use crate::api::params::{ApiPath, Params};
use crate::api::render::{self, parse_version_href, select_fields};
use crate::catalog::model::{ContentRef, ContentType, Plugin};
use crate::catalog::{ContentFilter, VersionRef};

/// The equality filters of each type: (query parameter, indexed field).
/// `<param>__in` variants are accepted for every one of them.
pub(crate) fn filters(kind: ContentType) -> &'static [(&'static str, &'static str)] {
    match kind {
        ContentType::File => &[("relative_path", "relative_path"), ("sha256", "sha256")],
        ContentType::Package => &[
            ("name", "name"),
            ("epoch", "epoch"),
            ("version", "version"),
            ("release", "release"),
            ("arch", "arch"),
            ("pkgId", "pkgId"),
            ("checksum_type", "checksum_type"),
            ("sha256", "sha256"),
            ("location_href", "location_href"),
        ],
        ContentType::Advisory => &[
            ("id", "id"),
            ("type", "type"),
            ("severity", "severity"),
            ("status", "status"),
        ],
        ContentType::PackageGroup
        | ContentType::PackageCategory
        | ContentType::PackageEnvironment => &[("id", "id")],
        ContentType::PackageLangpacks => &[],
        ContentType::PuppetModule => &[
            ("name", "name"),
            ("author", "author"),
            ("version", "version"),
            ("sha256", "sha256"),
            ("relative_path", "relative_path"),
        ],
    }
}

fn op_name(kind: ContentType) -> String {
    kind.href_path().replace('/', "_")
}

pub(super) fn routes() -> Vec<Route> {
    let mut out = Vec::new();
    for kind in ContentType::ALL {
        let list_path = format!("/pulp/api/v3/content/{}/", kind.href_path());
        let mut params: Vec<(String, Kind)> = vec![
            ("repository_version".into(), Kind::Str),
            ("repository_version_added".into(), Kind::Str),
            ("repository_version_removed".into(), Kind::Str),
            ("pulp_label_select".into(), Kind::Str),
        ];
        for (p, _) in filters(kind) {
            params.push(((*p).to_owned(), Kind::Str));
            params.push((format!("{p}__in"), Kind::CommaList));
        }
        let declared: Vec<(&str, Kind)> = params.iter().map(|(n, k)| (n.as_str(), *k)).collect();
        out.push(
            Route::new(
                "get",
                &list_path,
                &list_path,
                format!("content_{}_list", op_name(kind)),
                get(move |s, p| list(s, p, kind)),
            )
            .list(&declared),
        );
        let param = match kind {
            ContentType::File => "file_file_content_href".to_owned(),
            ContentType::Package => "rpm_package_href".to_owned(),
            ContentType::PuppetModule => "puppet_module_href".to_owned(),
            other => format!("rpm_{}_href", other.pulp_name().trim_start_matches("rpm.")),
        };
        out.push(
            Route::new(
                "get",
                format!("{{{param}}}"),
                format!("{list_path}{{id}}/"),
                format!("content_{}_read", op_name(kind)),
                get(move |s, id| read(s, id, kind)),
            )
            .path_param(param),
        );
    }
    out
}

/// Resolves a version href of any plugin.
fn version_ref(field: &str, href: &str) -> ApiResult<VersionRef> {
    Plugin::ALL
        .into_iter()
        .find_map(|p| parse_version_href(href, p))
        .map(|(repository, number)| VersionRef { repository, number })
        .ok_or_else(|| ApiError::field(field, "Invalid hyperlink - No URL match."))
}

async fn list(
    State(state): State<AppState>,
    params: Params,
    kind: ContentType,
) -> ApiResult<super::Json> {
    let (offset, limit) = params.page()?;
    let mut filter = ContentFilter::default();
    if let Some(h) = params.get("repository_version") {
        let v = version_ref("repository_version", h)?;
        let key = state.catalog.version_content_key(v).await.map_err(|_| {
            ApiError::field(
                "repository_version",
                "Invalid hyperlink - Object does not exist.",
            )
        })?;
        filter.within.push(key);
    }
    for (param, added) in [
        ("repository_version_added", true),
        ("repository_version_removed", false),
    ] {
        if let Some(h) = params.get(param) {
            let v = version_ref(param, h)?;
            filter.within.push(state.catalog.version_diff_key(v, added));
        }
    }
    for (param, field) in filters(kind) {
        let mut values = params.list(&format!("{param}__in"));
        values.extend(params.get(param).map(str::to_owned));
        if !values.is_empty() {
            filter.fields.push(((*field).to_owned(), values));
        }
    }
    let page = state
        .catalog
        .list_content(kind, &filter, offset, limit)
        .await?;
    let (sel, exclude) = fields(&params);
    let results = page
        .records
        .iter()
        .map(|c| select_fields(render::content(c), &sel, &exclude))
        .collect();
    Ok(ok(params.paginated(page.count, results)))
}

async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    kind: ContentType,
) -> ApiResult<super::Json> {
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found("Content"))?;
    let found = state.catalog.content(&[ContentRef { kind, id }]).await?;
    let c = found
        .into_iter()
        .find(|c| c.r#ref.kind == kind)
        .ok_or_else(|| ApiError::not_found("Content"))?;
    Ok(ok(render::content(&c)))
}
