//! Prometheus metrics: a worker with metrics runs tasks against a real
//! redis-server, and the exporter, scraped over 127.0.0.1, shows the counts.
#![cfg(feature = "metrics")]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, spawn};
use taskq::metrics::{self, Metrics, prometheus_client::registry::Registry};
use taskq::worker::Worker;
use taskq::{Client, TaskContext, TaskError, task};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[task(name = "m.ok")]
async fn ok(ms: u64) -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(())
}

#[task(name = "m.bad")]
async fn bad() -> Result<(), TaskError> {
    Err(TaskError::fail("no"))
}

/// Fails its first attempt, succeeds on the retry.
#[task(name = "m.flaky", max_retries = 1, retry_delay = "50ms")]
async fn flaky(ctx: TaskContext) -> Result<(), TaskError> {
    if ctx.attempt() == 1 {
        return Err(TaskError::retry("first attempt fails"));
    }
    Ok(())
}

/// Sends `GET <path>` and returns (status line, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// `name{labels}` → value, for every sample line.
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_histograms_and_gauges_are_exported() {
    let b = common::redis().await;
    let mut registry = Registry::default();
    let m = Metrics::new(&mut registry);
    let exporter = metrics::serve("127.0.0.1:0", Arc::new(registry))
        .await
        .unwrap();
    let w = spawn(
        Worker::builder(b.client())
            .register::<ok>()
            .register::<bad>()
            .register::<flaky>()
            .metrics(&m)
            .metrics_interval(Duration::from_millis(50)),
    );
    let client: Client = b.client();
    let mut sent = client
        .send_batch((0..5).map(|i| ok::call(i * 10)))
        .await
        .unwrap();
    sent.extend(
        client
            .send_batch((0..2).map(|_| bad::call()))
            .await
            .unwrap(),
    );
    sent.extend(client.send_batch([flaky::call()]).await.unwrap());
    for r in &sent {
        let _ = r.wait(Duration::from_secs(20)).await;
    }
    // Three tasks wait in a queue no worker serves.
    client
        .send_batch((0..3).map(|i| ok::call(i).queue("idle")))
        .await
        .unwrap();

    let scrape = || async { samples(&get(exporter.local_addr(), "/metrics").await.1) };
    assert!(
        eventually(Duration::from_secs(10), || async {
            let s = scrape().await;
            s.get(r#"taskq_queue_depth{queue="idle",state="normal"}"#) == Some(&3.0)
                && s.get(r#"taskq_tasks_failed_total{task="m.bad"}"#) == Some(&2.0)
        })
        .await,
        "{:?}",
        scrape().await
    );
    let s = scrape().await;
    let v = |k: &str| s.get(k).copied().unwrap_or_else(|| panic!("no sample {k}"));
    assert_eq!(v(r#"taskq_tasks_started_total{task="m.ok"}"#), 5.0);
    assert_eq!(v(r#"taskq_tasks_succeeded_total{task="m.ok"}"#), 5.0);
    assert_eq!(v(r#"taskq_tasks_started_total{task="m.bad"}"#), 2.0);
    assert_eq!(v(r#"taskq_tasks_failed_total{task="m.bad"}"#), 2.0);
    assert_eq!(v(r#"taskq_tasks_started_total{task="m.flaky"}"#), 2.0);
    assert_eq!(v(r#"taskq_tasks_retried_total{task="m.flaky"}"#), 1.0);
    assert_eq!(v(r#"taskq_tasks_succeeded_total{task="m.flaky"}"#), 1.0);
    assert_eq!(v(r#"taskq_task_run_seconds_count{task="m.ok"}"#), 5.0);
    assert!(
        v(r#"taskq_task_run_seconds_sum{task="m.ok"}"#) >= 0.1,
        "ran 0+10+20+30+40 ms"
    );
    assert_eq!(v(r#"taskq_task_wait_seconds_count{task="m.flaky"}"#), 2.0);
    assert_eq!(v("taskq_tasks_in_flight"), 0.0);
    assert_eq!(
        v(r#"taskq_queue_depth{queue="default",state="normal"}"#),
        0.0
    );

    let (status, _) = get(exporter.local_addr(), "/nope").await;
    assert!(status.contains("404"), "{status}");
    w.shutdown().await;
}
