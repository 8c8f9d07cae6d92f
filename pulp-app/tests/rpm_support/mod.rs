//! Helpers of the rpm plugin's end-to-end tests (`tests/rpm_*.rs`): a
//! loopback file server that counts requests, the real dnf against a
//! distribution, and shortcuts for sync, publish and distribute.

#![allow(dead_code, missing_docs, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::support::app::App;

/// A static file server on a free loopback port that counts the requests
/// for each path.
pub struct CountingServer {
    pub url: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    stop: CancellationToken,
}

impl CountingServer {
    /// Serves `dir` at `http://127.0.0.1:<port>/`.
    pub async fn start(dir: &Path) -> CountingServer {
        use axum::extract::{Path as UrlPath, State};
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        type Shared = (Arc<PathBuf>, Arc<Mutex<HashMap<String, usize>>>);
        async fn file(
            State((root, hits)): State<Shared>,
            UrlPath(p): UrlPath<String>,
        ) -> axum::response::Response {
            *hits.lock().unwrap().entry(p.clone()).or_default() += 1;
            if p.split('/').any(|s| s == "..") {
                return StatusCode::NOT_FOUND.into_response();
            }
            match tokio::fs::read(root.join(&p)).await {
                Ok(bytes) => bytes.into_response(),
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(file))
            .with_state((Arc::new(dir.to_path_buf()), Arc::clone(&hits)));
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await;
        });
        CountingServer { url, hits, stop }
    }

    /// Requests for `path` (relative, no leading slash) so far.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests for paths ending in `.rpm` so far.
    pub fn rpm_hits(&self) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with(".rpm"))
            .map(|(_, n)| n)
            .sum()
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Runs dnf against the repository at `base_url` (`http://...` or
/// `file://...`) with a private cache under `cache`.
pub fn dnf(base_url: &str, cache: &Path, args: &[&str]) -> Output {
    Command::new("dnf")
        .arg("-q")
        .arg("--setopt=reposdir=/dev/null")
        .arg(format!(
            "--setopt=cachedir={}",
            cache.join("cache").display()
        ))
        .arg(format!("--setopt=logdir={}", cache.join("log").display()))
        .arg("--releasever=x")
        .arg(format!("--repofrompath=t,{base_url}"))
        .arg("--repo=t")
        .args(args)
        .output()
        .expect("run dnf")
}

/// Asserts that a command succeeded, showing its output if not.
pub fn assert_ok(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `dnf list` output as `name.arch evr` entries (dnf wraps long lines, so
/// this reads whitespace-separated triples ending with the repo id `t`).
pub fn listed(output: &Output) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(&output.stdout);
    let words: Vec<&str> = text
        .split_whitespace()
        .skip_while(|w| *w != "Packages")
        .skip(1)
        .collect();
    assert_eq!(words.len() % 3, 0, "unexpected dnf output:\n{text}");
    words
        .chunks(3)
        .map(|c| {
            assert_eq!(c[2], "t", "unexpected dnf output:\n{text}");
            format!("{} {}", c[0], c[1])
        })
        .collect()
}

/// `name.arch evr` as dnf lists a package.
pub fn dnf_entry(name: &str, epoch: &str, version: &str, release: &str, arch: &str) -> String {
    if epoch == "0" || epoch.is_empty() {
        format!("{name}.{arch} {version}-{release}")
    } else {
        format!("{name}.{arch} {epoch}:{version}-{release}")
    }
}

/// Syncs `repo` (with `body` options) and asserts the task completed.
pub async fn sync(app: &App, repo: &str, body: Value) -> Value {
    let task = app.run_task(&format!("{repo}sync/"), body).await;
    assert_eq!(task["state"], "completed", "{task}");
    task
}

/// Publishes `what` (`{"repository": ..}` or `{"repository_version": ..}`)
/// and distributes it at `base_path`; returns the distribution's base URL.
pub async fn publish_and_distribute(app: &App, what: Value, base_path: &str) -> String {
    let task = app
        .run_task("/pulp/api/v3/publications/rpm/rpm/", what)
        .await;
    assert_eq!(task["state"], "completed", "{task}");
    let publication = task["created_resources"][0].as_str().unwrap().to_owned();
    let task = app
        .run_task(
            "/pulp/api/v3/distributions/rpm/rpm/",
            json!({"name": base_path, "base_path": base_path, "publication": publication}),
        )
        .await;
    assert_eq!(task["state"], "completed", "{task}");
    let (_, d) = app
        .get(task["created_resources"][0].as_str().unwrap())
        .await;
    d["base_url"]
        .as_str()
        .unwrap_or_else(|| panic!("the distribution {d} of task {task} has no base_url"))
        .to_owned()
}

/// Every content unit of `kind` (`rpm/packages`, ...) in a version.
pub async fn content(app: &App, kind: &str, version: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let (status, page) = app
            .get(&format!(
                "/pulp/api/v3/content/{kind}/?repository_version={version}&limit=1000&offset={}",
                out.len()
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        let results = page["results"].as_array().unwrap().clone();
        let done = results.is_empty() || page["next"].is_null();
        out.extend(results);
        if done {
            assert_eq!(page["count"].as_u64().unwrap() as usize, out.len());
            return out;
        }
    }
}

/// The packages of a version as `name.arch evr` entries.
pub async fn package_entries(app: &App, version: &str) -> BTreeSet<String> {
    content(app, "rpm/packages", version)
        .await
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_owned();
            dnf_entry(
                &s("name"),
                &s("epoch"),
                &s("version"),
                &s("release"),
                &s("arch"),
            )
        })
        .collect()
}

/// The packages of a fixture's ground truth as `name.arch evr` entries.
pub fn truth_entries(truth: &[crate::support::metadata::Truth]) -> BTreeSet<String> {
    truth
        .iter()
        .map(|t| dnf_entry(&t.name, &t.epoch, &t.version, &t.release, &t.arch))
        .collect()
}

/// The catalog keys of `app` without task bookkeeping (tasks are recorded
/// whatever their outcome), for "nothing changed" checks.
pub async fn catalog_snapshot(app: &App) -> BTreeMap<String, String> {
    let mut s = app.redis_snapshot().await;
    s.retain(|k, _| !k.contains(":task:") && !k.ends_with(":idx:task"));
    s
}

/// A yum repository of the packages of `src` (a fixture) minus those whose
/// location is in `without`, made by createrepo_c in a scratch directory.
pub fn subset_repo(src: &Path, without: &BTreeSet<String>) -> tempfile::TempDir {
    let dir = crate::support::fixtures::scratch_dir("subset");
    crate::support::fixtures::link_packages(src, dir.path());
    for location in without {
        std::fs::remove_file(dir.path().join(location)).expect("remove a package");
    }
    crate::support::fixtures::run_quietly(
        Command::new("createrepo_c")
            .arg("--workers")
            .arg("2")
            .arg("--no-database")
            .arg(dir.path()),
    );
    dir
}
