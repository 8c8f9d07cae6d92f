//! Worker behaviour, run against both brokers: the in-memory one and Redis on
//! a private redis-server.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, Probe, ProbeState, eventually, spawn};
use taskq::worker::Worker;
use taskq::{
    CancelStatus, Error, FailureKind, Priority, TaskContext, TaskError, TaskId, TaskState, task,
};

#[task(name = "test.add")]
async fn add(x: i64, y: i64) -> Result<i64, TaskError> {
    Ok(x + y)
}

/// Fails with a retryable error until its `key` was tried `succeed_on` times.
#[task(
    name = "test.flaky",
    max_retries = 3,
    retry_delay = "200ms",
    retry_jitter = false
)]
async fn flaky(
    ctx: TaskContext<ProbeState>,
    key: String,
    succeed_on: u32,
) -> Result<u32, TaskError> {
    let n = ctx.state().bump(&key);
    ctx.state().push(format!("{key}:{n}:{}", now_ms()));
    if n < succeed_on {
        Err(std::io::Error::other(format!("attempt {n} failed")))?;
    }
    Ok(n)
}

#[task(name = "test.refuse", max_retries = 5)]
async fn refuse(ctx: TaskContext<ProbeState>) -> Result<(), TaskError> {
    ctx.state().bump("refuse");
    Err(TaskError::fail("invalid input, retrying will not help"))
}

#[task(name = "test.boom")]
async fn boom() -> Result<(), TaskError> {
    panic!("kaboom")
}

/// Sleeps, then records that it finished; a dropped future never records.
#[task(name = "test.sleep")]
async fn sleep_then_mark(
    ctx: TaskContext<ProbeState>,
    key: String,
    ms: u64,
) -> Result<(), TaskError> {
    ctx.state().push(format!("start:{key}"));
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ctx.state().push(format!("end:{key}"));
    Ok(())
}

/// Runs until its cancellation token fires, then stops cleanly.
#[task(name = "test.cooperative")]
async fn cooperative(ctx: TaskContext<ProbeState>, key: String) -> Result<(), TaskError> {
    ctx.state().push(format!("start:{key}"));
    ctx.cancelled().await;
    ctx.state()
        .push(format!("stopped:{key}:{:?}", ctx.cancel_reason()));
    Err(TaskError::Canceled)
}

/// Ignores cancellation entirely.
#[task(name = "test.stubborn")]
async fn stubborn(ctx: TaskContext<ProbeState>, key: String) -> Result<(), TaskError> {
    ctx.state().push(format!("start:{key}"));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    ctx.state().push(format!("end:{key}"));
    Ok(())
}

#[task(name = "test.soft", soft_time_limit = "200ms")]
async fn soft_limited(ctx: TaskContext<ProbeState>) -> Result<(), TaskError> {
    ctx.cancelled().await;
    ctx.state().push(format!("soft:{:?}", ctx.cancel_reason()));
    Err(TaskError::Canceled)
}

#[task(name = "test.hard", time_limit = "200ms")]
async fn hard_limited(ctx: TaskContext<ProbeState>) -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    ctx.state().push("hard:finished");
    Ok(())
}

#[task(name = "test.record")]
async fn record_order(ctx: TaskContext<ProbeState>, label: String) -> Result<(), TaskError> {
    ctx.state().push(label);
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Step {
    done: u32,
    total: u32,
}

#[task(name = "test.progress")]
async fn with_progress(ctx: TaskContext<ProbeState>) -> Result<(), TaskError> {
    ctx.progress(&Step { done: 3, total: 10 }).await?;
    ctx.state().push("reported");
    ctx.state().gate.notified().await;
    Ok(())
}

#[task(name = "test.context")]
async fn who_am_i(ctx: TaskContext) -> Result<(String, u32, Option<String>), TaskError> {
    Ok((
        ctx.id().to_string(),
        ctx.attempt(),
        ctx.header("tenant").map(str::to_owned),
    ))
}

/// Counts itself in the probe's running tasks (and their peak) for `ms`.
#[task(name = "test.occupy")]
async fn occupy(ctx: TaskContext<ProbeState>, ms: u64) -> Result<(), TaskError> {
    ctx.state().enter();
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ctx.state().exit();
    Ok(())
}

#[task(name = "test.never_registered")]
async fn never_registered() -> Result<(), TaskError> {
    Ok(())
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn probe() -> ProbeState {
    Arc::new(Probe::default())
}

fn worker(b: &Backend, probe: &ProbeState) -> taskq::worker::WorkerBuilder<ProbeState> {
    Worker::builder(b.client())
        .state_arc(Arc::new(Arc::clone(probe)))
        .register::<add>()
        .register::<flaky>()
        .register::<refuse>()
        .register::<boom>()
        .register::<sleep_then_mark>()
        .register::<cooperative>()
        .register::<stubborn>()
        .register::<soft_limited>()
        .register::<hard_limited>()
        .register::<record_order>()
        .register::<with_progress>()
        .register::<who_am_i>()
        .register::<occupy>()
        .lease(Duration::from_secs(3))
        .cancel_grace(Duration::from_millis(300))
}

const WAIT: Duration = Duration::from_secs(20);

async fn round_trip(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let client = b.client();
    let r = client.send(add::call(2, 40)).await.unwrap();
    assert_eq!(r.wait(WAIT).await.unwrap(), 42);
    let rec = r.record().await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::Succeeded);
    assert_eq!(rec.name, "test.add");
    assert_eq!(rec.attempt, 1);
    assert!(rec.started_ms.is_some() && rec.finished_ms.is_some());
    w.shutdown().await;
}

async fn many_tasks_all_complete(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p).concurrency(16));
    let client = b.client();
    let results = client
        .send_batch((0..500).map(|i| add::call(i, 1)))
        .await
        .unwrap();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.wait(WAIT).await.unwrap(), i as i64 + 1);
    }
    w.shutdown().await;
}

async fn retries_with_backoff_then_success(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b.client().send(flaky::call("k".into(), 3)).await.unwrap();
    assert_eq!(r.wait(WAIT).await.unwrap(), 3);
    let rec = r.record().await.unwrap().unwrap();
    assert_eq!(rec.attempt, 3, "succeeded on the third attempt");
    assert_eq!(p.count("k"), 3);
    // Each retry waited at least its backoff: 200 ms, then 400 ms.
    let times: Vec<u128> = p
        .events()
        .iter()
        .map(|e| e.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        times[1] - times[0] >= 190,
        "first retry came too early: {times:?}"
    );
    assert!(
        times[2] - times[1] >= 390,
        "second retry came too early: {times:?}"
    );
    w.shutdown().await;
}

async fn retries_are_bounded(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b
        .client()
        .send(flaky::call("never".into(), 100))
        .await
        .unwrap();
    match r.wait(WAIT).await {
        Err(Error::TaskFailed(f)) => {
            assert_eq!(f.kind, FailureKind::Error);
            assert!(
                f.message.contains("gave up after 3 retries"),
                "{}",
                f.message
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(p.count("never"), 4, "one run plus three retries");
    w.shutdown().await;
}

async fn permanent_errors_are_not_retried(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b.client().send(refuse::call()).await.unwrap();
    let Err(Error::TaskFailed(f)) = r.wait(WAIT).await else {
        panic!("expected failure")
    };
    assert!(f.message.contains("invalid input"));
    assert_eq!(p.count("refuse"), 1);
    w.shutdown().await;
}

async fn panics_are_failures(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b.client().send(boom::call()).await.unwrap();
    let Err(Error::TaskFailed(f)) = r.wait(WAIT).await else {
        panic!("expected failure")
    };
    assert_eq!(f.kind, FailureKind::Panic);
    assert!(f.message.contains("kaboom"));
    // The worker survives and keeps working.
    assert_eq!(
        b.client()
            .send(add::call(1, 1))
            .await
            .unwrap()
            .wait(WAIT)
            .await
            .unwrap(),
        2
    );
    w.shutdown().await;
}

async fn hard_time_limit_drops_the_task(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b.client().send(hard_limited::call()).await.unwrap();
    let Err(Error::TaskFailed(f)) = r.wait(WAIT).await else {
        panic!("expected failure")
    };
    assert_eq!(f.kind, FailureKind::TimeLimit);
    assert!(!p.events().contains(&"hard:finished".to_owned()));
    w.shutdown().await;
}

async fn soft_time_limit_fires_the_token(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b.client().send(soft_limited::call()).await.unwrap();
    let Err(Error::TaskFailed(f)) = r.wait(WAIT).await else {
        panic!("expected failure")
    };
    assert_eq!(f.kind, FailureKind::TimeLimit);
    assert!(f.message.contains("soft time limit"), "{}", f.message);
    assert_eq!(p.events(), vec!["soft:Some(SoftTimeLimit)".to_owned()]);
    w.shutdown().await;
}

async fn cancel_queued_task_never_runs(b: Backend) {
    let p = probe();
    let client = b.client();
    // No worker yet: the task waits in its queue.
    let r = client
        .send(record_order::call("should-not-run".into()))
        .await
        .unwrap();
    assert_eq!(r.cancel().await.unwrap(), CancelStatus::Canceled);
    assert_eq!(
        r.cancel().await.unwrap(),
        CancelStatus::AlreadyFinished(TaskState::Canceled)
    );
    let w = spawn(worker(&b, &p));
    let after = client
        .send(record_order::call("runs".into()))
        .await
        .unwrap();
    after.wait(WAIT).await.unwrap();
    assert!(matches!(r.wait(WAIT).await, Err(Error::TaskCanceled(_))));
    assert_eq!(p.events(), vec!["runs".to_owned()]);
    w.shutdown().await;
}

async fn cancel_delayed_task_never_runs(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let client = b.client();
    let r = client
        .send(record_order::call("late".into()).countdown(Duration::from_millis(400)))
        .await
        .unwrap();
    assert_eq!(r.cancel().await.unwrap(), CancelStatus::Canceled);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(p.events().is_empty());
    assert_eq!(r.state().await.unwrap(), TaskState::Canceled);
    w.shutdown().await;
}

async fn cancel_running_cooperative_task(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b
        .client()
        .send(cooperative::call("c".into()))
        .await
        .unwrap();
    let pp = Arc::clone(&p);
    assert!(
        eventually(WAIT, || {
            let pp = Arc::clone(&pp);
            async move { pp.events().contains(&"start:c".to_owned()) }
        })
        .await
    );
    assert!(
        eventually(WAIT, || async {
            r.state().await.unwrap() == TaskState::Started
        })
        .await
    );
    assert_eq!(r.cancel().await.unwrap(), CancelStatus::Canceling);
    let Err(Error::TaskCanceled(f)) = r.wait(WAIT).await else {
        panic!("expected cancellation")
    };
    assert_eq!(f.kind, FailureKind::Canceled);
    assert!(
        p.events().contains(&"stopped:c:Some(Requested)".to_owned()),
        "{:?}",
        p.events()
    );
    w.shutdown().await;
}

async fn cancel_running_stubborn_task_drops_it(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b.client().send(stubborn::call("s".into())).await.unwrap();
    assert!(
        eventually(WAIT, || async {
            r.state().await.unwrap() == TaskState::Started
        })
        .await
    );
    assert_eq!(r.cancel().await.unwrap(), CancelStatus::Canceling);
    assert!(matches!(r.wait(WAIT).await, Err(Error::TaskCanceled(_))));
    assert_eq!(
        p.events(),
        vec!["start:s".to_owned()],
        "the future was dropped, not completed"
    );
    w.shutdown().await;
}

async fn priorities_order_the_queue(b: Backend) {
    let p = probe();
    let client = b.client();
    let mut sent = Vec::new();
    for (label, prio) in [
        ("low", Priority::Low),
        ("normal", Priority::Normal),
        ("high", Priority::High),
    ] {
        for i in 0..3 {
            sent.push(
                client
                    .send(record_order::call(format!("{label}{i}")).priority(prio))
                    .await
                    .unwrap(),
            );
        }
    }
    let w = spawn(worker(&b, &p).concurrency(1));
    for r in &sent {
        r.wait(WAIT).await.unwrap();
    }
    assert_eq!(
        p.events(),
        [
            "high0", "high1", "high2", "normal0", "normal1", "normal2", "low0", "low1", "low2"
        ]
    );
    w.shutdown().await;
}

async fn countdown_delays_the_run(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let sent_at = Instant::now();
    let r = b
        .client()
        .send(record_order::call("delayed".into()).countdown(Duration::from_millis(700)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(r.state().await.unwrap(), TaskState::Pending);
    r.wait(WAIT).await.unwrap();
    assert!(
        sent_at.elapsed() >= Duration::from_millis(690),
        "ran before its countdown"
    );
    w.shutdown().await;
}

async fn progress_is_visible_while_running(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b.client().send(with_progress::call()).await.unwrap();
    let pp = Arc::clone(&p);
    assert!(
        eventually(WAIT, || {
            let pp = Arc::clone(&pp);
            async move { pp.events().contains(&"reported".to_owned()) }
        })
        .await
    );
    let step: Option<Step> = r.progress().await.unwrap();
    assert_eq!(step, Some(Step { done: 3, total: 10 }));
    p.gate.notify_waiters();
    r.wait(WAIT).await.unwrap();
    w.shutdown().await;
}

async fn expired_tasks_are_discarded(b: Backend) {
    let p = probe();
    let client = b.client();
    let r = client
        .send(record_order::call("stale".into()).expires(Duration::from_millis(50)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let w = spawn(worker(&b, &p));
    let Err(Error::TaskCanceled(f)) = r.wait(WAIT).await else {
        panic!("expected cancellation")
    };
    assert_eq!(f.kind, FailureKind::Expired);
    assert!(p.events().is_empty());
    w.shutdown().await;
}

async fn context_carries_id_attempt_and_headers(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let id = TaskId::new("fixed-id-1").unwrap();
    let r = b
        .client()
        .send(who_am_i::call().id(id.clone()).header("tenant", "acme"))
        .await
        .unwrap();
    assert_eq!(
        r.wait(WAIT).await.unwrap(),
        ("fixed-id-1".to_owned(), 1, Some("acme".to_owned()))
    );
    w.shutdown().await;
}

async fn explicit_ids_deduplicate(b: Backend) {
    let client = b.client();
    let id = TaskId::new("once").unwrap();
    let raw = || add::call(1, 2).id(id.clone()).into_raw().unwrap();
    let (_, first) = client.send_raw(raw()).await.unwrap();
    let (_, second) = client.send_raw(raw()).await.unwrap();
    assert_eq!(first, taskq::broker::EnqueueStatus::Queued);
    assert_eq!(second, taskq::broker::EnqueueStatus::Duplicate);
    let depth: u64 = b
        .broker
        .queue_depths()
        .await
        .unwrap()
        .iter()
        .map(|q| q.ready.iter().sum::<u64>())
        .sum();
    assert_eq!(depth, 1);
}

async fn unregistered_tasks_fail(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let r = b.client().send(never_registered::call()).await.unwrap();
    let Err(Error::TaskFailed(f)) = r.wait(WAIT).await else {
        panic!("expected failure")
    };
    assert_eq!(f.kind, FailureKind::Unregistered);
    w.shutdown().await;
}

async fn graceful_shutdown_finishes_running_tasks(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p).shutdown_grace(Duration::from_secs(10)));
    let r = b
        .client()
        .send(sleep_then_mark::call("g".into(), 500))
        .await
        .unwrap();
    assert!(
        eventually(WAIT, || async {
            r.state().await.unwrap() == TaskState::Started
        })
        .await
    );
    w.shutdown().await;
    assert_eq!(r.state().await.unwrap(), TaskState::Succeeded);
    assert_eq!(p.events(), vec!["start:g".to_owned(), "end:g".to_owned()]);
}

async fn shutdown_hands_back_what_outlives_the_grace(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p).shutdown_grace(Duration::from_millis(200)));
    let r = b.client().send(stubborn::call("h".into())).await.unwrap();
    assert!(
        eventually(WAIT, || async {
            r.state().await.unwrap() == TaskState::Started
        })
        .await
    );
    w.shutdown().await;
    assert_eq!(
        r.state().await.unwrap(),
        TaskState::Pending,
        "handed back, not lost"
    );
    assert!(b.broker.workers().await.unwrap().is_empty(), "unregistered");
    // Another worker picks it up.
    let p2 = probe();
    let w2 = spawn(worker(&b, &p2));
    assert!(
        eventually(WAIT, || {
            let p2 = Arc::clone(&p2);
            async move { p2.events().contains(&"start:h".to_owned()) }
        })
        .await
    );
    w2.shutdown().await;
}

async fn worker_registry_lists_live_workers(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p).queues(["default", "other"]).concurrency(7));
    assert!(
        eventually(WAIT, || async {
            !b.broker.workers().await.unwrap().is_empty()
        })
        .await
    );
    let workers = b.broker.workers().await.unwrap();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].queues, vec!["default", "other"]);
    assert_eq!(workers[0].concurrency, 7);
    assert_eq!(workers[0].pid, std::process::id());
    w.shutdown().await;
}

async fn concurrency_limit_is_respected_and_reached(b: Backend) {
    let p = probe();
    // Queued before the worker starts, so that it always has more work than
    // slots.
    let sent = b
        .client()
        .send_batch((0..24).map(|_| occupy::call(100)))
        .await
        .unwrap();
    let w = spawn(worker(&b, &p).concurrency(4));
    for r in &sent {
        r.wait(WAIT).await.unwrap();
    }
    assert_eq!(
        p.peak(),
        4,
        "at most 4 tasks ran at once, and with 24 queued all 4 slots were used"
    );
    w.shutdown().await;
}

async fn one_worker_serves_two_queues(b: Backend) {
    let p = probe();
    let client = b.client();
    let mut sent = Vec::new();
    for queue in ["alpha", "beta"] {
        for i in 0..5 {
            sent.push(
                client
                    .send(record_order::call(format!("{queue}{i}")).queue(queue))
                    .await
                    .unwrap(),
            );
        }
    }
    let unserved = client
        .send(record_order::call("gamma0".into()).queue("gamma"))
        .await
        .unwrap();
    let w = spawn(worker(&b, &p).queues(["alpha", "beta"]));
    for r in &sent {
        r.wait(WAIT).await.unwrap();
        let rec = r.record().await.unwrap().unwrap();
        assert_eq!(rec.state, TaskState::Succeeded);
    }
    let mut ran = p.events();
    ran.sort();
    let mut expected: Vec<String> = ["alpha", "beta"]
        .iter()
        .flat_map(|q| (0..5).map(move |i| format!("{q}{i}")))
        .collect();
    expected.sort();
    assert_eq!(ran, expected, "every task of both queues ran, once");
    assert_eq!(sent[0].record().await.unwrap().unwrap().queue, "alpha");
    assert_eq!(sent[9].record().await.unwrap().unwrap().queue, "beta");
    assert_eq!(
        unserved.state().await.unwrap(),
        TaskState::Pending,
        "a queue the worker does not serve is left alone"
    );
    w.shutdown().await;
}

async fn results_expire_after_their_ttl(b: Backend) {
    let p = probe();
    let w = spawn(worker(&b, &p));
    let client = b.client();
    let short = client
        .send(add::call(1, 2).result_ttl(Duration::from_secs(2)))
        .await
        .unwrap();
    let kept = client.send(add::call(3, 4)).await.unwrap();
    assert_eq!(short.wait(WAIT).await.unwrap(), 3);
    assert_eq!(kept.wait(WAIT).await.unwrap(), 7);
    assert_eq!(
        short.record().await.unwrap().map(|r| r.state),
        Some(TaskState::Succeeded),
        "readable once it has ended"
    );
    // The contract: gone once its TTL (2 s) has passed; 15 s is slack.
    assert!(
        eventually(Duration::from_secs(15), || async {
            short.record().await.unwrap().is_none()
        })
        .await,
        "the record outlived its TTL"
    );
    assert!(matches!(short.state().await, Err(Error::UnknownTask(_))));
    assert!(matches!(short.wait(WAIT).await, Err(Error::UnknownTask(_))));
    assert_eq!(
        kept.state().await.unwrap(),
        TaskState::Succeeded,
        "a result with the default TTL (one day) is still there"
    );
    w.shutdown().await;
}

both_brokers!(
    concurrency_limit_is_respected_and_reached,
    one_worker_serves_two_queues,
    results_expire_after_their_ttl,
    round_trip,
    many_tasks_all_complete,
    retries_with_backoff_then_success,
    retries_are_bounded,
    permanent_errors_are_not_retried,
    panics_are_failures,
    hard_time_limit_drops_the_task,
    soft_time_limit_fires_the_token,
    cancel_queued_task_never_runs,
    cancel_delayed_task_never_runs,
    cancel_running_cooperative_task,
    cancel_running_stubborn_task_drops_it,
    priorities_order_the_queue,
    countdown_delays_the_run,
    progress_is_visible_while_running,
    expired_tasks_are_discarded,
    context_carries_id_attempt_and_headers,
    explicit_ids_deduplicate,
    unregistered_tasks_fail,
    graceful_shutdown_finishes_running_tasks,
    shutdown_hands_back_what_outlives_the_grace,
    worker_registry_lists_live_workers,
);
