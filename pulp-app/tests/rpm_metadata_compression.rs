//! Every compression a yum repository may use: gzip (the fixture), xz and
//! bzip2 (repositories made by createrepo_c --general-compress-type), zstd
//! (made with the zstd CLI, as Debian's createrepo_c cannot write it).

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use pulp_app::plugins::rpm::metadata::{
    Compression, Limits, MetadataError, PrimaryReader, open_decompressed,
};
use support::{fixtures, metadata};

const N: usize = 200;

#[test]
fn createrepo_c_xz_and_bz2_repositories() {
    if fixtures::skip_without("xz/bz2 repositories", &["createrepo_c"]) {
        return;
    }
    let Some(original) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let reference = metadata::parse_repo(&original).expect("gzip fixture");
    for (kind, ext) in [("xz", ".xml.xz"), ("bz2", ".xml.bz2")] {
        let dir = fixtures::scratch_dir(kind);
        fixtures::link_packages(&original, dir.path());
        let status = Command::new("createrepo_c")
            .arg("--quiet")
            .arg("--no-database")
            .arg(format!("--general-compress-type={kind}"))
            .arg("--groupfile")
            .arg(original.join("comps.xml"))
            .arg(dir.path())
            .status()
            .expect("createrepo_c");
        assert!(
            status.success(),
            "createrepo_c --general-compress-type={kind}"
        );
        let parsed = metadata::parse_repo(dir.path()).expect(kind);
        let primary = parsed.repomd.record("primary").unwrap();
        assert!(
            primary.location_href.ends_with(ext),
            "{}",
            primary.location_href
        );
        assert_eq!(
            primary.compression().unwrap().name(),
            if kind == "bz2" { "bzip2" } else { "xz" }
        );
        // Same packages, files and changelogs as the gzip repository
        // (time_file is when createrepo_c saw the file, so compare the rest).
        let mut got = parsed.packages.clone();
        let mut want = reference.packages.clone();
        for p in got.iter_mut().chain(want.iter_mut()) {
            p.time_file = 0;
        }
        got.sort_by(|a, b| a.location_href.cmp(&b.location_href));
        want.sort_by(|a, b| a.location_href.cmp(&b.location_href));
        assert_eq!(got, want, "{kind}");
        assert_eq!(parsed.comps, reference.comps);
    }
}

fn zstd(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("zstd")
        .args(["-q", "-c", "-3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("zstd");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("zstd output");
    writer.join().unwrap().expect("feed zstd");
    assert!(output.status.success());
    output.stdout
}

#[test]
fn zstd_primary_single_and_multi_frame() {
    if fixtures::skip_without("zstd test", &["zstd"]) {
        return;
    }
    let Some(original) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let reference = metadata::parse_repo(&original).expect("fixture");
    let record = reference.repomd.record("primary").unwrap();
    let mut xml = Vec::new();
    record
        .open_in(&original, &Limits::default())
        .unwrap()
        .read_to_end(&mut xml)
        .unwrap();
    let (head, tail) = xml.split_at(xml.len() / 3);
    let single = zstd(&xml);
    let mut multi = zstd(head);
    multi.extend(zstd(tail));
    for (what, compressed) in [("single frame", single), ("two frames", multi)] {
        assert_eq!(Compression::sniff(&compressed), Compression::Zstd);
        assert_eq!(
            Compression::detect("repodata/x-primary.xml.zst", &compressed).unwrap(),
            Compression::Zstd
        );
        let reader = open_decompressed(&compressed[..], Compression::Zstd, &Limits::default());
        let packages: Vec<_> = PrimaryReader::new(std::io::BufReader::new(reader))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let want: Vec<_> = reference
            .packages
            .iter()
            .map(|p| {
                let mut p = p.clone();
                p.files.clear();
                p.changelogs.clear();
                p
            })
            .collect();
        assert_eq!(packages, want, "{what}");
    }
    // Corrupt zstd data is reported as such.
    let mut bad = zstd(&xml);
    let len = bad.len();
    bad[len / 2] ^= 0xff;
    bad.truncate(len - 3);
    let mut reader =
        open_decompressed(&bad[..], Compression::Zstd, &Limits::default()).with_name("p.zst");
    let err = std::io::copy(&mut reader, &mut std::io::sink()).unwrap_err();
    let err = MetadataError::from_io("p.zst", err);
    assert!(
        matches!(err, MetadataError::Corrupt { format: "zstd", .. }),
        "{err}"
    );
}

#[test]
fn every_decoder_enforces_the_ratio_limit() {
    // 64 MiB of zeros compressed by each format's CLI, where available.
    let zeros = vec![0u8; 64 << 20];
    for (tool, args, compression) in [
        ("gzip", &["-c", "-1"][..], Compression::Gzip),
        ("xz", &["-c", "-0"][..], Compression::Xz),
        ("bzip2", &["-c", "-1"][..], Compression::Bzip2),
        ("zstd", &["-q", "-c", "-1"][..], Compression::Zstd),
    ] {
        if fixtures::skip_without(&format!("{tool} ratio check"), &[tool]) {
            continue;
        }
        let mut child = Command::new(tool)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = zeros.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let compressed = child.wait_with_output().unwrap().stdout;
        writer.join().unwrap().unwrap();
        assert_eq!(Compression::sniff(&compressed), compression, "{tool}");
        let mut reader = open_decompressed(&compressed[..], compression, &Limits::default());
        let err = std::io::copy(&mut reader, &mut std::io::sink()).unwrap_err();
        let err = MetadataError::from_io(tool, err);
        assert!(
            matches!(err, MetadataError::CompressionRatio { .. }),
            "{tool}: {err}"
        );
        assert!(
            reader.decompressed_bytes() < 32 << 20,
            "{tool} stopped late"
        );
        // And the same data decodes fine when the limits allow it.
        let limits = Limits {
            max_ratio: u64::MAX,
            ..Limits::default()
        };
        let mut reader = open_decompressed(&compressed[..], compression, &limits);
        assert_eq!(
            std::io::copy(&mut reader, &mut std::io::sink()).unwrap(),
            64 << 20,
            "{tool}"
        );
    }
}
