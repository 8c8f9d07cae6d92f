//! Parse and verify every metadata file of a yum repository, then print
//! counts, wall time and peak memory (VmHWM). Used for the memory figures.
//!
//! Run with: `cargo run --release -p benches --bin rpm_metadata_parse -- REPO_DIR [primary-only]`

use std::path::Path;
use std::time::Instant;

use benches::proc_status_mb;
use pulp_app::plugins::rpm::metadata::{
    Comps, FilelistsReader, Limits, OtherReader, PrimaryReader, RepoMd, UpdateInfoReader,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args
        .next()
        .ok_or("usage: rpm_metadata_parse REPO_DIR [primary-only]")?;
    let primary_only = args.next().as_deref() == Some("primary-only");
    let root = Path::new(&root);
    let limits = Limits::default();
    let started = Instant::now();
    let repomd_bytes = std::fs::read(root.join("repodata/repomd.xml"))?;
    let repomd = RepoMd::parse(&repomd_bytes[..])?;
    let mut summary = Vec::new();
    for record in &repomd.records {
        let href = record.location_href.as_str();
        let counted = match record.data_type.as_str() {
            "primary" => {
                let input = record.open_in(root, &limits)?;
                let mut reader = PrimaryReader::with_options(input, href, &limits)?;
                let mut n = 0u64;
                let mut deps = 0usize;
                while let Some(pkg) = reader.next_package()? {
                    n += 1;
                    deps += pkg.requires.len() + pkg.provides.len();
                }
                format!("{n} packages ({deps} requires+provides)")
            }
            "filelists" if !primary_only => {
                let input = record.open_in(root, &limits)?;
                let mut files = 0;
                for entry in FilelistsReader::with_options(input, href, &limits)? {
                    files += entry?.files.len();
                }
                format!("{files} files")
            }
            "other" if !primary_only => {
                let input = record.open_in(root, &limits)?;
                let mut changelogs = 0;
                for entry in OtherReader::with_options(input, href, &limits)? {
                    changelogs += entry?.changelogs.len();
                }
                format!("{changelogs} changelogs")
            }
            "updateinfo" if !primary_only => {
                let input = record.open_in(root, &limits)?;
                let n = UpdateInfoReader::with_options(input, href, &limits)?
                    .collect::<Result<Vec<_>, _>>()?
                    .len();
                format!("{n} advisories")
            }
            "group" if !primary_only => {
                let comps = Comps::parse_with(record.open_in(root, &limits)?, href, &limits)?;
                format!("{} groups", comps.groups.len())
            }
            _ => continue,
        };
        summary.push(format!("{}: {counted}", record.data_type));
    }
    let elapsed = started.elapsed();
    for line in summary {
        println!("{line}");
    }
    println!("parse+verify: {:.1} ms", elapsed.as_secs_f64() * 1000.0);
    let pid = std::process::id();
    for field in ["VmHWM", "VmRSS"] {
        if let Some(mb) = proc_status_mb(pid, field) {
            println!("{field}: {mb:.1} MiB");
        }
    }
    Ok(())
}
