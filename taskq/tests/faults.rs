//! Proof tests for the delivery guarantees, against a real redis-server:
//! SIGKILLed workers, tasks that outlive their lease, Redis restarts, poison
//! and malformed messages. Worker processes are this test binary re-executed
//! with `TASKQ_CHILD_REDIS` set (see `child_worker`).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{eventually, spawn};
use redis::AsyncCommands;
use taskq::testing::RedisServer;
use taskq::worker::Worker;
use taskq::{
    Client, FailureKind, RedisBroker, RedisConfig, TaskContext, TaskError, TaskState, task,
};

const NS: &str = "faults";

/// State of the counting tasks: a Redis connection to count executions in.
struct Counter {
    conn: redis::aio::ConnectionManager,
}

/// Counts its execution in Redis (`HINCRBY execs <i> 1`), sleeps, returns `i`.
/// Retries its own Redis errors (while the test restarts Redis).
#[task(
    name = "faults.count",
    max_retries = 20,
    retry_delay = "100ms",
    retry_delay_max = "1s"
)]
async fn count(ctx: TaskContext<Counter>, i: u32, sleep_ms: u64) -> Result<u32, TaskError> {
    let mut conn = ctx.state().conn.clone();
    let _: i64 = conn.hincr("execs", i, 1).await?;
    tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    Ok(i)
}

/// A later version of `faults.count` that takes a label: what a fixed
/// deployment runs. Counts its executions in `execs_v2`.
#[task(name = "faults.count")]
async fn count_v2(ctx: TaskContext<Counter>, label: String) -> Result<u32, TaskError> {
    let mut conn = ctx.state().conn.clone();
    let _: i64 = conn.hincr("execs_v2", &label, 1).await?;
    Ok(label.len() as u32)
}

/// Kills the process running it.
#[task(name = "faults.killer")]
async fn killer(ctx: TaskContext<Counter>) -> Result<(), TaskError> {
    let mut conn = ctx.state().conn.clone();
    let _: i64 = conn.incr("killer_runs", 1).await?;
    std::process::abort();
}

async fn connect(server: &RedisServer) -> (Client, RedisBroker) {
    let broker = RedisBroker::connect_with(RedisConfig::new(server.url()).namespace(NS))
        .await
        .unwrap();
    (Client::new(broker.clone()), broker)
}

/// Not a test on its own: when `TASKQ_CHILD_REDIS` is set, this runs a
/// worker process until it is killed.
#[test]
fn child_worker() {
    let Ok(url) = std::env::var("TASKQ_CHILD_REDIS") else {
        return;
    };
    let env_ms = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let lease = Duration::from_millis(env_ms("TASKQ_CHILD_LEASE_MS", 2000));
    let concurrency = env_ms("TASKQ_CHILD_CONCURRENCY", 8) as usize;
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
            .register::<count>()
            .register::<killer>()
            .lease(lease)
            .concurrency(concurrency)
            .max_worker_kills(2)
            .build()
            .unwrap()
            .run()
            .await
            .unwrap();
    });
}

fn spawn_child(server: &RedisServer, lease_ms: u64, concurrency: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env("TASKQ_CHILD_REDIS", server.url())
        .env("TASKQ_CHILD_LEASE_MS", lease_ms.to_string())
        .env("TASKQ_CHILD_CONCURRENCY", concurrency.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn execs(conn: &mut redis::aio::ConnectionManager) -> std::collections::HashMap<u32, u32> {
    // The first command after a Redis restart may hit the dead connection.
    for _ in 0..20 {
        if let Ok(map) = conn.hgetall("execs").await {
            return map;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot read the execution counts")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_loses_nothing() {
    const N: u32 = 2000;
    let server = RedisServer::start().unwrap();
    let (client, broker) = connect(&server).await;
    let mut conn = counter(&server).await.conn;
    let sent = client
        .send_batch((0..N).map(|i| count::call(i, 4)))
        .await
        .unwrap();

    let mut victim = spawn_child(&server, LEASE_MS, 8);
    assert!(
        eventually(Duration::from_secs(60), || {
            let mut c = conn.clone();
            async move { c.hlen::<_, u64>("execs").await.unwrap() >= 300 }
        })
        .await,
        "the first worker made progress"
    );
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let killed_ms = epoch_ms();
    let done_before: u64 = conn.hlen("execs").await.unwrap();
    assert!(
        done_before < u64::from(N),
        "killed in the middle of the batch"
    );
    // What the victim held when it died (nobody else runs a worker yet).
    let mut stranded: Vec<String> = Vec::new();
    let inflight: Vec<String> = conn.keys(format!("{{{NS}}}:inflight:*")).await.unwrap();
    for k in inflight {
        stranded.extend(conn.hkeys::<_, Vec<String>>(k).await.unwrap());
    }
    assert!(!stranded.is_empty(), "killed while running tasks");

    let mut rescuer = spawn_child(&server, LEASE_MS, 8);
    let rescuer_id = worker_id_of(&broker, &rescuer).await;
    // Measured from the kill or from the rescuer's registration, whichever
    // is later: before that no live worker could reclaim anything.
    let from_ms = killed_ms.max(epoch_ms());
    let mut restarted_ms = Vec::new();
    for id in &stranded {
        let id = taskq::TaskId::new(id.as_str()).unwrap();
        restarted_ms.push(restart_on(&client, &id, &rescuer_id).await);
    }
    for r in &sent {
        let out = r.wait(Duration::from_secs(120)).await;
        assert!(out.is_ok(), "task {} did not complete: {out:?}", r.id());
    }
    // The contract: the dead worker's lease runs out within one lease of its
    // last heartbeat; the rescuer's reaper looks every ~lease/4 and puts the
    // tasks at the head of their queue. Asserted with slack: every stranded
    // task restarted within two leases and a second.
    let latest = restarted_ms.iter().max().unwrap().saturating_sub(from_ms);
    assert!(
        latest <= 2 * LEASE_MS + 1000,
        "the killed worker's tasks restarted up to {latest} ms after the rescuer was up (lease {LEASE_MS} ms)"
    );
    println!(
        "{} stranded tasks restarted within {latest} ms (lease {LEASE_MS} ms)",
        stranded.len()
    );
    rescuer.kill().unwrap();
    rescuer.wait().unwrap();

    let execs = execs(&mut conn).await;
    assert_eq!(execs.len() as u32, N, "every task ran");
    let extra: u32 = execs.values().map(|n| n - 1).sum();
    // Only the tasks in flight at the kill (at most its concurrency) may have
    // run twice; nothing else.
    assert!(extra <= 8, "{extra} duplicate runs");
    assert!(broker_is_clean(&broker).await);
}

/// The lease of the worker processes in `sigkilled_worker_loses_nothing`.
const LEASE_MS: u64 = 1500;

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The worker id under which the process `child` registered, once it has.
async fn worker_id_of(broker: &RedisBroker, child: &Child) -> String {
    use taskq::broker::Broker;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let workers = broker.workers().await.unwrap();
        if let Some(w) = workers.into_iter().find(|w| w.pid == child.id()) {
            return w.id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker process {} never registered",
            child.id()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When `worker` started task `id` (its record's start time), once it has.
async fn restart_on(client: &Client, id: &taskq::TaskId, worker: &str) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(rec) = client.record(id).await.unwrap()
            && rec.worker.as_deref() == Some(worker)
            && let Some(started) = rec.started_ms
        {
            return started;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task {id} of the killed worker was never re-run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// After everything finished: no queued, delayed or in-flight task remains.
async fn broker_is_clean(broker: &RedisBroker) -> bool {
    let mut conn = broker.connection();
    let inflight: Vec<String> = conn.keys(format!("{{{NS}}}:inflight:*")).await.unwrap();
    let mut held = 0u64;
    for k in inflight {
        held += conn.hlen::<_, u64>(k).await.unwrap();
    }
    use taskq::broker::Broker;
    let queued: u64 = broker
        .queue_depths()
        .await
        .unwrap()
        .iter()
        .map(|q| q.ready.iter().sum::<u64>() + q.delayed)
        .sum();
    held == 0 && queued == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_longer_than_its_lease_runs_once_on_a_live_worker() {
    let server = RedisServer::start().unwrap();
    let (client, broker) = connect(&server).await;
    let lease = Duration::from_millis(600);
    // Two workers, each reaping the other: neither may steal the long task.
    let w1 = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<count>()
            .lease(lease),
    );
    let w2 = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<count>()
            .lease(lease),
    );
    let r = client.send(count::call(7, 3000)).await.unwrap(); // five leases long
    assert_eq!(r.wait(Duration::from_secs(30)).await.unwrap(), 7);
    let mut conn = counter(&server).await.conn;
    assert_eq!(execs(&mut conn).await.get(&7), Some(&1), "ran exactly once");
    w1.shutdown().await;
    w2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_with_aof_loses_no_queued_task() {
    const N: u32 = 1000;
    let mut server = RedisServer::start_persistent().unwrap();
    let sent_ids = {
        let (client, _) = connect(&server).await;
        let sent = client
            .send_batch((0..N).map(|i| count::call(i, 0)))
            .await
            .unwrap();
        sent.iter().map(|r| r.id().clone()).collect::<Vec<_>>()
    };
    server.restart().unwrap();
    let (client, broker) = connect(&server).await;
    let w = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<count>()
            .concurrency(16),
    );
    for id in &sent_ids {
        let r = client.result::<u32>(id.clone());
        r.wait(Duration::from_secs(60)).await.unwrap();
    }
    let mut conn = counter(&server).await.conn;
    let execs = execs(&mut conn).await;
    assert_eq!(execs.len() as u32, N);
    assert!(execs.values().all(|&n| n == 1));
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_while_processing_loses_nothing() {
    const N: u32 = 600;
    let mut server = RedisServer::start_persistent().unwrap();
    let (client, broker) = connect(&server).await;
    let w = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<count>()
            .concurrency(8)
            .lease(Duration::from_secs(5)),
    );
    let sent = client
        .send_batch((0..N).map(|i| count::call(i, 3)))
        .await
        .unwrap();
    let mut conn = counter(&server).await.conn;
    assert!(
        eventually(Duration::from_secs(60), || {
            let mut c = conn.clone();
            async move { c.hlen::<_, u64>("execs").await.unwrap_or(0) >= 100 }
        })
        .await
    );
    server.restart().unwrap();
    for r in &sent {
        r.wait(Duration::from_secs(90)).await.unwrap();
    }
    let execs = execs(&mut conn).await;
    assert_eq!(execs.len() as u32, N, "every task ran");
    assert!(broker_is_clean(&broker).await);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_dead_lettered_and_the_queue_keeps_flowing() {
    use taskq::broker::Broker;
    let server = RedisServer::start().unwrap();
    let (client, broker) = connect(&server).await;
    let mut conn = broker.connection();
    let queue = format!("{{{NS}}}:q:default:1");
    // Not a taskq frame at all; a frame whose envelope is garbage; a frame
    // whose arguments do not fit the task.
    let _: () = conn.lpush(&queue, "garbage pushed by hand").await.unwrap();
    let _: () = conn
        .lpush(&queue, b"tq1:bad-envelope\n\xc1\xc1\xc1".as_slice())
        .await
        .unwrap();
    let mut wrong = count::call(1, 0).into_raw().unwrap();
    wrong.args = rmp_serde::to_vec(&("not", "numbers", "at all")).unwrap();
    let (wrong_id, _) = client.send_raw(wrong).await.unwrap();
    let good = client
        .send_batch((0..20).map(|i| count::call(i, 0)))
        .await
        .unwrap();

    let w = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<count>(),
    );
    for r in &good {
        r.wait(Duration::from_secs(30)).await.unwrap();
    }
    assert!(
        eventually(Duration::from_secs(10), || async {
            broker.dead_letters(10).await.unwrap().len() == 3
        })
        .await
    );
    let dead = broker.dead_letters(10).await.unwrap();
    let reasons: Vec<&str> = dead.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("malformed frame")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("undecodable message")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("undecodable arguments")),
        "{reasons:?}"
    );
    let rec = client.record(&wrong_id).await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::Failed);
    assert_eq!(rec.error.unwrap().kind, FailureKind::Undecodable);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_keeps_killing_workers_is_dead_lettered() {
    use taskq::broker::Broker;
    let server = RedisServer::start().unwrap();
    let (client, broker) = connect(&server).await;
    let poison = client.send(killer::call()).await.unwrap();
    let healthy = client.send(count::call(1, 0)).await.unwrap();
    // Each worker picks the poison task up and dies; the next one reaps it.
    // With max_worker_kills = 2 the third death dead-letters it.
    let mut spawned = 0;
    while poison.state().await.unwrap() != TaskState::Failed {
        assert!(spawned < 8, "the poison task was never dead-lettered");
        let mut child = spawn_child(&server, 500, 1);
        spawned += 1;
        let _ = tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        })
        .await;
        tokio::time::sleep(Duration::from_millis(600)).await; // let the lease expire
    }
    let rec = poison.record().await.unwrap().unwrap();
    assert_eq!(
        rec.error.as_ref().unwrap().kind,
        FailureKind::Poison,
        "{rec:?}"
    );
    let dead = broker.dead_letters(10).await.unwrap();
    assert!(
        dead.iter().any(|d| d.reason.contains("killed its worker")),
        "{dead:?}"
    );
    // The queue is not blocked: the healthy task runs.
    let w = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<count>(),
    );
    assert_eq!(healthy.wait(Duration::from_secs(30)).await.unwrap(), 1);
    w.shutdown().await;
    let runs: u32 = counter(&server)
        .await
        .conn
        .get("killer_runs")
        .await
        .unwrap();
    assert_eq!(
        runs, 3,
        "ran until it had killed its worker more than twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_can_be_requeued() {
    use taskq::broker::Broker;
    let server = RedisServer::start().unwrap();
    let (client, broker) = connect(&server).await;
    // A worker that does not know the task... is not a dead letter; make one:
    // a call whose arguments the deployed `faults.count` cannot decode.
    let mut wrong = count::call(1, 0).into_raw().unwrap();
    wrong.args = rmp_serde::to_vec(&("fixed",)).unwrap();
    let (id, _) = client.send_raw(wrong).await.unwrap();
    let w = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<count>(),
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            broker.dead_letters(10).await.unwrap().len() == 1
        })
        .await
    );
    // Requeued to the same worker, it fails again and returns to the list.
    assert_eq!(broker.requeue_dead_letters(10).await.unwrap(), 1);
    assert!(
        eventually(Duration::from_secs(10), || async {
            broker.dead_letters(10).await.unwrap().len() == 1
                && client.record(&id).await.unwrap().unwrap().state == TaskState::Failed
        })
        .await
    );
    w.shutdown().await;

    // Once a worker that understands it is deployed, a requeued dead letter
    // runs to completion, once.
    let w = spawn(
        Worker::builder(broker.clone())
            .state(counter(&server).await)
            .register::<count_v2>(),
    );
    assert_eq!(broker.requeue_dead_letters(10).await.unwrap(), 1);
    let r = client.result::<u32>(id.clone());
    assert!(
        eventually(Duration::from_secs(30), || async {
            r.state().await.unwrap() == TaskState::Succeeded
        })
        .await,
        "the requeued task never succeeded: {:?}",
        r.record().await
    );
    assert_eq!(r.wait(Duration::from_secs(5)).await.unwrap(), 5);
    let mut conn = counter(&server).await.conn;
    let runs: std::collections::HashMap<String, u32> = conn.hgetall("execs_v2").await.unwrap();
    assert_eq!(runs.get("fixed"), Some(&1), "ran once: {runs:?}");
    assert!(broker.dead_letters(10).await.unwrap().is_empty());
    assert!(
        execs(&mut conn).await.is_empty(),
        "the old version never ran it"
    );
    w.shutdown().await;
    assert!(broker_is_clean(&broker).await);
}
