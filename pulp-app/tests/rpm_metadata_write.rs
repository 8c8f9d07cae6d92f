//! The publisher on synthetic packages: escaping, reading back, the
//! announced-count check and cleanup.

use pulp_app::plugins::rpm::metadata::{
    Advisory, AdvisoryCollection, AdvisoryPackage, AdvisoryReference, Comps, FilelistsReader,
    Limits, MetadataError, OtherReader, PrimaryReader, RepoMd, RepoWriter, UpdateInfoReader,
};
use pulp_app::plugins::rpm::model::{Changelog, Dependency, FileEntry, FileKind, Package};

fn package(i: usize) -> Package {
    Package {
        name: format!("pkg{i}"),
        epoch: if i.is_multiple_of(2) {
            "0".into()
        } else {
            "3".into()
        },
        version: "1.0^git~rc1".into(),
        release: "1.fc40".into(),
        arch: "x86_64".into(),
        pkg_id: format!("{i:064x}"),
        checksum_type: "sha256".into(),
        summary: "Tricky <summary> & \"quotes\" 'apos' — ünïcödé".into(),
        description: "line one\nline two\r\n\ttabbed ]]> &amp; not an entity".into(),
        packager: String::new(),
        url: "https://example.invalid/?a=1&b=2".into(),
        time_file: 1_700_000_000,
        time_build: 1_690_000_000,
        size_package: 12345,
        size_installed: 67890,
        size_archive: 68000,
        location_href: format!("Packages/p/pkg{i}-1.0^git~rc1-1.fc40.x86_64.rpm"),
        location_base: (i == 1).then(|| "https://mirror.example/fedora/".to_owned()),
        rpm_license: "MIT AND (GPL-2.0-only OR Apache-2.0)".into(),
        rpm_vendor: "Vendor <v@example.com>".into(),
        rpm_group: "Unspecified".into(),
        rpm_buildhost: "build.example".into(),
        rpm_sourcerpm: "pkg-1.0-1.src.rpm".into(),
        rpm_header_start: 4504,
        rpm_header_end: 7000,
        provides: vec![Dependency {
            name: format!("pkg{i}(x86-64)"),
            flags: Some("EQ".into()),
            epoch: Some("0".into()),
            ver: Some("1.0".into()),
            rel: Some("1".into()),
            pre: false,
        }],
        requires: vec![
            Dependency {
                name: "/bin/sh".into(),
                pre: true,
                ..Dependency::default()
            },
            Dependency {
                name: "libc.so.6(GLIBC_2.34)(64bit)".into(),
                ..Dependency::default()
            },
            Dependency {
                name: "a <b> & \"c\"".into(),
                flags: Some("GE".into()),
                epoch: Some("1".into()),
                ver: Some("2".into()),
                rel: None,
                pre: false,
            },
        ],
        recommends: vec![Dependency {
            name: "(foo if bar)".into(),
            ..Dependency::default()
        }],
        primary_files: vec![FileEntry {
            kind: FileKind::File,
            path: format!("/usr/bin/pkg{i}"),
        }],
        files: vec![
            FileEntry {
                kind: FileKind::Dir,
                path: "/usr/share/pkg & <dir>".into(),
            },
            FileEntry {
                kind: FileKind::Ghost,
                path: "/var/log/pkg.log".into(),
            },
            FileEntry {
                kind: FileKind::File,
                path: format!("/usr/bin/pkg{i}"),
            },
        ],
        changelogs: vec![Changelog {
            author: "Jane <jane@example.com> - 1.0-1".into(),
            date: 1_600_000_000,
            text: "- fixed <bug> & \"issue\"\n- second line".into(),
        }],
        ..Package::default()
    }
}

#[test]
fn written_metadata_reads_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let packages: Vec<Package> = (0..50).map(package).collect();
    let advisories = vec![Advisory {
        id: "FX-1".into(),
        advisory_type: "security".into(),
        status: "stable".into(),
        version: "1".into(),
        from: "sec@example.com".into(),
        title: "Fix <all> & everything".into(),
        issued: "2024-01-01 00:00:00".into(),
        updated: "2024-01-02 00:00:00".into(),
        severity: "Critical".into(),
        description: "multi\nline".into(),
        reboot_suggested: true,
        references: vec![AdvisoryReference {
            href: "https://bugs.example/?id=1&x=2".into(),
            id: "1".into(),
            ref_type: "bugzilla".into(),
            title: "bug \"one\"".into(),
        }],
        collections: vec![AdvisoryCollection {
            short: "c".into(),
            name: "Collection".into(),
            module: None,
            packages: vec![AdvisoryPackage {
                name: "pkg1".into(),
                epoch: "3".into(),
                version: "1.0".into(),
                release: "1".into(),
                arch: "x86_64".into(),
                src: "pkg-1.0-1.src.rpm".into(),
                filename: "pkg1-1.0-1.x86_64.rpm".into(),
                sum: "ab".repeat(32),
                sum_type: "sha256".into(),
                restart_suggested: true,
                ..AdvisoryPackage::default()
            }],
        }],
        ..Advisory::default()
    }];
    let comps = Comps::parse(
        &br#"<comps><group><id>g</id><name>G &amp; H</name><name xml:lang="de">Gruppe</name>
        <description/><display_order>5</display_order><packagelist>
        <packagereq type="conditional" requires="pkg1">pkg2</packagereq></packagelist></group>
        <environment><id>e</id><name>E</name><grouplist><groupid>g</groupid></grouplist>
        <optionlist><groupid default="true">g</groupid></optionlist></environment>
        <langpacks><match install="pkg-langpack-%s" name="pkg"/></langpacks></comps>"#[..],
    )
    .unwrap();
    let repomd = RepoWriter::new(dir.path())
        .gzip_level(6)
        .revision("rev & 1")
        .advisories(&advisories)
        .comps(&comps)
        .write(packages.len() as u64, packages.iter())
        .unwrap();
    let on_disk =
        RepoMd::parse(&std::fs::read(dir.path().join("repodata/repomd.xml")).unwrap()[..]).unwrap();
    assert_eq!(on_disk, repomd);
    assert_eq!(on_disk.revision, "rev & 1");

    let limits = Limits::default();
    let open = |t: &str| {
        repomd
            .record(t)
            .unwrap()
            .open_in(dir.path(), &limits)
            .unwrap()
    };
    let mut primary = PrimaryReader::new(open("primary")).unwrap();
    assert_eq!(primary.declared_count(), Some(50));
    let mut read: Vec<Package> = primary.by_ref().collect::<Result<_, _>>().unwrap();
    for (p, entry) in read
        .iter_mut()
        .zip(FilelistsReader::new(open("filelists")).unwrap())
    {
        let entry = entry.unwrap();
        assert_eq!(entry.pkg_id, p.pkg_id);
        assert_eq!(entry.nevra, p.nevra());
        p.files = entry.files;
    }
    for (p, entry) in read
        .iter_mut()
        .zip(OtherReader::new(open("other")).unwrap())
    {
        p.changelogs = entry.unwrap().changelogs;
    }
    assert_eq!(read, packages);
    let advisories_back: Vec<_> = UpdateInfoReader::new(open("updateinfo"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(advisories_back, advisories);
    assert_eq!(Comps::parse(open("group")).unwrap(), comps);
    assert_eq!(Comps::parse(open("group_gz")).unwrap(), comps);
}

#[test]
fn control_characters_are_dropped_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut pkg = package(0);
    pkg.summary = "bell\u{7} and nul\u{0} and \u{FFFE}".into();
    let repomd = RepoWriter::new(dir.path()).write(1, [&pkg]).unwrap();
    let input = repomd
        .record("primary")
        .unwrap()
        .open_in(dir.path(), &Limits::default())
        .unwrap();
    let back = PrimaryReader::new(input).unwrap().next().unwrap().unwrap();
    assert_eq!(back.summary, "bell and nul and ");
}

#[test]
fn a_wrong_package_count_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let packages: Vec<Package> = (0..3).map(package).collect();
    let err = RepoWriter::new(dir.path()).write(5, &packages).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::CountMismatch {
                declared: 5,
                actual: 3,
                ..
            }
        ),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
