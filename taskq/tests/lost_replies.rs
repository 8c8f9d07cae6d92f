//! A live worker owns tasks it does not know of when a reply is lost: the
//! fetch (or hand-over) ran in Redis, but its answer never reached the
//! worker. Nothing else would return such a task (the worker renews its
//! lease), so the worker must find and hand it back itself. Also: waiters
//! released together start in the order they were sent.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, Probe, ProbeState, eventually, spawn};
use taskq::worker::Worker;
use taskq::{TaskContext, TaskError, TaskState, task};

/// Holds its slot until the probe's gate opens.
#[task(name = "lost.hold")]
async fn hold(ctx: TaskContext<ProbeState>) -> Result<(), TaskError> {
    ctx.state().gate.notified().await;
    Ok(())
}

/// Counts its runs under `key`.
#[task(name = "lost.count")]
async fn count(ctx: TaskContext<ProbeState>, key: String) -> Result<u32, TaskError> {
    ctx.state().push(format!("start:{key}"));
    Ok(ctx.state().bump(&key))
}

/// A task the worker owns in Redis without having been told (a fetch on its
/// behalf whose reply only the test saw) is handed back and run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_fetched_without_the_workers_knowledge_is_handed_back_and_run_once() {
    let b: Backend = common::redis().await;
    let probe: ProbeState = Arc::new(Probe::default());
    let client = b.client();
    let w = spawn(
        Worker::builder(b.client())
            .state_arc(Arc::new(Arc::clone(&probe)))
            .register::<hold>()
            .register::<count>()
            .concurrency(1)
            .lease(Duration::from_millis(1200)),
    );
    // Occupy the only slot, so that the worker fetches nothing itself.
    let holder = client.send(hold::call()).await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async {
            holder.state().await.unwrap() == TaskState::Started
        })
        .await
    );
    let workers = b.broker.workers().await.unwrap();
    assert_eq!(workers.len(), 1);
    let worker = workers[0].id.clone();

    // Fetch a task into the worker's in-flight set; the reply is "lost".
    let stray = client.send(count::call("stray".into())).await.unwrap();
    let fetched = b
        .broker
        .fetch(&worker, &["default".to_owned()], 1)
        .await
        .unwrap();
    assert_eq!(fetched.deliveries.len(), 1);
    assert_eq!(
        b.broker.held_by(&worker).await.unwrap().len(),
        2,
        "the worker now owns the holder and the stray"
    );
    probe.gate.notify_one();
    holder.wait(Duration::from_secs(10)).await.unwrap();

    // Within a few heartbeats (every lease / 3) the worker finds the stray,
    // hands it back, fetches it and runs it: once.
    assert_eq!(stray.wait(Duration::from_secs(30)).await.unwrap(), 1);
    assert_eq!(probe.count("stray"), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(probe.count("stray"), 1, "ran exactly once");
    assert!(b.broker.held_by(&worker).await.unwrap().is_empty());
    assert_eq!(b.broker.backlog().await.unwrap().total(), 0);
    w.shutdown().await;
}

/// Shared waiters released by one exclusive holder start in dispatch order,
/// with the release handing them over (one worker) or queueing them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_waiters_released_together_start_in_dispatch_order() {
    let b: Backend = common::redis().await;
    let probe: ProbeState = Arc::new(Probe::default());
    let client = b.client();
    // Sent before any worker runs: an exclusive holder, then 6 shared.
    let mut sent = vec![
        client
            .send(count::call("x".into()).exclusive("r"))
            .await
            .unwrap(),
    ];
    for i in 0..6 {
        sent.push(
            client
                .send(count::call(format!("s{i}")).shared("r"))
                .await
                .unwrap(),
        );
    }
    // Concurrency 1: every start after the holder's comes from a queue or a
    // hand-over, one at a time, so the log is the start order.
    let w = spawn(
        Worker::builder(b.client())
            .state_arc(Arc::new(Arc::clone(&probe)))
            .register::<count>()
            .concurrency(1),
    );
    for r in &sent {
        r.wait(Duration::from_secs(20)).await.unwrap();
    }
    let expected: Vec<String> = std::iter::once("start:x".to_owned())
        .chain((0..6).map(|i| format!("start:s{i}")))
        .collect();
    assert_eq!(probe.events(), expected);
    w.shutdown().await;
}
