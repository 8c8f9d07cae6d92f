//! Running the processes: `api`, `content`, `worker`, `beat`, and `dev`
//! (all of them in one process, with a private redis-server when no Redis
//! is configured).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::services::Services;

/// Serves the REST API until `stop` fires.
///
/// # Errors
/// If the address cannot be bound.
pub async fn api(services: Arc<Services>, stop: CancellationToken) -> anyhow::Result<()> {
    let listener = bind(services.settings.api_bind, "api").await?;
    serve_api(listener, services, stop).await
}

/// Serves the REST API on `listener` until `stop` fires.
///
/// # Errors
/// If serving fails.
pub async fn serve_api(
    listener: TcpListener,
    services: Arc<Services>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    serve(listener, api::router(AppState::new(services)), stop, "api").await
}

/// Serves the content app until `stop` fires.
///
/// # Errors
/// If the address cannot be bound.
pub async fn content(services: Arc<Services>, stop: CancellationToken) -> anyhow::Result<()> {
    let listener = bind(services.settings.content_bind, "content").await?;
    serve_content(listener, services, stop).await
}

/// Serves the content app on `listener` until `stop` fires.
///
/// # Errors
/// If serving fails.
pub async fn serve_content(
    listener: TcpListener,
    services: Arc<Services>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    serve(listener, crate::content::router(services), stop, "content").await
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {what} app"))
}

async fn serve(
    listener: TcpListener,
    app: axum::Router,
    stop: CancellationToken,
    what: &str,
) -> anyhow::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "{what} app listening");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .with_context(|| format!("{what} app failed"))
}

/// Runs a worker until `shutdown` fires (a cancellation token: a graceful
/// stop; a [`Shutdown`]: also a cold one).
///
/// # Errors
/// If the worker cannot be built.
pub async fn worker(services: Arc<Services>, shutdown: impl Into<Shutdown>) -> anyhow::Result<()> {
    let shutdown = shutdown.into();
    // Before taking tasks: what killed workers left behind (old entries only).
    match crate::tasks::cleanup_stale_temp(&services).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "removed abandoned temp files"),
        Err(e) => tracing::warn!(error = %e, "could not clean up abandoned temp files"),
    }
    let settings = &services.settings;
    let builder = taskq::worker::Worker::builder(services.client.clone())
        .state_arc(Arc::clone(&services))
        .queue("pulp")
        .concurrency(settings.worker_concurrency)
        .lease(settings.worker_lease)
        .handle_signals(false);
    let worker = crate::tasks::register(builder).build()?;
    worker
        .run_until_with_cold(
            shutdown.warm.cancelled_owned(),
            shutdown.cold.cancelled_owned(),
        )
        .await?;
    Ok(())
}

/// When a process stops: `warm` at the first SIGTERM or SIGINT (stop
/// taking work, let running tasks finish within the grace period), `cold`
/// at the second (hand running tasks back now).
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Stop gracefully.
    pub warm: CancellationToken,
    /// Stop now.
    pub cold: CancellationToken,
}

impl Shutdown {
    /// Tokens that the process's signals fire.
    pub fn on_signals() -> Self {
        let shutdown = Shutdown::default();
        let mut signals = taskq::worker::ShutdownSignals::new();
        let s = shutdown.clone();
        tokio::spawn(async move {
            signals.recv().await;
            tracing::info!("shutting down: a second signal hands running tasks back at once");
            s.warm.cancel();
            signals.recv().await;
            tracing::warn!("second signal: handing running tasks back");
            s.cold.cancel();
        });
        shutdown
    }
}

/// A graceful stop only (`cold` never fires).
impl From<CancellationToken> for Shutdown {
    fn from(warm: CancellationToken) -> Self {
        Shutdown {
            warm,
            cold: CancellationToken::new(),
        }
    }
}

/// Runs a beat (fires scheduled syncs) until `stop` fires. Any number of
/// beats may run; each occurrence fires once.
///
/// # Errors
/// If the beat fails.
pub async fn beat(services: Arc<Services>, stop: CancellationToken) -> anyhow::Result<()> {
    let schedules = taskq::beat::Schedules::new(&services.broker);
    taskq::beat::Beat::new(schedules, taskq::beat::BeatConfig::default())
        .run_until(stop.cancelled_owned())
        .await?;
    Ok(())
}

/// Everything in one process: API, content app, a worker and a beat (and the
/// private redis-server when no Redis URL is configured).
///
/// # Errors
/// If a part fails to start.
pub async fn dev(mut settings: Settings) -> anyhow::Result<()> {
    let mut redis = None;
    if settings.redis_url.is_none() {
        let server = PrivateRedis::start(&settings.data_dir.join("redis"))?;
        settings.redis_url = Some(server.url());
        redis = Some(server);
    }
    if settings.admin_password.is_none() {
        settings.admin_password = Some("password".to_owned());
        tracing::warn!(
            "dev mode: user \"admin\" with password \"password\" (set PULP_ADMIN_PASSWORD to choose another)"
        );
    }
    let services = Services::start(settings).await?;
    let shutdown = Shutdown::on_signals();
    let stop = shutdown.warm.clone();
    tracing::info!(
        api = %services.settings.api_bind,
        content = %services.settings.content_origin,
        storage = %services.settings.storage_path.display(),
        "pulp-app dev: API, content app, worker and beat in one process"
    );
    let result = tokio::try_join!(
        api(Arc::clone(&services), stop.clone()),
        content(Arc::clone(&services), stop.clone()),
        worker(Arc::clone(&services), shutdown.clone()),
        beat(Arc::clone(&services), stop.clone()),
    );
    stop.cancel();
    if let Some(mut r) = redis {
        r.stop();
    }
    result.map(|_| ())
}

/// A redis-server child with its data (AOF) under a directory, listening on
/// a Unix socket there.
#[derive(Debug)]
pub struct PrivateRedis {
    child: Option<Child>,
    socket: PathBuf,
}

impl PrivateRedis {
    /// Starts redis-server with its data in `dir`.
    ///
    /// # Errors
    /// If redis-server is missing or does not come up.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = std::fs::canonicalize(dir)?;
        let socket = dir.join("redis.sock");
        let _ = std::fs::remove_file(&socket);
        let child = Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(&socket)
            .args(["--unixsocketperm", "700", "--dir"])
            .arg(&dir)
            .args(["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""])
            .args(["--logfile", "redis.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server: install it (apt-get install -y redis-server) or set PULP_REDIS_URL")?;
        let mut me = PrivateRedis {
            child: Some(child),
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(client) = redis::Client::open(me.url())
                && let Ok(mut conn) = client.get_connection()
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                tracing::info!(socket = %me.socket.display(), "private redis-server started (AOF on)");
                return Ok(me);
            }
            if let Some(c) = me.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                bail!(
                    "redis-server exited at start ({status}); see {}",
                    dir.join("redis.log").display()
                );
            }
            if Instant::now() > deadline {
                bail!("redis-server did not answer within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis+unix://<socket>`.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }

    /// Shuts the server down (writing its AOF) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(client) = redis::Client::open(self.url())
            && let Ok(mut conn) = client.get_connection()
        {
            let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut conn);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
