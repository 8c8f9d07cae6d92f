//! Storage of beat schedules (see `crate::beat`): one hash per schedule, a
//! zset of next run times, and the pending outcomes of fired tasks.

use std::collections::HashMap;

use redis::AsyncCommands;

use super::RedisBroker;
use crate::broker::{EnqueueStatus, Message};
use crate::error::Result;
use crate::time::now_ms;

/// A create-or-change request (see beat_put.lua).
#[derive(Debug)]
pub(crate) struct BeatPut<'a> {
    pub(crate) name: &'a str,
    pub(crate) when: &'a str,
    pub(crate) task: &'a [u8],
    pub(crate) enabled: bool,
    pub(crate) threshold: Option<u32>,
    /// Timing for a fresh start: anchor, next run, remaining runs.
    pub(crate) anchor_ms: u64,
    pub(crate) next_ms: Option<u64>,
    pub(crate) remaining: Option<u32>,
    /// Only apply if the schedule's rev is this (0 = must not exist).
    pub(crate) expected_rev: Option<u64>,
}

/// What beat_put.lua did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PutStatus {
    /// Stored; the schedule's new rev.
    Stored(u64),
    /// Not stored: the rev was not the expected one (it is this).
    Conflict(u64),
}

/// A fire request (see beat_fire.lua).
#[derive(Debug)]
pub(crate) struct BeatFire<'a> {
    pub(crate) name: &'a str,
    pub(crate) due_ms: u64,
    pub(crate) rev: u64,
    pub(crate) next_ms: Option<u64>,
    pub(crate) remaining: Option<u32>,
    pub(crate) message: &'a Message,
}

/// What beat_fire.lua did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FireStatus {
    /// This beat fired the occurrence; the enqueue's answer.
    Fired(EnqueueStatus),
    /// Another beat fired it, or the schedule changed meanwhile.
    Stale,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl RedisBroker {
    pub(crate) async fn beat_put(&self, p: &BeatPut<'_>) -> Result<PutStatus> {
        let k = self.keys();
        let (status, rev): (String, u64) = self
            .scripts()
            .beat_put
            .key(k.beat_schedule(p.name))
            .key(k.beat_due())
            .key(k.beat_names())
            .arg(p.name)
            .arg(p.when)
            .arg(p.task)
            .arg(if p.enabled { "1" } else { "0" })
            .arg(opt(p.threshold))
            .arg(now_ms())
            .arg(p.anchor_ms)
            .arg(opt(p.next_ms))
            .arg(opt(p.remaining))
            .arg(opt(p.expected_rev))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(if status == "ok" {
            PutStatus::Stored(rev)
        } else {
            PutStatus::Conflict(rev)
        })
    }

    /// Every field of schedule `name`, if it exists.
    pub(crate) async fn beat_fields(&self, name: &str) -> Result<Option<HashMap<String, Vec<u8>>>> {
        let fields: HashMap<String, Vec<u8>> =
            self.conn().hgetall(self.keys().beat_schedule(name)).await?;
        Ok((!fields.is_empty()).then_some(fields))
    }

    /// The fields of many schedules in one round trip (empty maps for
    /// missing ones).
    pub(crate) async fn beat_fields_many(
        &self,
        names: &[String],
    ) -> Result<Vec<HashMap<String, Vec<u8>>>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for n in names {
            pipe.hgetall(self.keys().beat_schedule(n));
        }
        Ok(pipe.query_async(&mut self.conn()).await?)
    }

    pub(crate) async fn beat_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.conn().smembers(self.keys().beat_names()).await?;
        names.sort();
        Ok(names)
    }

    /// Deletes schedule `name`; returns whether it existed.
    pub(crate) async fn beat_delete(&self, name: &str) -> Result<bool> {
        let k = self.keys();
        let (deleted,): (i64,) = redis::pipe()
            .atomic()
            .del(k.beat_schedule(name))
            .zrem(k.beat_due(), name)
            .ignore()
            .srem(k.beat_names(), name)
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(deleted == 1)
    }

    /// Schedules due at `now` (name, due time), earliest first.
    pub(crate) async fn beat_due_now(&self, now: u64, limit: usize) -> Result<Vec<(String, u64)>> {
        Ok(self
            .conn()
            .zrangebyscore_limit_withscores(self.keys().beat_due(), "-inf", now, 0, limit as isize)
            .await?)
    }

    /// The earliest next run of any schedule.
    pub(crate) async fn beat_next_due(&self) -> Result<Option<u64>> {
        let first: Vec<(String, u64)> = self
            .conn()
            .zrange_withscores(self.keys().beat_due(), 0, 0)
            .await?;
        Ok(first.first().map(|(_, t)| *t))
    }

    pub(crate) async fn beat_fire(&self, f: &BeatFire<'_>) -> Result<FireStatus> {
        let k = self.keys();
        let mut inv = self.scripts().beat_fire.prepare_invoke();
        for key in self.res_keys() {
            inv.key(key);
        }
        inv.key(k.queues());
        inv.arg(now_ms()).arg(1);
        self.message_keys_and_args(&mut inv, f.message)?;
        inv.key(k.beat_schedule(f.name))
            .key(k.beat_due())
            .key(k.beat_pending());
        inv.arg(f.name)
            .arg(f.due_ms)
            .arg(f.rev)
            .arg(opt(f.next_ms))
            .arg(opt(f.remaining))
            .arg(f.message.id.as_str());
        let reply: Vec<String> = inv.invoke_async(&mut self.conn()).await?;
        Ok(match reply.first().map(String::as_str) {
            Some("stale") => FireStatus::Stale,
            Some("waiting") => FireStatus::Fired(EnqueueStatus::Waiting),
            Some("duplicate") => FireStatus::Fired(EnqueueStatus::Duplicate),
            _ => FireStatus::Fired(EnqueueStatus::Queued),
        })
    }

    /// Up to about `count` fired tasks awaiting their outcome: (task id,
    /// schedule name).
    pub(crate) async fn beat_pending(&self, count: usize) -> Result<Vec<(String, String)>> {
        let (_, flat): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg(self.keys().beat_pending())
            .arg(0)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn())
            .await?;
        Ok(flat
            .chunks_exact(2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect())
    }

    /// The `state` field of each task's record (None if it has none).
    pub(crate) async fn task_states(&self, ids: &[String]) -> Result<Vec<Option<String>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hget(self.keys().task(id), "state");
        }
        Ok(pipe.query_async(&mut self.conn()).await?)
    }

    /// Records a fired task's final state on its schedule: 0 = already
    /// recorded, 1 = recorded, 2 = recorded and the schedule disabled.
    pub(crate) async fn beat_outcome(&self, task_id: &str, name: &str, state: &str) -> Result<i64> {
        let k = self.keys();
        Ok(self
            .scripts()
            .beat_outcome
            .key(k.beat_pending())
            .key(k.beat_schedule(name))
            .key(k.beat_due())
            .arg(task_id)
            .arg(name)
            .arg(state)
            .arg(now_ms())
            .invoke_async(&mut self.conn())
            .await?)
    }
}
