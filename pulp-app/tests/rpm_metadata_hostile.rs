//! Hostile inputs: each must fail fast with the right error variant,
//! without panicking and without unbounded memory.

use std::io::{self, BufReader, Read, Write};

use flate2::write::GzEncoder;
use pulp_app::checksum::{Checksum, ChecksumError, ChecksumKind};
use pulp_app::plugins::rpm::metadata::{
    Compression, Comps, FilelistsReader, Limits, MetadataError, PrimaryReader, RepoMd,
    UpdateInfoReader, open_decompressed,
};

/// A primary.xml with one package whose body is `body` (inside <package>).
fn primary_with(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm">{body}</package>
</metadata>"#
    )
}

const GOOD_BODY: &str = r#"<name>a</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>
<checksum type="sha256" pkgid="YES">e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855</checksum>"#;

fn parse_primary(
    xml: &str,
    limits: &Limits,
) -> Result<Vec<pulp_app::plugins::rpm::model::Package>, MetadataError> {
    PrimaryReader::with_options(xml.as_bytes(), "primary.xml", limits)?.collect()
}

fn with_location(href: &str) -> String {
    primary_with(&format!("{GOOD_BODY}<location href=\"{href}\"/>"))
}

#[test]
fn the_baseline_document_parses() {
    let pkgs = parse_primary(
        &with_location("Packages/a-1-1.noarch.rpm"),
        &Limits::default(),
    )
    .expect("baseline");
    assert_eq!(pkgs.len(), 1);
}

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE metadata [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str("]>\n<metadata packages=\"1\"><package><name>&lol9;</name></package></metadata>");
    let err = parse_primary(&xml, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, MetadataError::Doctype { ref file, .. } if file == "primary.xml"),
        "{err}"
    );
    // The same entity used without a DOCTYPE is an unknown entity.
    let xml = primary_with(&format!("<name>&lol9;</name>{GOOD_BODY}"));
    let err = parse_primary(&xml, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, MetadataError::Entity { ref name, .. } if name == "lol9"),
        "{err}"
    );
    // Also in other documents and in attribute values.
    let err = Comps::parse(&b"<!DOCTYPE comps [<!ENTITY x \"y\">]><comps/>"[..]).unwrap_err();
    assert!(matches!(err, MetadataError::Doctype { .. }), "{err}");
    let err = parse_primary(&with_location("&xxe;"), &Limits::default()).unwrap_err();
    assert!(matches!(err, MetadataError::Entity { .. }), "{err}");
}

#[test]
fn nesting_depth_bomb() {
    let depth = 100_000;
    let xml = primary_with(&format!("{}{}", "<x>".repeat(depth), "</x>".repeat(depth)));
    let err = parse_primary(&xml, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, MetadataError::TooDeep { limit: 64, .. }),
        "{err}"
    );
    let err = UpdateInfoReader::new(format!("<updates>{}", "<update>".repeat(1000)).as_bytes())
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MetadataError::TooDeep { .. }), "{err}");
}

/// An endless-looking gzip stream: the same member (1 MiB of zeros,
/// ~1 KiB compressed) repeated `members` times, generated on the fly.
struct GzipBomb {
    member: Vec<u8>,
    remaining: u64,
    offset: usize,
}

impl GzipBomb {
    fn new(members: u64) -> Self {
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; 1 << 20]).unwrap();
        GzipBomb {
            member: encoder.finish().unwrap(),
            remaining: members,
            offset: 0,
        }
    }
}

impl Read for GzipBomb {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = buf.len().min(self.member.len() - self.offset);
        buf[..n].copy_from_slice(&self.member[self.offset..self.offset + n]);
        self.offset += n;
        if self.offset == self.member.len() {
            self.offset = 0;
            self.remaining -= 1;
        }
        Ok(n)
    }
}

#[test]
fn gzip_bomb_fails_fast_on_the_ratio() {
    // 10 GiB of zeros, about 10 MiB of gzip, never materialized. "Fast" is
    // measured in bytes, not seconds: it stops within the first 64 MiB.
    let bomb = open_decompressed(
        GzipBomb::new(10 * 1024),
        Compression::Gzip,
        &Limits::default(),
    )
    .with_name("repodata/bomb-primary.xml.gz");
    let Err(err) = PrimaryReader::with_options(BufReader::new(bomb), "bomb", &Limits::default())
    else {
        panic!("bomb accepted")
    };
    match &err {
        MetadataError::CompressionRatio {
            file,
            decompressed,
            limit,
            ..
        } => {
            assert_eq!(file, "repodata/bomb-primary.xml.gz");
            assert_eq!(*limit, 200);
            assert!(*decompressed < 64 << 20, "stopped late: {decompressed}");
        }
        other => panic!("expected CompressionRatio, got {other}"),
    }

    // With the ratio check out of the way, the size limit stops it.
    let limits = Limits {
        max_ratio: u64::MAX,
        max_decompressed_bytes: 256 << 20,
        ..Limits::default()
    };
    let mut reader = open_decompressed(GzipBomb::new(10 * 1024), Compression::Gzip, &limits);
    let err = io::copy(&mut reader, &mut io::sink()).unwrap_err();
    let err = MetadataError::from_io("bomb", err);
    assert!(
        matches!(err, MetadataError::TooLarge { limit, .. } if limit == 256 << 20),
        "{err}"
    );
    assert!(reader.decompressed_bytes() <= (256 << 20) + (1 << 20));
}

#[test]
fn unsafe_location_hrefs() {
    for href in [
        "../../etc/passwd",
        "/etc/passwd",
        "a//b",
        "a\\b",
        "Packages/../../x",
        "file:///etc/passwd",
    ] {
        let err = parse_primary(&with_location(href), &Limits::default()).unwrap_err();
        assert!(matches!(err, MetadataError::UnsafeHref(_)), "{href}: {err}");
        assert!(
            err.to_string().contains(&format!("{href:?}")),
            "message names the href: {err}"
        );
    }
    let err = parse_primary(&with_location("a&#0;b"), &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::Xml { .. } | MetadataError::UnsafeHref(_)
        ),
        "{err}"
    );
    let xml = primary_with(&format!(
        "{GOOD_BODY}<location xml:base=\"file:///etc/\" href=\"passwd\"/>"
    ));
    let err = parse_primary(&xml, &Limits::default()).unwrap_err();
    assert!(matches!(err, MetadataError::UnsafeHref(_)), "{err}");
    let repomd = r#"<repomd><data type="primary"><checksum type="sha256">e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855</checksum><location href="../primary.xml.gz"/></data></repomd>"#;
    let err = RepoMd::parse(repomd.as_bytes()).unwrap_err();
    assert!(matches!(err, MetadataError::UnsafeHref(_)), "{err}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn repomd_for(href: &str, checksum: &str, size: usize, open: Option<(&str, usize)>) -> RepoMd {
    let open = open.map_or(String::new(), |(sum, size)| {
        format!("<open-checksum type=\"sha256\">{sum}</open-checksum><open-size>{size}</open-size>")
    });
    let xml = format!(
        r#"<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision><data type="primary"><checksum type="sha256">{checksum}</checksum>{open}<location href="{href}"/><size>{size}</size></data></repomd>"#
    );
    RepoMd::parse(xml.as_bytes()).unwrap()
}

#[test]
fn repomd_record_checksum_and_size_mismatch() {
    let xml = with_location("a.rpm");
    let gz = gzip(xml.as_bytes());
    let good = Checksum::of(ChecksumKind::Sha256, &gz).hex().to_owned();
    let open = Checksum::of(ChecksumKind::Sha256, xml.as_bytes())
        .hex()
        .to_owned();
    let limits = Limits::default();
    let parse = |md: &RepoMd| -> Result<usize, MetadataError> {
        let record = md.record("primary").unwrap();
        let input = record.open_verified(&gz[..], &limits)?;
        let pkgs: Vec<_> = PrimaryReader::with_options(input, &record.location_href, &limits)?
            .collect::<Result<_, _>>()?;
        Ok(pkgs.len())
    };
    assert_eq!(
        parse(&repomd_for(
            "repodata/p.xml.gz",
            &good,
            gz.len(),
            Some((&open, xml.len()))
        ))
        .unwrap(),
        1
    );

    let wrong = "1".repeat(64);
    let err = parse(&repomd_for("repodata/p.xml.gz", &wrong, gz.len(), None)).unwrap_err();
    assert!(
        matches!(&err, MetadataError::ChecksumMismatch { file, expected, .. } if file == "repodata/p.xml.gz" && expected.ends_with(&wrong)),
        "{err}"
    );
    let err = parse(&repomd_for(
        "repodata/p.xml.gz",
        &good,
        gz.len(),
        Some((&wrong, xml.len())),
    ))
    .unwrap_err();
    assert!(
        matches!(&err, MetadataError::ChecksumMismatch { file, .. } if file.contains("decompressed")),
        "{err}"
    );
    let err = parse(&repomd_for("repodata/p.xml.gz", &good, gz.len() - 1, None)).unwrap_err();
    assert!(matches!(err, MetadataError::SizeMismatch { .. }), "{err}");
    let err = parse(&repomd_for("repodata/p.xml.xz", &good, gz.len(), None)).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::CompressionMismatch {
                by_name: "xz",
                by_content: "gzip",
                ..
            }
        ),
        "{err}"
    );
    let err = parse(&repomd_for("repodata/p.xml.zck", &good, gz.len(), None)).unwrap_err();
    assert!(
        matches!(err, MetadataError::UnsupportedCompression { .. }),
        "{err}"
    );
    let md5 = r#"<repomd><data type="primary"><checksum type="md5">d41d8cd98f00b204e9800998ecf8427e</checksum><location href="p.xml"/></data></repomd>"#;
    let err = RepoMd::parse(md5.as_bytes()).unwrap_err();
    assert!(
        matches!(err, MetadataError::Checksum(ChecksumError::Unsupported { ref name }) if name == "md5"),
        "{err}"
    );
    assert!(Checksum::parse("sha256", "abc").is_err());
}

#[test]
fn truncated_xml_and_truncated_compression() {
    let xml = with_location("a.rpm");
    for cut in [xml.len() / 2, xml.len() - 12, xml.len() - 1] {
        let err = parse_primary(&xml[..cut], &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                MetadataError::Truncated { .. } | MetadataError::Xml { .. }
            ),
            "cut at {cut}: {err}"
        );
    }
    let err = parse_primary(&xml[..xml.len() - 12], &Limits::default()).unwrap_err();
    assert!(
        matches!(err, MetadataError::Truncated { ref open_element, .. } if open_element == "metadata"),
        "{err}"
    );
    let gz = gzip(xml.as_bytes());
    let reader = open_decompressed(&gz[..gz.len() - 20], Compression::Gzip, &Limits::default())
        .with_name("p.xml.gz");
    let err =
        match PrimaryReader::with_options(BufReader::new(reader), "p.xml.gz", &Limits::default()) {
            Ok(r) => r.collect::<Result<Vec<_>, _>>().unwrap_err(),
            Err(e) => e,
        };
    assert!(
        matches!(err, MetadataError::Corrupt { format: "gzip", .. }),
        "{err}"
    );
    let err = FilelistsReader::new(&b"<filelists><package pkgid=\"x\" name=\"y\"><file>/a"[..])
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MetadataError::Truncated { .. }), "{err}");
}

#[test]
fn huge_attribute_and_text_values() {
    // 2 MiB attribute: over max_value_bytes (1 MiB), under max_token_bytes.
    let name = "n".repeat(2 << 20);
    let xml = primary_with(&format!(
        "{GOOD_BODY}<location href=\"a.rpm\"/><format><rpm:requires><rpm:entry name=\"{name}\"/></rpm:requires></format>"
    ));
    let err = parse_primary(&xml, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, MetadataError::ValueTooLarge { what: "attribute value", limit, .. } if limit == 1 << 20),
        "{err}"
    );
    // 20 MiB attribute: stopped by the tokenizer guard before it is buffered.
    let name = "n".repeat(20 << 20);
    let xml = primary_with(&format!("{GOOD_BODY}<location href=\"{name}\"/>"));
    let err = parse_primary(&xml, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::ValueTooLarge {
                what: "XML token",
                ..
            }
        ),
        "{err}"
    );
    // 2 MiB of text split by entity references still counts as one value.
    let text = "ab&amp;".repeat(400_000);
    let xml = primary_with(&format!("<description>{text}</description>{GOOD_BODY}"));
    let err = parse_primary(&xml, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, MetadataError::ValueTooLarge { what: "text", .. }),
        "{err}"
    );
}

#[test]
fn too_many_entries_and_missing_fields() {
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let files = "<file>/usr/bin/x</file>".repeat(11);
    let xml = primary_with(&format!(
        "{GOOD_BODY}<location href=\"a.rpm\"/><format>{files}</format>"
    ));
    let err = parse_primary(&xml, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::TooManyEntries {
                what: "files",
                limit: 10,
                ..
            }
        ),
        "{err}"
    );
    let deps = "<rpm:entry name=\"x\"/>".repeat(11);
    let xml = primary_with(&format!(
        "{GOOD_BODY}<location href=\"a.rpm\"/><format><rpm:provides>{deps}</rpm:provides></format>"
    ));
    let err = parse_primary(&xml, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::TooManyEntries {
                what: "provides",
                ..
            }
        ),
        "{err}"
    );

    let err = parse_primary(&primary_with(GOOD_BODY), &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::MissingElement {
                element: "location",
                ..
            }
        ),
        "{err}"
    );
    let err = parse_primary(
        &primary_with(&format!("{GOOD_BODY}<location/>")),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::MissingAttribute {
                attribute: "href",
                ..
            }
        ),
        "{err}"
    );
    let xml = primary_with(&format!(
        "{GOOD_BODY}<location href=\"a\"/><size package=\"-1\"/>"
    ));
    let err = parse_primary(&xml, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, MetadataError::InvalidValue { ref field, .. } if field == "size@package"),
        "{err}"
    );
    let err = parse_primary("<notprimary/>", &Limits::default()).unwrap_err();
    assert!(
        matches!(err, MetadataError::UnexpectedContent { .. }),
        "{err}"
    );
    let err = parse_primary(
        &format!("{}<extra/>", with_location("a")),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, MetadataError::UnexpectedContent { .. }),
        "{err}"
    );
}

#[test]
fn garbage_never_panics() {
    // A crude fuzz: every prefix and some byte flips of a valid document.
    let xml = with_location("Packages/a-1-1.noarch.rpm").into_bytes();
    for cut in 0..xml.len() {
        let _ = PrimaryReader::new(&xml[..cut]).map(|r| r.count());
    }
    let mut state = 0x2545_f491_u32;
    for _ in 0..2000 {
        let mut copy = xml.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let i = state as usize % copy.len();
            copy[i] = (state >> 8) as u8;
        }
        let _ = PrimaryReader::new(&copy[..]).map(|r| r.count());
    }
}
