//! Shared test harness: brokers (in memory, or Redis on a private
//! `redis-server`), worker helpers and test tasks.
//!
//! With `TASKQ_TEST_REDIS_URL` set ([`taskq::testing::external_url`]),
//! [`redis`] connects to that server instead of starting one, under a
//! namespace unique to the test, whose keys it deletes when dropped. Tests
//! that kill or restart Redis (faults, several processes) start their own
//! [`RedisServer`] regardless.
#![allow(dead_code, missing_docs, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskq::broker::Broker;
use taskq::testing::RedisServer;
use taskq::worker::{Worker, WorkerBuilder};
use taskq::{Client, MemoryBroker, RedisBroker, RedisConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A broker under test, keeping its server alive.
pub struct Backend {
    pub broker: Arc<dyn Broker>,
    /// The private server, if one was started.
    pub server: Option<RedisServer>,
    pub kind: &'static str,
    /// On a shared server (`TASKQ_TEST_REDIS_URL`): deletes the test's
    /// namespace when the backend is dropped.
    pub shared: Option<SharedNamespace>,
}

impl Backend {
    pub fn client(&self) -> Client {
        Client::from_arc(Arc::clone(&self.broker))
    }
}

pub async fn memory() -> Backend {
    Backend {
        broker: Arc::new(MemoryBroker::new()),
        server: None,
        kind: "memory",
        shared: None,
    }
}

/// A Redis broker: on the server named by `TASKQ_TEST_REDIS_URL` under a
/// fresh namespace, else on a private `redis-server` (namespace `test`).
pub async fn redis() -> Backend {
    if let Some(url) = taskq::testing::external_url() {
        let namespace = unique_namespace();
        let broker =
            RedisBroker::connect_with(RedisConfig::new(url.clone()).namespace(namespace.clone()))
                .await
                .unwrap_or_else(|e| panic!("connect to TASKQ_TEST_REDIS_URL={url}: {e}"));
        return Backend {
            broker: Arc::new(broker),
            server: None,
            kind: "redis",
            shared: Some(SharedNamespace { url, namespace }),
        };
    }
    let server = RedisServer::start().expect("start redis-server");
    let broker = RedisBroker::connect_with(RedisConfig::new(server.url()).namespace("test"))
        .await
        .expect("connect");
    Backend {
        broker: Arc::new(broker),
        server: Some(server),
        kind: "redis",
        shared: None,
    }
}

/// A namespace no other test (of this or a concurrent run) uses.
fn unique_namespace() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "test-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A test's namespace on a shared server; its keys are deleted on drop.
pub struct SharedNamespace {
    pub url: String,
    pub namespace: String,
}

impl Drop for SharedNamespace {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        // Every key of a namespace starts with its hash tag `{namespace}`.
        let pattern = format!("{{{}}}:*", self.namespace);
        let keys: Vec<String> = match redis::Commands::scan_match(&mut conn, &pattern) {
            Ok(iter) => iter.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
    }
}

/// A running worker and the means to stop it.
pub struct Running {
    pub stop: CancellationToken,
    pub handle: JoinHandle<taskq::Result<()>>,
}

impl Running {
    pub async fn shutdown(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(60), self.handle)
            .await
            .expect("worker stops in time")
            .expect("worker task")
            .expect("worker result");
    }
}

pub fn spawn<S: Send + Sync + 'static>(builder: WorkerBuilder<S>) -> Running {
    let worker: Worker<S> = builder.handle_signals(false).build().expect("build worker");
    let stop = CancellationToken::new();
    let handle = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
    Running { stop, handle }
}

/// Shared state of test tasks: per-key counters, event logs, and how many
/// tasks run at once (now and at the most).
#[derive(Default)]
pub struct Probe {
    pub counts: Mutex<HashMap<String, u32>>,
    pub log: Mutex<Vec<String>>,
    pub gate: tokio::sync::Notify,
    pub running: AtomicUsize,
    pub peak: AtomicUsize,
}

impl Probe {
    /// A task starts: counts it as running and updates the peak.
    pub fn enter(&self) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    /// A task ends.
    pub fn exit(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    /// The most tasks that ran at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    pub fn bump(&self, key: &str) -> u32 {
        let mut c = self.counts.lock().unwrap();
        let n = c.entry(key.to_owned()).or_insert(0);
        *n += 1;
        *n
    }

    pub fn count(&self, key: &str) -> u32 {
        self.counts.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    pub fn push(&self, event: impl Into<String>) {
        self.log.lock().unwrap().push(event.into());
    }

    pub fn events(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

pub type ProbeState = Arc<Probe>;

/// Polls `f` until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs a suite function against both brokers.
#[macro_export]
macro_rules! both_brokers {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() {
                    super::$name(super::common::memory().await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() {
                    super::$name(super::common::redis().await).await;
                }
            }
        )*
    };
}
