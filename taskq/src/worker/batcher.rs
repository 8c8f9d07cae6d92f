//! Background loops that batch what running tasks report: outcomes and
//! hand-backs (one `finish` script call per batch) and start marks.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::session::SessionShared;
use crate::broker::{HandBack, Outcome, Started};
use crate::task::CancelReason;

/// Largest batch per script call.
const BATCH: usize = 500;

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
pub(crate) async fn ack_loop<S>(
    shared: Arc<SessionShared<S>>,
    mut rx: mpsc::UnboundedReceiver<Ack>,
    closing: CancellationToken,
) {
    loop {
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
        if !outcomes.is_empty() {
            let mut delay = Duration::from_millis(50);
            loop {
                match shared
                    .broker
                    .finish(&shared.id, shared.queues(), &outcomes)
                    .await
                {
                    Ok(report) => {
                        for id in &report.fenced {
                            tracing::warn!(task.id = %id, "outcome ignored: the task was handed to another worker");
                        }
                        break;
                    }
                    Err(e) if shared.lease_lost.is_cancelled() => {
                        tracing::warn!(error = %e, "dropping outcomes after losing the lease");
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
                    Ok(()) => break,
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
