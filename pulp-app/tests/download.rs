//! The downloader against real HTTP servers on 127.0.0.1: an axum app for
//! well-behaved and slow responses, and a scripted raw TCP server for
//! responses no well-behaved server sends (lying Content-Length, early close).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pulp_app::checksum::{Checksum, ChecksumKind, Sha256Digest};
use pulp_app::download::{DownloadError, Downloader, DownloaderConfig, join_dir_url, join_url};
use pulp_app::relpath::{RelPathError, safe_relative_path};
use pulp_app::storage::Expected;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use support::store::{new_store, tmp_files};

// ---------------------------------------------------------------- servers

#[derive(Default)]
struct Hits {
    by_path: std::sync::Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    user_agent: std::sync::Mutex<Option<String>>,
}

impl Hits {
    fn hit(&self, path: &str) -> usize {
        let mut map = self.by_path.lock().expect("lock");
        let n = map.entry(path.to_owned()).or_default();
        *n += 1;
        *n
    }
    fn count(&self, path: &str) -> usize {
        self.by_path
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

struct App {
    files: HashMap<String, Bytes>,
    hits: Hits,
}

fn content(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

/// Serves `files` at `/f/<name>`, plus `/flaky/<n>/<name>` (HTTP 500 for the
/// first n requests), `/slow/<name>` (200 ms before answering), `/status/<code>`
/// and `/endless` (a chunked body that never ends).
async fn serve_app(files: HashMap<String, Bytes>) -> (String, Arc<App>) {
    let app = Arc::new(App {
        files,
        hits: Hits::default(),
    });
    let router = Router::new()
        .route("/f/{name}", get(file))
        .route("/flaky/{n}/{name}", get(flaky))
        .route("/slow/{name}", get(slow))
        .route("/status/{code}", get(status))
        .route("/endless", get(endless))
        .with_state(app.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), app)
}

fn body_of(app: &App, name: &str) -> Response {
    match app.files.get(name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    app.hits.hit(&format!("/f/{name}"));
    if let Some(ua) = headers.get("user-agent").and_then(|v| v.to_str().ok()) {
        *app.hits.user_agent.lock().expect("lock") = Some(ua.to_owned());
    }
    body_of(&app, &name)
}

async fn flaky(State(app): State<Arc<App>>, Path((n, name)): Path<(usize, String)>) -> Response {
    if app.hits.hit(&format!("/flaky/{n}/{name}")) <= n {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    body_of(&app, &name)
}

async fn slow(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    app.hits.hit(&format!("/slow/{name}"));
    let now = app.hits.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    app.hits.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.hits.in_flight.fetch_sub(1, Ordering::SeqCst);
    body_of(&app, &name)
}

async fn status(State(app): State<Arc<App>>, Path(code): Path<u16>) -> Response {
    app.hits.hit(&format!("/status/{code}"));
    StatusCode::from_u16(code)
        .unwrap_or(StatusCode::IM_A_TEAPOT)
        .into_response()
}

async fn endless(State(app): State<Arc<App>>) -> Response {
    app.hits.hit("/endless");
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    Body::from_stream(stream).into_response()
}

/// A raw server answering the n-th connection with `responses[n]` (the last
/// one repeats) and then closing it. Returns its base URL and a connection counter.
async fn serve_raw(responses: Vec<Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let response = responses[n.min(responses.len() - 1)].clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => request.extend_from_slice(&buf[..k]),
                    }
                }
                let _ = socket.write_all(&response).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), count)
}

fn raw_response(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 200 OK\r\n{headers}Connection: close\r\n\r\n").into_bytes();
    out.extend_from_slice(body);
    out
}

// ---------------------------------------------------------------- helpers

fn fast_config() -> DownloaderConfig {
    DownloaderConfig {
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        ..DownloaderConfig::default()
    }
}

fn expect_for(data: &[u8]) -> Expected {
    Expected::default()
        .with_size(data.len() as u64)
        .with_checksum(Checksum::sha256(Sha256Digest::of(data)))
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn happy_path_verifies_and_stores() {
    let data = content(300_000, 1);
    let (base, app) = serve_app(HashMap::from([("a.rpm".to_owned(), data.clone())])).await;
    let (_dir, store) = new_store().await;
    let dl = Downloader::new(fast_config()).expect("downloader");

    let artifact = dl
        .download_to_store(&format!("{base}/f/a.rpm"), &expect_for(&data), &store)
        .await
        .expect("download");
    assert_eq!(artifact.sha256, Sha256Digest::of(&data));
    assert_eq!(
        std::fs::read(store.path(&artifact.sha256)).expect("stored"),
        data
    );
    assert!(tmp_files(&store).is_empty());
    let ua = app.hits.user_agent.lock().expect("lock").clone();
    assert!(ua.is_some_and(|ua| ua.starts_with("pulp-app/")));

    // Other checksum kinds are verified too (sha1 here), and no expectations at all is fine.
    use sha1::Digest;
    let sha1 =
        Checksum::new(ChecksumKind::Sha1, &hex::encode(sha1::Sha1::digest(&data))).expect("sha1");
    store.delete(&artifact.sha256).await.expect("delete");
    let again = dl
        .download_to_store(
            &format!("{base}/f/a.rpm"),
            &Expected::default().with_checksum(sha1),
            &store,
        )
        .await
        .expect("sha1-verified download");
    assert_eq!(again, artifact);
    assert_eq!(app.hits.count("/f/a.rpm"), 2);

    // Already stored under the expected sha256: no request at all.
    dl.download_to_store(&format!("{base}/f/a.rpm"), &expect_for(&data), &store)
        .await
        .expect("shortcut");
    assert_eq!(app.hits.count("/f/a.rpm"), 2);
}

#[tokio::test]
async fn wrong_checksum_fails_without_retry_or_leftovers() {
    let data = content(10_000, 2);
    let (base, app) = serve_app(HashMap::from([("a".to_owned(), data.clone())])).await;
    let (_dir, store) = new_store().await;
    let dl = Downloader::new(fast_config()).expect("downloader");
    let wrong = Checksum::new(ChecksumKind::Sha256, &"ab".repeat(32)).expect("checksum");
    let url = format!("{base}/f/a");
    let err = dl
        .download_to_store(&url, &Expected::default().with_checksum(wrong), &store)
        .await
        .expect_err("mismatch");
    let message = err.to_string();
    assert!(
        matches!(err, DownloadError::ChecksumMismatch { .. }),
        "{err:?}"
    );
    assert!(message.contains(&url) && message.contains(&"ab".repeat(32)));
    assert!(
        message.contains(&Sha256Digest::of(&data).to_hex()),
        "{message}"
    );
    assert_eq!(app.hits.count("/f/a"), 1, "not retried");
    assert!(tmp_files(&store).is_empty());
    assert!(store.list().next().await.is_none(), "nothing stored");
}

#[tokio::test]
async fn more_bytes_than_expected_stop_the_transfer() {
    let (_dir, store) = new_store().await;
    let dl = Downloader::new(fast_config()).expect("downloader");

    // Announced too large: refused before the body is read.
    let data = content(2000, 3);
    let (base, _app) = serve_app(HashMap::from([("big".to_owned(), data.clone())])).await;
    let err = dl
        .download_to_store(
            &format!("{base}/f/big"),
            &Expected::default().with_size(1000),
            &store,
        )
        .await
        .expect_err("too long");
    assert!(
        matches!(
            err,
            DownloadError::ContentLengthMismatch {
                expected: 1000,
                announced: 2000,
                ..
            }
        ),
        "{err:?}"
    );

    // Not announced (close-delimited): stopped at the first byte past the size.
    let (raw, _) = serve_raw(vec![raw_response("", &data)]).await;
    let err = dl
        .download_to_store(
            &format!("{raw}/x"),
            &Expected::default().with_size(1000),
            &store,
        )
        .await
        .expect_err("too long");
    assert!(
        matches!(
            err,
            DownloadError::LongerThanExpected { expected: 1000, .. }
        ),
        "{err:?}"
    );

    // An endless body: the transfer stops at the maximum instead of running forever.
    let err = dl
        .download_to_store(
            &format!("{base}/endless"),
            &Expected::default().with_max_size(1 << 20),
            &store,
        )
        .await
        .expect_err("endless");
    assert!(
        matches!(err, DownloadError::TooLarge { max: 1_048_576, .. }),
        "{err:?}"
    );
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test]
async fn truncated_bodies_are_retried_then_reported() {
    let (_dir, store) = new_store().await;
    let dl = Downloader::new(fast_config()).expect("downloader");
    let data = content(1000, 4);

    // Lies in Content-Length (1000 announced, 500 sent, then close): a body error, retried.
    let lying = raw_response("Content-Length: 1000\r\n", &data[..500]);
    let (raw, connections) = serve_raw(vec![lying.clone()]).await;
    let err = dl
        .download_to_store(&format!("{raw}/x"), &expect_for(&data), &store)
        .await
        .expect_err("truncated");
    assert!(matches!(err, DownloadError::Body { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(
        connections.load(Ordering::SeqCst),
        4,
        "1 attempt + 3 retries"
    );

    // Closes early without announcing a length: fewer bytes than expected.
    let (raw, _) = serve_raw(vec![raw_response("", &data[..500])]).await;
    let err = dl
        .download_to_store(&format!("{raw}/x"), &expect_for(&data), &store)
        .await
        .expect_err("truncated");
    assert!(
        matches!(
            err,
            DownloadError::Truncated {
                expected: 1000,
                actual: 500,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("expected 1000 bytes, got 500"));

    // Truncated once, then complete: the retry succeeds.
    let good = raw_response("Content-Length: 1000\r\n", &data);
    let (raw, connections) = serve_raw(vec![lying, good]).await;
    let artifact = dl
        .download_to_store(&format!("{raw}/x"), &expect_for(&data), &store)
        .await
        .expect("second attempt");
    assert_eq!(artifact.size, 1000);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_client_errors_are_not() {
    let data = content(5000, 5);
    let (base, app) = serve_app(HashMap::from([("a".to_owned(), data.clone())])).await;
    let (_dir, store) = new_store().await;
    let dl = Downloader::new(fast_config()).expect("downloader");

    let artifact = dl
        .download_to_store(&format!("{base}/flaky/2/a"), &expect_for(&data), &store)
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(artifact.size, 5000);
    assert_eq!(app.hits.count("/flaky/2/a"), 3);

    let err = dl
        .fetch_bytes(&format!("{base}/status/404"), 100)
        .await
        .expect_err("404");
    assert!(matches!(err, DownloadError::Status { status: 404, .. }));
    assert_eq!(app.hits.count("/status/404"), 1);

    let err = dl
        .fetch_bytes(&format!("{base}/status/503"), 100)
        .await
        .expect_err("503");
    assert!(matches!(err, DownloadError::Status { status: 503, .. }));
    assert_eq!(app.hits.count("/status/503"), 4);

    // Nothing listens: a connect error, retried, then reported with the URL.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let url = format!("http://{addr}/x");
    let err = dl.fetch_bytes(&url, 100).await.expect_err("refused");
    assert!(
        matches!(&err, DownloadError::Request { source, .. } if source.is_connect()),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_downloads_of_one_artifact_leave_one_copy() {
    let data = content(200_000, 6);
    let (base, app) = serve_app(HashMap::from([("same".to_owned(), data.clone())])).await;
    let (_dir, store) = new_store().await;
    let dl = Downloader::new(fast_config()).expect("downloader");
    let url = format!("{base}/slow/same");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (dl, store, url, expected) =
                (dl.clone(), store.clone(), url.clone(), expect_for(&data));
            tokio::spawn(async move { dl.download_to_store(&url, &expected, &store).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(
            t.await.expect("join").expect("download").sha256,
            Sha256Digest::of(&data)
        );
    }
    assert_eq!(app.hits.count("/slow/same"), 8, "all ran concurrently");
    let mut list = store.list();
    assert!(list.next().await.is_some());
    assert!(list.next().await.is_none(), "one copy");
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limit_holds() {
    let files: HashMap<String, Bytes> = (0..6)
        .map(|i| (format!("f{i}"), content(1000, i)))
        .collect();
    let (base, app) = serve_app(files.clone()).await;
    let (_dir, store) = new_store().await;
    let dl = Downloader::new(DownloaderConfig {
        max_concurrent: 2,
        ..fast_config()
    })
    .expect("downloader");
    let tasks: Vec<_> = files
        .keys()
        .map(|name| {
            let (dl, store, url) = (dl.clone(), store.clone(), format!("{base}/slow/{name}"));
            tokio::spawn(async move {
                dl.download_to_store(&url, &Expected::default(), &store)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("download");
    }
    assert_eq!(app.hits.max_in_flight.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn fetch_bytes_enforces_max_size() {
    let small = Bytes::from_static(b"<repomd/>");
    let (base, _app) = serve_app(HashMap::from([("repomd.xml".to_owned(), small.clone())])).await;
    let dl = Downloader::new(fast_config()).expect("downloader");
    let url = format!("{base}/f/repomd.xml");
    assert_eq!(dl.fetch_bytes(&url, 9).await.expect("fits exactly"), small);
    let err = dl
        .fetch_bytes(&url, 8)
        .await
        .expect_err("announced too large");
    assert!(matches!(err, DownloadError::TooLarge { max: 8, .. }));
    let err = dl
        .fetch_bytes(&format!("{base}/endless"), 100_000)
        .await
        .expect_err("endless");
    assert!(matches!(err, DownloadError::TooLarge { max: 100_000, .. }));
}

#[tokio::test]
async fn file_urls_work_for_all_three() {
    let (dir, store) = new_store().await;
    let repo = dir.path().join("local repo");
    std::fs::create_dir_all(repo.join("sub dir")).expect("mkdir");
    let data = content(70_000, 7).to_vec();
    std::fs::write(repo.join("sub dir/pkg, 1.0.rpm"), &data).expect("write");
    std::fs::write(
        repo.join("PULP_MANIFEST"),
        b"sub dir/pkg, 1.0.rpm,x,70000\n",
    )
    .expect("write");
    let manifest = reqwest::Url::from_file_path(repo.join("PULP_MANIFEST")).expect("file url");
    let dl = Downloader::new(DownloaderConfig {
        allowed_import_paths: vec![repo.clone()],
        ..fast_config()
    })
    .expect("downloader");

    let text = dl
        .fetch_bytes(manifest.as_str(), 1024)
        .await
        .expect("manifest");
    assert!(text.starts_with(b"sub dir/"));
    let url = join_url(manifest.as_str(), "sub dir/pkg, 1.0.rpm").expect("join");
    assert!(
        url.as_str()
            .ends_with("/local%20repo/sub%20dir/pkg%2C%201.0.rpm"),
        "{url}"
    );
    let artifact = dl
        .download_to_store(url.as_str(), &expect_for(&data), &store)
        .await
        .expect("file download");
    assert_eq!(artifact.size, 70_000);
    let temp = dl
        .download_to_temp_file(
            url.as_str(),
            &Expected::default().with_max_size(1 << 20),
            &store,
        )
        .await
        .expect("temp download");
    assert_eq!(std::fs::read(temp.path()).expect("temp"), data);
    drop(temp);
    assert!(tmp_files(&store).is_empty());

    let err = dl
        .download_to_store(url.as_str(), &Expected::default().with_size(10), &store)
        .await
        .expect_err("size");
    assert!(matches!(
        err,
        DownloadError::ContentLengthMismatch {
            expected: 10,
            announced: 70_000,
            ..
        }
    ));
    let err = dl.fetch_bytes(manifest.as_str(), 5).await.expect_err("max");
    assert!(matches!(err, DownloadError::TooLarge { max: 5, .. }));
    let missing = join_url(manifest.as_str(), "nope.rpm").expect("join");
    let err = dl
        .fetch_bytes(missing.as_str(), 5)
        .await
        .expect_err("missing");
    assert!(matches!(err, DownloadError::File { .. }), "{err:?}");
}

#[tokio::test]
async fn file_urls_outside_the_allowed_import_paths_are_refused() {
    let (dir, store) = new_store().await;
    let allowed = dir.path().join("allowed");
    std::fs::create_dir_all(allowed.join("sub")).expect("mkdir");
    std::fs::write(allowed.join("sub/ok.txt"), b"ok").expect("write");
    std::fs::write(dir.path().join("secret"), b"secret").expect("write");
    std::os::unix::fs::symlink(dir.path().join("secret"), allowed.join("link")).expect("link");
    let url = |p: &std::path::Path| reqwest::Url::from_file_path(p).expect("url").to_string();

    // No allowed paths (the default): nothing local is read.
    let dl = Downloader::new(fast_config()).expect("downloader");
    let err = dl
        .fetch_bytes(&url(&allowed.join("sub/ok.txt")), 100)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, DownloadError::FileNotAllowed { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("none are set"), "{err}");

    let dl = Downloader::new(DownloaderConfig {
        allowed_import_paths: vec![allowed.clone()],
        ..fast_config()
    })
    .expect("downloader");
    assert_eq!(
        dl.fetch_bytes(&url(&allowed.join("sub/ok.txt")), 100)
            .await
            .expect("allowed"),
        b"ok"
    );
    for (what, path) in [
        ("a file beside", dir.path().join("secret")),
        ("a symlink out", allowed.join("link")),
        (
            "a prefix that is not a parent",
            dir.path().join("allowed-not"),
        ),
    ] {
        let err = dl
            .download_to_store(&url(&path), &Expected::default(), &store)
            .await
            .expect_err(what);
        assert!(
            matches!(err, DownloadError::FileNotAllowed { .. }),
            "{what}: {err:?}"
        );
    }
    // Missing files under an allowed path are reported as missing.
    let err = dl
        .fetch_bytes(&url(&allowed.join("nope")), 100)
        .await
        .expect_err("missing");
    assert!(matches!(err, DownloadError::File { .. }), "{err:?}");
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test]
async fn bad_remote_settings_are_named() {
    for (config, setting) in [
        (
            DownloaderConfig {
                headers: vec![("bad header".into(), "v".into())],
                ..fast_config()
            },
            "header",
        ),
        (
            DownloaderConfig {
                headers: vec![("X-Ok".into(), "line\nbreak".into())],
                ..fast_config()
            },
            "header",
        ),
        (
            DownloaderConfig {
                ca_cert: Some("not a certificate".into()),
                ..fast_config()
            },
            "ca_cert",
        ),
        (
            DownloaderConfig {
                proxy: Some("::not a url".into()),
                ..fast_config()
            },
            "proxy_url",
        ),
        (
            DownloaderConfig {
                rate_limit: Some(0),
                ..fast_config()
            },
            "rate_limit",
        ),
    ] {
        let err = Downloader::new(config).expect_err(setting);
        assert!(
            matches!(&err, DownloadError::InvalidSetting { .. })
                && err.to_string().contains(setting),
            "{setting}: {err}"
        );
    }
    // Secrets stay out of Debug output.
    let config = DownloaderConfig {
        credentials: Some(pulp_app::download::Credentials {
            username: "u".into(),
            password: Some("hunter2".into()),
        }),
        ..fast_config()
    };
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[tokio::test]
async fn temp_file_downloads_verify_against_repomd_values() {
    let data = content(50_000, 8);
    let (base, _app) =
        serve_app(HashMap::from([("primary.xml.gz".to_owned(), data.clone())])).await;
    let (_dir, store) = new_store().await;
    let dl = Downloader::new(fast_config()).expect("downloader");
    let url = format!("{base}/f/primary.xml.gz");
    use sha2::Digest;
    let sha512 =
        Checksum::parse("sha512", &hex::encode(sha2::Sha512::digest(&data))).expect("sha512");
    let expected = Expected::default().with_size(50_000).with_checksum(sha512);
    let temp = dl
        .download_to_temp_file(&url, &expected, &store)
        .await
        .expect("download");
    assert!(temp.path().starts_with(store.tmp_dir()));
    assert_eq!(temp.artifact().sha256, Sha256Digest::of(&data));
    let artifact = temp.persist().await.expect("persist");
    assert!(store.exists(&artifact.sha256).await.expect("exists"));
    assert!(tmp_files(&store).is_empty());

    let wrong = Checksum::parse("sha1", &"0".repeat(40)).expect("sha1");
    let err = dl
        .download_to_temp_file(&url, &Expected::default().with_checksum(wrong), &store)
        .await
        .expect_err("mismatch");
    assert!(matches!(
        err,
        DownloadError::ChecksumMismatch {
            kind: ChecksumKind::Sha1,
            ..
        }
    ));
    assert!(tmp_files(&store).is_empty());
}

#[test]
fn relative_paths_cannot_escape() {
    for bad in [
        "../a",
        "/etc/passwd",
        "a/../../b",
        "a/..",
        "..",
        ".",
        "./a",
        "a//b",
        "a/",
        "",
        "a\\b",
        "..\\a",
        "a\0b",
        "a\nb",
        "%2e%2e/x",
        "%2E%2e/x",
        "a/%2e%2e/b",
        "a/%2E",
        "a%2fb",
        "a%5Cb",
        "a%00b",
        &"x".repeat(256),
        &format!("{}/b", "a/".repeat(2100)),
    ] {
        let err = safe_relative_path(bad).expect_err(bad);
        assert!(matches!(err, RelPathError::Unsafe { .. }), "{bad:?}");
        assert!(
            matches!(
                join_url("http://127.0.0.1/repo/PULP_MANIFEST", bad),
                Err(DownloadError::UnsafePath(_))
            ),
            "{bad:?}"
        );
    }
    for good in [
        "a",
        "isos/a.iso",
        "Packages/x/xenon-libs-2.4^2022gitffac622-9.fx.x86_64.rpm",
        "a b/c, d.txt",
        "ünïcödé/файл.rpm",
        "..a/b..",
        "a.../...b",
        "100%/x",
        "%2e%2e%2e",
        "~user/x",
    ] {
        assert_eq!(safe_relative_path(good).expect(good), good);
    }
}

#[test]
fn urls_join_like_pulp() {
    let join = |base: &str, rel: &str| join_url(base, rel).expect("join").to_string();
    assert_eq!(
        join("http://127.0.0.1:8000/repo/PULP_MANIFEST", "a.iso"),
        "http://127.0.0.1:8000/repo/a.iso"
    );
    assert_eq!(
        join(
            "http://127.0.0.1/repo/PULP_MANIFEST?token=1#frag",
            "sub/a b,c.iso"
        ),
        "http://127.0.0.1/repo/sub/a%20b%2Cc.iso"
    );
    assert_eq!(
        join("http://127.0.0.1/repo/", "x.rpm"),
        "http://127.0.0.1/repo/x.rpm"
    );
    assert_eq!(
        join("http://127.0.0.1/repo", "x.rpm"),
        "http://127.0.0.1/x.rpm",
        "dirname of the manifest URL"
    );
    assert_eq!(join("http://127.0.0.1/", "x"), "http://127.0.0.1/x");
    assert_eq!(
        join("http://127.0.0.1/r%20s/M", "ü.rpm"),
        "http://127.0.0.1/r%20s/%C3%BC.rpm"
    );
    assert_eq!(
        join("http://127.0.0.1/r/M", "a^1~2.rpm"),
        "http://127.0.0.1/r/a%5E1~2.rpm"
    );
    assert_eq!(
        join("http://127.0.0.1/r/M", "100%.rpm"),
        "http://127.0.0.1/r/100%25.rpm"
    );
    assert_eq!(
        join_dir_url("http://127.0.0.1/repo", "repodata/repomd.xml")
            .expect("join")
            .as_str(),
        "http://127.0.0.1/repo/repodata/repomd.xml"
    );
    assert!(matches!(
        join_url("ftp://127.0.0.1/x", "a"),
        Err(DownloadError::UnsupportedScheme { .. })
    ));
    assert!(matches!(
        join_url("not a url", "a"),
        Err(DownloadError::InvalidUrl { .. })
    ));
    assert!(matches!(
        join_url("mailto:a@b", "a"),
        Err(DownloadError::UnsupportedScheme { .. })
    ));
}
