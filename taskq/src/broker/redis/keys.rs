//! Every Redis key and channel taskq uses, named in one place.
//!
//! All keys of a namespace share the hash tag `{<namespace>}`, so every Lua
//! script's keys live in one Redis Cluster slot and the same scripts run on
//! a single server, Sentinel or Cluster. `docs/redis-keys.md` describes each
//! key's type and life cycle; keep the two in step.

use crate::task::Priority;

/// Builds key names for one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// `{namespace}`, the hash-tagged prefix of every key.
    prefix: String,
}

impl Keys {
    pub(crate) fn new(namespace: &str) -> Self {
        Keys {
            prefix: format!("{{{namespace}}}"),
        }
    }

    /// LIST: ready frames of `queue` at `priority` (LPUSH in, RPOP out).
    pub(crate) fn queue(&self, queue: &str, priority: Priority) -> String {
        format!("{}:q:{queue}:{}", self.prefix, priority.index())
    }

    /// ZSET: frames of `queue` not due yet (countdown, ETA, retry backoff);
    /// member = priority digit + frame, score = due time in ms.
    pub(crate) fn delayed(&self, queue: &str) -> String {
        format!("{}:delayed:{queue}", self.prefix)
    }

    /// LIST: at most one token; pushed when `queue` receives work, popped by
    /// an idle worker blocked in BLPOP.
    pub(crate) fn wake(&self, queue: &str) -> String {
        format!("{}:wake:{queue}", self.prefix)
    }

    /// SET: names of every queue that ever received a task.
    pub(crate) fn queues(&self) -> String {
        format!("{}:queues", self.prefix)
    }

    /// HASH: the record of task `id` (state, result, error, times, ...).
    pub(crate) fn task(&self, id: &str) -> String {
        format!("{}:t:{id}", self.prefix)
    }

    /// HASH: task id → frame, for tasks owned by `worker`.
    pub(crate) fn inflight(&self, worker: &str) -> String {
        format!("{}:inflight:{worker}", self.prefix)
    }

    /// ZSET: worker id → lease deadline (ms).
    pub(crate) fn workers(&self) -> String {
        format!("{}:workers", self.prefix)
    }

    /// HASH: registry details of `worker` (host, pid, queues, ...).
    pub(crate) fn worker_info(&self, worker: &str) -> String {
        format!("{}:worker:{worker}", self.prefix)
    }

    /// SET: ids of tasks canceled while queued; fetch drops them.
    pub(crate) fn canceled(&self) -> String {
        format!("{}:canceled", self.prefix)
    }

    /// HASH: task id → how many workers died while running it.
    pub(crate) fn kills(&self) -> String {
        format!("{}:kills", self.prefix)
    }

    /// LIST: dead letters, `<at_ms> <reason>\n<frame>`, newest first.
    pub(crate) fn dead(&self) -> String {
        format!("{}:dead", self.prefix)
    }

    /// Key prefix: `<prefix><resource>` is a ZSET of the resource's
    /// reservation entries, member `<x|s><task id>`, score the dispatch
    /// sequence (so ordered FIFO). Scripts append the resource name; the
    /// result keeps the hash tag.
    pub(crate) fn res_queue_prefix(&self) -> String {
        format!("{}:res:q:", self.prefix)
    }

    /// Key prefix: `<prefix><resource>` is a ZSET of the resource's
    /// exclusive entries only, member task id, score the dispatch sequence.
    pub(crate) fn res_exclusive_prefix(&self) -> String {
        format!("{}:res:x:", self.prefix)
    }

    /// STRING: the reservation dispatch sequence counter.
    pub(crate) fn res_seq(&self) -> String {
        format!("{}:res:seq", self.prefix)
    }

    /// HASH: task id → its reservation meta (`seq`, queue, priority, eta,
    /// then one `x:<resource>` / `s:<resource>` line each), from dispatch
    /// until the task ends.
    pub(crate) fn res_tasks(&self) -> String {
        format!("{}:res:tasks", self.prefix)
    }

    /// HASH: task id → frame, for tasks waiting for a resource.
    pub(crate) fn res_waiting(&self) -> String {
        format!("{}:res:waiting", self.prefix)
    }

    /// ZSET: task id → seq, for waiters that became ready but are not in
    /// their queue yet (pushed right after by the releasing client; swept by
    /// workers if that client died in between).
    pub(crate) fn res_ready(&self) -> String {
        format!("{}:res:ready", self.prefix)
    }

    /// HASH: the rate-limit counter of task type `task`: `w` (the current
    /// window number, `floor(now / window)`) and `n` (starts counted in it);
    /// expires one second after its window ends.
    pub(crate) fn rate(&self, task: &str) -> String {
        format!("{}:rate:{task}", self.prefix)
    }

    /// HASH: the bookkeeping of chord group `group`: field `<index>` =
    /// the member's MessagePack output (set once), `failed` = `<index>
    /// <reason>` once a member failed for good.
    pub(crate) fn group(&self, group: &str) -> String {
        format!("{}:group:{group}", self.prefix)
    }

    /// STRING: the lock `name`, `<fencing token> <owner>`, with the
    /// holder's TTL.
    #[cfg_attr(not(feature = "lock"), allow(dead_code))]
    pub(crate) fn lock(&self, name: &str) -> String {
        format!("{}:lock:{name}", self.prefix)
    }

    /// STRING: the fencing counter of lock `name` (INCR per grant; never
    /// expires, so tokens keep increasing across the lock's whole life).
    #[cfg_attr(not(feature = "lock"), allow(dead_code))]
    pub(crate) fn lock_fence(&self, name: &str) -> String {
        format!("{}:lockfence:{name}", self.prefix)
    }

    /// Channel: `released` when lock `name` is released by its holder.
    #[cfg_attr(not(feature = "lock"), allow(dead_code))]
    pub(crate) fn lock_channel(&self, name: &str) -> String {
        format!("{}:lockfree:{name}", self.prefix)
    }

    /// HASH: beat schedule `name`: its definition (`when`, `task`,
    /// `enabled`, `threshold`) and state (`next`, `last_run`, `last_fired`,
    /// `last_task`, `last_outcome`, `failures`, `remaining`, `runs`, `rev`,
    /// ...).
    #[cfg_attr(not(feature = "beat"), allow(dead_code))]
    pub(crate) fn beat_schedule(&self, name: &str) -> String {
        format!("{}:beat:s:{name}", self.prefix)
    }

    /// ZSET: name → next run (ms) of every enabled beat schedule that has
    /// one.
    #[cfg_attr(not(feature = "beat"), allow(dead_code))]
    pub(crate) fn beat_due(&self) -> String {
        format!("{}:beat:due", self.prefix)
    }

    /// SET: the names of all beat schedules.
    #[cfg_attr(not(feature = "beat"), allow(dead_code))]
    pub(crate) fn beat_names(&self) -> String {
        format!("{}:beat:names", self.prefix)
    }

    /// HASH: task id → schedule name, for fired tasks whose outcome the
    /// beats have not recorded yet.
    #[cfg_attr(not(feature = "beat"), allow(dead_code))]
    pub(crate) fn beat_pending(&self) -> String {
        format!("{}:beat:pending", self.prefix)
    }

    /// Channel: receives the final state of task `id` when it ends.
    pub(crate) fn done_channel(&self, id: &str) -> String {
        format!("{}:done:{id}", self.prefix)
    }

    /// Channel prefix of [`Keys::done_channel`].
    pub(crate) fn done_channel_prefix(&self) -> String {
        format!("{}:done:", self.prefix)
    }

    /// Channel: `cancel <id>` messages to workers.
    pub(crate) fn control_channel(&self) -> String {
        format!("{}:control", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_hash_tag() {
        let k = Keys::new("ns");
        for key in [
            k.queue("default", Priority::High),
            k.delayed("default"),
            k.wake("default"),
            k.queues(),
            k.task("id"),
            k.inflight("w"),
            k.workers(),
            k.worker_info("w"),
            k.canceled(),
            k.kills(),
            k.dead(),
            k.res_queue_prefix(),
            k.res_exclusive_prefix(),
            k.res_seq(),
            k.res_tasks(),
            k.res_waiting(),
            k.res_ready(),
            k.rate("t"),
            k.group("g"),
            k.lock("l"),
            k.lock_fence("l"),
            k.beat_schedule("s"),
            k.beat_due(),
            k.beat_names(),
            k.beat_pending(),
        ] {
            assert!(key.starts_with("{ns}:"), "{key}");
        }
        assert_eq!(k.queue("sync", Priority::Low), "{ns}:q:sync:2");
    }
}
