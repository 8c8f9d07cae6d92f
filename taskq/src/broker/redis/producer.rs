//! The client side: enqueue, cancel, read records, wait for results.

use std::time::Duration;

use redis::AsyncCommands;
use tokio::time::Instant;

use super::RedisBroker;
use crate::broker::{EnqueueStatus, Message};
use crate::error::{Error, Result};
use crate::result::{CancelStatus, TaskRecord, TaskState};
use crate::task::{Resource, ResourceMode, TaskId};
use crate::time::now_ms;

/// How often a waiter re-reads the record in case a notification was lost
/// (e.g. during a reconnect).
const WAIT_RECHECK: Duration = Duration::from_secs(1);

/// Resources as the Lua scripts read them: one `x:<name>` / `s:<name>` line
/// each, one line per name (exclusive wins over shared).
pub(crate) fn resource_lines(resources: &[Resource]) -> Result<String> {
    let mut merged: Vec<&Resource> = Vec::with_capacity(resources.len());
    for r in resources {
        if r.name.is_empty() || r.name.contains(['\n', '\0']) {
            return Err(Error::InvalidResource(r.name.clone()));
        }
        match merged.iter_mut().find(|m| m.name == r.name) {
            Some(m) if r.mode == ResourceMode::Exclusive => *m = r,
            Some(_) => {}
            None => merged.push(r),
        }
    }
    Ok(merged
        .iter()
        .map(|r| {
            let tag = match r.mode {
                ResourceMode::Exclusive => 'x',
                ResourceMode::Shared => 's',
            };
            format!("{tag}:{}\n", r.name)
        })
        .collect())
}

impl RedisBroker {
    /// The 4 keys and 9 arguments enqueue.lua takes per message.
    pub(super) fn message_keys_and_args(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        m: &Message,
    ) -> Result<()> {
        let k = self.keys();
        inv.key(k.task(m.id.as_str()))
            .key(k.queue(&m.queue, m.priority))
            .key(k.delayed(&m.queue))
            .key(k.wake(&m.queue));
        inv.arg(m.id.as_str())
            .arg(&m.frame[..])
            .arg(&m.queue)
            .arg(m.priority.index())
            .arg(m.eta_ms.map(|e| e.to_string()).unwrap_or_default())
            .arg(&m.name)
            .arg(if m.dedupe { "1" } else { "0" })
            .arg(m.result_ttl_s)
            .arg(resource_lines(&m.resources)?);
        Ok(())
    }

    pub(super) async fn enqueue_messages(
        &self,
        messages: &[Message],
    ) -> Result<Vec<EnqueueStatus>> {
        let k = self.keys();
        let mut out = Vec::with_capacity(messages.len());
        for batch in messages.chunks(self.config().enqueue_batch.max(1)) {
            let mut inv = self.scripts().enqueue.prepare_invoke();
            for key in self.res_keys() {
                inv.key(key);
            }
            inv.key(k.queues());
            inv.arg(now_ms()).arg(batch.len());
            for m in batch {
                self.message_keys_and_args(&mut inv, m)?;
            }
            let statuses: Vec<String> = inv.invoke_async(&mut self.conn()).await?;
            out.extend(statuses.iter().map(|s| match s.as_str() {
                "waiting" => EnqueueStatus::Waiting,
                "duplicate" => EnqueueStatus::Duplicate,
                _ => EnqueueStatus::Queued,
            }));
        }
        Ok(out)
    }

    pub(super) async fn cancel_task(&self, id: &TaskId) -> Result<CancelStatus> {
        let k = self.keys();
        let mut inv = self.scripts().cancel.prepare_invoke();
        for key in self.res_keys() {
            inv.key(key);
        }
        inv.key(k.task(id.as_str())).key(k.canceled());
        inv.arg(id.as_str())
            .arg(now_ms())
            .arg(k.done_channel(id.as_str()))
            .arg(k.control_channel());
        let (status, promoted): (String, Vec<String>) = inv.invoke_async(&mut self.conn()).await?;
        self.push_ready(&promoted).await?;
        Ok(match status.as_str() {
            "unknown" => CancelStatus::Unknown,
            "canceling" => CancelStatus::Canceling,
            "canceled-now" => CancelStatus::Canceled,
            other => CancelStatus::AlreadyFinished(other.parse()?),
        })
    }

    pub(super) async fn read_record(&self, id: &TaskId) -> Result<Option<TaskRecord>> {
        let fields: Vec<(String, Vec<u8>)> =
            self.conn().hgetall(self.keys().task(id.as_str())).await?;
        TaskRecord::from_fields(id.clone(), fields)
    }

    pub(super) async fn wait_for_final(
        &self,
        id: &TaskId,
        timeout: Duration,
    ) -> Result<Option<TaskRecord>> {
        let deadline = Instant::now() + timeout;
        let watch = self
            .listener()
            .await?
            .watch(self.keys().done_channel(id.as_str()))
            .await?;
        loop {
            let notified = watch.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.read_record(id).await? {
                None => return Err(Error::UnknownTask(id.to_string())),
                Some(r) if r.state.is_final() => return Ok(Some(r)),
                Some(_) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let nap = (deadline - now).min(WAIT_RECHECK);
            let _ = tokio::time::timeout(nap, notified).await;
        }
    }

    pub(super) async fn cancel_flags(&self, ids: &[TaskId]) -> Result<Vec<TaskId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys().task(id.as_str()))
                .arg("cancel")
                .arg("state");
        }
        let rows: Vec<(Option<String>, Option<String>)> =
            pipe.query_async(&mut self.conn()).await?;
        Ok(ids
            .iter()
            .zip(rows)
            .filter(|(_, (cancel, state))| {
                cancel.as_deref() == Some("1")
                    || state.as_deref() == Some(TaskState::Canceled.as_str())
            })
            .map(|(id, _)| id.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_lines_merge_and_validate() {
        let lines = resource_lines(&[
            Resource::shared("repo:1"),
            Resource::shared("remote:2"),
            Resource::exclusive("repo:1"),
        ])
        .unwrap();
        assert_eq!(lines, "x:repo:1\ns:remote:2\n");
        assert!(resource_lines(&[Resource::exclusive("a\nb")]).is_err());
        assert!(resource_lines(&[Resource::exclusive("")]).is_err());
    }
}
