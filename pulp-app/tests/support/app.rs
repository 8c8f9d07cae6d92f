//! A whole pulp-app in the test process: a private redis-server, the API
//! and the content app on free loopback ports, a worker, and storage in a
//! temporary directory; plus an HTTP client that knows the admin password.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pulp_app::config::Settings;
use pulp_app::services::Services;
use serde_json::{Value, json};
use taskq::testing::RedisServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The admin password of test apps.
pub const PASSWORD: &str = "test-password";

/// A running app.
pub struct App {
    pub redis: RedisServer,
    pub services: Arc<Services>,
    /// `http://127.0.0.1:<port>` of the API.
    pub api: String,
    /// `http://127.0.0.1:<port>` of the content app.
    pub content: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    stop: CancellationToken,
    workers: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl App {
    /// Starts an app with one worker.
    pub async fn start() -> App {
        Self::start_with(1, |_| {}).await
    }

    /// Starts an app with `workers` worker loops, after `tweak`ing settings.
    pub async fn start_with(workers: usize, tweak: impl FnOnce(&mut Settings)) -> App {
        let redis = RedisServer::start().expect("redis-server");
        let dir = tempfile::Builder::new()
            .prefix("pulp-app-test-")
            .tempdir()
            .unwrap();
        let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let content_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}", api_listener.local_addr().unwrap());
        let content = format!("http://{}", content_listener.local_addr().unwrap());
        let mut settings = Settings::for_tests(dir.path(), &redis.url());
        settings.content_origin = content.clone();
        settings.admin_password = Some(PASSWORD.to_owned());
        // Long enough that a loaded machine (CI builds beside the tests)
        // never starves a live worker's heartbeat past its lease, which
        // would fail its task as "worker lost"; tests of dead workers set
        // a short lease themselves.
        settings.worker_lease = Duration::from_secs(15);
        tweak(&mut settings);
        let services = Services::start(settings).await.expect("services");
        let stop = CancellationToken::new();
        tokio::spawn(pulp_app::run::serve_api(
            api_listener,
            Arc::clone(&services),
            stop.clone(),
        ));
        tokio::spawn(pulp_app::run::serve_content(
            content_listener,
            Arc::clone(&services),
            stop.clone(),
        ));
        let workers = (0..workers)
            .map(|_| tokio::spawn(pulp_app::run::worker(Arc::clone(&services), stop.clone())))
            .collect();
        App {
            redis,
            services,
            api,
            content,
            http: reqwest::Client::new(),
            dir,
            stop,
            workers,
        }
    }

    /// Starts one more worker loop in this process.
    pub fn spawn_worker(&mut self) {
        self.workers.push(tokio::spawn(pulp_app::run::worker(
            Arc::clone(&self.services),
            self.stop.clone(),
        )));
    }

    /// Starts a beat in this process.
    pub fn spawn_beat(&mut self) {
        self.workers.push(tokio::spawn(pulp_app::run::beat(
            Arc::clone(&self.services),
            self.stop.clone(),
        )));
    }

    /// Starts a `pulp-app worker` process on this app's Redis and storage.
    pub fn worker_process(&self) -> std::process::Child {
        let s = &self.services.settings;
        std::process::Command::new(env!("CARGO_BIN_EXE_pulp-app"))
            .arg("worker")
            .env("PULP_REDIS_URL", self.redis.url())
            .env("PULP_STORAGE_PATH", &s.storage_path)
            .env("PULP_DATA_DIR", &s.data_dir)
            .env(
                "PULP_WORKER_LEASE_SECS",
                s.worker_lease.as_secs().to_string(),
            )
            .env("PULP_CONTENT_ORIGIN", &s.content_origin)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a pulp-app worker process")
    }

    /// Stops the servers and workers (gracefully).
    pub async fn stop(self) {
        self.stop.cancel();
        for w in self.workers {
            let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.api)
        }
    }

    /// A request with the admin's credentials.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth("admin", Some(PASSWORD))
    }

    /// GET → (status, JSON body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        send(self.req(reqwest::Method::GET, path)).await
    }

    /// POST JSON → (status, JSON body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.req(reqwest::Method::POST, path).json(&body)).await
    }

    /// PATCH JSON → (status, JSON body).
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.req(reqwest::Method::PATCH, path).json(&body)).await
    }

    /// DELETE → (status, JSON body).
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        send(self.req(reqwest::Method::DELETE, path)).await
    }

    /// Waits until the task ends; returns its document.
    pub async fn wait_task(&self, href: &str) -> Value {
        for _ in 0..1200 {
            let (status, t) = self.get(href).await;
            assert_eq!(status, 200, "{t}");
            if ["completed", "failed", "canceled", "skipped"]
                .contains(&t["state"].as_str().unwrap_or(""))
            {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("task {href} did not finish");
    }

    /// PATCHes an object whose changes run as tasks (remotes, repositories,
    /// distributions), waits for the task to complete, and returns the
    /// object as it then reads.
    pub async fn change(&self, href: &str, body: Value) -> Value {
        let (status, r) = self.patch(href, body).await;
        assert_eq!(status, 202, "{href}: {r}");
        let task = self.wait_task(r["task"].as_str().unwrap()).await;
        assert_eq!(task["state"], "completed", "{task}");
        let (status, object) = self.get(href).await;
        assert_eq!(status, 200, "{object}");
        object
    }

    /// DELETEs an object whose deletion runs as a task; returns the task.
    pub async fn delete_task(&self, href: &str) -> Value {
        let (status, r) = self.delete(href).await;
        assert_eq!(status, 202, "{href}: {r}");
        self.wait_task(r["task"].as_str().unwrap()).await
    }

    /// POSTs and waits for the task the 202 names; returns its document.
    pub async fn run_task(&self, path: &str, body: Value) -> Value {
        let (status, r) = self.post(path, body).await;
        assert_eq!(status, 202, "{path}: {r}");
        self.wait_task(r["task"].as_str().unwrap()).await
    }

    /// Creates a remote and a repository (named `name`) of `plugin`; returns
    /// their hrefs.
    pub async fn repo_with_remote(
        &self,
        plugin: &str,
        name: &str,
        url: &str,
        extra: Value,
    ) -> (String, String) {
        let mut body = json!({"name": name, "url": url});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let (s, remote) = self
            .post(&format!("/pulp/api/v3/remotes/{plugin}/{plugin}/"), body)
            .await;
        assert_eq!(s, 201, "{remote}");
        let remote = remote["pulp_href"].as_str().unwrap().to_owned();
        let (s, repo) = self
            .post(
                &format!("/pulp/api/v3/repositories/{plugin}/{plugin}/"),
                json!({"name": name, "remote": remote}),
            )
            .await;
        assert_eq!(s, 201, "{repo}");
        (repo["pulp_href"].as_str().unwrap().to_owned(), remote)
    }

    /// Every key in Redis with its exact contents, for "nothing changed"
    /// checks: key → its type and value, read type by type (strings byte
    /// for byte, hashes field by field, sorted sets with their scores, ...),
    /// so any changed value shows, whatever its length, and a failing
    /// comparison shows what changed.
    ///
    /// Left out, by key prefix, only what changes whenever any task runs,
    /// whether it succeeds or not:
    ///
    /// - `{pulp-tasks}:*`: taskq's keys (queues, task records, results,
    ///   reservations, worker heartbeats). They are the task machinery's
    ///   own state, never catalog data; sync code does not write them.
    /// - `{pulp}:task:<id>`: Pulp's bookkeeping of a task (name, creator,
    ///   progress, created resources), written by dispatch and by the task
    ///   about itself (`set_task_result` writes only the running task's own
    ///   record). Content, repositories and versions never live there.
    /// - `{pulp}:idx:task`: the list of task ids, which grows by one per
    ///   dispatched task; it holds ids only.
    /// - `{pulp}:tmp:*`: query results cached for a few minutes (version
    ///   rebuilds, filtered listings); they expire by themselves and are
    ///   derived from the rest, which is compared.
    ///
    /// Every other key, in any namespace, is compared.
    pub async fn redis_snapshot(&self) -> std::collections::BTreeMap<String, String> {
        let mut conn = redis::Client::open(self.redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut out = std::collections::BTreeMap::new();
        for k in keys {
            if snapshot_excludes(&k) {
                continue;
            }
            let kind: String = redis::cmd("TYPE")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .unwrap();
            let value = match kind.as_str() {
                "none" => continue, // expired meanwhile
                "string" => {
                    let v: Vec<u8> = redis::cmd("GET")
                        .arg(&k)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    String::from_utf8_lossy(&v).into_owned()
                }
                "hash" => {
                    let v: std::collections::BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
                        .arg(&k)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    let v: std::collections::BTreeMap<_, _> = v
                        .into_iter()
                        .map(|(f, v)| (f, String::from_utf8_lossy(&v).into_owned()))
                        .collect();
                    format!("{v:?}")
                }
                "zset" => {
                    let v: Vec<(String, String)> = redis::cmd("ZRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    format!("{v:?}")
                }
                "set" => {
                    let v: std::collections::BTreeSet<String> = redis::cmd("SMEMBERS")
                        .arg(&k)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    format!("{v:?}")
                }
                "list" => {
                    let v: Vec<String> = redis::cmd("LRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    format!("{v:?}")
                }
                _ => {
                    // Streams and the like: the serialized value, byte for byte.
                    let v: Option<Vec<u8>> = redis::cmd("DUMP")
                        .arg(&k)
                        .query_async(&mut conn)
                        .await
                        .unwrap();
                    hex::encode(v.unwrap_or_default())
                }
            };
            out.insert(k, format!("{kind} {value}"));
        }
        out
    }

    /// Every file and directory under the storage path (temp files and
    /// unfinished publications included), each with its size and SHA-256
    /// (`<path> <size> <sha256>`; directories as `<path>/`), sorted: equal
    /// lists mean equal storage.
    pub fn storage_files(&self) -> Vec<String> {
        storage_listing(&self.services.settings.storage_path)
    }
}

/// Whether [`App::redis_snapshot`] leaves `key` out (see there why).
pub fn snapshot_excludes(key: &str) -> bool {
    key.starts_with("{pulp-tasks}:")
        || key.starts_with("{pulp}:task:")
        || key == "{pulp}:idx:task"
        || key.starts_with("{pulp}:tmp:")
}

/// Every file and directory under `root` (see [`App::storage_files`]).
pub fn storage_listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    use sha2::Digest;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            out.push(format!("{}/", p.display()));
            walk(&p, out);
        } else if meta.is_symlink() {
            let target = std::fs::read_link(&p).unwrap_or_default();
            out.push(format!("{} -> {}", p.display(), target.display()));
        } else {
            let digest = std::fs::read(&p)
                .map(|b| hex::encode(sha2::Sha256::digest(&b)))
                .unwrap_or_else(|e| format!("unreadable: {e}"));
            out.push(format!("{} {} {digest}", p.display(), meta.len()));
        }
    }
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A static file server on a free loopback port (for remotes).
pub struct FileServer {
    pub url: String,
    stop: CancellationToken,
}

type Served = Arc<(std::path::PathBuf, Duration)>;

async fn serve_file(
    axum::extract::State(root): axum::extract::State<Served>,
    axum::extract::Path(p): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    if p.split('/').any(|s| s == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !p.ends_with("PULP_MANIFEST") && !p.starts_with("repodata/") {
        tokio::time::sleep(root.1).await;
    }
    match tokio::fs::read(root.0.join(&p)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

impl FileServer {
    /// Serves `dir` at `http://127.0.0.1:<port>/`.
    pub async fn start(dir: &Path) -> FileServer {
        Self::start_with_delay(dir, Duration::ZERO).await
    }

    /// Like [`FileServer::start`], but every file except PULP_MANIFEST and
    /// `repodata/` waits `delay` before it is sent (to make syncs slow).
    pub async fn start_with_delay(dir: &Path, delay: Duration) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let root: Served = Arc::new((dir.to_path_buf(), delay));
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(serve_file))
            .with_state(root);
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await;
        });
        FileServer { url, stop }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A static file server on a free loopback port that holds back some
/// requests (those whose path `hold` picks) until [`GatedServer::release`]:
/// a sync that asks for one of them cannot finish before the test lets it,
/// so cancel tests need no timing. Counts requests per path.
pub struct GatedServer {
    pub url: String,
    hits: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    held: Arc<tokio::sync::Notify>,
    release: CancellationToken,
    stop: CancellationToken,
}

#[derive(Clone)]
struct Gate {
    root: std::path::PathBuf,
    hold: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    hits: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    held: Arc<tokio::sync::Notify>,
    release: CancellationToken,
    stop: CancellationToken,
}

async fn gated_file(
    axum::extract::State(g): axum::extract::State<Gate>,
    axum::extract::Path(p): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    *g.hits.lock().unwrap().entry(p.clone()).or_default() += 1;
    if p.split('/').any(|s| s == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    if (g.hold)(&p) {
        g.held.notify_one();
        tokio::select! {
            () = g.release.cancelled() => {}
            () = g.stop.cancelled() => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
    match tokio::fs::read(g.root.join(&p)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

impl GatedServer {
    /// Serves `dir` at `http://127.0.0.1:<port>/`, holding the requests
    /// whose path (relative, no leading slash) `hold` returns true for.
    pub async fn start(
        dir: &Path,
        hold: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> GatedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let gate = Gate {
            root: dir.to_path_buf(),
            hold: Arc::new(hold),
            hits: Arc::default(),
            held: Arc::new(tokio::sync::Notify::new()),
            release: CancellationToken::new(),
            stop: CancellationToken::new(),
        };
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(gated_file))
            .with_state(gate.clone());
        let s = gate.stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await;
        });
        GatedServer {
            url,
            hits: gate.hits,
            held: gate.held,
            release: gate.release,
            stop: gate.stop,
        }
    }

    /// Waits until a request is being held (panics after two minutes, so
    /// a broken sync fails the test instead of hanging it).
    pub async fn wait_held(&self) {
        tokio::time::timeout(Duration::from_secs(120), self.held.notified())
            .await
            .expect("no request reached the gate");
    }

    /// Lets every held request (and all later ones) through.
    pub fn release(&self) {
        self.release.cancel();
    }

    /// Requests for `path` (relative, no leading slash) so far.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests so far for paths that `pick` returns true for.
    pub fn hits_where(&self, pick: impl Fn(&str) -> bool) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| pick(p))
            .map(|(_, n)| n)
            .sum()
    }
}

impl Drop for GatedServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What a [`RecordingServer`] demands and does.
#[derive(Clone, Default)]
pub struct Demands {
    /// `(user, password)` HTTP Basic credentials every request must carry
    /// (else 401).
    pub basic_auth: Option<(String, String)>,
    /// Answer this many requests with 503 before serving any.
    pub fail_first: usize,
}

/// One request a [`RecordingServer`] received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The request target as sent (absolute for proxied requests).
    pub uri: String,
    /// Header name (lowercase) → value.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The status answered.
    pub status: u16,
}

/// A loopback file server that records every request (target, headers,
/// answer) and can demand credentials or fail the first requests. With
/// [`RecordingServer::proxy_to`] it is a forward proxy instead: it
/// answers absolute-form requests for `origin` from the same directory.
pub struct RecordingServer {
    pub url: String,
    seen: Arc<std::sync::Mutex<Vec<Seen>>>,
    stop: CancellationToken,
}

#[derive(Clone)]
struct Recorder {
    root: std::path::PathBuf,
    demands: Demands,
    seen: Arc<std::sync::Mutex<Vec<Seen>>>,
    /// `Some(origin)`: a proxy; requests must name `origin` and carry
    /// `Proxy-Authorization` instead of `Authorization`.
    proxy_for: Option<String>,
}

fn basic(user: &str, password: &str) -> String {
    use base64ct::Encoding;
    format!(
        "Basic {}",
        base64ct::Base64::encode_string(format!("{user}:{password}").as_bytes())
    )
}

async fn recorded(
    axum::extract::State(r): axum::extract::State<Recorder>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let uri = req.uri().to_string();
    let headers: std::collections::BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    let answer = {
        let mut seen = r.seen.lock().unwrap();
        let n = seen.len();
        let auth_header = if r.proxy_for.is_some() {
            "proxy-authorization"
        } else {
            "authorization"
        };
        let path = match &r.proxy_for {
            Some(origin) => uri.strip_prefix(origin.as_str()).map(str::to_owned),
            None => Some(req.uri().path().trim_start_matches('/').to_owned()),
        };
        let status = if n < r.demands.fail_first {
            Err(StatusCode::SERVICE_UNAVAILABLE)
        } else if let Some((u, p)) = &r.demands.basic_auth
            && headers.get(auth_header) != Some(&basic(u, p))
        {
            Err(if r.proxy_for.is_some() {
                StatusCode::PROXY_AUTHENTICATION_REQUIRED
            } else {
                StatusCode::UNAUTHORIZED
            })
        } else {
            match path {
                Some(p) if !p.split('/').any(|s| s == "..") => Ok(p),
                _ => Err(StatusCode::NOT_FOUND),
            }
        };
        let code = match &status {
            Ok(_) => 200,
            Err(c) => c.as_u16(),
        };
        seen.push(Seen {
            uri,
            headers,
            status: code,
        });
        status
    };
    let path = match answer {
        Ok(p) => p,
        Err(code) => return code.into_response(),
    };
    match tokio::fs::read(r.root.join(&path)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

impl RecordingServer {
    /// Serves `dir` at `http://127.0.0.1:<port>/` with `demands`.
    pub async fn start(dir: &Path, demands: Demands) -> RecordingServer {
        Self::spawn(dir, demands, None).await
    }

    /// A forward proxy that answers requests for `origin` (`http://h:p/`)
    /// from `dir`, demanding `demands.basic_auth` as proxy credentials.
    pub async fn proxy_to(origin: &str, dir: &Path, demands: Demands) -> RecordingServer {
        Self::spawn(dir, demands, Some(origin.to_owned())).await
    }

    async fn spawn(dir: &Path, demands: Demands, proxy_for: Option<String>) -> RecordingServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = axum::Router::new().fallback(recorded).with_state(Recorder {
            root: dir.to_path_buf(),
            demands,
            seen: Arc::clone(&seen),
            proxy_for,
        });
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await;
        });
        RecordingServer { url, seen, stop }
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Writes a file repository (the files and their PULP_MANIFEST) into `dir`.
pub fn file_repo(dir: &Path, files: &[(&str, &[u8])]) {
    use sha2::Digest;
    let mut manifest = String::new();
    for (path, bytes) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        manifest.push_str(&format!(
            "{path},{},{}\n",
            hex::encode(sha2::Sha256::digest(bytes)),
            bytes.len()
        ));
    }
    std::fs::write(dir.join("PULP_MANIFEST"), manifest).unwrap();
}
