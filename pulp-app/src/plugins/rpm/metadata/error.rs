//! The one error type of the metadata module.
//!
//! Every variant names the file (or stream) it comes from, so a message such
//! as "repodata/abc-primary.xml.gz: XML nesting deeper than 64 levels at byte
//! 1234" tells the user which input is wrong and where.

use std::io;

use crate::checksum::ChecksumError;
use crate::relpath::RelPathError;

/// Everything that can go wrong while reading, verifying or writing yum
/// repository metadata.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// Reading or writing a file or stream failed.
    #[error("{file}: I/O error")]
    Io {
        /// The file or stream being read or written.
        file: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The XML is not well-formed (as reported by the XML tokenizer).
    #[error("{file}: malformed XML at byte {position}")]
    Xml {
        /// The file being parsed.
        file: String,
        /// Byte offset (in the decompressed XML) where the problem was found.
        position: u64,
        /// The tokenizer's error.
        #[source]
        source: quick_xml::Error,
    },

    /// The document is well-formed XML but not the expected document, e.g. a
    /// wrong root element or markup after the root element.
    #[error("{file}: unexpected {found} at byte {position}, expected {expected}")]
    UnexpectedContent {
        /// The file being parsed.
        file: String,
        /// Byte offset of the offending markup.
        position: u64,
        /// What was found (e.g. `element <foo>`).
        found: String,
        /// What the parser expected instead.
        expected: &'static str,
    },

    /// The document ended before its root element was closed.
    #[error("{file}: truncated XML, input ended at byte {position} inside <{open_element}>")]
    Truncated {
        /// The file being parsed.
        file: String,
        /// Byte offset where the input ended.
        position: u64,
        /// The innermost element that was still open.
        open_element: String,
    },

    /// Elements are nested deeper than [`Limits::max_depth`](super::Limits::max_depth).
    #[error("{file}: XML nesting deeper than {limit} levels at byte {position}")]
    TooDeep {
        /// The file being parsed.
        file: String,
        /// Byte offset of the element that went too deep.
        position: u64,
        /// The configured limit.
        limit: usize,
    },

    /// A single text, attribute value or raw XML token exceeds its limit
    /// ([`Limits::max_value_bytes`](super::Limits::max_value_bytes) or
    /// [`Limits::max_token_bytes`](super::Limits::max_token_bytes)).
    #[error("{file}: {what} at byte {position} is longer than the limit of {limit} bytes")]
    ValueTooLarge {
        /// The file being parsed.
        file: String,
        /// Byte offset near the value.
        position: u64,
        /// What was too long (`"attribute value"`, `"text"`, `"XML token"`).
        what: &'static str,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// One package (or advisory, or group) has more list entries than
    /// [`Limits::max_entries`](super::Limits::max_entries).
    #[error("{file}: {owner} has more than {limit} {what}")]
    TooManyEntries {
        /// The file being parsed.
        file: String,
        /// The package / advisory / group the list belongs to.
        owner: String,
        /// The kind of entry (`"files"`, `"requires"`, `"changelogs"`, ...).
        what: &'static str,
        /// The configured limit.
        limit: usize,
    },

    /// Decompressed output exceeded
    /// [`Limits::max_decompressed_bytes`](super::Limits::max_decompressed_bytes).
    #[error("{file}: decompressed data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The compressed file.
        file: String,
        /// The configured limit in bytes.
        limit: u64,
    },

    /// The decompression ratio exceeded
    /// [`Limits::max_ratio`](super::Limits::max_ratio): most likely a
    /// decompression bomb.
    #[error(
        "{file}: decompression ratio above {limit}:1 ({decompressed} bytes out of {compressed} compressed bytes); refusing a possible decompression bomb"
    )]
    CompressionRatio {
        /// The compressed file.
        file: String,
        /// Compressed bytes read so far.
        compressed: u64,
        /// Decompressed bytes produced so far.
        decompressed: u64,
        /// The configured ratio limit.
        limit: u64,
    },

    /// The document contains a `<!DOCTYPE` with an internal subset (where
    /// entities would be declared). Such documents are never parsed.
    #[error("{file}: DOCTYPE with an internal subset at byte {position} is not allowed")]
    Doctype {
        /// The file being parsed.
        file: String,
        /// Byte offset of the DOCTYPE.
        position: u64,
    },

    /// An entity reference other than the five predefined XML entities and
    /// numeric character references.
    #[error("{file}: unknown entity reference &{name}; at byte {position}")]
    Entity {
        /// The file being parsed.
        file: String,
        /// Byte offset near the reference.
        position: u64,
        /// The entity name (without `&` and `;`).
        name: String,
    },

    /// A required element is missing.
    #[error("{file}: {context} has no <{element}> element")]
    MissingElement {
        /// The file being parsed.
        file: String,
        /// The missing element's name.
        element: &'static str,
        /// Where it was expected (e.g. `package #12 (bash)`).
        context: String,
    },

    /// A required attribute is missing.
    #[error("{file}: <{element}> at byte {position} has no {attribute:?} attribute")]
    MissingAttribute {
        /// The file being parsed.
        file: String,
        /// Byte offset near the element.
        position: u64,
        /// The element's name.
        element: String,
        /// The missing attribute's name.
        attribute: &'static str,
    },

    /// An attribute or element has a value of the wrong form (e.g. a size
    /// that is not a number).
    #[error("{file}: invalid {field} value {value:?} at byte {position}")]
    InvalidValue {
        /// The file being parsed.
        file: String,
        /// Byte offset near the value.
        position: u64,
        /// The element or attribute (`"size@package"`).
        field: String,
        /// The offending value (truncated to 200 characters).
        value: String,
    },

    /// A location href (or `xml:base`) is not a safe relative path.
    #[error(transparent)]
    UnsafeHref(#[from] RelPathError),

    /// A checksum algorithm this crate does not implement (e.g. `md5`), or a
    /// malformed digest outside of a parsed document.
    #[error(transparent)]
    Checksum(#[from] ChecksumError),

    /// A file's checksum does not match the one the metadata promises.
    #[error("{file}: checksum mismatch, expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The file that was checked.
        file: String,
        /// Expected `kind:hex`.
        expected: String,
        /// Actual `kind:hex`.
        actual: String,
    },

    /// A file's size does not match the one the metadata promises.
    #[error("{file}: size mismatch, expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The file that was checked.
        file: String,
        /// Expected size in bytes.
        expected: u64,
        /// Actual size in bytes (so far, when the file was too long).
        actual: u64,
    },

    /// The declared `packages="N"` count does not match the packages written.
    #[error("{file}: {declared} packages were announced but {actual} were written")]
    CountMismatch {
        /// The file being written.
        file: String,
        /// The count given up front.
        declared: u64,
        /// The number of packages actually seen.
        actual: u64,
    },

    /// A compression format this module does not implement (e.g. `.zck`).
    #[error("{file}: unsupported compression {detail}")]
    UnsupportedCompression {
        /// The file (href) in question.
        file: String,
        /// What was found (extension or magic bytes).
        detail: String,
    },

    /// The file extension and the magic bytes disagree about the compression.
    #[error("{file}: name says {by_name} compression but the content looks like {by_content}")]
    CompressionMismatch {
        /// The file (href) in question.
        file: String,
        /// Compression according to the extension.
        by_name: &'static str,
        /// Compression according to the magic bytes.
        by_content: &'static str,
    },

    /// A compressed stream is corrupt.
    #[error("{file}: corrupt {format} data")]
    Corrupt {
        /// The compressed file.
        file: String,
        /// `gzip`, `xz`, `bzip2` or `zstd`.
        format: &'static str,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
}

impl MetadataError {
    /// Convert an `io::Error` from one of this module's readers
    /// ([`Decompressed`](super::Decompressed),
    /// [`VerifyingReader`](super::VerifyingReader), [`VerifiedReader`](super::VerifiedReader))
    /// back into the `MetadataError` it carries (`TooLarge`,
    /// `ChecksumMismatch`, ...); any other error becomes
    /// [`MetadataError::Io`] naming `file`.
    pub fn from_io(file: &str, err: io::Error) -> Self {
        let carries_payload = err.get_ref().is_some_and(|e| e.is::<MetadataError>());
        if !carries_payload {
            return MetadataError::Io {
                file: file.to_owned(),
                source: err,
            };
        }
        match err
            .into_inner()
            .map(|inner| inner.downcast::<MetadataError>())
        {
            Some(Ok(payload)) => *payload,
            // Unreachable in practice: the check above proved the payload type.
            _ => MetadataError::Io {
                file: file.to_owned(),
                source: io::Error::other("lost error payload"),
            },
        }
    }

    /// Package this error into an `io::Error` so it can travel through
    /// `Read` implementations and come back out via [`MetadataError::from_io`].
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}
