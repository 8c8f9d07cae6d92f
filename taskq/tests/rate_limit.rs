//! Global rate limits per task type, against both brokers: several workers
//! share one limiter, no window ever holds more starts than the limit, and a
//! task that is held back neither runs nor loses a retry attempt.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Backend, spawn};
use taskq::worker::Worker;
use taskq::{TaskError, TaskState, task};

/// At most 10 starts per second, cluster-wide; no retries, so a deferral
/// that counted as a failed attempt would fail the task.
#[task(name = "rate.limited", rate_limit = "10/s")]
async fn limited(i: u32) -> Result<u32, TaskError> {
    Ok(i)
}

#[task(name = "rate.free")]
async fn free(i: u32) -> Result<u32, TaskError> {
    Ok(i)
}

async fn no_window_exceeds_the_limit(b: Backend) {
    let worker = || {
        Worker::builder(b.client())
            .register::<limited>()
            .register::<free>()
            .concurrency(16)
    };
    let (w1, w2) = (spawn(worker()), spawn(worker()));
    let client = b.client();
    let sent = client.send_batch((0..30).map(limited::call)).await.unwrap();
    // Unlimited tasks sent after them are not held back behind them.
    let unlimited = client.send_batch((0..5).map(free::call)).await.unwrap();
    for r in &unlimited {
        r.wait(Duration::from_secs(5)).await.unwrap();
    }

    let mut per_window: BTreeMap<u64, u32> = BTreeMap::new();
    for (i, r) in sent.iter().enumerate() {
        assert_eq!(r.wait(Duration::from_secs(60)).await.unwrap(), i as u32);
        let rec = r.record().await.unwrap().unwrap();
        assert_eq!(rec.state, TaskState::Succeeded);
        assert_eq!(rec.attempt, 1, "a deferral is not an attempt: {rec:?}");
        // The limiter's windows: floor(start / 1 s), aligned to the epoch.
        let started = rec.started_ms.expect("start recorded");
        *per_window.entry(started / 1000).or_default() += 1;
    }
    assert!(
        per_window.values().all(|&n| n <= 10),
        "a window held more than 10 starts: {per_window:?}"
    );
    assert_eq!(per_window.values().sum::<u32>(), 30);
    assert!(
        per_window.len() >= 3,
        "30 starts at 10/s need at least three windows: {per_window:?}"
    );
    w1.shutdown().await;
    w2.shutdown().await;
}

both_brokers!(no_window_exceeds_the_limit);
