//! One RPM header structure: an index of typed entries over a data store.
//!
//! On disk a header is a 16-byte intro (magic `8e ad e8 01`, 4 reserved bytes,
//! the entry count and the data size, big-endian), then 16 bytes per index
//! entry (tag, type, offset, count) and then the data store. Parsing checks
//! every entry the way rpm itself does before anything reads it: the type is
//! known, count and offset are in range, the offset is aligned for the type,
//! the data fits in the store and does not overlap the previous entry's data.
//! The overlap rule also bounds the work: the whole store is scanned at most
//! once, whatever the entry count.

use std::borrow::Cow;

use super::error::{RpmError, Section};
use super::tags;

/// Size of a header's intro (magic, reserved bytes, entry count, data size).
pub(crate) const INTRO_LEN: usize = 16;
/// Size of one index entry.
pub(crate) const ENTRY_LEN: usize = 16;
/// The header magic plus the version byte.
pub(crate) const MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// rpm's limit on the number of index entries.
pub(crate) const MAX_ENTRIES: u32 = 0xffff;
/// rpm's limit on elements in one array entry.
const MAX_ARRAY: u32 = 0x000f_ffff;
/// Tags below this are reserved for regions (61..=63) and the i18n table.
const FIRST_DATA_TAG: u32 = 100;
/// The region tags (`HEADERIMAGE`, `HEADERSIGNATURES`, `HEADERIMMUTABLE`).
const REGION_TAGS: std::ops::RangeInclusive<u32> = 61..=63;

/// The data type of a header entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// `NULL` (0): never valid in a stored header.
    Null,
    /// `CHAR` (1): bytes.
    Char,
    /// `INT8` (2).
    Int8,
    /// `INT16` (3), big-endian.
    Int16,
    /// `INT32` (4), big-endian.
    Int32,
    /// `INT64` (5), big-endian.
    Int64,
    /// `STRING` (6): one NUL-terminated string.
    String,
    /// `BIN` (7): opaque bytes.
    Bin,
    /// `STRING_ARRAY` (8): NUL-terminated strings.
    StringArray,
    /// `I18NSTRING` (9): one string per locale; the first is the C locale's.
    I18nString,
}

impl EntryType {
    /// The type for a raw on-disk type number, if it is one.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => EntryType::Null,
            1 => EntryType::Char,
            2 => EntryType::Int8,
            3 => EntryType::Int16,
            4 => EntryType::Int32,
            5 => EntryType::Int64,
            6 => EntryType::String,
            7 => EntryType::Bin,
            8 => EntryType::StringArray,
            9 => EntryType::I18nString,
            _ => return None,
        })
    }

    /// The raw on-disk type number.
    pub fn raw(self) -> u32 {
        match self {
            EntryType::Null => 0,
            EntryType::Char => 1,
            EntryType::Int8 => 2,
            EntryType::Int16 => 3,
            EntryType::Int32 => 4,
            EntryType::Int64 => 5,
            EntryType::String => 6,
            EntryType::Bin => 7,
            EntryType::StringArray => 8,
            EntryType::I18nString => 9,
        }
    }

    /// Size of one element for fixed-size types, `None` for strings.
    fn element_size(self) -> Option<usize> {
        match self {
            EntryType::Null | EntryType::Char | EntryType::Int8 | EntryType::Bin => Some(1),
            EntryType::Int16 => Some(2),
            EntryType::Int32 => Some(4),
            EntryType::Int64 => Some(8),
            EntryType::String | EntryType::StringArray | EntryType::I18nString => None,
        }
    }

    fn is_numeric(self) -> bool {
        matches!(
            self,
            EntryType::Char
                | EntryType::Int8
                | EntryType::Int16
                | EntryType::Int32
                | EntryType::Int64
        )
    }

    fn is_string(self) -> bool {
        matches!(
            self,
            EntryType::String | EntryType::StringArray | EntryType::I18nString
        )
    }
}

/// One validated index entry: its data is `data[offset..offset + len]`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    kind: EntryType,
    offset: usize,
    count: usize,
    len: usize,
}

/// A parsed and validated header (signature or main).
#[derive(Debug, Clone)]
pub struct Header {
    section: Section,
    /// Sorted by tag, no duplicates.
    entries: Vec<Entry>,
    data: Vec<u8>,
}

impl Header {
    /// Parses an index (`16 * n` bytes) over a data store, validating every entry.
    ///
    /// # Errors
    ///
    /// [`RpmError::BadEntry`] for the first malformed entry and
    /// [`RpmError::DuplicateTag`] when a tag appears twice.
    pub(crate) fn parse(section: Section, index: &[u8], data: Vec<u8>) -> Result<Self, RpmError> {
        let dl = data.len();
        let mut entries = Vec::with_capacity(index.len() / ENTRY_LEN);
        let mut previous_end = 0usize;
        for (i, raw) in index.chunks_exact(ENTRY_LEN).enumerate() {
            let word = |k: usize| u32::from_be_bytes([raw[k], raw[k + 1], raw[k + 2], raw[k + 3]]);
            let (tag, kind_raw, offset_raw, count_raw) = (word(0), word(4), word(8), word(12));
            let index_no = u32::try_from(i).unwrap_or(u32::MAX);
            let bad = |reason: &'static str| RpmError::BadEntry {
                section,
                index: index_no,
                tag,
                kind: kind_raw,
                offset: offset_raw,
                count: count_raw,
                reason,
            };
            let is_region = i == 0 && REGION_TAGS.contains(&tag);
            if !is_region && tag < FIRST_DATA_TAG {
                return Err(bad("reserved tag number"));
            }
            let kind = match EntryType::from_raw(kind_raw) {
                Some(EntryType::Null) | None => return Err(bad("unknown or null data type")),
                Some(kind) => kind,
            };
            // Offsets are signed on disk; a negative one (as u32, above i32::MAX) is out of range.
            let offset = offset_raw as usize;
            let count = count_raw as usize;
            if offset_raw > i32::MAX as u32 || offset > dl {
                return Err(bad("data offset outside the data store"));
            }
            if count == 0 || count > dl {
                return Err(bad("element count is zero or larger than the data store"));
            }
            if kind != EntryType::Bin && count_raw > MAX_ARRAY {
                return Err(bad("array has more than 1048575 elements"));
            }
            if kind == EntryType::String && count != 1 {
                return Err(bad("a STRING entry must have count 1"));
            }
            let align = kind.element_size().unwrap_or(1);
            if !offset.is_multiple_of(align) {
                return Err(bad("data offset is not aligned for the data type"));
            }
            if !is_region && offset < previous_end {
                return Err(bad("data overlaps the previous entry's data"));
            }
            let len = match kind.element_size() {
                Some(size) => size
                    .checked_mul(count)
                    .filter(|len| offset + len <= dl)
                    .ok_or_else(|| bad("data runs past the end of the data store"))?,
                None => strings_len(&data[offset..], count)
                    .ok_or_else(|| bad("strings run past the end of the data store"))?,
            };
            if !is_region {
                previous_end = offset + len;
            }
            entries.push(Entry {
                tag,
                kind,
                offset,
                count,
                len,
            });
        }
        entries.sort_by_key(|e| e.tag);
        if let Some(pair) = entries.windows(2).find(|w| w[0].tag == w[1].tag) {
            return Err(RpmError::DuplicateTag {
                section,
                tag: pair[0].tag,
            });
        }
        Ok(Header {
            section,
            entries,
            data,
        })
    }

    /// Which header this is.
    pub fn section(&self) -> Section {
        self.section
    }

    /// Every entry as `(tag, type, element count)`, sorted by tag.
    pub fn entries(&self) -> impl Iterator<Item = (u32, EntryType, usize)> + '_ {
        self.entries.iter().map(|e| (e.tag, e.kind, e.count))
    }

    /// Whether the header has an entry for `tag`.
    pub fn contains(&self, tag: u32) -> bool {
        self.find(tag).is_some()
    }

    /// Size of the data store in bytes.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// The first string of a `STRING`, `STRING_ARRAY` or `I18NSTRING` entry
    /// (for i18n strings: the C locale's), decoded as UTF-8 with invalid
    /// sequences replaced by U+FFFD.
    ///
    /// # Errors
    ///
    /// [`RpmError::WrongTagType`] if the entry holds no strings.
    pub fn string(&self, tag: u32) -> Result<Option<Cow<'_, str>>, RpmError> {
        Ok(self.strings(tag)?.and_then(|mut s| s.next()))
    }

    /// All strings of a `STRING`, `STRING_ARRAY` or `I18NSTRING` entry.
    ///
    /// # Errors
    ///
    /// [`RpmError::WrongTagType`] if the entry holds no strings.
    pub fn strings(&self, tag: u32) -> Result<Option<Strings<'_>>, RpmError> {
        let Some(entry) = self.find(tag) else {
            return Ok(None);
        };
        if !entry.kind.is_string() {
            return Err(self.wrong_type(entry, "string"));
        }
        Ok(Some(Strings {
            rest: &self.data[entry.offset..entry.offset + entry.len],
            remaining: entry.count,
        }))
    }

    /// The first element of an integer entry (`CHAR`, `INT8` .. `INT64`).
    ///
    /// # Errors
    ///
    /// [`RpmError::WrongTagType`] if the entry is not an integer.
    pub fn number(&self, tag: u32) -> Result<Option<u64>, RpmError> {
        Ok(self.numbers(tag)?.and_then(|mut n| n.next()))
    }

    /// All elements of an integer entry (`CHAR`, `INT8` .. `INT64`), widened to `u64`.
    ///
    /// # Errors
    ///
    /// [`RpmError::WrongTagType`] if the entry is not an integer.
    pub fn numbers(&self, tag: u32) -> Result<Option<Numbers<'_>>, RpmError> {
        let Some(entry) = self.find(tag) else {
            return Ok(None);
        };
        if !entry.kind.is_numeric() {
            return Err(self.wrong_type(entry, "integer"));
        }
        Ok(Some(Numbers {
            bytes: &self.data[entry.offset..entry.offset + entry.len],
            width: entry.kind.element_size().unwrap_or(1),
            next: 0,
        }))
    }

    /// The raw bytes of a `BIN`, `CHAR` or `INT8` entry.
    ///
    /// # Errors
    ///
    /// [`RpmError::WrongTagType`] for other types.
    pub fn bytes(&self, tag: u32) -> Result<Option<&[u8]>, RpmError> {
        let Some(entry) = self.find(tag) else {
            return Ok(None);
        };
        match entry.kind {
            EntryType::Bin | EntryType::Char | EntryType::Int8 => {
                Ok(Some(&self.data[entry.offset..entry.offset + entry.len]))
            }
            _ => Err(self.wrong_type(entry, "bytes")),
        }
    }

    fn find(&self, tag: u32) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&tag, |e| e.tag)
            .ok()
            .map(|i| &self.entries[i])
    }

    fn wrong_type(&self, entry: &Entry, expected: &'static str) -> RpmError {
        RpmError::WrongTagType {
            section: self.section,
            tag: entry.tag,
            name: match self.section {
                Section::Main => tags::name(entry.tag),
                Section::Signature => "signature tag",
            },
            found: entry.kind.raw(),
            expected,
        }
    }
}

/// Length of `count` NUL-terminated strings at the start of `bytes`, if they fit.
fn strings_len(bytes: &[u8], count: usize) -> Option<usize> {
    let mut pos = 0;
    for _ in 0..count {
        let nul = bytes.get(pos..)?.iter().position(|&b| b == 0)?;
        pos += nul + 1;
    }
    Some(pos)
}

/// Iterator over the strings of an entry (see [`Header::strings`]).
#[derive(Debug, Clone)]
pub struct Strings<'a> {
    rest: &'a [u8],
    remaining: usize,
}

impl<'a> Iterator for Strings<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        // Validated at parse time: `remaining` NUL-terminated strings fill `rest`.
        let nul = self.rest.iter().position(|&b| b == 0)?;
        let (text, tail) = self.rest.split_at(nul);
        self.rest = tail.get(1..).unwrap_or_default();
        self.remaining -= 1;
        Some(String::from_utf8_lossy(text))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Strings<'_> {}

/// Iterator over the elements of an integer entry (see [`Header::numbers`]).
#[derive(Debug, Clone)]
pub struct Numbers<'a> {
    bytes: &'a [u8],
    width: usize,
    next: usize,
}

impl Numbers<'_> {
    /// The element at `index`, without consuming the iterator.
    pub fn get(&self, index: usize) -> Option<u64> {
        let start = index.checked_mul(self.width)?;
        let chunk = self.bytes.get(start..start.checked_add(self.width)?)?;
        Some(chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

impl Iterator for Numbers<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let value = self.get(self.next)?;
        self.next += 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.bytes.len() / self.width).saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Numbers<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: u32, kind: u32, offset: u32, count: u32) -> Vec<u8> {
        [tag, kind, offset, count]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect()
    }

    #[test]
    fn reads_typed_entries() {
        let mut index = entry(1000, 6, 0, 1);
        index.extend(entry(1001, 8, 4, 2));
        index.extend(entry(1002, 4, 8, 2));
        index.extend(entry(1003, 3, 16, 1));
        let data = b"abc\0x\0y\0\0\0\0\x07\xff\xff\xff\xff\x01\x02".to_vec();
        let h = Header::parse(Section::Main, &index, data).expect("valid header");
        assert_eq!(h.string(1000).unwrap().as_deref(), Some("abc"));
        let all: Vec<_> = h.strings(1001).unwrap().unwrap().collect();
        assert_eq!(all, ["x", "y"]);
        let nums: Vec<_> = h.numbers(1002).unwrap().unwrap().collect();
        assert_eq!(nums, [7, 0xffff_ffff]);
        assert_eq!(h.number(1003).unwrap(), Some(0x0102));
        assert!(matches!(
            h.numbers(1000),
            Err(RpmError::WrongTagType { tag: 1000, .. })
        ));
        assert!(h.string(4242).unwrap().is_none());
    }

    #[test]
    fn rejects_malformed_entries() {
        let cases: &[(Vec<u8>, &str)] = &[
            (entry(1000, 6, 0, 1), "strings run past"),
            (entry(1000, 4, 2, 1), "not aligned"),
            (entry(1000, 4, 0, 3), "runs past"),
            (entry(1000, 11, 0, 1), "unknown"),
            (entry(1000, 0, 0, 1), "null"),
            (entry(1000, 4, 0, 0), "count is zero"),
            (entry(1000, 4, 0x8000_0000, 1), "outside"),
            (entry(1000, 6, 0, 2), "count 1"),
            (entry(50, 4, 0, 1), "reserved"),
        ];
        for (index, reason_part) in cases {
            let err = Header::parse(Section::Main, index, b"abcdefgh".to_vec()).unwrap_err();
            match err {
                RpmError::BadEntry { reason, .. } => {
                    assert!(reason.contains(reason_part), "{reason} vs {reason_part}")
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_overlap_and_duplicates() {
        let mut index = entry(1000, 4, 0, 2);
        index.extend(entry(1001, 4, 4, 1));
        let err = Header::parse(Section::Main, &index, vec![0; 8]).unwrap_err();
        assert!(matches!(err, RpmError::BadEntry { reason, .. } if reason.contains("overlaps")));

        let mut index = entry(1000, 4, 0, 1);
        index.extend(entry(1000, 4, 4, 1));
        let err = Header::parse(Section::Main, &index, vec![0; 8]).unwrap_err();
        assert!(matches!(err, RpmError::DuplicateTag { tag: 1000, .. }));
    }
}
