//! Worker registry and inspection: leases, workers, queues, dead letters.

use std::time::Duration;

use redis::AsyncCommands;

use super::RedisBroker;
use crate::broker::{
    Backlog, DeadLetter, Liveness, Message, QueueDepth, WorkerInfo, decode_dead_letter,
};
use crate::error::Result;
use crate::task::{Priority, TaskId};
use crate::time::{millis, now_ms};
use crate::wire::decode_frame;

impl RedisBroker {
    pub(super) async fn worker_lease(
        &self,
        info: &WorkerInfo,
        lease: Duration,
        mode: &str,
    ) -> Result<Liveness> {
        let k = self.keys();
        let now = now_ms();
        let ttl_s = (lease.as_secs() * 3).max(10);
        let alive: i64 = self
            .scripts()
            .worker
            .key(k.workers())
            .key(k.worker_info(&info.id))
            .arg(&info.id)
            .arg(now + millis(lease))
            .arg(ttl_s)
            .arg(mode)
            .arg("host")
            .arg(&info.host)
            .arg("pid")
            .arg(info.pid)
            .arg("queues")
            .arg(info.queues.join(","))
            .arg("concurrency")
            .arg(info.concurrency)
            .arg("in_flight")
            .arg(info.in_flight)
            .arg("started")
            .arg(info.started_ms)
            .arg("heartbeat")
            .arg(now)
            .arg("version")
            .arg(&info.version)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(if alive == 1 {
            Liveness::Alive
        } else {
            Liveness::Reaped
        })
    }

    pub(super) async fn list_workers(&self) -> Result<Vec<WorkerInfo>> {
        let ids: Vec<String> = self.conn().zrange(self.keys().workers(), 0, -1).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let h: std::collections::HashMap<String, String> =
                self.conn().hgetall(self.keys().worker_info(&id)).await?;
            let num = |f: &str| h.get(f).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            out.push(WorkerInfo {
                host: h.get("host").cloned().unwrap_or_default(),
                pid: num("pid") as u32,
                queues: h
                    .get("queues")
                    .map(|q| {
                        q.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                concurrency: num("concurrency") as usize,
                in_flight: num("in_flight") as usize,
                started_ms: num("started"),
                heartbeat_ms: num("heartbeat"),
                version: h.get("version").cloned().unwrap_or_default(),
                id,
            });
        }
        Ok(out)
    }

    pub(super) async fn depths(&self) -> Result<Vec<QueueDepth>> {
        let k = self.keys();
        let mut queues: Vec<String> = self.conn().smembers(k.queues()).await?;
        if queues.is_empty() {
            // (An empty pipeline is an error in redis-rs.)
            return Ok(Vec::new());
        }
        queues.sort();
        let mut pipe = redis::pipe();
        for q in &queues {
            for p in Priority::ALL {
                pipe.llen(k.queue(q, p));
            }
            pipe.zcard(k.delayed(q));
        }
        let counts: Vec<u64> = pipe.query_async(&mut self.conn()).await?;
        Ok(queues
            .into_iter()
            .zip(counts.chunks(4))
            .map(|(queue, c)| QueueDepth {
                queue,
                ready: [c[0], c[1], c[2]],
                delayed: c[3],
            })
            .collect())
    }

    pub(super) async fn read_backlog(&self) -> Result<Backlog> {
        let k = self.keys();
        let (queues, workers): (Vec<String>, Vec<String>) = redis::pipe()
            .smembers(k.queues())
            .zrange(k.workers(), 0, -1)
            .query_async(&mut self.conn())
            .await?;
        let mut pipe = redis::pipe();
        pipe.hlen(k.res_waiting());
        for q in &queues {
            for p in Priority::ALL {
                pipe.llen(k.queue(q, p));
            }
            pipe.zcard(k.delayed(q));
        }
        for w in &workers {
            pipe.hlen(k.inflight(w));
        }
        let counts: Vec<u64> = pipe.query_async(&mut self.conn()).await?;
        let (waiting, rest) = counts.split_first().unwrap_or((&0, &[]));
        let (per_queue, held) = rest.split_at((queues.len() * 4).min(rest.len()));
        let mut b = Backlog {
            waiting: *waiting,
            held: held.iter().sum(),
            ..Backlog::default()
        };
        for c in per_queue.chunks(4) {
            b.queued += c[..3].iter().sum::<u64>();
            b.delayed += c.get(3).copied().unwrap_or(0);
        }
        Ok(b)
    }

    pub(super) async fn list_dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let entries: Vec<Vec<u8>> = self
            .conn()
            .lrange(self.keys().dead(), 0, limit as isize - 1)
            .await?;
        Ok(entries.iter().map(|e| decode_dead_letter(e)).collect())
    }

    /// Re-sends dead letters through the normal enqueue path (so resources
    /// are reserved again), oldest first, then removes each entry. A crash in
    /// between leaves the entry in place: requeueing is at-least-once.
    pub(super) async fn requeue_dead(&self, limit: usize) -> Result<usize> {
        if limit == 0 {
            return Ok(0);
        }
        let k = self.keys();
        // Snapshot first: requeued tasks that fail again return to the list
        // and must not be picked up twice by this call.
        let mut entries: Vec<Vec<u8>> = self.conn().lrange(k.dead(), -(limit as isize), -1).await?;
        entries.reverse();
        let mut moved = 0;
        for entry in entries {
            let letter = decode_dead_letter(&entry);
            let Ok((id, env)) = decode_frame(&letter.frame) else {
                continue;
            };
            let message = Message {
                id,
                name: env.name.clone(),
                queue: env.queue.clone(),
                priority: env.priority,
                eta_ms: None,
                resources: env.resources.clone(),
                result_ttl_s: env.result_ttl_s,
                dedupe: false,
                frame: letter.frame.clone(),
            };
            self.enqueue_messages(std::slice::from_ref(&message))
                .await?;
            let _: i64 = self.conn().lrem(k.dead(), -1, &entry).await?;
            let _: i64 = self.conn().hdel(k.kills(), message.id.as_str()).await?;
            moved += 1;
        }
        Ok(moved)
    }

    /// Removes every ready and delayed task of `queue` (atomically), then
    /// marks their records canceled and releases their reservations.
    pub(super) async fn purge(&self, queue: &str) -> Result<usize> {
        let k = self.keys();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for p in Priority::ALL {
            pipe.lrange(k.queue(queue, p), 0, -1)
                .del(k.queue(queue, p))
                .ignore();
        }
        pipe.zrange(k.delayed(queue), 0, -1)
            .del(k.delayed(queue))
            .ignore();
        // One reply per LRANGE/ZRANGE: three priority lists, then the delayed set.
        let mut lists: Vec<Vec<Vec<u8>>> = pipe.query_async(&mut self.conn()).await?;
        let delayed = lists.pop().unwrap_or_default();
        let frames = lists.into_iter().flatten().chain(
            delayed
                .into_iter()
                .map(|m| m.get(1..).unwrap_or_default().to_vec()),
        );
        let mut purged = 0;
        for frame in frames {
            purged += 1;
            let Some(id) = crate::wire::frame_id_lossy(&frame) else {
                continue;
            };
            if let Ok(id) = TaskId::new(id) {
                self.cancel_task(&id).await?;
                let _: i64 = self.conn().srem(k.canceled(), id.as_str()).await?;
            }
        }
        Ok(purged)
    }
}
