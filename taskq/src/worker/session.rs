//! One registration of a worker process: from registering a fresh worker id
//! to shutdown or to the loss of its lease. A worker that loses its lease
//! (declared dead while partitioned from Redis) drops its tasks and starts a
//! new session under a new id, so outcomes of the old one can never be
//! mistaken for the new one's.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::batcher::{Ack, ack_loop, start_loop};
use super::builder::WorkerConfig;
use super::execute::{Disposition, Limits, dispose, drive};
use super::held::Held;
use super::registry::Registry;
use crate::broker::{
    Broker, ControlEvent, Delivery, HandBack, Liveness, Outcome, OutcomeKind, RateDecision,
    Started, WorkerId, WorkerInfo,
};
use crate::client::Client;
use crate::error::Error;
use crate::result::{FailureKind, TaskFailure};
use crate::task::{CancelReason, RunInfo, TaskContext, TaskId};
use crate::time::now_ms;
use crate::wire::decode_frame;

/// How a session ended.
pub(crate) enum SessionEnd {
    /// Shutdown was requested and completed.
    Shutdown,
    /// The lease was lost; start a new session.
    LeaseLost,
}

/// State shared by a session's loops and running tasks.
pub(crate) struct SessionShared<S> {
    pub(crate) id: WorkerId,
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) lease_lost: CancellationToken,
    /// Fires when the session stops fetching (shutdown): runs of tasks
    /// stop after the task at hand.
    stopping: CancellationToken,
    /// Held tasks not started yet whose cancellation was requested.
    cancel_before_start: Mutex<HashSet<TaskId>>,
    client: Client,
    state: Arc<S>,
    registry: Arc<Registry<S>>,
    config: WorkerConfig,
    running: Mutex<HashMap<TaskId, Arc<RunInfo>>>,
    /// Deliveries received and not yet recorded (see [`Held`]).
    pub(crate) held: Held,
    pub(crate) permits: Semaphore,
    acks: mpsc::UnboundedSender<Ack>,
    starts: mpsc::UnboundedSender<Started>,
    started_ms: u64,
}

impl<S> SessionShared<S> {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Arc<RunInfo>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn queues(&self) -> &[String] {
        &self.config.queues
    }

    /// The longest run of tasks of one resource a finish may hand over.
    pub(crate) fn resource_run(&self) -> usize {
        self.config.resource_run
    }

    pub(crate) fn is_running(&self, id: &TaskId) -> bool {
        self.running().contains_key(id)
    }

    pub(crate) fn cancel_running(&self, id: &TaskId, reason: CancelReason) {
        if let Some(run) = self.running().get(id) {
            run.cancel(reason);
        }
    }

    /// A cancellation request for `id`: stops it if it runs, or keeps it
    /// from starting if this session holds it (a task of a run waiting for
    /// the one before it).
    fn request_cancel(&self, id: &TaskId) {
        let running = self.running().get(id).cloned();
        match running {
            Some(run) => run.cancel(CancelReason::Requested),
            None if self.held.knows(id.as_str()) => {
                self.cancel_before_start
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone());
            }
            None => {}
        }
    }

    /// Whether a cancellation of `id` was requested before it started.
    fn canceled_before_start(&self, id: &TaskId) -> bool {
        self.cancel_before_start
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }

    fn cancel_all(&self, reason: CancelReason) {
        for run in self.running().values() {
            run.cancel(reason);
        }
    }

    fn running_ids(&self) -> Vec<TaskId> {
        self.running().keys().cloned().collect()
    }

    /// Counts an outcome of task type `name` in the metrics (if any) and
    /// queues it for the ack loop.
    fn record(&self, name: &str, outcome: Outcome) {
        self.config.observer.outcome(name, &outcome.kind);
        let _ = self.acks.send(Ack::Outcome(outcome));
    }

    fn info(&self) -> WorkerInfo {
        WorkerInfo {
            id: self.id.clone(),
            host: hostname(),
            pid: std::process::id(),
            queues: self.config.queues.clone(),
            concurrency: self.config.concurrency,
            in_flight: self.running().len(),
            started_ms: self.started_ms,
            heartbeat_ms: now_ms(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Returns a permit to the semaphore when a run ends.
struct PermitGuard<'a>(&'a Semaphore);

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

/// Runs one session until `stop` fires (shutdown) or the lease is lost.
pub(crate) async fn run_session<S: Send + Sync + 'static>(
    client: Client,
    state: Arc<S>,
    registry: Arc<Registry<S>>,
    config: WorkerConfig,
    stop: &CancellationToken,
    hurry: &CancellationToken,
) -> SessionEnd {
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    let (starts_tx, starts_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(SessionShared {
        id: uuid::Uuid::now_v7().to_string(),
        broker: Arc::clone(client.broker()),
        lease_lost: CancellationToken::new(),
        stopping: stop.clone(),
        cancel_before_start: Mutex::new(HashSet::new()),
        client,
        state,
        registry,
        permits: Semaphore::new(config.concurrency),
        config,
        running: Mutex::new(HashMap::new()),
        held: Held::default(),
        acks: acks_tx,
        starts: starts_tx,
        started_ms: now_ms(),
    });

    if !register(&shared, stop).await {
        return SessionEnd::Shutdown;
    }
    tracing::info!(worker.id = %shared.id, queues = ?shared.config.queues, tasks = ?shared.registry.names(), "worker registered");

    let background = CancellationToken::new();
    let closing = CancellationToken::new();
    let heartbeat = tokio::spawn(heartbeat_loop(Arc::clone(&shared), background.clone()));
    let reaper = tokio::spawn(reaper_loop(Arc::clone(&shared), background.clone()));
    let control = tokio::spawn(control_loop(Arc::clone(&shared), background.clone()));
    let sampler = shared
        .config
        .observer
        .enabled()
        .then(|| tokio::spawn(depth_loop(Arc::clone(&shared), background.clone())));
    let tracker = TaskTracker::new();
    let acker = tokio::spawn(ack_loop(
        Arc::clone(&shared),
        acks_rx,
        closing.clone(),
        stop.clone(),
        tracker.clone(),
    ));
    let starter = tokio::spawn(start_loop(Arc::clone(&shared), starts_rx));

    fetch_loop(&shared, stop, &tracker).await;
    tracker.close();

    let end = if shared.lease_lost.is_cancelled() {
        tracing::warn!(worker.id = %shared.id, "lease lost: dropping running tasks");
        shared.cancel_all(CancelReason::LeaseLost);
        tracker.wait().await;
        SessionEnd::LeaseLost
    } else {
        let grace = shared.config.shutdown_grace;
        tracing::info!(worker.id = %shared.id, running = shared.running().len(), ?grace, "stopped fetching; waiting for running tasks");
        let finished = tokio::select! {
            r = tokio::time::timeout(grace, tracker.wait()) => r.is_ok(),
            () = hurry.cancelled() => false,
        };
        if !finished {
            tracing::warn!(
                running = shared.running().len(),
                cold = hurry.is_cancelled(),
                "grace period over or cold shutdown: canceling and handing back the rest"
            );
            shared.cancel_all(CancelReason::Shutdown);
            tracker.wait().await;
        }
        SessionEnd::Shutdown
    };

    closing.cancel();
    let _ = acker.await;
    drop(shared.starts.clone());
    starter.abort();
    background.cancel();
    let _ = tokio::join!(heartbeat, reaper, control);
    if let Some(sampler) = sampler {
        let _ = sampler.await;
    }
    if matches!(end, SessionEnd::Shutdown) {
        if let Err(e) = shared.broker.unregister_worker(&shared.id).await {
            tracing::warn!(error = %e, "could not unregister; the reaper will return anything left");
        } else {
            tracing::info!(worker.id = %shared.id, "worker stopped");
        }
    }
    end
}

/// Registers the worker, retrying while Redis is unreachable.
async fn register<S>(shared: &SessionShared<S>, stop: &CancellationToken) -> bool {
    let mut delay = Duration::from_millis(100);
    loop {
        match shared
            .broker
            .register_worker(&shared.info(), shared.config.lease)
            .await
        {
            Ok(()) => return true,
            Err(e) => tracing::warn!(error = %e, "worker registration failed; retrying"),
        }
        tokio::select! {
            () = stop.cancelled() => return false,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn fetch_loop<S: Send + Sync + 'static>(
    shared: &Arc<SessionShared<S>>,
    stop: &CancellationToken,
    tracker: &TaskTracker,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let permit = tokio::select! {
            p = shared.permits.acquire() => p,
            () = stop.cancelled() => return,
            () = shared.lease_lost.cancelled() => return,
        };
        let Ok(permit) = permit else { return };
        permit.forget();
        let mut want = 1;
        while want < shared.config.fetch_batch {
            match shared.permits.try_acquire() {
                Ok(p) => {
                    p.forget();
                    want += 1;
                }
                Err(_) => break,
            }
        }
        let fetched = tokio::select! {
            f = shared.broker.fetch(&shared.id, &shared.config.queues, want) => f,
            () = stop.cancelled() => {
                shared.permits.add_permits(want);
                return;
            }
        };
        match fetched {
            Ok(f) => {
                backoff = Duration::from_millis(50);
                let got = f.deliveries.len();
                let deliveries = shared.held.adopt(f.deliveries);
                shared.permits.add_permits(want - deliveries.len());
                for delivery in deliveries {
                    tracker.spawn(run_delivery(Arc::clone(shared), vec![delivery]));
                }
                if got == 0 {
                    let mut wait = shared.config.poll_interval;
                    if let Some(due) = f.next_due_ms {
                        wait = wait.min(Duration::from_millis(due.saturating_sub(now_ms()).max(1)));
                    }
                    tokio::select! {
                        r = shared.broker.wait_for_work(&shared.config.queues, wait) => {
                            if let Err(e) = r {
                                tracing::debug!(error = %e, "waiting for work failed");
                                tokio::time::sleep(wait.min(backoff)).await;
                            }
                        }
                        () = stop.cancelled() => return,
                        () = shared.lease_lost.cancelled() => return,
                    }
                }
            }
            Err(Error::LeaseLost) => {
                shared.permits.add_permits(want);
                shared.lease_lost.cancel();
                return;
            }
            Err(e) => {
                shared.permits.add_permits(want);
                tracing::warn!(error = %e, "fetch failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// An outcome held back until the next task of its run starts, so that
/// the start is recorded with it: the task type's name and the outcome.
type Pending = (String, Outcome);

/// Runs a run of delivered tasks (usually one; a finish may hand over a
/// waiter with the tasks queued behind it on its resource, see
/// [`crate::broker::FinishReport::deliveries`]) one after the other, and
/// reports what happened. The run holds one permit of `shared.permits`,
/// returned when it ends. A task starts only after the one before it ended
/// for good (success, failure or cancellation release its resources); a
/// retry, a hand-back, shutdown or a lost lease stop the run, and what was
/// not started is handed back (it waits for its turn again).
pub(crate) async fn run_delivery<S: Send + Sync + 'static>(
    shared: Arc<SessionShared<S>>,
    run: Vec<Delivery>,
) {
    let _permit = PermitGuard(&shared.permits);
    let mut rest = run.into_iter();
    let mut pending = None;
    while let Some(delivery) = rest.next() {
        pending = run_one(&shared, delivery, pending.take(), rest.len() > 0).await;
        let go_on = !shared.stopping.is_cancelled() && !shared.lease_lost.is_cancelled();
        if pending.is_none() || !go_on {
            break;
        }
    }
    flush(&shared, pending);
    let back: Vec<HandBack> = rest
        .filter_map(|d| TaskId::new(d.id).ok())
        .map(|id| HandBack { id })
        .collect();
    if !back.is_empty() && !shared.lease_lost.is_cancelled() {
        tracing::debug!(tasks = back.len(), "handing back the rest of a run");
        for h in back {
            let _ = shared.acks.send(Ack::HandBack(h));
        }
    }
}

/// Records an outcome that was held back for the next start.
fn flush<S>(shared: &SessionShared<S>, pending: Option<Pending>) {
    if let Some((name, outcome)) = pending {
        shared.record(&name, outcome);
    }
}

/// Runs one delivered task to its end. `before` is the held-back outcome
/// of the task before it in its run: recorded with this task's start, or
/// first if it does not start. With `more` (tasks of the run follow), an
/// outcome that releases the task's resources is returned instead of
/// recorded, for the next task's start.
async fn run_one<S: Send + Sync + 'static>(
    shared: &Arc<SessionShared<S>>,
    delivery: Delivery,
    mut before: Option<Pending>,
    more: bool,
) -> Option<Pending> {
    let (id, env) = match decode_frame(&delivery.frame) {
        Ok(decoded) => decoded,
        Err(e) => {
            flush(shared, before);
            dead_letter(shared, &delivery.id, &format!("undecodable message: {e}")).await;
            return None;
        }
    };
    let record = |kind: OutcomeKind| Outcome {
        id: id.clone(),
        queue: env.queue.clone(),
        priority: env.priority,
        attempt: env.attempt,
        started_ms: 0,
        result_ttl_s: env.result_ttl_s,
        resources: env.resources.clone(),
        kind,
        next_start: None,
    };
    let canceled = shared.canceled_before_start(&id);
    let expired = env.expires_at_ms.is_some_and(|e| e <= now_ms());
    if canceled || expired {
        flush(shared, before);
        let f = if canceled {
            TaskFailure::new(FailureKind::Canceled, "canceled before it started")
        } else {
            TaskFailure::new(FailureKind::Expired, "expired before it started")
        };
        if env.group.is_some() {
            crate::canvas::on_failure(&shared.client, &env, &f.message).await;
        }
        shared.record(&env.name, record(OutcomeKind::Canceled(f)));
        return None;
    }
    let Some(handler) = shared.registry.get(&env.name).cloned() else {
        flush(shared, before);
        let f = TaskFailure::new(
            FailureKind::Unregistered,
            format!(
                "no task named {:?} is registered on the worker that fetched it",
                env.name
            ),
        );
        tracing::error!(task.id = %id, task.name = %env.name, "unregistered task");
        if env.group.is_some() {
            crate::canvas::on_failure(&shared.client, &env, &f.message).await;
        }
        shared.record(&env.name, record(OutcomeKind::Failed(f)));
        return None;
    };
    // Rate-limited task types count their start in Redis first; tasks
    // without a limit pay nothing here.
    let mut rate_started_ms = None;
    if let Some(limit) = env.rate_limit {
        let now = now_ms();
        let decision = shared.broker.acquire_rate(&env.name, &limit, now).await;
        if !matches!(decision, Ok(RateDecision::Allowed)) {
            flush(shared, before.take());
        }
        match decision {
            Ok(RateDecision::Allowed) => rate_started_ms = Some(now),
            Ok(RateDecision::Delay { until_ms }) => {
                tracing::debug!(task.id = %id, task.name = %env.name, %limit, until_ms, "rate limit reached; deferred");
                shared.record(
                    &env.name,
                    record(OutcomeKind::Defer {
                        due_ms: until_ms,
                        frame: delivery.frame,
                    }),
                );
                return None;
            }
            Err(e) => {
                tracing::warn!(task.id = %id, error = %e, "cannot check the rate limit; deferring for a second");
                shared.record(
                    &env.name,
                    record(OutcomeKind::Defer {
                        due_ms: now + 1000,
                        frame: delivery.frame,
                    }),
                );
                return None;
            }
        }
    }
    let run = Arc::new(RunInfo::new(
        id.clone(),
        env.name.clone(),
        env.attempt,
        env.headers.clone(),
        shared.client.clone(),
    ));
    let ctx = TaskContext::new(Arc::clone(&run), Arc::clone(&shared.state));
    let fut = match handler.call(ctx, &env.args) {
        Ok(fut) => fut,
        Err(e) => {
            flush(shared, before);
            dead_letter(shared, id.as_str(), &format!("undecodable arguments: {e}")).await;
            return None;
        }
    };
    shared.running().insert(id.clone(), Arc::clone(&run));
    if shared.lease_lost.is_cancelled() {
        run.cancel(CancelReason::LeaseLost);
    }
    // A rate-limited start is dated when it was counted, so that the
    // limiter's windows and the recorded start times agree.
    let started_ms = rate_started_ms.unwrap_or_else(now_ms);
    let due_ms = env.eta_ms.unwrap_or(env.created_ms).max(env.created_ms);
    shared.config.observer.started(
        &env.name,
        Duration::from_millis(started_ms.saturating_sub(due_ms)),
    );
    let started = Started {
        id: id.clone(),
        attempt: env.attempt,
        started_ms,
    };
    match before {
        // Recorded in one step with the outcome of the task before it.
        Some((name, mut outcome)) => {
            outcome.next_start = Some(started);
            shared.record(&name, outcome);
        }
        None => {
            let _ = shared.starts.send(started);
        }
    }
    let limits = Limits {
        soft: env.soft_time_limit_ms.map(Duration::from_millis),
        hard: env.time_limit_ms.map(Duration::from_millis),
        cancel_grace: shared.config.cancel_grace,
    };
    let span = tracing::info_span!("taskq.run", task.name = %env.name, task.id = %id, task.attempt = env.attempt);
    let exec = drive(fut, &run, &limits).instrument(span.clone()).await;
    shared.running().remove(&id);
    shared.config.observer.stopped(
        &env.name,
        Duration::from_millis(now_ms().saturating_sub(started_ms)),
    );
    if let super::execute::Exec::Done(Ok(output)) = &exec
        && let Err(e) =
            crate::canvas::on_success(&shared.client, &id, &env, output, &shared.lease_lost).await
    {
        // Follow-up tasks could not be sent: do not record success, so the
        // task runs again (its follow-ups are deduplicated by id): forgotten
        // here, it is handed back by the next reconciliations.
        span.in_scope(|| tracing::error!(error = %e, "could not send follow-up tasks"));
        shared.held.release([id.as_str()]);
        return None;
    }
    match dispose(&id, &env, started_ms, exec, &run) {
        Disposition::Record(outcome) => {
            span.in_scope(|| log_outcome(&outcome, started_ms));
            if env.group.is_some()
                && let OutcomeKind::Failed(f) | OutcomeKind::Canceled(f) = &outcome.kind
            {
                crate::canvas::on_failure(&shared.client, &env, &f.to_string())
                    .instrument(span.clone())
                    .await;
            }
            let releases = matches!(
                outcome.kind,
                OutcomeKind::Succeeded(_) | OutcomeKind::Failed(_) | OutcomeKind::Canceled(_)
            );
            if more && releases {
                return Some((env.name.clone(), outcome));
            }
            shared.record(&env.name, outcome);
        }
        Disposition::HandBack => {
            span.in_scope(|| tracing::info!("handed back to its queue (shutdown)"));
            let _ = shared.acks.send(Ack::HandBack(HandBack { id }));
        }
        Disposition::Abandon => {
            span.in_scope(|| tracing::warn!("abandoned after losing the lease"))
        }
    }
    None
}

fn log_outcome(outcome: &Outcome, started_ms: u64) {
    let ms = now_ms().saturating_sub(started_ms);
    match &outcome.kind {
        OutcomeKind::Succeeded(_) => tracing::debug!(elapsed_ms = ms, "succeeded"),
        OutcomeKind::Failed(f) => tracing::warn!(elapsed_ms = ms, error = %f, "failed"),
        OutcomeKind::Canceled(f) => tracing::info!(elapsed_ms = ms, reason = %f, "canceled"),
        OutcomeKind::Retry {
            failure, due_ms, ..
        } => {
            tracing::info!(elapsed_ms = ms, error = %failure, retry_in_ms = due_ms.saturating_sub(now_ms()), "will retry");
        }
        OutcomeKind::Defer { .. } => {}
    }
}

async fn dead_letter<S>(shared: &SessionShared<S>, id: &str, reason: &str) {
    tracing::error!(task.id = %id, %reason, "moving message to the dead-letter list");
    // Known no more: if this fails, reconciliation hands the frame back and
    // the next fetch dead-letters it again.
    shared.held.release([id]);
    let mut delay = Duration::from_millis(50);
    for _ in 0..20 {
        match shared.broker.dead_letter(&shared.id, id, reason).await {
            Ok(()) => return,
            Err(e) if shared.lease_lost.is_cancelled() => {
                tracing::warn!(error = %e, "cannot dead-letter after losing the lease; the reaper will");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "dead-lettering failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn heartbeat_loop<S>(shared: Arc<SessionShared<S>>, stop: CancellationToken) {
    let lease = shared.config.lease;
    let every = lease / 3;
    let mut last_ok = Instant::now();
    let mut suspects = HashSet::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        match shared.broker.heartbeat(&shared.info(), lease).await {
            Ok(Liveness::Alive) => {
                last_ok = Instant::now();
                reconcile(&shared, &mut suspects).await;
            }
            Ok(Liveness::Reaped) => {
                tracing::error!(worker.id = %shared.id, "this worker was declared dead; dropping its tasks and registering again");
                shared.lease_lost.cancel();
                return;
            }
            Err(e) => {
                // Stop before the lease runs out, so that no other worker can
                // start our tasks while we still run them.
                let left = lease.saturating_sub(last_ok.elapsed());
                tracing::warn!(error = %e, ?left, "heartbeat failed");
                if left < lease / 10 + every.min(Duration::from_millis(200)) {
                    tracing::error!(worker.id = %shared.id, "cannot renew the lease; stopping all tasks");
                    shared.lease_lost.cancel();
                    return;
                }
            }
        }
    }
}

/// Hands back tasks the worker owns in Redis without knowing it (see
/// [`Held`]): unknown on two consecutive heartbeats.
async fn reconcile<S>(shared: &SessionShared<S>, suspects: &mut HashSet<String>) {
    let in_flight = match shared.broker.held_by(&shared.id).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::debug!(error = %e, "reading the in-flight set failed");
            return;
        }
    };
    let strays = shared.held.disown_strays(in_flight, suspects);
    if strays.is_empty() {
        return;
    }
    tracing::warn!(tasks = ?strays, "handing back tasks this worker owned without knowing (a lost reply)");
    let backs: Vec<HandBack> = strays
        .iter()
        .filter_map(|id| TaskId::new(id.as_str()).ok())
        .map(|id| HandBack { id })
        .collect();
    match shared.broker.hand_back(&shared.id, &backs).await {
        Ok(()) => shared.held.handed_back(&strays),
        // Still disowned; the next looks try again.
        Err(e) => tracing::warn!(error = %e, "handing back stray tasks failed"),
    }
}

/// Samples queue depths into the metrics, every `metrics_interval`.
async fn depth_loop<S>(shared: Arc<SessionShared<S>>, stop: CancellationToken) {
    loop {
        match shared.broker.queue_depths().await {
            Ok(depths) => shared.config.observer.queue_depths(&depths),
            Err(e) => tracing::debug!(error = %e, "sampling queue depths failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(shared.config.metrics_interval) => {}
            () = stop.cancelled() => return,
        }
    }
}

async fn reaper_loop<S>(shared: Arc<SessionShared<S>>, stop: CancellationToken) {
    let base = shared.config.lease / 4;
    loop {
        match shared
            .broker
            .reap_dead_workers(shared.config.max_worker_kills)
            .await
        {
            Ok(r) if !r.workers.is_empty() => tracing::warn!(
                dead_workers = ?r.workers,
                requeued = r.requeued,
                failed = r.failed,
                dead_lettered = r.dead_lettered,
                "reclaimed the tasks of dead workers"
            ),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "reaper pass failed"),
        }
        let jitter = base.mul_f64(fastrand::f64() * 0.5);
        tokio::select! {
            () = tokio::time::sleep(base.mul_f64(0.75) + jitter) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Applies cancellation requests to running tasks: from the control channel
/// as they come, and by re-reading the flags periodically and after any
/// interruption of the channel.
async fn control_loop<S>(shared: Arc<SessionShared<S>>, stop: CancellationToken) {
    let mut rx = match shared.broker.control_events().await {
        Ok(rx) => Some(rx),
        Err(e) => {
            tracing::warn!(error = %e, "cannot subscribe to control events; polling instead");
            None
        }
    };
    let resync_every = (shared.config.lease / 3).min(Duration::from_secs(5));
    let mut tick = tokio::time::interval(resync_every);
    loop {
        let resync = tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => true,
            ev = async {
                match rx.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => match ev {
                Ok(ControlEvent::Cancel(id)) => {
                    shared.request_cancel(&id);
                    false
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    rx = None;
                    true
                }
            },
        };
        if resync {
            let ids = shared.running_ids();
            if ids.is_empty() {
                continue;
            }
            if let Ok(cancel) = shared.broker.cancel_requested(&ids).await {
                for id in cancel {
                    shared.cancel_running(&id, CancelReason::Requested);
                }
            }
        }
    }
}
