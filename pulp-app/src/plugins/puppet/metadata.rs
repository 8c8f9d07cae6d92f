//! A module's `metadata.json`, as the Forge and `puppet module build`
//! define it: `name` (`author-name`, or `author/name`), `version`
//! (SemVer 2.0), `summary`, `dependencies` (`name` and
//! `version_requirement`), and anything else the author wrote (kept as is).
//!
//! Everything in it comes from a hostile tarball or Forge listing, so the
//! names and versions that end up in paths and URLs are checked strictly:
//! an author is ASCII letters and digits, a module name a lowercase letter
//! then lowercase letters, digits and `_` (the Forge's rules), and a version
//! is SemVer. `<author>-<name>-<version>.tar.gz` is then always a plain
//! file name.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::text::clip;

/// Longest author or module name accepted, in bytes.
const MAX_NAME: usize = 64;
/// Longest version accepted, in bytes.
const MAX_VERSION: usize = 128;
/// Longest summary accepted, in bytes.
const MAX_SUMMARY: usize = 4096;
/// Most dependencies accepted.
const MAX_DEPENDENCIES: usize = 1000;

/// What is wrong with a module's metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Not a JSON object.
    #[error("metadata.json is not a JSON object: {0}")]
    NotJson(String),
    /// A required field is missing or not a string.
    #[error("metadata.json has no {0:?} string")]
    Missing(&'static str),
    /// `name` is not `author-name`.
    #[error(
        "{0:?} is not a module name (author-name: letters and digits, a dash, then a lowercase letter and lowercase letters, digits or _)"
    )]
    BadName(String),
    /// `version` is not SemVer.
    #[error("{0:?} is not a semantic version (major.minor.patch)")]
    BadVersion(String),
    /// Another field does not have the shape the Forge gives it.
    #[error("metadata.json field {field:?}: {reason}")]
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// `author-name`: a module's identity on a Forge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleSlug {
    /// The owner (`puppetlabs`).
    pub author: String,
    /// The module (`stdlib`).
    pub name: String,
}

impl ModuleSlug {
    /// Parses `author-name` or `author/name` (the two spellings
    /// metadata.json and dependency lists use).
    ///
    /// # Errors
    /// [`MetadataError::BadName`].
    pub fn parse(text: &str) -> Result<Self, MetadataError> {
        let bad = || MetadataError::BadName(clip(text));
        let (author, name) = text
            .split_once(['-', '/'])
            .filter(|(a, n)| {
                !a.is_empty()
                    && a.len() <= MAX_NAME
                    && a.bytes().all(|b| b.is_ascii_alphanumeric())
                    && n.len() <= MAX_NAME
                    && n.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            })
            .ok_or_else(bad)?;
        Ok(ModuleSlug {
            author: author.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for ModuleSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.author, self.name)
    }
}

/// A SemVer 2.0 version, ordered by SemVer precedence (build metadata
/// breaks ties only so that sorting is deterministic).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    text: String,
    core: [u64; 3],
    pre: Vec<String>,
}

impl Version {
    /// Parses `1.2.3`, `1.2.3-rc.1`, `1.2.3+build.5`.
    ///
    /// # Errors
    /// [`MetadataError::BadVersion`].
    pub fn parse(text: &str) -> Result<Self, MetadataError> {
        let bad = || MetadataError::BadVersion(clip(text));
        if text.is_empty() || text.len() > MAX_VERSION {
            return Err(bad());
        }
        let (rest, build) = match text.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (text, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let ident_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let numeric = |s: &str| {
            !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && (s == "0" || !s.starts_with('0'))
        };
        let parts: Vec<&str> = core.split('.').collect();
        let [a, b, c] = parts.as_slice() else {
            return Err(bad());
        };
        let mut nums = [0u64; 3];
        for (n, p) in nums.iter_mut().zip([a, b, c]) {
            if !numeric(p) {
                return Err(bad());
            }
            *n = p.parse().map_err(|_| bad())?;
        }
        let pre: Vec<String> = match pre {
            Some(p) => {
                let ids: Vec<&str> = p.split('.').collect();
                if ids
                    .iter()
                    .any(|i| !ident_ok(i) || (i.bytes().all(|b| b.is_ascii_digit()) && !numeric(i)))
                {
                    return Err(bad());
                }
                ids.into_iter().map(str::to_owned).collect()
            }
            None => Vec::new(),
        };
        if let Some(b) = build
            && b.split('.').any(|i| !ident_ok(i))
        {
            return Err(bad());
        }
        Ok(Version {
            text: text.to_owned(),
            core: nums,
            pre,
        })
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it is a pre-release (`1.0.0-rc.1`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        fn ident(a: &str, b: &str) -> Ordering {
            let num = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
            match (num(a), num(b)) {
                (true, true) => (a.len(), a).cmp(&(b.len(), b)),
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (false, false) => a.cmp(b),
            }
        }
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = ident(a, b);
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One dependency of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// `author-name` or `author/name`, as written.
    pub name: String,
    /// A version range (`>= 4.13.1 < 10.0.0`), if given.
    pub version_requirement: Option<String>,
}

/// The checked fields of a metadata.json, and the whole document.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleMetadata {
    /// `author-name`.
    pub slug: ModuleSlug,
    /// The version.
    pub version: Version,
    /// One line about the module.
    pub summary: Option<String>,
    /// What it needs.
    pub dependencies: Vec<Dependency>,
    /// The whole document, as the module's author wrote it.
    pub document: Value,
}

impl ModuleMetadata {
    /// Parses and checks metadata.json.
    ///
    /// # Errors
    /// [`MetadataError`] naming the first problem.
    pub fn from_json(bytes: &[u8]) -> Result<Self, MetadataError> {
        let document: Value =
            serde_json::from_slice(bytes).map_err(|e| MetadataError::NotJson(e.to_string()))?;
        Self::from_value(document)
    }

    /// Checks an already parsed metadata document (a Forge listing's
    /// `metadata`).
    ///
    /// # Errors
    /// [`MetadataError`] naming the first problem.
    pub fn from_value(document: Value) -> Result<Self, MetadataError> {
        let Value::Object(map) = &document else {
            return Err(MetadataError::NotJson("not an object".to_owned()));
        };
        let text = |field: &'static str| {
            map.get(field)
                .and_then(Value::as_str)
                .ok_or(MetadataError::Missing(field))
        };
        let slug = ModuleSlug::parse(text("name")?)?;
        let version = Version::parse(text("version")?)?;
        let summary = match map.get("summary") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= MAX_SUMMARY => Some(s.clone()),
            Some(_) => {
                return Err(MetadataError::BadField {
                    field: "summary",
                    reason: format!("expected a string of at most {MAX_SUMMARY} bytes"),
                });
            }
        };
        let dependencies = match map.get("dependencies") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) if list.len() <= MAX_DEPENDENCIES => {
                list.iter().map(dependency).collect::<Result<Vec<_>, _>>()?
            }
            Some(_) => {
                return Err(MetadataError::BadField {
                    field: "dependencies",
                    reason: format!("expected a list of at most {MAX_DEPENDENCIES} entries"),
                });
            }
        };
        Ok(ModuleMetadata {
            slug,
            version,
            summary,
            dependencies,
            document,
        })
    }

    /// `<author>-<name>-<version>`: the release's slug on a Forge.
    pub fn release_slug(&self) -> String {
        format!("{}-{}", self.slug, self.version)
    }

    /// `<author>-<name>-<version>.tar.gz`: where the tarball is published.
    pub fn relative_path(&self) -> String {
        format!("{}.tar.gz", self.release_slug())
    }
}

fn dependency(v: &Value) -> Result<Dependency, MetadataError> {
    let bad = |reason: &str| MetadataError::BadField {
        field: "dependencies",
        reason: reason.to_owned(),
    };
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("an entry has no name"))?;
    ModuleSlug::parse(name)?;
    let version_requirement = match v.get("version_requirement") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_VERSION * 4 => Some(s.clone()),
        Some(_) => return Err(bad("version_requirement is not a short string")),
    };
    Ok(Dependency {
        name: name.to_owned(),
        version_requirement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_forge_rules() {
        let s = ModuleSlug::parse("puppetlabs-stdlib").unwrap();
        assert_eq!(
            (s.author.as_str(), s.name.as_str()),
            ("puppetlabs", "stdlib")
        );
        assert_eq!(ModuleSlug::parse("puppetlabs/stdlib").unwrap(), s);
        assert_eq!(s.to_string(), "puppetlabs-stdlib");
        assert_eq!(ModuleSlug::parse("a1-my_mod2").unwrap().name, "my_mod2");
        for bad in [
            "stdlib", "-stdlib", "a-", "a-Stdlib", "a-1mod", "a-b-c", "a b-c", "../x-y",
            "a-b/../c", "a-b.tar",
        ] {
            assert!(ModuleSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_are_semver_and_sort_by_precedence() {
        for bad in [
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.x",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3/../x",
            "1.2.3-01",
            "",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
        let mut vs: Vec<Version> = [
            "1.0.0",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta",
            "1.0.0-alpha.beta",
            "1.0.0-beta.11",
            "1.0.0-beta.2",
            "1.0.0-rc.1",
            "10.0.0",
            "2.0.0+build.7",
        ]
        .iter()
        .map(|v| Version::parse(v).unwrap())
        .collect();
        vs.sort();
        let order: Vec<&str> = vs.iter().map(Version::as_str).collect();
        assert_eq!(
            order,
            [
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "2.0.0+build.7",
                "10.0.0",
            ]
        );
    }

    #[test]
    fn metadata_fields_are_checked() {
        let m = ModuleMetadata::from_json(
            br#"{"name": "acme/web", "version": "1.2.3", "summary": "Web",
                 "dependencies": [{"name": "puppetlabs/stdlib", "version_requirement": ">= 4.0.0"}],
                 "license": "MIT"}"#,
        )
        .unwrap();
        assert_eq!(m.relative_path(), "acme-web-1.2.3.tar.gz");
        assert_eq!(m.summary.as_deref(), Some("Web"));
        assert_eq!(
            m.dependencies[0].version_requirement.as_deref(),
            Some(">= 4.0.0")
        );
        assert_eq!(m.document["license"], "MIT");
        for (doc, what) in [
            (&br#"[1]"#[..], "not a JSON object"),
            (br#"{"version": "1.0.0"}"#, "\"name\""),
            (br#"{"name": "acme-web"}"#, "\"version\""),
            (
                br#"{"name": "../../etc-passwd", "version": "1.0.0"}"#,
                "not a module name",
            ),
            (
                br#"{"name": "acme-web", "version": "1.0"}"#,
                "semantic version",
            ),
            (
                br#"{"name": "acme-web", "version": "1.0.0", "dependencies": {}}"#,
                "dependencies",
            ),
            (
                br#"{"name": "acme-web", "version": "1.0.0", "dependencies": [{"name": "x"}]}"#,
                "not a module name",
            ),
            (
                br#"{"name": "acme-web", "version": "1.0.0", "summary": 7}"#,
                "summary",
            ),
            (b"{", "not a JSON object"),
        ] {
            let err = ModuleMetadata::from_json(doc).unwrap_err();
            assert!(err.to_string().contains(what), "{err}");
        }
    }
}
