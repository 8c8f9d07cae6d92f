//! Running one task: decode, call the handler under its time limits, catch
//! panics, and turn what happened into an [`Outcome`].

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::broker::{Outcome, OutcomeKind};
use crate::result::{FailureKind, TaskFailure};
use crate::task::{CancelReason, RunInfo, TaskError, TaskId};
use crate::time::now_ms;
use crate::wire::{Envelope, encode_frame};

/// How a run ended, before retries are decided.
pub(crate) enum Exec {
    /// The future completed.
    Done(Result<Vec<u8>, TaskError>),
    /// The future panicked.
    Panicked(String),
    /// The hard time limit passed; the future was dropped.
    HardLimit(Duration),
    /// The task was canceled and did not stop within the grace period; the
    /// future was dropped.
    Dropped,
}

/// Limits for one run.
pub(crate) struct Limits {
    pub(crate) soft: Option<Duration>,
    pub(crate) hard: Option<Duration>,
    pub(crate) cancel_grace: Duration,
}

/// Drives `fut` to an [`Exec`], enforcing `limits` and watching `run`'s
/// cancellation token.
pub(crate) async fn drive(
    fut: BoxFuture<'static, Result<Vec<u8>, TaskError>>,
    run: &RunInfo,
    limits: &Limits,
) -> Exec {
    let fut = AssertUnwindSafe(fut).catch_unwind();
    tokio::pin!(fut);
    let hard = sleep_opt(limits.hard);
    let soft = sleep_opt(limits.soft);
    tokio::pin!(hard, soft);
    let mut soft_fired = false;
    let grace = tokio::time::sleep(Duration::from_secs(100 * 365 * 86_400));
    tokio::pin!(grace);
    let mut grace_armed = false;
    loop {
        tokio::select! {
            biased;
            r = &mut fut => {
                return match r {
                    Ok(result) => Exec::Done(result),
                    Err(panic) => Exec::Panicked(panic_message(panic.as_ref())),
                };
            }
            () = &mut hard => return Exec::HardLimit(limits.hard.unwrap_or_default()),
            () = &mut soft, if !soft_fired => {
                soft_fired = true;
                run.cancel(CancelReason::SoftTimeLimit);
            }
            () = run.stop.cancelled(), if !grace_armed => {
                // A worker that lost its lease drops its tasks at once: another
                // worker may already be running them.
                let wait = if run.reason() == Some(CancelReason::LeaseLost) {
                    Duration::ZERO
                } else {
                    limits.cancel_grace
                };
                grace.as_mut().reset(tokio::time::Instant::now() + wait);
                grace_armed = true;
            }
            () = &mut grace, if grace_armed => {
                return Exec::Dropped;
            }
        }
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// What the worker does with a finished run.
pub(crate) enum Disposition {
    /// Record this outcome.
    Record(Outcome),
    /// Give the task back to its queue unrecorded (shutdown).
    HandBack,
    /// Forget it: the lease was lost and another worker owns it now.
    Abandon,
}

/// Turns a run's end into what to record, applying the retry policy.
pub(crate) fn dispose(
    id: &TaskId,
    env: &Envelope,
    started_ms: u64,
    exec: Exec,
    run: &Arc<RunInfo>,
) -> Disposition {
    let reason = run.reason();
    let outcome = |kind| {
        Disposition::Record(Outcome {
            id: id.clone(),
            queue: env.queue.clone(),
            priority: env.priority,
            attempt: env.attempt,
            started_ms,
            result_ttl_s: env.result_ttl_s,
            resources: env.resources.clone(),
            kind,
            next_start: None,
        })
    };
    let failed = |kind, msg: String| outcome(OutcomeKind::Failed(TaskFailure::new(kind, msg)));
    match exec {
        Exec::Done(Ok(bytes)) => outcome(OutcomeKind::Succeeded(bytes)),
        Exec::Done(Err(TaskError::Canceled)) | Exec::Dropped => match reason {
            Some(CancelReason::Shutdown) => Disposition::HandBack,
            Some(CancelReason::LeaseLost) => Disposition::Abandon,
            Some(CancelReason::SoftTimeLimit) => failed(
                FailureKind::TimeLimit,
                format!(
                    "soft time limit of {:?} exceeded",
                    Duration::from_millis(env.soft_time_limit_ms.unwrap_or(0))
                ),
            ),
            _ => outcome(OutcomeKind::Canceled(TaskFailure::new(
                FailureKind::Canceled,
                "canceled while running",
            ))),
        },
        Exec::Done(Err(TaskError::Fail(e))) => {
            failed(FailureKind::Error, TaskError::Fail(e).message())
        }
        Exec::Done(Err(err @ TaskError::Retry { .. })) => {
            if reason == Some(CancelReason::LeaseLost) {
                return Disposition::Abandon;
            }
            let message = err.message();
            let retries_done = env.attempt.saturating_sub(1);
            if retries_done >= env.retry.max_retries {
                let msg = if env.retry.max_retries > 0 {
                    format!(
                        "{message} (gave up after {} retries)",
                        env.retry.max_retries
                    )
                } else {
                    message
                };
                return failed(FailureKind::Error, msg);
            }
            let TaskError::Retry { after, .. } = err else {
                unreachable!("matched above")
            };
            let delay = after.unwrap_or_else(|| env.retry.delay_for(env.attempt));
            let due_ms = now_ms() + crate::time::millis(delay);
            let mut next = env.clone();
            next.attempt += 1;
            next.eta_ms = Some(due_ms);
            match encode_frame(id, &next) {
                Ok(frame) => outcome(OutcomeKind::Retry {
                    failure: TaskFailure::new(FailureKind::Error, message),
                    due_ms,
                    frame,
                }),
                Err(e) => failed(
                    FailureKind::Error,
                    format!("{message}; could not schedule a retry: {e}"),
                ),
            }
        }
        Exec::Panicked(msg) => {
            if reason == Some(CancelReason::LeaseLost) {
                return Disposition::Abandon;
            }
            failed(FailureKind::Panic, format!("task panicked: {msg}"))
        }
        Exec::HardLimit(limit) => failed(
            FailureKind::TimeLimit,
            format!("hard time limit of {limit:?} exceeded"),
        ),
    }
}
