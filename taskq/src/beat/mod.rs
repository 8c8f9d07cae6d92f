//! Beat: periodic tasks, with schedules stored in Redis.
//!
//! A [`Schedule`] sends a task call [`When`] its timing says: a cron
//! expression, a fixed interval, or an ISO 8601 repeating interval
//! (`R5/2026-01-01T00:00:00Z/PT6H`, as Pulp 2 used). Schedules live in
//! Redis and are created, changed, disabled and deleted at run time from any
//! process through [`Schedules`]. A [`Beat`] fires them; an application
//! embeds it (`Beat::new(schedules, config).run_until(shutdown)`), and any
//! number of beats may run, anywhere. None is special.
//!
//! **Each due occurrence fires exactly once.** Every beat watches the zset of
//! next run times. For a due occurrence, a beat runs one Lua script that
//! compares-and-sets the schedule's next run time (and revision) against the
//! values it read and, in the same atomic step, enqueues the task under an id
//! derived from (schedule name, due time) with deduplication. A beat that
//! loses the race gets "stale" and moves on; a retried script finds its own
//! compare-and-set already done. The derived id is a second line of defence:
//! even a stray re-send of the same occurrence is a duplicate.
//!
//! **Missed occurrences fire once.** A beat that is merely late (a slow
//! machine, a beat just replaced) fires every occurrence, one after the
//! other. If an occurrence is more than [`BeatConfig::misfire_grace`] late
//! (all beats were down), it fires once for everything missed, and the next
//! run is the first occurrence after now.
//!
//! **Outcomes.** Beats follow the final state of the tasks they fired (by
//! reading their records) and keep, per schedule, the last outcome and the
//! number of consecutive failures; at the schedule's
//! [`failure_threshold`](Schedule::failure_threshold) it is disabled.
//!
//! ```no_run
//! # async fn demo() -> taskq::Result<()> {
//! use std::time::Duration;
//! use taskq::beat::{Beat, BeatConfig, Schedule, Schedules, When};
//! use taskq::{task, RedisBroker, TaskError};
//!
//! #[task(name = "repo.sync")]
//! async fn sync(repo: u64) -> Result<(), TaskError> {
//! #   let _ = repo;
//!     Ok(())
//! }
//!
//! let broker = RedisBroker::connect("redis://127.0.0.1:6379/").await?;
//! let schedules = Schedules::new(&broker);
//! schedules
//!     .put(&Schedule::new("sync-7", When::cron("0 0 3 * * *")?, sync::call(7).into_raw()?))
//!     .await?;
//! // In every beat process (run two or three for availability):
//! Beat::new(schedules, BeatConfig::default())
//!     .run_until(taskq::worker::shutdown_signal())
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Beats decide what is due by their own clock: keep hosts synchronised
//! (NTP). A beat whose clock runs ahead fires early by as much.

pub mod iso8601;
mod schedules;
mod timing;

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use schedules::{MAX_NAME_LEN, Schedule, ScheduleEntry, Schedules};
pub use timing::When;

use crate::broker::EnqueueStatus;
use crate::broker::redis::{BeatFire, FireStatus};
use crate::error::Result;
use crate::task::TaskId;
use crate::time::now_ms;
use timing::plan;

/// Settings of a [`Beat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeatConfig {
    /// The longest a beat sleeps before looking at the schedules again, to
    /// notice new or changed ones (default 1 s). It otherwise wakes exactly
    /// when the next occurrence is due.
    pub poll_interval: Duration,
    /// An occurrence fired later than this after its due time counts as
    /// missed: it fires once for all the missed ones, and the schedule
    /// resumes from now (default 5 s). Within it, a late beat fires every
    /// occurrence.
    pub misfire_grace: Duration,
    /// How often a beat checks the outcome of fired tasks (default 1 s).
    pub outcome_interval: Duration,
    /// Most occurrences fired per look (default 100).
    pub batch: usize,
}

impl Default for BeatConfig {
    fn default() -> Self {
        BeatConfig {
            poll_interval: Duration::from_secs(1),
            misfire_grace: Duration::from_secs(5),
            outcome_interval: Duration::from_secs(1),
            batch: 100,
        }
    }
}

/// What one look at the schedules did (see [`Beat::tick`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickReport {
    /// Occurrences this beat fired: (schedule, due time, task id).
    pub fired: Vec<(String, u64, TaskId)>,
    /// Occurrences another beat fired first (or whose schedule changed).
    pub stale: usize,
    /// Outcomes recorded.
    pub outcomes: usize,
    /// Schedules disabled for reaching their failure threshold.
    pub disabled: Vec<String>,
    /// Due schedules that could not be fired (e.g. a definition this
    /// version cannot read); they are retried after `poll_interval`.
    pub errors: usize,
}

/// What [`Beat::fire`] did.
enum Fired {
    /// This beat fired the occurrence, as this task.
    Now(TaskId),
    /// Another beat fired it first, or the schedule changed meanwhile.
    Stale,
    /// The due entry's schedule is gone or disabled (should not happen:
    /// they change together).
    Inconsistent,
}

/// Fires due schedules (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct Beat {
    schedules: Schedules,
    config: BeatConfig,
}

/// The id of the task fired for occurrence `due_ms` of schedule `name`.
pub fn occurrence_id(name: &str, due_ms: u64) -> TaskId {
    // Names are at most MAX_NAME_LEN bytes, so this fits in a task id.
    TaskId::new(format!("beat:{name}:{due_ms}"))
        .unwrap_or_else(|_| TaskId::new(format!("beat:{due_ms}")).expect("a short id"))
}

impl Beat {
    /// A beat firing `schedules` (any number may run at once).
    pub fn new(schedules: Schedules, config: BeatConfig) -> Self {
        Beat { schedules, config }
    }

    /// Runs until `shutdown` completes. Redis errors are logged and retried.
    ///
    /// # Errors
    /// Currently never fails.
    pub async fn run_until<F: Future<Output = ()>>(self, shutdown: F) -> Result<()> {
        tokio::pin!(shutdown);
        let mut last_outcomes = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            let check_outcomes = last_outcomes.elapsed() >= self.config.outcome_interval;
            if check_outcomes {
                last_outcomes = tokio::time::Instant::now();
            }
            let wait = match self.tick_inner(check_outcomes).await {
                Ok(report) => {
                    backoff = Duration::from_millis(100);
                    if report.errors > 0 {
                        // Something due cannot be fired: do not spin on it.
                        self.config.poll_interval
                    } else if report.fired.len() + report.stale >= self.config.batch {
                        Duration::ZERO
                    } else {
                        self.until_next_due().await
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "beat pass failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            let wait = wait.min(self.config.outcome_interval);
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Runs in a background tokio task until the returned token is
    /// canceled.
    pub fn spawn(self) -> (CancellationToken, tokio::task::JoinHandle<Result<()>>) {
        let stop = CancellationToken::new();
        let handle = tokio::spawn(self.run_until(stop.clone().cancelled_owned()));
        (stop, handle)
    }

    /// One look: fires what is due now, then records the outcomes of fired
    /// tasks that have ended.
    ///
    /// # Errors
    /// A Redis error.
    pub async fn tick(&self) -> Result<TickReport> {
        self.tick_inner(true).await
    }

    async fn until_next_due(&self) -> Duration {
        match self.schedules.broker.beat_next_due().await {
            Ok(Some(t)) => Duration::from_millis(t.saturating_sub(now_ms())),
            _ => self.config.poll_interval,
        }
        .min(self.config.poll_interval)
    }

    async fn tick_inner(&self, check_outcomes: bool) -> Result<TickReport> {
        let mut report = TickReport::default();
        let broker = &self.schedules.broker;
        let due = broker.beat_due_now(now_ms(), self.config.batch).await?;
        for (name, due_ms) in due {
            match self.fire(&name, due_ms).await {
                Ok(Fired::Now(id)) => report.fired.push((name, due_ms, id)),
                Ok(Fired::Stale) => report.stale += 1,
                Ok(Fired::Inconsistent) => {
                    tracing::warn!(schedule = %name, "a due schedule is missing or disabled; skipping it");
                    report.errors += 1;
                }
                Err(e) => {
                    tracing::warn!(schedule = %name, error = %e, "firing a schedule failed");
                    report.errors += 1;
                }
            }
        }
        if check_outcomes {
            self.outcomes(&mut report).await?;
        }
        Ok(report)
    }

    /// Fires occurrence `due_ms` of `name`.
    async fn fire(&self, name: &str, due_ms: u64) -> Result<Fired> {
        let broker = &self.schedules.broker;
        let Some(fields) = broker.beat_fields(name).await? else {
            return Ok(Fired::Inconsistent);
        };
        let entry = ScheduleEntry::from_fields(name, &fields)?;
        if !entry.schedule.enabled {
            return Ok(Fired::Inconsistent);
        }
        let anchor = fields
            .get("anchor")
            .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
            .unwrap_or(0);
        let timing = entry.schedule.when.timing(anchor)?;
        let now = now_ms();
        let plan = plan(&timing, due_ms, now, self.config.misfire_grace);
        let id = occurrence_id(name, due_ms);
        let mut call = entry.schedule.task;
        call.options.id = Some(id.clone());
        call.options.eta_ms = None;
        let message = call.into_message()?;
        let status = broker
            .beat_fire(&BeatFire {
                name,
                due_ms,
                rev: entry.revision,
                next_ms: plan.next.map(|o| o.at_ms),
                remaining: match (plan.next, entry.remaining_runs) {
                    (Some(o), _) => o.remaining,
                    (None, Some(_)) => Some(0),
                    (None, None) => None,
                },
                message: &message,
            })
            .await?;
        match status {
            FireStatus::Stale => Ok(Fired::Stale),
            FireStatus::Fired(s) => {
                if plan.coalesced {
                    tracing::info!(schedule = %name, due_ms, late_ms = now.saturating_sub(due_ms), "fired once for missed occurrences");
                }
                if s == EnqueueStatus::Duplicate {
                    tracing::debug!(schedule = %name, task.id = %id, "occurrence was already sent");
                } else {
                    tracing::debug!(schedule = %name, task.id = %id, due_ms, "fired");
                }
                Ok(Fired::Now(id))
            }
        }
    }

    async fn outcomes(&self, report: &mut TickReport) -> Result<()> {
        let broker = &self.schedules.broker;
        let pending = broker.beat_pending(500).await?;
        if pending.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = pending.iter().map(|(id, _)| id.clone()).collect();
        let states = broker.task_states(&ids).await?;
        for ((id, name), state) in pending.into_iter().zip(states) {
            let state = match state.as_deref() {
                Some(s @ ("succeeded" | "failed" | "canceled")) => s,
                Some(_) => continue,
                // Its record expired before any beat looked.
                None => "unknown",
            };
            match broker.beat_outcome(&id, &name, state).await? {
                0 => {}
                1 => report.outcomes += 1,
                _ => {
                    report.outcomes += 1;
                    tracing::warn!(schedule = %name, "schedule disabled: too many consecutive failures");
                    report.disabled.push(name);
                }
            }
        }
        Ok(())
    }
}
