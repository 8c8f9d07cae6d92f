//! Puppet module content units (`puppet.module`): one release of a module,
//! identified by author, name, version and the tarball's SHA-256. The
//! tarball is the artifact; the whole metadata.json is kept as a blob
//! artifact (Redis holds only the fields the API shows and filters on).

use chrono::Utc;
use serde_json::{Value, json};

use super::tarball::ModuleTarball;
use crate::catalog::model::{ContentRecord, ContentRef, ContentType};

/// The reference of a module release (natural key: `author-name-version`
/// and the tarball's SHA-256).
pub fn content_ref(release_slug: &str, sha256: &str) -> ContentRef {
    ContentRef::derive(
        ContentType::PuppetModule,
        &format!("{release_slug}\0{sha256}"),
    )
}

/// The content unit of a checked tarball whose metadata.json is stored as
/// the blob `metadata_blob` (sha256).
pub fn record(t: &ModuleTarball, metadata_blob: &str) -> ContentRecord {
    let m = &t.metadata;
    let sha256 = t.sha256.to_hex();
    let dependencies: Vec<Value> = m
        .dependencies
        .iter()
        .map(|d| json!({"name": d.name, "version_requirement": d.version_requirement}))
        .collect();
    ContentRecord {
        r#ref: content_ref(&m.release_slug(), &sha256),
        created: Utc::now(),
        artifact: Some(sha256.clone()),
        blobs: vec![metadata_blob.to_owned()],
        source: None,
        indexes: vec![
            ("author".to_owned(), m.slug.author.clone()),
            ("name".to_owned(), m.slug.name.clone()),
            ("version".to_owned(), m.version.to_string()),
            ("sha256".to_owned(), sha256.clone()),
            ("relative_path".to_owned(), m.relative_path()),
        ],
        data: json!({
            "author": m.slug.author,
            "name": m.slug.name,
            "version": m.version.as_str(),
            "summary": m.summary,
            "dependencies": dependencies,
            "relative_path": m.relative_path(),
            "sha256": sha256,
            "md5": t.md5,
            "size": t.size,
        }),
    }
}

/// What publishing needs of a module unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Owner.
    pub author: String,
    /// Module name.
    pub name: String,
    /// Version.
    pub version: String,
    /// `<author>-<name>-<version>.tar.gz`.
    pub relative_path: String,
    /// Tarball SHA-256.
    pub sha256: String,
    /// Tarball MD5.
    pub md5: String,
    /// Tarball size.
    pub size: u64,
    /// The metadata.json blob (sha256).
    pub metadata_blob: String,
}

impl Module {
    /// `author-name`.
    pub fn module_slug(&self) -> String {
        format!("{}-{}", self.author, self.name)
    }

    /// `author-name-version`.
    pub fn release_slug(&self) -> String {
        format!("{}-{}-{}", self.author, self.name, self.version)
    }
}

/// The module a record describes (`None` if it is not a module unit).
pub fn module(record: &ContentRecord) -> Option<Module> {
    let d = &record.data;
    let s = |k: &str| Some(d.get(k)?.as_str()?.to_owned());
    Some(Module {
        author: s("author")?,
        name: s("name")?,
        version: s("version")?,
        relative_path: s("relative_path")?,
        sha256: s("sha256")?,
        md5: s("md5")?,
        size: d.get("size")?.as_u64()?,
        metadata_blob: record.blobs.first()?.clone(),
    })
}
