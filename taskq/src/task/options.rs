//! Per-task options: queue, priority, retries, time limits, expiry, resources.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How urgently a task should run. Workers always take every queued task of
/// a higher priority before one of a lower priority (within the queues they
/// serve); tasks of one priority run in the order they were sent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Runs before everything else.
    High,
    /// The default.
    #[default]
    Normal,
    /// Runs when nothing more urgent waits.
    Low,
}

impl Priority {
    /// All levels, most urgent first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

    /// 0 for high, 1 for normal, 2 for low: the position in [`Priority::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }

    /// The inverse of [`Priority::index`]; out-of-range values are `Low`.
    pub const fn from_index(i: usize) -> Priority {
        match i {
            0 => Priority::High,
            1 => Priority::Normal,
            _ => Priority::Low,
        }
    }
}

/// When and how often a failed task is tried again.
///
/// The delay before retry `n` (1-based) is `base * 2^(n-1)`, capped at
/// `max_delay`; with jitter it is drawn uniformly from `[d/2, d]` so that many
/// failing tasks do not retry in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// How many times a task is retried after its first attempt (0: never).
    pub max_retries: u32,
    /// The delay before the first retry.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// Whether to randomise each delay (recommended).
    pub jitter: bool,
}

impl RetryPolicy {
    /// No retries; 1 s base, 10 min cap, jitter on.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_retries: 0,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(600),
        jitter: true,
    };

    /// The delay before retry number `retry` (1 for the first retry).
    pub fn delay_for(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(32);
        let raw = self.base_delay.saturating_mul(1u32 << exp.min(31));
        let capped = raw.min(self.max_delay);
        if self.jitter && !capped.is_zero() {
            let half = capped / 2;
            let extra = fastrand::u64(0..=half.as_millis().max(1) as u64);
            half + Duration::from_millis(extra)
        } else {
            capped
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What happens to a running task whose worker dies (SIGKILL, lost host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnWorkerLost {
    /// Put it back at the front of its queue (at-least-once; the default).
    /// A task that keeps killing its workers goes to the dead-letter list.
    #[default]
    Requeue,
    /// Record it as failed with the reason "worker lost".
    Fail,
}

/// How a task holds a resource (see [`Resource`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceMode {
    /// Nobody else may hold the resource at the same time.
    Exclusive,
    /// Other shared holders may run at the same time; exclusive ones may not.
    Shared,
}

/// A named thing a task reserves while it runs, e.g. `repo:42`.
///
/// Tasks whose resources conflict never run at the same time anywhere in the
/// cluster, and tasks on one resource start in the order they were sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resource {
    /// The resource's name (any text without newlines).
    pub name: String,
    /// Exclusive or shared.
    pub mode: ResourceMode,
}

impl Resource {
    /// An exclusive reservation of `name`.
    pub fn exclusive(name: impl Into<String>) -> Self {
        Resource {
            name: name.into(),
            mode: ResourceMode::Exclusive,
        }
    }

    /// A shared reservation of `name`.
    pub fn shared(name: impl Into<String>) -> Self {
        Resource {
            name: name.into(),
            mode: ResourceMode::Shared,
        }
    }
}

/// How often tasks of one type may start, cluster-wide: at most `count`
/// starts per window of `per` (`#[task(rate_limit = "100/s")]`).
///
/// Windows are fixed and aligned to the Unix epoch: the window of a start at
/// time `t` (ms since the epoch) is `floor(t / per)`. All workers share one
/// counter per task name in Redis, so the limit holds across processes and
/// hosts (as far as their clocks agree). A worker that finds the window full
/// does not run the task and does not count an attempt: it puts the task
/// back as a delayed task due when a later window opens.
///
/// Fixed windows are cheap (one small hash per task type, O(1) per start)
/// but, like every fixed-window limiter, they allow up to twice the limit
/// within one `per` that straddles a window boundary. Tasks without a rate
/// limit cost nothing extra.
///
/// ```
/// use taskq::{task, RateLimit, TaskError};
///
/// #[task(name = "mail.send", rate_limit = "100/m")]
/// async fn send_mail(to: String) -> Result<(), TaskError> {
/// #   let _ = to;
///     Ok(())
/// }
///
/// use taskq::Task;
/// assert_eq!(<send_mail as Task>::OPTIONS.rate_limit, Some(RateLimit::per_minute(100)));
/// assert_eq!("100/m".parse::<RateLimit>().unwrap(), RateLimit::per_minute(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateLimit {
    /// Starts allowed per window (at least 1).
    pub count: u32,
    /// The window length (at least 1 ms).
    pub per: Duration,
}

impl RateLimit {
    /// At most `count` starts per `per`.
    pub const fn new(count: u32, per: Duration) -> Self {
        RateLimit { count, per }
    }

    /// At most `count` starts per second.
    pub const fn per_second(count: u32) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// At most `count` starts per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self::new(count, Duration::from_secs(60))
    }

    /// At most `count` starts per hour.
    pub const fn per_hour(count: u32) -> Self {
        Self::new(count, Duration::from_secs(3600))
    }

    /// The window length in milliseconds (at least 1).
    pub fn window_ms(&self) -> u64 {
        crate::time::millis(self.per).max(1)
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.per.as_millis() {
            1000 => write!(f, "{}/s", self.count),
            60_000 => write!(f, "{}/m", self.count),
            3_600_000 => write!(f, "{}/h", self.count),
            ms => write!(f, "{}/{ms}ms", self.count),
        }
    }
}

impl std::str::FromStr for RateLimit {
    type Err = crate::Error;

    /// Parses `"100/s"`, `"30/m"` or `"1000/h"`.
    fn from_str(s: &str) -> crate::Result<Self> {
        let bad = |reason: &str| crate::Error::InvalidRateLimit {
            spec: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (count, unit) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("expected <count>/<unit>, e.g. \"100/s\""))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| bad("the count must be a positive integer"))?;
        if count == 0 {
            return Err(bad("the count must be at least 1"));
        }
        match unit.trim() {
            "s" => Ok(Self::per_second(count)),
            "m" => Ok(Self::per_minute(count)),
            "h" => Ok(Self::per_hour(count)),
            _ => Err(bad("the unit must be s, m or h")),
        }
    }
}

/// The defaults a task type declares (`#[task(queue = "..", ...)]`); each
/// send may override them through [`Signature`](crate::Signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskOptions {
    /// Queue the task is sent to.
    pub queue: &'static str,
    /// Priority within the queue.
    pub priority: Priority,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// After this long the task's cancellation token fires (it may stop
    /// gracefully); `None` for no limit.
    pub soft_time_limit: Option<Duration>,
    /// After this long the task's future is dropped and the task fails;
    /// `None` for no limit.
    pub time_limit: Option<Duration>,
    /// A task not started within this long of being sent is discarded
    /// (recorded as canceled, reason "expired").
    pub expires: Option<Duration>,
    /// How long the result stays readable after the task ends.
    pub result_ttl: Duration,
    /// What to do when the worker running the task dies.
    pub on_worker_lost: OnWorkerLost,
    /// A cluster-wide limit on how often tasks of this type start.
    pub rate_limit: Option<RateLimit>,
}

impl TaskOptions {
    /// Queue `default`, normal priority, no retries, no limits, results kept one day.
    pub const DEFAULT: TaskOptions = TaskOptions {
        queue: "default",
        priority: Priority::Normal,
        retry: RetryPolicy::DEFAULT,
        soft_time_limit: None,
        time_limit: None,
        expires: None,
        result_ttl: Duration::from_secs(24 * 3600),
        on_worker_lost: OnWorkerLost::Requeue,
        rate_limit: None,
    };

    /// Same as [`TaskOptions::DEFAULT`].
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Sets the queue.
    pub const fn queue(mut self, queue: &'static str) -> Self {
        self.queue = queue;
        self
    }

    /// Sets the priority.
    pub const fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets how many retries follow a failed attempt.
    pub const fn max_retries(mut self, n: u32) -> Self {
        self.retry.max_retries = n;
        self
    }

    /// Sets the first retry delay.
    pub const fn retry_delay(mut self, base: Duration) -> Self {
        self.retry.base_delay = base;
        self
    }

    /// Sets the longest retry delay.
    pub const fn retry_delay_max(mut self, max: Duration) -> Self {
        self.retry.max_delay = max;
        self
    }

    /// Turns retry jitter on or off.
    pub const fn retry_jitter(mut self, jitter: bool) -> Self {
        self.retry.jitter = jitter;
        self
    }

    /// Sets the soft time limit.
    pub const fn soft_time_limit(mut self, limit: Duration) -> Self {
        self.soft_time_limit = Some(limit);
        self
    }

    /// Sets the hard time limit.
    pub const fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// Sets the expiry (relative to sending).
    pub const fn expires(mut self, after: Duration) -> Self {
        self.expires = Some(after);
        self
    }

    /// Sets how long results are kept.
    pub const fn result_ttl(mut self, ttl: Duration) -> Self {
        self.result_ttl = ttl;
        self
    }

    /// Sets what happens when the task's worker dies.
    pub const fn on_worker_lost(mut self, what: OnWorkerLost) -> Self {
        self.on_worker_lost = what;
        self
    }

    /// Limits how often tasks of this type start, across all workers.
    pub const fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            jitter: false,
        };
        assert_eq!(p.delay_for(1), Duration::from_millis(100));
        assert_eq!(p.delay_for(2), Duration::from_millis(200));
        assert_eq!(p.delay_for(3), Duration::from_millis(400));
        assert_eq!(p.delay_for(5), Duration::from_secs(1));
        assert_eq!(p.delay_for(40), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_half_and_full_delay() {
        let p = RetryPolicy {
            jitter: true,
            base_delay: Duration::from_millis(400),
            ..RetryPolicy::DEFAULT
        };
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = p.delay_for(1);
            assert!(
                d >= Duration::from_millis(200) && d <= Duration::from_millis(401),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter should spread delays");
    }

    #[test]
    fn rate_limits_parse_and_print() {
        let r: RateLimit = "100/s".parse().unwrap();
        assert_eq!(r, RateLimit::per_second(100));
        assert_eq!(r.to_string(), "100/s");
        assert_eq!(
            " 5 / m ".parse::<RateLimit>().unwrap(),
            RateLimit::per_minute(5)
        );
        assert_eq!("7/h".parse::<RateLimit>().unwrap().window_ms(), 3_600_000);
        for bad in ["", "10", "0/s", "-1/s", "10/d", "x/s"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn const_builder_sets_fields() {
        const O: TaskOptions = TaskOptions::new()
            .queue("sync")
            .priority(Priority::High)
            .max_retries(4)
            .time_limit(Duration::from_secs(9));
        assert_eq!(O.queue, "sync");
        assert_eq!(O.priority, Priority::High);
        assert_eq!(O.retry.max_retries, 4);
        assert_eq!(O.time_limit, Some(Duration::from_secs(9)));
    }
}
