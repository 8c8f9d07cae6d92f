//! Distributed lease locks for application code, on Redis.
//!
//! A [`Lock`] names something that only one holder at a time may work on,
//! anywhere in the cluster. Acquiring it grants a *lease* of `ttl`, which a
//! background task renews while the [`LockGuard`] lives, so a holder may
//! keep it as long as it runs; a holder that dies (SIGKILL, lost host)
//! stops renewing and its lock expires within `ttl`.
//!
//! - **Mutual exclusion** while leases are honoured: a grant is one Lua
//!   script that checks the lock is free and sets it with its TTL.
//! - **Release only by the owner**: every grant has a unique owner value;
//!   release is a compare-and-delete script, so a holder whose lease expired
//!   cannot release the next holder's lock.
//! - **Fencing tokens**: every grant gets a number larger than every earlier
//!   grant of the same lock (an `INCR` in the granting script). Pass it to
//!   the systems you write to and have them refuse writes with a smaller
//!   token than they have seen: that protects them even from a holder that
//!   was paused past its lease (a GC pause, a frozen VM) and still believes
//!   it holds the lock.
//! - **Lost leases are reported**: if renewal fails (the lock was taken
//!   over, or Redis was unreachable for most of a lease), the guard's
//!   [`lost`](LockGuard::lost) future completes; stop working then.
//! - **Waiting** wakes on the release notification (pub/sub), and otherwise
//!   polls with backoff, never later than the holder's TTL.
//!
//! ```no_run
//! # async fn demo() -> taskq::Result<()> {
//! use std::time::Duration;
//! use taskq::{RedisBroker, lock::Lock};
//!
//! let broker = RedisBroker::connect("redis://127.0.0.1:6379/").await?;
//! let lock = Lock::new(&broker, "repo:42");
//! // Wait up to 10 s for the lock; hold it with a 30 s lease, renewed.
//! let guard = lock.acquire(Duration::from_secs(30), Duration::from_secs(10)).await?;
//! let token = guard.fencing_token();
//! tokio::select! {
//!     () = guard.lost() => { /* the lease was lost: stop */ }
//!     () = async { /* work, passing `token` along with every write */ let _ = token; } => {}
//! }
//! guard.release().await?;
//! # Ok(()) }
//! ```
//!
//! Locks need Redis with persistence (AOF) for the fencing counter to keep
//! increasing across a Redis restart. Waiters are not served in order: after
//! a release, whichever waiter's script runs first wins.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::broker::RedisBroker;
use crate::error::{Error, Result};
use crate::time::millis;

/// Shortest lease accepted (renewal runs every third of it).
const MIN_TTL: Duration = Duration::from_millis(30);

/// A named lock on a Redis broker's server; cheap to clone. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct Lock {
    broker: RedisBroker,
    name: String,
    auto_renew: bool,
}

/// Who holds a lock, as read by [`Lock::holder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// The fencing token of the current grant.
    pub token: u64,
    /// The holder's owner id (unique per acquisition).
    pub owner: String,
    /// How long the lease has left.
    pub ttl_left: Duration,
}

/// One attempt's answer.
enum Attempt {
    Granted(LockGuard),
    Busy { ttl_left: Duration },
}

impl Lock {
    /// The lock `name` (any text) in `broker`'s namespace. Renewal is on.
    pub fn new(broker: &RedisBroker, name: impl Into<String>) -> Self {
        Lock {
            broker: broker.clone(),
            name: name.into(),
            auto_renew: true,
        }
    }

    /// Whether a guard renews its lease in the background (default true).
    /// Without renewal the lease simply ends after its TTL, and the guard's
    /// [`lost`](LockGuard::lost) future completes then.
    pub fn auto_renew(mut self, yes: bool) -> Self {
        self.auto_renew = yes;
        self
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Takes the lock if it is free right now, with a lease of `ttl`
    /// (at least 30 ms).
    ///
    /// # Errors
    /// A Redis error.
    pub async fn try_acquire(&self, ttl: Duration) -> Result<Option<LockGuard>> {
        Ok(match self.attempt(ttl).await? {
            Attempt::Granted(g) => Some(g),
            Attempt::Busy { .. } => None,
        })
    }

    /// Takes the lock with a lease of `ttl` (at least 30 ms), waiting up to
    /// `timeout` for its holder to release it or for the holder's lease to
    /// end.
    ///
    /// # Errors
    /// [`Error::LockBusy`] if the lock was still held at the deadline, or a
    /// Redis error.
    pub async fn acquire(&self, ttl: Duration, timeout: Duration) -> Result<LockGuard> {
        let deadline = Instant::now() + timeout;
        // Subscribe before the first attempt, so that a release between the
        // attempt and the wait is not missed.
        let watch = self
            .broker
            .watch(self.broker.keys().lock_channel(&self.name))
            .await?;
        let mut backoff = Duration::from_millis(10);
        loop {
            let notified = watch.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let ttl_left = match self.attempt(ttl).await? {
                Attempt::Granted(g) => return Ok(g),
                Attempt::Busy { ttl_left } => ttl_left,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::LockBusy(self.name.clone()));
            }
            // Wake on the release notice, at the latest when the holder's
            // lease ends, and poll with backoff in case a notice was lost.
            let nap = (deadline - now)
                .min(backoff)
                .min(ttl_left + Duration::from_millis(1));
            let _ = tokio::time::timeout(nap, notified).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Who holds the lock now, if anyone.
    ///
    /// # Errors
    /// A Redis error.
    pub async fn holder(&self) -> Result<Option<LockHolder>> {
        let key = self.broker.keys().lock(&self.name);
        let (value, pttl): (Option<String>, i64) = redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut self.broker.conn())
            .await?;
        Ok(value.and_then(|v| {
            let (token, owner) = v.split_once(' ')?;
            Some(LockHolder {
                token: token.parse().ok()?,
                owner: owner.to_owned(),
                ttl_left: Duration::from_millis(pttl.max(0) as u64),
            })
        }))
    }

    async fn attempt(&self, ttl: Duration) -> Result<Attempt> {
        let ttl = ttl.max(MIN_TTL);
        let k = self.broker.keys();
        let owner = uuid::Uuid::now_v7().to_string();
        let (granted, n): (i64, i64) = self
            .broker
            .scripts()
            .lock_acquire
            .key(k.lock(&self.name))
            .key(k.lock_fence(&self.name))
            .arg(&owner)
            .arg(millis(ttl))
            .invoke_async(&mut self.broker.conn())
            .await?;
        if granted == 0 {
            // PTTL is -1 for a key without TTL (set by hand) and -2 if it
            // vanished meanwhile: retry soon in both cases.
            return Ok(Attempt::Busy {
                ttl_left: Duration::from_millis(n.max(1) as u64),
            });
        }
        let token = n as u64;
        Ok(Attempt::Granted(LockGuard::start(
            self.clone(),
            token,
            format!("{token} {owner}"),
            ttl,
        )))
    }
}

/// A held lock. Renews its lease in the background (unless renewal was
/// turned off); dropping it releases the lock in the background, and
/// [`LockGuard::release`] does so and reports the outcome.
#[derive(Debug)]
pub struct LockGuard {
    lock: Lock,
    token: u64,
    /// `<token> <owner>`: what the lock's key holds while we hold it.
    value: String,
    lost: CancellationToken,
    stop: CancellationToken,
    released: bool,
}

impl LockGuard {
    fn start(lock: Lock, token: u64, value: String, ttl: Duration) -> Self {
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        let state = Arc::new(Renewal {
            lock: lock.clone(),
            value: value.clone(),
            ttl,
        });
        if lock.auto_renew {
            tokio::spawn(renew_loop(state, lost.clone(), stop.clone()));
        } else {
            let (lost, stop) = (lost.clone(), stop.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = tokio::time::sleep(ttl) => lost.cancel(),
                    () = stop.cancelled() => {}
                }
            });
        }
        LockGuard {
            lock,
            token,
            value,
            lost,
            stop,
            released: false,
        }
    }

    /// The fencing token of this grant: larger than that of every earlier
    /// grant of the same lock.
    pub fn fencing_token(&self) -> u64 {
        self.token
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.lock.name
    }

    /// Whether the lease is known to be lost (renewal found the lock gone
    /// or taken, or could not reach Redis for most of a lease; or, without
    /// renewal, the TTL passed).
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Completes when the lease is lost (see [`LockGuard::is_lost`]).
    pub async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// A token that fires when the lease is lost, for `select!` in spawned
    /// work.
    pub fn lost_token(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Releases the lock. Returns whether this guard still held it (false
    /// if its lease had ended and someone else may hold it now; their lock
    /// is left alone).
    ///
    /// # Errors
    /// A Redis error (the lease then ends by itself after its TTL).
    pub async fn release(mut self) -> Result<bool> {
        self.released = true;
        self.stop.cancel();
        release(&self.lock, &self.value).await
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop.cancel();
        if !self.released
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (lock, value) = (self.lock.clone(), std::mem::take(&mut self.value));
            rt.spawn(async move {
                if let Err(e) = release(&lock, &value).await {
                    tracing::warn!(lock = %lock.name, error = %e, "releasing a dropped lock failed; it expires with its lease");
                }
            });
        }
    }
}

async fn release(lock: &Lock, value: &str) -> Result<bool> {
    let k = lock.broker.keys();
    let released: i64 = lock
        .broker
        .scripts()
        .lock_release
        .key(k.lock(&lock.name))
        .arg(value)
        .arg(k.lock_channel(&lock.name))
        .invoke_async(&mut lock.broker.conn())
        .await?;
    Ok(released == 1)
}

/// What the renewal task needs.
struct Renewal {
    lock: Lock,
    value: String,
    ttl: Duration,
}

/// Renews the lease every third of its TTL until stopped. Declares it lost
/// when the lock is no longer ours, or when renewals have failed for two
/// thirds of a lease (the lease may end before the next try).
async fn renew_loop(r: Arc<Renewal>, lost: CancellationToken, stop: CancellationToken) {
    let every = r.ttl / 3;
    let mut last_ok = Instant::now();
    let k = r.lock.broker.keys();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let mut conn = r.lock.broker.conn();
        let mut invocation = r.lock.broker.scripts().lock_renew.prepare_invoke();
        invocation
            .key(k.lock(&r.lock.name))
            .arg(&r.value)
            .arg(millis(r.ttl));
        let renew = invocation.invoke_async::<i64>(&mut conn);
        match tokio::time::timeout(every, renew).await {
            Ok(Ok(1)) => last_ok = Instant::now(),
            Ok(Ok(_)) => {
                tracing::warn!(lock = %r.lock.name, "lock lease lost: the lock expired or was taken over");
                lost.cancel();
                return;
            }
            Ok(Err(e)) => tracing::warn!(lock = %r.lock.name, error = %e, "renewing a lock failed"),
            Err(_) => tracing::warn!(lock = %r.lock.name, "renewing a lock timed out"),
        }
        if last_ok.elapsed() >= every * 2 {
            tracing::warn!(lock = %r.lock.name, "lock lease lost: could not renew it in time");
            lost.cancel();
            return;
        }
    }
}
