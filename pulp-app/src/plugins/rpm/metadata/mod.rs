//! Reading and writing yum/dnf repository metadata (`repodata/`).
//!
//! This module reads repositories made by createrepo_c and publishes
//! repositories that dnf reads, treating every input as hostile:
//!
//! | module | what |
//! |---|---|
//! | [`repomd`] | repomd.xml: [`RepoMd`], [`RepoMdRecord::open_verified`] |
//! | [`primary`], [`filelists`], [`other`] | streaming package readers |
//! | [`updateinfo`] | streaming [`Advisory`] reader |
//! | [`comps`] | groups, categories, environments ([`Comps`]) |
//! | [`mod@write`] | the publisher, [`RepoWriter`] |
//! | [`decompress`] | gzip / xz / bzip2 / zstd with size and ratio limits |
//! | [`verify`] | [`VerifyingReader`], [`verify_reader`]: checksum and size while streaming |
//! | [`limits`] | [`Limits`]: every hostile-input bound in one place |
//! | [`error`] | [`MetadataError`] |
//!
//! Packages are the shared [`Package`](crate::plugins::rpm::model::Package)
//! model; checksums are [`crate::checksum`]'s; hrefs are checked by
//! [`crate::relpath`].
//!
//! # Reading a repository
//!
//! ```no_run
//! use std::path::Path;
//! use pulp_app::plugins::rpm::metadata::{Limits, PrimaryReader, RepoMd};
//!
//! let root = Path::new("/srv/mirror/fedora");
//! let limits = Limits::default();
//! let repomd = RepoMd::parse(&std::fs::read(root.join("repodata/repomd.xml"))?[..])?;
//! let primary = repomd.record("primary").expect("every repository has primary");
//! // Checksum, size, compression and limits are all checked while streaming.
//! let input = primary.open_in(root, &limits)?;
//! let mut packages = PrimaryReader::with_options(input, &primary.location_href, &limits)?;
//! println!("{:?} packages announced", packages.declared_count());
//! while let Some(package) = packages.next_package()? {
//!     println!("{} at {}", package.filename(), package.location_href);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Hostile input
//!
//! All readers stream (memory does not grow with the number of packages)
//! and enforce [`Limits`]: decompressed size and ratio, nesting depth,
//! value and token length, entries per package. A DOCTYPE with an internal
//! subset and any entity other than the XML built-ins is refused, hrefs go
//! through [`safe_relative_path`](crate::relpath::safe_relative_path), and
//! every failure is a precise [`MetadataError`] naming the file.

pub mod comps;
pub mod decompress;
pub mod error;
mod escape;
pub mod filelists;
pub mod limits;
pub mod other;
pub mod primary;
pub mod repomd;
mod stream;
pub mod updateinfo;
pub mod verify;
pub mod write;
mod xml;

pub use comps::{
    Category, Comps, Environment, EnvironmentOption, Group, Langpack, PackageReq, PackageReqType,
    Translation,
};
pub use decompress::{Compression, Decompressed, open_decompressed, open_detected};
pub use error::MetadataError;
pub use filelists::{FilelistsReader, PackageFiles};
pub use limits::Limits;
pub use other::{OtherReader, PackageChangelogs};
pub use primary::PrimaryReader;
pub use repomd::{RepoMd, RepoMdRecord, VerifiedReader};
pub use updateinfo::{
    Advisory, AdvisoryCollection, AdvisoryModule, AdvisoryPackage, AdvisoryReference,
    UpdateInfoReader,
};
pub use verify::{VerifyingReader, verify_reader};
pub use write::RepoWriter;
