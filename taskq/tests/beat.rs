//! Proof tests for beat, against a real redis-server: beats that keep being
//! SIGKILLed and replaced fire every occurrence exactly once; schedules are
//! edited at run time; missed occurrences fire once; bounded schedules end;
//! failing schedules are disabled at their threshold. Beat processes are
//! this test binary re-executed with `TASKQ_BEAT_CHILD` set.
#![cfg(feature = "beat")]

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, spawn};
use redis::AsyncCommands;
use taskq::beat::{Beat, BeatConfig, Schedule, Schedules, When};
use taskq::testing::RedisServer;
use taskq::worker::Worker;
use taskq::{RedisBroker, RedisConfig, TaskContext, TaskError, TaskState, task};

const NS: &str = "beat";

/// Counts its runs per task id in Redis (`HINCRBY runs <id> 1`).
#[task(name = "beat.count")]
async fn count(ctx: TaskContext<redis::aio::ConnectionManager>) -> Result<(), TaskError> {
    let mut conn = ctx.state().clone();
    let _: i64 = conn.hincr("runs", ctx.id().as_str(), 1).await?;
    Ok(())
}

#[task(name = "beat.fail")]
async fn fail() -> Result<(), TaskError> {
    Err(TaskError::fail("always fails"))
}

async fn broker(url: &str) -> RedisBroker {
    RedisBroker::connect_with(RedisConfig::new(url).namespace(NS))
        .await
        .unwrap()
}

async fn worker(server: &RedisServer) -> common::Running {
    let b = broker(&server.url()).await;
    let conn = b.connection();
    spawn(
        Worker::builder(b)
            .state(conn)
            .register::<count>()
            .register::<fail>()
            .concurrency(16)
            .poll_interval(Duration::from_millis(100)),
    )
}

/// Not a test on its own: when `TASKQ_BEAT_CHILD` is set, this process runs
/// a beat until it is killed.
#[test]
fn child_beat() {
    let Ok(url) = std::env::var("TASKQ_BEAT_CHILD") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let schedules = Schedules::new(&broker(&url).await);
        Beat::new(schedules, BeatConfig::default())
            .run_until(std::future::pending())
            .await
            .unwrap();
    });
}

fn spawn_beat(server: &RedisServer) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_beat", "--exact", "--nocapture", "--test-threads=1"])
        .env("TASKQ_BEAT_CHILD", server.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn sigkill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beats_killed_and_replaced_fire_every_occurrence_exactly_once() {
    const CHURN: Duration = Duration::from_secs(60);
    let server = RedisServer::start().unwrap();
    let b = broker(&server.url()).await;
    let schedules = Schedules::new(&b);
    let names = ["cron-1s", "every-1s", "iso-1s"];
    let whens = [
        When::cron("* * * * * *").unwrap(),
        When::every(Duration::from_secs(1)).unwrap(),
        When::iso8601("R/PT1S").unwrap(),
    ];
    for (name, when) in names.iter().zip(whens) {
        schedules
            .put(&Schedule::new(
                *name,
                when,
                count::call().into_raw().unwrap(),
            ))
            .await
            .unwrap();
    }
    let w = worker(&server).await;

    // Three beats; every 2-4 s one of them is SIGKILLed, after its
    // replacement has started, so at least two run at all times.
    let t0 = now_ms();
    let mut beats: Vec<Child> = (0..3).map(|_| spawn_beat(&server)).collect();
    let mut kills = 0;
    let started = Instant::now();
    while started.elapsed() < CHURN {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(2000..4000))).await;
        beats.push(spawn_beat(&server));
        let victim = beats.remove(fastrand::usize(0..3));
        sigkill(victim);
        kills += 1;
    }
    let t1 = now_ms();
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in names {
        assert!(schedules.set_enabled(name, false).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for child in beats {
        sigkill(child);
    }
    assert!(kills >= 15, "{kills} kills");

    // Every sent task (one record per distinct id) runs: the worker is
    // never killed.
    let mut conn = b.connection();
    let sent: Vec<String> = conn.keys(format!("{{{NS}}}:t:beat:*")).await.unwrap();
    let sent = sent.len();
    assert!(
        eventually(Duration::from_secs(60), || {
            let mut c = conn.clone();
            async move { c.hlen::<_, usize>("runs").await.unwrap() >= sent }
        })
        .await,
        "every sent task ran"
    );
    let runs: HashMap<String, u32> = conn.hgetall("runs").await.unwrap();
    assert_eq!(runs.len(), sent);
    assert!(runs.values().all(|&n| n == 1), "a task ran twice: {runs:?}");
    for name in names {
        let entry = schedules.get(name).await.unwrap().unwrap();
        let prefix = format!("beat:{name}:");
        let mut dues: Vec<u64> = runs
            .keys()
            .filter_map(|id| id.strip_prefix(&prefix)?.parse().ok())
            .collect();
        dues.sort_unstable();
        // Fired exactly once each: the schedule counted one firing per
        // distinct occurrence (a second firing of one occurrence would count
        // twice, even though its duplicate send is ignored).
        assert_eq!(entry.total_runs, dues.len() as u64, "{name}: double fire");
        // None skipped: consecutive occurrences are one period apart...
        for pair in dues.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                1000,
                "{name}: occurrence(s) skipped after {}",
                pair[0]
            );
        }
        // ...from the start of the window to its end.
        assert!(
            dues[0] <= t0 + 3000,
            "{name}: first at {} (t0 {t0})",
            dues[0]
        );
        assert!(
            *dues.last().unwrap() >= t1,
            "{name}: last at {:?} (t1 {t1})",
            dues.last()
        );
        assert_eq!(entry.last_outcome, Some(TaskState::Succeeded));
        assert_eq!(entry.consecutive_failures, 0);
    }
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_occurrences_fire_once_and_schedules_change_at_run_time() {
    let server = RedisServer::start().unwrap();
    let b = broker(&server.url()).await;
    let schedules = Schedules::new(&b);
    let beat = Beat::new(
        schedules.clone(),
        BeatConfig {
            misfire_grace: Duration::from_millis(500),
            ..BeatConfig::default()
        },
    );
    let every = |ms| When::every(Duration::from_millis(ms)).unwrap();
    schedules
        .put(&Schedule::new(
            "s",
            every(300),
            count::call().into_raw().unwrap(),
        ))
        .await
        .unwrap();
    // No beat runs for ten periods: the first look fires once.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let report = beat.tick().await.unwrap();
    assert_eq!(report.fired.len(), 1, "{report:?}");
    let entry = schedules.get("s").await.unwrap().unwrap();
    assert_eq!(entry.total_runs, 1);
    assert!(
        entry.next_run_ms.unwrap() > now_ms() - 300,
        "resumes from now: {entry:?}"
    );
    assert_eq!(
        beat.tick().await.unwrap().fired.len(),
        0,
        "nothing else is due yet"
    );

    // Changes while it runs: a new timing takes effect, disabling stops it,
    // deleting removes it.
    let (stop, handle) = beat.clone().spawn();
    schedules
        .put(&Schedule::new(
            "s",
            every(100),
            count::call().into_raw().unwrap(),
        ))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async {
            schedules.get("s").await.unwrap().unwrap().total_runs >= 6
        })
        .await,
        "the faster timing applies"
    );
    assert!(schedules.set_enabled("s", false).await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let frozen = schedules.get("s").await.unwrap().unwrap();
    assert!(!frozen.schedule.enabled && frozen.next_run_ms.is_none());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        schedules.get("s").await.unwrap().unwrap().total_runs,
        frozen.total_runs,
        "a disabled schedule does not fire"
    );
    assert!(schedules.delete("s").await.unwrap());
    assert!(schedules.get("s").await.unwrap().is_none());
    assert!(schedules.list().await.unwrap().is_empty());
    assert!(!schedules.set_enabled("s", true).await.unwrap());
    stop.cancel();
    handle.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_schedules_end_and_failing_ones_are_disabled() {
    let server = RedisServer::start().unwrap();
    let b = broker(&server.url()).await;
    let schedules = Schedules::new(&b);
    let w = worker(&server).await;
    schedules
        .put(&Schedule::new(
            "three",
            When::iso8601("R3/PT1S").unwrap(),
            count::call().into_raw().unwrap(),
        ))
        .await
        .unwrap();
    schedules
        .put(
            &Schedule::new(
                "flaky",
                When::every(Duration::from_millis(200)).unwrap(),
                fail::call().into_raw().unwrap(),
            )
            .failure_threshold(3),
        )
        .await
        .unwrap();
    assert_eq!(
        schedules
            .get("three")
            .await
            .unwrap()
            .unwrap()
            .remaining_runs,
        Some(3)
    );
    let (stop, handle) = Beat::new(schedules.clone(), BeatConfig::default()).spawn();

    assert!(
        eventually(Duration::from_secs(20), || async {
            let e = schedules.get("flaky").await.unwrap().unwrap();
            !e.schedule.enabled
        })
        .await,
        "the failing schedule is disabled"
    );
    let flaky = schedules.get("flaky").await.unwrap().unwrap();
    assert!(flaky.consecutive_failures >= 3, "{flaky:?}");
    assert_eq!(flaky.last_outcome, Some(TaskState::Failed));
    assert!(
        flaky
            .disabled_reason
            .unwrap()
            .contains("3 consecutive failures")
    );
    assert!(flaky.next_run_ms.is_none());

    assert!(
        eventually(Duration::from_secs(20), || async {
            let e = schedules.get("three").await.unwrap().unwrap();
            e.total_runs == 3 && e.last_outcome == Some(TaskState::Succeeded)
        })
        .await,
        "R3 fires three times"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let three = schedules.get("three").await.unwrap().unwrap();
    assert_eq!(three.total_runs, 3, "and no more");
    assert_eq!((three.remaining_runs, three.next_run_ms), (Some(0), None));
    let runs: HashMap<String, u32> = b.connection().hgetall("runs").await.unwrap();
    assert_eq!(runs.len(), 3);

    // Enabled again, a disabled schedule starts afresh.
    assert!(schedules.set_enabled("flaky", true).await.unwrap());
    let again = schedules.get("flaky").await.unwrap().unwrap();
    assert_eq!(again.consecutive_failures, 0);
    assert!(again.next_run_ms.is_some() && again.disabled_reason.is_none());
    stop.cancel();
    handle.await.unwrap().unwrap();
    w.shutdown().await;
}
