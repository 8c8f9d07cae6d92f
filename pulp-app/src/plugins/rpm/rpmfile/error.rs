//! The error type of the `.rpm` reader.

use std::fmt;

/// Which of the two headers of an `.rpm` file an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The signature header, right after the 96-byte lead.
    Signature,
    /// The main (metadata) header, after the signature header and its padding.
    Main,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Signature => "signature header",
            Section::Main => "main header",
        })
    }
}

/// Why an `.rpm` file could not be read.
///
/// Every variant says where in the file the problem is, so that a bad
/// package in a remote repository can be reported precisely.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpmError {
    /// Reading the underlying file or stream failed (not an early end of file).
    #[error("I/O error while reading the package")]
    Io(#[source] std::io::Error),

    /// The file ended before a structure it announces was complete.
    #[error("file truncated: {what} needs {needed} bytes at offset {offset}, the file ends first")]
    Truncated {
        /// The structure being read, e.g. `lead` or `main header data`.
        what: &'static str,
        /// Byte offset in the file where that structure starts.
        offset: u64,
        /// How many bytes the structure needs.
        needed: u64,
    },

    /// The first four bytes are not the RPM lead magic `ed ab ee db`.
    #[error("not an RPM file: lead magic is {found:02x?}, expected [ed, ab, ee, db]")]
    BadLeadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },

    /// The lead announces a format this reader does not understand.
    #[error("unsupported RPM lead: major version {major}, signature type {signature_type}")]
    UnsupportedLead {
        /// Lead major version (3 or 4 are supported).
        major: u8,
        /// Lead signature type (only 5, "header-style signature", is supported).
        signature_type: u16,
    },

    /// A header does not start with the header magic `8e ad e8 01`.
    #[error("{section}: bad header magic {found:02x?} at offset {offset}")]
    BadHeaderMagic {
        /// Which header.
        section: Section,
        /// File offset of the header.
        offset: u64,
        /// The four bytes found.
        found: [u8; 4],
    },

    /// A header announces more index entries than allowed.
    #[error("{section}: {count} index entries, at most {max} are allowed")]
    TooManyEntries {
        /// Which header.
        section: Section,
        /// Announced entry count.
        count: u32,
        /// The limit.
        max: u32,
    },

    /// A header announces a data store larger than allowed.
    #[error("{section}: data store of {size} bytes, at most {max} are allowed")]
    HeaderTooLarge {
        /// Which header.
        section: Section,
        /// Announced data size in bytes.
        size: u64,
        /// The limit (see `ReadOptions::max_header_size`).
        max: u64,
    },

    /// An index entry is malformed (bad type, offset, count, alignment, or overlap).
    #[error(
        "{section}: index entry {index} (tag {tag}, type {kind}, offset {offset}, count {count}) is invalid: {reason}"
    )]
    BadEntry {
        /// Which header.
        section: Section,
        /// Position of the entry in the index.
        index: u32,
        /// The entry's tag.
        tag: u32,
        /// The entry's raw type number.
        kind: u32,
        /// The entry's data offset.
        offset: u32,
        /// The entry's element count.
        count: u32,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The same tag appears twice in one header.
    #[error("{section}: tag {tag} appears more than once")]
    DuplicateTag {
        /// Which header.
        section: Section,
        /// The repeated tag.
        tag: u32,
    },

    /// A tag holds a type other than the one its meaning requires.
    #[error("{section}: tag {tag} ({name}) has type {found}, expected {expected}")]
    WrongTagType {
        /// Which header.
        section: Section,
        /// The tag.
        tag: u32,
        /// The tag's conventional name, e.g. `NAME`.
        name: &'static str,
        /// The raw type number found.
        found: u32,
        /// The expected kind of data, e.g. `string`.
        expected: &'static str,
    },

    /// A tag every package must have is absent.
    #[error("main header: required tag {tag} ({name}) is missing")]
    MissingTag {
        /// The tag.
        tag: u32,
        /// The tag's conventional name.
        name: &'static str,
    },

    /// Parallel arrays (e.g. file base names and directory indexes) differ in length.
    #[error("main header: {what}: {first} has {first_len} entries but {second} has {second_len}")]
    InconsistentArrays {
        /// What the arrays describe, e.g. `file list`.
        what: &'static str,
        /// Name of the first array's tag.
        first: &'static str,
        /// Its length.
        first_len: usize,
        /// Name of the second array's tag.
        second: &'static str,
        /// Its length.
        second_len: usize,
    },

    /// A file's directory index points past the directory name list.
    #[error(
        "main header: file {file} has directory index {dir_index}, but there are only {dir_count} directories"
    )]
    DirIndexOutOfRange {
        /// Position of the file in the file list.
        file: usize,
        /// The directory index found.
        dir_index: u64,
        /// Number of directory names.
        dir_count: usize,
    },

    /// Expanding the file list (directory + base name per file) would exceed the memory budget.
    #[error("main header: the expanded file list exceeds {max} bytes")]
    FileListTooLarge {
        /// The limit (see `ReadOptions::max_file_list_bytes`).
        max: u64,
    },
}

impl RpmError {
    /// Maps an I/O error to [`RpmError::Truncated`] when it is an early end of file.
    pub(crate) fn from_read(
        err: std::io::Error,
        what: &'static str,
        offset: u64,
        needed: u64,
    ) -> Self {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            RpmError::Truncated {
                what,
                offset,
                needed,
            }
        } else {
            RpmError::Io(err)
        }
    }
}
