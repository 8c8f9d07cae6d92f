//! The `.rpm` reader against ground truth: real packages built with rpmbuild,
//! compared field by field with `rpm -qp`, with the primary/filelists/other
//! metadata createrepo_c wrote for the same files, and with the fixture
//! generator's inventory; plus truncated, random and hostile input.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use pulp_app::plugins::rpm::model::{Dependency, FileKind, Package};
use pulp_app::plugins::rpm::rpmfile::{
    self, ReadOptions, RpmError, RpmFile, read_rpm, read_rpm_path, tags::main as tag,
};
use support::rpm::{createrepo_lines, find_rpms, fixtures, rpm_query, run};
use support::synth;

/// Reads every package of a repository, with `location_href` relative to it.
fn read_repo(repo: &Path, opts: &ReadOptions) -> Vec<(std::path::PathBuf, Package)> {
    find_rpms(repo)
        .into_iter()
        .map(|path| {
            let mut pkg = read_rpm_path(&path, opts)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .package;
            pkg.location_href = path
                .strip_prefix(repo)
                .expect("inside repo")
                .to_string_lossy()
                .into_owned();
            (path, pkg)
        })
        .collect()
}

/// The lines dump_repodata.py prints for one package, rendered from our Package.
fn render(pkg: &Package) -> Vec<Vec<String>> {
    let id = pkg.pkg_id.clone();
    let s = |x: &str| x.to_owned();
    let mut lines = vec![vec![
        s("pkg"),
        id.clone(),
        pkg.name.clone(),
        pkg.arch.clone(),
        pkg.epoch.clone(),
        pkg.version.clone(),
        pkg.release.clone(),
        pkg.summary.clone(),
        pkg.description.clone(),
        pkg.packager.clone(),
        pkg.url.clone(),
        pkg.time_build.to_string(),
        pkg.size_package.to_string(),
        pkg.size_installed.to_string(),
        pkg.size_archive.to_string(),
        pkg.rpm_license.clone(),
        pkg.rpm_vendor.clone(),
        pkg.rpm_group.clone(),
        pkg.rpm_buildhost.clone(),
        pkg.rpm_sourcerpm.clone(),
        pkg.rpm_header_start.to_string(),
        pkg.rpm_header_end.to_string(),
        pkg.location_href.clone(),
    ]];
    let kinds = [
        ("provides", &pkg.provides),
        ("requires", &pkg.requires),
        ("conflicts", &pkg.conflicts),
        ("obsoletes", &pkg.obsoletes),
        ("suggests", &pkg.suggests),
        ("enhances", &pkg.enhances),
        ("recommends", &pkg.recommends),
        ("supplements", &pkg.supplements),
    ];
    for (kind, deps) in kinds {
        for d in deps {
            // primary.xml writes epoch/ver/rel only for versioned (flagged) entries.
            let versioned = |v: &Option<String>| {
                if d.flags.is_some() {
                    v.clone().unwrap_or_default()
                } else {
                    String::new()
                }
            };
            lines.push(vec![
                s("dep"),
                id.clone(),
                s(kind),
                d.name.clone(),
                d.flags.clone().unwrap_or_default(),
                versioned(&d.epoch),
                versioned(&d.ver),
                versioned(&d.rel),
                s(if kind == "requires" && d.pre {
                    "1"
                } else {
                    "0"
                }),
            ]);
        }
    }
    let kind = |k: FileKind| match k {
        FileKind::File => s("file"),
        FileKind::Dir => s("dir"),
        FileKind::Ghost => s("ghost"),
    };
    for f in &pkg.primary_files {
        lines.push(vec![s("pfile"), id.clone(), kind(f.kind), f.path.clone()]);
    }
    for f in &pkg.files {
        lines.push(vec![s("file"), id.clone(), kind(f.kind), f.path.clone()]);
    }
    for c in &pkg.changelogs {
        lines.push(vec![
            s("log"),
            id.clone(),
            c.author.clone(),
            c.date.to_string(),
            c.text.clone(),
        ]);
    }
    lines
}

/// (c) Every package equals what createrepo_c wrote for it, line by line.
fn assert_matches_createrepo(repo: &Path) -> usize {
    let expected = createrepo_lines(repo);
    let packages = read_repo(repo, &ReadOptions::default());
    assert_eq!(
        packages.len(),
        expected.len(),
        "package count in {}",
        repo.display()
    );
    for (path, pkg) in &packages {
        let want = expected
            .get(&pkg.pkg_id)
            .unwrap_or_else(|| panic!("{}: pkgid {} not in repodata", path.display(), pkg.pkg_id));
        let got = render(pkg);
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g, w, "{}", path.display());
        }
        assert_eq!(got.len(), want.len(), "{}: line count", path.display());
    }
    packages.len()
}

/// (b) Header values equal `rpm -qp --queryformat` output for the same file.
fn assert_matches_rpm_query(path: &Path) {
    let opts = ReadOptions {
        changelog_limit: None,
        ..ReadOptions::default()
    };
    let file = RpmFile::read(std::fs::File::open(path).expect("open"), &opts).expect("read");
    let pkg = file.to_package(&opts).expect("package");
    let none = |v: &str| {
        if v == "(none)" {
            String::new()
        } else {
            v.to_owned()
        }
    };

    let fields = rpm_query(
        path,
        "%{NAME}\n%{EPOCHNUM}\n%{VERSION}\n%{RELEASE}\n%{ARCH}\n%{SOURCEPACKAGE}\n%{LICENSE}\n\
         %{BUILDTIME}\n%{LONGSIZE}\n%{LONGARCHIVESIZE}\n%{VENDOR}\n%{PACKAGER}\n%{URL}\n%{GROUP}\n\
         %{BUILDHOST}\n%{SOURCERPM}\n%{SUMMARY}\n",
    );
    let f: Vec<&str> = fields.lines().collect();
    let is_source = f[5] == "1";
    assert_eq!(file.is_source().expect("is_source"), is_source);
    let arch = if is_source { "src" } else { f[4] };
    let got = [
        pkg.name.as_str(),
        &pkg.epoch,
        &pkg.version,
        &pkg.release,
        &pkg.arch,
        &pkg.rpm_license,
        &pkg.time_build.to_string(),
        &pkg.size_installed.to_string(),
        &pkg.size_archive.to_string(),
        &pkg.rpm_vendor,
        &pkg.packager,
        &pkg.url,
        &pkg.rpm_group,
        &pkg.rpm_buildhost,
        &pkg.rpm_sourcerpm,
        &pkg.summary,
    ]
    .map(str::to_owned);
    let want = [
        f[0], f[1], f[2], f[3], arch, f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], f[14],
        f[15], f[16],
    ]
    .map(none);
    assert_eq!(got, want, "{}", path.display());
    assert_eq!(
        pkg.description,
        rpm_query(path, "%{DESCRIPTION}"),
        "{}",
        path.display()
    );

    // Raw dependency arrays, with flags, exactly as rpm reads them.
    let h = &file.header;
    for (n, fl, v, name) in [
        (
            tag::REQUIRENAME,
            tag::REQUIREFLAGS,
            tag::REQUIREVERSION,
            "REQUIRE",
        ),
        (
            tag::PROVIDENAME,
            tag::PROVIDEFLAGS,
            tag::PROVIDEVERSION,
            "PROVIDE",
        ),
        (
            tag::CONFLICTNAME,
            tag::CONFLICTFLAGS,
            tag::CONFLICTVERSION,
            "CONFLICT",
        ),
        (
            tag::OBSOLETENAME,
            tag::OBSOLETEFLAGS,
            tag::OBSOLETEVERSION,
            "OBSOLETE",
        ),
        (
            tag::SUGGESTNAME,
            tag::SUGGESTFLAGS,
            tag::SUGGESTVERSION,
            "SUGGEST",
        ),
        (
            tag::ENHANCENAME,
            tag::ENHANCEFLAGS,
            tag::ENHANCEVERSION,
            "ENHANCE",
        ),
        (
            tag::RECOMMENDNAME,
            tag::RECOMMENDFLAGS,
            tag::RECOMMENDVERSION,
            "RECOMMEND",
        ),
        (
            tag::SUPPLEMENTNAME,
            tag::SUPPLEMENTFLAGS,
            tag::SUPPLEMENTVERSION,
            "SUPPLEMENT",
        ),
    ] {
        let want = rpm_query(
            path,
            &format!("[%{{{name}NAME}}\t%{{{name}FLAGS}}\t%{{{name}VERSION}}\n]"),
        );
        let mut got = String::new();
        if let Some(names) = h.strings(n).expect("names") {
            let flags: Vec<u64> = h
                .numbers(fl)
                .expect("flags")
                .expect("flags present")
                .collect();
            let versions: Vec<_> = h
                .strings(v)
                .expect("versions")
                .expect("versions present")
                .collect();
            for (i, dep) in names.enumerate() {
                got.push_str(&format!("{dep}\t{}\t{}\n", flags[i], versions[i]));
            }
        }
        assert_eq!(got, want, "{} {name}", path.display());
    }

    // Files: the paths `rpm -qlp` prints, and the kinds from modes and flags.
    let listed = run(Command::new("rpm").arg("-qlp").arg(path));
    let paths: Vec<&str> = pkg.files.iter().map(|f| f.path.as_str()).collect();
    if paths.is_empty() {
        assert_eq!(listed.trim(), "(contains no files)");
    } else {
        assert_eq!(
            listed.lines().collect::<Vec<_>>(),
            paths,
            "{}",
            path.display()
        );
    }
    let raw = rpm_query(path, "[%{FILENAMES}\t%{FILEMODES}\t%{FILEFLAGS}\n]");
    for (line, entry) in raw.lines().zip(&pkg.files) {
        let parts: Vec<&str> = line.split('\t').collect();
        let mode: u64 = parts[1].parse().expect("mode");
        let flags: u64 = parts[2].parse().expect("flags");
        let want = if mode & 0o170000 == 0o040000 {
            FileKind::Dir
        } else if flags & 64 != 0 {
            FileKind::Ghost
        } else {
            FileKind::File
        };
        assert_eq!((parts[0], want), (entry.path.as_str(), entry.kind));
    }

    // Changelog: `rpm -qp --changelog` (names and texts) and the raw times.
    let text = run(Command::new("rpm").arg("-qp").arg("--changelog").arg(path));
    let mut entries = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let (head, body) = block.split_once('\n').unwrap_or((block, ""));
        let author = head
            .splitn(6, ' ')
            .nth(5)
            .expect("changelog head")
            .to_owned();
        entries.push((author, body.trim_end_matches('\n').to_owned()));
    }
    let times: Vec<i64> = rpm_query(path, "[%{CHANGELOGTIME}\n]")
        .lines()
        .map(|t| t.parse().expect("time"))
        .collect();
    let raw_times: Vec<i64> = h
        .numbers(tag::CHANGELOGTIME)
        .expect("times")
        .map(|n| n.map(|t| t as i64).collect())
        .unwrap_or_default();
    assert_eq!(raw_times, times);
    let newest_first: Vec<(String, String)> = pkg
        .changelogs
        .iter()
        .rev()
        .map(|c| (c.author.clone(), c.text.clone()))
        .collect();
    assert_eq!(newest_first, entries, "{}", path.display());
}

#[test]
fn custom_package_matches_createrepo_and_rpm() {
    let Some(fx) = fixtures() else { return };
    assert_eq!(assert_matches_createrepo(&fx.custom), 2);
    for path in find_rpms(&fx.custom) {
        assert_matches_rpm_query(&path);
    }

    // Spot checks of the rules the comparison above relies on.
    let packages = read_repo(&fx.custom, &ReadOptions::default());
    let (_, bin) = packages
        .iter()
        .find(|(_, p)| p.arch != "src")
        .expect("binary package");
    let names: Vec<&str> = bin.requires.iter().map(|d| d.name.as_str()).collect();
    assert!(
        !names.iter().any(|n| n.starts_with("rpmlib(")),
        "rpmlib requires are dropped"
    );
    assert!(
        !names.contains(&"/usr/bin/storetest"),
        "own primary file requires are dropped"
    );
    assert!(
        names.contains(&"/usr/share/storetest/data.txt"),
        "own non-primary file requires stay"
    );
    assert!(
        !names.contains(&"storetest-virtual"),
        "self-provided requires are dropped"
    );
    assert_eq!(
        names.last(),
        Some(&"libc.so.6(GLIBC_2.14)(64bit)"),
        "only the highest libc, last"
    );
    assert_eq!(names.iter().filter(|n| **n == "/bin/sh").count(), 1);
    let pre: Vec<&str> = bin
        .requires
        .iter()
        .filter(|d| d.pre)
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(
        pre,
        ["/bin/sh", "coreutils", "pre-and-post", "shadow-utils"]
    );
    assert_eq!(bin.epoch, "3");
    assert_eq!(bin.changelogs.len(), 10);
    let ghosts: Vec<&str> = bin
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Ghost)
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(ghosts, ["/var/log/storetest.log"]);
}

#[test]
fn generated_repo_matches_inventory_createrepo_and_rpm() {
    let Some(fx) = fixtures() else { return };
    let repo = &fx.generated;
    let count = assert_matches_createrepo(repo);
    assert_eq!(count, 33, "30 binary + 3 source packages");

    // (a) the generator's inventory: name epoch version release arch location sha256 size requires provides
    let tsv = std::fs::read_to_string(repo.join("fixture-packages.tsv")).expect("tsv");
    let packages: BTreeMap<String, Package> = read_repo(repo, &ReadOptions::default())
        .into_iter()
        .map(|(_, p)| (p.location_href.clone(), p))
        .collect();
    let mut rows = 0;
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let pkg = &packages[f[5]];
        assert_eq!(
            [
                &pkg.name,
                &pkg.epoch,
                &pkg.version,
                &pkg.release,
                &pkg.arch,
                &pkg.pkg_id
            ],
            [f[0], f[1], f[2], f[3], f[4], f[6]],
            "{}",
            f[5]
        );
        assert_eq!(pkg.size_package.to_string(), f[7]);
        assert_eq!(pkg.checksum_type, "sha256");
        let render_dep = |d: &Dependency| {
            let op = match d.flags.as_deref() {
                Some("GE") => ">=",
                Some("LE") => "<=",
                Some("EQ") => "=",
                Some("LT") => "<",
                Some("GT") => ">",
                _ => return d.name.clone(),
            };
            let epoch = d
                .epoch
                .as_deref()
                .filter(|e| *e != "0")
                .map(|e| format!("{e}:"));
            let rel = d.rel.as_deref().map(|r| format!("-{r}"));
            format!(
                "{} {op} {}{}{}",
                d.name,
                epoch.unwrap_or_default(),
                d.ver.clone().unwrap_or_default(),
                rel.unwrap_or_default()
            )
        };
        let mut want: Vec<&str> = f[8].split(';').filter(|s| !s.is_empty()).collect();
        let mut got: Vec<String> = pkg.requires.iter().map(render_dep).collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "requires of {}", f[5]);
        let provides: Vec<String> = pkg.provides.iter().map(render_dep).collect();
        for p in f[9].split(';').filter(|s| !s.is_empty()) {
            assert!(
                provides.iter().any(|g| g == p),
                "{} should provide {p}: {provides:?}",
                f[5]
            );
        }
        rows += 1;
    }
    assert_eq!(rows, 30);

    for path in find_rpms(repo) {
        assert_matches_rpm_query(&path);
    }
}

#[test]
fn changelog_limit_is_a_parameter() {
    let Some(fx) = fixtures() else { return };
    let path = find_rpms(&fx.custom)
        .into_iter()
        .find(|p| !p.to_string_lossy().ends_with(".src.rpm"))
        .expect("binary rpm");
    let with = |limit| {
        let opts = ReadOptions {
            changelog_limit: limit,
            ..ReadOptions::default()
        };
        read_rpm_path(&path, &opts)
            .expect("read")
            .package
            .changelogs
    };
    let all = with(None);
    assert_eq!(all.len(), 12);
    assert_eq!(all[0].text, "- first");
    assert_eq!(all[11].text, "- twelfth entry\n- with two lines");
    // Three entries share a date: createrepo_c shifts the newer ones by 1 s each.
    let feb: Vec<i64> = all[8..11].iter().map(|c| c.date).collect();
    assert_eq!(feb[1], feb[0] + 1);
    assert_eq!(feb[2], feb[0] + 2);
    let three = with(Some(3));
    assert_eq!(
        three.iter().map(|c| c.text.as_str()).collect::<Vec<_>>()[2],
        all[11].text
    );
    assert_eq!(three.len(), 3);
    assert!(with(Some(0)).is_empty());
}

#[test]
fn source_packages_have_arch_src() {
    let Some(fx) = fixtures() else { return };
    for path in find_rpms(&fx.custom) {
        let info = read_rpm_path(&path, &ReadOptions::default()).expect("read");
        let is_src = path.to_string_lossy().ends_with(".src.rpm");
        assert_eq!(info.is_source, is_src);
        assert_eq!(info.package.arch == "src", is_src);
        assert_eq!(info.package.rpm_sourcerpm.is_empty(), is_src);
        assert!(info.package.time_file > 0, "read_rpm_path sets time_file");
    }
}

#[test]
fn every_truncation_is_an_error() {
    let Some(fx) = fixtures() else { return };
    let path = &find_rpms(&fx.custom)[0];
    let bytes = std::fs::read(path).expect("read");
    let opts = ReadOptions::default();
    let end = read_rpm(&bytes[..], &opts)
        .expect("whole file")
        .package
        .rpm_header_end as usize;
    for len in 0..end {
        match read_rpm(&bytes[..len], &opts) {
            Err(RpmError::Truncated { offset, needed, .. }) => {
                assert!(
                    offset <= len as u64 && offset + needed > len as u64,
                    "at {len}"
                )
            }
            other => panic!("prefix of {len} bytes: expected Truncated, got {other:?}"),
        }
    }
    // Cut inside the payload: the headers are whole, so it parses (with another checksum).
    let cut = read_rpm(&bytes[..end + 10], &opts).expect("headers complete");
    assert_eq!(cut.package.size_package, end as u64 + 10);
}

/// A small deterministic generator (xorshift64*), enough for fuzzing inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_bytes_are_errors() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let opts = ReadOptions::default();
    let lead = synth::lead();
    for round in 0..3000 {
        let len = rng.below(4096);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // A third get a valid lead, a third a valid lead and header magic too.
        if round % 3 >= 1 && bytes.len() >= 112 {
            bytes[..96].copy_from_slice(&lead);
        }
        if round % 3 == 2 && bytes.len() >= 112 {
            bytes[96..100].copy_from_slice(&[0x8e, 0xad, 0xe8, 0x01]);
        }
        assert!(read_rpm(&bytes[..], &opts).is_err(), "round {round}");
    }
}

#[test]
fn mutated_packages_never_panic() {
    let Some(fx) = fixtures() else { return };
    let path = find_rpms(&fx.custom)
        .into_iter()
        .find(|p| !p.to_string_lossy().ends_with(".src.rpm"))
        .expect("binary rpm");
    let original = std::fs::read(&path).expect("read");
    let opts = ReadOptions::default();
    let end = read_rpm(&original[..], &opts)
        .expect("valid")
        .package
        .rpm_header_end as usize;
    let mut rng = Rng(42);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..20_000 {
        let mut bytes = original[..end].to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = 96 + rng.below(end - 96);
            bytes[at] = rng.next() as u8;
        }
        match read_rpm(&bytes[..], &opts) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    eprintln!("mutations: {ok} still parse, {err} rejected, none panicked");
    assert!(err > 0);
}

#[test]
fn hostile_headers_are_rejected_precisely() {
    use synth::{int16, int32, rpm, string, strings};
    let opts = ReadOptions::default();
    let read = |bytes: Vec<u8>| read_rpm(&bytes[..], &opts);

    let mut bad_magic = rpm(&[], &synth::nevra_entries(), b"");
    bad_magic[0] = 0;
    assert!(matches!(
        read(bad_magic),
        Err(RpmError::BadLeadMagic { .. })
    ));

    let mut bad_sigtype = rpm(&[], &synth::nevra_entries(), b"");
    bad_sigtype[79] = 1;
    assert!(matches!(
        read(bad_sigtype),
        Err(RpmError::UnsupportedLead {
            signature_type: 1,
            ..
        })
    ));

    let mut bad_header = rpm(&[], &synth::nevra_entries(), b"");
    bad_header[97] = 0xff;
    assert!(matches!(
        read(bad_header),
        Err(RpmError::BadHeaderMagic {
            section: rpmfile::Section::Signature,
            offset: 96,
            ..
        })
    ));

    // A header announcing 1 GiB of data is refused before anything is allocated.
    let mut huge = synth::lead();
    huge.extend([
        0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0x40, 0, 0, 0,
    ]);
    assert!(matches!(
        read(huge),
        Err(RpmError::HeaderTooLarge {
            size: 0x4000_0000,
            ..
        })
    ));
    let mut many = synth::lead();
    many.extend([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 16]);
    assert!(matches!(
        read(many),
        Err(RpmError::TooManyEntries { count: 65536, .. })
    ));
    // Announced but absent data: truncated, with the buffer grown only as far as the data went.
    let mut absent = synth::lead();
    absent.extend([
        0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0,
    ]);
    assert!(matches!(
        read(absent),
        Err(RpmError::Truncated {
            what: "signature header data",
            needed: 0x0300_0000,
            ..
        })
    ));

    let mut missing_name = synth::nevra_entries();
    missing_name.remove(0);
    assert!(matches!(
        read(rpm(&[], &missing_name, b"")),
        Err(RpmError::MissingTag {
            tag: 1000,
            name: "NAME"
        })
    ));

    let mut wrong_type = synth::nevra_entries();
    wrong_type[1] = int32(tag::VERSION, &[1]);
    assert!(matches!(
        read(rpm(&[], &wrong_type, b"")),
        Err(RpmError::WrongTagType {
            tag: 1001,
            expected: "string",
            ..
        })
    ));

    let mut bad_dir_index = synth::nevra_entries();
    bad_dir_index.extend([
        int32(tag::DIRINDEXES, &[0, 7]),
        strings(tag::BASENAMES, &["a", "b"]),
        strings(tag::DIRNAMES, &["/x/"]),
    ]);
    assert!(matches!(
        read(rpm(&[], &bad_dir_index, b"")),
        Err(RpmError::DirIndexOutOfRange {
            file: 1,
            dir_index: 7,
            dir_count: 1
        })
    ));

    let mut uneven = synth::nevra_entries();
    uneven.extend([
        int32(tag::REQUIREFLAGS, &[0]),
        strings(tag::REQUIRENAME, &["a", "b"]),
        strings(tag::REQUIREVERSION, &["", ""]),
    ]);
    assert!(matches!(
        read(rpm(&[], &uneven, b"")),
        Err(RpmError::InconsistentArrays {
            what: "requires",
            first_len: 2,
            second_len: 1,
            ..
        })
    ));

    let mut uneven_modes = synth::nevra_entries();
    uneven_modes.extend([
        int16(tag::FILEMODES, &[0o100644]),
        int32(tag::DIRINDEXES, &[0, 0]),
        strings(tag::BASENAMES, &["a", "b"]),
        strings(tag::DIRNAMES, &["/"]),
    ]);
    assert!(matches!(
        read(rpm(&[], &uneven_modes, b"")),
        Err(RpmError::InconsistentArrays {
            second: "FILEMODES",
            ..
        })
    ));

    // One 1 MiB directory name shared by 300 files would expand to 300 MiB.
    let long_dir = format!("/{}/", "d".repeat(1024 * 1024));
    let names: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut bomb = synth::nevra_entries();
    bomb.extend([
        int32(tag::DIRINDEXES, &vec![0; 300]),
        strings(tag::BASENAMES, &name_refs),
        strings(tag::DIRNAMES, &[long_dir.as_str()]),
    ]);
    assert!(matches!(
        read(rpm(&[], &bomb, b"")),
        Err(RpmError::FileListTooLarge { .. })
    ));

    let tight = ReadOptions {
        max_header_size: 1024,
        ..ReadOptions::default()
    };
    let mut big = synth::nevra_entries();
    big.push(string(tag::DESCRIPTION, &"x".repeat(2048)));
    assert!(matches!(
        read_rpm(&rpm(&[], &big, b"")[..], &tight),
        Err(RpmError::HeaderTooLarge {
            section: rpmfile::Section::Main,
            max: 1024,
            ..
        })
    ));
}

#[test]
fn synthetic_package_covers_legacy_shapes() {
    use synth::{i18n, int16, int32, int64, rpm, string, strings};
    let mut main = synth::nevra_entries();
    main.extend([
        i18n(tag::SUMMARY, "legacy"),
        string(tag::SOURCERPM, "synth-1.0-1.src.rpm"),
        int16(tag::FILEMODES, &[0o040755, 0o100644]),
        int32(tag::FILEFLAGS, &[0, 64]),
        // Old-style full paths instead of dirnames/basenames.
        strings(tag::OLDFILENAMES, &["/usr/bin", "/usr/bin/tool"]),
        int32(tag::REQUIREFLAGS, &[1 << 19, 8, 12]),
        strings(tag::REQUIRENAME, &["weak", "badepoch", "ok"]),
        strings(tag::REQUIREVERSION, &["", "x:1.0", "1.0"]),
        int32(tag::OLDSUGGESTSFLAGS, &[1 << 27, 0]),
        strings(tag::OLDSUGGESTSNAME, &["strong", "soft"]),
        strings(tag::OLDSUGGESTSVERSION, &["", ""]),
    ]);
    let signature = [int64(271, &[5_000_000_000])];
    let bytes = rpm(&signature, &main, b"payload");
    let info = read_rpm(&bytes[..], &ReadOptions::default()).expect("synthetic package");
    let p = info.package;
    assert_eq!(
        (p.name.as_str(), p.epoch.as_str(), p.arch.as_str()),
        ("synth", "0", "noarch")
    );
    assert_eq!(p.summary, "legacy");
    assert_eq!(
        p.size_archive, 5_000_000_000,
        "LONGARCHIVESIZE from the signature header"
    );
    let files: Vec<_> = p.files.iter().map(|f| (f.kind, f.path.as_str())).collect();
    assert_eq!(
        files,
        [
            (FileKind::Dir, "/usr/bin"),
            (FileKind::Ghost, "/usr/bin/tool")
        ]
    );
    assert_eq!(p.primary_files.len(), 1, "/usr/bin itself has no 'bin/'");
    let names = |deps: &[Dependency]| deps.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&p.requires),
        ["ok"],
        "bad epoch skipped, MISSINGOK moved"
    );
    assert_eq!(names(&p.recommends), ["weak", "strong"]);
    assert_eq!(names(&p.suggests), ["soft"]);
    assert_eq!(p.size_package, bytes.len() as u64);
    assert_eq!(
        p.rpm_header_end,
        bytes.len() as u64 - 7,
        "the payload follows the main header"
    );
}

#[test]
fn hostile_changelogs_stay_cheap() {
    use synth::{int32, int64, rpm, strings};
    // 20 000 entries with one time: the equal-time shifting is bounded.
    let n = 20_000;
    let names: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut main = synth::nevra_entries();
    main.extend([
        int32(tag::CHANGELOGTIME, &vec![1_700_000_000; n]),
        strings(tag::CHANGELOGNAME, &refs),
        strings(tag::CHANGELOGTEXT, &refs),
    ]);
    let opts = ReadOptions {
        changelog_limit: None,
        ..ReadOptions::default()
    };
    let info = read_rpm(&rpm(&[], &main, b"")[..], &opts).expect("parse");
    assert_eq!(info.package.changelogs.len(), n);

    // Times at the top of the range do not overflow.
    let mut main = synth::nevra_entries();
    main.extend([
        int64(tag::CHANGELOGTIME, &[u64::MAX, u64::MAX, u64::MAX]),
        strings(tag::CHANGELOGNAME, &["a", "b", "c"]),
        strings(tag::CHANGELOGTEXT, &["x", "y", "z"]),
    ]);
    let info = read_rpm(&rpm(&[], &main, b"")[..], &opts).expect("parse");
    assert!(info.package.changelogs.iter().all(|c| c.date == i64::MAX));
}
