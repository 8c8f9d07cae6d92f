//! Decompression of metadata files with hard limits on output size and
//! compression ratio.
//!
//! yum repositories compress their XML with gzip (createrepo_c's default),
//! xz, bzip2 or zstd. The format is named by the file extension of the
//! `<location href>` and cross-checked against the magic bytes of the data.
//! Every decoder is wrapped so that it fails with
//! [`MetadataError::TooLarge`] or [`MetadataError::CompressionRatio`]
//! *while streaming*: a decompression bomb is refused after a few MiB of
//! output, and output is never accumulated in memory.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

use super::error::MetadataError;
use super::limits::Limits;
use crate::text::clip;

/// A compression format of a metadata file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Not compressed (`.xml`).
    None,
    /// gzip (`.gz`), possibly several concatenated members.
    Gzip,
    /// xz (`.xz`), possibly several concatenated streams.
    Xz,
    /// bzip2 (`.bz2`), possibly several concatenated streams.
    Bzip2,
    /// zstd (`.zst`), possibly several concatenated frames.
    Zstd,
}

impl Compression {
    /// The compression named by a file name or href's extension.
    ///
    /// ```
    /// use pulp_app::plugins::rpm::metadata::Compression;
    /// assert_eq!(Compression::from_path("repodata/x-primary.xml.gz").unwrap(), Compression::Gzip);
    /// assert_eq!(Compression::from_path("repodata/x-comps.xml").unwrap(), Compression::None);
    /// assert!(Compression::from_path("repodata/x-primary.xml.zck").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`MetadataError::UnsupportedCompression`] for compressed formats this
    /// module cannot read (`.zck`, `.lzma`, `.Z`, `.lz4`).
    pub fn from_path(href: &str) -> Result<Self, MetadataError> {
        let file_name = href.rsplit('/').next().unwrap_or(href);
        let ext = file_name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "gz" | "gzip" => Ok(Compression::Gzip),
            "xz" => Ok(Compression::Xz),
            "bz2" => Ok(Compression::Bzip2),
            "zst" | "zstd" => Ok(Compression::Zstd),
            "zck" | "lzma" | "z" | "lz4" | "lz" => Err(MetadataError::UnsupportedCompression {
                file: clip(href),
                detail: format!("extension .{ext}"),
            }),
            _ => Ok(Compression::None),
        }
    }

    /// The compression announced by the magic bytes at the start of `head`,
    /// or [`Compression::None`] if none matches. Four bytes suffice for
    /// gzip, bzip2 and zstd, six for xz.
    pub fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// Decide the compression of `href` whose data starts with `head`: the
    /// extension decides and the magic bytes must agree.
    ///
    /// # Errors
    ///
    /// [`MetadataError::CompressionMismatch`] when they disagree (e.g. a
    /// `.gz` file that is really xz, or plain XML named `.gz`),
    /// [`MetadataError::UnsupportedCompression`] as for [`Compression::from_path`].
    pub fn detect(href: &str, head: &[u8]) -> Result<Self, MetadataError> {
        let by_name = Compression::from_path(href)?;
        let by_content = Compression::sniff(head);
        if by_name != by_content && !head.is_empty() {
            return Err(MetadataError::CompressionMismatch {
                file: clip(href),
                by_name: by_name.name(),
                by_content: by_content.name(),
            });
        }
        Ok(by_name)
    }

    /// A short name: `none`, `gzip`, `xz`, `bzip2`, `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Wrap `reader` in a decoder for `compression` that enforces `limits`
/// (`max_decompressed_bytes`, `max_ratio` after `ratio_grace_bytes`).
///
/// Errors surface from `read` as `io::Error`s carrying a [`MetadataError`]
/// (`TooLarge`, `CompressionRatio`, `Corrupt`); the XML readers of this
/// module turn them back into that variant, and other callers use
/// [`MetadataError::from_io`].
///
/// ```
/// use std::io::Read;
/// use pulp_app::plugins::rpm::metadata::{open_decompressed, Compression, Limits};
/// let mut out = String::new();
/// open_decompressed(&b"<x/>"[..], Compression::None, &Limits::default())
///     .read_to_string(&mut out)
///     .unwrap();
/// assert_eq!(out, "<x/>");
/// ```
pub fn open_decompressed<R: Read>(
    reader: R,
    compression: Compression,
    limits: &Limits,
) -> Decompressed<R> {
    let source = Counting {
        inner: reader,
        count: 0,
        failed: false,
    };
    let decoder = match compression {
        Compression::None => Decoder::Plain(source),
        Compression::Gzip => Decoder::Gzip(flate2::read::MultiGzDecoder::new(source)),
        Compression::Xz => Decoder::Xz(xz2::read::XzDecoder::new_multi_decoder(source)),
        Compression::Bzip2 => Decoder::Bzip2(bzip2::read::MultiBzDecoder::new(source)),
        Compression::Zstd => Decoder::Zstd(Zstd::Pending(BufReader::new(source))),
    };
    Decompressed {
        decoder,
        compression,
        produced: 0,
        limits: *limits,
        name: "<stream>".to_owned(),
    }
}

/// Like [`open_decompressed`], but decide the compression from `href` and
/// the first bytes of `reader` ([`Compression::detect`]), and name errors
/// after `href`.
///
/// # Errors
///
/// [`MetadataError::Io`] if peeking fails, and the errors of
/// [`Compression::detect`].
pub fn open_detected<R: BufRead>(
    href: &str,
    mut reader: R,
    limits: &Limits,
) -> Result<Decompressed<R>, MetadataError> {
    let head = reader
        .fill_buf()
        .map_err(|e| MetadataError::from_io(href, e))?;
    let compression = Compression::detect(href, head)?;
    Ok(open_decompressed(reader, compression, limits).with_name(href))
}

/// A decompressing reader that enforces [`Limits`]. See [`open_decompressed`].
pub struct Decompressed<R: Read> {
    decoder: Decoder<R>,
    compression: Compression,
    produced: u64,
    limits: Limits,
    name: String,
}

impl<R: Read> fmt::Debug for Decompressed<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressed")
            .field("name", &self.name)
            .field("compression", &self.compression)
            .field("compressed", &self.compressed_bytes())
            .field("decompressed", &self.produced)
            .finish()
    }
}

impl<R: Read> Decompressed<R> {
    /// Name the stream (usually its href) in error messages.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Compressed bytes read from the source so far.
    pub fn compressed_bytes(&self) -> u64 {
        self.decoder.source_count()
    }

    /// Decompressed bytes produced so far.
    pub fn decompressed_bytes(&self) -> u64 {
        self.produced
    }

    /// The compression being decoded.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    fn check_limits(&self) -> Result<(), MetadataError> {
        if self.produced > self.limits.max_decompressed_bytes {
            return Err(MetadataError::TooLarge {
                file: self.name.clone(),
                limit: self.limits.max_decompressed_bytes,
            });
        }
        if self.compression != Compression::None && self.produced > self.limits.ratio_grace_bytes {
            let compressed = self.compressed_bytes().max(1);
            if self.produced > compressed.saturating_mul(self.limits.max_ratio) {
                return Err(MetadataError::CompressionRatio {
                    file: self.name.clone(),
                    compressed,
                    decompressed: self.produced,
                    limit: self.limits.max_ratio,
                });
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Decompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.decoder.read(buf) {
            Ok(n) => n,
            Err(err) => return Err(self.classify(err)),
        };
        self.produced += n as u64;
        self.check_limits().map_err(MetadataError::into_io)?;
        Ok(n)
    }
}

impl<R: Read> Decompressed<R> {
    /// Tell a failing source (passed through untouched) from corrupt
    /// compressed data (reported as [`MetadataError::Corrupt`]).
    fn classify(&self, err: io::Error) -> io::Error {
        let carries_metadata_error = err.get_ref().is_some_and(|e| e.is::<MetadataError>());
        if self.decoder.source_failed() || carries_metadata_error {
            return err;
        }
        MetadataError::Corrupt {
            file: self.name.clone(),
            format: self.compression.name(),
            source: err,
        }
        .into_io()
    }
}

/// Counts the compressed bytes and remembers whether the source failed.
struct Counting<R> {
    inner: R,
    count: u64,
    failed: bool,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count += n as u64;
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.failed = true;
                }
                Err(e)
            }
        }
    }
}

enum Decoder<R: Read> {
    Plain(Counting<R>),
    Gzip(flate2::read::MultiGzDecoder<Counting<R>>),
    Xz(xz2::read::XzDecoder<Counting<R>>),
    Bzip2(bzip2::read::MultiBzDecoder<Counting<R>>),
    Zstd(Zstd<R>),
}

impl<R: Read> Decoder<R> {
    fn counting(&self) -> Option<&Counting<R>> {
        match self {
            Decoder::Plain(c) => Some(c),
            Decoder::Gzip(d) => Some(d.get_ref()),
            Decoder::Xz(d) => Some(d.get_ref()),
            Decoder::Bzip2(d) => Some(d.get_ref()),
            Decoder::Zstd(Zstd::Pending(b)) => Some(b.get_ref()),
            Decoder::Zstd(Zstd::Frame(d)) => Some(d.get_ref().get_ref()),
            Decoder::Zstd(Zstd::Done { .. }) => None,
        }
    }

    fn source_count(&self) -> u64 {
        match self {
            Decoder::Zstd(Zstd::Done { count, .. }) => *count,
            other => other.counting().map_or(0, |c| c.count),
        }
    }

    fn source_failed(&self) -> bool {
        match self {
            Decoder::Zstd(Zstd::Done { failed, .. }) => *failed,
            other => other.counting().is_some_and(|c| c.failed),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Xz(r) => r.read(buf),
            Decoder::Bzip2(r) => r.read(buf),
            Decoder::Zstd(z) => z.read(buf),
        }
    }
}

type ZstdFrame<R> = StreamingDecoder<BufReader<Counting<R>>, FrameDecoder>;

/// ruzstd decodes one frame at a time; this walks through concatenated
/// frames until the source is exhausted.
enum Zstd<R: Read> {
    /// Nothing read yet (the frame header is parsed on the first `read`).
    Pending(BufReader<Counting<R>>),
    /// Inside a frame.
    Frame(Box<ZstdFrame<R>>),
    /// Finished, or failed while starting a frame.
    Done { count: u64, failed: bool },
}

impl<R: Read> Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::mem::replace(
                self,
                Zstd::Done {
                    count: 0,
                    failed: false,
                },
            ) {
                Zstd::Done { count, failed } => {
                    *self = Zstd::Done { count, failed };
                    return Ok(0);
                }
                Zstd::Pending(source) => {
                    *self = Self::start_frame(source, FrameDecoder::new())?;
                }
                Zstd::Frame(mut frame) => match frame.read(buf) {
                    Ok(0) if !buf.is_empty() => {
                        let (mut source, decoder) = frame.into_parts();
                        let more = match source.fill_buf() {
                            Ok(rest) => !rest.is_empty(),
                            Err(e) => {
                                *self = Zstd::Done {
                                    count: source.get_ref().count,
                                    failed: true,
                                };
                                return Err(e);
                            }
                        };
                        if more {
                            *self = Self::start_frame(source, decoder)?;
                        } else {
                            *self = Zstd::Done {
                                count: source.get_ref().count,
                                failed: false,
                            };
                            return Ok(0);
                        }
                    }
                    result => {
                        *self = Zstd::Frame(frame);
                        return result;
                    }
                },
            }
        }
    }

    /// Parse the next frame header. On failure the state becomes `Done`
    /// (remembering how much was read) and the error is returned.
    fn start_frame(source: BufReader<Counting<R>>, decoder: FrameDecoder) -> io::Result<Self> {
        let count = source.get_ref().count;
        match StreamingDecoder::new_with_decoder(source, decoder) {
            Ok(frame) => Ok(Zstd::Frame(Box::new(frame))),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                ZstdHeaderError { count, source: e },
            )),
        }
    }
}

/// A zstd frame header could not be parsed.
#[derive(Debug)]
struct ZstdHeaderError {
    count: u64,
    source: ruzstd::decoding::errors::FrameDecoderError,
}

impl fmt::Display for ZstdHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad zstd frame after {} bytes: {}",
            self.count, self.source
        )
    }
}

impl std::error::Error for ZstdHeaderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn names_and_magic() {
        assert_eq!(
            Compression::from_path("a/b.xml.xz").unwrap(),
            Compression::Xz
        );
        assert_eq!(
            Compression::from_path("b.sqlite.bz2").unwrap(),
            Compression::Bzip2
        );
        assert_eq!(
            Compression::from_path("b.xml.zst").unwrap(),
            Compression::Zstd
        );
        assert_eq!(
            Compression::from_path("repodata.d/b.xml").unwrap(),
            Compression::None
        );
        assert!(Compression::from_path("b.xml.zck").is_err());
        assert_eq!(Compression::sniff(b"\x1f\x8b\x08"), Compression::Gzip);
        assert_eq!(Compression::sniff(b"BZh9"), Compression::Bzip2);
        assert_eq!(Compression::sniff(b"\xfd7zXZ\x00"), Compression::Xz);
        assert_eq!(Compression::sniff(b"\x28\xb5\x2f\xfd"), Compression::Zstd);
        assert_eq!(Compression::sniff(b"<?xml"), Compression::None);
        assert!(matches!(
            Compression::detect("p.xml.gz", b"<?xml"),
            Err(MetadataError::CompressionMismatch {
                by_name: "gzip",
                by_content: "none",
                ..
            })
        ));
        assert!(Compression::detect("p.xml", b"\x1f\x8b").is_err());
    }

    #[test]
    fn detection_from_href_and_content() {
        let mut out = String::new();
        open_detected("repodata/x-comps.xml", &b"<comps/>"[..], &Limits::default())
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "<comps/>");
        let err = open_detected("x.xml.bz2", &b"<comps/>"[..], &Limits::default()).unwrap_err();
        assert!(
            matches!(err, MetadataError::CompressionMismatch { ref file, .. } if file == "x.xml.bz2")
        );
    }

    #[test]
    fn plain_input_is_size_limited() {
        let limits = Limits {
            max_decompressed_bytes: 10,
            ..Limits::default()
        };
        let mut reader = open_decompressed(&[b'x'; 100][..], Compression::None, &limits);
        let err = io::copy(&mut reader, &mut io::sink()).unwrap_err();
        assert!(matches!(
            MetadataError::from_io("t", err),
            MetadataError::TooLarge { limit: 10, .. }
        ));
    }

    #[test]
    fn gzip_round_trip_and_corruption() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"<metadata/>").unwrap();
        let gz = encoder.finish().unwrap();
        let mut out = String::new();
        open_decompressed(&gz[..], Compression::Gzip, &Limits::default())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "<metadata/>");
        let mut reader = open_decompressed(
            &b"\x1f\x8bnot gzip"[..],
            Compression::Gzip,
            &Limits::default(),
        )
        .with_name("x.gz");
        let err = MetadataError::from_io("x.gz", reader.read_to_string(&mut out).unwrap_err());
        assert!(
            matches!(err, MetadataError::Corrupt { format: "gzip", ref file, .. } if file == "x.gz")
        );
    }
}
