//! Schedules stored in Redis, and the handle that edits them at run time.

use std::collections::HashMap;

use super::timing::{Timing, When};
use crate::broker::RedisBroker;
use crate::broker::redis::{BeatPut, PutStatus};
use crate::error::{Error, Result};
use crate::result::TaskState;
use crate::task::{RawSignature, TaskId};
use crate::time::now_ms;

/// Longest schedule name, in bytes (task ids derived from it must fit).
pub const MAX_NAME_LEN: usize = 100;

/// A schedule's definition: what to send, and when.
///
/// ```
/// use taskq::beat::{Schedule, When};
/// use taskq::{task, TaskError};
///
/// #[task(name = "repo.sync")]
/// async fn sync(repo: u64) -> Result<(), TaskError> {
/// #   let _ = repo;
///     Ok(())
/// }
///
/// let nightly = Schedule::new("sync-repo-7", When::cron("0 0 3 * * *")?, sync::call(7).into_raw()?)
///     .failure_threshold(5);
/// # Ok::<(), taskq::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Unique name (1 to 100 bytes, no whitespace or control characters).
    pub name: String,
    /// When it fires.
    pub when: When,
    /// The call it sends (its id is set per occurrence; ETA options are
    /// ignored).
    pub task: RawSignature,
    /// Whether it fires (default true).
    pub enabled: bool,
    /// Disable the schedule after this many consecutive failed runs
    /// (`None`, the default: never).
    pub failure_threshold: Option<u32>,
}

impl Schedule {
    /// An enabled schedule without failure threshold.
    pub fn new(name: impl Into<String>, when: When, task: RawSignature) -> Self {
        Schedule {
            name: name.into(),
            when,
            task,
            enabled: true,
            failure_threshold: None,
        }
    }

    /// Disables the schedule after `n` consecutive failed runs.
    pub fn failure_threshold(mut self, n: u32) -> Self {
        self.failure_threshold = Some(n);
        self
    }

    /// Sets whether the schedule fires.
    pub fn enabled(mut self, yes: bool) -> Self {
        self.enabled = yes;
        self
    }
}

/// A stored schedule: its definition and its state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScheduleEntry {
    /// The definition.
    pub schedule: Schedule,
    /// When it fires next (ms since the Unix epoch); `None` when disabled
    /// or when a bounded schedule (`R<n>`) has no occurrence left.
    pub next_run_ms: Option<u64>,
    /// The due time of the occurrence fired last.
    pub last_run_ms: Option<u64>,
    /// When that occurrence was actually fired (enqueued).
    pub last_fired_ms: Option<u64>,
    /// The id of the task fired last.
    pub last_task: Option<TaskId>,
    /// The final state of the latest fired task whose outcome is known
    /// (`None` until one is; an expired record counts as unknown).
    pub last_outcome: Option<TaskState>,
    /// Failed runs since the last success.
    pub consecutive_failures: u32,
    /// Occurrences left, for bounded schedules (`R<n>`).
    pub remaining_runs: Option<u32>,
    /// How many times it fired.
    pub total_runs: u64,
    /// Why it was disabled automatically, if it was.
    pub disabled_reason: Option<String>,
    /// Incremented by every change of the definition.
    pub revision: u64,
}

impl ScheduleEntry {
    pub(crate) fn from_fields(name: &str, f: &HashMap<String, Vec<u8>>) -> Result<Self> {
        let text = |k: &str| f.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
        let num = |k: &str| text(k).and_then(|v| v.parse::<u64>().ok());
        let when = When::decode(&text("when").unwrap_or_default())?;
        let task: RawSignature =
            rmp_serde::from_slice(f.get("task").map_or(&[][..], Vec::as_slice))
                .map_err(|e| Error::decode(format!("task of schedule {name}"), e))?;
        let enabled = text("enabled").as_deref() == Some("1");
        Ok(ScheduleEntry {
            schedule: Schedule {
                name: name.to_owned(),
                when,
                task,
                enabled,
                failure_threshold: num("threshold").map(|n| n as u32),
            },
            next_run_ms: num("next").filter(|_| enabled),
            last_run_ms: num("last_run"),
            last_fired_ms: num("last_fired"),
            last_task: text("last_task").and_then(|t| TaskId::new(t).ok()),
            last_outcome: text("last_outcome").and_then(|s| s.parse().ok()),
            consecutive_failures: num("failures").unwrap_or(0) as u32,
            remaining_runs: num("remaining").map(|n| n as u32),
            total_runs: num("runs").unwrap_or(0),
            disabled_reason: text("disabled_reason"),
            revision: num("rev").unwrap_or(0),
        })
    }
}

/// Creates, changes, lists and deletes schedules, from any process, while
/// beats run. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> taskq::Result<()> {
/// use std::time::Duration;
/// use taskq::beat::{Schedule, Schedules, When};
/// use taskq::{task, RedisBroker, TaskError};
///
/// #[task(name = "repo.sync")]
/// async fn sync(repo: u64) -> Result<(), TaskError> {
/// #   let _ = repo;
///     Ok(())
/// }
///
/// let broker = RedisBroker::connect("redis://127.0.0.1:6379/").await?;
/// let schedules = Schedules::new(&broker);
/// schedules
///     .put(&Schedule::new("sync-7", When::every(Duration::from_secs(3600))?, sync::call(7).into_raw()?))
///     .await?;
/// schedules.set_enabled("sync-7", false).await?;
/// for entry in schedules.list().await? {
///     println!("{} {} next={:?}", entry.schedule.name, entry.schedule.when, entry.next_run_ms);
/// }
/// schedules.delete("sync-7").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Schedules {
    pub(crate) broker: RedisBroker,
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::InvalidSchedule {
            spec: name.to_owned(),
            reason: format!(
                "a schedule name is 1 to {MAX_NAME_LEN} bytes without whitespace or control characters"
            ),
        });
    }
    Ok(())
}

impl Schedules {
    /// The schedules of `broker`'s namespace.
    pub fn new(broker: &RedisBroker) -> Self {
        Schedules {
            broker: broker.clone(),
        }
    }

    /// The broker.
    pub fn broker(&self) -> &RedisBroker {
        &self.broker
    }

    /// Creates the schedule, or changes the one of that name. A change of
    /// timing (or enabling a disabled schedule) starts it afresh from now:
    /// its next run is recomputed and its failure count cleared; other
    /// changes (the task, the threshold) keep its state. Beats pick changes
    /// up at their next look.
    ///
    /// # Errors
    /// [`Error::InvalidSchedule`] for a bad name or timing, or a Redis error.
    pub async fn put(&self, schedule: &Schedule) -> Result<()> {
        self.put_checked(schedule, None).await.map(|_| ())
    }

    async fn put_checked(&self, s: &Schedule, expected_rev: Option<u64>) -> Result<PutStatus> {
        check_name(&s.name)?;
        let now = now_ms();
        let timing = s.when.timing(now)?;
        let fresh = timing.from(now);
        let remaining = match (&timing, fresh) {
            (_, Some(o)) => o.remaining,
            // A bounded schedule with nothing left.
            (Timing::Grid { limit: Some(_), .. }, None) => Some(0),
            _ => None,
        };
        let task = rmp_serde::to_vec_named(&s.task)
            .map_err(|e| Error::encode(format!("task of schedule {}", s.name), e))?;
        self.broker
            .beat_put(&BeatPut {
                name: &s.name,
                when: &s.when.encode(),
                task: &task,
                enabled: s.enabled,
                threshold: s.failure_threshold,
                anchor_ms: now,
                next_ms: fresh.map(|o| o.at_ms),
                remaining,
                expected_rev,
            })
            .await
    }

    /// The schedule `name`, with its state.
    ///
    /// # Errors
    /// A Redis error, or a decode error for a schedule written by an
    /// incompatible version.
    pub async fn get(&self, name: &str) -> Result<Option<ScheduleEntry>> {
        match self.broker.beat_fields(name).await? {
            Some(f) => ScheduleEntry::from_fields(name, &f).map(Some),
            None => Ok(None),
        }
    }

    /// Every schedule, by name.
    ///
    /// # Errors
    /// As [`Schedules::get`].
    pub async fn list(&self) -> Result<Vec<ScheduleEntry>> {
        let names = self.broker.beat_names().await?;
        let fields = self.broker.beat_fields_many(&names).await?;
        names
            .iter()
            .zip(fields)
            .filter(|(_, f)| !f.is_empty())
            .map(|(n, f)| ScheduleEntry::from_fields(n, &f))
            .collect()
    }

    /// Deletes schedule `name`; returns whether it existed. A beat that
    /// read it just before may still fire the occurrence it was firing.
    ///
    /// # Errors
    /// A Redis error.
    pub async fn delete(&self, name: &str) -> Result<bool> {
        self.broker.beat_delete(name).await
    }

    /// Enables or disables schedule `name`; returns false if there is no
    /// such schedule. Enabling starts it afresh from now (see
    /// [`Schedules::put`]).
    ///
    /// # Errors
    /// As [`Schedules::get`].
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        loop {
            let Some(entry) = self.get(name).await? else {
                return Ok(false);
            };
            let mut s = entry.schedule;
            s.enabled = enabled;
            match self.put_checked(&s, Some(entry.revision)).await? {
                PutStatus::Stored(_) => return Ok(true),
                // Changed meanwhile: read it again.
                PutStatus::Conflict(_) => continue,
            }
        }
    }
}
