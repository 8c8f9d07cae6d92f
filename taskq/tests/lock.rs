//! Proof tests for distributed locks, against a real redis-server: many
//! contenders in several processes never hold a lock at once, fencing tokens
//! strictly increase across grants, a SIGKILLed holder's lock expires after
//! its lease, and only the owner can release a lock. Child processes are
//! this test binary re-executed with `TASKQ_LOCK_CHILD` set.
#![cfg(feature = "lock")]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::eventually;
use redis::AsyncCommands;
use taskq::lock::Lock;
use taskq::testing::RedisServer;
use taskq::{Error, RedisBroker, RedisConfig};

const NS: &str = "locks";

async fn broker(url: &str) -> RedisBroker {
    RedisBroker::connect_with(RedisConfig::new(url).namespace(NS))
        .await
        .unwrap()
}

/// Records, atomically, that the caller now holds the lock: counts holders
/// (and overlaps) and appends the grant's fencing token in holding order.
const ENTER: &str = r"
local h = redis.call('INCR', 'holders')
if h > 1 then redis.call('INCR', 'violations') end
redis.call('RPUSH', 'tokens', ARGV[1])
return h
";

/// One contender: `rounds` times acquire, record, hold briefly, release.
/// Uses its own connections.
async fn contend(url: String, rounds: u32) {
    let b = broker(&url).await;
    let mut conn = b.connection();
    let enter = redis::Script::new(ENTER);
    let lock = Lock::new(&b, "shared");
    for _ in 0..rounds {
        let guard = lock
            .acquire(Duration::from_secs(10), Duration::from_secs(120))
            .await
            .unwrap();
        let _: i64 = enter
            .arg(guard.fencing_token())
            .invoke_async(&mut conn)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..4))).await;
        let _: i64 = conn.decr("holders", 1).await.unwrap();
        assert!(guard.release().await.unwrap(), "the holder releases it");
    }
}

/// Not a test on its own: when `TASKQ_LOCK_CHILD` is set, this process
/// runs contenders (`contend`) or holds a lock until it is killed (`hold`).
#[test]
fn child_process() {
    let Ok(mode) = std::env::var("TASKQ_LOCK_CHILD") else {
        return;
    };
    let url = std::env::var("TASKQ_LOCK_URL").unwrap();
    let n: u32 = std::env::var("TASKQ_LOCK_N").unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        if mode == "contend" {
            let rounds: u32 = std::env::var("TASKQ_LOCK_ROUNDS").unwrap().parse().unwrap();
            let tasks: Vec<_> = (0..n)
                .map(|_| tokio::spawn(contend(url.clone(), rounds)))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        } else {
            let b = broker(&url).await;
            let guard = Lock::new(&b, "victim")
                .acquire(Duration::from_millis(u64::from(n)), Duration::from_secs(10))
                .await
                .unwrap();
            let _: () = b
                .connection()
                .set("victim_token", guard.fencing_token())
                .await
                .unwrap();
            std::future::pending::<()>().await;
        }
    });
}

fn spawn_child(server: &RedisServer, mode: &str, n: u32, rounds: u32) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TASKQ_LOCK_CHILD", mode)
        .env("TASKQ_LOCK_URL", server.url())
        .env("TASKQ_LOCK_N", n.to_string())
        .env("TASKQ_LOCK_ROUNDS", rounds.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contenders_never_hold_it_at_once_and_tokens_increase() {
    const ROUNDS: u32 = 5;
    let server = RedisServer::start().unwrap();
    // 20 contenders: 12 here (each with its own connections), 4 in each of
    // two child processes.
    let children = [
        spawn_child(&server, "contend", 4, ROUNDS),
        spawn_child(&server, "contend", 4, ROUNDS),
    ];
    let local: Vec<_> = (0..12)
        .map(|_| tokio::spawn(contend(server.url(), ROUNDS)))
        .collect();
    for t in local {
        t.await.unwrap();
    }
    for mut child in children {
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "a child contender failed: {status}");
    }

    let mut conn = broker(&server.url()).await.connection();
    let violations: Option<u64> = conn.get("violations").await.unwrap();
    assert_eq!(violations, None, "two contenders held the lock at once");
    let tokens: Vec<u64> = conn.lrange("tokens", 0, -1).await.unwrap();
    assert_eq!(tokens.len() as u32, 20 * ROUNDS, "every grant recorded");
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "fencing tokens strictly increase in grant order: {tokens:?}"
    );
    assert!(
        Lock::new(&broker(&server.url()).await, "shared")
            .holder()
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_holder_loses_the_lock_after_its_lease() {
    const TTL_MS: u32 = 1500;
    let server = RedisServer::start().unwrap();
    let b = broker(&server.url()).await;
    let mut conn = b.connection();
    let mut holder = spawn_child(&server, "hold", TTL_MS, 0);
    assert!(
        eventually(Duration::from_secs(30), || {
            let mut c = conn.clone();
            async move { c.exists::<_, bool>("victim_token").await.unwrap() }
        })
        .await,
        "the child took the lock"
    );
    let victim: u64 = conn.get("victim_token").await.unwrap();
    let lock = Lock::new(&b, "victim");
    // Alive, it renews its lease: still held three leases later.
    tokio::time::sleep(Duration::from_millis(3 * u64::from(TTL_MS))).await;
    assert!(
        lock.try_acquire(Duration::from_secs(5))
            .await
            .unwrap()
            .is_none(),
        "a live holder keeps its lock beyond one lease"
    );
    assert_eq!(lock.holder().await.unwrap().unwrap().token, victim);

    holder.kill().unwrap(); // SIGKILL: no release, no renewal
    holder.wait().unwrap();
    let guard = lock
        .acquire(Duration::from_secs(5), Duration::from_secs(30))
        .await
        .expect("the lock expires with the dead holder's lease");
    assert!(guard.fencing_token() > victim);
    assert!(guard.release().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_releases_and_renewal_failures_are_reported() {
    let server = RedisServer::start().unwrap();
    let b = broker(&server.url()).await;
    // A holder without renewal outlives its lease...
    let first = Lock::new(&b, "l")
        .auto_renew(false)
        .try_acquire(Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), first.lost())
        .await
        .expect("the guard reports the end of its lease");
    // ...someone else takes the lock...
    let lock = Lock::new(&b, "l");
    let second = lock
        .acquire(Duration::from_secs(30), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(second.fencing_token() > first.fencing_token());
    // ...and the former holder cannot release it.
    assert!(
        !first.release().await.unwrap(),
        "a non-owner cannot release"
    );
    assert_eq!(
        lock.holder().await.unwrap().unwrap().token,
        second.fencing_token(),
        "the new holder still holds it"
    );
    assert!(
        matches!(
            lock.acquire(Duration::from_secs(1), Duration::from_millis(200))
                .await,
            Err(Error::LockBusy(_))
        ),
        "a held lock times out its waiters"
    );

    // A waiter gets the lock when the holder releases it.
    let waiter = {
        let lock = lock.clone();
        tokio::spawn(async move {
            lock.acquire(Duration::from_secs(1), Duration::from_secs(20))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second_token = second.fencing_token();
    assert!(second.release().await.unwrap());
    let third = waiter.await.unwrap().expect("the waiter got the lock");
    assert!(third.fencing_token() > second_token);

    // A guard whose lock is taken away reports it at the next renewal.
    let mut conn = b.connection();
    let _: () = conn.del(format!("{{{NS}}}:lock:l")).await.unwrap();
    let fourth = lock
        .try_acquire(Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async { third.is_lost() }).await,
        "renewal noticed the lock is no longer ours"
    );
    assert!(!fourth.is_lost(), "the new holder keeps renewing");
    drop(third);
    drop(fourth);
    assert!(
        eventually(Duration::from_secs(10), || async {
            lock.holder().await.unwrap().is_none()
        })
        .await,
        "dropping a guard releases its lock"
    );
}
