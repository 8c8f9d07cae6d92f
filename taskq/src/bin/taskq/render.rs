//! Plain-text tables, times and values for the CLI's human output.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A time as RFC 3339 UTC with milliseconds.
pub(crate) fn time(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// How long ago `ms` was, shortly: `850ms`, `12.3s`, `5m`, `2h`.
pub(crate) fn age(ms: u64) -> String {
    let d = now_ms().saturating_sub(ms);
    match d {
        d if d < 1000 => format!("{d}ms"),
        d if d < 60_000 => format!("{:.1}s", d as f64 / 1000.0),
        d if d < 3_600_000 => format!("{}m", d / 60_000),
        d => format!("{}h", d / 3_600_000),
    }
}

/// A MessagePack value as JSON; bytes that are not valid MessagePack (or
/// hold binary data JSON cannot show) as a hex string.
pub(crate) fn bytes_value(bytes: &[u8]) -> Value {
    rmp_serde::from_slice::<Value>(bytes).unwrap_or_else(|_| {
        Value::String(format!(
            "0x{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ))
    })
}

/// A table with left-aligned columns separated by two spaces.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new<const N: usize>(header: [&str; N]) -> Self {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(cells.into());
    }

    pub(crate) fn render(&self) -> String {
        if self.rows.is_empty() {
            return "(none)\n".to_owned();
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let last = row.len().saturating_sub(1);
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i == last {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<w$}  "));
                }
            }
            out.push('\n');
        }
        out
    }
}
