//! Test support for the `.rpm` reader: real packages built with rpmbuild,
//! repositories made by createrepo_c, and ground truth from `rpm -qp`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::fixtures::{build_once, rpm_repo, run_quietly, short_hash, skip_without};

/// Two yum repositories for the `.rpm` reader tests.
pub struct Fixtures {
    /// `make_rpm_repo.sh 30` with source packages (`SRPM=1`).
    pub generated: PathBuf,
    /// The `storetest` package (binary + source) from [`SPEC`], plus createrepo_c metadata.
    pub custom: PathBuf,
}

/// The fixtures (built or found once per test process, see
/// `support::fixtures`); `None`, after a loud notice, when the tools are
/// missing.
pub fn fixtures() -> Option<&'static Fixtures> {
    static FIXTURES: OnceLock<Option<Fixtures>> = OnceLock::new();
    FIXTURES.get_or_init(find_or_build).as_ref()
}

fn find_or_build() -> Option<Fixtures> {
    if skip_without(
        "real-RPM tests",
        &["rpmbuild", "rpm", "createrepo_c", "python3"],
    ) {
        return None;
    }
    let custom = build_once(
        &format!("custom-{}", short_hash(&[SPEC.as_bytes()])),
        build_custom,
    );
    let generated = rpm_repo(30, &[("SRPM", "1")])?;
    Some(Fixtures { generated, custom })
}

/// A spec exercising every rule of the reader: epoch, pre-requires, scriptlet
/// interpreters, own file requires, self-provided requires, libc filtering,
/// all flag kinds, weak dependencies, ghost and directory entries, primary
/// files (/etc, bin/, /usr/lib/sendmail), odd file names, and 12 changelog
/// entries of which three share a date.
pub const SPEC: &str = r#"Name: storetest
Epoch: 3
Version: 1.2.3
Release: 4.fx
Summary: Store test package
License: MIT AND (Apache-2.0 OR BSD-3-Clause)
URL: https://example.invalid/storetest
Vendor: Example Vendor
Packager: Jane Packager <jane@example.invalid>
Group: Applications/Test
AutoReqProv: no
Requires: bash >= 4.0
Requires(pre): shadow-utils
Requires(post): coreutils
Requires(preun): grep
Requires(postun): sed
Requires(pre,post): pre-and-post
Requires: /usr/bin/storetest
Requires: /usr/share/storetest/data.txt
Requires: storetest-virtual = 1.0
Requires: libc.so.6(GLIBC_2.2.5)(64bit)
Requires: libc.so.6(GLIBC_2.14)(64bit)
Requires: libc.so.6()(64bit)
Requires: foo < 2:1.0-1
Requires: bar <= 1.0
Requires: baz > 0.5
Requires: qux = 1:2.0-3
Provides: storetest-virtual = 1.0
Provides: storetest(cap)
Conflicts: oldthing < 1.0
Obsoletes: storetest-legacy < 1.2
Suggests: sug-pkg
Recommends: rec-pkg >= 2
Supplements: sup-pkg
Enhances: enh-pkg > 1:1

%description
A package with every feature the reader cares about.
Second line, unicode: café ✓, and <xml> & "quotes".

%prep
%build
%install
mkdir -p %{buildroot}/usr/share/storetest %{buildroot}/usr/bin %{buildroot}/usr/sbin %{buildroot}/etc/storetest.d %{buildroot}/usr/lib %{buildroot}/var/log
echo data > %{buildroot}/usr/share/storetest/data.txt
echo "file with spaces" > "%{buildroot}/usr/share/storetest/a file, with commas.txt"
printf '#!/bin/sh\necho hi\n' > %{buildroot}/usr/bin/storetest
printf '#!/bin/sh\necho daemon\n' > %{buildroot}/usr/sbin/storetestd
echo conf > %{buildroot}/etc/storetest.conf
echo sendmail > %{buildroot}/usr/lib/sendmail
chmod 755 %{buildroot}/usr/bin/storetest %{buildroot}/usr/sbin/storetestd

%pre
echo pre
%post
echo post

%files
%dir /usr/share/storetest
/usr/share/storetest/data.txt
"/usr/share/storetest/a file, with commas.txt"
/usr/bin/storetest
/usr/sbin/storetestd
%config(noreplace) /etc/storetest.conf
%dir /etc/storetest.d
/usr/lib/sendmail
%ghost /var/log/storetest.log

%changelog
* Fri Mar 01 2024 Jane Packager <jane@example.invalid> - 3:1.2.3-4.fx
- twelfth entry
- with two lines
* Thu Feb 01 2024 Jane Packager <jane@example.invalid> - 1.2.3-3
- eleventh entry
* Thu Feb 01 2024 John Other <john@example.invalid> - 1.2.3-2
- tenth entry, same day as the eleventh
* Thu Feb 01 2024 John Other <john@example.invalid> - 1.2.3-1
- ninth entry, same day again
* Mon Jan 01 2024 A <a@example.invalid> - 8
- eighth
* Sun Dec 31 2023 A <a@example.invalid> - 7
- seventh
* Sat Dec 30 2023 A <a@example.invalid> - 6
- sixth
* Fri Dec 29 2023 A <a@example.invalid> - 5
- fifth
* Thu Dec 28 2023 A <a@example.invalid> - 4
- fourth
* Wed Dec 27 2023 A <a@example.invalid> - 3
- third
* Tue Dec 26 2023 A <a@example.invalid> - 2
- second
* Mon Dec 25 2023 A <a@example.invalid> - 1
- first
"#;

/// Builds [`SPEC`] (binary and source package) and makes `repo` a yum
/// repository of the two.
fn build_custom(repo: &Path) {
    let work = tempfile::tempdir().expect("rpmbuild work dir");
    let top = work.path().join("rpmbuild");
    let spec = work.path().join("storetest.spec");
    std::fs::write(&spec, SPEC).expect("write spec");
    run_quietly(
        Command::new("rpmbuild")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .args(["--define", "debug_package %{nil}"])
            .args(["--define", "__os_install_post %{nil}"])
            .args(["--define", "_buildhost test.example.invalid"])
            .arg("-ba")
            .arg(&spec)
            .env("SOURCE_DATE_EPOCH", "1704067200"),
    );
    std::fs::create_dir_all(repo).expect("create repo dir");
    for rpm in find_rpms(&top) {
        let name = rpm.file_name().expect("file name");
        std::fs::copy(&rpm, repo.join(name)).expect("copy rpm");
    }
    run_quietly(Command::new("createrepo_c").arg("--quiet").arg(repo));
}

/// Every `.rpm` below `dir`, sorted.
pub fn find_rpms(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rpm") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Runs a command and returns its standard output.
pub fn run(cmd: &mut Command) -> String {
    let output = cmd.output().expect("spawn");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// `rpm -qp --queryformat FORMAT file`.
pub fn rpm_query(file: &Path, format: &str) -> String {
    run(Command::new("rpm")
        .arg("-qp")
        .arg("--queryformat")
        .arg(format)
        .arg(file))
}

/// createrepo_c's metadata, as lines per package id (see dump_repodata.py).
pub fn createrepo_lines(repo: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/dump_repodata.py");
    let text = run(Command::new("python3").arg(script).arg(repo));
    let mut by_pkg: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<String> = line.split('\t').map(unescape).collect();
        by_pkg.entry(fields[1].clone()).or_default().push(fields);
    }
    by_pkg
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}
