//! The Redis broker.
//!
//! Every state change is one Lua script (see `scripts/`), so a task is never
//! only in a client's memory: enqueue writes the record and the queue entry
//! together; fetch moves frames from a queue into the worker's in-flight hash;
//! finish removes the in-flight entry and writes the outcome together. A
//! worker owns its in-flight tasks through a lease renewed by heartbeat;
//! when the lease expires, any other worker's reaper returns them to their
//! queues. See `docs/redis-keys.md` for every key.

#[cfg(feature = "beat")]
mod beat;
mod canvas;
mod consumer;
mod keys;
mod listener;
mod producer;
mod registry;
mod scripts;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{OnceCell, broadcast};

use super::{
    Backlog, Broker, ControlEvent, DeadLetter, EnqueueStatus, Fetched, FinishReport, GroupReport,
    GroupState, GroupStatus, HandBack, Liveness, Message, Outcome, QueueDepth, RateDecision,
    ReapReport, Started, WorkerId, WorkerInfo,
};
use crate::error::{Error, Result};
use crate::result::{CancelStatus, TaskRecord};
use crate::task::{Priority, RateLimit, TaskId};
#[cfg(feature = "beat")]
pub(crate) use beat::{BeatFire, BeatPut, FireStatus, PutStatus};
pub(crate) use keys::Keys;
pub(crate) use listener::DoneWatch;
use listener::Listener;
use scripts::Scripts;

/// Settings of a [`RedisBroker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db` (default `redis://127.0.0.1:6379/`).
    pub url: String,
    /// Prefix of every key; also the Redis Cluster hash tag (default `taskq`).
    /// Separate namespaces are fully independent task systems.
    pub namespace: String,
    /// How long a single Redis command may take before it fails (default 10 s).
    pub response_timeout: Duration,
    /// How many due delayed tasks one fetch promotes per queue (default 1000).
    pub promote_limit: usize,
    /// Most messages per enqueue script call (default 500).
    pub enqueue_batch: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379/".to_owned(),
            namespace: "taskq".to_owned(),
            response_timeout: Duration::from_secs(10),
            promote_limit: 1000,
            enqueue_batch: 500,
        }
    }
}

impl RedisConfig {
    /// The default configuration for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            ..Default::default()
        }
    }

    /// Sets the namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
}

/// A [`Broker`] on Redis (7.0 or newer). Cheap to clone; clones share
/// connections.
///
/// ```no_run
/// # async fn demo() -> taskq::Result<()> {
/// use taskq::{Client, RedisBroker};
/// let broker = RedisBroker::connect("redis://127.0.0.1:6379/").await?;
/// let client = Client::new(broker);
/// # let _ = client; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBroker {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    conn: ConnectionManager,
    /// A separate connection for BLPOP, so blocking never delays other commands.
    blocking: tokio::sync::Mutex<Option<ConnectionManager>>,
    listener: OnceCell<Listener>,
    keys: Keys,
    scripts: Scripts,
    config: RedisConfig,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("namespace", &self.inner.config.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// Connects with the default configuration.
    ///
    /// # Errors
    /// [`Error::Redis`] if the URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(RedisConfig::new(url)).await
    }

    /// Connects with `config`.
    ///
    /// # Errors
    /// [`Error::Redis`] if the URL is invalid or the server cannot be reached.
    pub async fn connect_with(config: RedisConfig) -> Result<Self> {
        let client = redis::Client::open(config.url.as_str())?;
        let conn = client
            .get_connection_manager_with_config(Self::manager_config(Some(config.response_timeout)))
            .await?;
        Ok(RedisBroker {
            inner: Arc::new(Inner {
                keys: Keys::new(&config.namespace),
                client,
                conn,
                blocking: tokio::sync::Mutex::new(None),
                listener: OnceCell::new(),
                scripts: Scripts::load(),
                config,
            }),
        })
    }

    fn manager_config(response_timeout: Option<Duration>) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_response_timeout(response_timeout)
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(10)
            .set_max_delay(Duration::from_secs(1))
    }

    /// A connection manager on the same server (multiplexed, reconnecting),
    /// for applications that keep their own data next to the tasks.
    pub fn connection(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    /// The namespace (key prefix) in use.
    pub fn namespace(&self) -> &str {
        &self.inner.config.namespace
    }

    /// The underlying `redis::Client`.
    pub fn redis_client(&self) -> &redis::Client {
        &self.inner.client
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub(crate) fn conn(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    pub(crate) fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }

    pub(crate) fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// Subscribes to `channel` (through the shared pub/sub connection); the
    /// watch's `notify` fires on every message until it is dropped.
    #[cfg_attr(not(feature = "lock"), allow(dead_code))]
    pub(crate) async fn watch(&self, channel: String) -> Result<DoneWatch> {
        self.listener().await?.watch(channel).await
    }

    async fn listener(&self) -> Result<&Listener> {
        self.inner
            .listener
            .get_or_try_init(|| {
                Listener::connect(&self.inner.client, self.inner.keys.control_channel())
            })
            .await
    }

    /// The six fixed reservation keys every reservation-aware script takes first.
    fn res_keys(&self) -> [String; 6] {
        let k = &self.inner.keys;
        [
            k.res_queue_prefix(),
            k.res_exclusive_prefix(),
            k.res_seq(),
            k.res_tasks(),
            k.res_waiting(),
            k.res_ready(),
        ]
    }

    /// Queues waiters that a release made ready (`[id, queue, prio, ...]`).
    async fn push_ready(&self, promoted: &[String]) -> Result<()> {
        if promoted.is_empty() {
            return Ok(());
        }
        let k = &self.inner.keys;
        let mut inv = self.inner.scripts.push_ready.prepare_invoke();
        for key in self.res_keys() {
            inv.key(key);
        }
        inv.arg(crate::time::now_ms());
        for chunk in promoted.chunks_exact(3) {
            let (id, queue, prio) = (&chunk[0], &chunk[1], &chunk[2]);
            let priority = Priority::from_index(prio.parse().unwrap_or(1));
            inv.key(k.task(id))
                .key(k.queue(queue, priority))
                .key(k.delayed(queue))
                .key(k.wake(queue));
            inv.arg(id).arg(priority.index());
        }
        let _: i64 = inv.invoke_async(&mut self.conn()).await?;
        Ok(())
    }
}

#[async_trait]
impl Broker for RedisBroker {
    async fn enqueue(&self, messages: &[Message]) -> Result<Vec<EnqueueStatus>> {
        self.enqueue_messages(messages).await
    }

    async fn cancel(&self, id: &TaskId) -> Result<CancelStatus> {
        self.cancel_task(id).await
    }

    async fn record(&self, id: &TaskId) -> Result<Option<TaskRecord>> {
        self.read_record(id).await
    }

    async fn wait_final(&self, id: &TaskId, timeout: Duration) -> Result<Option<TaskRecord>> {
        self.wait_for_final(id, timeout).await
    }

    async fn set_progress(&self, id: &TaskId, progress: &[u8]) -> Result<()> {
        let _: i64 = self
            .inner
            .scripts
            .progress
            .key(self.inner.keys.task(id.as_str()))
            .arg(progress)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    async fn register_worker(&self, info: &WorkerInfo, lease: Duration) -> Result<()> {
        self.worker_lease(info, lease, "register").await.map(|_| ())
    }

    async fn heartbeat(&self, info: &WorkerInfo, lease: Duration) -> Result<Liveness> {
        self.worker_lease(info, lease, "heartbeat").await
    }

    async fn fetch(&self, worker: &WorkerId, queues: &[String], count: usize) -> Result<Fetched> {
        self.fetch_tasks(worker, queues, count).await
    }

    async fn wait_for_work(&self, queues: &[String], timeout: Duration) -> Result<()> {
        self.block_for_work(queues, timeout).await
    }

    async fn mark_started(&self, worker: &WorkerId, started: &[Started]) -> Result<Vec<TaskId>> {
        self.mark_tasks_started(worker, started).await
    }

    async fn finish(
        &self,
        worker: &WorkerId,
        queues: &[String],
        room: usize,
        run: usize,
        outcomes: &[Outcome],
    ) -> Result<FinishReport> {
        self.finish_tasks(worker, queues, room, run, outcomes).await
    }

    async fn dead_letter(&self, worker: &WorkerId, id: &str, reason: &str) -> Result<()> {
        self.dead_letter_frame(worker, id, reason).await
    }

    async fn hand_back(&self, worker: &WorkerId, tasks: &[HandBack]) -> Result<()> {
        self.hand_back_tasks(worker, tasks).await
    }

    async fn unregister_worker(&self, worker: &WorkerId) -> Result<()> {
        self.unregister(worker).await
    }

    async fn reap_dead_workers(&self, max_kills: u32) -> Result<ReapReport> {
        self.reap(max_kills).await
    }

    async fn cancel_requested(&self, ids: &[TaskId]) -> Result<Vec<TaskId>> {
        self.cancel_flags(ids).await
    }

    async fn control_events(&self) -> Result<broadcast::Receiver<ControlEvent>> {
        self.listener().await?.control().await
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        self.list_workers().await
    }

    async fn held_by(&self, worker: &WorkerId) -> Result<Vec<String>> {
        Ok(redis::AsyncCommands::hkeys(&mut self.conn(), self.keys().inflight(worker)).await?)
    }

    async fn queue_depths(&self) -> Result<Vec<QueueDepth>> {
        self.depths().await
    }

    async fn backlog(&self) -> Result<Backlog> {
        self.read_backlog().await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        self.list_dead_letters(limit).await
    }

    async fn requeue_dead_letters(&self, limit: usize) -> Result<usize> {
        self.requeue_dead(limit).await
    }

    async fn purge_queue(&self, queue: &str) -> Result<usize> {
        self.purge(queue).await
    }

    async fn acquire_rate(
        &self,
        task: &str,
        limit: &RateLimit,
        now_ms: u64,
    ) -> Result<RateDecision> {
        let until: u64 = self
            .inner
            .scripts
            .rate_limit
            .key(self.inner.keys.rate(task))
            .arg(now_ms)
            .arg(limit.window_ms())
            .arg(limit.count.max(1))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(if until == 0 {
            RateDecision::Allowed
        } else {
            RateDecision::Delay { until_ms: until }
        })
    }

    async fn group_report(&self, report: &GroupReport) -> Result<GroupStatus> {
        self.report_to_group(report).await
    }

    async fn group_state(&self, group_id: &str) -> Result<GroupState> {
        self.read_group(group_id).await
    }
}

/// Maps the fetch script's lease error to [`Error::LeaseLost`].
fn lease_error(err: redis::RedisError) -> Error {
    if err.to_string().contains("TASKQ_LEASE_LOST") {
        Error::LeaseLost
    } else {
        Error::Redis(err)
    }
}
