//! Checking a stream against the checksum and size that metadata promises,
//! while it is being read.

use std::io::{self, Read};

use super::error::MetadataError;
use crate::checksum::{Checksum, HashingReader};

/// A reader adapter that hashes and counts what is read through it and
/// checks it against an expected checksum and size.
///
/// A stream longer than the expected size fails as soon as the extra byte
/// is read; at end of input a wrong size or checksum fails the final `read`
/// with an `io::Error` that carries [`MetadataError::SizeMismatch`] /
/// [`MetadataError::ChecksumMismatch`] (the parsers of this module unwrap it
/// back into that variant; other callers use [`MetadataError::from_io`]).
/// Without an expected checksum nothing is hashed, only counted.
#[derive(Debug)]
pub struct VerifyingReader<R> {
    inner: HashingReader<R>,
    file: String,
    checksum: Option<Checksum>,
    size: Option<u64>,
    verified: bool,
}

impl<R: Read> VerifyingReader<R> {
    /// Checks everything read from `inner` against `checksum` and `size`
    /// (each optional). `file` names the data in error messages.
    pub fn new(inner: R, file: &str, checksum: Option<&Checksum>, size: Option<u64>) -> Self {
        let inner = match checksum {
            Some(c) => HashingReader::new(inner, c.kind()),
            None => HashingReader::counting(inner),
        };
        VerifyingReader {
            inner,
            file: file.to_owned(),
            checksum: checksum.cloned(),
            size,
            verified: false,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.inner.bytes_read()
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        self.inner.get_ref()
    }

    fn size_mismatch(&self) -> Option<MetadataError> {
        let expected = self.size?;
        let actual = self.inner.bytes_read();
        (actual != expected).then(|| MetadataError::SizeMismatch {
            file: self.file.clone(),
            expected,
            actual,
        })
    }

    fn check_at_end(&mut self) -> Result<(), MetadataError> {
        self.verified = true;
        if let Some(err) = self.size_mismatch() {
            return Err(err);
        }
        if let Some(expected) = &self.checksum
            && let Some(actual) = self.inner.take_checksum()
            && actual != *expected
        {
            return Err(MetadataError::ChecksumMismatch {
                file: self.file.clone(),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if !buf.is_empty() && !self.verified {
                self.check_at_end().map_err(MetadataError::into_io)?;
            }
            return Ok(0);
        }
        if self.size.is_some_and(|size| self.inner.bytes_read() > size)
            && let Some(err) = self.size_mismatch()
        {
            return Err(err.into_io());
        }
        Ok(n)
    }
}

/// Reads `reader` to the end and checks it against `expected` and, if
/// given, `expected_size`. Returns the number of bytes read. Memory use is
/// constant.
///
/// # Errors
///
/// [`MetadataError::ChecksumMismatch`] / [`MetadataError::SizeMismatch`] when
/// the data differs, [`MetadataError::Io`] when reading fails.
pub fn verify_reader<R: Read>(
    file: &str,
    reader: R,
    expected: &Checksum,
    expected_size: Option<u64>,
) -> Result<u64, MetadataError> {
    let mut verifying = VerifyingReader::new(reader, file, Some(expected), expected_size);
    io::copy(&mut verifying, &mut io::sink()).map_err(|e| MetadataError::from_io(file, e))?;
    Ok(verifying.bytes_read())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::ChecksumKind;

    #[test]
    fn verifying_reader() {
        let good = Checksum::parse(
            "sha256",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        )
        .unwrap();
        assert_eq!(verify_reader("f", &b"abc"[..], &good, Some(3)).unwrap(), 3);
        assert!(matches!(
            verify_reader("f", &b"abd"[..], &good, None),
            Err(MetadataError::ChecksumMismatch { .. })
        ));
        assert!(matches!(
            verify_reader("f", &b"abcd"[..], &good, Some(3)),
            Err(MetadataError::SizeMismatch { actual: 4, .. })
        ));
        assert!(matches!(
            verify_reader("f", &b"ab"[..], &good, Some(3)),
            Err(MetadataError::SizeMismatch { actual: 2, .. })
        ));
    }

    #[test]
    fn size_only_and_nothing_expected() {
        let mut sized = VerifyingReader::new(&b"abc"[..], "f", None, Some(3));
        assert_eq!(io::copy(&mut sized, &mut io::sink()).unwrap(), 3);
        let mut short = VerifyingReader::new(&b"ab"[..], "f", None, Some(3));
        let err = io::copy(&mut short, &mut io::sink()).unwrap_err();
        assert!(matches!(
            MetadataError::from_io("f", err),
            MetadataError::SizeMismatch { expected: 3, .. }
        ));
        let mut free = VerifyingReader::new(&b"abcdef"[..], "f", None, None);
        assert_eq!(io::copy(&mut free, &mut io::sink()).unwrap(), 6);
        assert_eq!(free.bytes_read(), 6);
        let sha1 = Checksum::of(ChecksumKind::Sha1, b"xyz");
        assert_eq!(verify_reader("f", &b"xyz"[..], &sha1, None).unwrap(), 3);
    }
}
