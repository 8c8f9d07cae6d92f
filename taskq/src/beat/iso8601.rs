//! ISO 8601 repeating intervals, as Pulp 2 used them for schedules:
//! `R5/2026-01-01T00:00:00Z/PT6H` (five occurrences, six hours apart, from
//! the start), `R/2026-01-01T00:00:00Z/P1D` (daily, without end).
//!
//! Accepted forms (`n` repetitions; without `R` or with a bare `R` the
//! repetition is unbounded; without a start, the schedule's creation time is
//! the start):
//!
//! ```text
//! Rn/<start>/<duration>   R/<start>/<duration>   <start>/<duration>
//! Rn/<duration>           R/<duration>           <duration>
//! ```
//!
//! `<start>` is a date-time with an offset (`2026-01-01T00:00:00Z`,
//! `2026-01-01T02:00:00+02:00`, fractions of a second allowed) or a date
//! (`2026-01-01`, midnight UTC). `<duration>` is `PnYnMnWnDTnHnMnS` with
//! integer parts, each optional but at least one present (`P1D`, `PT6H`,
//! `P1Y2M10DT2H30M`, `P2W`). Years and months are calendar units: occurrence
//! `k` is `start + k × duration` computed on the calendar (from the start,
//! so Jan 31 + P1M gives Feb 28, then Mar 31), days are 24 hours (times are
//! UTC).

use chrono::{DateTime, Days, Months, NaiveDate, Utc};

use crate::error::{Error, Result};

/// A parsed `PnYnMnWnDTnHnMnS` duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsoDuration {
    /// Calendar months (years × 12 + months).
    pub months: u32,
    /// Days (weeks × 7 + days).
    pub days: u64,
    /// Seconds (hours × 3600 + minutes × 60 + seconds).
    pub seconds: u64,
}

/// A parsed repeating interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoRepeat {
    /// How many occurrences (`R5` → 5); `None` for no end.
    pub repetitions: Option<u32>,
    /// The first occurrence; `None` to start when the schedule is created.
    pub start: Option<DateTime<Utc>>,
    /// The time between occurrences.
    pub period: IsoDuration,
}

fn bad(spec: &str, reason: impl Into<String>) -> Error {
    Error::InvalidSchedule {
        spec: spec.to_owned(),
        reason: reason.into(),
    }
}

/// Parses a repeating interval (see the module docs for the forms).
///
/// # Errors
/// [`Error::InvalidSchedule`] saying what is wrong.
pub fn parse_repeat(spec: &str) -> Result<IsoRepeat> {
    let text = spec.trim();
    let parts: Vec<&str> = text.split('/').collect();
    let (reps, rest): (Option<&str>, &[&str]) = match parts.first() {
        Some(p) if p.starts_with('R') => (Some(&p[1..]), &parts[1..]),
        _ => (None, &parts[..]),
    };
    let repetitions = match reps {
        None | Some("") => None,
        Some(n) => {
            let n: u32 = n
                .parse()
                .map_err(|_| bad(spec, format!("the repetition count {n:?} is not a number")))?;
            if n == 0 {
                return Err(bad(spec, "R0 would never fire"));
            }
            Some(n)
        }
    };
    let (start, period) = match rest {
        [d] => (None, *d),
        [s, d] => (Some(parse_datetime(spec, s)?), *d),
        [] => return Err(bad(spec, "missing the duration (e.g. PT6H)")),
        _ => return Err(bad(spec, "too many '/'-separated parts")),
    };
    if period.starts_with('P') && period.len() > 1 {
        let period = parse_duration(spec, period)?;
        Ok(IsoRepeat {
            repetitions,
            start,
            period,
        })
    } else if rest.len() == 2 && rest[1].contains('-') {
        Err(bad(
            spec,
            "<start>/<end> intervals are not supported; give a duration (e.g. PT6H) as the last part",
        ))
    } else {
        Err(bad(
            spec,
            format!("{period:?} is not a duration (e.g. P1D or PT6H)"),
        ))
    }
}

/// Parses `PnYnMnWnDTnHnMnS`.
///
/// # Errors
/// [`Error::InvalidSchedule`] (reported against `spec`).
pub fn parse_duration(spec: &str, text: &str) -> Result<IsoDuration> {
    let body = text
        .strip_prefix('P')
        .ok_or_else(|| bad(spec, "a duration starts with 'P'"))?;
    let mut d = IsoDuration::default();
    let mut in_time = false;
    let mut num = String::new();
    let mut seen_any = false;
    // Designators must come in this order; each at most once.
    let date_order = ['Y', 'M', 'W', 'D'];
    let time_order = ['H', 'M', 'S'];
    let mut last: Option<usize> = None;
    for c in body.chars() {
        match c {
            '0'..='9' => num.push(c),
            'T' if !in_time && num.is_empty() => {
                in_time = true;
                last = None;
            }
            '.' | ',' => return Err(bad(spec, "fractional durations are not supported")),
            _ => {
                let order: &[char] = if in_time { &time_order } else { &date_order };
                let pos = order.iter().position(|&o| o == c).ok_or_else(|| {
                    bad(spec, format!("unexpected {c:?} in the duration {text:?}"))
                })?;
                if last.is_some_and(|l| l >= pos) {
                    return Err(bad(
                        spec,
                        format!("{c:?} is repeated or out of order in {text:?}"),
                    ));
                }
                last = Some(pos);
                if num.is_empty() {
                    return Err(bad(spec, format!("missing the number before {c:?}")));
                }
                let n: u64 = num
                    .parse()
                    .map_err(|_| bad(spec, format!("{num} is too large")))?;
                num.clear();
                seen_any = true;
                let overflow = || bad(spec, "the duration is too long");
                let small = |n: u64| u32::try_from(n).map_err(|_| overflow());
                match (in_time, c) {
                    (false, 'Y') => {
                        d.months = small(n)?.checked_mul(12).ok_or_else(overflow)?;
                    }
                    (false, 'M') => {
                        d.months = d.months.checked_add(small(n)?).ok_or_else(overflow)?
                    }
                    (false, 'W') => d.days = n.checked_mul(7).ok_or_else(overflow)?,
                    (false, _) => d.days = d.days.checked_add(n).ok_or_else(overflow)?,
                    (true, 'H') => d.seconds = n.checked_mul(3600).ok_or_else(overflow)?,
                    (true, 'M') => {
                        d.seconds = n
                            .checked_mul(60)
                            .and_then(|m| m.checked_add(d.seconds))
                            .ok_or_else(overflow)?;
                    }
                    (true, _) => d.seconds = d.seconds.checked_add(n).ok_or_else(overflow)?,
                }
            }
        }
    }
    if !num.is_empty() {
        return Err(bad(
            spec,
            format!("{num} lacks a unit (Y, M, W, D, H, M or S)"),
        ));
    }
    if !seen_any {
        return Err(bad(spec, format!("the duration {text:?} has no parts")));
    }
    if d == IsoDuration::default() {
        return Err(bad(spec, "the duration must not be zero"));
    }
    Ok(d)
}

fn parse_datetime(spec: &str, text: &str) -> Result<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(dt) = date.and_hms_opt(0, 0, 0)
    {
        return Ok(dt.and_utc());
    }
    Err(bad(
        spec,
        format!(
            "{text:?} is not a date-time with an offset (e.g. 2026-01-01T00:00:00Z) or a date (2026-01-01)"
        ),
    ))
}

impl IsoDuration {
    /// A rough length in milliseconds (months as 30.44 days), to estimate
    /// occurrence numbers.
    pub(crate) fn approx_ms(&self) -> f64 {
        (f64::from(self.months) * 30.436_875 * 86_400.0
            + self.days as f64 * 86_400.0
            + self.seconds as f64)
            * 1000.0
    }

    /// `start + k × self`, computed on the calendar; `None` past year 262143.
    pub(crate) fn nth_after(&self, start: DateTime<Utc>, k: u64) -> Option<DateTime<Utc>> {
        let months = u32::try_from(u64::from(self.months).checked_mul(k)?).ok()?;
        let dt = start.checked_add_months(Months::new(months))?;
        let dt = dt.checked_add_days(Days::new(self.days.checked_mul(k)?))?;
        let secs = i64::try_from(self.seconds.checked_mul(k)?).ok()?;
        dt.checked_add_signed(chrono::TimeDelta::try_seconds(secs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_forms_pulp_used() {
        let r = parse_repeat("R5/2026-01-01T00:00:00Z/PT6H").unwrap();
        assert_eq!(r.repetitions, Some(5));
        assert_eq!(r.start, Some(dt("2026-01-01T00:00:00Z")));
        assert_eq!(
            r.period,
            IsoDuration {
                months: 0,
                days: 0,
                seconds: 6 * 3600
            }
        );

        let r = parse_repeat("R/2026-01-01T00:00:00Z/P1D").unwrap();
        assert_eq!(r.repetitions, None);
        assert_eq!(r.period.days, 1);

        let r = parse_repeat("2026-03-01T12:30:00+02:00/P1W").unwrap();
        assert_eq!(r.repetitions, None);
        assert_eq!(r.start, Some(dt("2026-03-01T10:30:00Z")));
        assert_eq!(r.period.days, 7);

        let r = parse_repeat("R3/PT1S").unwrap();
        assert_eq!(
            (r.repetitions, r.start, r.period.seconds),
            (Some(3), None, 1)
        );
        assert_eq!(parse_repeat("PT90M").unwrap().period.seconds, 5400);
        assert_eq!(
            parse_repeat("R2/2026-01-01/P1M").unwrap().start,
            Some(dt("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn every_designator() {
        let d = parse_duration("x", "P1Y2M3W4DT5H6M7S").unwrap();
        assert_eq!(d.months, 14);
        assert_eq!(d.days, 25);
        assert_eq!(d.seconds, 5 * 3600 + 6 * 60 + 7);
        // M means months before T and minutes after it.
        assert_eq!(parse_duration("x", "P1M").unwrap().months, 1);
        assert_eq!(parse_duration("x", "PT1M").unwrap().seconds, 60);
        assert_eq!(parse_duration("x", "P0DT10S").unwrap().seconds, 10);
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            ("", "duration"),
            ("R5", "missing the duration"),
            ("R0/PT1H", "never fire"),
            ("Rx/PT1H", "not a number"),
            (
                "R5/2026-01-01T00:00:00Z/2026-02-01T00:00:00Z",
                "not supported",
            ),
            ("R5/yesterday/PT1H", "not a date-time"),
            ("R5/2026-01-01T00:00:00/PT1H", "not a date-time"),
            ("P", "not a duration"),
            ("PT", "no parts"),
            ("P1H", "unexpected"),
            ("PT1D", "unexpected"),
            ("P1D1D", "out of order"),
            ("P1M1Y", "out of order"),
            ("PT1.5S", "fractional"),
            ("P5", "lacks a unit"),
            ("PT0S", "zero"),
            ("a/b/c/d", "too many"),
            ("P99999999999Y", "too"),
        ];
        for (spec, why) in cases {
            match parse_repeat(spec) {
                Err(Error::InvalidSchedule { reason, .. }) => {
                    assert!(
                        reason.contains(why),
                        "{spec:?}: {reason:?} should mention {why:?}"
                    );
                }
                other => panic!("{spec:?} should be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn calendar_arithmetic_counts_from_the_start() {
        let d = parse_duration("x", "P1M").unwrap();
        let start = dt("2026-01-31T08:00:00Z");
        assert_eq!(d.nth_after(start, 1), Some(dt("2026-02-28T08:00:00Z")));
        assert_eq!(d.nth_after(start, 2), Some(dt("2026-03-31T08:00:00Z")));
        let d = parse_duration("x", "P1Y1DT1H").unwrap();
        assert_eq!(
            d.nth_after(dt("2024-02-29T00:00:00Z"), 1),
            Some(dt("2025-03-01T01:00:00Z"))
        );
    }
}
