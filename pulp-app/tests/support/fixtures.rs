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

/// Prints a loud skip notice naming `test` and returns true if any of
/// `tools` is missing.
pub fn skip_without(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<_> = tools.iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return false;
    }
    loud(&format!(
        "SKIPPING {test}: missing tool(s) {missing:?} \
         (apt-get install -y rpm createrepo-c python3 dnf dnf-plugins-core zstd)"
    ));
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
    let knobs: String = env.iter().map(|(k, v)| format!("-{k}={v}")).collect();
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
