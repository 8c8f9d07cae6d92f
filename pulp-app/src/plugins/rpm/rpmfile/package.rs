//! Turning a parsed main header into a [`Package`], with createrepo_c's rules.
//!
//! The rules below are facts about createrepo_c 0.17 (`parsehdr.c`, `misc.c`),
//! so that a package read here looks exactly like the same package in a
//! repository that createrepo_c generated:
//!
//! - epoch is `"0"` when absent; the arch of a source package is `src`;
//! - sizes come from `LONGSIZE`/`SIZE` and `LONGARCHIVESIZE`/`ARCHIVESIZE`
//!   (in either header: rpm 4.14+ keeps the payload size in the signature header);
//! - file kind: `dir` when the mode is a directory, else `ghost` when flagged `%ghost`;
//! - requires drop `rpmlib(...)` entries, file requires on the package's own
//!   primary files, requires identical to one of its provides, and repeats;
//!   `pre` is set for `Requires(pre)`, `Requires(post)` and legacy PreReq;
//!   only the highest `libc.so.6(...)` requirement is kept (and listed last);
//! - legacy weak dependencies (SUSE-era `OLDSUGGESTS`/`OLDENHANCES`, and
//!   requires flagged MISSINGOK) go to suggests/recommends/enhances/supplements;
//! - a dependency whose version has a non-numeric epoch is skipped;
//! - changelogs: the newest `limit` entries, oldest first, entries with equal
//!   times shifted by one second each so that they stay distinct.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::error::RpmError;
use super::header::Header;
use super::tags::{main as tag, signature as sigtag};
use super::vercmp::rpmvercmp;
use super::{ReadOptions, RpmFile};
use crate::checksum::ChecksumKind;
use crate::plugins::rpm::model::{Changelog, Dependency, FileEntry, FileKind, Package};

const RPMSENSE_SENSEMASK: u64 = 0x0f;
const RPMSENSE_PREREQ: u64 = 1 << 6;
const RPMSENSE_SCRIPT_PRE: u64 = 1 << 9;
const RPMSENSE_SCRIPT_POST: u64 = 1 << 10;
const RPMSENSE_MISSINGOK: u64 = 1 << 19;
const RPMSENSE_STRONG: u64 = 1 << 27;
const RPMFILE_GHOST: u64 = 1 << 6;
const S_IFMT: u64 = 0o170_000;
const S_IFDIR: u64 = 0o040_000;

/// Builds the package description from a read `.rpm` file.
pub(crate) fn build(file: &RpmFile, opts: &ReadOptions) -> Result<Package, RpmError> {
    let h = &file.header;
    let text = |t: u32| -> Result<String, RpmError> {
        Ok(h.string(t)?.map(Cow::into_owned).unwrap_or_default())
    };
    let required = |t: u32| -> Result<String, RpmError> {
        h.string(t)?
            .map(Cow::into_owned)
            .ok_or(RpmError::MissingTag {
                tag: t,
                name: super::tags::name(t),
            })
    };

    let files = read_files(h, opts.max_file_list_bytes)?;
    let primary_files: Vec<FileEntry> = files
        .iter()
        .filter(|f| is_primary(&f.path))
        .cloned()
        .collect();
    let deps = read_dependencies(h, &files)?;

    Ok(Package {
        name: required(tag::NAME)?,
        epoch: h.number(tag::EPOCH)?.unwrap_or(0).to_string(),
        version: required(tag::VERSION)?,
        release: required(tag::RELEASE)?,
        arch: if file.is_source()? {
            "src".to_owned()
        } else {
            text(tag::ARCH)?
        },
        pkg_id: file.sha256.clone(),
        checksum_type: ChecksumKind::Sha256.name().to_owned(),
        summary: text(tag::SUMMARY)?,
        description: text(tag::DESCRIPTION)?,
        packager: text(tag::PACKAGER)?,
        url: text(tag::URL)?,
        time_file: 0,
        time_build: i64::try_from(h.number(tag::BUILDTIME)?.unwrap_or(0)).unwrap_or(i64::MAX),
        size_package: file.size,
        size_installed: first_number(&[(h, tag::LONGSIZE), (h, tag::SIZE)])?,
        size_archive: first_number(&[
            (h, tag::LONGARCHIVESIZE),
            (h, tag::ARCHIVESIZE),
            (&file.signature, sigtag::LONGARCHIVESIZE),
            (&file.signature, sigtag::PAYLOADSIZE),
        ])?,
        location_href: String::new(),
        location_base: None,
        rpm_license: text(tag::LICENSE)?,
        rpm_vendor: text(tag::VENDOR)?,
        rpm_group: text(tag::GROUP)?,
        rpm_buildhost: text(tag::BUILDHOST)?,
        rpm_sourcerpm: text(tag::SOURCERPM)?,
        rpm_header_start: file.header_start,
        rpm_header_end: file.header_end,
        provides: deps.provides,
        requires: deps.requires,
        conflicts: deps.conflicts,
        obsoletes: deps.obsoletes,
        suggests: deps.suggests,
        enhances: deps.enhances,
        recommends: deps.recommends,
        supplements: deps.supplements,
        primary_files,
        files,
        changelogs: read_changelogs(h, opts.changelog_limit)?,
    })
}

/// The value of the first of these (header, tag) pairs that is present, else 0.
fn first_number(candidates: &[(&Header, u32)]) -> Result<u64, RpmError> {
    for (header, tag) in candidates {
        if let Some(n) = header.number(*tag)? {
            return Ok(n);
        }
    }
    Ok(0)
}

/// createrepo_c's "primary file" rule: what primary.xml lists.
pub fn is_primary(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

// ---------------------------------------------------------------- files

fn read_files(h: &Header, max_bytes: u64) -> Result<Vec<FileEntry>, RpmError> {
    let mut budget = Budget {
        left: max_bytes,
        max: max_bytes,
    };
    let paths: Vec<String> = match h.strings(tag::BASENAMES)? {
        Some(basenames) => {
            let dirnames: Vec<Cow<'_, str>> = match h.strings(tag::DIRNAMES)? {
                Some(d) => d.collect(),
                None => Vec::new(),
            };
            let indexes = h.numbers(tag::DIRINDEXES)?;
            let index_count = indexes.as_ref().map_or(0, |i| i.len());
            check_len(
                "file list",
                "BASENAMES",
                basenames.len(),
                "DIRINDEXES",
                index_count,
            )?;
            let indexes = indexes.into_iter().flatten();
            let mut paths = Vec::with_capacity(basenames.len());
            for (i, (base, dir_index)) in basenames.zip(indexes).enumerate() {
                let dir = usize::try_from(dir_index)
                    .ok()
                    .and_then(|d| dirnames.get(d))
                    .ok_or(RpmError::DirIndexOutOfRange {
                        file: i,
                        dir_index,
                        dir_count: dirnames.len(),
                    })?;
                budget.take(dir.len() + base.len())?;
                paths.push(format!("{dir}{base}"));
            }
            paths
        }
        None => match h.strings(tag::OLDFILENAMES)? {
            Some(old) => old
                .map(|p| {
                    budget.take(p.len())?;
                    Ok(p.into_owned())
                })
                .collect::<Result<_, RpmError>>()?,
            None => Vec::new(),
        },
    };

    let modes = h.numbers(tag::FILEMODES)?;
    let flags = h.numbers(tag::FILEFLAGS)?;
    if let Some(m) = &modes {
        check_len("file list", "BASENAMES", paths.len(), "FILEMODES", m.len())?;
    }
    if let Some(f) = &flags {
        check_len("file list", "BASENAMES", paths.len(), "FILEFLAGS", f.len())?;
    }
    Ok(paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| {
            let mode = modes.as_ref().and_then(|m| m.get(i)).unwrap_or(0);
            let flag = flags.as_ref().and_then(|f| f.get(i)).unwrap_or(0);
            let kind = if mode & S_IFMT == S_IFDIR {
                FileKind::Dir
            } else if flag & RPMFILE_GHOST != 0 {
                FileKind::Ghost
            } else {
                FileKind::File
            };
            FileEntry { kind, path }
        })
        .collect())
}

/// A byte budget for the expanded file list, so a hostile header (one long
/// directory name shared by a million files) cannot make us allocate terabytes.
struct Budget {
    left: u64,
    max: u64,
}

impl Budget {
    fn take(&mut self, n: usize) -> Result<(), RpmError> {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        self.left = self
            .left
            .checked_sub(n)
            .ok_or(RpmError::FileListTooLarge { max: self.max })?;
        Ok(())
    }
}

fn check_len(
    what: &'static str,
    first: &'static str,
    first_len: usize,
    second: &'static str,
    second_len: usize,
) -> Result<(), RpmError> {
    if first_len == second_len {
        Ok(())
    } else {
        Err(RpmError::InconsistentArrays {
            what,
            first,
            first_len,
            second,
            second_len,
        })
    }
}

// ---------------------------------------------------------------- dependencies

#[derive(Default)]
struct Deps {
    provides: Vec<Dependency>,
    requires: Vec<Dependency>,
    conflicts: Vec<Dependency>,
    obsoletes: Vec<Dependency>,
    suggests: Vec<Dependency>,
    enhances: Vec<Dependency>,
    recommends: Vec<Dependency>,
    supplements: Vec<Dependency>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DepKind {
    Provides,
    Conflicts,
    Obsoletes,
    Requires,
    Suggests,
    Enhances,
    Recommends,
    Supplements,
    OldSuggests,
    OldEnhances,
}

/// In createrepo_c's processing order: provides first (requires consult them).
#[rustfmt::skip]
const DEP_TAGS: [(DepKind, [u32; 3], &str); 10] = [
    (DepKind::Provides, [tag::PROVIDENAME, tag::PROVIDEFLAGS, tag::PROVIDEVERSION], "provides"),
    (DepKind::Conflicts, [tag::CONFLICTNAME, tag::CONFLICTFLAGS, tag::CONFLICTVERSION], "conflicts"),
    (DepKind::Obsoletes, [tag::OBSOLETENAME, tag::OBSOLETEFLAGS, tag::OBSOLETEVERSION], "obsoletes"),
    (DepKind::Requires, [tag::REQUIRENAME, tag::REQUIREFLAGS, tag::REQUIREVERSION], "requires"),
    (DepKind::Suggests, [tag::SUGGESTNAME, tag::SUGGESTFLAGS, tag::SUGGESTVERSION], "suggests"),
    (DepKind::Enhances, [tag::ENHANCENAME, tag::ENHANCEFLAGS, tag::ENHANCEVERSION], "enhances"),
    (DepKind::Recommends, [tag::RECOMMENDNAME, tag::RECOMMENDFLAGS, tag::RECOMMENDVERSION], "recommends"),
    (DepKind::Supplements, [tag::SUPPLEMENTNAME, tag::SUPPLEMENTFLAGS, tag::SUPPLEMENTVERSION], "supplements"),
    (DepKind::OldSuggests, [tag::OLDSUGGESTSNAME, tag::OLDSUGGESTSFLAGS, tag::OLDSUGGESTSVERSION], "old suggests"),
    (DepKind::OldEnhances, [tag::OLDENHANCESNAME, tag::OLDENHANCESFLAGS, tag::OLDENHANCESVERSION], "old enhances"),
];

fn read_dependencies(h: &Header, files: &[FileEntry]) -> Result<Deps, RpmError> {
    let own_files: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    // name + flags + version of every provide, to drop requires it satisfies itself.
    let mut provided: HashSet<String> = HashSet::new();
    // name -> (flags, version, pre) of the last require kept under that name.
    let mut last_require: HashMap<String, (Option<&'static str>, String, bool)> = HashMap::new();
    let mut deps = Deps::default();
    let mut bad_epochs = 0usize;

    for (kind, [name_tag, flags_tag, version_tag], what) in DEP_TAGS {
        let (Some(names), Some(flags), Some(versions)) = (
            h.strings(name_tag)?,
            h.numbers(flags_tag)?,
            h.strings(version_tag)?,
        ) else {
            continue; // createrepo_c needs all three arrays
        };
        check_len(
            what,
            super::tags::name(name_tag),
            names.len(),
            super::tags::name(flags_tag),
            flags.len(),
        )?;
        check_len(
            what,
            super::tags::name(name_tag),
            names.len(),
            super::tags::name(version_tag),
            versions.len(),
        )?;

        let mut highest_libc: Option<Dependency> = None;
        for ((name, raw_flags), version) in names.zip(flags).zip(versions) {
            let flags = flag_str(raw_flags);
            let nfv = format!("{name}{}{version}", flags.unwrap_or(""));
            let mut pre = false;
            if kind == DepKind::Requires {
                if name.starts_with("rpmlib(") {
                    continue;
                }
                if name.starts_with('/') && own_files.contains(name.as_ref()) && is_primary(&name) {
                    continue;
                }
                if provided.contains(&nfv) {
                    continue;
                }
                pre =
                    raw_flags & (RPMSENSE_PREREQ | RPMSENSE_SCRIPT_PRE | RPMSENSE_SCRIPT_POST) != 0;
                if let Some((f, v, p)) = last_require.get(name.as_ref())
                    && *f == flags
                    && *v == version
                    && *p == pre
                {
                    continue;
                }
            }
            let Some((epoch, ver, rel)) = parse_evr(&version) else {
                bad_epochs += 1;
                continue;
            };
            let dep = Dependency {
                name: name.clone().into_owned(),
                flags: flags.map(str::to_owned),
                epoch,
                ver,
                rel,
                pre: false,
            };
            match kind {
                DepKind::Provides => {
                    provided.insert(nfv);
                    deps.provides.push(dep);
                }
                DepKind::Conflicts => deps.conflicts.push(dep),
                DepKind::Obsoletes => deps.obsoletes.push(dep),
                DepKind::Requires if raw_flags & RPMSENSE_MISSINGOK != 0 => {
                    deps.recommends.push(dep)
                }
                DepKind::Requires => {
                    let dep = Dependency { pre, ..dep };
                    if dep.name.starts_with("libc.so.6") {
                        let replace = highest_libc
                            .as_ref()
                            .is_none_or(|best| libc_is_newer(&dep.name, &best.name));
                        if replace {
                            highest_libc = Some(dep);
                        }
                        continue;
                    }
                    last_require.insert(dep.name.clone(), (flags, version.into_owned(), pre));
                    deps.requires.push(dep);
                }
                DepKind::Suggests => deps.suggests.push(dep),
                DepKind::Enhances => deps.enhances.push(dep),
                DepKind::Recommends => deps.recommends.push(dep),
                DepKind::Supplements => deps.supplements.push(dep),
                DepKind::OldSuggests if raw_flags & RPMSENSE_STRONG != 0 => {
                    deps.recommends.push(dep)
                }
                DepKind::OldSuggests => deps.suggests.push(dep),
                DepKind::OldEnhances if raw_flags & RPMSENSE_STRONG != 0 => {
                    deps.supplements.push(dep)
                }
                DepKind::OldEnhances => deps.enhances.push(dep),
            }
        }
        if let Some(libc) = highest_libc {
            deps.requires.push(libc);
        }
    }
    if bad_epochs > 0 {
        tracing::warn!(
            count = bad_epochs,
            "skipped dependencies with a non-numeric epoch"
        );
    }
    Ok(deps)
}

/// createrepo_c's mapping of rpm's sense bits to primary.xml `flags`.
fn flag_str(flags: u64) -> Option<&'static str> {
    match flags & RPMSENSE_SENSEMASK {
        2 => Some("LT"),
        4 => Some("GT"),
        8 => Some("EQ"),
        10 => Some("LE"),
        12 => Some("GE"),
        _ => None,
    }
}

type Evr = (Option<String>, Option<String>, Option<String>);

/// Splits a dependency version `[epoch:]version[-release]` like createrepo_c:
/// the epoch defaults to `"0"`, the release starts after the first `-`.
/// Returns `None` for a non-numeric epoch (createrepo_c skips such dependencies).
fn parse_evr(full: &str) -> Option<Evr> {
    if full.is_empty() {
        return Some((None, None, None));
    }
    let (epoch, rest) = match full.split_once(':') {
        Some(("", rest)) => ("0".to_owned(), rest),
        Some((e, rest)) if is_c_integer(e) => (e.to_owned(), rest),
        Some(_) => return None,
        None => ("0".to_owned(), full),
    };
    let (version, release) = match rest.split_once('-') {
        Some((v, r)) => (v, (!r.is_empty()).then(|| r.to_owned())),
        None => (rest, None),
    };
    Some((Some(epoch), Some(version.to_owned()), release))
}

/// What C's `strtol` consumes entirely: optional spaces, an optional sign, digits.
fn is_c_integer(s: &str) -> bool {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// createrepo_c's `libc.so.6(GLIBC_x.y)` ordering: is `candidate` newer than
/// `best`? Compares the text from the first digit inside the first
/// parentheses up to the closing one with rpm's version comparison; a
/// dependency with nothing comparable there loses.
fn libc_is_newer(candidate: &str, best: &str) -> bool {
    /// Each step yields `None` when that dependency lacks the part.
    fn part(dep: &str) -> [Option<&str>; 4] {
        let Some(open) = dep.find('(') else {
            return [None; 4];
        };
        let after = &dep[open + 1..];
        let Some(close) = after.find(')') else {
            return [Some(after), None, None, None];
        };
        let inner = &after[..close];
        let versioned = after
            .find(|c: char| c.is_ascii_digit())
            .filter(|&d| d < close)
            .map(|d| &after[d..close]);
        [
            Some(after),
            Some(inner),
            (!inner.is_empty()).then_some(inner),
            versioned,
        ]
    }
    let (b, c) = (part(best), part(candidate));
    for step in 0..4 {
        match (b[step], c[step]) {
            (None, None) => return false,
            (None, Some(_)) => return true,
            (Some(_), None) => return false,
            (Some(_), Some(_)) => {}
        }
    }
    match (b[3], c[3]) {
        (Some(bv), Some(cv)) => rpmvercmp(bv, cv) == std::cmp::Ordering::Less,
        _ => false,
    }
}

// ---------------------------------------------------------------- changelogs

fn read_changelogs(h: &Header, limit: Option<usize>) -> Result<Vec<Changelog>, RpmError> {
    let (Some(times), Some(names), Some(texts)) = (
        h.numbers(tag::CHANGELOGTIME)?,
        h.strings(tag::CHANGELOGNAME)?,
        h.strings(tag::CHANGELOGTEXT)?,
    ) else {
        return Ok(Vec::new());
    };
    check_len(
        "changelog",
        "CHANGELOGTIME",
        times.len(),
        "CHANGELOGNAME",
        names.len(),
    )?;
    check_len(
        "changelog",
        "CHANGELOGTIME",
        times.len(),
        "CHANGELOGTEXT",
        texts.len(),
    )?;

    // The header lists the newest entry first; keep the first `limit`.
    let keep = limit.unwrap_or(usize::MAX);
    let mut kept: Vec<Changelog> = Vec::new();
    let mut last_time = 0i64;
    // The shifting below is quadratic in the length of a run of equal times;
    // this budget bounds the work for hostile headers (any real package
    // stays far below it, so the result is createrepo_c's).
    let mut shift_budget: u32 = 10_000_000;
    for ((time, author), text) in times.zip(names).zip(texts).take(keep) {
        let time = i64::try_from(time).unwrap_or(i64::MAX);
        kept.push(Changelog {
            author: trim_author(&author).to_owned(),
            date: time,
            text: text.into_owned(),
        });
        if time == last_time {
            // Equal times: shift the newer neighbours by one second each, so
            // that every date is distinct (createrepo_c's rule).
            let mut expected = Some(time);
            for newer in kept.iter_mut().rev().skip(1) {
                if expected != Some(newer.date) || shift_budget == 0 {
                    break;
                }
                shift_budget -= 1;
                newer.date = newer.date.saturating_add(1);
                expected = expected.and_then(|e| e.checked_add(1));
            }
        } else {
            last_time = time;
        }
    }
    kept.reverse(); // oldest first, as in other.xml
    Ok(kept)
}

/// Drops trailing spaces, but never the first character (as createrepo_c does).
fn trim_author(author: &str) -> &str {
    let trimmed = author.trim_end_matches(' ');
    if trimmed.is_empty() && !author.is_empty() {
        &author[..1]
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evr_like_createrepo() {
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(parse_evr(""), Some((None, None, None)));
        assert_eq!(parse_evr("1.2"), Some((s("0"), s("1.2"), None)));
        assert_eq!(parse_evr("1.2-3.fc1"), Some((s("0"), s("1.2"), s("3.fc1"))));
        assert_eq!(parse_evr("2:1.2-3-4"), Some((s("2"), s("1.2"), s("3-4"))));
        assert_eq!(parse_evr(":1.0"), Some((s("0"), s("1.0"), None)));
        assert_eq!(parse_evr("1.0-"), Some((s("0"), s("1.0"), None)));
        assert_eq!(parse_evr("x:1.0"), None);
        assert_eq!(parse_evr("1a:1.0"), None);
    }

    #[test]
    fn flags_and_primary() {
        assert_eq!(flag_str(12 | RPMSENSE_SCRIPT_PRE), Some("GE"));
        assert_eq!(flag_str(0), None);
        assert_eq!(flag_str(6), None);
        assert!(is_primary("/etc/foo.conf"));
        assert!(is_primary("/usr/sbin/x"));
        assert!(is_primary("/opt/xbin/y"));
        assert!(is_primary("/usr/lib/sendmail"));
        assert!(!is_primary("/etc"));
        assert!(!is_primary("/usr/share/doc/bin"));
    }

    #[test]
    fn libc_highest() {
        assert!(libc_is_newer(
            "libc.so.6(GLIBC_2.4)(64bit)",
            "libc.so.6(GLIBC_2.3.4)(64bit)"
        ));
        assert!(!libc_is_newer(
            "libc.so.6(GLIBC_2.3)(64bit)",
            "libc.so.6(GLIBC_2.14)(64bit)"
        ));
        assert!(libc_is_newer(
            "libc.so.6(GLIBC_2.2.5)(64bit)",
            "libc.so.6()(64bit)"
        ));
        assert!(!libc_is_newer(
            "libc.so.6()(64bit)",
            "libc.so.6(GLIBC_2.2.5)(64bit)"
        ));
        assert!(libc_is_newer("libc.so.6()(64bit)", "libc.so.6"));
    }

    #[test]
    fn author_trim() {
        assert_eq!(trim_author("Jane <j@x> - 1-1  "), "Jane <j@x> - 1-1");
        assert_eq!(trim_author("   "), " ");
        assert_eq!(trim_author(""), "");
    }
}
