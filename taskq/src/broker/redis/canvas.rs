//! Chord bookkeeping: one hash per group, one field per member index.

use redis::Value;

use super::RedisBroker;
use crate::broker::{GroupFailure, GroupReport, GroupState, GroupStatus, MemberOutcome};
use crate::error::{Error, Result};

/// Parses a `failed` field: `<index> <reason>`.
fn parse_failure(text: &str) -> GroupFailure {
    let (index, reason) = text.split_once(' ').unwrap_or((text, ""));
    GroupFailure {
        index: index.parse().unwrap_or(0),
        reason: reason.to_owned(),
    }
}

fn malformed() -> Error {
    Error::MalformedMessage("unexpected reply from group.lua".into())
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

impl RedisBroker {
    pub(super) async fn report_to_group(&self, r: &GroupReport) -> Result<GroupStatus> {
        let k = self.keys();
        let (kind, payload): (&str, &[u8]) = match &r.outcome {
            MemberOutcome::Succeeded(out) => ("ok", out),
            MemberOutcome::Failed(reason) => ("fail", reason.as_bytes()),
        };
        let reply: Value = self
            .scripts()
            .group
            .key(k.group(&r.group_id))
            .key(k.task(r.callback_id.as_str()))
            .arg(r.index)
            .arg(r.size)
            .arg(r.ttl_s.max(1))
            .arg(kind)
            .arg(payload)
            .invoke_async(&mut self.conn())
            .await?;
        let Value::Array(items) = reply else {
            return Err(malformed());
        };
        let status = items.first().map(text).unwrap_or_default();
        Ok(match status.as_str() {
            "pending" => GroupStatus::Pending {
                done: text(items.get(1).ok_or_else(malformed)?)
                    .parse()
                    .unwrap_or(0),
            },
            "sent" => GroupStatus::CallbackSent,
            "failed" => {
                GroupStatus::Failed(parse_failure(&text(items.get(1).ok_or_else(malformed)?)))
            }
            "complete" => {
                let Some(Value::Array(flat)) = items.get(1) else {
                    return Err(malformed());
                };
                let mut outputs: Vec<Option<Vec<u8>>> = vec![None; r.size as usize];
                for pair in flat.chunks_exact(2) {
                    let (Ok(i), Value::BulkString(out)) =
                        (text(&pair[0]).parse::<usize>(), &pair[1])
                    else {
                        continue;
                    };
                    if let Some(slot) = outputs.get_mut(i) {
                        *slot = Some(out.clone());
                    }
                }
                let outputs = outputs.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| {
                    Error::MalformedMessage(format!(
                        "group {} is complete but some member outputs are missing (was its size changed?)",
                        r.group_id
                    ))
                })?;
                GroupStatus::Complete(outputs)
            }
            _ => return Err(malformed()),
        })
    }

    pub(super) async fn read_group(&self, group_id: &str) -> Result<GroupState> {
        let key = self.keys().group(group_id);
        let (len, failed): (u32, Option<String>) = redis::pipe()
            .hlen(&key)
            .hget(&key, "failed")
            .query_async(&mut self.conn())
            .await?;
        Ok(GroupState {
            succeeded: len - u32::from(failed.is_some()),
            failed: failed.as_deref().map(parse_failure),
        })
    }
}
