//! File content units: a relative path and the artifact behind it.

use chrono::Utc;
use serde_json::json;

use super::manifest::ManifestEntry;
use crate::catalog::model::{ContentRecord, ContentRef, ContentType, Source};

/// The content unit of a manifest entry: identified by path and digest.
pub fn record(
    entry: &ManifestEntry,
    artifact: Option<String>,
    source: Option<Source>,
) -> ContentRecord {
    ContentRecord {
        r#ref: content_ref(&entry.relative_path, &entry.sha256),
        created: Utc::now(),
        artifact,
        blobs: Vec::new(),
        source,
        indexes: vec![
            ("relative_path".to_owned(), entry.relative_path.clone()),
            ("sha256".to_owned(), entry.sha256.clone()),
        ],
        data: json!({
            "relative_path": entry.relative_path,
            "md5": null,
            "sha1": null,
            "sha224": null,
            "sha256": entry.sha256,
            "sha384": null,
            "sha512": null,
            "size": entry.size,
        }),
    }
}

/// The reference of the file unit (`relative_path`, `sha256`).
pub fn content_ref(relative_path: &str, sha256: &str) -> ContentRef {
    ContentRef::derive(ContentType::File, &format!("{relative_path}\0{sha256}"))
}

/// The manifest entry a record describes.
pub fn entry(record: &ContentRecord) -> Option<ManifestEntry> {
    Some(ManifestEntry {
        relative_path: record.data.get("relative_path")?.as_str()?.to_owned(),
        sha256: record.data.get("sha256")?.as_str()?.to_owned(),
        size: record.data.get("size")?.as_u64()?,
    })
}
