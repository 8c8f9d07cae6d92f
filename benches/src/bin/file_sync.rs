//! pulp-app file sync and publish of a 1,000-file repository.
//!
//! Run with: `cargo run --release -p benches --bin file_sync [-- --files 1000 --runs 3]`
//!
//! Builds the fixture with pulp-app/tests/fixtures/make_file_repo.sh (the
//! same script Pulp 3 was measured with), serves it with
//! `python3 -m http.server` on loopback (as ../shared/fixtures/serve.sh did
//! for Pulp), and times, per run, on a fresh private redis-server and empty
//! storage: the sync task (1,000 verified downloads, content, version) and
//! the publish task, from dispatch to completion. Prints each run and the
//! medians; the last line is JSON. Asserts nothing.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::{machine, median};
use pulp_app::catalog::model::{Plugin, Policy, Remote, RemoteSecrets, Repository};
use pulp_app::config::Settings;
use pulp_app::services::Services;
use pulp_app::tasks::dispatch::{Dispatch, dispatch};
use pulp_app::tasks::publish::file_publish;
use pulp_app::tasks::sync::{SyncOptions, file_sync};
use taskq::testing::RedisServer;
use tokio_util::sync::CancellationToken;

fn arg(name: &str, default: usize) -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait(services: &Services, id: &taskq::TaskId) -> Duration {
    let t = Instant::now();
    let rec = services
        .client
        .result::<()>(id.clone())
        .wait(Duration::from_secs(600))
        .await;
    assert!(rec.is_ok(), "task failed: {rec:?}");
    t.elapsed()
}

async fn one_run(manifest_url: &str) -> (f64, f64) {
    let redis = RedisServer::start().expect("redis-server");
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::for_tests(dir.path(), &redis.url());
    let services = Services::start(settings).await.unwrap();
    let stop = CancellationToken::new();
    let worker = tokio::spawn(pulp_app::run::worker(Arc::clone(&services), stop.clone()));
    let now = chrono::Utc::now();
    let remote = Remote {
        id: uuid::Uuid::now_v7(),
        plugin: Plugin::File,
        created: now,
        updated: now,
        name: "bench".into(),
        url: manifest_url.to_owned(),
        policy: Policy::Immediate,
        pulp_labels: Default::default(),
        ca_cert: None,
        client_cert: None,
        tls_validation: true,
        proxy_url: None,
        max_retries: None,
        total_timeout: None,
        connect_timeout: None,
        sock_connect_timeout: None,
        sock_read_timeout: None,
        headers: None,
        download_concurrency: None,
        rate_limit: None,
        secrets: RemoteSecrets::default(),
    };
    services.catalog.create(&remote).await.unwrap();
    let repo = Repository {
        id: uuid::Uuid::now_v7(),
        plugin: Plugin::File,
        created: now,
        updated: now,
        name: "bench".into(),
        description: None,
        retain_repo_versions: None,
        remote: Some(remote.id),
        autopublish: false,
        manifest: Some("PULP_MANIFEST".into()),
        pulp_labels: Default::default(),
        rpm: None,
    };
    services.catalog.create_repository(&repo).await.unwrap();
    let sync = Dispatch {
        name: "pulp_file.app.tasks.synchronizing.synchronize",
        call: file_sync::call(
            repo.id,
            remote.id,
            SyncOptions {
                optimize: true,
                ..Default::default()
            },
        )
        .into_raw()
        .unwrap(),
        exclusive: vec![format!("repo:{}", repo.id)],
        shared: vec![],
    };
    let id = dispatch(&services, "bench", sync).await.unwrap();
    let sync_secs = wait(&services, &id).await.as_secs_f64();
    let publish = Dispatch {
        name: "pulp_file.app.tasks.publishing.publish",
        call: file_publish::call(repo.id, 1, "PULP_MANIFEST".into())
            .into_raw()
            .unwrap(),
        exclusive: vec![],
        shared: vec![format!("repo:{}", repo.id)],
    };
    let id = dispatch(&services, "bench", publish).await.unwrap();
    let publish_secs = wait(&services, &id).await.as_secs_f64();
    stop.cancel();
    let _ = worker.await;
    (sync_secs, publish_secs)
}

fn main() {
    let files = arg("--files", 1000);
    let runs = arg("--runs", 3);
    let fixture = std::env::temp_dir().join(format!("pulp-app-bench-files-{files}"));
    if !fixture.join("PULP_MANIFEST").exists() {
        let _ = std::fs::remove_dir_all(&fixture);
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../pulp-app/tests/fixtures/make_file_repo.sh"
        );
        let ok = Command::new("bash")
            .arg(script)
            .arg(files.to_string())
            .arg(&fixture)
            .status()
            .unwrap();
        assert!(ok.success(), "make_file_repo.sh failed");
    }
    let port = free_port();
    let _server = Served(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(&fixture)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let url = format!("http://127.0.0.1:{port}/PULP_MANIFEST");
    println!("# pulp-app file sync: {}", machine());
    println!(
        "# {files} files from make_file_repo.sh, python3 http.server on loopback, {runs} runs"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut syncs = Vec::new();
    let mut publishes = Vec::new();
    for i in 0..runs {
        let (s, p) = rt.block_on(one_run(&url));
        println!("run {}: sync {s:.2} s, publish {p:.3} s", i + 1);
        syncs.push(s);
        publishes.push(p);
    }
    println!(
        "{{\"files\": {files}, \"sync_s\": {:.3}, \"publish_s\": {:.3}}}",
        median(&syncs),
        median(&publishes)
    );
}
