//! Composing tasks: chains (each task's output feeds the next), groups
//! (run in parallel, wait for all) and chords (a group whose results feed a
//! callback).
//!
//! A chain is stored in the first task's envelope as a *link*: when the task
//! succeeds, the worker sends the next call with the output prepended to its
//! arguments (as Celery does: `chain([add(2, 2), mul(8)])` computes
//! `mul(add(2, 2), 8)`), before it records the success. Follow-up ids are
//! derived from the parent's id and sent with deduplication, so a parent
//! that runs twice (at-least-once delivery) still starts each follow-up
//! once. A failure, cancellation or expiry ends the chain.
//!
//! A [`chord`] sends a group of calls and, once every member has succeeded,
//! its callback with the list of member outputs (in member order) prepended
//! to the callback's arguments. Each member reports to its group through
//! [`Broker::group_report`](crate::broker::Broker::group_report) before its
//! success is recorded: its output is stored once per index (a member that
//! runs twice counts once), and the member that completes the group sends
//! the callback under a deterministic id with deduplication, so a repeat
//! cannot send it twice. A member that fails for good (after its retries),
//! is canceled or expires marks the group failed: the callback never runs.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> taskq::Result<()> {
//! use std::time::Duration;
//! use taskq::{canvas, task, Client, MemoryBroker, RawSignature, TaskError, worker::Worker};
//!
//! #[task(name = "docs.square")]
//! async fn square(x: u64) -> Result<u64, TaskError> {
//!     Ok(x * x)
//! }
//!
//! #[task(name = "docs.total")]
//! async fn total(parts: Vec<u64>, label: String) -> Result<String, TaskError> {
//!     Ok(format!("{label}: {}", parts.iter().sum::<u64>()))
//! }
//!
//! let broker = MemoryBroker::new();
//! let worker = Worker::builder(broker.clone())
//!     .register::<square>()
//!     .register::<total>()
//!     .build()?
//!     .spawn();
//! let client = Client::new(broker);
//!
//! let members = (1..=3).map(|x| square::call(x).into_raw()).collect::<taskq::Result<Vec<_>>>()?;
//! // The callback's first parameter receives the members' outputs: give
//! // only the others.
//! let callback = RawSignature::partial::<total>(&("sum",))?;
//! let sent = canvas::chord(members, callback)?.send::<String>(&client).await?;
//! assert_eq!(sent.wait(Duration::from_secs(5)).await?, "sum: 14");
//! worker.shutdown().await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crate::broker::{GroupFailure, GroupState};
use crate::broker::{GroupReport, GroupStatus, MemberOutcome};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::result::AsyncResult;
use crate::task::{RawSignature, TaskId};
use crate::wire::{Envelope, GroupMembership};

/// Builds a chain from calls: each call after the first receives the
/// previous output as its first argument. Returns the first call with the
/// rest linked to it; send it like any call.
///
/// # Errors
/// [`Error::Config`] if `calls` is empty, or if the arguments of a call
/// after the first are not a tuple (the output could not be prepended).
pub fn chain(calls: impl IntoIterator<Item = RawSignature>) -> Result<RawSignature> {
    let mut calls: Vec<RawSignature> = calls.into_iter().collect();
    for call in calls.iter().skip(1) {
        check_rest_args(call)?;
    }
    let mut next: Option<RawSignature> = None;
    while let Some(mut call) = calls.pop() {
        if let Some(n) = next.take() {
            call.link.push(n);
        }
        next = Some(call);
    }
    next.ok_or_else(|| Error::Config("a chain needs at least one call".into()))
}

/// Checks that a call receiving a previous output has arguments it can be
/// prepended to. Caught here, a mistake is an error at build time instead of
/// a follow-up that can never be sent.
fn check_rest_args(call: &RawSignature) -> Result<()> {
    prepend_arg(&call.args, &[0xc0]).map(drop).map_err(|_| {
        Error::Config(format!(
            "the arguments given to {} are not a tuple (use `(a, b)`, `(a,)` or `()`)",
            call.name
        ))
    })
}

/// The id a follow-up gets: derived from its parent's, so that sending it
/// twice is deduplicated.
pub(crate) fn link_id(parent: &TaskId, index: usize) -> Result<TaskId> {
    // Keep ids bounded: long chains of derived ids would grow without end.
    let base = if parent.as_str().len() > 120 {
        format!("{:x}", fxhash(parent.as_str()))
    } else {
        parent.as_str().to_owned()
    };
    TaskId::new(format!("{base}>{index}"))
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A MessagePack array header for `n` elements.
fn array_header(n: usize, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// The MessagePack array of already-encoded `values`.
pub(crate) fn array_of(values: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + values.iter().map(Vec::len).sum::<usize>());
    array_header(values.len(), &mut out);
    for v in values {
        out.extend_from_slice(v);
    }
    out
}

/// Prepends `first` (a MessagePack value) to the MessagePack array `args`.
/// A lone nil counts as no arguments: it is what the unit value `()` (the
/// rest of a link whose only parameter is the previous output) encodes to.
///
/// # Errors
/// [`Error::MalformedMessage`] if `args` is not a MessagePack array.
pub(crate) fn prepend_arg(args: &[u8], first: &[u8]) -> Result<Vec<u8>> {
    let (count, header_len) = match args.first() {
        Some(0xc0) if args.len() == 1 => (0, 1),
        Some(&b) if (0x90..=0x9f).contains(&b) => (usize::from(b & 0x0f), 1),
        Some(0xdc) if args.len() >= 3 => (usize::from(u16::from_be_bytes([args[1], args[2]])), 3),
        Some(0xdd) if args.len() >= 5 => (
            u32::from_be_bytes([args[1], args[2], args[3], args[4]]) as usize,
            5,
        ),
        _ => {
            return Err(Error::MalformedMessage(
                "task arguments are not a MessagePack array".into(),
            ));
        }
    };
    let mut out = Vec::with_capacity(args.len() + first.len() + 4);
    array_header(count + 1, &mut out);
    out.extend_from_slice(first);
    out.extend_from_slice(&args[header_len..]);
    Ok(out)
}

/// Runs `op` until it succeeds, retrying transient errors with backoff
/// until the worker loses its lease.
async fn persist<T, F, Fut>(what: &str, lease_lost: &CancellationToken, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && !lease_lost.is_cancelled() => {
                tracing::warn!(error = %e, "{what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The id a chord's callback is sent with.
fn callback_id(membership: &GroupMembership, callback: &RawSignature) -> Result<TaskId> {
    match &callback.options.id {
        Some(id) => Ok(id.clone()),
        None => TaskId::new(membership.group_id.clone()),
    }
}

/// Sends what follows a successful run (its links; for a chord member, the
/// report to its group and, if this completes the group, the callback),
/// retrying transient errors until they succeed or the worker loses its
/// lease. Called before the success is recorded: if it fails, the task runs
/// again, and everything here is idempotent.
pub(crate) async fn on_success(
    client: &Client,
    id: &TaskId,
    env: &Envelope,
    output: &[u8],
    lease_lost: &CancellationToken,
) -> Result<()> {
    if !env.link.is_empty() {
        let mut calls = Vec::with_capacity(env.link.len());
        for (i, link) in env.link.iter().enumerate() {
            let mut call = link.clone();
            call.args = prepend_arg(&call.args, output)?;
            call.options.id = Some(link_id(id, i)?);
            calls.push(call);
        }
        persist("sending follow-up tasks", lease_lost, || {
            client.send_raw_batch(calls.clone())
        })
        .await?;
    }
    if let Some(g) = &env.group
        && let Some(callback) = &g.callback
    {
        let report = GroupReport {
            group_id: g.group_id.clone(),
            index: g.index,
            size: g.size,
            callback_id: callback_id(g, callback)?,
            ttl_s: env.result_ttl_s,
            outcome: MemberOutcome::Succeeded(output.to_vec()),
        };
        let status = persist("reporting to the chord's group", lease_lost, || {
            client.broker().group_report(&report)
        })
        .await?;
        if let GroupStatus::Complete(outputs) = status {
            let mut call = (**callback).clone();
            call.args = prepend_arg(&call.args, &array_of(&outputs))?;
            call.options.id = Some(report.callback_id.clone());
            persist("sending the chord's callback", lease_lost, || {
                client.send_raw(call.clone())
            })
            .await?;
        }
    }
    Ok(())
}

/// Records on its group that a chord member failed for good (best effort:
/// without the record the callback does not run either, since the group
/// never completes).
pub(crate) async fn on_failure(client: &Client, env: &Envelope, reason: &str) {
    let Some(g) = &env.group else { return };
    let Some(callback) = &g.callback else { return };
    let Ok(callback_id) = callback_id(g, callback) else {
        return;
    };
    let report = GroupReport {
        group_id: g.group_id.clone(),
        index: g.index,
        size: g.size,
        callback_id,
        ttl_s: env.result_ttl_s,
        outcome: MemberOutcome::Failed(reason.to_owned()),
    };
    let never = CancellationToken::new();
    let attempt = persist("recording a chord member's failure", &never, || {
        client.broker().group_report(&report)
    });
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, group = %g.group_id, "could not record the chord member's failure")
        }
        Err(_) => {
            tracing::warn!(group = %g.group_id, "timed out recording the chord member's failure")
        }
    }
}

/// A chord ready to send: built by [`chord`].
#[derive(Debug, Clone)]
pub struct Chord {
    group_id: String,
    callback_id: TaskId,
    members: Vec<RawSignature>,
    callback: RawSignature,
}

/// Builds a chord: `members` run in parallel; when every one has
/// succeeded, `callback` is sent once with the list of their outputs (in
/// member order) prepended to its arguments. If any member fails for good
/// (or is canceled or expires), the callback never runs and the failure is
/// recorded on the group ([`ChordResult::state`]).
///
/// The callback is sent with its own id if it has one (set with
/// [`Signature::id`](crate::Signature::id)), else with the group's id.
///
/// # Errors
/// [`Error::Config`] if a member already belongs to a group (chords do not
/// nest) or the callback's arguments are not a tuple, or
/// [`Error::InvalidTaskId`] for an unusable id.
pub fn chord(
    members: impl IntoIterator<Item = RawSignature>,
    callback: RawSignature,
) -> Result<Chord> {
    let mut members: Vec<RawSignature> = members.into_iter().collect();
    check_rest_args(&callback)?;
    let group_id = uuid::Uuid::now_v7().to_string();
    let size = u32::try_from(members.len())
        .map_err(|_| Error::Config("a chord has at most 2^32 - 1 members".into()))?;
    let mut membership = GroupMembership {
        group_id: group_id.clone(),
        index: 0,
        size,
        callback: None,
    };
    let callback_id = callback_id(&membership, &callback)?;
    let mut callback = callback;
    callback.options.id = Some(callback_id.clone());
    membership.callback = Some(Box::new(callback.clone()));
    for (i, m) in members.iter_mut().enumerate() {
        if m.group.is_some() {
            return Err(Error::Config(
                "a chord member cannot belong to another group".into(),
            ));
        }
        m.group = Some(GroupMembership {
            index: i as u32,
            ..membership.clone()
        });
    }
    Ok(Chord {
        group_id,
        callback_id,
        members,
        callback,
    })
}

impl Chord {
    /// The group's id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The id the callback will be sent with.
    pub fn callback_id(&self) -> &TaskId {
        &self.callback_id
    }

    /// The member calls, with their group membership set.
    pub fn members(&self) -> &[RawSignature] {
        &self.members
    }

    /// Sends the members (in one batch; the callback follows when they have
    /// all succeeded). `O` is the callback's output type. A chord without
    /// members sends its callback at once, with an empty list.
    ///
    /// # Errors
    /// As [`Client::send_raw_batch`].
    pub async fn send<O: serde::de::DeserializeOwned>(
        self,
        client: &Client,
    ) -> Result<ChordResult<O>> {
        let members = if self.members.is_empty() {
            let mut call = self.callback;
            call.args = prepend_arg(&call.args, &array_of(&[]))?;
            client.send_raw(call).await?;
            Vec::new()
        } else {
            client
                .send_raw_batch(self.members)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect()
        };
        Ok(ChordResult {
            group_id: self.group_id,
            members,
            callback: client.result(self.callback_id),
            client: client.clone(),
        })
    }
}

/// A sent chord: its members' ids, a handle on the callback's result and
/// the group's bookkeeping.
#[derive(Debug)]
pub struct ChordResult<O> {
    group_id: String,
    members: Vec<TaskId>,
    callback: AsyncResult<O>,
    client: Client,
}

impl<O: serde::de::DeserializeOwned> ChordResult<O> {
    /// The group's id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The members' task ids, in order.
    pub fn members(&self) -> &[TaskId] {
        &self.members
    }

    /// The callback's result. Until every member has succeeded the callback
    /// is not known to the broker, so waiting on it directly reports
    /// [`Error::UnknownTask`]; [`ChordResult::wait`] waits for the members
    /// first.
    pub fn callback(&self) -> &AsyncResult<O> {
        &self.callback
    }

    /// Waits for every member, then for the callback, and returns the
    /// callback's output.
    ///
    /// # Errors
    /// The first member's failure or cancellation (then the callback never
    /// runs), the callback's own failure, or [`Error::Timeout`].
    pub async fn wait(&self, timeout: Duration) -> Result<O> {
        let deadline = tokio::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        for id in &self.members {
            // Each member's success is recorded after the callback is sent
            // (by whichever member completes the group).
            self.client
                .result::<serde::de::IgnoredAny>(id.clone())
                .wait(left())
                .await?;
        }
        self.callback.wait(left()).await
    }

    /// How many members have succeeded, and the failure that stopped the
    /// chord, if any.
    ///
    /// # Errors
    /// A broker error.
    pub async fn state(&self) -> Result<GroupState> {
        self.client.broker().group_state(&self.group_id).await
    }
}

/// The results of a group of tasks sent together.
#[derive(Debug)]
pub struct GroupResult<O> {
    members: Vec<AsyncResult<O>>,
}

impl<O: serde::de::DeserializeOwned> GroupResult<O> {
    /// The members, in the order they were given.
    pub fn members(&self) -> &[AsyncResult<O>] {
        &self.members
    }

    /// Waits for every member and returns their outputs in order.
    ///
    /// # Errors
    /// The first member's failure, cancellation or timeout.
    pub async fn join(&self, timeout: Duration) -> Result<Vec<O>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut out = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            out.push(m.wait(left).await?);
        }
        Ok(out)
    }
}

/// Sends calls of one task type in parallel (one round trip) and returns a
/// handle on all their results.
///
/// # Errors
/// As [`Client::send_batch`].
pub async fn group<T: crate::task::Task>(
    client: &Client,
    calls: impl IntoIterator<Item = crate::task::Signature<T>>,
) -> Result<GroupResult<T::Output>> {
    Ok(GroupResult {
        members: client.send_batch(calls).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepend_to_small_and_large_arrays() {
        let args = rmp_serde::to_vec(&(8u32,)).unwrap();
        let first = rmp_serde::to_vec(&4u32).unwrap();
        let joined = prepend_arg(&args, &first).unwrap();
        let (a, b): (u32, u32) = rmp_serde::from_slice(&joined).unwrap();
        assert_eq!((a, b), (4, 8));

        let big: Vec<u8> = (0..15).collect();
        let args = rmp_serde::to_vec(&big).unwrap();
        let joined = prepend_arg(&args, &rmp_serde::to_vec(&99u8).unwrap()).unwrap();
        let v: Vec<u8> = rmp_serde::from_slice(&joined).unwrap();
        assert_eq!(v.len(), 16);
        assert_eq!(v[0], 99);

        assert!(prepend_arg(b"\x01", b"\x01").is_err());

        // `()`, the rest of a link that takes only the previous output.
        let unit = rmp_serde::to_vec(&()).unwrap();
        let joined = prepend_arg(&unit, &rmp_serde::to_vec(&7u8).unwrap()).unwrap();
        let (v,): (u8,) = rmp_serde::from_slice(&joined).unwrap();
        assert_eq!(v, 7);
    }

    #[test]
    fn link_ids_are_deterministic_and_bounded() {
        let p = TaskId::new("abc").unwrap();
        assert_eq!(link_id(&p, 0).unwrap().as_str(), "abc>0");
        let long = TaskId::new("x".repeat(200)).unwrap();
        assert!(link_id(&long, 3).unwrap().as_str().len() < 40);
    }
}
