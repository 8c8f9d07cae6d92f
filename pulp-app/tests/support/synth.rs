//! Builds synthetic `.rpm` byte streams (lead + headers + payload), to feed
//! the reader shapes that rpmbuild never produces.

/// One header entry before layout: tag, type, count and its encoded data.
pub struct Entry {
    tag: u32,
    kind: u32,
    count: u32,
    data: Vec<u8>,
}

/// A `STRING` entry.
pub fn string(tag: u32, s: &str) -> Entry {
    let mut data = s.as_bytes().to_vec();
    data.push(0);
    Entry {
        tag,
        kind: 6,
        count: 1,
        data,
    }
}

/// An `I18NSTRING` entry with one (C locale) string.
pub fn i18n(tag: u32, s: &str) -> Entry {
    Entry {
        kind: 9,
        ..string(tag, s)
    }
}

/// A `STRING_ARRAY` entry.
pub fn strings(tag: u32, items: &[&str]) -> Entry {
    let mut data = Vec::new();
    for s in items {
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    }
    Entry {
        tag,
        kind: 8,
        count: items.len() as u32,
        data,
    }
}

/// An `INT32` array entry.
pub fn int32(tag: u32, values: &[u32]) -> Entry {
    Entry {
        tag,
        kind: 4,
        count: values.len() as u32,
        data: values.iter().flat_map(|v| v.to_be_bytes()).collect(),
    }
}

/// An `INT16` array entry.
pub fn int16(tag: u32, values: &[u16]) -> Entry {
    Entry {
        tag,
        kind: 3,
        count: values.len() as u32,
        data: values.iter().flat_map(|v| v.to_be_bytes()).collect(),
    }
}

/// An `INT64` array entry.
pub fn int64(tag: u32, values: &[u64]) -> Entry {
    Entry {
        tag,
        kind: 5,
        count: values.len() as u32,
        data: values.iter().flat_map(|v| v.to_be_bytes()).collect(),
    }
}

/// Lays out a header: intro, index, data store (with alignment padding).
pub fn header(entries: &[Entry]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for e in entries {
        let align = match e.kind {
            3 => 2,
            4 => 4,
            5 => 8,
            _ => 1,
        };
        while !data.len().is_multiple_of(align) {
            data.push(0);
        }
        for word in [e.tag, e.kind, data.len() as u32, e.count] {
            index.extend_from_slice(&word.to_be_bytes());
        }
        data.extend_from_slice(&e.data);
    }
    let mut out = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend(index);
    out.extend(data);
    out
}

/// The 96-byte lead.
pub fn lead() -> Vec<u8> {
    let mut lead = vec![0u8; 96];
    lead[..4].copy_from_slice(&[0xed, 0xab, 0xee, 0xdb]);
    lead[4] = 3;
    lead[9] = 1; // arch number
    lead[10..15].copy_from_slice(b"synth");
    lead[77] = 1; // os number
    lead[79] = 5; // header-style signature
    lead
}

/// A whole package: lead, signature header (padded to 8 bytes), main header, payload.
pub fn rpm(signature: &[Entry], main: &[Entry], payload: &[u8]) -> Vec<u8> {
    let mut out = lead();
    out.extend(header(signature));
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    out.extend(header(main));
    out.extend_from_slice(payload);
    out
}

/// The minimal main header entries: name, version, release, arch.
pub fn nevra_entries() -> Vec<Entry> {
    vec![
        string(1000, "synth"),
        string(1001, "1.0"),
        string(1002, "1"),
        string(1022, "noarch"),
    ]
}
