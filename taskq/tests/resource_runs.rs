//! Proof tests for runs: when a task's end lets the next task of its
//! exclusive resource start, the worker is handed that task with the tasks
//! queued right behind it and runs them one after the other in one slot.
//! Whatever stops a run (shutdown, a retry, a cancellation, a killed
//! worker), what it did not run waits again and runs later, in order, once;
//! and the records never show two tasks of the resource running at once.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{Probe, ProbeState, eventually, spawn};
use redis::AsyncCommands;
use taskq::testing::RedisServer;
use taskq::worker::Worker;
use taskq::{
    AsyncResult, CancelStatus, Client, FailureKind, RedisBroker, RedisConfig, TaskContext,
    TaskError, TaskState, task,
};

const NS: &str = "runs";

/// What a step does.
const QUICK: u8 = 0;
/// Waits for the probe's gate before it ends.
const GATED: u8 = 1;
/// Fails its first attempt (retried after 300 ms).
const FLAKY: u8 = 2;

/// One step on a resource: logs `start:<n>` and `end:<n>` (or `fail:<n>`).
#[task(
    name = "runs.step",
    on_worker_lost = "fail",
    max_retries = 2,
    retry_delay = "300ms",
    retry_jitter = false
)]
async fn step(ctx: TaskContext<ProbeState>, n: u32, mode: u8) -> Result<u32, TaskError> {
    let probe = ctx.state();
    probe.push(format!("start:{n}"));
    match mode {
        GATED => probe.gate.notified().await,
        FLAKY if ctx.attempt() == 1 => {
            probe.push(format!("fail:{n}"));
            Err(std::io::Error::other("first attempt fails"))?;
        }
        _ => tokio::time::sleep(Duration::from_millis(5)).await,
    }
    probe.push(format!("end:{n}"));
    Ok(n)
}

async fn client(server: &RedisServer) -> Client {
    Client::new(
        RedisBroker::connect_with(RedisConfig::new(server.url()).namespace(NS))
            .await
            .unwrap(),
    )
}

async fn conn(server: &RedisServer) -> redis::aio::ConnectionManager {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap()
}

/// Sends steps `0..modes.len()`, all exclusive on resource `r`.
async fn send_steps(client: &Client, modes: &[u8]) -> Vec<AsyncResult<u32>> {
    let mut sent = Vec::new();
    for (n, mode) in modes.iter().enumerate() {
        sent.push(
            client
                .send(step::call(n as u32, *mode).exclusive("r"))
                .await
                .unwrap(),
        );
    }
    sent
}

fn worker(client: &Client, probe: &Arc<Probe>) -> taskq::worker::WorkerBuilder<Arc<Probe>> {
    Worker::builder(client.clone())
        .state(Arc::clone(probe))
        .register::<step>()
        .concurrency(4)
}

/// Whether task `t` waits for its resource in the waiting set (not handed
/// to a worker in a run).
async fn in_waiting_set(conn: &mut redis::aio::ConnectionManager, t: &AsyncResult<u32>) -> bool {
    conn.hexists(format!("{{{NS}}}:res:waiting"), t.id().as_str())
        .await
        .unwrap()
}

/// Waits until `t` runs, then checks that `behind` were handed over with it
/// in a run: still `waiting` in their records, but out of the waiting set.
async fn started_with_run_behind(
    conn: &mut redis::aio::ConnectionManager,
    t: &AsyncResult<u32>,
    behind: &[AsyncResult<u32>],
) {
    assert!(
        eventually(Duration::from_secs(20), || async {
            t.state().await.unwrap() == TaskState::Started
        })
        .await,
        "the gated step started"
    );
    for b in behind {
        assert_eq!(b.state().await.unwrap(), TaskState::Waiting);
        assert!(
            !in_waiting_set(conn, b).await,
            "the tasks behind were handed over in a run"
        );
    }
}

async fn no_reservations_left(conn: &mut redis::aio::ConnectionManager) {
    let left: Vec<String> = conn.keys(format!("{{{NS}}}:res:[qx]:*")).await.unwrap();
    assert!(left.is_empty(), "reservations left: {left:?}");
    let waiting: u64 = conn.hlen(format!("{{{NS}}}:res:waiting")).await.unwrap();
    assert_eq!(waiting, 0);
}

fn starts(events: &[String]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.starts_with("start:"))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_hands_the_rest_of_a_run_back_to_wait() {
    let server = RedisServer::start().unwrap();
    let client = client(&server).await;
    let mut conn = conn(&server).await;
    let sent = send_steps(&client, &[QUICK, GATED, QUICK, QUICK, QUICK, QUICK]).await;
    let first = Arc::new(Probe::default());
    let a = spawn(worker(&client, &first).shutdown_grace(Duration::from_secs(30)));
    started_with_run_behind(&mut conn, &sent[1], &sent[2..]).await;

    // Warm shutdown while the run's first task runs: it may finish, the
    // rest of the run must not start here.
    a.stop.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.gate.notify_one();
    tokio::time::timeout(Duration::from_secs(30), a.handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        first.events(),
        ["start:0", "end:0", "start:1", "end:1"],
        "the first worker ran nothing past the task at hand"
    );
    // Handed back: the first of the rest is ready now (its resource is
    // free), so it is first in its queue; the others wait for their turn.
    let queued: u64 = conn.llen(format!("{{{NS}}}:q:default:1")).await.unwrap();
    assert_eq!(queued, 1);
    assert!(!in_waiting_set(&mut conn, &sent[2]).await);
    for t in &sent[2..] {
        assert_eq!(t.state().await.unwrap(), TaskState::Waiting);
    }
    for t in &sent[3..] {
        assert!(in_waiting_set(&mut conn, t).await, "handed back to wait");
    }

    let second = Arc::new(Probe::default());
    let b = spawn(worker(&client, &second));
    for (n, t) in sent.iter().enumerate() {
        assert_eq!(t.wait(Duration::from_secs(30)).await.unwrap(), n as u32);
    }
    b.shutdown().await;
    assert_eq!(
        second.events(),
        [
            "start:2", "end:2", "start:3", "end:3", "start:4", "end:4", "start:5", "end:5"
        ],
        "the rest ran later, in order, once"
    );
    no_reservations_left(&mut conn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_ends_the_run_and_the_rest_waits_for_it() {
    let server = RedisServer::start().unwrap();
    let client = client(&server).await;
    let mut conn = conn(&server).await;
    let sent = send_steps(&client, &[QUICK, FLAKY, QUICK, QUICK]).await;
    let probe = Arc::new(Probe::default());
    let w = spawn(worker(&client, &probe));
    for (n, t) in sent.iter().enumerate() {
        assert_eq!(t.wait(Duration::from_secs(30)).await.unwrap(), n as u32);
    }
    w.shutdown().await;
    assert_eq!(
        probe.events(),
        [
            "start:0", "end:0", "start:1", "fail:1", "start:1", "end:1", "start:2", "end:2",
            "start:3", "end:3"
        ],
        "nothing behind the retrying task started before its retry ended"
    );
    let rec = sent[1].record().await.unwrap().unwrap();
    assert_eq!(rec.attempt, 2);
    no_reservations_left(&mut conn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_a_task_waiting_in_a_run_keeps_it_from_running() {
    let server = RedisServer::start().unwrap();
    let client = client(&server).await;
    let mut conn = conn(&server).await;
    let sent = send_steps(&client, &[QUICK, GATED, QUICK, QUICK]).await;
    let probe = Arc::new(Probe::default());
    let w = spawn(worker(&client, &probe));
    started_with_run_behind(&mut conn, &sent[1], &sent[2..]).await;
    assert_eq!(sent[2].cancel().await.unwrap(), CancelStatus::Canceled);
    // The worker hears of it on its control channel.
    tokio::time::sleep(Duration::from_millis(200)).await;
    probe.gate.notify_one();
    assert_eq!(sent[1].wait(Duration::from_secs(30)).await.unwrap(), 1);
    assert_eq!(sent[3].wait(Duration::from_secs(30)).await.unwrap(), 3);
    w.shutdown().await;
    let rec = sent[2].record().await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::Canceled);
    assert_eq!(
        starts(&probe.events()),
        ["start:0", "start:1", "start:3"],
        "the canceled task never ran"
    );
    no_reservations_left(&mut conn).await;
}

/// Reads the states of the given task records in one atomic step.
const COUNT_STARTED: &str = r"
local n = 0
for i = 1, #KEYS do
  if redis.call('HGET', KEYS[i], 'state') == 'started' then n = n + 1 end
end
return n
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_never_show_two_tasks_of_a_resource_running() {
    let server = RedisServer::start().unwrap();
    let client = client(&server).await;
    let mut conn = conn(&server).await;
    let modes = vec![QUICK; 150];
    let sent = send_steps(&client, &modes).await;
    let keys: Vec<String> = sent
        .iter()
        .map(|t| format!("{{{NS}}}:t:{}", t.id()))
        .collect();
    let probe = Arc::new(Probe::default());
    let w = spawn(worker(&client, &probe));
    let script = redis::Script::new(COUNT_STARTED);
    let mut most = 0;
    let mut looks = 0;
    loop {
        let mut inv = script.prepare_invoke();
        for k in &keys {
            inv.key(k);
        }
        let n: u32 = inv.invoke_async(&mut conn).await.unwrap();
        most = most.max(n);
        looks += 1;
        if sent.last().unwrap().state().await.unwrap() == TaskState::Succeeded {
            break;
        }
    }
    w.shutdown().await;
    println!("{looks} looks at the records");
    assert!(
        most <= 1,
        "{most} tasks of one resource recorded running at once"
    );
    let mut previous_finish = 0;
    for t in &sent {
        let rec = t.record().await.unwrap().unwrap();
        assert_eq!(rec.state, TaskState::Succeeded);
        let (started, finished) = (rec.started_ms.unwrap(), rec.finished_ms.unwrap());
        assert!(
            started >= previous_finish,
            "recorded start {started} before the previous task's recorded end {previous_finish}"
        );
        previous_finish = finished;
    }
    let expected: Vec<String> = (0..150).map(|n| format!("start:{n}")).collect();
    assert_eq!(
        starts(&probe.events()),
        expected,
        "in dispatch order, once each"
    );
    no_reservations_left(&mut conn).await;
}

// ---------------------------------------------------------------- a killed worker

/// Not a test on its own: with `TASKQ_RUNS_CHILD_REDIS` set, runs a worker
/// process (lease 1 s) whose gated steps never end.
#[test]
fn child_worker() {
    let Ok(url) = std::env::var("TASKQ_RUNS_CHILD_REDIS") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let broker = RedisBroker::connect_with(RedisConfig::new(url).namespace(NS))
            .await
            .unwrap();
        Worker::builder(broker)
            .state(Arc::new(Probe::default()))
            .register::<step>()
            .concurrency(4)
            .lease(Duration::from_millis(1000))
            .build()
            .unwrap()
            .run()
            .await
            .unwrap();
    });
}

fn spawn_child(server: &RedisServer) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env("TASKQ_RUNS_CHILD_REDIS", server.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The steps fail when their worker is lost, but the tasks behind the one
/// running in a killed worker's run never started: they wait again and run
/// on another worker, in order, instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_run_waits_again_instead_of_failing() {
    let server = RedisServer::start().unwrap();
    let client = client(&server).await;
    let mut conn = conn(&server).await;
    let sent = send_steps(&client, &[QUICK, GATED, QUICK, QUICK, QUICK]).await;
    let mut victim = spawn_child(&server);
    started_with_run_behind(&mut conn, &sent[1], &sent[2..]).await;
    let probe = Arc::new(Probe::default());
    let rescuer = spawn(worker(&client, &probe));
    victim.kill().unwrap(); // SIGKILL, mid-run
    victim.wait().unwrap();

    let err = sent[1].wait(Duration::from_secs(30)).await.unwrap_err();
    assert!(
        matches!(err, taskq::Error::TaskFailed(ref f) if f.kind == FailureKind::WorkerLost),
        "{err}"
    );
    for (n, t) in sent.iter().enumerate().skip(2) {
        assert_eq!(t.wait(Duration::from_secs(30)).await.unwrap(), n as u32);
    }
    rescuer.shutdown().await;
    assert_eq!(
        starts(&probe.events()),
        ["start:2", "start:3", "start:4"],
        "the rest of the run ran on the rescuer, in order, once"
    );
    no_reservations_left(&mut conn).await;
}
