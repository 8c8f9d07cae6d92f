//! PULP_MANIFEST: one `<relative_path>,<sha256>,<size>` line per file.
//!
//! As in pulp_file, the line is split at its last two commas (paths may
//! contain commas), fields are trimmed, and blank lines and lines starting
//! with `#` are skipped. Everything is checked before anything is
//! downloaded: a path must be relative and stay inside the repository, a
//! digest must be 64 hex characters, a size must be a number. Errors name
//! the line and the entry.

use std::collections::HashSet;

/// One file of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Path relative to the manifest's directory.
    pub relative_path: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// A manifest that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Parsing of the manifest file failed on line {line} ({entry:?}): {reason}")]
pub struct ManifestError {
    /// 1-based line number.
    pub line: usize,
    /// The offending line (shortened).
    pub entry: String,
    /// What is wrong.
    pub reason: String,
}

/// The most lines a manifest may have.
pub const MAX_ENTRIES: usize = 10_000_000;

/// Parses and checks a whole manifest.
///
/// # Errors
/// [`ManifestError`] for the first bad line.
pub fn parse(text: &str) -> Result<Vec<ManifestEntry>, ManifestError> {
    let mut out = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: String| ManifestError {
            line: i + 1,
            entry: line.chars().take(200).collect(),
            reason,
        };
        if out.len() >= MAX_ENTRIES {
            return Err(err(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut parts = line.rsplitn(3, ',');
        let (Some(size), Some(digest), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err("expected <relative_path>,<sha256>,<size>".into()));
        };
        let (path, digest, size) = (path.trim(), digest.trim(), size.trim());
        crate::relpath::safe_relative_path(path).map_err(|e| err(e.to_string()))?;
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err(format!("{digest:?} is not a sha256 digest")));
        }
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!("{size:?} is not a size in bytes")));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| err(format!("{size:?} is too large")))?;
        if !seen.insert(path.to_owned()) {
            return Err(err(format!("{path:?} is listed twice")));
        }
        out.push(ManifestEntry {
            relative_path: path.to_owned(),
            sha256: digest.to_ascii_lowercase(),
            size,
        });
    }
    Ok(out)
}

/// Writes a manifest (the publish side).
pub fn write<'a>(entries: impl IntoIterator<Item = &'a ManifestEntry>) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!("{},{},{}\n", e.relative_path, e.sha256, e.size));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    #[test]
    fn parses_pulp_manifests() {
        let text = format!("# comment\n\nsub/hello.txt,{D},6\n a,b,c.txt , {D} , 3000 \n");
        let entries = parse(&text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].relative_path, "sub/hello.txt");
        assert_eq!(
            entries[1].relative_path, "a,b,c.txt",
            "commas inside the path"
        );
        assert_eq!(entries[1].size, 3000);
        assert_eq!(parse(&write(&entries)).unwrap(), entries);
    }

    #[test]
    fn rejects_hostile_entries_naming_them() {
        for (line, what) in [
            (format!("../etc/passwd,{D},1"), "unsafe"),
            (format!("/etc/passwd,{D},1"), "unsafe"),
            (format!("a/../../b,{D},1"), "unsafe"),
            (format!("a//b,{D},1"), "unsafe"),
            ("a.txt,nothex,1".to_owned(), "sha256"),
            (format!("a.txt,{D},-1"), "size"),
            (format!("a.txt,{D}"), "expected"),
        ] {
            let err = parse(&format!("ok.txt,{D},1\n{line}\n")).unwrap_err();
            assert_eq!(err.line, 2, "{line}");
            assert!(err.to_string().contains(what), "{err}");
            assert!(err.to_string().contains("line 2"), "{err}");
        }
        let dup = parse(&format!("a,{D},1\na,{D},1\n")).unwrap_err();
        assert!(dup.reason.contains("twice"));
    }
}
