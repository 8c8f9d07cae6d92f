//! Validation of relative paths that come from remote, untrusted places:
//! `<location href>`s in yum metadata, lines of a `PULP_MANIFEST`.
//!
//! Such a path ends up joined to a base URL (to download it) and to a local
//! directory (to publish it), so it must never escape either, whatever layer
//! decodes it. [`safe_relative_path`] is the one check for that;
//! [`safe_location_base`] checks yum's `xml:base`, which may also be a URL.

use crate::text::clip;

/// Longest relative path accepted, in bytes (Linux `PATH_MAX`).
const MAX_PATH_LEN: usize = 4096;
/// Longest path segment accepted, in bytes (Linux `NAME_MAX`).
const MAX_SEGMENT_LEN: usize = 255;

/// Why a relative path (or location base) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelPathError {
    /// The path could escape its base, or is not a plain relative path.
    #[error("unsafe relative path {path:?}: {reason}")]
    Unsafe {
        /// The offending path (clipped to 200 bytes).
        path: String,
        /// The rule it breaks.
        reason: &'static str,
    },
}

/// Checks that `path` is a plain relative path that stays below its base,
/// and returns it unchanged.
///
/// Accepted: one or more `/`-separated segments of printable characters,
/// e.g. `Packages/b/bash-5.2-1.x86_64.rpm`, `repodata/abc-primary.xml.gz`
/// or `isos/a b.iso`. Spaces, commas, `%`, `^`, `~` and any non-ASCII text
/// are fine.
///
/// Refused: the empty path, absolute paths, empty segments (`a//b`, a
/// trailing `/`), `.` and `..` segments, backslashes, NUL and other control
/// characters, a first segment ending in `:` (a URL scheme or a Windows
/// drive such as `c:`), segments that percent-decode to `.`, `..` or to
/// something holding `/`, `\` or NUL (so that a layer that decodes once more
/// cannot be tricked either), and lengths over 4096 bytes (255 per segment).
///
/// ```
/// use pulp_app::relpath::safe_relative_path;
///
/// assert!(safe_relative_path("Packages/a/a-1-1.noarch.rpm").is_ok());
/// assert!(safe_relative_path("../../etc/passwd").is_err());
/// assert!(safe_relative_path("a/%2e%2e/b").is_err());
/// ```
///
/// # Errors
///
/// [`RelPathError::Unsafe`] naming the rule that was broken.
pub fn safe_relative_path(path: &str) -> Result<&str, RelPathError> {
    let refuse = |reason| {
        Err(RelPathError::Unsafe {
            path: clip(path),
            reason,
        })
    };
    if path.is_empty() {
        return refuse("empty path");
    }
    if path.len() > MAX_PATH_LEN {
        return refuse("longer than 4096 bytes");
    }
    if path.contains('\0') {
        return refuse("contains NUL");
    }
    if path.contains('\\') {
        return refuse("contains a backslash");
    }
    if path.chars().any(char::is_control) {
        return refuse("contains a control character");
    }
    if path.starts_with('/') {
        return refuse("absolute path");
    }
    for segment in path.split('/') {
        match segment {
            "" => return refuse("empty segment"),
            "." | ".." => return refuse("'.' or '..' segment"),
            s if s.len() > MAX_SEGMENT_LEN => return refuse("segment longer than 255 bytes"),
            _ => {}
        }
        if segment.contains('%') {
            let decoded = percent_decode(segment);
            let dangerous = decoded == b"."
                || decoded == b".."
                || decoded.iter().any(|b| matches!(b, b'/' | b'\\' | 0));
            if dangerous {
                return refuse("percent-encoded '.', '..', slash, backslash or NUL");
            }
        }
    }
    // `c:` or `http:` as the first segment: a drive letter or a URL scheme.
    if path.split('/').next().is_some_and(|s| s.ends_with(':')) {
        return refuse("drive letter or URL scheme");
    }
    Ok(path)
}

/// Checks a yum `<location xml:base>` value and returns it unchanged.
///
/// A base is either an `http://`, `https://` or `ftp://` URL (no whitespace,
/// backslash or control characters), or a relative path as accepted by
/// [`safe_relative_path`]. `file:` and other schemes are refused, so a
/// remote repository cannot point the caller at local files.
///
/// ```
/// use pulp_app::relpath::safe_location_base;
///
/// assert!(safe_location_base("https://mirror.example/fedora/").is_ok());
/// assert!(safe_location_base("file:///etc/").is_err());
/// ```
///
/// # Errors
///
/// [`RelPathError::Unsafe`] when the base is neither.
pub fn safe_location_base(base: &str) -> Result<&str, RelPathError> {
    let lower = base.get(..8).unwrap_or(base).to_ascii_lowercase();
    let is_url = ["http://", "https://", "ftp://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme));
    if !is_url {
        return safe_relative_path(base);
    }
    if base
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(RelPathError::Unsafe {
            path: clip(base),
            reason: "URL with whitespace, backslash or control characters",
        });
    }
    Ok(base)
}

/// Decodes valid `%XX` sequences once; anything else is kept as is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for ok in [
            "a",
            "Packages/a/a-1.0-1.x86_64.rpm",
            "repodata/x-primary.xml.gz",
            "Packages/v/vim-9.0^20230101-1.x86_64.rpm",
            "..foo/bar..",
            "a/.hidden",
            "a:b/c",
            "a/b:",
        ] {
            assert_eq!(safe_relative_path(ok).ok(), Some(ok), "{ok}");
        }
    }

    #[test]
    fn refuses_escapes() {
        for bad in [
            "",
            "../../etc/passwd",
            "a/../../b",
            "/etc/passwd",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            "a\\b",
            "a\0b",
            "a\nb",
            "c:/windows",
            "c:",
            "http://example.com/a.rpm",
            "%2e%2e/x",
            "a%2fb",
        ] {
            assert!(
                matches!(safe_relative_path(bad), Err(RelPathError::Unsafe { .. })),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn errors_name_the_path_and_the_rule() {
        let err = safe_relative_path("a/../b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsafe relative path \"a/../b\": '.' or '..' segment"
        );
        let long = "x".repeat(5000);
        let RelPathError::Unsafe { path, .. } = safe_relative_path(&long).unwrap_err();
        assert!(path.len() < 300, "the path is clipped in the error");
    }

    #[test]
    fn location_base() {
        assert!(safe_location_base("https://mirror.example/fedora/").is_ok());
        assert!(safe_location_base("HTTP://mirror.example/").is_ok());
        assert!(safe_location_base("ftp://mirror.example/pub/").is_ok());
        assert!(safe_location_base("media/disc1").is_ok());
        assert!(safe_location_base("file:///etc/").is_err());
        assert!(safe_location_base("/srv/repo").is_err());
        assert!(safe_location_base("https://a b/").is_err());
    }

    #[test]
    fn decodes_once() {
        assert_eq!(percent_decode("%2e%2E"), b"..");
        assert_eq!(percent_decode("a%2"), b"a%2");
        assert_eq!(percent_decode("%zz%41"), b"%zzA");
        assert_eq!(percent_decode("%252e"), b"%2e");
    }
}
