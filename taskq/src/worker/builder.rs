//! Configuring a worker.

use std::sync::Arc;
use std::time::Duration;

use super::Worker;
use super::registry::Registry;
use crate::broker::Broker;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::task::Handler;

/// Settings of a worker (see each [`WorkerBuilder`] method for defaults).
#[derive(Debug, Clone)]
pub(crate) struct WorkerConfig {
    pub(crate) queues: Vec<String>,
    pub(crate) concurrency: usize,
    pub(crate) fetch_batch: usize,
    pub(crate) resource_run: usize,
    pub(crate) lease: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) cancel_grace: Duration,
    pub(crate) max_worker_kills: u32,
    pub(crate) poll_interval: Duration,
    pub(crate) handle_signals: bool,
    pub(crate) observer: super::observe::Observer,
    pub(crate) metrics_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            queues: Vec::new(),
            concurrency: 32,
            fetch_batch: 256,
            resource_run: 16,
            lease: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(10),
            max_worker_kills: 3,
            poll_interval: Duration::from_secs(1),
            handle_signals: true,
            observer: super::observe::Observer::default(),
            metrics_interval: Duration::from_secs(15),
        }
    }
}

/// Builds a [`Worker`]: the broker, the tasks it runs, its shared state and
/// its limits.
///
/// ```
/// # use taskq::{task, MemoryBroker, TaskError, worker::Worker};
/// #[derive(Clone)]
/// struct AppState { greeting: String }
///
/// #[task(name = "docs.greet")]
/// async fn greet(ctx: taskq::TaskContext<AppState>, who: String) -> Result<String, TaskError> {
///     Ok(format!("{}, {who}", ctx.state().greeting))
/// }
///
/// let worker = Worker::builder(MemoryBroker::new())
///     .state(AppState { greeting: "hello".into() })
///     .register::<greet>()
///     .queues(["default", "mail"])
///     .concurrency(64)
///     .build()
///     .unwrap();
/// # drop(worker);
/// ```
pub struct WorkerBuilder<S> {
    client: Client,
    state: Arc<S>,
    registry: Registry<S>,
    config: WorkerConfig,
    error: Option<Error>,
}

impl<S> std::fmt::Debug for WorkerBuilder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WorkerBuilder<()> {
    pub(crate) fn new(client: Client) -> Self {
        WorkerBuilder {
            client,
            state: Arc::new(()),
            registry: Registry::default(),
            config: WorkerConfig::default(),
            error: None,
        }
    }

    /// Sets the shared application state handed to tasks as
    /// [`TaskContext::state`](crate::TaskContext::state). Call it before
    /// registering tasks.
    pub fn state<S: Send + Sync + 'static>(self, state: S) -> WorkerBuilder<S> {
        self.state_arc(Arc::new(state))
    }

    /// Like [`WorkerBuilder::state`] with a state that is already shared.
    pub fn state_arc<S: Send + Sync + 'static>(self, state: Arc<S>) -> WorkerBuilder<S> {
        WorkerBuilder {
            client: self.client,
            state,
            registry: Registry::default(),
            config: self.config,
            error: self.error,
        }
    }
}

impl<S: Send + Sync + 'static> WorkerBuilder<S> {
    /// Adds task type `T`. Registering one name twice is an error at build.
    pub fn register<T: Handler<S>>(mut self) -> Self {
        if let Err(e) = self.registry.register::<T>()
            && self.error.is_none()
        {
            self.error = Some(e);
        }
        self
    }

    /// Serves `queue` too (default: `default` only). Earlier queues are
    /// preferred within one priority level.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.config.queues.push(queue.into());
        self
    }

    /// Serves these queues.
    pub fn queues<I: IntoIterator<Item = Q>, Q: Into<String>>(mut self, queues: I) -> Self {
        self.config
            .queues
            .extend(queues.into_iter().map(Into::into));
        self
    }

    /// Runs at most `n` tasks at once (default 32).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n.max(1);
        self
    }

    /// Fetches at most `n` tasks per round trip (default 256).
    pub fn fetch_batch(mut self, n: usize) -> Self {
        self.config.fetch_batch = n.max(1);
        self
    }

    /// When a task's end lets the next task of its exclusive resource run,
    /// the worker may take that task and up to `n - 1` tasks queued right
    /// behind it (default 16; 1 takes one at a time). They could not run
    /// any earlier: the worker runs them one after the other in one slot,
    /// recording each start together with the previous outcome, without a
    /// round trip to Redis in between; what it does not run (shutdown, a
    /// retry) goes back to wait. Only tasks that name that one resource and
    /// nothing else are taken this way.
    pub fn resource_run(mut self, n: usize) -> Self {
        self.config.resource_run = n.max(1);
        self
    }

    /// The lease on fetched tasks (default 30 s), renewed by a heartbeat
    /// every third of it. If this worker dies, its tasks return to their
    /// queues within about one lease of its last heartbeat.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease.max(Duration::from_millis(300));
        self
    }

    /// On shutdown, how long running tasks may keep running (default 30 s)
    /// before they are canceled and handed back to their queues.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// How long a canceled task may take to stop by itself before its
    /// future is dropped (default 10 s).
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.config.cancel_grace = grace;
        self
    }

    /// A task whose worker dies more than `n` times goes to the dead-letter
    /// list instead of back to its queue (default 3).
    pub fn max_worker_kills(mut self, n: u32) -> Self {
        self.config.max_worker_kills = n;
        self
    }

    /// The longest an idle worker waits before looking at its queues again
    /// even without a wake-up (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Whether [`Worker::run`] listens for SIGTERM and SIGINT (default true).
    pub fn handle_signals(mut self, yes: bool) -> Self {
        self.config.handle_signals = yes;
        self
    }

    /// Reports to `metrics` (see [`crate::metrics`]): task counters, run
    /// and wait times, tasks in flight, and queue depths sampled every
    /// [`metrics_interval`](Self::metrics_interval). Without metrics, a
    /// worker pays nothing for them.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.config.observer.metrics = Some(metrics.clone());
        self
    }

    /// How often a worker with metrics samples the queue depths (default
    /// 15 s).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_interval(mut self, every: Duration) -> Self {
        self.config.metrics_interval = every.max(Duration::from_millis(10));
        self
    }

    /// Checks the configuration and builds the worker.
    ///
    /// # Errors
    /// [`Error::Config`] if no task was registered or one was registered twice.
    pub fn build(mut self) -> Result<Worker<S>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.registry.is_empty() {
            return Err(Error::Config(
                "a worker needs at least one registered task".into(),
            ));
        }
        if self.config.queues.is_empty() {
            self.config.queues.push("default".to_owned());
        }
        self.config.queues.dedup();
        self.config.fetch_batch = self.config.fetch_batch.min(self.config.concurrency);
        Ok(Worker::from_parts(
            self.client,
            self.state,
            self.registry,
            self.config,
        ))
    }
}

/// Lets [`Worker::builder`] accept a broker, a shared broker or a client.
pub trait IntoClient {
    /// Converts into a client.
    fn into_client(self) -> Client;
}

impl<B: Broker> IntoClient for B {
    fn into_client(self) -> Client {
        Client::new(self)
    }
}

impl IntoClient for Client {
    fn into_client(self) -> Client {
        self
    }
}

impl IntoClient for Arc<dyn Broker> {
    fn into_client(self) -> Client {
        Client::from_arc(self)
    }
}
