//! Shared test harness: brokers (in memory, or Redis on a private
//! `redis-server`), worker helpers and test tasks.
#![allow(dead_code, missing_docs, unreachable_pub)]

use std::collections::HashMap;
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
    pub server: Option<RedisServer>,
    pub kind: &'static str,
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
    }
}

pub async fn redis() -> Backend {
    let server = RedisServer::start().expect("start redis-server");
    let broker = RedisBroker::connect_with(RedisConfig::new(server.url()).namespace("test"))
        .await
        .expect("connect");
    Backend {
        broker: Arc::new(broker),
        server: Some(server),
        kind: "redis",
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

/// Shared state of test tasks: per-key counters and event logs.
#[derive(Default)]
pub struct Probe {
    pub counts: Mutex<HashMap<String, u32>>,
    pub log: Mutex<Vec<String>>,
    pub gate: tokio::sync::Notify,
}

impl Probe {
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
