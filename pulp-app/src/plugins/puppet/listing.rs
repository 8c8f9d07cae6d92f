//! What a Forge sends: pages of `GET <url>/v3/releases`, parsed and checked
//! before anything is downloaded.
//!
//! A page is `{"pagination": {"next": ...}, "results": [release, ...]}`.
//! Each release must have `metadata` with a valid `name` and `version`,
//! `file_uri`, `file_sha256` (64 hex) and `file_size`; a `slug` or
//! `version` beside them must agree with the metadata. URIs are resolved
//! against the remote's URL and must stay under it: `file_uri` as the Forge
//! writes it (`/v3/files/<file>`) or as an absolute URL under the remote's
//! URL, and `pagination.next` only to `/v3/releases` again (with its query),
//! so a hostile Forge cannot send the sync anywhere else.

use reqwest::Url;
use serde_json::Value;

use super::metadata::{ModuleMetadata, ModuleSlug, Version};
use crate::checksum::Sha256Digest;
use crate::download::join_dir_url;
use crate::text::clip;

/// Releases asked for per page (the Forge's maximum).
pub const PAGE_LIMIT: usize = 100;
/// Largest page accepted, in bytes.
pub const MAX_PAGE: u64 = 64 * 1024 * 1024;
/// Most releases one sync accepts.
pub const MAX_RELEASES: usize = 1_000_000;

/// One release the Forge lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The module.
    pub slug: ModuleSlug,
    /// Its version.
    pub version: Version,
    /// Where its tarball is (resolved, under the remote's URL).
    pub url: String,
    /// SHA-256 of the tarball.
    pub sha256: Sha256Digest,
    /// Size of the tarball.
    pub size: u64,
}

impl Release {
    /// `<author>-<name>-<version>`: how errors and progress name it.
    pub fn release_slug(&self) -> String {
        format!("{}-{}", self.slug, self.version)
    }

    /// `<author>-<name>-<version>.tar.gz`.
    pub fn relative_path(&self) -> String {
        format!("{}.tar.gz", self.release_slug())
    }
}

/// One page of releases.
#[derive(Debug, Clone)]
pub struct Page {
    /// Its releases.
    pub releases: Vec<Release>,
    /// The next page's URL (resolved), if any.
    pub next: Option<String>,
}

/// A page that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListingError {
    /// Not JSON, or not the shape of a release list.
    #[error("the Forge's release list {url} is not a v3 release list: {reason}")]
    Shape {
        /// The page.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// One release is wrong.
    #[error("release {release}: {reason}")]
    BadRelease {
        /// The release slug, or its position when it has none.
        release: String,
        /// What is wrong.
        reason: String,
    },
    /// A URI that leaves the remote's URL.
    #[error("{what} {uri:?} is not under the remote's URL {base}")]
    Foreign {
        /// `file_uri` or `pagination.next`.
        what: &'static str,
        /// The URI (clipped).
        uri: String,
        /// The remote's URL.
        base: String,
    },
    /// The remote's URL itself is not usable.
    #[error("the remote's URL {0:?} is not an http, https or file URL")]
    BadBase(String),
}

/// The URL of the first page: every release, or one module's.
///
/// # Errors
/// [`ListingError::BadBase`].
pub fn first_page(base: &str, module: Option<&ModuleSlug>) -> Result<String, ListingError> {
    let mut url = releases_url(base)?;
    let query = match module {
        Some(m) => format!("module={m}&limit={PAGE_LIMIT}&offset=0"),
        None => format!("limit={PAGE_LIMIT}&offset=0"),
    };
    url.set_query(Some(&query));
    Ok(url.to_string())
}

fn releases_url(base: &str) -> Result<Url, ListingError> {
    join_dir_url(base, "v3/releases").map_err(|_| ListingError::BadBase(clip(base)))
}

/// `base` with exactly one trailing slash.
fn dir(base: &str) -> String {
    format!("{}/", base.trim_end_matches('/'))
}

/// The path of `uri` relative to the remote's URL: `/v3/x` (relative to
/// the Forge's root, as the Forge writes URIs) or `<base>/v3/x`.
fn relative<'a>(base: &str, uri: &'a str, what: &'static str) -> Result<&'a str, ListingError> {
    let foreign = || ListingError::Foreign {
        what,
        uri: clip(uri),
        base: base.to_owned(),
    };
    if let Some(rest) = uri.strip_prefix('/')
        && !rest.starts_with('/')
    {
        return Ok(rest);
    }
    uri.strip_prefix(&dir(base)).ok_or_else(foreign)
}

/// Resolves a release's `file_uri` under the remote's URL.
fn file_url(base: &str, uri: &str) -> Result<String, ListingError> {
    let rel = relative(base, uri, "file_uri")?;
    let foreign = || ListingError::Foreign {
        what: "file_uri",
        uri: clip(uri),
        base: base.to_owned(),
    };
    if rel.contains(['?', '#', '%', '\\']) {
        return Err(foreign());
    }
    join_dir_url(base, rel)
        .map(|u| u.to_string())
        .map_err(|_| foreign())
}

/// Resolves `pagination.next`: only `/v3/releases` again, with its query.
fn next_url(base: &str, uri: &str) -> Result<String, ListingError> {
    let rel = relative(base, uri, "pagination.next")?;
    let (path, query) = rel.split_once('?').unwrap_or((rel, ""));
    if path != "v3/releases" || query.contains('#') {
        return Err(ListingError::Foreign {
            what: "pagination.next",
            uri: clip(uri),
            base: base.to_owned(),
        });
    }
    let mut url = releases_url(base)?;
    url.set_query(Some(query));
    Ok(url.to_string())
}

/// Parses one page fetched from `url` of the Forge at `base`.
///
/// # Errors
/// [`ListingError`] naming the first problem.
pub fn parse_page(base: &str, url: &str, bytes: &[u8]) -> Result<Page, ListingError> {
    let shape = |reason: &str| ListingError::Shape {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| shape(&e.to_string()))?;
    let results = doc
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("it has no \"results\" list"))?;
    let next = match doc.get("pagination").map(|p| p.get("next")) {
        None => return Err(shape("it has no \"pagination\"")),
        Some(None | Some(Value::Null)) => None,
        Some(Some(Value::String(n))) => Some(next_url(base, n)?),
        Some(Some(_)) => return Err(shape("pagination.next is not a string")),
    };
    let releases = results
        .iter()
        .enumerate()
        .map(|(i, r)| release(base, i, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { releases, next })
}

fn release(base: &str, index: usize, r: &Value) -> Result<Release, ListingError> {
    let named = |release: String| {
        move |reason: String| ListingError::BadRelease {
            release: release.clone(),
            reason,
        }
    };
    let position = named(format!("#{} of the page", index + 1));
    let metadata = r
        .get("metadata")
        .filter(|m| m.is_object())
        .ok_or_else(|| position("it has no metadata".to_owned()))?;
    let m = ModuleMetadata::from_value(metadata.clone()).map_err(|e| position(e.to_string()))?;
    let bad = named(m.release_slug());
    if let Some(slug) = r.get("slug")
        && slug.as_str() != Some(m.release_slug().as_str())
    {
        return Err(bad(format!(
            "its slug {} does not match its metadata",
            clip(&slug.to_string())
        )));
    }
    if let Some(v) = r.get("version")
        && v.as_str() != Some(m.version.as_str())
    {
        return Err(bad(format!(
            "its version {} does not match its metadata",
            clip(&v.to_string())
        )));
    }
    let text = |field: &str| {
        r.get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("it has no {field}")))
    };
    let sha256 =
        Sha256Digest::parse(text("file_sha256")?).map_err(|e| bad(format!("file_sha256: {e}")))?;
    let size = r
        .get("file_size")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("it has no file_size".to_owned()))?;
    let url = file_url(base, text("file_uri")?).map_err(|e| bad(e.to_string()))?;
    Ok(Release {
        slug: m.slug,
        version: m.version,
        url,
        sha256,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "http://forge.test/mirror";
    const D: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    fn entry(name: &str, version: &str, uri: &str) -> Value {
        json!({
            "slug": format!("{}-{version}", name.replace('/', "-")),
            "metadata": {"name": name, "version": version},
            "file_uri": uri, "file_sha256": D, "file_size": 10,
        })
    }

    #[allow(clippy::needless_pass_by_value)] // test helper: callers build the values inline
    fn page(results: Vec<Value>, next: Value) -> Vec<u8> {
        json!({"pagination": {"next": next}, "results": results})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn pages_resolve_under_the_remote() {
        assert_eq!(
            first_page(BASE, Some(&ModuleSlug::parse("acme-web").unwrap())).unwrap(),
            "http://forge.test/mirror/v3/releases?module=acme-web&limit=100&offset=0"
        );
        let p = parse_page(
            BASE,
            "u",
            &page(
                vec![
                    entry("acme/web", "1.0.0", "/v3/files/acme-web-1.0.0.tar.gz"),
                    entry(
                        "acme-db",
                        "2.0.0",
                        "http://forge.test/mirror/v3/files/acme-db-2.0.0.tar.gz",
                    ),
                ],
                json!("/v3/releases?limit=100&offset=100"),
            ),
        )
        .unwrap();
        assert_eq!(
            p.releases[0].url,
            "http://forge.test/mirror/v3/files/acme-web-1.0.0.tar.gz"
        );
        assert_eq!(p.releases[0].relative_path(), "acme-web-1.0.0.tar.gz");
        assert_eq!(
            p.releases[1].url,
            "http://forge.test/mirror/v3/files/acme-db-2.0.0.tar.gz"
        );
        assert_eq!(
            p.next.as_deref(),
            Some("http://forge.test/mirror/v3/releases?limit=100&offset=100")
        );
    }

    #[test]
    fn hostile_pages_are_refused_naming_the_release() {
        let cases = [
            (
                entry("acme-web", "1.0.0", "//evil.test/x.tar.gz"),
                "not under",
            ),
            (
                entry("acme-web", "1.0.0", "http://evil.test/x.tar.gz"),
                "not under",
            ),
            (
                entry("acme-web", "1.0.0", "/v3/files/../../etc/passwd"),
                "not under",
            ),
            (
                entry("../../etc-x", "1.0.0", "/v3/files/a.tar.gz"),
                "not a module name",
            ),
            (
                json!({"slug": "acme-web-9.9.9", "metadata": {"name": "acme-web", "version": "1.0.0"},
                       "file_uri": "/v3/files/a.tar.gz", "file_sha256": D, "file_size": 1}),
                "acme-web-1.0.0: its slug",
            ),
            (
                json!({"metadata": {"name": "acme-web", "version": "1.0.0"},
                       "file_uri": "/v3/files/a.tar.gz", "file_sha256": "abc", "file_size": 1}),
                "acme-web-1.0.0: file_sha256",
            ),
            (
                json!({"metadata": {"name": "acme-web", "version": "1.0.0"},
                       "file_uri": "/v3/files/a.tar.gz", "file_sha256": D}),
                "file_size",
            ),
        ];
        for (e, what) in cases {
            let err = parse_page(BASE, "u", &page(vec![e.clone()], Value::Null)).unwrap_err();
            assert!(err.to_string().contains(what), "{e}: {err}");
        }
        for next in [
            json!("http://evil.test/v3/releases?offset=1"),
            json!("/v3/files/x"),
            json!(7),
        ] {
            assert!(
                parse_page(BASE, "u", &page(vec![], next.clone())).is_err(),
                "{next}"
            );
        }
        assert!(parse_page(BASE, "u", b"[]").is_err());
        assert!(parse_page(BASE, "u", b"{\"results\": []}").is_err());
    }
}
