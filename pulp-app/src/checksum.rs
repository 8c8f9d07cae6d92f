//! Checksums for the whole crate: the algorithms repository metadata names
//! ([`ChecksumKind`]), a validated digest of any of them ([`Checksum`]), the
//! SHA-256 that names a stored artifact ([`Sha256Digest`]), one streaming
//! [`Hasher`], and `Read` / `Write` adapters that hash what passes through
//! them ([`HashingReader`], [`HashingWriter`]).
//!
//! Digests come from hostile places (repomd.xml, primary.xml, remote
//! manifests), so every constructor validates: a [`Checksum`] always holds
//! lowercase hex of the right length for its algorithm, and a
//! [`Sha256Digest`] can never become a path such as `../x`.
//!
//! ```
//! use pulp_app::checksum::{Checksum, ChecksumKind, Hasher};
//!
//! let mut hasher = Hasher::new(ChecksumKind::Sha256);
//! hasher.update(b"a");
//! hasher.update(b"bc");
//! let expected = Checksum::parse(
//!     "sha256",
//!     "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
//! )?;
//! assert_eq!(hasher.finalize(), expected);
//! assert_eq!("sha".parse::<ChecksumKind>()?, ChecksumKind::Sha1);
//! # Ok::<(), pulp_app::checksum::ChecksumError>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use crate::text::clip;

/// Why a checksum name or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChecksumError {
    /// An algorithm name this crate does not implement (e.g. `md5`).
    #[error("unsupported checksum type {name:?} (supported: sha1, sha224, sha256, sha384, sha512)")]
    Unsupported {
        /// The rejected name (clipped to 200 bytes).
        name: String,
    },

    /// A digest that does not fit its algorithm (length or characters).
    #[error("invalid {kind} checksum {value:?}: expected {} hex characters", kind.hex_len())]
    Invalid {
        /// The algorithm.
        kind: ChecksumKind,
        /// The rejected value (clipped to 200 bytes).
        value: String,
    },

    /// A string that is not a [`Sha256Digest`] (64 lowercase hex characters).
    #[error("invalid sha256 digest {value:?}: expected 64 lowercase hex characters")]
    InvalidDigest {
        /// The rejected value (clipped to 200 bytes).
        value: String,
    },
}

/// A checksum algorithm used in repository metadata (repomd.xml,
/// primary.xml, updateinfo.xml, remote manifests).
///
/// Serialized in lowercase (`"sha256"`); parsed with [`FromStr`], which
/// accepts any case and the legacy yum name `sha` for SHA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumKind {
    /// SHA-1 (yum's `sha` and `sha1`).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256, what createrepo_c uses by default and what names artifacts.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ChecksumKind {
    /// Every supported algorithm, weakest first.
    pub const ALL: [ChecksumKind; 5] = [
        ChecksumKind::Sha1,
        ChecksumKind::Sha224,
        ChecksumKind::Sha256,
        ChecksumKind::Sha384,
        ChecksumKind::Sha512,
    ];

    /// The canonical lowercase name (`sha1`, `sha256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumKind::Sha1 => "sha1",
            ChecksumKind::Sha224 => "sha224",
            ChecksumKind::Sha256 => "sha256",
            ChecksumKind::Sha384 => "sha384",
            ChecksumKind::Sha512 => "sha512",
        }
    }

    /// Length of a digest in hex characters.
    pub fn hex_len(self) -> usize {
        match self {
            ChecksumKind::Sha1 => 40,
            ChecksumKind::Sha224 => 56,
            ChecksumKind::Sha256 => 64,
            ChecksumKind::Sha384 => 96,
            ChecksumKind::Sha512 => 128,
        }
    }
}

impl fmt::Display for ChecksumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChecksumKind {
    type Err = ChecksumError;

    /// Accepts the names yum metadata uses, in any case: `sha` (SHA-1),
    /// `sha1`, `sha224`, `sha256`, `sha384`, `sha512`.
    fn from_str(s: &str) -> Result<Self, ChecksumError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "sha" | "sha1" => ChecksumKind::Sha1,
            "sha224" => ChecksumKind::Sha224,
            "sha256" => ChecksumKind::Sha256,
            "sha384" => ChecksumKind::Sha384,
            "sha512" => ChecksumKind::Sha512,
            _ => return Err(ChecksumError::Unsupported { name: clip(s) }),
        })
    }
}

/// Whether `value` is non-empty and only ASCII hex digits (any case).
pub(crate) fn is_hex(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `value` is non-empty and only lowercase ASCII hex digits.
pub(crate) fn is_lower_hex(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A digest of some algorithm, validated and normalized to lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    kind: ChecksumKind,
    hex: String,
}

impl Checksum {
    /// Validates `value` as a digest of `kind`: hex (any case) of exactly
    /// [`ChecksumKind::hex_len`] characters. Stored in lowercase.
    ///
    /// # Errors
    ///
    /// [`ChecksumError::Invalid`] otherwise.
    pub fn new(kind: ChecksumKind, value: &str) -> Result<Self, ChecksumError> {
        if value.len() != kind.hex_len() || !is_hex(value) {
            return Err(ChecksumError::Invalid {
                kind,
                value: clip(value),
            });
        }
        Ok(Checksum {
            kind,
            hex: value.to_ascii_lowercase(),
        })
    }

    /// Parses an algorithm name as written in metadata (see
    /// [`ChecksumKind`]'s `FromStr`), then validates `value` as with
    /// [`Checksum::new`].
    ///
    /// # Errors
    ///
    /// [`ChecksumError::Unsupported`] or [`ChecksumError::Invalid`].
    pub fn parse(kind: &str, value: &str) -> Result<Self, ChecksumError> {
        Checksum::new(kind.parse()?, value)
    }

    /// A SHA-256 checksum from a digest.
    pub fn sha256(digest: Sha256Digest) -> Self {
        Checksum {
            kind: ChecksumKind::Sha256,
            hex: digest.to_hex(),
        }
    }

    /// The `kind` checksum of a byte slice.
    pub fn of(kind: ChecksumKind, data: &[u8]) -> Self {
        let mut hasher = Hasher::new(kind);
        hasher.update(data);
        hasher.finalize()
    }

    /// The algorithm.
    pub fn kind(&self) -> ChecksumKind {
        self.kind
    }

    /// The digest, lowercase hex, [`ChecksumKind::hex_len`] characters.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The digest as a [`Sha256Digest`], if this is a SHA-256 checksum.
    pub fn to_sha256(&self) -> Option<Sha256Digest> {
        if self.kind != ChecksumKind::Sha256 {
            return None;
        }
        Sha256Digest::parse(&self.hex).ok()
    }
}

impl fmt::Display for Checksum {
    /// `kind:hex`, e.g. `sha256:e3b0…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.hex)
    }
}

/// The SHA-256 digest that names an artifact.
///
/// Parsing is strict (exactly 64 lowercase hex characters), so a value taken
/// from hostile metadata can never become a path such as `../x`. Serialized
/// as that hex string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Parses 64 lowercase hex characters.
    ///
    /// # Errors
    ///
    /// [`ChecksumError::InvalidDigest`] for anything else (uppercase included).
    pub fn parse(value: &str) -> Result<Self, ChecksumError> {
        let invalid = || ChecksumError::InvalidDigest { value: clip(value) };
        if value.len() != 64 || !is_lower_hex(value) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(value, &mut bytes).map_err(|_| invalid())?;
        Ok(Sha256Digest(bytes))
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(data).into())
    }

    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Sha256Digest(bytes)
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as used in paths and metadata.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl FromStr for Sha256Digest {
    type Err = ChecksumError;

    fn from_str(s: &str) -> Result<Self, ChecksumError> {
        Sha256Digest::parse(s)
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = ChecksumError;

    fn try_from(s: String) -> Result<Self, ChecksumError> {
        Sha256Digest::parse(&s)
    }
}

impl From<Sha256Digest> for String {
    fn from(d: Sha256Digest) -> String {
        d.to_hex()
    }
}

/// A streaming hash over one of the [`ChecksumKind`] algorithms.
///
/// ```
/// use pulp_app::checksum::{ChecksumKind, Hasher};
///
/// let mut h = Hasher::new(ChecksumKind::Sha256);
/// h.update(b"abc");
/// assert!(h.finalize().hex().starts_with("ba7816bf"));
/// ```
#[derive(Clone)]
pub struct Hasher {
    kind: ChecksumKind,
    state: State,
}

#[derive(Clone)]
enum State {
    Sha1(Sha1),
    Sha224(Sha224),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher").field("kind", &self.kind).finish()
    }
}

impl Hasher {
    /// Starts a new hash.
    pub fn new(kind: ChecksumKind) -> Self {
        let state = match kind {
            ChecksumKind::Sha1 => State::Sha1(Sha1::new()),
            ChecksumKind::Sha224 => State::Sha224(Sha224::new()),
            ChecksumKind::Sha256 => State::Sha256(Sha256::new()),
            ChecksumKind::Sha384 => State::Sha384(Sha384::new()),
            ChecksumKind::Sha512 => State::Sha512(Sha512::new()),
        };
        Hasher { kind, state }
    }

    /// The algorithm.
    pub fn kind(&self) -> ChecksumKind {
        self.kind
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Sha1(h) => h.update(data),
            State::Sha224(h) => h.update(data),
            State::Sha256(h) => h.update(data),
            State::Sha384(h) => h.update(data),
            State::Sha512(h) => h.update(data),
        }
    }

    /// Finishes and returns the digest.
    pub fn finalize(self) -> Checksum {
        let hex = match self.state {
            State::Sha1(h) => hex::encode(h.finalize()),
            State::Sha224(h) => hex::encode(h.finalize()),
            State::Sha256(h) => hex::encode(h.finalize()),
            State::Sha384(h) => hex::encode(h.finalize()),
            State::Sha512(h) => hex::encode(h.finalize()),
        };
        Checksum {
            kind: self.kind,
            hex,
        }
    }
}

/// A reader adapter that counts every byte read through it and, unless
/// made with [`HashingReader::counting`], hashes it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Hashes everything read from `inner` with `kind`.
    pub fn new(inner: R, kind: ChecksumKind) -> Self {
        HashingReader {
            inner,
            hasher: Some(Hasher::new(kind)),
            count: 0,
        }
    }

    /// Only counts what is read from `inner` (no digest: cheaper for large
    /// streams that nothing needs to verify).
    pub fn counting(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: None,
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.count
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Stops hashing and returns the digest of everything read so far
    /// (`None` for a counting reader, or when already taken). Counting
    /// goes on.
    pub fn take_checksum(&mut self) -> Option<Checksum> {
        self.hasher.take().map(Hasher::finalize)
    }

    /// Stops and returns the digest of everything read (`None` as for
    /// [`take_checksum`](Self::take_checksum)) and the byte count.
    pub fn finish(self) -> (Option<Checksum>, u64) {
        (self.hasher.map(Hasher::finalize), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// A writer adapter that hashes and counts every byte written through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Hashes everything written to `inner` with `kind`.
    pub fn new(inner: W, kind: ChecksumKind) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(kind),
            count: 0,
        }
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.count
    }

    /// Stops and returns the wrapped writer, the digest and the byte count.
    pub fn finish(self) -> (W, Checksum, u64) {
        (self.inner, self.hasher.finalize(), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let cases = [
            (
                ChecksumKind::Sha1,
                "a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            (
                ChecksumKind::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (kind, hex) in cases {
            let mut h = Hasher::new(kind);
            h.update(b"a");
            h.update(b"bc");
            assert_eq!(h.finalize().hex(), hex);
        }
        for kind in ChecksumKind::ALL {
            let digest = Hasher::new(kind).finalize();
            assert_eq!(digest.hex().len(), kind.hex_len());
            assert_eq!(digest.kind(), kind);
            assert_eq!(kind.name().parse::<ChecksumKind>().unwrap(), kind);
        }
        assert_eq!(
            Checksum::of(ChecksumKind::Sha256, b"").to_sha256(),
            Some(Sha256Digest::of(b""))
        );
        assert_eq!(Checksum::of(ChecksumKind::Sha1, b"").to_sha256(), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            "SHA256".parse::<ChecksumKind>().unwrap(),
            ChecksumKind::Sha256
        );
        assert_eq!("SHA".parse::<ChecksumKind>().unwrap(), ChecksumKind::Sha1);
        assert!(matches!(
            "md5".parse::<ChecksumKind>(),
            Err(ChecksumError::Unsupported { .. })
        ));
        assert_eq!(
            serde_json::to_string(&ChecksumKind::Sha384).unwrap(),
            "\"sha384\""
        );
        assert_eq!(
            serde_json::from_str::<ChecksumKind>("\"sha512\"").unwrap(),
            ChecksumKind::Sha512
        );
    }

    #[test]
    fn checksums_validate_length_and_kind() {
        let c = Checksum::parse("sha1", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709").unwrap();
        assert_eq!(c.hex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(c.to_string(), format!("sha1:{}", c.hex()));
        let c = Checksum::parse("sha", "A9993E364706816ABA3E25717850C26C9CD0D89D").unwrap();
        assert_eq!(c.hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert!(Checksum::parse("sha1", "xyz").is_err());
        assert!(matches!(
            Checksum::parse("sha1", "da39a3ee"),
            Err(ChecksumError::Invalid {
                kind: ChecksumKind::Sha1,
                ..
            })
        ));
        assert!(Checksum::parse("sha256", &"z".repeat(64)).is_err());
        assert!(Checksum::parse("sha256", "").is_err());
    }

    #[test]
    fn digest_parsing_is_strict() {
        let good = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Sha256Digest::parse(good).unwrap(), Sha256Digest::of(b""));
        for bad in [
            "",
            "../../etc/passwd",
            &good.to_uppercase(),
            &good[..63],
            &format!("{good}0"),
            &format!("{}/", &good[..63]),
            &format!("{}g", &good[..63]),
            &format!("{}\u{e9}", &good[..62]),
        ] {
            assert!(
                matches!(
                    Sha256Digest::parse(bad),
                    Err(ChecksumError::InvalidDigest { .. })
                ),
                "{bad:?} must be rejected"
            );
        }
        // The conversions serde uses (`try_from = "String"`, `into = "String"`).
        let d = Sha256Digest::try_from(good.to_owned()).unwrap();
        assert_eq!(String::from(d), good);
        assert!(Sha256Digest::try_from("../x".to_owned()).is_err());
        assert_eq!(
            Checksum::sha256(d),
            Checksum::new(ChecksumKind::Sha256, good).unwrap()
        );
    }

    #[test]
    fn adapters_hash_and_count() {
        let mut reader = HashingReader::new(&b"abc"[..], ChecksumKind::Sha256);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(reader.bytes_read(), 3);
        let (digest, count) = reader.finish();
        assert_eq!(digest, Some(Checksum::of(ChecksumKind::Sha256, b"abc")));
        assert_eq!(count, 3);

        let mut counting = HashingReader::counting(&b"abcd"[..]);
        io::copy(&mut counting, &mut io::sink()).unwrap();
        assert_eq!(counting.take_checksum(), None);
        assert_eq!(counting.finish(), (None, 4));

        let mut writer = HashingWriter::new(Vec::new(), ChecksumKind::Sha1);
        writer.write_all(b"ab").unwrap();
        writer.write_all(b"c").unwrap();
        assert_eq!(writer.bytes_written(), 3);
        let (out, digest, count) = writer.finish();
        assert_eq!(out, b"abc");
        assert_eq!(digest, Checksum::of(ChecksumKind::Sha1, b"abc"));
        assert_eq!(count, 3);
    }
}
