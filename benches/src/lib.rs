//! Helpers shared by the benchmark programs in `src/bin/`: statistics,
//! process memory, and running this binary again as a child process.

use std::time::Duration;

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The nearest-rank percentile `p` (0..=100) of `samples`.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut v = samples.to_vec();
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

/// A field of `/proc/<pid>/status` in MiB (`VmRSS`, `VmHWM`, ...).
pub fn proc_status_mb(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The machine, for the record: CPU count, kernel, Redis version.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let redis = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpus} CPUs, Linux {}, {redis}", kernel.trim())
}

/// Waits until `broker` holds no unfinished task (its
/// [`backlog`](taskq::broker::Broker::backlog) is empty) and returns the
/// processing rate: tasks finished between the first poll that saw progress
/// and the poll that saw none left, divided by that time, so that worker
/// start-up is not counted (as ../shared/bench measures Celery). Polls every
/// 5 ms with one pipelined read, which costs Redis next to nothing.
pub async fn drain_rate(broker: &impl taskq::broker::Broker) -> f64 {
    let left = || async {
        broker
            .backlog()
            .await
            .map(|b| b.total())
            .unwrap_or(u64::MAX)
    };
    let start = left().await;
    let mut first: Option<(std::time::Instant, u64)> = None;
    loop {
        let n = left().await;
        let now = std::time::Instant::now();
        if first.is_none() && n < start {
            first = Some((now, n));
        }
        if n == 0 {
            let (t0, n0) = first.unwrap_or((now, 0));
            return n0 as f64 / (now - t0).as_secs_f64().max(1e-6);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
