//! When schedules fire: cron expressions, fixed intervals and ISO 8601
//! repeating intervals, and the catch-up rule for missed occurrences.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::iso8601::{IsoDuration, parse_repeat};
use crate::error::{Error, Result};
use crate::time::millis;

/// When a schedule fires.
///
/// ```
/// use std::time::Duration;
/// use taskq::beat::When;
///
/// // cron (UTC), with seconds: every day at 03:00:00; five fields (no
/// // seconds) are accepted too.
/// let nightly = When::cron("0 0 3 * * *").unwrap();
/// let hourly = When::cron("15 * * * *").unwrap(); // minute 15 of every hour
/// // every ten minutes, counted from the schedule's creation
/// let often = When::every(Duration::from_secs(600)).unwrap();
/// // ISO 8601 repeating interval: 5 times, six hours apart, from 1 Jan 2026
/// let five = When::iso8601("R5/2026-01-01T00:00:00Z/PT6H").unwrap();
/// assert_eq!(five.to_string(), "R5/2026-01-01T00:00:00Z/PT6H");
/// # let _ = (nightly, hourly, often);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum When {
    /// A cron expression in the syntax of the `cron` crate, evaluated in
    /// UTC: `sec min hour day-of-month month day-of-week [year]`, or the five
    /// classic fields (seconds then default to 0), or `@daily` and friends.
    /// Note that the `cron` crate numbers days of the week 1 (Sunday) to 7;
    /// names (`Mon-Fri`) avoid the confusion.
    Cron(String),
    /// A fixed interval, the first occurrence one interval after the
    /// schedule is created (or enabled again).
    Every(Duration),
    /// An ISO 8601 repeating interval (`R5/2026-01-01T00:00:00Z/PT6H`); see
    /// [`iso8601`](super::iso8601) for the accepted forms. Without a start,
    /// it starts when the schedule is created (or enabled again).
    Iso8601(String),
}

impl When {
    /// A cron schedule (checked now).
    ///
    /// # Errors
    /// [`Error::InvalidSchedule`] if the expression does not parse.
    pub fn cron(expr: impl Into<String>) -> Result<Self> {
        let expr = expr.into();
        parse_cron(&expr)?;
        Ok(When::Cron(expr))
    }

    /// A fixed interval (whole milliseconds, at least 1 ms).
    ///
    /// # Errors
    /// [`Error::InvalidSchedule`] for an interval under 1 ms.
    pub fn every(interval: Duration) -> Result<Self> {
        if millis(interval) == 0 {
            return Err(Error::InvalidSchedule {
                spec: format!("{interval:?}"),
                reason: "the interval must be at least 1 ms".into(),
            });
        }
        Ok(When::Every(Duration::from_millis(millis(interval))))
    }

    /// An ISO 8601 repeating interval (checked now).
    ///
    /// # Errors
    /// [`Error::InvalidSchedule`] saying what is wrong.
    pub fn iso8601(spec: impl Into<String>) -> Result<Self> {
        let spec = spec.into();
        parse_repeat(&spec)?;
        Ok(When::Iso8601(spec))
    }

    /// The stored form: `cron:<expr>`, `every:<ms>` or `iso:<spec>`.
    pub(crate) fn encode(&self) -> String {
        match self {
            When::Cron(e) => format!("cron:{e}"),
            When::Every(d) => format!("every:{}", millis(*d)),
            When::Iso8601(s) => format!("iso:{s}"),
        }
    }

    /// Parses the stored form.
    pub(crate) fn decode(text: &str) -> Result<Self> {
        let bad = || Error::InvalidSchedule {
            spec: text.to_owned(),
            reason: "unknown stored schedule format".into(),
        };
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        match kind {
            "cron" => When::cron(rest),
            "every" => When::every(Duration::from_millis(rest.parse().map_err(|_| bad())?)),
            "iso" => When::iso8601(rest),
            _ => Err(bad()),
        }
    }

    /// The occurrence rule, with `anchor_ms` as the start of schedules that
    /// count from their creation.
    pub(crate) fn timing(&self, anchor_ms: u64) -> Result<Timing> {
        Ok(match self {
            When::Cron(e) => Timing::Cron(Box::new(parse_cron(e)?)),
            When::Every(d) => Timing::Grid {
                start_ms: anchor_ms.saturating_add(millis(*d)),
                period: Period::Fixed(millis(*d).max(1)),
                limit: None,
            },
            When::Iso8601(s) => {
                let r = parse_repeat(s)?;
                let start_ms = match r.start {
                    Some(dt) => dt.timestamp_millis().max(0) as u64,
                    None => anchor_ms,
                };
                let period = if r.period.months == 0 {
                    Period::Fixed((r.period.days * 86_400 + r.period.seconds) * 1000)
                } else {
                    Period::Calendar(r.period)
                };
                Timing::Grid {
                    start_ms,
                    period,
                    limit: r.repetitions,
                }
            }
        })
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Cron(e) => write!(f, "cron {e}"),
            When::Every(d) => write!(f, "every {}", human(*d)),
            When::Iso8601(s) => f.write_str(s),
        }
    }
}

impl FromStr for When {
    type Err = Error;

    /// Parses `cron <expr>`, `every <n>ms|s|m|h|d` or an ISO 8601
    /// repeating interval (anything else).
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(expr) = s.strip_prefix("cron ") {
            return When::cron(expr.trim());
        }
        if let Some(d) = s.strip_prefix("every ") {
            let d = d.trim();
            let split = d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len());
            let (n, unit) = d.split_at(split);
            let n: u64 = n.parse().map_err(|_| Error::InvalidSchedule {
                spec: s.to_owned(),
                reason: "expected e.g. \"every 30s\"".into(),
            })?;
            let ms = match unit.trim() {
                "ms" => 1,
                "s" | "" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => {
                    return Err(Error::InvalidSchedule {
                        spec: s.to_owned(),
                        reason: "the unit must be ms, s, m, h or d".into(),
                    });
                }
            };
            return When::every(Duration::from_millis(n.saturating_mul(ms)));
        }
        When::iso8601(s)
    }
}

fn human(d: Duration) -> String {
    let ms = millis(d);
    match ms {
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

fn parse_cron(expr: &str) -> Result<cron::Schedule> {
    let trimmed = expr.trim();
    // The classic five fields lack seconds: fire at second 0.
    let full = if !trimmed.starts_with('@') && trimmed.split_whitespace().count() == 5 {
        format!("0 {trimmed}")
    } else {
        trimmed.to_owned()
    };
    cron::Schedule::from_str(&full).map_err(|e| Error::InvalidSchedule {
        spec: expr.to_owned(),
        reason: e.to_string(),
    })
}

/// The time between grid occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    /// Exactly this many milliseconds.
    Fixed(u64),
    /// Calendar arithmetic (years or months involved).
    Calendar(IsoDuration),
}

/// A compiled occurrence rule.
#[derive(Debug, Clone)]
pub(crate) enum Timing {
    Cron(Box<cron::Schedule>),
    /// Occurrences `start + k × period` for `k = 0, 1, ...` (below `limit`).
    Grid {
        start_ms: u64,
        period: Period,
        limit: Option<u32>,
    },
}

/// The next occurrence and how many remain from it on (for bounded
/// schedules: it included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Occurrence {
    pub(crate) at_ms: u64,
    pub(crate) remaining: Option<u32>,
}

fn to_dt(ms: u64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(i64::try_from(ms).ok()?).single()
}

impl Timing {
    /// The first occurrence strictly after `t_ms`, if any.
    pub(crate) fn after(&self, t_ms: u64) -> Option<Occurrence> {
        match self {
            Timing::Cron(s) => {
                let next = s.after(&to_dt(t_ms)?).next()?;
                Some(Occurrence {
                    at_ms: u64::try_from(next.timestamp_millis()).ok()?,
                    remaining: None,
                })
            }
            Timing::Grid {
                start_ms,
                period,
                limit,
            } => {
                let k = match period {
                    Period::Fixed(p) => {
                        if t_ms < *start_ms {
                            0
                        } else {
                            (t_ms - start_ms) / p + 1
                        }
                    }
                    Period::Calendar(d) => calendar_index_after(*start_ms, d, t_ms)?,
                };
                let at_ms = match period {
                    Period::Fixed(p) => start_ms.checked_add(k.checked_mul(*p)?)?,
                    Period::Calendar(d) => {
                        u64::try_from(d.nth_after(to_dt(*start_ms)?, k)?.timestamp_millis()).ok()?
                    }
                };
                let remaining = match limit {
                    Some(n) => {
                        Some(u32::try_from(u64::from(*n).checked_sub(k)?).ok()?).filter(|&r| r > 0)
                    }
                    None => None,
                };
                if limit.is_some() && remaining.is_none() {
                    return None;
                }
                Some(Occurrence { at_ms, remaining })
            }
        }
    }

    /// The first occurrence at or after `t_ms` (a fresh start).
    pub(crate) fn from(&self, t_ms: u64) -> Option<Occurrence> {
        self.after(t_ms.saturating_sub(1))
    }
}

/// The smallest `k` with `start + k × d > t`, on the calendar.
fn calendar_index_after(start_ms: u64, d: &IsoDuration, t_ms: u64) -> Option<u64> {
    if t_ms < start_ms {
        return Some(0);
    }
    let start = to_dt(start_ms)?;
    let at =
        |k: u64| -> Option<u64> { u64::try_from(d.nth_after(start, k)?.timestamp_millis()).ok() };
    let mut k = ((t_ms - start_ms) as f64 / d.approx_ms()).floor().max(0.0) as u64;
    while k > 0 && at(k)? > t_ms {
        k -= 1;
    }
    while at(k)? <= t_ms {
        k += 1;
    }
    Some(k)
}

/// What a beat does with an occurrence that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FirePlan {
    /// The run after this one, if any.
    pub(crate) next: Option<Occurrence>,
    /// Whether occurrences were skipped (coalesced into this run).
    pub(crate) coalesced: bool,
}

/// The catch-up rule. The occurrence due at `due_ms` fires now (`now_ms`).
/// If it is no later than `grace` behind, the next run is the occurrence
/// after it, so a beat that is merely slow never skips one. If it is later
/// than that (all beats were down), it fires once for everything missed and
/// the next run is the first occurrence after `now_ms`.
pub(crate) fn plan(timing: &Timing, due_ms: u64, now_ms: u64, grace: Duration) -> FirePlan {
    let late = now_ms.saturating_sub(due_ms) > millis(grace);
    let next = timing.after(due_ms);
    match next {
        Some(n) if late && n.at_ms <= now_ms => FirePlan {
            next: timing.after(now_ms),
            coalesced: true,
        },
        _ => FirePlan {
            next,
            coalesced: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1000;

    fn ms(s: &str) -> u64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis() as u64
    }

    #[test]
    fn fixed_intervals_count_from_the_anchor() {
        let t = When::every(Duration::from_secs(10))
            .unwrap()
            .timing(1_000_000)
            .unwrap();
        assert_eq!(t.from(1_000_000).unwrap().at_ms, 1_010_000);
        assert_eq!(t.after(1_010_000).unwrap().at_ms, 1_020_000);
        assert_eq!(t.after(1_015_500).unwrap().at_ms, 1_020_000);
        assert_eq!(t.after(1_010_000).unwrap().remaining, None);
    }

    #[test]
    fn cron_with_and_without_seconds() {
        let t = When::cron("*/15 * * * * *").unwrap().timing(0).unwrap();
        let base = ms("2026-01-01T00:00:00Z");
        assert_eq!(t.after(base).unwrap().at_ms, base + 15 * S);
        assert_eq!(t.after(base + 15 * S).unwrap().at_ms, base + 30 * S);
        assert_eq!(
            t.from(base).unwrap().at_ms,
            base,
            "a fresh start may fire at once"
        );
        let t = When::cron("30 3 * * *").unwrap().timing(0).unwrap();
        assert_eq!(t.after(base).unwrap().at_ms, ms("2026-01-01T03:30:00Z"));
        assert!(When::cron("not cron").is_err());
        assert!(When::cron("61 * * * * *").is_err());
    }

    #[test]
    fn bounded_iso_schedules_end() {
        let t = When::iso8601("R3/2026-01-01T00:00:00Z/PT6H")
            .unwrap()
            .timing(0)
            .unwrap();
        let start = ms("2026-01-01T00:00:00Z");
        let first = t.from(start - 5 * S).unwrap();
        assert_eq!((first.at_ms, first.remaining), (start, Some(3)));
        let second = t.after(start).unwrap();
        assert_eq!(
            (second.at_ms, second.remaining),
            (start + 6 * 3600 * S, Some(2))
        );
        let third = t.after(second.at_ms).unwrap();
        assert_eq!(third.remaining, Some(1));
        assert_eq!(t.after(third.at_ms), None, "R3 has three occurrences");
        // Created after it ended: never fires.
        assert_eq!(t.from(ms("2026-02-01T00:00:00Z")), None);
        // Created in the middle: the occurrences left.
        let mid = t.from(start + 7 * 3600 * S).unwrap();
        assert_eq!((mid.at_ms, mid.remaining), (start + 12 * 3600 * S, Some(1)));
    }

    #[test]
    fn iso_without_start_counts_from_the_anchor_and_calendar_units_work() {
        let t = When::iso8601("R/PT1S").unwrap().timing(5_000).unwrap();
        assert_eq!(t.from(5_000).unwrap().at_ms, 5_000);
        assert_eq!(t.after(5_000).unwrap().at_ms, 6_000);
        let t = When::iso8601("R/2026-01-31T08:00:00Z/P1M")
            .unwrap()
            .timing(0)
            .unwrap();
        assert_eq!(
            t.after(ms("2026-02-01T00:00:00Z")).unwrap().at_ms,
            ms("2026-02-28T08:00:00Z")
        );
        assert_eq!(
            t.after(ms("2026-02-28T08:00:00Z")).unwrap().at_ms,
            ms("2026-03-31T08:00:00Z")
        );
        assert_eq!(
            t.after(ms("2031-06-15T00:00:00Z")).unwrap().at_ms,
            ms("2031-06-30T08:00:00Z")
        );
    }

    #[test]
    fn a_slow_beat_skips_nothing() {
        let t = When::every(Duration::from_secs(1))
            .unwrap()
            .timing(0)
            .unwrap();
        // Due at 10 s, fired 2.5 s late (within the grace): the next run is
        // 11 s, already due, so it fires right after; nothing is skipped.
        let p = plan(&t, 10 * S, 12_500, Duration::from_secs(5));
        assert_eq!(p.next.unwrap().at_ms, 11 * S);
        assert!(!p.coalesced);
    }

    #[test]
    fn missed_occurrences_fire_once_on_catch_up() {
        let t = When::every(Duration::from_secs(1))
            .unwrap()
            .timing(0)
            .unwrap();
        // Due at 10 s, all beats down until 60.4 s: this run stands for all
        // the missed ones and the next is the first after now.
        let p = plan(&t, 10 * S, 60_400, Duration::from_secs(5));
        assert_eq!(p.next.unwrap().at_ms, 61 * S);
        assert!(p.coalesced);
        // A daily cron missed by 3 hours: one run now, the next tomorrow.
        let t = When::cron("0 0 3 * * *").unwrap().timing(0).unwrap();
        let due = ms("2026-01-01T03:00:00Z");
        let p = plan(&t, due, due + 3 * 3600 * S, Duration::from_secs(5));
        assert_eq!(p.next.unwrap().at_ms, ms("2026-01-02T03:00:00Z"));
        assert!(!p.coalesced, "nothing else was missed");
        // A bounded schedule whose later occurrences all passed meanwhile ends.
        let t = When::iso8601("R3/1970-01-01T00:00:10Z/PT1S")
            .unwrap()
            .timing(0)
            .unwrap();
        let p = plan(&t, 10 * S, 100 * S, Duration::from_secs(5));
        assert_eq!(p.next, None);
    }

    #[test]
    fn stored_and_text_forms_round_trip() {
        for w in [
            When::cron("0 0 3 * * *").unwrap(),
            When::every(Duration::from_millis(1500)).unwrap(),
            When::iso8601("R5/2026-01-01T00:00:00Z/PT6H").unwrap(),
        ] {
            assert_eq!(When::decode(&w.encode()).unwrap(), w);
        }
        assert_eq!(
            "every 90s".parse::<When>().unwrap(),
            When::every(Duration::from_secs(90)).unwrap()
        );
        assert_eq!(
            "cron 0 0 3 * * *".parse::<When>().unwrap(),
            When::Cron("0 0 3 * * *".into())
        );
        assert_eq!(
            "R/PT1H".parse::<When>().unwrap(),
            When::Iso8601("R/PT1H".into())
        );
        assert_eq!(
            When::every(Duration::from_secs(7200)).unwrap().to_string(),
            "every 2h"
        );
        assert!(When::every(Duration::ZERO).is_err());
    }
}
