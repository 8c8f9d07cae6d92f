//! Package uploads: a stored `.rpm` artifact becomes a package content
//! unit, described from its own headers as createrepo_c would describe it.

use chrono::Utc;

use super::content::{self, PackageBlob, PackageParts};
use super::rpmfile::{ReadOptions, RpmError, read_rpm};
use crate::catalog::CatalogError;
use crate::catalog::model::ContentRecord;
use crate::checksum::Sha256Digest;
use crate::relpath::RelPathError;
use crate::services::Services;
use crate::storage::StoreError;

/// Why an upload cannot become a package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The file is not an RPM package (or a damaged one).
    #[error("the uploaded file is not a valid RPM package")]
    NotAnRpm(#[from] RpmError),
    /// `relative_path` could escape the repository.
    #[error("invalid relative_path")]
    RelativePath(#[from] RelPathError),
    /// The artifact is gone (removed as an orphan before the task ran?).
    #[error("the uploaded artifact {0} is not stored")]
    Missing(String),
    /// Reading or writing the store failed.
    #[error("storage failed")]
    Store(#[from] StoreError),
    /// The catalog failed.
    #[error("catalog failed")]
    Catalog(#[from] CatalogError),
    /// Reading the file failed.
    #[error("reading the upload failed")]
    Io(#[from] std::io::Error),
}

/// Creates (or finds) the package content unit of the stored `.rpm`
/// `artifact`, published at `relative_path` (default: its conventional
/// file name).
///
/// # Errors
/// [`UploadError`] naming what is wrong.
pub async fn create_package(
    s: &Services,
    artifact: &Sha256Digest,
    relative_path: Option<&str>,
) -> Result<ContentRecord, UploadError> {
    if !s.store.exists(artifact).await? {
        return Err(UploadError::Missing(artifact.to_hex()));
    }
    let path = s.store.path(artifact);
    let info = tokio::task::spawn_blocking(move || {
        let file = std::io::BufReader::new(std::fs::File::open(&path)?);
        Ok::<_, UploadError>(read_rpm(file, &ReadOptions::default())?)
    })
    .await
    .map_err(std::io::Error::other)??;
    let mut pkg = info.package;
    pkg.location_href = match relative_path.filter(|p| !p.is_empty()) {
        Some(p) => crate::relpath::safe_relative_path(p)?.to_owned(),
        None => pkg.filename(),
    };
    pkg.time_file = Utc::now().timestamp();
    let r = content::package_ref(&pkg);
    if let Some(mut old) = s.catalog.content(&[r]).await?.into_iter().next() {
        if old.artifact.is_none() {
            content::set_package_artifact(&mut old, &artifact.to_hex());
            old.source = None;
            s.catalog
                .replace_content(std::slice::from_ref(&old))
                .await?;
            // Adds the new `sha256` index entry; the rest is unchanged.
            s.catalog.put_content(std::slice::from_ref(&old)).await?;
        }
        return Ok(old);
    }
    let blob = s.store.put_bytes(&PackageBlob::of(&pkg).to_bytes()).await?;
    let record = content::package_record(
        &pkg,
        PackageParts {
            artifact: Some(artifact.to_hex()),
            blob: Some(blob.sha256.to_hex()),
            source: None,
        },
    );
    s.catalog.put_content(std::slice::from_ref(&record)).await?;
    Ok(record)
}
