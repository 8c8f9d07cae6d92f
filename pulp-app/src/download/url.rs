//! Joining remote-supplied relative paths onto base URLs, safely.
//!
//! Relative paths come from hostile places (PULP_MANIFEST lines, `location
//! href`s in primary.xml), so they go through
//! [`safe_relative_path`](crate::relpath::safe_relative_path) first, which
//! refuses anything that could leave its base, both as a URL path and as a
//! path on disk (where publications write the same relative paths).

use reqwest::Url;

use super::error::DownloadError;
use crate::relpath::safe_relative_path;
use crate::text::clip;

/// Joins a relative path onto the URL of a manifest (Pulp's rule): the
/// directory of the manifest URL (everything up to the last `/` of its
/// path), then the relative path, percent-encoded. Query and fragment of the
/// base are dropped.
///
/// `http://h/repo/PULP_MANIFEST` + `isos/a b.iso` = `http://h/repo/isos/a%20b.iso`.
/// For a base that names a directory, give it a trailing slash, or use
/// [`join_dir_url`].
///
/// # Errors
///
/// [`DownloadError::UnsafePath`] for an unsafe relative path,
/// [`DownloadError::InvalidUrl`] / [`DownloadError::UnsupportedScheme`] for a
/// base that is not an http, https or file URL.
pub fn join_url(base_manifest_url: &str, relative_path: &str) -> Result<Url, DownloadError> {
    let relative = safe_relative_path(relative_path)?;
    let mut url = parse_url(base_manifest_url)?;
    let dir = match url.path().rfind('/') {
        Some(i) => url.path()[..=i].to_owned(),
        None => "/".to_owned(),
    };
    url.set_path(&format!("{dir}{}", percent_encode_path(relative)));
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Like [`join_url`], for a base URL that names a directory (a yum
/// repository's root): a missing trailing `/` is added first, so
/// `http://h/repo` + `repodata/repomd.xml` = `http://h/repo/repodata/repomd.xml`.
///
/// # Errors
///
/// As [`join_url`].
pub fn join_dir_url(base_dir_url: &str, relative_path: &str) -> Result<Url, DownloadError> {
    let mut base = parse_url(base_dir_url)?;
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    join_url(base.as_str(), relative_path)
}

/// Parses an absolute http, https or file URL.
pub(crate) fn parse_url(url: &str) -> Result<Url, DownloadError> {
    let parsed = Url::parse(url).map_err(|e| DownloadError::InvalidUrl {
        url: clip(url),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "http" | "https" | "file" if !parsed.cannot_be_a_base() => Ok(parsed),
        "http" | "https" | "file" => Err(DownloadError::InvalidUrl {
            url: clip(url),
            reason: "not a hierarchical URL".to_owned(),
        }),
        scheme => Err(DownloadError::UnsupportedScheme {
            url: clip(url),
            scheme: scheme.to_owned(),
        }),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`
/// (what Python's `urllib.parse.quote` does by default).
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_python_quote() {
        assert_eq!(
            percent_encode_path("a b,c/ü~^%.rpm"),
            "a%20b%2Cc/%C3%BC~%5E%25.rpm"
        );
    }
}
