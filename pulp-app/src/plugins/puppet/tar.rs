//! A small, bounded reader of tar archives: it walks the member headers of
//! a ustar, GNU or PAX archive and reads a member's data on request, and
//! nothing else (it never writes to disk).
//!
//! Bounds, so a hostile archive cannot make it allocate or spin: headers
//! must carry a valid checksum; long names (GNU `L`/`K`) are at most
//! [`MAX_NAME`] bytes and PAX headers at most [`MAX_PAX`] bytes; an archive
//! has at most [`MAX_MEMBERS`] members; member data is only read into
//! memory up to a limit the caller gives. The first all-zero block ends the
//! archive; end of input at a block boundary does too (as GNU tar accepts);
//! end of input inside a block or a member is an error.

use std::io::{self, Read};

/// Longest member or link name, in bytes (GNU long names included).
pub const MAX_NAME: u64 = 4096;
/// Largest PAX extended header, in bytes.
pub const MAX_PAX: u64 = 64 * 1024;
/// Most members in one archive.
pub const MAX_MEMBERS: usize = 100_000;

const BLOCK: usize = 512;

/// Why an archive cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TarError {
    /// Reading the input failed (including decompression errors).
    #[error("reading the archive: {0}")]
    Io(#[from] io::Error),
    /// The input ends inside a header or a member.
    #[error("the archive is truncated")]
    Truncated,
    /// A header that is not a tar header.
    #[error("invalid tar header: {0}")]
    BadHeader(String),
    /// Something larger than the reader accepts.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge {
        /// What.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// More than [`MAX_MEMBERS`] members.
    #[error("more than {MAX_MEMBERS} members")]
    TooManyMembers,
}

/// What kind of member a header describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link to `target`.
    Symlink {
        /// Where it points.
        target: String,
    },
    /// A hard link to `target`.
    HardLink {
        /// What it links to.
        target: String,
    },
    /// A device, FIFO, sparse file or other type (the type flag).
    Other(char),
}

/// One member header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its path as written (ustar prefix, GNU long name or PAX `path`
    /// applied).
    pub path: String,
    /// Its kind.
    pub kind: MemberKind,
    /// Size of its data in bytes.
    pub size: u64,
}

/// Walks the members of a tar archive read from `R`.
#[derive(Debug)]
pub struct TarReader<R> {
    inner: R,
    /// Data (with padding) of the current member not read yet.
    pending: u64,
    /// Data of the current member not read yet (without padding).
    unread: u64,
    members: usize,
    ended: bool,
}

/// Extended settings carried by GNU and PAX headers for the next member.
#[derive(Debug, Default)]
struct Extensions {
    path: Option<String>,
    link: Option<String>,
    size: Option<u64>,
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK as u64) * BLOCK as u64
}

fn field_str(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

fn utf8(what: &str, bytes: &[u8]) -> Result<String, TarError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| TarError::BadHeader(format!("{what} is not UTF-8")))
}

/// An octal number field, or a GNU base-256 one (first byte's high bit set).
fn number(field: &[u8], what: &str) -> Result<u64, TarError> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n
                .checked_mul(256)
                .and_then(|n| n.checked_add(u64::from(b)))
                .ok_or_else(|| TarError::BadHeader(format!("{what} overflows")))?;
        }
        return Ok(n);
    }
    let text = field_str(field);
    let text = std::str::from_utf8(text)
        .map_err(|_| TarError::BadHeader(format!("{what} is not a number")))?
        .trim_matches(|c| c == ' ' || c == '\0');
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| TarError::BadHeader(format!("{what} is not octal")))
}

impl<R: Read> TarReader<R> {
    /// A reader at the start of an archive.
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            pending: 0,
            unread: 0,
            members: 0,
            ended: false,
        }
    }

    /// Reads exactly one block; `Ok(false)` at end of input before it.
    fn block(&mut self, buf: &mut [u8; BLOCK]) -> Result<bool, TarError> {
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(TarError::Truncated),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// Skips `n` bytes of input.
    fn skip(&mut self, n: u64) -> Result<(), TarError> {
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if copied < n {
            return Err(TarError::Truncated);
        }
        Ok(())
    }

    /// Reads `size` bytes of data (plus padding) into memory, refusing more
    /// than `limit`.
    fn data(&mut self, size: u64, limit: u64, what: &str) -> Result<Vec<u8>, TarError> {
        if size > limit {
            return Err(TarError::TooLarge {
                what: what.to_owned(),
                limit,
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        (&mut self.inner).take(size).read_to_end(&mut buf)?;
        if (buf.len() as u64) < size {
            return Err(TarError::Truncated);
        }
        self.skip(padded(size) - size)?;
        Ok(buf)
    }

    /// The next member, after skipping what is left of the current one;
    /// `None` at the end of the archive.
    ///
    /// # Errors
    /// [`TarError`] for a malformed or oversized archive.
    pub fn next_member(&mut self) -> Result<Option<Member>, TarError> {
        if self.ended {
            return Ok(None);
        }
        let pending = std::mem::take(&mut self.pending);
        self.unread = 0;
        self.skip(pending)?;
        let mut ext = Extensions::default();
        let mut header = [0u8; BLOCK];
        loop {
            if !self.block(&mut header)? || header.iter().all(|&b| b == 0) {
                self.ended = true;
                return Ok(None);
            }
            self.members += 1;
            if self.members > MAX_MEMBERS {
                return Err(TarError::TooManyMembers);
            }
            let stored = number(&header[148..156], "the header checksum")?;
            let unsigned: u64 = header
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        u64::from(b)
                    }
                })
                .sum();
            let signed: i64 = header
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        i64::from(b as i8)
                    }
                })
                .sum();
            if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
                return Err(TarError::BadHeader("checksum mismatch".to_owned()));
            }
            let size = number(&header[124..136], "the member size")?;
            let flag = header[156];
            match flag {
                b'L' => {
                    let name = self.data(size, MAX_NAME, "a GNU long name")?;
                    ext.path = Some(utf8("a long name", field_str(&name))?);
                    continue;
                }
                b'K' => {
                    let name = self.data(size, MAX_NAME, "a GNU long link name")?;
                    ext.link = Some(utf8("a long link name", field_str(&name))?);
                    continue;
                }
                b'x' => {
                    let records = self.data(size, MAX_PAX, "a PAX header")?;
                    pax(&records, &mut ext)?;
                    continue;
                }
                b'g' => {
                    self.data(size, MAX_PAX, "a PAX global header")?;
                    continue;
                }
                _ => {}
            }
            let ustar = &header[257..263] == b"ustar\0";
            let name = field_str(&header[..100]);
            let prefix = field_str(&header[345..500]);
            let path = match ext.path.take() {
                Some(p) => p,
                None if ustar && !prefix.is_empty() => {
                    format!(
                        "{}/{}",
                        utf8("a name prefix", prefix)?,
                        utf8("a name", name)?
                    )
                }
                None => utf8("a name", name)?,
            };
            let link = match ext.link.take() {
                Some(l) => l,
                None => utf8("a link name", field_str(&header[157..257]))?,
            };
            let size = ext.size.take().unwrap_or(size);
            let kind = match flag {
                b'0' | 0 | b'7' if path.ends_with('/') => MemberKind::Directory,
                b'0' | 0 | b'7' => MemberKind::File,
                b'5' => MemberKind::Directory,
                b'2' => MemberKind::Symlink { target: link },
                b'1' => MemberKind::HardLink { target: link },
                other => MemberKind::Other(char::from(other)),
            };
            // Links and directories carry no data, whatever the size says.
            let data = match kind {
                MemberKind::File | MemberKind::Other(_) => size,
                _ => 0,
            };
            self.pending = padded(data);
            self.unread = data;
            return Ok(Some(Member { path, kind, size }));
        }
    }

    /// Reads the current member's data, refusing more than `limit` bytes.
    ///
    /// # Errors
    /// [`TarError::TooLarge`] past `limit`; read errors.
    pub fn read_data(&mut self, limit: u64, what: &str) -> Result<Vec<u8>, TarError> {
        let size = std::mem::take(&mut self.unread);
        self.pending = 0;
        self.data(size, limit, what)
    }
}

/// Applies the `path`, `linkpath` and `size` records of a PAX header.
fn pax(records: &[u8], ext: &mut Extensions) -> Result<(), TarError> {
    let bad = |why: &str| TarError::BadHeader(format!("PAX header: {why}"));
    let mut rest = records;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("a record has no length"))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("a record length is not a number"))?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad("a record length is wrong"));
        }
        let record = &rest[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("a record has no '='"))?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => ext.path = Some(utf8("a PAX path", value)?),
            b"linkpath" => ext.link = Some(utf8("a PAX link path", value)?),
            b"size" => {
                ext.size = Some(
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| bad("size is not a number"))?,
                );
            }
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header for `name` (type `flag`, `size` bytes).
    fn header(name: &str, flag: u8, size: u64) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = flag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn member(out: &mut Vec<u8>, name: &str, flag: u8, data: &[u8]) {
        out.extend_from_slice(&header(name, flag, data.len() as u64));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }

    #[test]
    fn walks_members_and_reads_data() {
        let mut a = Vec::new();
        member(&mut a, "m/", b'5', b"");
        member(&mut a, "m/big.bin", b'0', &[1u8; 1500]);
        member(&mut a, "m/metadata.json", b'0', b"{}");
        let long = format!("m/{}", "d/".repeat(80) + "deep.txt");
        member(&mut a, "././@LongLink", b'L', long.as_bytes());
        member(&mut a, "m/short", b'0', b"x");
        member(&mut a, "pax", b'x', b"30 path=m/from-pax-header.txt\n");
        member(&mut a, "m/ignored", b'0', b"yy");
        member(&mut a, "m/link", b'2', b"");
        a.extend_from_slice(&[0u8; 1024]);
        let mut r = TarReader::new(a.as_slice());
        let mut seen = Vec::new();
        while let Some(m) = r.next_member().unwrap() {
            if m.path == "m/metadata.json" {
                assert_eq!(r.read_data(10, "metadata").unwrap(), b"{}");
            }
            seen.push((m.path, m.kind, m.size));
        }
        assert_eq!(seen[0], ("m/".into(), MemberKind::Directory, 0));
        assert_eq!(seen[1], ("m/big.bin".into(), MemberKind::File, 1500));
        assert_eq!(seen[3].0, long, "GNU long name");
        assert_eq!(seen[4].0, "m/from-pax-header.txt", "PAX path");
        assert_eq!(seen[4].2, 2);
        assert!(matches!(seen[5].1, MemberKind::Symlink { .. }));
        assert!(r.next_member().unwrap().is_none());
    }

    #[test]
    fn refuses_broken_and_oversized_archives() {
        let mut a = Vec::new();
        member(&mut a, "m/metadata.json", b'0', &[b' '; 2000]);
        let mut r = TarReader::new(a.as_slice());
        r.next_member().unwrap();
        assert!(matches!(
            r.read_data(1000, "metadata.json"),
            Err(TarError::TooLarge { .. })
        ));
        // A corrupted header.
        let mut bad = a.clone();
        bad[0] = b'n';
        assert!(matches!(
            TarReader::new(bad.as_slice()).next_member(),
            Err(TarError::BadHeader(_))
        ));
        // Truncated inside a member.
        let cut = &a[..700];
        let mut r = TarReader::new(cut);
        r.next_member().unwrap();
        assert!(matches!(r.next_member(), Err(TarError::Truncated)));
        // A long name past the limit.
        let mut l = Vec::new();
        member(&mut l, "././@LongLink", b'L', &vec![b'a'; 5000]);
        assert!(matches!(
            TarReader::new(l.as_slice()).next_member(),
            Err(TarError::TooLarge { .. })
        ));
    }
}
