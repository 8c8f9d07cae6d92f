//! A private `redis-server` for tests: started on a free loopback port with
//! its data in a temporary directory, stopped (by its PID) when dropped.
//! Tests can stop and restart it to prove that nothing is lost.
//!
//! Tests that only need *a* Redis may use an existing server instead: when
//! [`TEST_REDIS_URL_VAR`] (`TASKQ_TEST_REDIS_URL`) is set,
//! [`external_url`] returns its URL and taskq's own test harness connects
//! there, isolating each test in a namespace of its own rather than starting
//! a server. Tests that stop, kill or restart Redis always start a private
//! [`RedisServer`], whatever the variable says.
//!
//! ```no_run
//! # async fn demo() -> taskq::Result<()> {
//! let server = taskq::testing::RedisServer::start()?;
//! let broker = taskq::RedisBroker::connect(&server.url()).await?;
//! # drop(broker); Ok(()) }
//! ```

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The environment variable that names an existing Redis server for tests
/// (a `redis://` URL), used instead of a private one; see [`external_url`].
pub const TEST_REDIS_URL_VAR: &str = "TASKQ_TEST_REDIS_URL";

/// The URL in `TASKQ_TEST_REDIS_URL`, if it is set and not blank.
///
/// A test that gets `Some` should connect there under a namespace of its
/// own (tests run in parallel and may share the server) and must not stop,
/// flush or restart that server; with `None` it starts a private
/// [`RedisServer`].
pub fn external_url() -> Option<String> {
    std::env::var(TEST_REDIS_URL_VAR)
        .ok()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
}

/// A `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    appendonly: bool,
}

impl RedisServer {
    /// Starts a server without persistence.
    ///
    /// # Errors
    /// [`Error::Io`] if `redis-server` is not installed or does not start.
    pub fn start() -> Result<Self> {
        Self::start_with(false)
    }

    /// Starts a server with `appendonly yes` (AOF, fsync every second), so
    /// that its data survives a restart.
    ///
    /// # Errors
    /// As [`RedisServer::start`].
    pub fn start_persistent() -> Result<Self> {
        Self::start_with(true)
    }

    fn start_with(appendonly: bool) -> Result<Self> {
        // The port is free when chosen but could be taken before the server
        // binds it: try a few times.
        let mut last_err = None;
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("taskq-redis-")
                .tempdir()
                .map_err(|e| io("creating a temporary directory", e))?;
            let mut server = RedisServer {
                child: None,
                port: free_port()?,
                dir,
                appendonly,
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Config("redis-server did not start".into())))
    }

    fn spawn(&mut self) -> Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", ""])
            .args(["--appendonly", if self.appendonly { "yes" } else { "no" }])
            .args(["--appendfsync", "everysec", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io(
                    "starting redis-server (install it: apt-get install -y redis-server)",
                    e,
                )
            })?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(10))
    }

    fn wait_ready(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(Error::Config(format!(
                    "redis-server exited at start: {status}"
                )));
            }
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(200))
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Error::Config(
            "redis-server did not answer PING in time".into(),
        ))
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PID of the running server, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server gracefully (SHUTDOWN, which writes the AOF) and
    /// waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500))
            {
                let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut conn);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server with SIGKILL (no AOF flush beyond `everysec`).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same data directory.
    ///
    /// # Errors
    /// As [`RedisServer::start`].
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn()
    }

    /// Path of the append-only data (for tests that inspect it).
    pub fn aof_dir(&self) -> PathBuf {
        self.dir.path().join("appendonlydir")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| io("finding a free port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| io("finding a free port", e))
}

fn io(what: &str, source: std::io::Error) -> Error {
    Error::Io {
        what: what.to_owned(),
        source,
    }
}
