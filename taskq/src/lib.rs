//! # taskq
//!
//! A distributed task queue for Rust on Redis: what Celery is for Python,
//! with the guarantees a repository manager needs.
//!
//! ```
//! use std::time::Duration;
//! use taskq::{task, Client, MemoryBroker, TaskError, worker::Worker};
//!
//! /// A task: an async fn with a stable wire name.
//! #[task(name = "math.add", max_retries = 3)]
//! async fn add(x: i64, y: i64) -> Result<i64, TaskError> {
//!     Ok(x + y)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> taskq::Result<()> {
//! // `RedisBroker::connect("redis://127.0.0.1:6379/")` in production.
//! let broker = MemoryBroker::new();
//! let client = Client::new(broker.clone());
//!
//! // A worker (usually in another process, on another host).
//! let worker = Worker::builder(broker).register::<add>().build()?.spawn();
//!
//! // Send a task and wait for its result.
//! let sum = client.send(add::call(2, 3)).await?.wait(Duration::from_secs(5)).await?;
//! assert_eq!(sum, 5);
//!
//! worker.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## What it guarantees
//!
//! - **Nothing is lost.** A task leaves Redis only once its outcome is
//!   recorded, in the same atomic step. A worker killed with SIGKILL, a host
//!   that vanishes or a dropped connection: its tasks return to their queues
//!   within one lease period (default 30 s) of its last heartbeat.
//! - **Nothing runs twice while its worker lives**, however long it runs:
//!   ownership is a lease renewed by heartbeat, not a visibility timeout. A
//!   worker that cannot renew its lease stops its tasks before the lease
//!   expires.
//! - **Atomic fetch**: a Lua script moves a task from its queue into the
//!   worker's in-flight set; there is no moment where it exists only in a
//!   client's memory. Delayed tasks (countdown, ETA, retry backoff) wait in
//!   Redis, not in worker memory.
//! - **Poison messages** (undecodable payloads, tasks that keep killing their
//!   workers) go to a dead-letter list with the reason.
//! - **Resource reservations**: tasks naming the same resource (exclusive or
//!   shared) never run at the same time anywhere in the cluster, start in
//!   the order they were sent, and wait without holding a worker slot.
//! - **Results** are stored with a TTL and awaited through a notification,
//!   not by polling.
//! - **Coordination**: lease locks with fencing tokens, beat schedules that
//!   fire each occurrence exactly once with any number of beat processes,
//!   cluster-wide rate limits per task type, and chords.
//!
//! ## Crate layout
//!
//! | module | what |
//! |---|---|
//! | [`task`](mod@task) | [`Task`], [`Handler`], options, [`TaskError`], [`Signature`], [`TaskContext`] |
//! | [`broker`] | the [`Broker`](broker::Broker) contract, [`RedisBroker`], [`MemoryBroker`] |
//! | [`worker`] | [`Worker`](worker::Worker) and its builder |
//! | [`canvas`] | chains, groups and chords |
//! | `lock` | distributed lease locks with fencing tokens (feature `lock`) |
//! | `beat` | periodic tasks with schedules in Redis (feature `beat`) |
//! | `metrics` | Prometheus metrics and exporter (feature `metrics`) |
//! | [`wire`] | the versioned MessagePack envelope |
//!
//! ## Feature flags
//!
//! | feature | default | what |
//! |---|---|---|
//! | `macros` | yes | the [`#[task]`](macro@task) attribute |
//! | `lock` | yes | `taskq::lock`: lease locks with fencing tokens |
//! | `beat` | yes | `taskq::beat`: schedules (adds `cron`, `chrono`) |
//! | `metrics` | no | `taskq::metrics`: Prometheus metrics (adds `prometheus-client`) |
//! | `cli` | no | the `taskq` inspection binary (adds `clap`, `serde_json`) |
//! | `testing` | no | [`testing::RedisServer`]: a private `redis-server` for tests |

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "beat")]
#[cfg_attr(docsrs, doc(cfg(feature = "beat")))]
pub mod beat;
pub mod broker;
pub mod canvas;
mod client;
mod error;
#[cfg(feature = "lock")]
#[cfg_attr(docsrs, doc(cfg(feature = "lock")))]
pub mod lock;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
mod result;
pub mod task;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
pub mod wire;
pub mod worker;

#[doc(hidden)]
pub mod __private;

pub use broker::{MemoryBroker, RedisBroker, RedisConfig};
pub use client::Client;
pub use error::{Error, Result};
pub use result::{AsyncResult, CancelStatus, FailureKind, TaskFailure, TaskRecord, TaskState};
pub use task::{
    CancelReason, Handler, OnWorkerLost, Priority, RateLimit, RawSignature, Resource, ResourceMode,
    RetryPolicy, Signature, Task, TaskContext, TaskError, TaskId, TaskOptions,
};
#[cfg(feature = "macros")]
pub use taskq_macros::task;
