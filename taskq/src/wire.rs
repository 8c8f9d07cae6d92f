//! The wire format: how a task travels through the broker.
//!
//! A message is one byte string, the *frame*:
//!
//! ```text
//! tq1:<task id>\n<MessagePack envelope>
//! ```
//!
//! `tq1` is the format version. The id sits in clear text in front so that
//! the broker's Lua scripts can index in-flight tasks by id without decoding
//! MessagePack, and so that a malformed body can still be traced to its task.
//! The [`Envelope`] is a MessagePack map with named fields (new optional
//! fields can be added without breaking old readers); the task's arguments
//! are a nested MessagePack value carried as `bin`, decoded only by the
//! handler that knows their type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::task::{OnWorkerLost, Priority, Resource, RetryPolicy, TaskId};

/// The frame prefix of wire format version 1.
pub const FRAME_PREFIX: &[u8] = b"tq1:";

/// Everything a worker needs to run a task, except its id (in the frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The task's stable wire name, e.g. `"rpm.sync"`.
    pub name: String,
    /// The arguments, MessagePack-encoded.
    #[serde(with = "serde_bytes")]
    pub args: Vec<u8>,
    /// The queue the task was sent to.
    pub queue: String,
    /// Its priority.
    pub priority: Priority,
    /// 1 for the first run, 2 for the first retry, ...
    pub attempt: u32,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Soft time limit in milliseconds.
    #[serde(default)]
    pub soft_time_limit_ms: Option<u64>,
    /// Hard time limit in milliseconds.
    #[serde(default)]
    pub time_limit_ms: Option<u64>,
    /// Wall-clock expiry (ms since the Unix epoch).
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
    /// Seconds the result is kept.
    pub result_ttl_s: u64,
    /// When the task was first sent (ms since the Unix epoch).
    pub created_ms: u64,
    /// Resources reserved while it runs.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// What to do if its worker dies.
    #[serde(default)]
    pub on_worker_lost: OnWorkerLost,
    /// Free-form headers (application metadata, tracing ids).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Tasks to send when this one succeeds (a chain), each receiving this
    /// task's output appended to its arguments.
    #[serde(default)]
    pub link: Vec<crate::task::RawSignature>,
    /// Group/chord bookkeeping when the task is a member of a group.
    #[serde(default)]
    pub group: Option<GroupMembership>,
    /// The task type's cluster-wide rate limit (absent for most tasks, and
    /// then not encoded at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<crate::task::RateLimit>,
    /// When the current attempt was due (ms since the Unix epoch): the ETA of
    /// a delayed send or the end of a retry backoff; absent when sent to run
    /// now. Used to measure how long a task waited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_ms: Option<u64>,
}

/// Membership of a task in a group whose results are collected (a chord).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMembership {
    /// The group's id.
    pub group_id: String,
    /// This member's position in the group (results are returned in order).
    pub index: u32,
    /// How many members the group has.
    pub size: u32,
    /// The callback sent with all results once every member has succeeded.
    pub callback: Option<Box<crate::task::RawSignature>>,
}

/// Builds a frame from an id and an envelope.
///
/// # Errors
/// [`Error::Encode`] if the envelope cannot be encoded (it always can unless
/// a header or name is not valid for MessagePack, which does not happen).
pub fn encode_frame(id: &TaskId, envelope: &Envelope) -> Result<Vec<u8>> {
    let body = rmp_serde::to_vec_named(envelope)
        .map_err(|e| Error::encode(format!("envelope of task {}", envelope.name), e))?;
    let mut frame = Vec::with_capacity(FRAME_PREFIX.len() + id.as_str().len() + 1 + body.len());
    frame.extend_from_slice(FRAME_PREFIX);
    frame.extend_from_slice(id.as_str().as_bytes());
    frame.push(b'\n');
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Splits a frame into its id and its envelope bytes without decoding.
///
/// # Errors
/// [`Error::MalformedMessage`] if the frame lacks the `tq1:` prefix, the
/// newline, or a valid id.
pub fn split_frame(frame: &[u8]) -> Result<(TaskId, &[u8])> {
    let rest = frame
        .strip_prefix(FRAME_PREFIX)
        .ok_or_else(|| Error::MalformedMessage("missing the tq1: prefix".into()))?;
    let nl = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| Error::MalformedMessage("missing the newline after the task id".into()))?;
    let id = std::str::from_utf8(&rest[..nl])
        .map_err(|_| Error::MalformedMessage("task id is not UTF-8".into()))?;
    Ok((TaskId::new(id)?, &rest[nl + 1..]))
}

/// Decodes a whole frame.
///
/// # Errors
/// [`Error::MalformedMessage`] or [`Error::Decode`] when the frame is not a
/// valid version-1 message.
pub fn decode_frame(frame: &[u8]) -> Result<(TaskId, Envelope)> {
    let (id, body) = split_frame(frame)?;
    let env = rmp_serde::from_slice(body)
        .map_err(|e| Error::decode(format!("envelope of task {id}"), e))?;
    Ok((id, env))
}

/// The id of a frame if it can be read, for error reports about bad frames.
pub fn frame_id_lossy(frame: &[u8]) -> Option<String> {
    let rest = frame.strip_prefix(FRAME_PREFIX)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    Some(String::from_utf8_lossy(&rest[..nl]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            name: "math.add".into(),
            args: rmp_serde::to_vec(&(1, 2)).unwrap(),
            queue: "default".into(),
            priority: Priority::High,
            attempt: 1,
            retry: RetryPolicy::DEFAULT,
            soft_time_limit_ms: Some(5),
            time_limit_ms: None,
            expires_at_ms: None,
            result_ttl_s: 60,
            created_ms: 1,
            resources: vec![Resource::exclusive("repo:1")],
            on_worker_lost: OnWorkerLost::Fail,
            headers: BTreeMap::from([("k".into(), "v".into())]),
            link: vec![],
            group: None,
            rate_limit: Some(crate::task::RateLimit::per_second(5)),
            eta_ms: None,
        }
    }

    #[test]
    fn frame_round_trip() {
        let id = TaskId::generate();
        let frame = encode_frame(&id, &sample()).unwrap();
        assert!(frame.starts_with(b"tq1:"));
        let (id2, env) = decode_frame(&frame).unwrap();
        assert_eq!(id, id2);
        assert_eq!(env, sample());
        assert_eq!(frame_id_lossy(&frame).unwrap(), id.as_str());
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(matches!(
            decode_frame(b"garbage"),
            Err(Error::MalformedMessage(_))
        ));
        assert!(matches!(
            decode_frame(b"tq1:no-newline"),
            Err(Error::MalformedMessage(_))
        ));
        assert!(matches!(
            decode_frame(b"tq1:\n"),
            Err(Error::InvalidTaskId(_))
        ));
        assert!(matches!(
            decode_frame(b"tq1:abc\n\xc1\xc1"),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn unknown_fields_are_ignored_by_older_readers() {
        #[derive(Serialize)]
        struct Newer<'a> {
            #[serde(flatten)]
            env: &'a Envelope,
            from_the_future: u32,
        }
        let env = sample();
        let body = rmp_serde::to_vec_named(&Newer {
            env: &env,
            from_the_future: 7,
        })
        .unwrap();
        let decoded: Envelope = rmp_serde::from_slice(&body).unwrap();
        assert_eq!(decoded, env);
    }
}
