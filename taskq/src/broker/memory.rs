//! A [`Broker`] in process memory: the same contract as the Redis broker,
//! for unit tests and examples that should run without a server. It is
//! shared by cloning; nothing survives the process.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use super::{
    Backlog, Broker, ControlEvent, DeadLetter, Delivery, EnqueueStatus, Fetched, FinishReport,
    GroupFailure, GroupReport, GroupState, GroupStatus, HandBack, Liveness, MemberOutcome, Message,
    Outcome, OutcomeKind, QueueDepth, RateDecision, ReapReport, Started, WorkerId, WorkerInfo,
    decode_dead_letter, encode_dead_letter, rate_decision,
};
use crate::error::{Error, Result};
use crate::result::{CancelStatus, FailureKind, TaskFailure, TaskRecord, TaskState};
use crate::task::{OnWorkerLost, Priority, RateLimit, Resource, ResourceMode, TaskId};
use crate::time::{millis, now_ms};
use crate::wire::{decode_frame, frame_id_lossy, split_frame};

/// An in-memory broker. Cheap to clone; clones share state.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> taskq::Result<()> {
/// use taskq::{Client, MemoryBroker};
/// let client = Client::new(MemoryBroker::new());
/// # let _ = client; Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBroker").finish_non_exhaustive()
    }
}

struct Inner {
    state: Mutex<State>,
    /// Woken when work is queued.
    work: Notify,
    /// Woken when any task reaches a final state.
    done: Notify,
    control: broadcast::Sender<ControlEvent>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            state: Mutex::default(),
            work: Notify::new(),
            done: Notify::new(),
            control: broadcast::channel(1024).0,
        }
    }
}

#[derive(Default)]
struct State {
    queues: HashMap<String, [VecDeque<Vec<u8>>; 3]>,
    /// (due, seq) → (queue, priority, frame)
    delayed: BTreeMap<(u64, u64), (String, Priority, Vec<u8>)>,
    records: HashMap<String, Stored>,
    inflight: HashMap<WorkerId, HashMap<String, Vec<u8>>>,
    workers: HashMap<WorkerId, (u64, WorkerInfo)>,
    canceled: HashSet<String>,
    kills: HashMap<String, u32>,
    dead: VecDeque<Vec<u8>>,
    res: Reservations,
    seq: u64,
    /// task name → (window number, starts counted in it)
    rates: HashMap<String, (u64, u64)>,
    /// chord group id → its bookkeeping
    groups: HashMap<String, MemGroup>,
}

/// A chord group: member outputs by index, and the first failure.
type MemGroup = (BTreeMap<u32, Vec<u8>>, Option<GroupFailure>);

struct Stored {
    record: TaskRecord,
    ttl_s: u64,
    expires_at: Option<u64>,
}

#[derive(Default)]
struct Reservations {
    seq: u64,
    /// (resource, seq) → (mode, task id)
    entries: BTreeMap<(String, u64), (ResourceMode, String)>,
    /// task id → (seq, queue, priority, eta, resources)
    tasks: HashMap<String, ResMeta>,
    waiting: HashMap<String, Vec<u8>>,
}

#[derive(Clone)]
struct ResMeta {
    seq: u64,
    queue: String,
    priority: Priority,
    eta_ms: Option<u64>,
    resources: Vec<Resource>,
}

impl Reservations {
    fn entries_of<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a u64, &'a (ResourceMode, String))> + 'a {
        self.entries
            .range((name.to_owned(), 0)..=(name.to_owned(), u64::MAX))
            .map(|((_, seq), v)| (seq, v))
    }

    fn is_ready(&self, meta: &ResMeta) -> bool {
        meta.resources.iter().all(|r| match r.mode {
            ResourceMode::Exclusive => {
                self.entries_of(&r.name).next().map(|(s, _)| *s) == Some(meta.seq)
            }
            ResourceMode::Shared => self
                .entries_of(&r.name)
                .find(|(_, (mode, _))| *mode == ResourceMode::Exclusive)
                .is_none_or(|(s, _)| *s > meta.seq),
        })
    }

    fn reserve(
        &mut self,
        id: &str,
        queue: &str,
        priority: Priority,
        eta_ms: Option<u64>,
        resources: &[Resource],
    ) -> bool {
        self.seq += 1;
        let meta = ResMeta {
            seq: self.seq,
            queue: queue.to_owned(),
            priority,
            eta_ms,
            resources: merge_resources(resources),
        };
        for r in &meta.resources {
            self.entries
                .insert((r.name.clone(), meta.seq), (r.mode, id.to_owned()));
        }
        let ready = self.is_ready(&meta);
        self.tasks.insert(id.to_owned(), meta);
        ready
    }

    /// Removes `id`'s entries; returns waiters that became ready, with
    /// their frames and metas, in dispatch order.
    fn release(&mut self, id: &str) -> Vec<(String, ResMeta, Vec<u8>)> {
        let Some(meta) = self.tasks.remove(id) else {
            return Vec::new();
        };
        for r in &meta.resources {
            self.entries.remove(&(r.name.clone(), meta.seq));
        }
        self.waiting.remove(id);
        let mut candidates: Vec<String> = Vec::new();
        for r in &meta.resources {
            for (_, (_, tid)) in self.entries_of(&r.name) {
                if self.waiting.contains_key(tid) && !candidates.contains(tid) {
                    candidates.push(tid.clone());
                }
            }
        }
        let mut ready: Vec<(String, ResMeta, Vec<u8>)> = Vec::new();
        for c in candidates {
            let m = self.tasks[&c].clone();
            if self.is_ready(&m)
                && let Some(frame) = self.waiting.remove(&c)
            {
                ready.push((c, m, frame));
            }
        }
        ready.sort_by_key(|(_, m, _)| m.seq);
        ready
    }
}

fn merge_resources(resources: &[Resource]) -> Vec<Resource> {
    let mut out: Vec<Resource> = Vec::new();
    for r in resources {
        match out.iter_mut().find(|m| m.name == r.name) {
            Some(m) if r.mode == ResourceMode::Exclusive => *m = r.clone(),
            Some(_) => {}
            None => out.push(r.clone()),
        }
    }
    out
}

fn lines_of(resources: &[Resource]) -> Vec<String> {
    merge_resources(resources)
        .iter()
        .map(|r| match r.mode {
            ResourceMode::Exclusive => format!("x:{}", r.name),
            ResourceMode::Shared => format!("s:{}", r.name),
        })
        .collect()
}

impl State {
    fn record_mut(&mut self, id: &str) -> Option<&mut Stored> {
        let now = now_ms();
        if self
            .records
            .get(id)
            .and_then(|s| s.expires_at)
            .is_some_and(|e| e <= now)
        {
            self.records.remove(id);
        }
        self.records.get_mut(id)
    }

    fn lists(&mut self, queue: &str) -> &mut [VecDeque<Vec<u8>>; 3] {
        self.queues.entry(queue.to_owned()).or_default()
    }

    fn push_ready(&mut self, ready: Vec<(String, ResMeta, Vec<u8>)>) {
        let now = now_ms();
        for (id, meta, frame) in ready {
            match meta.eta_ms.filter(|&e| e > now) {
                Some(eta) => {
                    self.seq += 1;
                    self.delayed
                        .insert((eta, self.seq), (meta.queue.clone(), meta.priority, frame));
                }
                None => self.lists(&meta.queue)[meta.priority.index()].push_back(frame),
            }
            if let Some(s) = self.record_mut(&id)
                && s.record.state == TaskState::Waiting
            {
                s.record.state = TaskState::Pending;
            }
        }
    }

    /// Moves a record to a final state.
    fn finalize(
        &mut self,
        id: &str,
        state: TaskState,
        failure: Option<TaskFailure>,
        result: Option<Vec<u8>>,
    ) {
        let now = now_ms();
        if let Some(s) = self.record_mut(id) {
            s.record.state = state;
            s.record.finished_ms = Some(now);
            if result.is_some() {
                s.record.result = result;
                s.record.error = None;
            }
            if failure.is_some() {
                s.record.error = failure;
            }
            s.expires_at = Some(now + s.ttl_s * 1000);
        }
        self.kills.remove(id);
        let ready = self.res.release(id);
        self.push_ready(ready);
    }
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queue_frame(
        state: &mut State,
        queue: &str,
        priority: Priority,
        frame: Vec<u8>,
        front: bool,
    ) {
        let list = &mut state.lists(queue)[priority.index()];
        if front {
            list.push_front(frame);
        } else {
            list.push_back(frame);
        }
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn enqueue(&self, messages: &[Message]) -> Result<Vec<EnqueueStatus>> {
        let now = now_ms();
        let mut out = Vec::with_capacity(messages.len());
        {
            let mut st = self.lock();
            for m in messages {
                for r in &m.resources {
                    if r.name.is_empty() || r.name.contains(['\n', '\0']) {
                        return Err(Error::InvalidResource(r.name.clone()));
                    }
                }
                if m.dedupe && st.record_mut(m.id.as_str()).is_some() {
                    out.push(EnqueueStatus::Duplicate);
                    continue;
                }
                let ready = m.resources.is_empty()
                    || st
                        .res
                        .reserve(m.id.as_str(), &m.queue, m.priority, m.eta_ms, &m.resources);
                let record = TaskRecord {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    queue: m.queue.clone(),
                    state: if ready {
                        TaskState::Pending
                    } else {
                        TaskState::Waiting
                    },
                    attempt: 0,
                    created_ms: now,
                    started_ms: None,
                    finished_ms: None,
                    eta_ms: m.eta_ms,
                    worker: None,
                    result: None,
                    error: None,
                    progress: None,
                    cancel_requested: false,
                    resources: lines_of(&m.resources),
                };
                st.records.insert(
                    m.id.to_string(),
                    Stored {
                        record,
                        ttl_s: m.result_ttl_s,
                        expires_at: None,
                    },
                );
                if !ready {
                    st.res.waiting.insert(m.id.to_string(), m.frame.clone());
                    out.push(EnqueueStatus::Waiting);
                } else if let Some(eta) = m.eta_ms {
                    st.seq += 1;
                    let seq = st.seq;
                    st.delayed
                        .insert((eta, seq), (m.queue.clone(), m.priority, m.frame.clone()));
                    out.push(EnqueueStatus::Queued);
                } else {
                    Self::queue_frame(&mut st, &m.queue, m.priority, m.frame.clone(), false);
                    out.push(EnqueueStatus::Queued);
                }
            }
        }
        self.inner.work.notify_waiters();
        Ok(out)
    }

    async fn cancel(&self, id: &TaskId) -> Result<CancelStatus> {
        let status = {
            let mut st = self.lock();
            let Some(stored) = st.record_mut(id.as_str()) else {
                return Ok(CancelStatus::Unknown);
            };
            match stored.record.state {
                s if s.is_final() => return Ok(CancelStatus::AlreadyFinished(s)),
                TaskState::Started => {
                    stored.record.cancel_requested = true;
                    CancelStatus::Canceling
                }
                prior => {
                    if prior != TaskState::Waiting {
                        st.canceled.insert(id.to_string());
                    }
                    st.finalize(
                        id.as_str(),
                        TaskState::Canceled,
                        Some(TaskFailure::new(
                            FailureKind::Canceled,
                            "canceled before it started",
                        )),
                        None,
                    );
                    CancelStatus::Canceled
                }
            }
        };
        let _ = self.inner.control.send(ControlEvent::Cancel(id.clone()));
        self.inner.done.notify_waiters();
        self.inner.work.notify_waiters();
        Ok(status)
    }

    async fn record(&self, id: &TaskId) -> Result<Option<TaskRecord>> {
        Ok(self
            .lock()
            .record_mut(id.as_str())
            .map(|s| s.record.clone()))
    }

    async fn wait_final(&self, id: &TaskId, timeout: Duration) -> Result<Option<TaskRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.record(id).await? {
                None => return Err(Error::UnknownTask(id.to_string())),
                Some(r) if r.state.is_final() => return Ok(Some(r)),
                Some(_) => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn set_progress(&self, id: &TaskId, progress: &[u8]) -> Result<()> {
        if let Some(s) = self.lock().record_mut(id.as_str()) {
            s.record.progress = Some(progress.to_vec());
        }
        Ok(())
    }

    async fn register_worker(&self, info: &WorkerInfo, lease: Duration) -> Result<()> {
        self.lock()
            .workers
            .insert(info.id.clone(), (now_ms() + millis(lease), info.clone()));
        Ok(())
    }

    async fn heartbeat(&self, info: &WorkerInfo, lease: Duration) -> Result<Liveness> {
        let mut st = self.lock();
        match st.workers.get_mut(&info.id) {
            Some(entry) => {
                *entry = (now_ms() + millis(lease), info.clone());
                Ok(Liveness::Alive)
            }
            None => Ok(Liveness::Reaped),
        }
    }

    async fn fetch(&self, worker: &WorkerId, queues: &[String], count: usize) -> Result<Fetched> {
        let now = now_ms();
        let mut st = self.lock();
        match st.workers.get(worker) {
            Some((deadline, _)) if *deadline >= now => {}
            _ => return Err(Error::LeaseLost),
        }
        // Promote due delayed tasks of these queues.
        let due: Vec<(u64, u64)> = st
            .delayed
            .range(..=(now, u64::MAX))
            .filter(|(_, (q, _, _))| queues.contains(q))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some((q, p, frame)) = st.delayed.remove(&key) {
                Self::queue_frame(&mut st, &q, p, frame, false);
            }
        }
        let mut deliveries = Vec::new();
        'outer: for p in 0..3 {
            for q in queues {
                loop {
                    if deliveries.len() >= count {
                        break 'outer;
                    }
                    let Some(frame) = st.lists(q)[p].pop_front() else {
                        break;
                    };
                    let Ok((id, _)) = split_frame(&frame) else {
                        let entry = encode_dead_letter(
                            now,
                            "malformed frame (not a taskq v1 message)",
                            &frame,
                        );
                        st.dead.push_front(entry);
                        continue;
                    };
                    if st.canceled.remove(id.as_str()) {
                        continue;
                    }
                    st.inflight
                        .entry(worker.clone())
                        .or_default()
                        .insert(id.to_string(), frame.clone());
                    deliveries.push(Delivery {
                        id: id.to_string(),
                        frame,
                    });
                }
            }
        }
        let next_due_ms = st
            .delayed
            .iter()
            .find(|(_, (q, _, _))| queues.contains(q))
            .map(|((due, _), _)| *due);
        Ok(Fetched {
            deliveries,
            next_due_ms,
        })
    }

    async fn wait_for_work(&self, queues: &[String], timeout: Duration) -> Result<()> {
        let notified = self.inner.work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let has_work = {
            let st = self.lock();
            queues.iter().any(|q| {
                st.queues
                    .get(q)
                    .is_some_and(|l| l.iter().any(|d| !d.is_empty()))
            })
        };
        if !has_work {
            let _ = tokio::time::timeout(timeout, notified).await;
        }
        Ok(())
    }

    async fn mark_started(&self, worker: &WorkerId, started: &[Started]) -> Result<Vec<TaskId>> {
        let mut st = self.lock();
        Ok(started
            .iter()
            .filter(|s| mark_started(&mut st, worker, s))
            .map(|s| s.id.clone())
            .collect())
    }

    async fn finish(
        &self,
        worker: &WorkerId,
        _queues: &[String],
        _room: usize,
        _run: usize,
        outcomes: &[Outcome],
    ) -> Result<FinishReport> {
        let mut report = FinishReport::default();
        {
            let mut st = self.lock();
            for o in outcomes {
                let id = o.id.as_str();
                let owned = st
                    .inflight
                    .get_mut(worker)
                    .and_then(|m| m.remove(id))
                    .is_some();
                if !owned {
                    report.fenced.push(o.id.clone());
                    continue;
                }
                st.kills.remove(id);
                st.canceled.remove(id);
                let deferred = matches!(o.kind, OutcomeKind::Defer { .. });
                if let Some(s) = st.record_mut(id).filter(|_| !deferred) {
                    s.record.attempt = o.attempt;
                    s.record.worker = Some(worker.clone());
                    if o.started_ms > 0 {
                        s.record.started_ms = Some(o.started_ms);
                    }
                    s.ttl_s = o.result_ttl_s;
                }
                match &o.kind {
                    OutcomeKind::Succeeded(bytes) => {
                        st.finalize(id, TaskState::Succeeded, None, Some(bytes.clone()));
                    }
                    OutcomeKind::Failed(f) => {
                        st.finalize(id, TaskState::Failed, Some(f.clone()), None)
                    }
                    OutcomeKind::Canceled(f) => {
                        st.finalize(id, TaskState::Canceled, Some(f.clone()), None)
                    }
                    OutcomeKind::Defer { due_ms, frame } => {
                        let canceled = st
                            .record_mut(id)
                            .is_some_and(|s| s.record.state == TaskState::Canceled);
                        if !canceled {
                            if let Some(s) = st.record_mut(id) {
                                s.record.eta_ms = Some(*due_ms);
                            }
                            st.seq += 1;
                            let seq = st.seq;
                            st.delayed.insert(
                                (*due_ms, seq),
                                (o.queue.clone(), o.priority, frame.clone()),
                            );
                        }
                    }
                    OutcomeKind::Retry {
                        failure,
                        due_ms,
                        frame,
                    } => {
                        if let Some(s) = st.record_mut(id) {
                            s.record.state = TaskState::Retrying;
                            s.record.error = Some(failure.clone());
                            s.record.eta_ms = Some(*due_ms);
                            s.record.cancel_requested = false;
                        }
                        st.seq += 1;
                        let seq = st.seq;
                        st.delayed
                            .insert((*due_ms, seq), (o.queue.clone(), o.priority, frame.clone()));
                    }
                }
                if let Some(next) = &o.next_start
                    && mark_started(&mut st, worker, next)
                {
                    report.cancel.push(next.id.clone());
                }
            }
        }
        self.inner.done.notify_waiters();
        self.inner.work.notify_waiters();
        Ok(report)
    }

    async fn dead_letter(&self, worker: &WorkerId, id: &str, reason: &str) -> Result<()> {
        {
            let mut st = self.lock();
            let Some(frame) = st.inflight.get_mut(worker).and_then(|m| m.remove(id)) else {
                return Ok(());
            };
            st.dead
                .push_front(encode_dead_letter(now_ms(), reason, &frame));
            st.finalize(
                id,
                TaskState::Failed,
                Some(TaskFailure::new(FailureKind::Undecodable, reason)),
                None,
            );
        }
        self.inner.done.notify_waiters();
        Ok(())
    }

    async fn hand_back(&self, worker: &WorkerId, tasks: &[HandBack]) -> Result<()> {
        {
            let mut st = self.lock();
            for t in tasks {
                let Some(frame) = st
                    .inflight
                    .get_mut(worker)
                    .and_then(|m| m.remove(t.id.as_str()))
                else {
                    continue;
                };
                requeue_frame(&mut st, t.id.as_str(), frame);
            }
        }
        self.inner.work.notify_waiters();
        Ok(())
    }

    async fn unregister_worker(&self, worker: &WorkerId) -> Result<()> {
        {
            let mut st = self.lock();
            if let Some(held) = st.inflight.remove(worker) {
                for (id, frame) in held {
                    requeue_frame(&mut st, &id, frame);
                }
            }
            st.workers.remove(worker);
        }
        self.inner.work.notify_waiters();
        Ok(())
    }

    async fn reap_dead_workers(&self, max_kills: u32) -> Result<ReapReport> {
        let now = now_ms();
        let mut report = ReapReport::default();
        {
            let mut st = self.lock();
            let dead: Vec<WorkerId> = st
                .workers
                .iter()
                .filter(|(_, (deadline, _))| *deadline < now)
                .map(|(id, _)| id.clone())
                .collect();
            for w in dead {
                let held = st.inflight.remove(&w).unwrap_or_default();
                for (id, frame) in held {
                    let cancel_requested = st
                        .record_mut(&id)
                        .is_some_and(|s| s.record.cancel_requested);
                    let decoded = decode_frame(&frame);
                    if cancel_requested {
                        let f = TaskFailure::new(
                            FailureKind::Canceled,
                            "canceled while running; its worker stopped",
                        );
                        st.finalize(&id, TaskState::Canceled, Some(f), None);
                        report.failed += 1;
                        continue;
                    }
                    match decoded {
                        Err(e) => {
                            let reason = format!("undecodable message: {e}");
                            st.dead.push_front(encode_dead_letter(now, &reason, &frame));
                            st.finalize(
                                &id,
                                TaskState::Failed,
                                Some(TaskFailure::new(FailureKind::Undecodable, reason)),
                                None,
                            );
                            report.dead_lettered += 1;
                        }
                        Ok((_, env)) if env.on_worker_lost == OnWorkerLost::Fail => {
                            let f = TaskFailure::new(
                                FailureKind::WorkerLost,
                                "Worker has gone missing: the worker running this task stopped heartbeating.",
                            );
                            st.finalize(&id, TaskState::Failed, Some(f), None);
                            report.failed += 1;
                        }
                        Ok(_) => {
                            let kills = {
                                let k = st.kills.entry(id.clone()).or_insert(0);
                                *k += 1;
                                *k
                            };
                            if kills > max_kills {
                                let reason = format!("task killed its worker {kills} times");
                                st.dead.push_front(encode_dead_letter(now, &reason, &frame));
                                st.finalize(
                                    &id,
                                    TaskState::Failed,
                                    Some(TaskFailure::new(FailureKind::Poison, reason)),
                                    None,
                                );
                                report.dead_lettered += 1;
                            } else {
                                requeue_frame(&mut st, &id, frame);
                                report.requeued += 1;
                            }
                        }
                    }
                }
                st.workers.remove(&w);
                report.workers.push(w);
            }
        }
        self.inner.done.notify_waiters();
        self.inner.work.notify_waiters();
        Ok(report)
    }

    async fn cancel_requested(&self, ids: &[TaskId]) -> Result<Vec<TaskId>> {
        let mut st = self.lock();
        Ok(ids
            .iter()
            .filter(|id| {
                st.record_mut(id.as_str()).is_some_and(|s| {
                    s.record.cancel_requested || s.record.state == TaskState::Canceled
                })
            })
            .cloned()
            .collect())
    }

    async fn control_events(&self) -> Result<broadcast::Receiver<ControlEvent>> {
        Ok(self.inner.control.subscribe())
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        Ok(self
            .lock()
            .workers
            .values()
            .map(|(_, info)| info.clone())
            .collect())
    }

    async fn held_by(&self, worker: &WorkerId) -> Result<Vec<String>> {
        Ok(self
            .lock()
            .inflight
            .get(worker)
            .map(|h| h.keys().cloned().collect())
            .unwrap_or_default())
    }

    async fn queue_depths(&self) -> Result<Vec<QueueDepth>> {
        let st = self.lock();
        let mut names: Vec<&String> = st.queues.keys().collect();
        for (q, _, _) in st.delayed.values() {
            if !names.contains(&q) {
                names.push(q);
            }
        }
        names.sort();
        Ok(names
            .into_iter()
            .map(|q| {
                let lists = st.queues.get(q);
                let len = |p: usize| lists.map(|l| l[p].len() as u64).unwrap_or(0);
                QueueDepth {
                    queue: q.clone(),
                    ready: [len(0), len(1), len(2)],
                    delayed: st.delayed.values().filter(|(dq, _, _)| dq == q).count() as u64,
                }
            })
            .collect())
    }

    async fn backlog(&self) -> Result<Backlog> {
        let st = self.lock();
        Ok(Backlog {
            queued: st
                .queues
                .values()
                .flat_map(|lists| lists.iter())
                .map(|l| l.len() as u64)
                .sum(),
            delayed: st.delayed.len() as u64,
            waiting: st.res.waiting.len() as u64,
            held: st.inflight.values().map(|h| h.len() as u64).sum(),
        })
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        Ok(self
            .lock()
            .dead
            .iter()
            .take(limit)
            .map(|e| decode_dead_letter(e))
            .collect())
    }

    async fn requeue_dead_letters(&self, limit: usize) -> Result<usize> {
        let mut moved = 0;
        let mut st = self.lock();
        let mut keep = VecDeque::new();
        while moved < limit {
            let Some(entry) = st.dead.pop_back() else {
                break;
            };
            let letter = decode_dead_letter(&entry);
            match decode_frame(&letter.frame) {
                Ok((id, env)) => {
                    st.kills.remove(id.as_str());
                    if let Some(s) = st.record_mut(id.as_str()) {
                        s.record.state = TaskState::Pending;
                        s.expires_at = None;
                    }
                    Self::queue_frame(&mut st, &env.queue, env.priority, letter.frame, false);
                    moved += 1;
                }
                Err(_) => keep.push_front(entry),
            }
        }
        st.dead.extend(keep);
        drop(st);
        self.inner.work.notify_waiters();
        Ok(moved)
    }

    async fn purge_queue(&self, queue: &str) -> Result<usize> {
        let frames: Vec<Vec<u8>> = {
            let mut st = self.lock();
            let mut frames: Vec<Vec<u8>> = st
                .queues
                .remove(queue)
                .map(|lists| lists.into_iter().flatten().collect())
                .unwrap_or_default();
            let keys: Vec<(u64, u64)> = st
                .delayed
                .iter()
                .filter(|(_, (q, _, _))| q == queue)
                .map(|(k, _)| *k)
                .collect();
            for k in keys {
                if let Some((_, _, f)) = st.delayed.remove(&k) {
                    frames.push(f);
                }
            }
            frames
        };
        for frame in &frames {
            if let Some(id) = frame_id_lossy(frame).and_then(|s| TaskId::new(s).ok()) {
                self.cancel(&id).await?;
                self.lock().canceled.remove(id.as_str());
            }
        }
        Ok(frames.len())
    }

    async fn acquire_rate(
        &self,
        task: &str,
        limit: &RateLimit,
        now_ms: u64,
    ) -> Result<RateDecision> {
        let window = now_ms / limit.window_ms();
        let mut st = self.lock();
        let entry = st.rates.entry(task.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        Ok(rate_decision(limit, now_ms, entry.1))
    }

    async fn group_report(&self, r: &GroupReport) -> Result<GroupStatus> {
        let mut st = self.lock();
        let sent = st.record_mut(r.callback_id.as_str()).is_some();
        let (outputs, failed) = st.groups.entry(r.group_id.clone()).or_default();
        match &r.outcome {
            MemberOutcome::Failed(reason) => {
                if failed.is_none() && !outputs.contains_key(&r.index) {
                    *failed = Some(GroupFailure {
                        index: r.index,
                        reason: reason.clone(),
                    });
                }
                return Ok(match failed {
                    Some(f) => GroupStatus::Failed(f.clone()),
                    None => GroupStatus::Pending {
                        done: outputs.len() as u32,
                    },
                });
            }
            MemberOutcome::Succeeded(output) => {
                if let Some(f) = failed {
                    return Ok(GroupStatus::Failed(f.clone()));
                }
                outputs.entry(r.index).or_insert_with(|| output.clone());
            }
        }
        let done = outputs.len() as u32;
        Ok(if done < r.size {
            GroupStatus::Pending { done }
        } else if sent {
            GroupStatus::CallbackSent
        } else {
            GroupStatus::Complete(outputs.values().cloned().collect())
        })
    }

    async fn group_state(&self, group_id: &str) -> Result<GroupState> {
        Ok(match self.lock().groups.get(group_id) {
            Some((outputs, failed)) => GroupState {
                succeeded: outputs.len() as u32,
                failed: failed.clone(),
            },
            None => GroupState::default(),
        })
    }
}

/// Records that `s` started on `worker` (if it had not ended); returns
/// whether its cancellation was requested (the worker stops it).
fn mark_started(st: &mut State, worker: &WorkerId, s: &Started) -> bool {
    let id = s.id.as_str();
    let Some(stored) = st.record_mut(id) else {
        return false;
    };
    let rec = &mut stored.record;
    if matches!(
        rec.state,
        TaskState::Pending | TaskState::Retrying | TaskState::Waiting
    ) {
        rec.state = TaskState::Started;
        rec.started_ms = Some(s.started_ms);
        rec.attempt = s.attempt;
        rec.worker = Some(worker.clone());
    }
    let cancel = rec.state == TaskState::Canceled || rec.cancel_requested;
    if cancel {
        st.canceled.remove(id);
    }
    cancel
}

/// Puts an in-flight frame back at the front of its queue.
fn requeue_frame(st: &mut State, id: &str, frame: Vec<u8>) {
    match decode_frame(&frame) {
        Ok((_, env)) => {
            if let Some(s) = st.record_mut(id)
                && s.record.state == TaskState::Started
            {
                s.record.state = TaskState::Pending;
            }
            MemoryBroker::queue_frame(st, &env.queue, env.priority, frame, true);
        }
        Err(e) => {
            st.dead.push_front(encode_dead_letter(
                now_ms(),
                &format!("undecodable message: {e}"),
                &frame,
            ));
        }
    }
}
