//! Brokers: where tasks wait, who runs them, and where their results go.
//!
//! A [`Broker`] carries task messages from clients to workers *and* keeps
//! task records and results. The two jobs are one trait on purpose: a worker
//! acknowledges a task and stores its result in the same atomic step, so a
//! crash can never leave a task both "done" and "still queued", or neither.
//!
//! Two implementations ship with the crate:
//! - [`RedisBroker`]: the real one. Lua scripts make every step atomic; see
//!   `docs/redis-keys.md` for the data layout.
//! - [`MemoryBroker`]: the same contract in process memory, for unit tests
//!   and examples that should not need a Redis server.
//!
//! Applications do not call most of these methods directly: [`Client`]
//! and [`Worker`](crate::worker::Worker) do.
//!
//! [`Client`]: crate::Client

mod memory;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use memory::MemoryBroker;
pub use redis::{RedisBroker, RedisConfig};

use crate::error::Result;
use crate::result::{CancelStatus, TaskFailure, TaskRecord};
use crate::task::{Priority, RateLimit, Resource, TaskId};

/// A task ready to enter the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its id.
    pub id: TaskId,
    /// Its wire name (stored in the record for inspection).
    pub name: String,
    /// Its queue.
    pub queue: String,
    /// Its priority.
    pub priority: Priority,
    /// Not before this time (ms since the Unix epoch); `None` to run now.
    pub eta_ms: Option<u64>,
    /// Resources it reserves.
    pub resources: Vec<Resource>,
    /// Seconds to keep its record after it ends.
    pub result_ttl_s: u64,
    /// Whether to ignore the message if a task with this id is known
    /// (set for caller-chosen ids).
    pub dedupe: bool,
    /// The encoded frame (see [`crate::wire`]).
    pub frame: Vec<u8>,
}

/// What happened to one message of [`Broker::enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnqueueStatus {
    /// Queued (or scheduled, for a message with an ETA).
    Queued,
    /// Accepted, but waiting for a resource held by an earlier task.
    Waiting,
    /// A task with this id is already known; nothing was done.
    Duplicate,
}

/// The identity of one worker process run (a fresh random id per start).
pub type WorkerId = String;

/// A task handed to a worker: its frame, now in the worker's in-flight set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The id read from the frame.
    pub id: String,
    /// The whole frame.
    pub frame: Vec<u8>,
}

/// The answer to [`Broker::fetch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The tasks now owned by the worker.
    pub deliveries: Vec<Delivery>,
    /// When the earliest delayed task of these queues is due, if any.
    pub next_due_ms: Option<u64>,
}

/// A task that a worker has begun to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// Its id.
    pub id: TaskId,
    /// The attempt being run.
    pub attempt: u32,
    /// When it started (ms since the Unix epoch).
    pub started_ms: u64,
}

/// How a task run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Succeeded with this MessagePack-encoded output.
    Succeeded(Vec<u8>),
    /// Failed for good.
    Failed(TaskFailure),
    /// Canceled (before or while running, or expired).
    Canceled(TaskFailure),
    /// Failed an attempt and goes back to its queue at `due_ms`, as `frame`
    /// (the envelope with its attempt counter advanced).
    Retry {
        /// The failure of this attempt.
        failure: TaskFailure,
        /// When to run again (ms since the Unix epoch).
        due_ms: u64,
        /// The frame to queue again.
        frame: Vec<u8>,
    },
    /// Did not run (its task type's rate limit was reached) and goes back to
    /// its queue at `due_ms`, unchanged: no attempt is counted, its
    /// reservations are kept, and its record keeps its state. A task
    /// canceled meanwhile is dropped instead.
    Defer {
        /// When to try again (ms since the Unix epoch).
        due_ms: u64,
        /// The frame to queue again (as it was delivered).
        frame: Vec<u8>,
    },
}

/// How one member of a chord ended (see [`Broker::group_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOutcome {
    /// It succeeded with this MessagePack-encoded output.
    Succeeded(Vec<u8>),
    /// It failed (or was canceled) for good, for this reason.
    Failed(String),
}

/// A chord member's report to its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    /// The group's id.
    pub group_id: String,
    /// The member's position (0-based).
    pub index: u32,
    /// How many members the group has.
    pub size: u32,
    /// The id the callback is sent with (the broker checks whether it is
    /// known, so that a member that runs again does not send it twice).
    pub callback_id: TaskId,
    /// Seconds to keep the group's bookkeeping after the latest report.
    pub ttl_s: u64,
    /// How the member ended.
    pub outcome: MemberOutcome,
}

/// What a group looks like after a report (see [`Broker::group_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupStatus {
    /// Not every member has succeeded yet; `done` have.
    Pending {
        /// Members that have succeeded (each counted once).
        done: u32,
    },
    /// Every member has succeeded and the callback is not known yet: here
    /// are the outputs, in member order. Send the callback now.
    Complete(Vec<Vec<u8>>),
    /// Every member has succeeded and the callback was already sent.
    CallbackSent,
    /// A member failed: the callback never runs.
    Failed(GroupFailure),
}

/// The member failure recorded on a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFailure {
    /// The failed member's position.
    pub index: u32,
    /// Why it failed.
    pub reason: String,
}

/// The bookkeeping of a chord's group (see [`Broker::group_state`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// Members that have succeeded (each counted once).
    pub succeeded: u32,
    /// The first member failure, if any: the callback never runs.
    pub failed: Option<GroupFailure>,
}

/// The answer to [`Broker::acquire_rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The start was counted; run the task now.
    Allowed,
    /// The window is full: try again at `until_ms` (the start of a later
    /// window; ms since the Unix epoch).
    Delay {
        /// When to try again.
        until_ms: u64,
    },
}

/// The end of one delivery, reported by [`Broker::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The task's id.
    pub id: TaskId,
    /// Its queue.
    pub queue: String,
    /// Its priority (for a retry).
    pub priority: Priority,
    /// The attempt that ended.
    pub attempt: u32,
    /// When that attempt started (0 if it never did).
    pub started_ms: u64,
    /// Seconds to keep the record.
    pub result_ttl_s: u64,
    /// The resources it held (released unless it retries).
    pub resources: Vec<Resource>,
    /// How it ended.
    pub kind: OutcomeKind,
    /// The next task of a run handed over with this one
    /// ([`FinishReport::deliveries`]), started as soon as this one ended:
    /// its start is recorded in the same atomic step as this outcome, so
    /// that no reader sees both tasks running at once.
    pub next_start: Option<Started>,
}

/// What [`Broker::finish`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinishReport {
    /// Outcomes that were not recorded because the worker no longer owned
    /// the task (its lease was lost and the task was handed to another
    /// worker). The new owner's outcome counts.
    pub fenced: Vec<TaskId>,
    /// Waiters the releases made ready that were handed to the worker (see
    /// [`Broker::finish`]); it owns them as if it had fetched them. Each
    /// comes as a run: the waiter, then tasks queued right behind it on its
    /// resource that may run after it, one after the other, in the same
    /// slot (the worker records each one's start with the outcome of the
    /// one before, see [`Outcome::next_start`], and hands back the rest of
    /// a run it does not finish: they wait again).
    pub deliveries: Vec<Vec<Delivery>>,
    /// Tasks whose start came with an outcome ([`Outcome::next_start`])
    /// and whose cancellation was requested: the worker stops them.
    pub cancel: Vec<TaskId>,
}

/// A worker's entry in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Its id (unique per process start).
    pub id: WorkerId,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Queues it serves.
    pub queues: Vec<String>,
    /// How many tasks it runs at once.
    pub concurrency: usize,
    /// How many it is running now.
    pub in_flight: usize,
    /// When it started (ms since the Unix epoch).
    pub started_ms: u64,
    /// When it last sent a heartbeat.
    pub heartbeat_ms: u64,
    /// taskq version.
    pub version: String,
}

/// Whether a heartbeat found the worker still registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Registered; lease renewed.
    Alive,
    /// The worker had been declared dead and its tasks handed to others.
    /// It must drop its in-flight work and register again under a new id.
    Reaped,
}

/// A task being handed back to its queue by its own worker (shutdown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandBack {
    /// The task's id.
    pub id: TaskId,
}

/// What a reaper pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReapReport {
    /// Dead workers whose tasks were processed.
    pub workers: Vec<WorkerId>,
    /// Tasks put back in their queues.
    pub requeued: usize,
    /// Tasks recorded as failed ("worker lost").
    pub failed: usize,
    /// Tasks moved to the dead-letter list.
    pub dead_lettered: usize,
}

/// A message the broker gave up on, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The task id, if the frame had a readable one.
    pub id: Option<String>,
    /// Why it was dead-lettered.
    pub reason: String,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// The original frame.
    pub frame: Vec<u8>,
}

/// How many tasks wait in one queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDepth {
    /// The queue.
    pub queue: String,
    /// Ready tasks per priority, most urgent first.
    pub ready: [u64; 3],
    /// Tasks scheduled for later (countdown, ETA, retry backoff).
    pub delayed: u64,
}

/// Every task the broker still holds that has not reached a final state
/// (see [`Broker::backlog`]). Their sum is the work left to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// Ready in a queue, any priority (a task canceled while queued counts
    /// until a fetch drops it).
    pub queued: u64,
    /// Scheduled for later (countdown, ETA, retry backoff, rate limit).
    pub delayed: u64,
    /// Waiting for a resource reservation, not yet queued.
    pub waiting: u64,
    /// Held by workers: fetched, running, or finished and not yet
    /// acknowledged.
    pub held: u64,
}

impl Backlog {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.queued + self.delayed + self.waiting + self.held
    }
}

/// A signal from the control channel to workers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlEvent {
    /// Stop the task with this id if you run it.
    Cancel(TaskId),
    /// The control stream was interrupted; check your running tasks' cancel
    /// flags with [`Broker::cancel_requested`].
    Resync,
}

/// The broker contract (see the module docs).
///
/// Methods take `&self` and are safe to call concurrently.
#[async_trait]
pub trait Broker: Send + Sync + std::fmt::Debug + 'static {
    /// Accepts messages atomically per message, in order. Messages with an
    /// ETA go to the delayed set; others to their queue (or to the resource
    /// wait lists when a resource they name is busy).
    async fn enqueue(&self, messages: &[Message]) -> Result<Vec<EnqueueStatus>>;

    /// Cancels a task in whatever state it is.
    async fn cancel(&self, id: &TaskId) -> Result<CancelStatus>;

    /// The stored record of a task.
    async fn record(&self, id: &TaskId) -> Result<Option<TaskRecord>>;

    /// Waits until the task is in a final state; `Ok(None)` on timeout.
    ///
    /// # Errors
    /// [`Error::UnknownTask`](crate::Error::UnknownTask) if there is no record.
    async fn wait_final(&self, id: &TaskId, timeout: Duration) -> Result<Option<TaskRecord>>;

    /// Stores a progress report on a task's record.
    async fn set_progress(&self, id: &TaskId, progress: &[u8]) -> Result<()>;

    /// Adds a worker to the registry with a lease of `lease`.
    async fn register_worker(&self, info: &WorkerInfo, lease: Duration) -> Result<()>;

    /// Renews a worker's lease and registry entry.
    async fn heartbeat(&self, info: &WorkerInfo, lease: Duration) -> Result<Liveness>;

    /// Atomically moves up to `count` ready tasks (highest priority first,
    /// then queue order) from `queues` into the worker's in-flight set,
    /// after promoting delayed tasks that are due. Tasks canceled while
    /// queued are dropped here; malformed frames go to the dead-letter list.
    ///
    /// # Errors
    /// Fails if the worker is not registered with a live lease.
    async fn fetch(&self, worker: &WorkerId, queues: &[String], count: usize) -> Result<Fetched>;

    /// Blocks until work may be available in `queues` or `timeout` passes.
    async fn wait_for_work(&self, queues: &[String], timeout: Duration) -> Result<()>;

    /// Records that tasks started; returns those whose cancellation was
    /// requested meanwhile (the worker stops them).
    async fn mark_started(&self, worker: &WorkerId, started: &[Started]) -> Result<Vec<TaskId>>;

    /// Acknowledges tasks and stores their outcomes, atomically per task, and
    /// releases their resources. Outcomes of tasks the worker no longer owns
    /// are ignored and reported as fenced.
    ///
    /// `queues` are the queues the worker serves and `room` how many more
    /// tasks it can start right now: waiters that a release makes ready and
    /// that belong to one of those queues may be handed to the worker in
    /// the same step, up to `room` of them ([`FinishReport::deliveries`],
    /// owned by the worker as if fetched), or queued at the front of their
    /// queue. Their records say `waiting` until a worker starts them. A
    /// handed waiter may bring up to `run - 1` tasks queued behind it on
    /// its resource (`run` ≤ 1: none).
    async fn finish(
        &self,
        worker: &WorkerId,
        queues: &[String],
        room: usize,
        run: usize,
        outcomes: &[Outcome],
    ) -> Result<FinishReport>;

    /// Moves an in-flight frame the worker cannot decode to the dead-letter
    /// list, with `reason`.
    async fn dead_letter(&self, worker: &WorkerId, id: &str, reason: &str) -> Result<()>;

    /// Hands in-flight tasks back to the front of their queues (shutdown).
    async fn hand_back(&self, worker: &WorkerId, tasks: &[HandBack]) -> Result<()>;

    /// Removes a worker from the registry after handing back whatever it
    /// still holds.
    async fn unregister_worker(&self, worker: &WorkerId) -> Result<()>;

    /// Finds workers whose lease expired and returns their in-flight tasks
    /// to their queues (or fails them, or dead-letters repeat offenders that
    /// have killed more than `max_kills` workers).
    async fn reap_dead_workers(&self, max_kills: u32) -> Result<ReapReport>;

    /// Of the given tasks, those with a pending cancellation request.
    async fn cancel_requested(&self, ids: &[TaskId]) -> Result<Vec<TaskId>>;

    /// Subscribes to control events (cancellation of running tasks).
    async fn control_events(&self) -> Result<tokio::sync::broadcast::Receiver<ControlEvent>>;

    /// The worker registry.
    async fn workers(&self) -> Result<Vec<WorkerInfo>>;

    /// The ids of the tasks `worker` owns (its in-flight set), for a worker
    /// to find tasks it owns but does not know of (a fetch whose reply was
    /// lost) and hand them back.
    async fn held_by(&self, worker: &WorkerId) -> Result<Vec<String>>;

    /// Depth of every known queue.
    async fn queue_depths(&self) -> Result<Vec<QueueDepth>>;

    /// How many tasks are queued, delayed, waiting for a resource or held by
    /// workers, read live (unlike [`WorkerInfo::in_flight`], which is as of
    /// the last heartbeat). One pipelined read; cheap enough to poll.
    async fn backlog(&self) -> Result<Backlog>;

    /// The newest `limit` dead letters.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>>;

    /// Moves up to `limit` dead letters (oldest first) back to their queues;
    /// returns how many were requeued. Frames that still cannot be decoded
    /// stay.
    async fn requeue_dead_letters(&self, limit: usize) -> Result<usize>;

    /// Removes every ready and delayed task of `queue`; returns how many.
    /// Their records are marked canceled.
    async fn purge_queue(&self, queue: &str) -> Result<usize>;

    /// Counts one start of task type `task` against its cluster-wide
    /// `limit`, in the fixed window that contains `now_ms` (windows are
    /// aligned to the Unix epoch: window = `floor(now_ms / per)`).
    ///
    /// Refused starts are counted too: the k-th refused start of a window is
    /// told to come back at the start of window `+ceil(k / count)`, so a
    /// backlog spreads over the following windows instead of stampeding into
    /// the next one.
    async fn acquire_rate(
        &self,
        task: &str,
        limit: &RateLimit,
        now_ms: u64,
    ) -> Result<RateDecision>;

    /// Records how a chord member ended, atomically: a success stores its
    /// output under its index unless one is stored already (so a member that
    /// runs twice counts once); a failure marks the group failed unless that
    /// member had already succeeded. Returns the group's status; when it is
    /// [`GroupStatus::Complete`], the caller sends the callback with
    /// `callback_id` (deduplicated).
    async fn group_report(&self, report: &GroupReport) -> Result<GroupStatus>;

    /// The bookkeeping of group `group_id` (empty if unknown or expired).
    async fn group_state(&self, group_id: &str) -> Result<GroupState>;
}

/// The window a rate-limited start at `now_ms` falls in, and what to answer
/// for the `n`-th start (1-based) counted in it. Shared by both brokers (the
/// Redis script computes the same).
pub(crate) fn rate_decision(limit: &RateLimit, now_ms: u64, n: u64) -> RateDecision {
    let win = limit.window_ms();
    let w = now_ms / win;
    let count = u64::from(limit.count.max(1));
    if n <= count {
        RateDecision::Allowed
    } else {
        let k = n - count;
        RateDecision::Delay {
            until_ms: (w + k.div_ceil(count)) * win,
        }
    }
}

/// Encodes a dead-letter entry: `<at_ms> <reason>\n<frame>`.
pub(crate) fn encode_dead_letter(at_ms: u64, reason: &str, frame: &[u8]) -> Vec<u8> {
    let reason = reason.replace('\n', " ");
    let mut out = format!("{at_ms} {reason}\n").into_bytes();
    out.extend_from_slice(frame);
    out
}

/// Decodes a dead-letter entry written by [`encode_dead_letter`] or by the
/// Lua scripts.
pub(crate) fn decode_dead_letter(entry: &[u8]) -> DeadLetter {
    let nl = entry
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(entry.len());
    let head = String::from_utf8_lossy(&entry[..nl]);
    let (at, reason) = head.split_once(' ').unwrap_or((&head, ""));
    let frame = entry.get(nl + 1..).unwrap_or_default().to_vec();
    DeadLetter {
        id: crate::wire::frame_id_lossy(&frame),
        reason: reason.to_owned(),
        at_ms: at.parse().unwrap_or(0),
        frame,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_starts_spread_over_later_windows() {
        let l = RateLimit::per_second(2);
        assert_eq!(rate_decision(&l, 5_300, 1), RateDecision::Allowed);
        assert_eq!(rate_decision(&l, 5_300, 2), RateDecision::Allowed);
        for (n, until) in [(3, 6_000), (4, 6_000), (5, 7_000), (6, 7_000), (7, 8_000)] {
            assert_eq!(
                rate_decision(&l, 5_999, n),
                RateDecision::Delay { until_ms: until },
                "start {n}"
            );
        }
    }

    #[test]
    fn dead_letter_round_trip() {
        let e = encode_dead_letter(42, "bad\nthing", b"tq1:abc\n\x00\x01");
        let d = decode_dead_letter(&e);
        assert_eq!(d.at_ms, 42);
        assert_eq!(d.reason, "bad thing");
        assert_eq!(d.frame, b"tq1:abc\n\x00\x01");
        assert_eq!(d.id.as_deref(), Some("abc"));
    }
}
