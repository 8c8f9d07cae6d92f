//! Serving one file: headers as Pulp sends them, HEAD, single byte ranges;
//! fetching on-demand content on first request.

use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use uuid::Uuid;

use crate::catalog::model::{ContentRef, Distribution, Remote};
use crate::checksum::{Checksum, Sha256Digest};
use crate::services::Services;
use crate::storage::Expected;

/// The media type of a published file, by extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "rpm" => "application/x-rpm",
        "xml" => "text/xml",
        "gz" => "application/gzip",
        "bz2" => "application/x-bzip2",
        "xz" => "application/x-xz",
        "zst" => "application/zstd",
        "txt" => "text/plain",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "repo" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → inclusive range within `len`.
/// `Err(())` for an unsatisfiable range; `Ok(None)` to serve everything
/// (no header, or one we do not handle such as several ranges).
fn parse_range(h: Option<&HeaderValue>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        (false, _) => {
            let start: u64 = a.parse().map_err(|_| ())?;
            let end: u64 = if b.is_empty() {
                len.saturating_sub(1)
            } else {
                b.parse().map_err(|_| ())?
            };
            (start, end.min(len.saturating_sub(1)))
        }
        (true, false) => {
            let n: u64 = b.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (true, true) => return Err(()),
    };
    if len == 0 || range.0 > range.1 || range.0 >= len {
        return Err(());
    }
    Ok(Some(range))
}

/// Serves `path` (a regular file of a publication).
pub(super) async fn file(path: &Path, req: &HeaderMap, head: bool) -> Response {
    let Ok(mut f) = tokio::fs::File::open(path).await else {
        return super::not_found();
    };
    let Ok(meta) = f.metadata().await else {
        return super::not_found();
    };
    let len = meta.len();
    let mtime = meta
        .modified()
        .ok()
        .map(chrono::DateTime::<chrono::Utc>::from);
    let etag = format!(
        "\"{:x}-{:x}\"",
        mtime.map(|t| t.timestamp()).unwrap_or(0),
        len
    );
    let mut headers = HeaderMap::new();
    let mut set = |k: header::HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    set(header::CONTENT_TYPE, content_type(path).to_owned());
    set(header::ETAG, etag);
    set(header::ACCEPT_RANGES, "bytes".to_owned());
    set(
        header::CACHE_CONTROL,
        "public, max-age=0, must-revalidate".to_owned(),
    );
    if let Some(t) = mtime {
        set(
            header::LAST_MODIFIED,
            t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        );
    }
    set(
        header::HeaderName::from_static("x-pulp-artifact-size"),
        len.to_string(),
    );
    let (status, start, count) = match parse_range(req.get(header::RANGE), len) {
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((a, b))) => {
            set(header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}"));
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        Err(()) => {
            set(header::CONTENT_RANGE, format!("bytes */{len}"));
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response();
        }
    };
    set(header::CONTENT_LENGTH, count.to_string());
    if head {
        return (status, headers).into_response();
    }
    if start > 0 && f.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let body = Body::from_stream(ReaderStream::new(f.take(count)));
    (status, headers, body).into_response()
}

/// Fetches content that was published on demand, keeps it in the store and
/// places it in the publication. Returns `None` if `rel` is not on-demand
/// content of the publication or the download failed.
pub(super) async fn on_demand(
    s: &Services,
    publication: &Uuid,
    rel: &str,
    target: &Path,
) -> Option<()> {
    let index = crate::tasks::publish::on_demand_index(s, publication);
    let text = tokio::fs::read_to_string(&index).await.ok()?;
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).ok()?;
    let r: ContentRef = serde_json::from_value(map.get(rel)?.clone()).ok()?;
    let mut record = s.catalog.content(&[r]).await.ok()?.into_iter().next()?;
    let artifact = match &record.artifact {
        Some(sha) => Sha256Digest::parse(sha).ok()?,
        None => {
            let source = record.source.clone()?;
            let url = source.url.clone();
            let mut expected = Expected::default()
                .with_checksum(Checksum::parse(&source.checksum_type, &source.checksum).ok()?);
            if let Some(size) = source.size {
                expected = expected.with_size(size);
            }
            let downloader = match source.remote {
                Some(id) => match s.catalog.get::<Remote>(&id).await {
                    Ok(Some(remote)) => match s.remote_downloaders.get(&s.downloader, &remote) {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!(%url, error = %e, "the remote's settings cannot be used");
                            return None;
                        }
                    },
                    // Deleted: its settings are gone; the URL may still work.
                    Ok(None) => s.downloader.clone(),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the remote of on-demand content");
                        return None;
                    }
                },
                None => s.downloader.clone(),
            };
            let a = match downloader
                .download_to_store(&url, &expected, &s.store)
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(%url, error = %e, "on-demand download failed");
                    return None;
                }
            };
            record.artifact = Some(a.sha256.to_hex());
            if let Err(e) = s
                .catalog
                .replace_content(std::slice::from_ref(&record))
                .await
            {
                tracing::warn!(error = %e, "could not record the downloaded artifact");
            }
            a.sha256
        }
    };
    crate::tasks::publish::place(s.store.path(&artifact), target.to_path_buf())
        .await
        .ok()
}

/// `config.repo` for dnf (rpm distributions with `generate_repo_config`).
pub(super) fn repo_config(s: &Services, d: &Distribution) -> Response {
    let body = format!(
        "[{name}]\nname={name}\nenabled=1\nbaseurl={origin}/pulp/content/{bp}/\ngpgcheck=0\nrepo_gpgcheck=0\n",
        name = d.name,
        origin = s.settings.content_origin,
        bp = d.base_path
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(parse_range(Some(&h("bytes=0-9")), 100), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some(&h("bytes=90-")), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some(&h("bytes=-10")), 100), Ok(Some((90, 99))));
        assert_eq!(
            parse_range(Some(&h("bytes=95-200")), 100),
            Ok(Some((95, 99)))
        );
        assert_eq!(parse_range(Some(&h("bytes=100-")), 100), Err(()));
        assert_eq!(parse_range(Some(&h("bytes=5-1")), 100), Err(()));
        assert_eq!(parse_range(Some(&h("bytes=0-1,5-6")), 100), Ok(None));
        assert_eq!(parse_range(None, 100), Ok(None));
    }
}
