//! Prometheus metrics of workers, and a tiny HTTP exporter.
//!
//! [`Metrics::new`] registers taskq's metrics in a `prometheus-client`
//! [`Registry`]; give the handle to workers with
//! [`WorkerBuilder::metrics`](crate::worker::WorkerBuilder::metrics) and
//! serve the registry with [`serve`] (or with your own HTTP server).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `taskq_tasks_started_total` | counter | `task` |
//! | `taskq_tasks_succeeded_total` | counter | `task` |
//! | `taskq_tasks_failed_total` | counter | `task` (failed for good, including panics, time limits, unregistered names) |
//! | `taskq_tasks_retried_total` | counter | `task` (an attempt failed and a retry was scheduled) |
//! | `taskq_tasks_canceled_total` | counter | `task` (canceled or expired) |
//! | `taskq_tasks_deferred_total` | counter | `task` (held back by the task type's rate limit) |
//! | `taskq_task_run_seconds` | histogram | `task`: from start to end of a run |
//! | `taskq_task_wait_seconds` | histogram | `task`: from sending (or the ETA / retry due time) to start |
//! | `taskq_tasks_in_flight` | gauge | (tasks running in this process) |
//! | `taskq_queue_depth` | gauge | `queue`, `state` (`high`, `normal`, `low`: ready tasks per priority; `delayed`) |
//!
//! Queue depths are sampled by each worker that has metrics, every
//! [`WorkerBuilder::metrics_interval`](crate::worker::WorkerBuilder::metrics_interval)
//! (default 15 s), for every queue of the namespace.
//!
//! ```no_run
//! # async fn demo() -> taskq::Result<()> {
//! use std::sync::Arc;
//! use taskq::metrics::{self, Metrics, prometheus_client::registry::Registry};
//! use taskq::{RedisBroker, worker::Worker};
//! # #[taskq::task(name = "docs.noop")] async fn noop() -> Result<(), taskq::TaskError> { Ok(()) }
//!
//! let mut registry = Registry::default();
//! let m = Metrics::new(&mut registry);
//! let exporter = metrics::serve("0.0.0.0:9100", Arc::new(registry)).await?;
//! println!("metrics on http://{}/metrics", exporter.local_addr());
//!
//! let broker = RedisBroker::connect("redis://127.0.0.1:6379/").await?;
//! Worker::builder(broker).register::<noop>().metrics(&m).build()?.run().await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use prometheus_client;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio_util::sync::CancellationToken;

use crate::broker::QueueDepth;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    state: &'static str,
}

type Histograms = Family<TaskLabels, Histogram, fn() -> Histogram>;

fn seconds_histogram() -> Histogram {
    // 1 ms to about 9 hours.
    Histogram::new(exponential_buckets(0.001, 2.5, 15))
}

#[derive(Debug)]
struct Inner {
    started: Family<TaskLabels, Counter>,
    succeeded: Family<TaskLabels, Counter>,
    failed: Family<TaskLabels, Counter>,
    retried: Family<TaskLabels, Counter>,
    canceled: Family<TaskLabels, Counter>,
    deferred: Family<TaskLabels, Counter>,
    run_seconds: Histograms,
    wait_seconds: Histograms,
    in_flight: Gauge,
    queue_depth: Family<QueueLabels, Gauge>,
}

/// taskq's metrics (see the [module docs](self)); cheap to clone, shared
/// by every worker it is given to.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

/// How a run ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Succeeded,
    Failed,
    Retried,
    Canceled,
    Deferred,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry` under the
    /// prefix `taskq`.
    pub fn new(registry: &mut Registry) -> Self {
        let inner = Inner {
            started: Family::default(),
            succeeded: Family::default(),
            failed: Family::default(),
            retried: Family::default(),
            canceled: Family::default(),
            deferred: Family::default(),
            run_seconds: Family::new_with_constructor(seconds_histogram),
            wait_seconds: Family::new_with_constructor(seconds_histogram),
            in_flight: Gauge::default(),
            queue_depth: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("taskq");
        r.register("tasks_started", "Task runs started", inner.started.clone());
        r.register(
            "tasks_succeeded",
            "Task runs that succeeded",
            inner.succeeded.clone(),
        );
        r.register(
            "tasks_failed",
            "Tasks that failed for good",
            inner.failed.clone(),
        );
        r.register(
            "tasks_retried",
            "Failed attempts followed by a scheduled retry",
            inner.retried.clone(),
        );
        r.register(
            "tasks_canceled",
            "Tasks canceled (or expired) before or while running",
            inner.canceled.clone(),
        );
        r.register(
            "tasks_deferred",
            "Starts held back by the task type's rate limit",
            inner.deferred.clone(),
        );
        r.register(
            "task_run_seconds",
            "Time from the start to the end of a task run",
            inner.run_seconds.clone(),
        );
        r.register(
            "task_wait_seconds",
            "Time from sending (or the ETA or retry due time) to the start of a run",
            inner.wait_seconds.clone(),
        );
        r.register(
            "tasks_in_flight",
            "Tasks running in this process",
            inner.in_flight.clone(),
        );
        r.register(
            "queue_depth",
            "Tasks waiting per queue: ready ones per priority, and delayed ones",
            inner.queue_depth.clone(),
        );
        Metrics {
            inner: Arc::new(inner),
        }
    }

    fn labels(task: &str) -> TaskLabels {
        TaskLabels {
            task: task.to_owned(),
        }
    }

    pub(crate) fn started(&self, task: &str, waited: Duration) {
        let l = Self::labels(task);
        self.inner.started.get_or_create(&l).inc();
        self.inner
            .wait_seconds
            .get_or_create(&l)
            .observe(waited.as_secs_f64());
        self.inner.in_flight.inc();
    }

    pub(crate) fn stopped(&self, task: &str, ran: Duration) {
        self.inner.in_flight.dec();
        self.inner
            .run_seconds
            .get_or_create(&Self::labels(task))
            .observe(ran.as_secs_f64());
    }

    pub(crate) fn ended(&self, task: &str, how: Ended) {
        let family = match how {
            Ended::Succeeded => &self.inner.succeeded,
            Ended::Failed => &self.inner.failed,
            Ended::Retried => &self.inner.retried,
            Ended::Canceled => &self.inner.canceled,
            Ended::Deferred => &self.inner.deferred,
        };
        family.get_or_create(&Self::labels(task)).inc();
    }

    pub(crate) fn queue_depths(&self, depths: &[QueueDepth]) {
        for d in depths {
            let states = [
                ("high", d.ready[0]),
                ("normal", d.ready[1]),
                ("low", d.ready[2]),
                ("delayed", d.delayed),
            ];
            for (state, n) in states {
                self.inner
                    .queue_depth
                    .get_or_create(&QueueLabels {
                        queue: d.queue.clone(),
                        state,
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }
}

/// A running exporter (see [`serve`]); stops when dropped.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: CancellationToken,
}

impl MetricsServer {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections.
    pub fn shutdown(self) {}
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves `registry` in the OpenMetrics text format on `GET /metrics` at
/// `addr`, in a background task, until the returned handle is dropped. A
/// deliberately tiny HTTP/1.1 server: one request per connection, no keep
/// alive, no TLS; put a proxy in front for anything more.
///
/// # Errors
/// [`Error::Io`] if the address cannot be bound.
pub async fn serve(addr: impl ToSocketAddrs, registry: Arc<Registry>) -> Result<MetricsServer> {
    let listener = TcpListener::bind(addr).await.map_err(|e| Error::Io {
        what: "binding the metrics listener".into(),
        source: e,
    })?;
    let local_addr = listener.local_addr().map_err(|e| Error::Io {
        what: "reading the metrics listener's address".into(),
        source: e,
    })?;
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = token.cancelled() => return,
                a = listener.accept() => a,
            };
            match accepted {
                Ok((stream, _)) => {
                    let registry = Arc::clone(&registry);
                    tokio::spawn(async move {
                        let answer = tokio::time::timeout(
                            Duration::from_secs(10),
                            respond(stream, &registry),
                        );
                        if let Ok(Err(e)) = answer.await {
                            tracing::debug!(error = %e, "metrics request failed");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a metrics connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(MetricsServer { local_addr, stop })
}

/// Reads one request head and answers it.
async fn respond(mut stream: TcpStream, registry: &Registry) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > 16 * 1024 {
            break;
        }
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => {
            let mut body = String::new();
            match prometheus_client::encoding::text::encode(&mut body, registry) {
                Ok(()) => (
                    "200 OK",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    body,
                ),
                Err(_) => (
                    "500 Internal Server Error",
                    "text/plain",
                    "encoding failed\n".to_owned(),
                ),
            }
        }
        (_, "/metrics") => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_owned(),
        ),
        _ => ("404 Not Found", "text/plain", "not found\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
