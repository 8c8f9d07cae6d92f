//! Round trip: parse a real createrepo_c repository, publish it again with
//! `RepoWriter` next to (hard links of) the same Packages/ tree, and let
//! the real dnf read the result.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use pulp_app::plugins::rpm::metadata::{RepoWriter, verify_reader};
use support::{fixtures, metadata};

const N: usize = 200;

/// Run dnf against the repository at `dir` with a private cache.
fn dnf(dir: &Path, cache: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("dnf");
    cmd.arg("-q")
        .arg("--setopt=reposdir=/dev/null")
        .arg(format!(
            "--setopt=cachedir={}",
            cache.join("cache").display()
        ))
        .arg(format!("--setopt=logdir={}", cache.join("log").display()))
        .arg("--releasever=x")
        .arg(format!("--repofrompath=t,file://{}", dir.display()))
        .arg("--repo=t")
        .args(args);
    cmd.output().expect("run dnf")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

fn assert_ok(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn published_repo_round_trips_and_dnf_reads_it() {
    if fixtures::skip_without("round trip with dnf", &["dnf"]) {
        return;
    }
    let Some(original) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let source = metadata::parse_repo(&original).expect("parse fixture");
    let out = fixtures::scratch_dir("roundtrip");
    fixtures::link_packages(&original, out.path());
    let comps = source.comps.clone().expect("fixture has comps");
    let repomd = RepoWriter::new(out.path())
        .revision("1704067200")
        .timestamp(1704067200)
        .advisories(&source.advisories)
        .comps(&comps)
        .write(source.packages.len() as u64, &source.packages)
        .expect("publish");

    // Structure: the records createrepo_c + modifyrepo_c produce (minus sqlite).
    let types: Vec<&str> = repomd
        .records
        .iter()
        .map(|r| r.data_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "primary",
            "filelists",
            "other",
            "group",
            "group_gz",
            "updateinfo"
        ]
    );
    for record in &repomd.records {
        let name = record.location_href.strip_prefix("repodata/").unwrap();
        assert!(
            name.starts_with(record.checksum.hex()),
            "{name}: not checksum-named"
        );
        let file = std::fs::File::open(out.path().join(&record.location_href)).unwrap();
        verify_reader(name, file, &record.checksum, record.size).expect("checksum");
        assert_eq!(record.timestamp, Some(1704067200));
        if record.data_type != "group" {
            assert!(record.open_checksum.is_some() && record.open_size.is_some());
        }
    }
    let written = std::fs::read_to_string(out.path().join("repodata/repomd.xml")).unwrap();
    assert!(written.contains(r#"<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">"#));
    assert!(
        !std::fs::read_dir(out.path().join("repodata"))
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".tmp"))
    );

    // The decompressed content is byte-identical to what createrepo_c and
    // modifyrepo_c wrote (only the gzip level differs).
    for t in ["primary", "filelists", "other", "updateinfo", "group_gz"] {
        assert_eq!(
            repomd.record(t).unwrap().open_checksum,
            source.repomd.record(t).unwrap().open_checksum,
            "{t}: content differs from createrepo_c's"
        );
    }
    assert_eq!(
        repomd.record("group").unwrap().checksum,
        source.repomd.record("group").unwrap().checksum
    );

    // Our own reader gets back exactly what was written.
    let again = metadata::parse_repo(out.path()).expect("parse published repo");
    assert_eq!(again.packages, source.packages);
    assert_eq!(again.advisories, source.advisories);
    assert_eq!(again.comps.as_ref(), Some(&comps));

    // dnf sees the same repository in both.
    let cache = fixtures::scratch_dir("dnfcache");
    let cache_a = cache.path().join("a");
    let cache_b = cache.path().join("b");
    let check = |args: &[&str]| {
        let before = dnf(&original, &cache_a, args);
        let after = dnf(out.path(), &cache_b, args);
        assert_ok(&format!("dnf {args:?} on the fixture"), &before);
        assert_ok(&format!("dnf {args:?} on our output"), &after);
        (stdout_lines(&before), stdout_lines(&after), after)
    };

    let (before, after, _) = check(&["list", "available", "--showduplicates"]);
    assert_eq!(after, before);
    let listed = after.iter().filter(|l| l.ends_with(" t")).count();
    assert_eq!(listed, N, "dnf lists every package");
    for pkg in &source.packages {
        let na = format!("{}.{} ", pkg.name, pkg.arch);
        let evr = if pkg.epoch == "0" {
            format!("{}-{}", pkg.version, pkg.release)
        } else {
            format!("{}:{}-{}", pkg.epoch, pkg.version, pkg.release)
        };
        assert!(
            after
                .iter()
                .any(|l| l.starts_with(&na) && l.contains(&format!(" {evr} "))),
            "dnf does not list {na}{evr}"
        );
    }

    let (_, closure, output) = check(&["repoclosure", "--check", "t"]);
    assert!(closure.is_empty(), "repoclosure output: {closure:?}");
    assert!(
        output.stderr.is_empty(),
        "repoclosure stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let (before, after, _) = check(&["group", "list"]);
    assert_eq!(after, before);
    for group in &comps.groups {
        assert!(
            after.iter().any(|l| l == &group.name),
            "group {} not listed",
            group.name
        );
    }
    assert!(after.iter().any(|l| l == &comps.environments[0].name));

    let (_, _, output) = check(&["updateinfo", "list", "--all"]);
    let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
    assert!(
        !stderr.contains("error") && !stderr.contains("fail"),
        "{stderr}"
    );
    // Nothing is installed here, so `updateinfo list` is empty; querying by
    // advisory proves dnf read every advisory and its package list.
    for advisory in &source.advisories {
        let flag = format!("--advisory={}", advisory.id);
        let (before, after, _) = check(&["repoquery", &flag]);
        let count = advisory
            .collections
            .iter()
            .map(|c| c.packages.len())
            .sum::<usize>();
        assert_eq!(after.len(), count, "{}: {after:?}", advisory.id);
        assert_eq!(after, before, "{}", advisory.id);
    }
}
