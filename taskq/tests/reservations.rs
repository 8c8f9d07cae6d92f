//! Proof tests for resource reservations: conflicting tasks never overlap,
//! tasks on one resource start in dispatch order, waiters hold no worker
//! slot, a dead holder's reservations are released within its lease, and a
//! requeued holder keeps its reservation until its re-run has finished.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Backend, eventually, spawn};
use taskq::broker::EnqueueStatus;
use taskq::testing::RedisServer;
use taskq::worker::Worker;
use taskq::{
    CancelStatus, Client, FailureKind, RedisBroker, RedisConfig, TaskContext, TaskError, TaskState,
    task,
};

/// Records, atomically, which tasks hold which resource, and flags overlaps.
#[async_trait::async_trait]
trait Recorder: Send + Sync {
    async fn start(&self, id: u32, res: &[(String, bool)]);
    async fn end(&self, id: u32, res: &[(String, bool)]);
}

type Rec = Arc<dyn Recorder>;

/// One unit of work on some resources: records its start and end.
#[task(name = "res.work")]
async fn work(
    ctx: TaskContext<Rec>,
    id: u32,
    res: Vec<(String, bool)>,
    ms: u64,
) -> Result<u32, TaskError> {
    ctx.state().start(id, &res).await;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ctx.state().end(id, &res).await;
    Ok(id)
}

/// A holder that never finishes by itself.
#[task(name = "res.hold", on_worker_lost = "fail")]
async fn hold(ctx: TaskContext<Rec>, id: u32, res: Vec<(String, bool)>) -> Result<(), TaskError> {
    ctx.state().start(id, &res).await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}

// ---------------------------------------------------------------- recorders

#[derive(Default)]
struct MemRecorder {
    inner: Mutex<MemState>,
}

#[derive(Default)]
struct MemState {
    /// resource → (exclusive holders, shared holders)
    holders: HashMap<String, (u32, u32)>,
    starts: HashMap<String, Vec<u32>>,
    violations: Vec<String>,
    max_shared: u32,
}

#[async_trait::async_trait]
impl Recorder for MemRecorder {
    async fn start(&self, id: u32, res: &[(String, bool)]) {
        let mut s = self.inner.lock().unwrap();
        for (r, exclusive) in res {
            let (x, sh) = *s.holders.get(r).unwrap_or(&(0, 0));
            let conflict = x > 0 || (*exclusive && sh > 0);
            if conflict {
                s.violations
                    .push(format!("task {id} started on {r} held by x={x} s={sh}"));
            }
            let h = s.holders.entry(r.clone()).or_default();
            if *exclusive {
                h.0 += 1;
            } else {
                h.1 += 1;
            }
            let shared_now = h.1;
            s.max_shared = s.max_shared.max(shared_now);
            s.starts.entry(r.clone()).or_default().push(id);
        }
    }

    async fn end(&self, _id: u32, res: &[(String, bool)]) {
        let mut s = self.inner.lock().unwrap();
        for (r, exclusive) in res {
            let h = s.holders.entry(r.clone()).or_default();
            if *exclusive {
                h.0 -= 1;
            } else {
                h.1 -= 1;
            }
        }
    }
}

/// The same bookkeeping in Redis (one Lua script per event), for tasks
/// running in several processes; also logs each start and end per resource
/// (`events:<resource>`, `start:<id>` / `end:<id>`), which stays readable
/// when a killed holder never records its end.
struct RedisRecorder {
    conn: redis::aio::ConnectionManager,
}

const START: &str = r"
local bad = 0
for i = 1, #KEYS do
  local r = KEYS[i]
  local excl = ARGV[i + 1] == '1'
  local x = tonumber(redis.call('HGET', 'holders:' .. r, 'x') or '0')
  local s = tonumber(redis.call('HGET', 'holders:' .. r, 's') or '0')
  if (excl and (x > 0 or s > 0)) or ((not excl) and x > 0) then bad = bad + 1 end
  redis.call('HINCRBY', 'holders:' .. r, excl and 'x' or 's', 1)
  if not excl then
    local now = tonumber(redis.call('HGET', 'holders:' .. r, 's'))
    local max = tonumber(redis.call('GET', 'max_shared') or '0')
    if now > max then redis.call('SET', 'max_shared', now) end
  end
  redis.call('RPUSH', 'starts:' .. r, ARGV[1])
  redis.call('RPUSH', 'events:' .. r, 'start:' .. ARGV[1])
end
if bad > 0 then redis.call('INCRBY', 'violations', bad) end
return bad
";

const END: &str = r"
for i = 1, #KEYS do
  redis.call('HINCRBY', 'holders:' .. KEYS[i], ARGV[i + 1] == '1' and 'x' or 's', -1)
  redis.call('RPUSH', 'events:' .. KEYS[i], 'end:' .. ARGV[1])
end
return 0
";

#[async_trait::async_trait]
impl Recorder for RedisRecorder {
    async fn start(&self, id: u32, res: &[(String, bool)]) {
        let script = redis::Script::new(START);
        let mut inv = script.prepare_invoke();
        inv.arg(id);
        for (r, x) in res {
            inv.key(r).arg(if *x { "1" } else { "0" });
        }
        let _: i64 = inv.invoke_async(&mut self.conn.clone()).await.unwrap();
    }

    async fn end(&self, id: u32, res: &[(String, bool)]) {
        let script = redis::Script::new(END);
        let mut inv = script.prepare_invoke();
        inv.arg(id);
        for (r, x) in res {
            inv.key(r).arg(if *x { "1" } else { "0" });
        }
        let _: i64 = inv.invoke_async(&mut self.conn.clone()).await.unwrap();
    }
}

// ---------------------------------------------------------------- workload

/// A deterministic mix: each task takes one or two of `n_res` resources,
/// exclusive about a third of the time.
fn workload(n: u32, n_res: u32) -> Vec<Vec<(String, bool)>> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|_| {
            let a = (next() % u64::from(n_res)) as u32;
            let mut res = vec![(format!("r{a}"), next() % 3 == 0)];
            if next() % 4 == 0 {
                let b = (next() % u64::from(n_res)) as u32;
                if b != a {
                    res.push((format!("r{b}"), next() % 3 == 0));
                }
            }
            res
        })
        .collect()
}

fn call(id: u32, res: &[(String, bool)], ms: u64) -> taskq::Signature<work> {
    let mut c = work::call(id, res.to_vec(), ms);
    for (r, x) in res {
        c = if *x {
            c.exclusive(r.clone())
        } else {
            c.shared(r.clone())
        };
    }
    c
}

/// Checks FIFO per resource: exclusive tasks start in dispatch order, and a
/// shared task starts after every earlier exclusive task on that resource and
/// before every later one.
fn check_fifo(plan: &[Vec<(String, bool)>], starts: &HashMap<String, Vec<u32>>) {
    for (r, order) in starts {
        let dispatched: Vec<(u32, bool)> = plan
            .iter()
            .enumerate()
            .filter_map(|(i, res)| {
                res.iter()
                    .find(|(n, _)| n == r)
                    .map(|(_, x)| (i as u32, *x))
            })
            .collect();
        assert_eq!(
            order.len(),
            dispatched.len(),
            "every task on {r} started once"
        );
        let excl_dispatch: Vec<u32> = dispatched
            .iter()
            .filter(|(_, x)| *x)
            .map(|(i, _)| *i)
            .collect();
        let is_excl: HashSet<u32> = excl_dispatch.iter().copied().collect();
        let excl_started: Vec<u32> = order
            .iter()
            .copied()
            .filter(|i| is_excl.contains(i))
            .collect();
        assert_eq!(
            excl_started, excl_dispatch,
            "exclusive tasks on {r} started in dispatch order"
        );
        for (pos, id) in order.iter().enumerate() {
            if is_excl.contains(id) {
                continue;
            }
            let before: HashSet<u32> = order[..pos]
                .iter()
                .copied()
                .filter(|i| is_excl.contains(i))
                .collect();
            let expected: HashSet<u32> = excl_dispatch.iter().copied().filter(|e| e < id).collect();
            assert_eq!(
                before, expected,
                "shared task {id} on {r} started between the right exclusive tasks"
            );
        }
    }
}

// ---------------------------------------------------------------- tests on both brokers

async fn conflicting_tasks_never_overlap_and_start_in_order(b: Backend) {
    let rec = Arc::new(MemRecorder::default());
    let state: Rec = rec.clone();
    let w1 = spawn(
        Worker::builder(b.client())
            .state(Arc::clone(&state))
            .register::<work>()
            .concurrency(8),
    );
    let w2 = spawn(
        Worker::builder(b.client())
            .state(state)
            .register::<work>()
            .concurrency(8),
    );
    let plan = workload(300, 10);
    let sent = b
        .client()
        .send_batch(
            plan.iter()
                .enumerate()
                .map(|(i, res)| call(i as u32, res, 2)),
        )
        .await
        .unwrap();
    for r in &sent {
        r.wait(Duration::from_secs(60)).await.unwrap();
    }
    {
        let s = rec.inner.lock().unwrap();
        assert!(s.violations.is_empty(), "{:?}", s.violations);
        assert!(s.max_shared > 1, "shared holders ran side by side");
        check_fifo(&plan, &s.starts);
    }
    w1.shutdown().await;
    w2.shutdown().await;
}

async fn waiters_hold_no_slot_and_block_nothing_else(b: Backend) {
    let rec: Rec = Arc::new(MemRecorder::default());
    let client = b.client();
    // One worker with two slots.
    let w = spawn(
        Worker::builder(b.client())
            .state(rec)
            .register::<work>()
            .register::<hold>()
            .concurrency(2),
    );
    let holder_res = vec![("busy".to_owned(), true)];
    let holder = client
        .send(hold::call(0, holder_res.clone()).exclusive("busy"))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(20), || async {
            holder.state().await.unwrap() == TaskState::Started
        })
        .await
    );
    let waiters = client
        .send_batch((1..=200).map(|i| call(i, &holder_res, 0)))
        .await
        .unwrap();
    for w in &waiters {
        assert_eq!(w.state().await.unwrap(), TaskState::Waiting);
    }
    // A task on a free resource runs at once, although 200 wait and only one
    // slot is left.
    let free = client
        .send(call(999, &[("free".to_owned(), true)], 0))
        .await
        .unwrap();
    assert_eq!(free.wait(Duration::from_secs(20)).await.unwrap(), 999);
    assert_eq!(holder.state().await.unwrap(), TaskState::Started);
    // A canceled waiter never runs; the others run in order once the holder ends.
    assert_eq!(waiters[0].cancel().await.unwrap(), CancelStatus::Canceled);
    assert_eq!(holder.cancel().await.unwrap(), CancelStatus::Canceling);
    for w in &waiters[1..] {
        w.wait(Duration::from_secs(60)).await.unwrap();
    }
    assert_eq!(waiters[0].state().await.unwrap(), TaskState::Canceled);
    w.shutdown().await;
}

async fn enqueue_reports_waiting(b: Backend) {
    let client = b.client();
    let first = client
        .send_raw(call(1, &[("a".into(), true)], 0).into_raw().unwrap())
        .await
        .unwrap();
    let second = client
        .send_raw(call(2, &[("a".into(), false)], 0).into_raw().unwrap())
        .await
        .unwrap();
    let third = client
        .send_raw(call(3, &[("b".into(), false)], 0).into_raw().unwrap())
        .await
        .unwrap();
    assert_eq!(first.1, EnqueueStatus::Queued);
    assert_eq!(second.1, EnqueueStatus::Waiting);
    assert_eq!(third.1, EnqueueStatus::Queued);
    let rec = client.record(&second.0).await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::Waiting);
    assert_eq!(rec.resources, vec!["s:a".to_owned()]);
}

both_brokers!(
    conflicting_tasks_never_overlap_and_start_in_order,
    waiters_hold_no_slot_and_block_nothing_else,
    enqueue_reports_waiting,
);

// ---------------------------------------------------------------- Redis, several processes

const NS: &str = "reservations";

/// Not a test on its own: with `TASKQ_CHILD_REDIS` set, runs a worker process.
#[test]
fn child_worker() {
    let Ok(url) = std::env::var("TASKQ_CHILD_REDIS") else {
        return;
    };
    let lease = std::env::var("TASKQ_CHILD_LEASE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
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
        let rec: Rec = Arc::new(RedisRecorder { conn });
        Worker::builder(broker)
            .state(rec)
            .register::<work>()
            .register::<hold>()
            .concurrency(8)
            .lease(Duration::from_millis(lease))
            .build()
            .unwrap()
            .run()
            .await
            .unwrap();
    });
}

fn spawn_child(server: &RedisServer, lease_ms: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env("TASKQ_CHILD_REDIS", server.url())
        .env("TASKQ_CHILD_LEASE_MS", lease_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn redis_client(server: &RedisServer) -> Client {
    Client::new(
        RedisBroker::connect_with(RedisConfig::new(server.url()).namespace(NS))
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_tasks_four_processes_no_overlap_fifo() {
    let server = RedisServer::start().unwrap();
    let client = redis_client(&server).await;
    let plan = workload(1000, 10);
    let sent = client
        .send_batch(
            plan.iter()
                .enumerate()
                .map(|(i, res)| call(i as u32, res, 1)),
        )
        .await
        .unwrap();
    let mut children: Vec<Child> = (0..4).map(|_| spawn_child(&server, 2000)).collect();
    for r in &sent {
        r.wait(Duration::from_secs(120)).await.unwrap();
    }
    for c in &mut children {
        let _ = Command::new("kill").arg(c.id().to_string()).status();
        let _ = c.wait();
    }
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    use redis::AsyncCommands;
    let violations: Option<i64> = conn.get("violations").await.unwrap();
    assert_eq!(violations, None, "conflicting tasks overlapped");
    let max_shared: i64 = conn.get("max_shared").await.unwrap();
    assert!(max_shared > 1, "shared holders ran side by side");
    let mut starts = HashMap::new();
    for r in 0..10 {
        let order: Vec<u32> = conn.lrange(format!("starts:r{r}"), 0, -1).await.unwrap();
        starts.insert(format!("r{r}"), order);
    }
    check_fifo(&plan, &starts);
    // Nothing is left reserved.
    let left: Vec<String> = conn.keys(format!("{{{NS}}}:res:[qx]:*")).await.unwrap();
    assert!(left.is_empty(), "reservations left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_holder_releases_its_reservation_with_its_lease() {
    let server = RedisServer::start().unwrap();
    let client = redis_client(&server).await;
    let res = vec![("repo:1".to_owned(), true)];
    let holder = client
        .send(hold::call(0, res.clone()).exclusive("repo:1"))
        .await
        .unwrap();
    let next = client.send(call(1, &res, 0)).await.unwrap();
    let mut victim = spawn_child(&server, LEASE_MS);
    assert!(
        eventually(Duration::from_secs(20), || async {
            holder.state().await.unwrap() == TaskState::Started
        })
        .await
    );
    assert_eq!(next.state().await.unwrap(), TaskState::Waiting);
    // The rescuer runs before the kill, so that the time measured below is
    // the reclaim alone, not a process start.
    let mut rescuer = spawn_child(&server, LEASE_MS);
    wait_registered(&client, &rescuer).await;
    victim.kill().unwrap();
    victim.wait().unwrap();
    let killed_ms = epoch_ms();
    assert_eq!(next.wait(Duration::from_secs(30)).await.unwrap(), 1);
    let rec = holder.record().await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::Failed);
    let err = rec.error.unwrap();
    assert_eq!(err.kind, FailureKind::WorkerLost);
    assert!(err.message.contains("gone missing"), "{}", err.message);
    // The contract: a dead worker's lease runs out within one lease of its
    // last heartbeat, and a live worker's reaper looks every ~lease/4, so
    // the waiter starts about 1.3 leases after the kill at the latest.
    // Asserted with slack: two leases and a second.
    let started_ms = next.record().await.unwrap().unwrap().started_ms.unwrap();
    let waited = started_ms.saturating_sub(killed_ms);
    println!("the waiter started {waited} ms after the kill (lease {LEASE_MS} ms)");
    assert!(
        waited <= 2 * LEASE_MS + 1000,
        "the waiter started {waited} ms after its holder's worker was killed (lease {LEASE_MS} ms)"
    );
    let _ = Command::new("kill").arg(rescuer.id().to_string()).status();
    let _ = rescuer.wait();
}

/// The lease of the worker processes in the kill tests.
const LEASE_MS: u64 = 1000;

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Waits until the worker process `child` has registered.
async fn wait_registered(client: &Client, child: &Child) {
    let pid = child.id();
    assert!(
        eventually(Duration::from_secs(20), || async {
            client
                .broker()
                .workers()
                .await
                .unwrap()
                .iter()
                .any(|w| w.pid == pid)
        })
        .await,
        "worker process {pid} registered"
    );
}

/// `on_worker_lost = "requeue"` (the default) on a reserved resource: the
/// holder killed with its worker runs again on another worker, still
/// holding its reservation, so that no waiter on the resource starts before
/// the re-run has finished; then every task completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_holder_is_requeued_and_keeps_its_reservation() {
    use redis::AsyncCommands;
    let server = RedisServer::start().unwrap();
    let client = redis_client(&server).await;
    let excl = vec![("repo:2".to_owned(), true)];
    let shared = vec![("repo:2".to_owned(), false)];
    let holder = client.send(call(0, &excl, 2500)).await.unwrap();
    let waiters = vec![
        client.send(call(1, &excl, 100)).await.unwrap(),
        client.send(call(2, &shared, 100)).await.unwrap(),
        client.send(call(3, &shared, 100)).await.unwrap(),
    ];
    let mut victim = spawn_child(&server, LEASE_MS);
    assert!(
        eventually(Duration::from_secs(20), || async {
            holder.state().await.unwrap() == TaskState::Started
        })
        .await
    );
    for w in &waiters {
        assert_eq!(w.state().await.unwrap(), TaskState::Waiting);
    }
    let mut rescuer = spawn_child(&server, LEASE_MS);
    wait_registered(&client, &rescuer).await;
    victim.kill().unwrap(); // SIGKILL, mid-run
    victim.wait().unwrap();

    assert_eq!(holder.wait(Duration::from_secs(60)).await.unwrap(), 0);
    for (i, w) in waiters.iter().enumerate() {
        assert_eq!(w.wait(Duration::from_secs(60)).await.unwrap(), i as u32 + 1);
    }
    let rec = holder.record().await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::Succeeded);
    let rescuer_id = client
        .broker()
        .workers()
        .await
        .unwrap()
        .into_iter()
        .find(|w| w.pid == rescuer.id())
        .map(|w| w.id);
    assert_eq!(
        rec.worker, rescuer_id,
        "the rescuer ran the requeued holder"
    );

    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    let events: Vec<String> = conn.lrange("events:repo:2", 0, -1).await.unwrap();
    let pos = |e: &str| events.iter().position(|x| x == e);
    assert_eq!(
        events.iter().filter(|e| *e == "start:0").count(),
        2,
        "the holder started on the victim, then again on the rescuer: {events:?}"
    );
    assert_eq!(&events[..2], ["start:0", "start:0"], "{events:?}");
    let holder_end = pos("end:0").expect("the re-run holder finished");
    for i in 1..=3 {
        let start = pos(&format!("start:{i}")).unwrap_or_else(|| panic!("{i} ran: {events:?}"));
        assert!(
            start > holder_end,
            "waiter {i} started before the requeued holder had finished: {events:?}"
        );
    }
    assert_eq!(
        events.len(),
        2 + 1 + 3 * 2,
        "each waiter ran once: {events:?}"
    );
    // Nothing is left reserved.
    let left: Vec<String> = conn.keys(format!("{{{NS}}}:res:[qx]:*")).await.unwrap();
    assert!(left.is_empty(), "reservations left: {left:?}");
    let _ = Command::new("kill").arg(rescuer.id().to_string()).status();
    let _ = rescuer.wait();
}
