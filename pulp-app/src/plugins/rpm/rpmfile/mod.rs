//! Reading an `.rpm` file's headers into a [`Package`].
//!
//! An `.rpm` file is, in order: a 96-byte *lead*, a *signature header*
//! padded to a multiple of 8 bytes, the *main header* (all the metadata),
//! and the compressed payload. [`read_rpm`] reads the lead and both headers,
//! then streams the payload only to hash the whole file (the package id is
//! the SHA-256 of the file) and count its size; the payload is never kept in
//! memory or decompressed.
//!
//! The resulting [`Package`] matches what createrepo_c 0.17 writes into
//! primary.xml, filelists.xml and other.xml for the same file (see the rules
//! in the `package` submodule), except `location_href`/`location_base`,
//! which depend on where the caller puts the file, and `time_file`, which
//! only [`read_rpm_path`] fills (from the file's modification time).
//!
//! Everything read from the file is untrusted: every count and offset is
//! checked before use, header sizes are capped ([`ReadOptions`]), and a
//! truncated or hostile file yields a precise [`RpmError`], never a panic.
//!
//! ```no_run
//! use pulp_app::plugins::rpm::rpmfile::{read_rpm_path, ReadOptions};
//!
//! let info = read_rpm_path("bash-5.2.15-3.fc38.x86_64.rpm".as_ref(), &ReadOptions::default())?;
//! println!("{} {}", info.package.nevra().name, info.package.pkg_id);
//! # Ok::<(), pulp_app::plugins::rpm::rpmfile::RpmError>(())
//! ```

mod error;
mod header;
mod package;
pub mod tags;
mod vercmp;

use std::io::{self, Read};
use std::path::Path;

pub use self::error::{RpmError, Section};
pub use self::header::{EntryType, Header, Numbers, Strings};
pub use self::package::is_primary;
pub use self::vercmp::rpmvercmp;
use crate::checksum::{ChecksumKind, HashingReader};
use crate::plugins::rpm::model::Package;

/// Size of the lead.
const LEAD_LEN: usize = 96;
/// The lead magic.
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
/// The only signature type rpm has written since 1998: "header-style signature".
const HEADER_SIGNATURE_TYPE: u16 = 5;
/// Hard ceiling for [`ReadOptions::max_header_size`] (rpm's own limit).
const HEADER_SIZE_CEILING: u32 = 256 * 1024 * 1024;

/// Limits and choices for [`read_rpm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// How many changelog entries to keep, newest first (`None`: all).
    /// Default `Some(10)`, createrepo_c's default `--changelog-limit`.
    pub changelog_limit: Option<usize>,
    /// Largest data store accepted for either header, in bytes. Default
    /// 64 MiB (rpm itself allows 256 MiB, which is also the ceiling here).
    pub max_header_size: u32,
    /// Budget for the expanded file list (sum of path lengths), in bytes.
    /// Default 256 MiB. Protects against headers that share one long
    /// directory name among many files.
    pub max_file_list_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            changelog_limit: Some(10),
            max_header_size: 64 * 1024 * 1024,
            max_file_list_bytes: 256 * 1024 * 1024,
        }
    }
}

/// What [`read_rpm`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmInfo {
    /// The package description (`location_href` empty, see the module docs).
    pub package: Package,
    /// Whether this is a source package (then `package.arch` is `src`).
    pub is_source: bool,
}

/// The fixed-size lead at the start of every `.rpm` file.
///
/// Only the magic and the signature type matter today; rpm ignores the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    /// Format major version (3 or 4).
    pub major: u8,
    /// Format minor version.
    pub minor: u8,
    /// 0 for a binary package, 1 for a source package.
    pub package_type: u16,
    /// The `name-version-release` the lead was written with (informational).
    pub name: String,
}

/// An `.rpm` file's lead and headers, with the position of the main header
/// and the checksum and size of the whole file.
#[derive(Debug, Clone)]
pub struct RpmFile {
    /// The lead.
    pub lead: Lead,
    /// The signature header.
    pub signature: Header,
    /// The main header.
    pub header: Header,
    /// Byte offset of the main header (`rpm:header-range start`).
    pub header_start: u64,
    /// Byte offset just past the main header (`rpm:header-range end`).
    pub header_end: u64,
    /// Size of the whole file in bytes.
    pub size: u64,
    /// SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
}

impl RpmFile {
    /// Reads the lead and both headers, then the rest of the stream to hash it.
    ///
    /// Only `Read` is needed: the file is read once, front to back.
    ///
    /// # Errors
    ///
    /// [`RpmError::Truncated`] when the stream ends inside the lead or a header,
    /// [`RpmError::Io`] on read errors, and the format errors of [`RpmError`]
    /// for a malformed lead or header.
    pub fn read<R: Read>(reader: R, opts: &ReadOptions) -> Result<Self, RpmError> {
        let max_data = opts.max_header_size.min(HEADER_SIZE_CEILING);
        let mut input = Input(HashingReader::new(reader, ChecksumKind::Sha256));
        let lead = read_lead(&mut input)?;
        let signature = read_header(&mut input, Section::Signature, max_data)?;
        let padding = (8 - input.pos() % 8) % 8;
        input.skip(padding, "signature header padding")?;
        let header_start = input.pos();
        let header = read_header(&mut input, Section::Main, max_data)?;
        let header_end = input.pos();
        input.drain()?;
        let (sha256, size) = input.0.finish();
        Ok(RpmFile {
            lead,
            signature,
            header,
            header_start,
            header_end,
            size,
            sha256: sha256.map(|c| c.hex().to_owned()).unwrap_or_default(),
        })
    }

    /// Whether the main header marks this as a source package (`SOURCEPACKAGE`),
    /// the test createrepo_c uses.
    ///
    /// # Errors
    ///
    /// [`RpmError::WrongTagType`] if `SOURCEPACKAGE` is not an integer.
    pub fn is_source(&self) -> Result<bool, RpmError> {
        Ok(self.header.number(tags::main::SOURCEPACKAGE)?.unwrap_or(0) != 0)
    }

    /// Builds the package description (createrepo_c's rules, see the module docs).
    ///
    /// # Errors
    ///
    /// [`RpmError::MissingTag`] without a name, version or release,
    /// [`RpmError::WrongTagType`], [`RpmError::InconsistentArrays`],
    /// [`RpmError::DirIndexOutOfRange`] and [`RpmError::FileListTooLarge`]
    /// for inconsistent metadata.
    pub fn to_package(&self, opts: &ReadOptions) -> Result<Package, RpmError> {
        package::build(self, opts)
    }
}

/// Reads an `.rpm` file from a stream and describes it as a [`Package`].
///
/// `&[u8]` works as a reader for files already in memory.
///
/// # Errors
///
/// See [`RpmFile::read`] and [`RpmFile::to_package`].
pub fn read_rpm<R: Read>(reader: R, opts: &ReadOptions) -> Result<RpmInfo, RpmError> {
    let file = RpmFile::read(reader, opts)?;
    Ok(RpmInfo {
        package: file.to_package(opts)?,
        is_source: file.is_source()?,
    })
}

/// Reads an `.rpm` file from disk; also sets `time_file` to its modification time.
///
/// This blocks: from async code, call it inside `tokio::task::spawn_blocking`.
///
/// # Errors
///
/// [`RpmError::Io`] if the file cannot be opened, else as [`read_rpm`].
pub fn read_rpm_path(path: &Path, opts: &ReadOptions) -> Result<RpmInfo, RpmError> {
    let file = std::fs::File::open(path).map_err(RpmError::Io)?;
    let mtime = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut info = read_rpm(io::BufReader::with_capacity(64 * 1024, file), opts)?;
    info.package.time_file = mtime;
    Ok(info)
}

fn read_lead<R: Read>(input: &mut Input<R>) -> Result<Lead, RpmError> {
    let mut lead = [0u8; LEAD_LEN];
    input.exact(&mut lead, "lead")?;
    let magic = [lead[0], lead[1], lead[2], lead[3]];
    if magic != LEAD_MAGIC {
        return Err(RpmError::BadLeadMagic { found: magic });
    }
    let major = lead[4];
    let signature_type = u16::from_be_bytes([lead[78], lead[79]]);
    if !(3..=4).contains(&major) || signature_type != HEADER_SIGNATURE_TYPE {
        return Err(RpmError::UnsupportedLead {
            major,
            signature_type,
        });
    }
    let name = &lead[10..76];
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    Ok(Lead {
        major,
        minor: lead[5],
        package_type: u16::from_be_bytes([lead[6], lead[7]]),
        name: String::from_utf8_lossy(name).into_owned(),
    })
}

fn read_header<R: Read>(
    input: &mut Input<R>,
    section: Section,
    max_data: u32,
) -> Result<Header, RpmError> {
    let offset = input.pos();
    let mut intro = [0u8; header::INTRO_LEN];
    input.exact(
        &mut intro,
        match section {
            Section::Signature => "signature header intro",
            Section::Main => "main header intro",
        },
    )?;
    let magic = [intro[0], intro[1], intro[2], intro[3]];
    if magic != header::MAGIC {
        return Err(RpmError::BadHeaderMagic {
            section,
            offset,
            found: magic,
        });
    }
    let count = u32::from_be_bytes([intro[8], intro[9], intro[10], intro[11]]);
    let size = u32::from_be_bytes([intro[12], intro[13], intro[14], intro[15]]);
    if count > header::MAX_ENTRIES {
        return Err(RpmError::TooManyEntries {
            section,
            count,
            max: header::MAX_ENTRIES,
        });
    }
    if size > max_data {
        return Err(RpmError::HeaderTooLarge {
            section,
            size: size.into(),
            max: max_data.into(),
        });
    }
    let (index_what, data_what) = match section {
        Section::Signature => ("signature header index", "signature header data"),
        Section::Main => ("main header index", "main header data"),
    };
    // Both lengths are bounded above (1 MiB and `max_data`), and the buffers
    // grow only as bytes actually arrive.
    let index = input.bounded(u64::from(count) * header::ENTRY_LEN as u64, index_what)?;
    let data = input.bounded(u64::from(size), data_what)?;
    Header::parse(section, &index, data)
}

/// The file being read: hashed (SHA-256) and counted as it goes.
struct Input<R>(HashingReader<R>);

impl<R: Read> Input<R> {
    /// Bytes read so far: the offset of the next byte.
    fn pos(&self) -> u64 {
        self.0.bytes_read()
    }

    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), RpmError> {
        let start = self.pos();
        self.0
            .read_exact(buf)
            .map_err(|e| RpmError::from_read(e, what, start, buf.len() as u64))
    }

    /// Reads exactly `len` bytes into a buffer that grows as data arrives.
    fn bounded(&mut self, len: u64, what: &'static str) -> Result<Vec<u8>, RpmError> {
        let start = self.pos();
        let mut buf = Vec::new();
        self.0
            .by_ref()
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| RpmError::from_read(e, what, start, len))?;
        if buf.len() as u64 != len {
            return Err(RpmError::Truncated {
                what,
                offset: start,
                needed: len,
            });
        }
        Ok(buf)
    }

    fn skip(&mut self, len: u64, what: &'static str) -> Result<(), RpmError> {
        self.bounded(len, what).map(drop)
    }

    /// Reads (and hashes) everything that is left.
    fn drain(&mut self) -> Result<(), RpmError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RpmError::Io(e)),
            }
        }
    }
}
