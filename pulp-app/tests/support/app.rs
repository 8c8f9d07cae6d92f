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
        settings.worker_lease = Duration::from_secs(3);
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

    /// Every key in Redis with its type, for "nothing changed" checks
    /// (temporary query keys excluded).
    pub async fn redis_snapshot(&self) -> std::collections::BTreeMap<String, String> {
        let mut conn = redis::Client::open(self.redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("{pulp}:*")
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut out = std::collections::BTreeMap::new();
        for k in keys {
            if k.contains(":tmp:") {
                continue;
            }
            let dump: Option<Vec<u8>> = redis::cmd("DUMP")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .unwrap();
            out.insert(k, format!("{:x?}", dump.map(|d| d.len())));
        }
        out
    }

    /// Every file under the storage path (temp files included).
    pub fn storage_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.services.settings.storage_path, &mut out);
        out.sort();
        out
    }
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p.display().to_string());
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
