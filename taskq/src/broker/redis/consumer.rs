//! The worker side: fetch, start, finish, hand back, reap.

use std::time::Duration;

use redis::{AsyncCommands, Value};

use super::{RedisBroker, lease_error};
use crate::broker::{Delivery, Fetched, FinishReport, HandBack, OutcomeKind, ReapReport, Started};
use crate::broker::{Outcome, WorkerId};
use crate::error::{Error, Result};
use crate::result::FailureKind;
use crate::task::{OnWorkerLost, Priority, TaskId};
use crate::time::now_ms;
use crate::wire::decode_frame;

/// An in-flight task of some worker: its id and frame (absent if it
/// vanished between reading and processing).
type InflightEntry = (String, Option<Vec<u8>>);

/// Most tasks per finish or start script call.
const SCRIPT_BATCH: usize = 500;

/// A frame now in a worker's in-flight hash, as a delivery.
fn delivery(frame: Vec<u8>) -> Delivery {
    let id = crate::wire::frame_id_lossy(&frame).unwrap_or_default();
    Delivery { id, frame }
}

impl RedisBroker {
    pub(super) async fn fetch_tasks(
        &self,
        worker: &WorkerId,
        queues: &[String],
        count: usize,
    ) -> Result<Fetched> {
        let k = self.keys();
        let mut inv = self.scripts().fetch.prepare_invoke();
        inv.key(k.workers())
            .key(k.inflight(worker))
            .key(k.canceled())
            .key(k.dead());
        for q in queues {
            for p in Priority::ALL {
                inv.key(k.queue(q, p));
            }
            inv.key(k.delayed(q)).key(k.wake(q));
        }
        inv.arg(worker)
            .arg(now_ms())
            .arg(count)
            .arg(self.config().promote_limit);
        let (frames, next_due): (Vec<Vec<u8>>, String) = inv
            .invoke_async(&mut self.conn())
            .await
            .map_err(lease_error)?;
        let deliveries = frames.into_iter().map(delivery).collect();
        Ok(Fetched {
            deliveries,
            next_due_ms: next_due.parse().ok(),
        })
    }

    pub(super) async fn block_for_work(&self, queues: &[String], timeout: Duration) -> Result<()> {
        let mut slot = self.inner.blocking.lock().await;
        if slot.is_none() {
            let conn = self
                .inner
                .client
                .get_connection_manager_with_config(Self::manager_config(None))
                .await?;
            *slot = Some(conn);
        }
        let Some(conn) = slot.as_mut() else {
            return Ok(());
        };
        let keys: Vec<String> = queues.iter().map(|q| self.keys().wake(q)).collect();
        let secs = timeout.as_secs_f64().max(0.001);
        // BLPOP blocks server-side; guard against a server that never answers.
        let call = conn.blpop::<_, Option<(String, String)>>(keys, secs);
        match tokio::time::timeout(timeout + Duration::from_secs(2), call).await {
            Ok(Ok(_)) | Err(_) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
        }
    }

    pub(super) async fn mark_tasks_started(
        &self,
        worker: &WorkerId,
        started: &[Started],
    ) -> Result<Vec<TaskId>> {
        let k = self.keys();
        let mut cancel = Vec::new();
        for batch in started.chunks(SCRIPT_BATCH) {
            let mut inv = self.scripts().start.prepare_invoke();
            inv.key(k.canceled());
            inv.arg(worker);
            for s in batch {
                inv.key(k.task(s.id.as_str()));
                inv.arg(s.id.as_str()).arg(s.started_ms).arg(s.attempt);
            }
            let positions: Vec<usize> = inv.invoke_async(&mut self.conn()).await?;
            cancel.extend(
                positions
                    .into_iter()
                    .filter_map(|p| batch.get(p - 1))
                    .map(|s| s.id.clone()),
            );
        }
        Ok(cancel)
    }

    pub(super) async fn finish_tasks(
        &self,
        worker: &WorkerId,
        queues: &[String],
        room: usize,
        run: usize,
        outcomes: &[Outcome],
    ) -> Result<FinishReport> {
        let k = self.keys();
        let mut report = FinishReport::default();
        let mut room = room;
        for batch in outcomes.chunks(SCRIPT_BATCH) {
            let mut inv = self.scripts().finish.prepare_invoke();
            for key in self.res_keys() {
                inv.key(key);
            }
            inv.key(k.inflight(worker)).key(k.kills()).key(k.canceled());
            inv.arg(now_ms())
                .arg(batch.len())
                .arg(k.done_channel_prefix())
                .arg(worker)
                .arg(room)
                .arg(queues.len())
                .arg(run);
            for q in queues {
                for p in Priority::ALL {
                    inv.key(k.queue(q, p));
                }
                inv.key(k.delayed(q)).key(k.wake(q));
                inv.arg(q);
            }
            for o in batch {
                let next_key = match &o.next_start {
                    Some(n) => k.task(n.id.as_str()),
                    None => k.task(o.id.as_str()),
                };
                inv.key(k.task(o.id.as_str()))
                    .key(k.delayed(&o.queue))
                    .key(next_key);
                inv.arg(o.id.as_str());
                match &o.kind {
                    OutcomeKind::Succeeded(bytes) => {
                        inv.arg("succeeded")
                            .arg(&bytes[..])
                            .arg("")
                            .arg(o.result_ttl_s)
                            .arg(0)
                            .arg("");
                    }
                    OutcomeKind::Failed(f) => {
                        inv.arg("failed")
                            .arg(&f.message)
                            .arg(f.kind.as_str())
                            .arg(o.result_ttl_s)
                            .arg(0)
                            .arg("");
                    }
                    OutcomeKind::Canceled(f) => {
                        inv.arg("canceled")
                            .arg(&f.message)
                            .arg(f.kind.as_str())
                            .arg(o.result_ttl_s)
                            .arg(0)
                            .arg("");
                    }
                    OutcomeKind::Retry {
                        failure,
                        due_ms,
                        frame,
                    } => {
                        let mut member = Vec::with_capacity(frame.len() + 1);
                        member.push(b'0' + o.priority.index() as u8);
                        member.extend_from_slice(frame);
                        inv.arg("retry")
                            .arg(&failure.message)
                            .arg(failure.kind.as_str())
                            .arg(o.result_ttl_s)
                            .arg(*due_ms)
                            .arg(member);
                    }
                    OutcomeKind::Defer { due_ms, frame } => {
                        let mut member = Vec::with_capacity(frame.len() + 1);
                        member.push(b'0' + o.priority.index() as u8);
                        member.extend_from_slice(frame);
                        inv.arg("defer")
                            .arg("")
                            .arg("")
                            .arg(o.result_ttl_s)
                            .arg(*due_ms)
                            .arg(member);
                    }
                }
                inv.arg(o.attempt).arg(o.started_ms);
                match &o.next_start {
                    Some(n) => inv.arg(n.id.as_str()).arg(n.started_ms).arg(n.attempt),
                    None => inv.arg("").arg(0).arg(0),
                };
            }
            type Reply = (Vec<usize>, Vec<String>, Vec<Vec<Vec<u8>>>, Vec<String>);
            let (fenced, promoted, handed, cancel): Reply =
                inv.invoke_async(&mut self.conn()).await?;
            room = room.saturating_sub(handed.len());
            report.deliveries.extend(
                handed
                    .into_iter()
                    .map(|run| run.into_iter().map(delivery).collect()),
            );
            report
                .cancel
                .extend(cancel.into_iter().filter_map(|id| TaskId::new(id).ok()));
            report.fenced.extend(
                fenced
                    .into_iter()
                    .filter_map(|p| batch.get(p - 1))
                    .map(|o| o.id.clone()),
            );
            self.push_ready(&promoted).await?;
        }
        Ok(report)
    }

    pub(super) async fn dead_letter_frame(
        &self,
        worker: &WorkerId,
        id: &str,
        reason: &str,
    ) -> Result<()> {
        let k = self.keys();
        let mut inv = self.scripts().dead_letter.prepare_invoke();
        for key in self.res_keys() {
            inv.key(key);
        }
        inv.key(k.inflight(worker)).key(k.dead()).key(k.task(id));
        inv.arg(id)
            .arg(now_ms())
            .arg(reason)
            .arg(k.done_channel(id));
        let promoted: Vec<String> = inv.invoke_async(&mut self.conn()).await?;
        self.push_ready(&promoted).await
    }

    pub(super) async fn hand_back_tasks(
        &self,
        worker: &WorkerId,
        tasks: &[HandBack],
    ) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        let frames: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
            .arg(self.keys().inflight(worker))
            .arg(&ids)
            .query_async(&mut self.conn())
            .await?;
        let entries: Vec<InflightEntry> = ids.iter().map(|s| (*s).to_owned()).zip(frames).collect();
        self.process_inflight(worker, entries, "handback", 0)
            .await?;
        Ok(())
    }

    pub(super) async fn reap(&self, max_kills: u32) -> Result<ReapReport> {
        let mut report = ReapReport::default();
        let dead: Vec<String> = self
            .conn()
            .zrangebyscore(self.keys().workers(), "-inf", format!("({}", now_ms()))
            .await?;
        for worker in dead {
            let entries: Vec<(String, Vec<u8>)> =
                self.conn().hgetall(self.keys().inflight(&worker)).await?;
            let entries = entries.into_iter().map(|(id, f)| (id, Some(f))).collect();
            if let Some(r) = self
                .process_inflight(&worker, entries, "reap", max_kills)
                .await?
            {
                report.requeued += r.requeued;
                report.failed += r.failed;
                report.dead_lettered += r.dead_lettered;
                report.workers.push(worker);
            }
        }
        self.sweep_ready().await?;
        Ok(report)
    }

    /// Pushes waiters that became ready but were never queued because the
    /// client that released their resource died in between.
    async fn sweep_ready(&self) -> Result<()> {
        let ids: Vec<String> = self.conn().zrange(self.keys().res_ready(), 0, 499).await?;
        if ids.is_empty() {
            return Ok(());
        }
        let metas: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys().res_tasks())
            .arg(&ids)
            .query_async(&mut self.conn())
            .await?;
        let mut promoted = Vec::new();
        for (id, meta) in ids.into_iter().zip(metas) {
            let Some(meta) = meta else { continue };
            let mut lines = meta.lines().skip(1);
            let (Some(queue), Some(prio)) = (lines.next(), lines.next()) else {
                continue;
            };
            promoted.extend([id, queue.to_owned(), prio.to_owned()]);
        }
        self.push_ready(&promoted).await
    }

    /// Runs reap.lua for `entries` (id, frame) of `worker`'s in-flight hash.
    /// Returns `None` if the worker turned out to be alive.
    async fn process_inflight(
        &self,
        worker: &str,
        entries: Vec<InflightEntry>,
        mode: &str,
        max_kills: u32,
    ) -> Result<Option<ReapReport>> {
        let k = self.keys();
        let mut total = ReapReport::default();
        // An empty pass still lets reap.lua drop the worker's registration.
        let batches: Vec<&[InflightEntry]> = if entries.is_empty() {
            vec![&[]]
        } else {
            entries.chunks(SCRIPT_BATCH).collect()
        };
        for batch in batches {
            let mut inv = self.scripts().reap.prepare_invoke();
            for key in self.res_keys() {
                inv.key(key);
            }
            inv.key(k.workers())
                .key(k.inflight(worker))
                .key(k.kills())
                .key(k.dead())
                .key(k.worker_info(worker));
            inv.arg(worker)
                .arg(now_ms())
                .arg(max_kills)
                .arg(mode)
                .arg(k.done_channel_prefix());
            for (id, frame) in batch {
                let Some(frame) = frame else { continue };
                let (queue, priority, action, message, kind) = match decode_frame(frame) {
                    Ok((_, env)) => {
                        let fail = mode == "reap" && env.on_worker_lost == OnWorkerLost::Fail;
                        let (action, message, kind) = if fail {
                            ("fail", "Worker has gone missing: the worker running this task stopped heartbeating.".to_owned(), FailureKind::WorkerLost)
                        } else {
                            ("requeue", String::new(), FailureKind::WorkerLost)
                        };
                        (env.queue, env.priority, action, message, kind)
                    }
                    Err(e) => {
                        // Its queue is unknown; the keys below are placeholders
                        // that the 'dead' action does not touch.
                        let reason = format!("undecodable message: {e}");
                        (
                            "default".to_owned(),
                            Priority::Normal,
                            "dead",
                            reason,
                            FailureKind::Undecodable,
                        )
                    }
                };
                inv.key(k.task(id))
                    .key(k.queue(&queue, priority))
                    .key(k.wake(&queue));
                inv.arg(id).arg(action).arg(message).arg(kind.as_str());
            }
            let value: Value = inv.invoke_async(&mut self.conn()).await?;
            let Value::Array(items) = value else {
                return Err(Error::MalformedMessage(
                    "unexpected reply from reap.lua".into(),
                ));
            };
            let num = |i: usize| match items.get(i) {
                Some(Value::Int(n)) => *n,
                _ => 0,
            };
            if num(0) == -1 {
                return Ok(None);
            }
            total.requeued += num(0) as usize;
            total.failed += num(1) as usize;
            total.dead_lettered += num(2) as usize;
            if let Some(promoted) = items.get(3) {
                let promoted: Vec<String> =
                    redis::from_redis_value(promoted.clone()).map_err(redis::RedisError::from)?;
                self.push_ready(&promoted).await?;
            }
        }
        Ok(Some(total))
    }

    pub(super) async fn unregister(&self, worker: &WorkerId) -> Result<()> {
        let k = self.keys();
        let ok: i64 = self
            .scripts()
            .unregister
            .key(k.workers())
            .key(k.inflight(worker))
            .key(k.worker_info(worker))
            .arg(worker)
            .invoke_async(&mut self.conn())
            .await?;
        if ok == 0 {
            // Still holds tasks: hand them all back, then leave.
            let ids: Vec<String> = self.conn().hkeys(k.inflight(worker)).await?;
            let tasks: Vec<HandBack> = ids
                .into_iter()
                .filter_map(|id| TaskId::new(id).ok())
                .map(|id| HandBack { id })
                .collect();
            self.hand_back_tasks(worker, &tasks).await?;
            let _: i64 = self
                .scripts()
                .unregister
                .key(k.workers())
                .key(k.inflight(worker))
                .key(k.worker_info(worker))
                .arg(worker)
                .invoke_async(&mut self.conn())
                .await?;
        }
        Ok(())
    }
}
