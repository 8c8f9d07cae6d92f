//! Background loops that batch what running tasks report: outcomes and
//! hand-backs (one `finish` script call per batch) and start marks.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::session::{SessionShared, run_delivery};
use crate::broker::{HandBack, Outcome, Started};
use crate::task::CancelReason;

/// Largest batch per script call.
const BATCH: usize = 500;

/// Most batches of acknowledgements on their way at once.
const IN_FLIGHT: usize = 4;

/// Something a finished run asks the broker to do.
#[derive(Debug)]
pub(crate) enum Ack {
    /// Record this outcome.
    Outcome(Outcome),
    /// Return the task to its queue unrecorded.
    HandBack(HandBack),
}

/// Sends acknowledgements in batches until `closing` fires and the channel
/// is drained. Transient broker errors are retried until they succeed or the
/// lease is lost (then the outcomes are moot: the tasks belong to others).
/// Up to [`IN_FLIGHT`] batches are sent at once, so that tasks finishing
/// while a batch is on its way need not wait for its reply.
///
/// Until `stop` fires, each batch offers the broker the free slots: waiters
/// that the batch's releases unblock come back as deliveries and start at
/// once on `tracker`, without a fetch, each with the tasks queued right
/// behind it on its resource (a run, see [`run_delivery`]): a backlog of
/// tasks on one resource costs a round trip per run, not per task.
/// Deliveries that arrive after `stop` are handed back.
pub(crate) async fn ack_loop<S: Send + Sync + 'static>(
    shared: Arc<SessionShared<S>>,
    mut rx: mpsc::UnboundedReceiver<Ack>,
    closing: CancellationToken,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    let mut sending = JoinSet::new();
    loop {
        while sending.try_join_next().is_some() {}
        if sending.len() >= IN_FLIGHT {
            sending.join_next().await;
            continue;
        }
        let first = tokio::select! {
            m = rx.recv() => m,
            () = closing.cancelled() => rx.try_recv().ok(),
        };
        let Some(first) = first else { break };
        let mut outcomes = Vec::new();
        let mut hand_backs = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(ack) = next {
            match ack {
                Ack::Outcome(o) => outcomes.push(o),
                Ack::HandBack(h) => hand_backs.push(h),
            }
            taken += 1;
            next = if taken < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        sending.spawn(send_batch(
            Arc::clone(&shared),
            outcomes,
            hand_backs,
            stop.clone(),
            tracker.clone(),
        ));
    }
    while sending.join_next().await.is_some() {}
}

/// Records one batch of outcomes, then hands back one batch of tasks.
async fn send_batch<S: Send + Sync + 'static>(
    shared: Arc<SessionShared<S>>,
    outcomes: Vec<Outcome>,
    mut hand_backs: Vec<HandBack>,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    if !outcomes.is_empty() {
        // Free slots, held for the waiters this batch may unblock.
        let mut room = 0;
        while room < outcomes.len() && !stop.is_cancelled() && !shared.lease_lost.is_cancelled() {
            match shared.permits.try_acquire() {
                Ok(p) => {
                    p.forget();
                    room += 1;
                }
                Err(_) => break,
            }
        }
        let mut delay = Duration::from_millis(50);
        loop {
            match shared
                .broker
                .finish(
                    &shared.id,
                    shared.queues(),
                    room,
                    shared.resource_run(),
                    &outcomes,
                )
                .await
            {
                Ok(report) => {
                    for id in &report.fenced {
                        tracing::warn!(task.id = %id, "outcome ignored: the task was handed to another worker");
                    }
                    shared.held.release(outcomes.iter().map(|o| o.id.as_str()));
                    for id in &report.cancel {
                        shared.cancel_running(id, CancelReason::Requested);
                    }
                    let handed = shared.held.adopt_runs(report.deliveries);
                    shared.permits.add_permits(room - handed.len());
                    if stop.is_cancelled() || shared.lease_lost.is_cancelled() {
                        shared.permits.add_permits(handed.len());
                        if !shared.lease_lost.is_cancelled() {
                            hand_backs.extend(handed.into_iter().flatten().filter_map(|d| {
                                crate::task::TaskId::new(d.id)
                                    .ok()
                                    .map(|id| HandBack { id })
                            }));
                        }
                    } else {
                        for run in handed {
                            tracker.spawn(run_delivery(Arc::clone(&shared), run));
                        }
                    }
                    break;
                }
                Err(e) if shared.lease_lost.is_cancelled() => {
                    tracing::warn!(error = %e, "dropping outcomes after losing the lease");
                    shared.permits.add_permits(room);
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "recording outcomes failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
    if !hand_backs.is_empty() {
        let mut delay = Duration::from_millis(50);
        loop {
            match shared.broker.hand_back(&shared.id, &hand_backs).await {
                Ok(()) => {
                    shared
                        .held
                        .release(hand_backs.iter().map(|h| h.id.as_str()));
                    break;
                }
                Err(e) if shared.lease_lost.is_cancelled() => {
                    tracing::warn!(error = %e, "cannot hand tasks back; the reaper will");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "handing tasks back failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

/// Marks tasks started in batches, and cancels those whose cancellation was
/// requested before they started. Best effort: the outcome records the start
/// time anyway.
pub(crate) async fn start_loop<S>(
    shared: Arc<SessionShared<S>>,
    mut rx: mpsc::UnboundedReceiver<Started>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        // Tasks that already ended need no start mark.
        batch.retain(|s| shared.is_running(&s.id));
        if batch.is_empty() {
            continue;
        }
        match shared.broker.mark_started(&shared.id, &batch).await {
            Ok(cancel) => {
                for id in cancel {
                    shared.cancel_running(&id, CancelReason::Requested);
                }
            }
            Err(e) => tracing::debug!(error = %e, "marking tasks started failed"),
        }
    }
}
