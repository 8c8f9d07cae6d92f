//! Time to read an `.rpm` file's headers into a package description
//! (`pulp_app::plugins::rpm::rpmfile::read_rpm`, SHA-256 of the whole file
//! included), per package, from memory.
//!
//! Run with: `cargo run --release -p benches --bin rpmfile_parse -- DIR [ROUNDS]`
//!
//! DIR is searched recursively for `*.rpm`, e.g. a repository built by
//! `pulp-app/tests/fixtures/make_rpm_repo.sh 30 /tmp/rpm-30`. ROUNDS
//! (default 200) passes are made over all of them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pulp_app::plugins::rpm::rpmfile::{ReadOptions, read_rpm};

/// Every `.rpm` below `dir`.
fn find_rpms(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rpm") {
                out.push(path);
            }
        }
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: rpmfile_parse DIR [ROUNDS]")?;
    let rounds: u32 = args.next().map_or(Ok(200), |s| s.parse())?;
    let files = find_rpms(Path::new(&dir))?
        .iter()
        .map(std::fs::read)
        .collect::<Result<Vec<_>, _>>()?;
    if files.is_empty() {
        return Err(format!("no .rpm files below {dir}").into());
    }
    let opts = ReadOptions::default();
    let started = Instant::now();
    for _ in 0..rounds {
        for bytes in &files {
            std::hint::black_box(read_rpm(&bytes[..], &opts)?);
        }
    }
    let per = started.elapsed() / (rounds * u32::try_from(files.len())?);
    let average = files.iter().map(Vec::len).sum::<usize>() / files.len();
    println!(
        "read_rpm: {per:?} per package ({} packages, average {average} bytes, SHA-256 of the file included)",
        files.len()
    );
    Ok(())
}
