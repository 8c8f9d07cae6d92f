//! Parse a yum repository and publish its metadata again with `RepoWriter`;
//! prints the publish time (median of several runs). Used for the
//! write-speed figure.
//!
//! Run with: `cargo run --release -p benches --bin rpm_metadata_republish -- SRC_REPO OUT_DIR [gzip-level] [runs]`

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use benches::median;
use pulp_app::plugins::rpm::metadata::{
    Comps, FilelistsReader, Limits, OtherReader, PrimaryReader, RepoMd, RepoWriter,
    UpdateInfoReader,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, out, rest @ ..] = args.as_slice() else {
        return Err("usage: rpm_metadata_republish SRC_REPO OUT_DIR [gzip-level] [runs]".into());
    };
    let level: u32 = rest.first().map_or(Ok(1), |s| s.parse())?;
    let runs: usize = rest.get(1).map_or(Ok(5), |s| s.parse())?;
    let src = Path::new(src);
    let limits = Limits::default();
    let repomd = RepoMd::parse(&std::fs::read(src.join("repodata/repomd.xml"))?[..])?;
    let open = |t: &str| {
        let record = repomd.record(t).ok_or(format!("no {t} record"))?;
        Ok::<_, Box<dyn std::error::Error>>(record.open_in(src, &limits)?)
    };
    let started = Instant::now();
    let mut packages: Vec<_> = PrimaryReader::new(open("primary")?)?.collect::<Result<_, _>>()?;
    let index: HashMap<String, usize> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pkg_id.clone(), i))
        .collect();
    for entry in FilelistsReader::new(open("filelists")?)? {
        let entry = entry?;
        packages[index[&entry.pkg_id]].files = entry.files;
    }
    for entry in OtherReader::new(open("other")?)? {
        let entry = entry?;
        packages[index[&entry.pkg_id]].changelogs = entry.changelogs;
    }
    let advisories: Vec<_> = match repomd.record("updateinfo") {
        Some(_) => UpdateInfoReader::new(open("updateinfo")?)?.collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let comps = match repomd.record("group") {
        Some(_) => Comps::parse(open("group")?)?,
        None => Comps::default(),
    };
    println!(
        "parsed {} packages in {:.1} ms",
        packages.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let mut times = Vec::new();
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(Path::new(out).join("repodata"));
        let started = Instant::now();
        RepoWriter::new(out)
            .gzip_level(level)
            .advisories(&advisories)
            .comps(&comps)
            .write(packages.len() as u64, &packages)?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "publish (gzip level {level}): median {:.1} ms, runs {:?}",
        median(&times),
        times.iter().map(|t| format!("{t:.1}")).collect::<Vec<_>>()
    );
    Ok(())
}
