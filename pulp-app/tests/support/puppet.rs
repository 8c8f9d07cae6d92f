//! Puppet test material: real module tarballs (ustar + gzip, laid out as
//! `puppet module build` makes them, or deliberately broken), and a fake
//! Puppet Forge (v3 API) on a free loopback port whose releases a test can
//! add, remove and tamper with between syncs.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha2::Digest as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One member of a tar archive being built.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A regular file.
    File(String, Vec<u8>),
    /// A directory.
    Dir(String),
    /// A symbolic link `(path, target)`.
    Symlink(String, String),
}

/// A ustar header block.
fn header(name: &str, flag: u8, size: u64, link: &str) -> [u8; 512] {
    assert!(name.len() <= 100, "test names fit the ustar name field");
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let mode: &[u8] = if flag == b'5' { b"0000755" } else { b"0000644" };
    h[100..107].copy_from_slice(mode);
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"14707340000");
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// Writes `entries` as a tar archive into `out`, then the end blocks.
pub fn write_tar(out: &mut impl std::io::Write, entries: &[Entry]) {
    for e in entries {
        match e {
            Entry::File(p, data) => {
                out.write_all(&header(p, b'0', data.len() as u64, ""))
                    .unwrap();
                out.write_all(data).unwrap();
                let pad = (512 - data.len() % 512) % 512;
                out.write_all(&vec![0u8; pad]).unwrap();
            }
            Entry::Dir(p) => out.write_all(&header(p, b'5', 0, "")).unwrap(),
            Entry::Symlink(p, target) => out.write_all(&header(p, b'2', 0, target)).unwrap(),
        }
    }
    out.write_all(&[0u8; 1024]).unwrap();
}

/// `entries` as a `.tar.gz`.
pub fn tar_gz(entries: &[Entry]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    write_tar(&mut gz, entries);
    gz.finish().unwrap()
}

/// A gzip bomb: a module whose one extra member is `zeros` bytes of zeros
/// (streamed, so the test never holds them in memory).
pub fn gzip_bomb(name: &str, version: &str, zeros: u64) -> Vec<u8> {
    let top = format!("{name}-{version}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for e in [
        Entry::Dir(format!("{top}/")),
        Entry::File(
            format!("{top}/metadata.json"),
            metadata(name, version, &[]).to_string().into_bytes(),
        ),
    ] {
        write_tar_entry(&mut gz, &e);
    }
    gz.write_all(&header(&format!("{top}/files/zeros.bin"), b'0', zeros, ""))
        .unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        gz.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    let pad = ((512 - zeros % 512) % 512) as usize;
    gz.write_all(&vec![0u8; pad + 1024]).unwrap();
    gz.finish().unwrap()
}

fn write_tar_entry(out: &mut impl std::io::Write, e: &Entry) {
    let mut buf = Vec::new();
    write_tar(&mut buf, std::slice::from_ref(e));
    // Drop the two end blocks write_tar appended.
    buf.truncate(buf.len() - 1024);
    out.write_all(&buf).unwrap();
}

/// A module's metadata.json (`name` is `author-name`).
pub fn metadata(name: &str, version: &str, deps: &[(&str, &str)]) -> Value {
    let deps: Vec<Value> = deps
        .iter()
        .map(|(n, r)| json!({"name": n, "version_requirement": r}))
        .collect();
    json!({
        "name": name,
        "version": version,
        "author": name.split('-').next().unwrap(),
        "summary": format!("The {name} module, version {version}"),
        "license": "Apache-2.0",
        "source": "https://example.invalid/src",
        "dependencies": deps,
        "operatingsystem_support": [{"operatingsystem": "Debian", "operatingsystemrelease": ["12"]}],
        "requirements": [{"name": "puppet", "version_requirement": ">= 6.0.0 < 9.0.0"}],
    })
}

/// The members of a well-formed module tarball with `metadata`.
pub fn module_entries(name: &str, version: &str, metadata: &Value) -> Vec<Entry> {
    let top = format!("{name}-{version}");
    let short = name.split('-').nth(1).unwrap();
    vec![
        Entry::Dir(format!("{top}/")),
        Entry::File(
            format!("{top}/metadata.json"),
            serde_json::to_vec_pretty(metadata).unwrap(),
        ),
        Entry::File(
            format!("{top}/README.md"),
            format!("# {name}\n\nVersion {version}.\n").into_bytes(),
        ),
        Entry::Dir(format!("{top}/manifests/")),
        Entry::File(
            format!("{top}/manifests/init.pp"),
            format!("class {short} {{\n  notice('{name} {version}')\n}}\n").into_bytes(),
        ),
    ]
}

/// A well-formed module tarball.
pub fn module_tarball(name: &str, version: &str, deps: &[(&str, &str)]) -> Vec<u8> {
    tar_gz(&module_entries(
        name,
        version,
        &metadata(name, version, deps),
    ))
}

/// SHA-256 of `bytes`, hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// One release a [`Forge`] lists.
#[derive(Clone, Debug)]
pub struct Release {
    /// The listed `metadata` (what the Forge says, not necessarily what
    /// the tarball holds).
    pub metadata: Value,
    /// The tarball served at `file_uri`.
    pub tarball: Vec<u8>,
    /// Overrides of the listed fields (`file_sha256`, `file_size`,
    /// `file_uri`, ...), merged into the release document.
    pub overrides: Value,
}

impl Release {
    /// A well-formed release of module `name` at `version`.
    pub fn new(name: &str, version: &str, deps: &[(&str, &str)]) -> Release {
        Release {
            metadata: metadata(name, version, deps),
            tarball: module_tarball(name, version, deps),
            overrides: json!({}),
        }
    }

    /// A release listed as `name` `version` whose tarball is `tarball`.
    pub fn with_tarball(name: &str, version: &str, tarball: Vec<u8>) -> Release {
        Release {
            metadata: metadata(name, version, &[]),
            tarball,
            overrides: json!({}),
        }
    }

    /// `author-name`.
    pub fn module(&self) -> String {
        self.metadata["name"].as_str().unwrap().replace('/', "-")
    }

    /// `author-name-version`.
    pub fn slug(&self) -> String {
        format!(
            "{}-{}",
            self.module(),
            self.metadata["version"].as_str().unwrap()
        )
    }

    /// `author-name-version.tar.gz`.
    pub fn file_name(&self) -> String {
        format!("{}.tar.gz", self.slug())
    }

    fn document(&self) -> Value {
        let mut v = json!({
            "uri": format!("/v3/releases/{}", self.slug()),
            "slug": self.slug(),
            "module": {"slug": self.module()},
            "version": self.metadata["version"],
            "metadata": self.metadata,
            "file_uri": format!("/v3/files/{}", self.file_name()),
            "file_size": self.tarball.len(),
            "file_md5": hex::encode(md5::Md5::digest(&self.tarball)),
            "file_sha256": sha256(&self.tarball),
            "downloads": fastrand::u32(..),
        });
        if let (Value::Object(v), Value::Object(o)) = (&mut v, &self.overrides) {
            for (k, val) in o {
                v.insert(k.clone(), val.clone());
            }
        }
        v
    }
}

#[derive(Default)]
struct ForgeState {
    /// Release slug → release, listed in slug order.
    releases: BTreeMap<String, Release>,
    /// Most releases per page, whatever `limit` asks (to force paging).
    page_size: usize,
    /// Every request target, in order.
    seen: Vec<String>,
}

/// A fake Puppet Forge on `http://127.0.0.1:<port>` serving
/// `GET /v3/releases?module=&limit=&offset=` (with `pagination.next`
/// relative to its root, as the real Forge writes it) and
/// `GET /v3/files/<file>`.
pub struct Forge {
    /// Its base URL (no trailing slash).
    pub url: String,
    state: Arc<Mutex<ForgeState>>,
    stop: CancellationToken,
}

type Shared = Arc<Mutex<ForgeState>>;

async fn releases(
    axum::extract::State(state): axum::extract::State<Shared>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut st = state.lock().unwrap();
    st.seen.push(uri.to_string());
    let mut module = None;
    let mut limit = 20usize;
    let mut offset = 0usize;
    for pair in uri.query().unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("module", m)) => module = Some(m.replace('/', "-")),
            Some(("limit", l)) => limit = l.parse().unwrap(),
            Some(("offset", o)) => offset = o.parse().unwrap(),
            _ => {}
        }
    }
    let limit = limit.min(st.page_size.max(1));
    let matching: Vec<&Release> = st
        .releases
        .values()
        .filter(|r| module.as_ref().is_none_or(|m| *m == r.module()))
        .collect();
    let total = matching.len();
    let results: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| r.document())
        .collect();
    let link = |o: usize| match &module {
        Some(m) => format!("/v3/releases?module={m}&limit={limit}&offset={o}"),
        None => format!("/v3/releases?limit={limit}&offset={o}"),
    };
    let next = (offset + limit < total).then(|| link(offset + limit));
    axum::Json(json!({
        "pagination": {"limit": limit, "offset": offset, "first": link(0), "next": next, "total": total},
        "results": results,
    }))
    .into_response()
}

async fn files(
    axum::extract::State(state): axum::extract::State<Shared>,
    axum::extract::Path(file): axum::extract::Path<String>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut st = state.lock().unwrap();
    st.seen.push(uri.to_string());
    match st.releases.values().find(|r| r.file_name() == file) {
        Some(r) => r.tarball.clone().into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

impl Forge {
    /// A Forge listing `releases`, at most `page_size` per page.
    pub async fn start(listed: Vec<Release>, page_size: usize) -> Forge {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Shared = Arc::new(Mutex::new(ForgeState {
            releases: BTreeMap::new(),
            page_size,
            seen: Vec::new(),
        }));
        let app = axum::Router::new()
            .route("/v3/releases", axum::routing::get(releases))
            .route("/v3/files/{file}", axum::routing::get(files))
            .with_state(Arc::clone(&state));
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await;
        });
        let forge = Forge { url, state, stop };
        for r in listed {
            forge.add(r);
        }
        forge
    }

    /// Lists `r` (replacing a release of the same slug).
    pub fn add(&self, r: Release) {
        self.state.lock().unwrap().releases.insert(r.slug(), r);
    }

    /// Stops listing the release `slug`.
    pub fn remove(&self, slug: &str) {
        assert!(
            self.state.lock().unwrap().releases.remove(slug).is_some(),
            "{slug} was listed"
        );
    }

    /// The release `slug` as listed.
    pub fn release(&self, slug: &str) -> Release {
        self.state.lock().unwrap().releases[slug].clone()
    }

    /// Every request target so far.
    pub fn seen(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.clone()
    }
}

impl Drop for Forge {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
