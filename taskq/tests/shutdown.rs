//! Proof tests for graceful shutdown on real signals, against a real
//! redis-server: a worker *process* (this test binary re-executed with
//! `TASKQ_CHILD_REDIS` set, see `child_worker`, signal handling on) gets
//! SIGTERM or SIGINT while it runs tasks.
//!
//! - SIGTERM, grace longer than the tasks: it stops fetching, lets the
//!   running tasks finish and records them, starts nothing that was queued,
//!   unregisters and exits 0.
//! - SIGINT, grace shorter than the task: once the grace (and, for a task
//!   that ignores cancellation, the cancel grace) is over it hands the task
//!   back to its queue unrecorded and exits 0 long before the task would
//!   have ended; the next worker runs it to one success.
//!
//! Executions are counted in Redis by the tasks themselves: `execs` when a
//! run starts, `done` when it runs to its end.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::spawn;
use redis::AsyncCommands;
use taskq::broker::Broker;
use taskq::testing::RedisServer;
use taskq::worker::Worker;
use taskq::{Client, RedisBroker, RedisConfig, TaskContext, TaskError, TaskState, task};

const NS: &str = "shutdown";

/// State of the tasks: a Redis connection to count executions in.
struct Counter {
    conn: redis::aio::ConnectionManager,
}

/// Counts its start (`HINCRBY execs <i> 1`), sleeps `ms`, counts its end
/// (`HINCRBY done <i> 1`) and returns `i`. A `cooperative` run returns
/// [`TaskError::Canceled`] as soon as it is asked to stop; otherwise it
/// ignores cancellation and only stops when its future is dropped.
#[task(name = "shutdown.slow")]
async fn slow(
    ctx: TaskContext<Counter>,
    i: u32,
    ms: u64,
    cooperative: bool,
) -> Result<u32, TaskError> {
    let mut conn = ctx.state().conn.clone();
    let _: i64 = conn.hincr("execs", i, 1).await?;
    let sleep = tokio::time::sleep(Duration::from_millis(ms));
    if cooperative {
        tokio::select! {
            () = sleep => {}
            () = ctx.cancelled() => return Err(TaskError::Canceled),
        }
    } else {
        sleep.await;
    }
    let _: i64 = conn.hincr("done", i, 1).await?;
    Ok(i)
}

/// Settings of a worker process.
struct ChildConfig {
    concurrency: usize,
    shutdown_grace: Duration,
    cancel_grace: Duration,
}

/// Not a test on its own: when `TASKQ_CHILD_REDIS` is set, this runs a
/// worker process with signal handling on, until SIGTERM or SIGINT.
#[test]
fn child_worker() {
    let Ok(url) = std::env::var("TASKQ_CHILD_REDIS") else {
        return;
    };
    let env_u64 = |k: &str| -> u64 {
        std::env::var(k)
            .unwrap_or_else(|_| panic!("{k} is set by the parent"))
            .parse()
            .unwrap()
    };
    let concurrency = env_u64("TASKQ_CHILD_CONCURRENCY") as usize;
    let shutdown_grace = Duration::from_millis(env_u64("TASKQ_CHILD_SHUTDOWN_GRACE_MS"));
    let cancel_grace = Duration::from_millis(env_u64("TASKQ_CHILD_CANCEL_GRACE_MS"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let broker = RedisBroker::connect_with(RedisConfig::new(url.clone()).namespace(NS))
            .await
            .unwrap();
        let conn = redis::Client::open(url)
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap();
        Worker::builder(broker)
            .state(Counter { conn })
            .register::<slow>()
            .concurrency(concurrency)
            .shutdown_grace(shutdown_grace)
            .cancel_grace(cancel_grace)
            .lease(Duration::from_secs(5))
            .handle_signals(true)
            .build()
            .unwrap()
            .run()
            .await
            .unwrap();
    });
    println!("child worker: run() returned Ok");
}

/// A worker process; SIGKILLed if the test ends (or fails) before it exited.
struct WorkerProcess {
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl WorkerProcess {
    fn spawn(server: &RedisServer, name: &str, config: &ChildConfig) -> Self {
        let log = server.dir().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["child_worker", "--exact", "--nocapture", "--test-threads=1"])
            .env("TASKQ_CHILD_REDIS", server.url())
            .env("TASKQ_CHILD_CONCURRENCY", config.concurrency.to_string())
            .env(
                "TASKQ_CHILD_SHUTDOWN_GRACE_MS",
                config.shutdown_grace.as_millis().to_string(),
            )
            .env(
                "TASKQ_CHILD_CANCEL_GRACE_MS",
                config.cancel_grace.as_millis().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        WorkerProcess {
            child,
            log,
            exited: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`) to this process, and only to it.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// What the process wrote, for failure messages.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the process exits, at most `within`.
    async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.exited = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if self.exited.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn connect(server: &RedisServer) -> (Client, RedisBroker) {
    let broker = RedisBroker::connect_with(RedisConfig::new(server.url()).namespace(NS))
        .await
        .unwrap();
    (Client::new(broker.clone()), broker)
}

async fn counter(server: &RedisServer) -> Counter {
    Counter {
        conn: redis::Client::open(server.url())
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap(),
    }
}

/// The counts of the hash `key` (`execs` or `done`), task number → count.
async fn counts(conn: &mut redis::aio::ConnectionManager, key: &str) -> HashMap<u32, u32> {
    conn.hgetall(key).await.unwrap()
}

/// The worker id under which process `pid` registered, once it has.
async fn worker_id_of(broker: &RedisBroker, worker: &WorkerProcess) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let workers = broker.workers().await.unwrap();
        if let Some(w) = workers.into_iter().find(|w| w.pid == worker.pid()) {
            return w.id;
        }
        assert!(
            Instant::now() < deadline,
            "worker process {} never registered; its output:\n{}",
            worker.pid(),
            worker.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every task in `ids` is recorded as started.
async fn wait_started(client: &Client, ids: &[taskq::TaskId], worker: &WorkerProcess) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut all = true;
        for id in ids {
            let rec = client.record(id).await.unwrap().unwrap();
            all &= rec.state == TaskState::Started;
        }
        if all {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "tasks {ids:?} never all started; worker output:\n{}",
            worker.output()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Tasks ready in the queues (none is delayed in these tests).
async fn ready(broker: &RedisBroker) -> u64 {
    broker
        .queue_depths()
        .await
        .unwrap()
        .iter()
        .map(|q| q.ready.iter().sum::<u64>() + q.delayed)
        .sum()
}

/// Tasks held in flight by any worker.
async fn in_flight(broker: &RedisBroker) -> u64 {
    let mut conn = broker.connection();
    let keys: Vec<String> = conn.keys(format!("{{{NS}}}:inflight:*")).await.unwrap();
    let mut held = 0;
    for k in keys {
        held += conn.hlen::<_, u64>(k).await.unwrap();
    }
    held
}

/// SIGTERM with a grace period longer than the running tasks: they finish
/// and are recorded, nothing queued is started, the worker unregisters and
/// exits 0; a second worker then runs the rest, each task exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_running_tasks_and_leaves_the_queue_alone() {
    const LONG_MS: u64 = 2000;
    const QUEUED: u32 = 10;
    let server = RedisServer::start().unwrap();
    let (client, broker) = connect(&server).await;
    let mut conn = counter(&server).await.conn;
    // Queue order is send order: the worker (two slots, so it fetches two
    // at a time) takes the two long tasks first; the short ones wait.
    let sent = client
        .send_batch(
            (0..2)
                .map(|i| slow::call(i, LONG_MS, false))
                .chain((2..2 + QUEUED).map(|i| slow::call(i, 50, false))),
        )
        .await
        .unwrap();
    let (running, queued) = sent.split_at(2);
    let running_ids: Vec<_> = running.iter().map(|r| r.id().clone()).collect();

    let mut worker = WorkerProcess::spawn(
        &server,
        "sigterm",
        &ChildConfig {
            concurrency: 2,
            shutdown_grace: Duration::from_secs(30),
            cancel_grace: Duration::from_secs(10),
        },
    );
    let worker_id = worker_id_of(&broker, &worker).await;
    wait_started(&client, &running_ids, &worker).await;
    worker.signal("TERM");
    let signaled = Instant::now();
    // The signal must have reached the worker while both tasks were still
    // running, or this test proves nothing.
    assert_eq!(
        counts(&mut conn, "done").await,
        HashMap::new(),
        "a long task ended before SIGTERM was sent: the machine is too slow for this test"
    );

    let status = worker.wait_exit(Duration::from_secs(60)).await;
    let output = worker.output();
    let status = status.unwrap_or_else(|| {
        panic!("the worker did not exit within 60 s of SIGTERM; its output:\n{output}")
    });
    let exit_after = signaled.elapsed();
    assert!(
        status.success(),
        "the worker exited with {status} after SIGTERM; its output:\n{output}"
    );
    assert!(
        output.contains("child worker: run() returned Ok"),
        "Worker::run did not return Ok; output:\n{output}"
    );

    // The running tasks ran to their end on this worker and were recorded
    // before it exited.
    for (i, r) in (0u32..).zip(running) {
        let rec = r.record().await.unwrap().unwrap();
        assert_eq!(rec.state, TaskState::Succeeded, "task {i}: {rec:?}");
        assert_eq!(
            rec.worker.as_deref(),
            Some(worker_id.as_str()),
            "task {i}: {rec:?}"
        );
        assert_eq!(r.wait(Duration::from_secs(5)).await.unwrap(), i);
    }
    let execs = counts(&mut conn, "execs").await;
    let done = counts(&mut conn, "done").await;
    assert_eq!(
        execs,
        HashMap::from([(0, 1), (1, 1)]),
        "only the two running tasks started, once each"
    );
    assert_eq!(
        done,
        HashMap::from([(0, 1), (1, 1)]),
        "the two running tasks ran to their end"
    );
    // The queued tasks were not touched: still pending, still queued.
    for r in queued {
        let rec = r.record().await.unwrap().unwrap();
        assert_eq!(rec.state, TaskState::Pending, "{rec:?}");
        assert_eq!(rec.attempt, 0, "{rec:?}");
        assert_eq!(rec.worker, None, "{rec:?}");
    }
    assert_eq!(ready(&broker).await, u64::from(QUEUED), "still queued");
    assert_eq!(in_flight(&broker).await, 0, "the worker holds nothing");
    // The worker left the registry.
    let workers = broker.workers().await.unwrap();
    assert!(
        workers
            .iter()
            .all(|w| w.id != worker_id && w.pid != worker.pid()),
        "the stopped worker is still registered: {workers:?}"
    );
    println!("worker exited 0 {exit_after:?} after SIGTERM");

    // A second worker runs the rest, each exactly once.
    let w2 = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<slow>()
            .concurrency(4),
    );
    for (i, r) in (2u32..).zip(queued) {
        assert_eq!(r.wait(Duration::from_secs(60)).await.unwrap(), i);
    }
    w2.shutdown().await;
    let execs = counts(&mut conn, "execs").await;
    let done = counts(&mut conn, "done").await;
    let once: HashMap<u32, u32> = (0..2 + QUEUED).map(|i| (i, 1)).collect();
    assert_eq!(execs, once, "every task started exactly once");
    assert_eq!(done, once, "every task ran to its end exactly once");
    for r in &sent {
        assert_eq!(r.state().await.unwrap(), TaskState::Succeeded);
    }
    assert_eq!(ready(&broker).await, 0);
    assert_eq!(in_flight(&broker).await, 0);
    assert!(broker.workers().await.unwrap().is_empty());
}

/// SIGINT with a grace period shorter than the running task: the worker
/// hands the task back unrecorded and exits 0 long before the task would
/// have ended; a second worker runs it again, to one success.
async fn sigint_hands_back(cooperative: bool) {
    const TASK_MS: u64 = 5000;
    let server = RedisServer::start().unwrap();
    let (client, broker) = connect(&server).await;
    let mut conn = counter(&server).await.conn;
    let r = client
        .send(slow::call(0, TASK_MS, cooperative))
        .await
        .unwrap();

    // A task that ignores cancellation is dropped after the cancel grace;
    // a cooperative one stops by itself, so the (default) 10 s cancel grace
    // must not matter.
    let cancel_grace = if cooperative {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(300)
    };
    let mut worker = WorkerProcess::spawn(
        &server,
        "sigint",
        &ChildConfig {
            concurrency: 1,
            shutdown_grace: Duration::from_millis(500),
            cancel_grace,
        },
    );
    let worker_id = worker_id_of(&broker, &worker).await;
    wait_started(&client, std::slice::from_ref(r.id()), &worker).await;
    worker.signal("INT");
    let signaled = Instant::now();

    let status = worker.wait_exit(Duration::from_secs(60)).await;
    let output = worker.output();
    let status = status.unwrap_or_else(|| {
        panic!("the worker did not exit within 60 s of SIGINT; its output:\n{output}")
    });
    let exit_after = signaled.elapsed();
    assert!(
        status.success(),
        "the worker exited with {status} after SIGINT; its output:\n{output}"
    );
    assert!(
        output.contains("child worker: run() returned Ok"),
        "Worker::run did not return Ok; output:\n{output}"
    );
    // No timing threshold: had the worker waited for the task instead of
    // handing it back, the task would have counted its end.
    assert_eq!(
        counts(&mut conn, "done").await,
        HashMap::new(),
        "the first run did not run to its end (the worker exited {exit_after:?} after SIGINT)"
    );
    assert_eq!(counts(&mut conn, "execs").await, HashMap::from([(0, 1)]));

    // Handed back: queued again, no outcome recorded.
    let rec = r.record().await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::Pending, "handed back: {rec:?}");
    assert!(rec.error.is_none(), "no failure recorded: {rec:?}");
    assert!(rec.result.is_none(), "no result recorded: {rec:?}");
    assert!(rec.finished_ms.is_none(), "not finished: {rec:?}");
    assert_eq!(ready(&broker).await, 1, "back in its queue");
    assert_eq!(in_flight(&broker).await, 0, "the worker holds nothing");
    let workers = broker.workers().await.unwrap();
    assert!(
        workers
            .iter()
            .all(|w| w.id != worker_id && w.pid != worker.pid()),
        "the stopped worker is still registered: {workers:?}"
    );
    println!("worker exited 0 {exit_after:?} after SIGINT (cooperative task: {cooperative})");

    // A second worker runs it again, to one success.
    let w2 = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<slow>()
            .concurrency(1),
    );
    assert_eq!(r.wait(Duration::from_secs(60)).await.unwrap(), 0);
    w2.shutdown().await;
    let rec = r.record().await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::Succeeded, "{rec:?}");
    assert_ne!(
        rec.worker.as_deref(),
        Some(worker_id.as_str()),
        "the success is the second worker's: {rec:?}"
    );
    assert_eq!(
        counts(&mut conn, "execs").await,
        HashMap::from([(0, 2)]),
        "started twice"
    );
    assert_eq!(
        counts(&mut conn, "done").await,
        HashMap::from([(0, 1)]),
        "finished once"
    );
    assert_eq!(ready(&broker).await, 0);
    assert_eq!(in_flight(&broker).await, 0);
}

/// The task ignores cancellation: its future is dropped after the cancel
/// grace and the task handed back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_hands_back_a_task_that_outlives_the_grace() {
    sigint_hands_back(false).await;
}

/// The task stops when asked (`TaskError::Canceled`): handed back at once,
/// without waiting for the cancel grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_hands_back_a_cooperative_task_that_outlives_the_grace() {
    sigint_hands_back(true).await;
}

/// A second signal during a long grace period (a cold shutdown): the
/// worker stops waiting, hands the running tasks back unrecorded and exits
/// 0, although both the grace period and the tasks are ten minutes long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_hands_running_tasks_back_at_once() {
    const TEN_MINUTES_MS: u64 = 600_000;
    let server = RedisServer::start().unwrap();
    let (client, broker) = connect(&server).await;
    let mut conn = counter(&server).await.conn;
    let mut handles = Vec::new();
    for i in 0..2 {
        handles.push(
            client
                .send(slow::call(i, TEN_MINUTES_MS, false))
                .await
                .unwrap(),
        );
    }
    let ids: Vec<taskq::TaskId> = handles.iter().map(|h| h.id().clone()).collect();
    let mut worker = WorkerProcess::spawn(
        &server,
        "cold",
        &ChildConfig {
            concurrency: 2,
            shutdown_grace: Duration::from_millis(TEN_MINUTES_MS),
            cancel_grace: Duration::from_millis(300),
        },
    );
    wait_started(&client, &ids, &worker).await;

    worker.signal("TERM");
    // A warm shutdown: it keeps waiting for the tasks.
    assert!(
        worker.wait_exit(Duration::from_secs(1)).await.is_none(),
        "the worker exited on the first signal, with tasks running and a long grace; output:\n{}",
        worker.output()
    );
    assert_eq!(in_flight(&broker).await, 2, "still running both");

    worker.signal("INT");
    let status = worker.wait_exit(Duration::from_secs(120)).await;
    let output = worker.output();
    let status = status.unwrap_or_else(|| {
        panic!("the worker did not exit after the second signal; its output:\n{output}")
    });
    assert!(status.success(), "exit status {status}; output:\n{output}");
    assert!(
        output.contains("child worker: run() returned Ok"),
        "Worker::run did not return Ok; output:\n{output}"
    );
    assert_eq!(
        counts(&mut conn, "done").await,
        HashMap::new(),
        "none ran to its end"
    );
    assert_eq!(
        counts(&mut conn, "execs").await,
        HashMap::from([(0, 1), (1, 1)])
    );
    for h in &handles {
        let rec = h.record().await.unwrap().unwrap();
        assert_eq!(rec.state, TaskState::Pending, "handed back: {rec:?}");
        assert!(rec.error.is_none() && rec.finished_ms.is_none(), "{rec:?}");
    }
    assert_eq!(ready(&broker).await, 2, "both back in their queue");
    assert_eq!(in_flight(&broker).await, 0, "the worker holds nothing");
    assert!(broker.workers().await.unwrap().is_empty(), "unregistered");
}
