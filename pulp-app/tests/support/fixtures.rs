//! Fixture repositories built with the real tools (rpmbuild, createrepo_c)
//! by the scripts in `tests/fixtures/`, and tool detection.
//!
//! Fixtures are built once per user under a stable directory
//! (`$PULP_APP_FIXTURE_DIR`, else `<temp dir>/pulp-app-fixtures-<uid>`),
//! named after what they are built from (script arguments, knobs, and a hash
//! of the script or spec), and reused by later runs: building 200 RPMs takes
//! a few seconds, reusing them nothing. A fixture is built in a private
//! staging directory and renamed into place when complete, so concurrent
//! test processes never see half a fixture.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use pulp_app::checksum::{Checksum, ChecksumKind};

/// Where fixtures are built and reused.
pub fn fixture_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("PULP_APP_FIXTURE_DIR") {
        return PathBuf::from(dir);
    }
    let user = std::fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "user".to_owned());
    std::env::temp_dir().join(format!("pulp-app-fixtures-{user}"))
}

/// A script of `tests/fixtures/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Prints a notice the test harness does not capture (it captures only the
/// print macros), so a skip is visible in every run.
pub fn loud(message: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** {message} ***\n");
}

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null 2>&1"))
        .status()
        .is_ok_and(|s| s.success())
}

/// The command that installs every tool the fixtures and tests use.
pub const INSTALL_TOOLS: &str =
    "apt-get install -y rpm createrepo-c python3 dnf dnf-plugins-core zstd openssl";

/// Whether `PULP_APP_REQUIRE_TOOLS=1` is set: then a missing tool fails
/// the test (see [`skip_or_fail`]) instead of skipping it.
pub fn tools_required() -> bool {
    std::env::var("PULP_APP_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Reports that `test` cannot run because `what` is missing: panics with
/// `install` (the command that provides it) under
/// `PULP_APP_REQUIRE_TOOLS=1`, else prints a loud skip notice.
pub fn skip_or_fail(test: &str, what: &str, install: &str) {
    if tools_required() {
        panic!(
            "{test}: {what} missing, and PULP_APP_REQUIRE_TOOLS=1 forbids skipping; install it: {install}"
        );
    }
    loud(&format!("SKIPPING {test}: {what} missing ({install})"));
}

/// Returns true, after a loud skip notice naming `test`, if any of
/// `tools` is missing; panics instead under `PULP_APP_REQUIRE_TOOLS=1`.
pub fn skip_without(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<_> = tools.iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return false;
    }
    skip_or_fail(test, &format!("tool(s) {missing:?}"), INSTALL_TOOLS);
    true
}

/// Serializes fixture builds within one test process.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// The first 12 hex digits of the SHA-256 of `parts`.
pub fn short_hash(parts: &[&[u8]]) -> String {
    let joined: Vec<u8> = parts.join(&b"\0"[..]);
    Checksum::of(ChecksumKind::Sha256, &joined).hex()[..12].to_owned()
}

/// The fixture `fixture_root()/<key>`, built by `build` into a staging
/// directory (that becomes it) the first time, reused afterwards.
pub fn build_once(key: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let root = fixture_root();
    let dir = root.join(key);
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if dir.is_dir() {
        return dir;
    }
    std::fs::create_dir_all(&root).expect("create the fixture root");
    let staging = root.join(format!(".building-{key}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    build(&staging);
    if let Err(e) = std::fs::rename(&staging, &dir) {
        // Another process finished the same fixture first: use that one.
        let _ = std::fs::remove_dir_all(&staging);
        assert!(dir.is_dir(), "move {} into place: {e}", staging.display());
    }
    dir
}

/// Runs `cmd`, panicking with its output if it fails.
pub fn run_quietly(cmd: &mut Command) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The yum repository `make_rpm_repo.sh n` builds (createrepo_c metadata,
/// comps, updateinfo), with the extra environment knobs `env` (e.g.
/// `[("SRPM", "1")]`). `None`, after a loud notice, when the tools are
/// missing.
pub fn rpm_repo(n: usize, env: &[(&str, &str)]) -> Option<PathBuf> {
    if skip_without(
        "tests that need a fixture repository",
        &["rpmbuild", "createrepo_c", "modifyrepo_c", "python3"],
    ) {
        return None;
    }
    let script = script("make_rpm_repo.sh");
    let text = std::fs::read(&script).expect("read make_rpm_repo.sh");
    // Only characters every tool takes in a path (rpmbuild does not take
    // spaces); the hash below tells apart knobs that differ otherwise.
    let knobs: String = env
        .iter()
        .map(|(k, v)| format!("-{k}={v}"))
        .collect::<String>()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "=._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let env_text = format!("{env:?}");
    let key = format!(
        "rpm-{n}{knobs}-{}",
        short_hash(&[&text, env_text.as_bytes()])
    );
    Some(build_once(&key, |staging| {
        run_quietly(
            Command::new("bash")
                .arg(&script)
                .arg(n.to_string())
                .arg(staging)
                .envs(env.iter().copied()),
        );
    }))
}

/// A fresh scratch directory under the fixture root (on the same file
/// system as the fixtures, so their packages can be hard-linked into it).
pub fn scratch_dir(tag: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(fixture_root()).expect("fixture root");
    tempfile::Builder::new()
        .prefix(&format!(".scratch-{tag}-"))
        .tempdir_in(fixture_root())
        .expect("tempdir")
}

/// `cp -al src/Packages dst/Packages` (hard links; falls back to a copy).
pub fn link_packages(src: &Path, dst: &Path) {
    let ok = Command::new("cp")
        .arg("-al")
        .arg(src.join("Packages"))
        .arg(dst.join("Packages"))
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        run_quietly(
            Command::new("cp")
                .arg("-a")
                .arg(src.join("Packages"))
                .arg(dst.join("Packages")),
        );
    }
}

/// Rewrites the yum metadata in `dir` (a copy of a fixture's `repodata/`
/// with the packages beside it) so that every `.xml.gz` file is
/// zstd-compressed instead (`.xml.zst`, made with the zstd CLI), and
/// repomd.xml lists the new files with their new checksums and sizes (the
/// open checksums and sizes stay: the XML is the same). Debian's
/// createrepo_c cannot write zstd itself.
const ZSTD_REPODATA: &str = r#"
import gzip, hashlib, os, subprocess, sys, xml.etree.ElementTree as ET
root = sys.argv[1]
NS = "http://linux.duke.edu/metadata/repo"
ET.register_namespace("", NS)
ET.register_namespace("rpm", "http://linux.duke.edu/metadata/rpm")
path = os.path.join(root, "repodata", "repomd.xml")
tree = ET.parse(path)
for data in tree.getroot().findall("{%s}data" % NS):
    loc = data.find("{%s}location" % NS)
    href = loc.get("href")
    if not href.endswith(".xml.gz"):
        continue
    old = os.path.join(root, href)
    with gzip.open(old) as f:
        xml = f.read()
    packed = subprocess.run(["zstd", "-q", "-c", "-19"], input=xml, check=True, stdout=subprocess.PIPE).stdout
    digest = hashlib.sha256(packed).hexdigest()
    name = os.path.basename(href)[:-len(".xml.gz")].split("-", 1)[-1]
    new_href = "repodata/%s-%s.xml.zst" % (digest, name)
    with open(os.path.join(root, new_href), "wb") as f:
        f.write(packed)
    os.remove(old)
    loc.set("href", new_href)
    checksum = data.find("{%s}checksum" % NS)
    checksum.set("type", "sha256")
    checksum.text = digest
    data.find("{%s}size" % NS).text = str(len(packed))
tree.write(path, xml_declaration=True, encoding="UTF-8")
"#;

/// The fixture `rpm_repo(n, &[])` with zstd-compressed metadata (see
/// [`ZSTD_REPODATA`]); `None`, after a loud notice, without the tools.
pub fn rpm_repo_zstd(n: usize) -> Option<PathBuf> {
    if skip_without("zstd repositories", &["zstd", "python3"]) {
        return None;
    }
    let original = rpm_repo(n, &[])?;
    let key = format!(
        "rpm-{n}-zstd-{}",
        short_hash(&[
            ZSTD_REPODATA.as_bytes(),
            original.file_name().unwrap().as_encoded_bytes()
        ])
    );
    Some(build_once(&key, |staging| {
        std::fs::create_dir_all(staging).expect("staging");
        link_packages(&original, staging);
        run_quietly(
            Command::new("cp")
                .arg("-a")
                .arg(original.join("repodata"))
                .arg(original.join("fixture-packages.tsv"))
                .arg(staging),
        );
        run_quietly(
            Command::new("python3")
                .arg("-c")
                .arg(ZSTD_REPODATA)
                .arg(staging),
        );
    }))
}
