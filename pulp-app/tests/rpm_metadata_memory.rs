//! Memory stays flat while streaming: parse a synthetic primary.xml of
//! 20,000 packages (~30 MiB, generated on the fly, never held in memory)
//! and check the process's peak RSS grew by far less than the document.
//! This file holds a single test so no other test shares the process.

mod support;

use std::io::{self, Read};

use pulp_app::plugins::rpm::metadata::PrimaryReader;

/// Generates `<metadata>` with `count` packages, one at a time.
struct SyntheticPrimary {
    count: usize,
    next: usize,
    chunk: Vec<u8>,
    offset: usize,
    finished: bool,
}

impl SyntheticPrimary {
    fn new(count: usize) -> Self {
        let header = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{count}\">\n"
        );
        SyntheticPrimary {
            count,
            next: 0,
            chunk: header.into_bytes(),
            offset: 0,
            finished: false,
        }
    }

    fn refill(&mut self) {
        self.chunk.clear();
        self.offset = 0;
        if self.next == self.count {
            if !self.finished {
                self.chunk.extend_from_slice(b"</metadata>");
                self.finished = true;
            }
            return;
        }
        let i = self.next;
        self.next += 1;
        let deps: String = (0..20)
            .map(|d| format!("<rpm:entry name=\"cap-{i}-{d}\" flags=\"GE\" epoch=\"0\" ver=\"1.{d}\" rel=\"1\"/>"))
            .collect();
        let pkg = format!(
            "<package type=\"rpm\"><name>pkg{i}</name><arch>x86_64</arch><version epoch=\"0\" ver=\"1.{i}\" rel=\"1\"/>\
<checksum type=\"sha256\" pkgid=\"YES\">{i:064x}</checksum><summary>Package {i}</summary>\
<description>{}</description><packager></packager><url>https://example.invalid/{i}</url>\
<time file=\"1\" build=\"2\"/><size package=\"3\" installed=\"4\" archive=\"5\"/>\
<location href=\"Packages/p/pkg{i}-1.{i}-1.x86_64.rpm\"/><format><rpm:license>MIT</rpm:license>\
<rpm:provides>{deps}</rpm:provides><file>/usr/bin/pkg{i}</file></format></package>\n",
            "lorem ipsum ".repeat(50)
        );
        self.chunk.extend_from_slice(pkg.as_bytes());
    }
}

impl Read for SyntheticPrimary {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.offset == self.chunk.len() {
            self.refill();
        }
        let n = buf.len().min(self.chunk.len() - self.offset);
        buf[..n].copy_from_slice(&self.chunk[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn streaming_primary_keeps_memory_flat() {
    let Some(before) = peak_rss_kib() else {
        support::fixtures::loud("SKIPPING memory test: no /proc/self/status");
        return;
    };
    let count = 20_000;
    let input = io::BufReader::new(SyntheticPrimary::new(count));
    let mut reader = PrimaryReader::new(input).expect("open");
    assert_eq!(reader.declared_count(), Some(count as u64));
    let mut seen = 0;
    let mut provides = 0;
    let mut bytes = 0usize;
    while let Some(pkg) = reader.next_package().expect("package") {
        seen += 1;
        provides += pkg.provides.len();
        bytes += pkg.description.len();
    }
    assert_eq!(seen, count);
    assert_eq!(provides, count * 20);
    assert!(
        bytes > 10 << 20,
        "the document was large ({bytes} bytes of descriptions)"
    );
    let after = peak_rss_kib().unwrap_or(before);
    let grown = after.saturating_sub(before);
    eprintln!(
        "peak RSS before {before} KiB, after {after} KiB (+{grown} KiB) for {count} packages"
    );
    assert!(grown < 8 * 1024, "peak RSS grew by {grown} KiB");
}
