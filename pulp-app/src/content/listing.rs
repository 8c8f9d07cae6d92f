//! nginx-style "Index of" pages.

use std::path::Path;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One line of a listing.
#[derive(Debug)]
pub(super) struct Entry {
    name: String,
    modified: String,
    size: String,
}

impl Entry {
    pub(super) fn dir(name: String) -> Self {
        Entry {
            name,
            modified: String::new(),
            size: "-".to_owned(),
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `name` as a relative link: percent-encoded except for RFC 3986
/// unreserved characters and `/` (so `?`, `#`, `%`, spaces and quotes
/// cannot turn into a query, a fragment or a broken escape), and safe
/// inside a double-quoted HTML attribute.
fn href(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A listing page for `url_path`.
pub(super) fn page(url_path: &str, mut entries: Vec<Entry>) -> Response {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut body = format!(
        "<html>\n<head><title>Index of {0}</title></head>\n<body>\n<h1>Index of {0}</h1>\n<hr><pre><a href=\"../\">../</a>\n",
        escape(url_path)
    );
    for e in entries {
        body.push_str(&format!(
            "<a href=\"{}\">{}</a>{:>width$} {:>20}\n",
            href(&e.name),
            escape(&e.name),
            e.modified,
            e.size,
            width = 52usize.saturating_sub(e.name.len()).max(1) + e.modified.len()
        ));
    }
    body.push_str("</pre><hr></body>\n</html>\n");
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], body).into_response()
}

/// Lists a publication directory.
pub(super) async fn directory(dir: &Path, url_path: &str) -> Response {
    let Ok(mut rd) = tokio::fs::read_dir(dir).await else {
        return super::not_found();
    };
    let mut entries = Vec::new();
    while let Ok(Some(e)) = rd.next_entry().await {
        let Ok(meta) = e.metadata().await else {
            continue;
        };
        let name = e.file_name().to_string_lossy().into_owned();
        let modified = meta
            .modified()
            .ok()
            .map(chrono::DateTime::<chrono::Utc>::from)
            .map(|t| t.format("%d-%b-%Y %H:%M").to_string())
            .unwrap_or_default();
        if meta.is_dir() {
            entries.push(Entry {
                name: format!("{name}/"),
                modified,
                size: "-".to_owned(),
            });
        } else {
            entries.push(Entry {
                name,
                modified,
                size: meta.len().to_string(),
            });
        }
    }
    page(url_path, entries)
}
