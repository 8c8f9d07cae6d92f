//! rpm sync, re-sync and publish on real fixture repositories (rpmbuild +
//! createrepo_c) served on loopback, with the worker's peak RSS, and
//! createrepo_c on the same packages for comparison. Prints figures,
//! asserts nothing.
//!
//! Run with: `cargo run --release -p benches --bin rpm_sync -- [N ...]`
//! (default `1000 5000`; `RUNS=3`). Each fixture is built once with
//! `pulp-app/tests/fixtures/make_rpm_repo.sh N` into
//! `$PULP_APP_FIXTURE_DIR/bench-rpm-N` (default
//! `<temp dir>/pulp-app-fixtures-<uid>/bench-rpm-N`) and reused.
//!
//! Every run starts from nothing: a private redis-server, an empty storage
//! directory, and a worker in a child process (this binary with
//! `--worker`), whose `VmHWM` is its peak RSS. Figures are task run times
//! (started → finished, as the task record has them), medians of the runs:
//!
//! - fresh sync: repomd, metadata, parse, blobs, download and store every
//!   package, record the content, commit version 1;
//! - re-sync, unchanged remote: `optimize` sees the same repomd.xml and skips;
//! - re-sync with `optimize=false`: everything parsed again and found in
//!   the catalog; nothing downloaded, no new version;
//! - publish: repodata (primary, filelists, other, updateinfo, comps) and
//!   hard links for every package; "catalog read" is the time to read the
//!   version's package records alone (measured separately in this process).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::{machine, median, proc_status_mb};
use chrono::Utc;
use pulp_app::catalog::VersionRef;
use pulp_app::catalog::model::{
    ContentType, Plugin, Policy, Remote, RemoteSecrets, Repository, RpmRepoSettings,
};
use pulp_app::config::Settings;
use pulp_app::services::Services;
use pulp_app::tasks::dispatch::{Dispatch, dispatch};
use pulp_app::tasks::publish::rpm_publish;
use pulp_app::tasks::sync::{SyncOptions, rpm_sync};
use taskq::testing::RedisServer;
use tokio::net::TcpListener;
use uuid::Uuid;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Runtime::new()?;
    if args.first().map(String::as_str) == Some("--worker") {
        return rt.block_on(worker());
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1000, 5000]
    } else {
        args.iter().map(|a| a.parse()).collect::<Result<_, _>>()?
    };
    let runs: usize = std::env::var("RUNS").map_or(Ok(3), |r| r.parse())?;
    println!("rpm_sync benchmark: {}", machine());
    println!("median of {runs} runs; times are task run times (started -> finished)\n");
    for n in sizes {
        let fixture = fixture(n)?;
        rt.block_on(bench(n, &fixture, runs))?;
        createrepo(n, &fixture, runs)?;
        println!();
    }
    Ok(())
}

/// The worker process: a pulp-app worker on the Redis and storage the
/// parent names, until its stdin closes.
async fn worker() -> Result<(), Error> {
    let redis = std::env::var("PULP_BENCH_REDIS")?;
    let dir = PathBuf::from(std::env::var("PULP_BENCH_DIR")?);
    let services = Services::start(Settings::for_tests(&dir, &redis)).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        s.cancel();
    });
    pulp_app::run::worker(services, stop)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The fixture of `n` packages, built once.
fn fixture(n: usize) -> Result<PathBuf, Error> {
    let root = match std::env::var_os("PULP_APP_FIXTURE_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let uid = std::fs::read_to_string("/proc/self/loginuid")
                .ok()
                .filter(|u| u.trim() != "4294967295")
                .map_or_else(|| "0".to_owned(), |u| u.trim().to_owned());
            std::env::temp_dir().join(format!("pulp-app-fixtures-{uid}"))
        }
    };
    let dir = root.join(format!("bench-rpm-{n}"));
    if dir.is_dir() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&root)?;
    let staging = root.join(format!("bench-rpm-{n}.building"));
    let _ = std::fs::remove_dir_all(&staging);
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pulp-app/tests/fixtures/make_rpm_repo.sh");
    println!(
        "building the {n}-package fixture (once) in {}",
        dir.display()
    );
    let started = Instant::now();
    let status = Command::new("bash")
        .arg(&script)
        .arg(n.to_string())
        .arg(&staging)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("{} failed: {status}", script.display()).into());
    }
    std::fs::rename(&staging, &dir)?;
    println!("built in {:.0} s", started.elapsed().as_secs_f64());
    Ok(dir)
}

/// Serves `dir` on a loopback port; returns its URL.
async fn serve(dir: &Path) -> Result<String, Error> {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    async fn file(
        State(root): State<Arc<PathBuf>>,
        UrlPath(p): UrlPath<String>,
    ) -> axum::response::Response {
        if p.split('/').any(|s| s == "..") {
            return StatusCode::NOT_FOUND.into_response();
        }
        match tokio::fs::read(root.join(&p)).await {
            Ok(bytes) => bytes.into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::get(file))
        .with_state(Arc::new(dir.to_path_buf()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Figures of one run, in seconds (RSS in MiB).
#[derive(Debug, Default)]
struct Run {
    sync: f64,
    rss_sync: f64,
    skipped: f64,
    resync: f64,
    publish: f64,
    catalog_read: f64,
    rss_end: f64,
}

/// A worker child process; stopped (stdin closed) on drop.
struct WorkerChild(Child);

impl Drop for WorkerChild {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends a task and waits for it; returns its run time in seconds.
async fn run_task(
    s: &Services,
    name: &'static str,
    call: taskq::RawSignature,
    exclusive: Vec<String>,
    shared: Vec<String>,
) -> Result<f64, Error> {
    let id = dispatch(
        s,
        "bench",
        Dispatch {
            name,
            call,
            exclusive,
            shared,
        },
    )
    .await
    .map_err(|e| format!("dispatch: {e:?}"))?;
    s.client
        .result::<()>(id.clone())
        .wait(Duration::from_secs(3600))
        .await?;
    let record = s.client.record(&id).await?.ok_or("task record gone")?;
    let (a, b) = (
        record.started_ms.unwrap_or(0),
        record.finished_ms.unwrap_or(0),
    );
    Ok(b.saturating_sub(a) as f64 / 1000.0)
}

async fn one_run(url: &str) -> Result<Run, Error> {
    let redis = RedisServer::start()?;
    let dir = tempfile::Builder::new().prefix("rpm-bench-").tempdir()?;
    let s = Services::start(Settings::for_tests(dir.path(), &redis.url())).await?;
    let child = Command::new(std::env::current_exe()?)
        .arg("--worker")
        .env("PULP_BENCH_REDIS", redis.url())
        .env("PULP_BENCH_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let _worker = WorkerChild(child);

    let now = Utc::now();
    let remote = Remote {
        id: Uuid::now_v7(),
        plugin: Plugin::Rpm,
        created: now,
        updated: now,
        name: "bench".into(),
        url: url.to_owned(),
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
    s.catalog.create(&remote).await?;
    let repo = Repository {
        id: Uuid::now_v7(),
        plugin: Plugin::Rpm,
        created: now,
        updated: now,
        name: "bench".into(),
        description: None,
        retain_repo_versions: None,
        remote: Some(remote.id),
        autopublish: false,
        manifest: None,
        pulp_labels: Default::default(),
        rpm: Some(RpmRepoSettings::default()),
    };
    s.catalog.create_repository(&repo).await?;
    let repo_prn = format!("prn:rpm.rpmrepository:{}", repo.id);
    let remote_prn = format!("prn:rpm.rpmremote:{}", remote.id);
    let options = pulp_app::plugins::rpm::publish::default_options(&repo);
    let publish = |version: u64| {
        let call = rpm_publish::call(repo.id, version, options.clone()).into_raw();
        let shared = vec![repo_prn.clone()];
        let s = &s;
        async move { run_task(s, "publish", call?, Vec::new(), shared).await }
    };
    let sync = |optimize: bool| {
        let call = rpm_sync::call(
            repo.id,
            remote.id,
            SyncOptions {
                mirror: false,
                optimize,
                skip_types: Vec::new(),
            },
        )
        .into_raw();
        let (exclusive, shared) = (vec![repo_prn.clone()], vec![remote_prn.clone()]);
        let s = &s;
        async move { run_task(s, "sync", call?, exclusive, shared).await }
    };
    // Warm up: the worker is up once it has published the empty version 0.
    publish(0).await?;
    let mut run = Run {
        sync: sync(true).await?,
        ..Run::default()
    };
    run.rss_sync = proc_status_mb(pid, "VmHWM").unwrap_or(0.0);
    run.skipped = sync(true).await?;
    run.resync = sync(false).await?;
    run.publish = publish(1).await?;
    run.rss_end = proc_status_mb(pid, "VmHWM").unwrap_or(0.0);

    let started = Instant::now();
    let key = s
        .catalog
        .version_content_key(VersionRef {
            repository: repo.id,
            number: 1,
        })
        .await?;
    let refs = s.catalog.refs_in(&key, ContentType::Package).await?;
    let mut read = 0;
    for chunk in refs.chunks(1000) {
        read += s.catalog.content(chunk).await?.len();
    }
    run.catalog_read = started.elapsed().as_secs_f64();
    if read != refs.len() {
        return Err("catalog read came up short".into());
    }
    Ok(run)
}

async fn bench(n: usize, fixture: &Path, runs: usize) -> Result<(), Error> {
    let url = serve(fixture).await?;
    let mut all = Vec::new();
    for _ in 0..runs {
        all.push(one_run(&url).await?);
    }
    let m = |f: fn(&Run) -> f64| median(&all.iter().map(f).collect::<Vec<_>>());
    let list = |f: fn(&Run) -> f64| {
        all.iter()
            .map(|r| format!("{:.2}", f(r)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("== {n} packages ==");
    println!(
        "fresh sync                  {:7.2} s   ({})",
        m(|r| r.sync),
        list(|r| r.sync)
    );
    println!(
        "re-sync, unchanged (skip)   {:7.3} s   ({})",
        m(|r| r.skipped),
        list(|r| r.skipped)
    );
    println!(
        "re-sync, optimize=false     {:7.2} s   ({})",
        m(|r| r.resync),
        list(|r| r.resync)
    );
    println!(
        "publish                     {:7.2} s   ({})",
        m(|r| r.publish),
        list(|r| r.publish)
    );
    println!(
        "  of which catalog read     {:7.2} s   ({})",
        m(|r| r.catalog_read),
        list(|r| r.catalog_read)
    );
    println!(
        "  publish minus that        {:7.2} s",
        m(|r| r.publish) - m(|r| r.catalog_read)
    );
    println!(
        "worker peak RSS, sync      {:7.1} MiB ({})",
        m(|r| r.rss_sync),
        list(|r| r.rss_sync)
    );
    println!(
        "worker peak RSS, all       {:7.1} MiB ({})",
        m(|r| r.rss_end),
        list(|r| r.rss_end)
    );
    Ok(())
}

/// createrepo_c (`--workers 2`) on a hard-linked copy of the packages.
fn createrepo(n: usize, fixture: &Path, runs: usize) -> Result<(), Error> {
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (i, extra) in [&[][..], &["--no-database"][..]].iter().enumerate() {
            let dir = tempfile::Builder::new()
                .prefix("rpm-bench-createrepo-")
                .tempdir_in(fixture.parent().unwrap_or(Path::new("/tmp")))?;
            let linked = Command::new("cp")
                .arg("-al")
                .arg(fixture.join("Packages"))
                .arg(dir.path().join("Packages"))
                .status()?;
            if !linked.success() {
                return Err("cp -al failed".into());
            }
            let started = Instant::now();
            let status = Command::new("createrepo_c")
                .args(["--workers", "2", "--quiet"])
                .args(*extra)
                .arg(dir.path())
                .status()?;
            if !status.success() {
                return Err(format!("createrepo_c failed: {status}").into());
            }
            times[i].push(started.elapsed().as_secs_f64());
        }
    }
    let show = |v: &[f64]| {
        v.iter()
            .map(|t| format!("{t:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "createrepo_c --workers 2    {:7.2} s   ({})  [xml + sqlite, {n} packages]",
        median(&times[0]),
        show(&times[0])
    );
    println!(
        "createrepo_c --no-database  {:7.2} s   ({})",
        median(&times[1]),
        show(&times[1])
    );
    Ok(())
}
