//! Limits that keep hostile metadata from exhausting memory or CPU.

/// Bounds applied while decompressing and parsing untrusted metadata.
///
/// One value configures everything: [`open_decompressed`](super::open_decompressed)
/// uses the `*_decompressed_*` / ratio fields, the XML readers use the rest.
/// The defaults are generous for real distributions (Fedora, RHEL, openSUSE)
/// and small enough that a hostile repository cannot take the process down.
///
/// ```
/// use pulp_app::plugins::rpm::metadata::Limits;
///
/// let strict = Limits { max_depth: 16, ..Limits::default() };
/// assert_eq!(strict.max_value_bytes, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed size of one metadata file. Default 8 GiB.
    pub max_decompressed_bytes: u64,
    /// Largest accepted ratio of decompressed to compressed bytes, checked
    /// continuously once `ratio_grace_bytes` have been produced. Default 200
    /// (real repodata compresses 5–30:1; 1 GiB of zeros in gzip is ~1000:1).
    pub max_ratio: u64,
    /// Decompressed bytes produced before the ratio is enforced. Default 1 MiB.
    pub ratio_grace_bytes: u64,
    /// Deepest element nesting. Default 64 (real repodata needs fewer than 8).
    pub max_depth: usize,
    /// Longest text content or attribute value after unescaping. Default 1 MiB.
    pub max_value_bytes: usize,
    /// Longest raw XML token (a tag with its attributes, a text run, a
    /// comment, CDATA section or DOCTYPE) the tokenizer may buffer. This is
    /// the hard memory bound of the tokenizer. Default 8 MiB.
    pub max_token_bytes: usize,
    /// Most entries in one list of one package (files, each dependency kind,
    /// changelogs), advisory (packages, references) or comps group.
    /// Default 1,000,000.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 8 << 30,
            max_ratio: 200,
            ratio_grace_bytes: 1 << 20,
            max_depth: 64,
            max_value_bytes: 1 << 20,
            max_token_bytes: 8 << 20,
            max_entries: 1_000_000,
        }
    }
}
