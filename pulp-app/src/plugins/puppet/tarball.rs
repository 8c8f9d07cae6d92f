//! Reading a module tarball (`.tar.gz`, as `puppet module build` makes it)
//! for its `metadata.json`, treating it as hostile.
//!
//! The whole archive is walked, not just up to metadata.json, because the
//! tarball is published for clients to unpack: every member must be a
//! plain file or directory at a safe relative path (no `..`, no absolute
//! path, no links, no devices) under one top-level directory, and
//! `<top>/metadata.json` must be there exactly once and at most
//! [`MAX_METADATA`] bytes. Decompression is bounded: at most
//! [`RATIO`] × the compressed size plus [`GRACE`], and never more than
//! [`MAX_UNPACKED`], so a gzip bomb stops early. The file's size, SHA-256
//! and MD5 are computed in the same call (a Forge may list only an MD5).

use std::io::{self, BufReader, Read};
use std::path::Path;

use md5::Digest as _;

use super::metadata::{MetadataError, ModuleMetadata};
use super::tar::{MemberKind, TarError, TarReader};
use crate::checksum::Sha256Digest;
use crate::text::clip;

/// Largest metadata.json accepted, in bytes.
pub const MAX_METADATA: u64 = 1024 * 1024;
/// Most decompressed bytes per compressed byte (after [`GRACE`]).
pub const RATIO: u64 = 100;
/// Decompressed bytes always allowed, whatever the ratio.
pub const GRACE: u64 = 16 * 1024 * 1024;
/// Most decompressed bytes of one tarball.
pub const MAX_UNPACKED: u64 = 4 * 1024 * 1024 * 1024;

/// Why a module tarball was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TarballError {
    /// The file could not be read.
    #[error("reading the tarball: {0}")]
    Io(#[source] io::Error),
    /// Not a valid gzip-compressed tar archive.
    #[error("not a valid .tar.gz: {0}")]
    Archive(#[source] TarError),
    /// It decompresses to more than the limits allow.
    #[error("it decompresses to more than {limit} bytes (a gzip bomb?)")]
    Bomb {
        /// The limit that was hit.
        limit: u64,
    },
    /// A member at an unsafe path.
    #[error("member {member:?}: {reason}")]
    UnsafeMember {
        /// The member's path (clipped).
        member: String,
        /// Why it is refused.
        reason: String,
    },
    /// Members are not all under one top-level directory.
    #[error(
        "member {member:?} is not under the top-level directory {top:?} (a module tarball holds one directory)"
    )]
    Layout {
        /// The member.
        member: String,
        /// The first member's top directory.
        top: String,
    },
    /// No `<top>/metadata.json`.
    #[error("no metadata.json in the module's top-level directory")]
    NoMetadata,
    /// Two of them.
    #[error("metadata.json is in the tarball twice")]
    DuplicateMetadata,
    /// Too large.
    #[error("metadata.json is {size} bytes, more than {MAX_METADATA}")]
    MetadataTooLarge {
        /// Its size.
        size: u64,
    },
    /// It is there but not valid.
    #[error("{0}")]
    Metadata(#[from] MetadataError),
}

/// What a module tarball holds, and what it is.
#[derive(Debug, Clone)]
pub struct ModuleTarball {
    /// Checked metadata.
    pub metadata: ModuleMetadata,
    /// metadata.json as it is in the tarball.
    pub metadata_json: Vec<u8>,
    /// SHA-256 of the tarball.
    pub sha256: Sha256Digest,
    /// MD5 of the tarball, lowercase hex (for Forge clients that want it).
    pub md5: String,
    /// Size of the tarball.
    pub size: u64,
}

/// Reads decompressed bytes, failing once more than `max` came through.
struct Bounded<R> {
    inner: R,
    produced: u64,
    max: u64,
}

/// The error [`Bounded`] fails with.
#[derive(Debug, thiserror::Error)]
#[error("decompressed size limit reached")]
struct LimitReached;

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        if self.produced > self.max {
            return Err(io::Error::other(LimitReached));
        }
        Ok(n)
    }
}

fn hash_file(path: &Path) -> io::Result<(Sha256Digest, String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut sha = sha2::Sha256::new();
    let mut md5 = md5::Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        md5.update(&buf[..n]);
        size += n as u64;
    }
    let sha: [u8; 32] = sha.finalize().into();
    Ok((
        Sha256Digest::from_bytes(sha),
        hex::encode(md5.finalize()),
        size,
    ))
}

/// The path of a member without a leading `./` and a trailing `/`; `None`
/// for the archive root itself (`./`).
fn normalize(path: &str) -> Option<&str> {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    let p = p.strip_suffix('/').unwrap_or(p);
    (!p.is_empty() && p != ".").then_some(p)
}

/// Reads and checks the module tarball at `path` (blocking: run it on a
/// blocking thread).
///
/// # Errors
/// [`TarballError`] naming the first problem.
pub fn read(path: &Path) -> Result<ModuleTarball, TarballError> {
    let (sha256, md5, size) = hash_file(path).map_err(TarballError::Io)?;
    let limit = RATIO
        .saturating_mul(size)
        .saturating_add(GRACE)
        .min(MAX_UNPACKED);
    let file = std::fs::File::open(path).map_err(TarballError::Io)?;
    let gz = flate2::read::MultiGzDecoder::new(BufReader::new(file));
    let mut tar = TarReader::new(Bounded {
        inner: gz,
        produced: 0,
        max: limit,
    });
    let archive = |e: TarError| match e {
        TarError::Io(io) if io.get_ref().is_some_and(|i| i.is::<LimitReached>()) => {
            TarballError::Bomb { limit }
        }
        other => TarballError::Archive(other),
    };
    let mut top: Option<String> = None;
    let mut metadata_json: Option<Vec<u8>> = None;
    while let Some(member) = tar.next_member().map_err(archive)? {
        let unsafe_member = |reason: String| TarballError::UnsafeMember {
            member: clip(&member.path),
            reason,
        };
        let Some(name) = normalize(&member.path) else {
            continue;
        };
        crate::relpath::safe_relative_path(name).map_err(|e| unsafe_member(e.to_string()))?;
        match &member.kind {
            MemberKind::File | MemberKind::Directory => {}
            MemberKind::Symlink { target } | MemberKind::HardLink { target } => {
                return Err(unsafe_member(format!(
                    "a link (to {:?}); modules may not contain links",
                    clip(target)
                )));
            }
            MemberKind::Other(flag) => {
                return Err(unsafe_member(format!(
                    "member type {flag:?} is not a file or directory"
                )));
            }
        }
        let (first, rest) = match name.split_once('/') {
            Some((f, r)) => (f, Some(r)),
            None => (name, None),
        };
        match &top {
            None => top = Some(first.to_owned()),
            Some(t) if t == first => {}
            Some(t) => {
                return Err(TarballError::Layout {
                    member: clip(name),
                    top: t.clone(),
                });
            }
        }
        if rest.is_none() && member.kind == MemberKind::File {
            return Err(TarballError::Layout {
                member: clip(name),
                top: first.to_owned(),
            });
        }
        if rest == Some("metadata.json") && member.kind == MemberKind::File {
            if metadata_json.is_some() {
                return Err(TarballError::DuplicateMetadata);
            }
            if member.size > MAX_METADATA {
                return Err(TarballError::MetadataTooLarge { size: member.size });
            }
            metadata_json = Some(
                tar.read_data(MAX_METADATA, "metadata.json")
                    .map_err(archive)?,
            );
        }
    }
    let metadata_json = metadata_json.ok_or(TarballError::NoMetadata)?;
    let metadata = ModuleMetadata::from_json(&metadata_json)?;
    Ok(ModuleTarball {
        metadata,
        metadata_json,
        sha256,
        md5,
        size,
    })
}
