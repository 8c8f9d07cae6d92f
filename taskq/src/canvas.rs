//! Composing tasks: chains (each task's output feeds the next) and groups
//! (run in parallel, wait for all).
//!
//! A chain is stored in the first task's envelope as a *link*: when the task
//! succeeds, the worker sends the next call with the output prepended to its
//! arguments (as Celery does: `chain([add(2, 2), mul(8)])` computes
//! `mul(add(2, 2), 8)`), before it records the success. Follow-up ids are
//! derived from the parent's id and sent with deduplication, so a parent
//! that runs twice (at-least-once delivery) still starts each follow-up
//! once. A failure, cancellation or expiry ends the chain.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::result::AsyncResult;
use crate::task::{RawSignature, TaskId};
use crate::wire::Envelope;

/// Builds a chain from calls: each call after the first receives the
/// previous output as its first argument. Returns the first call with the
/// rest linked to it; send it like any call.
///
/// # Errors
/// [`Error::Config`] if `calls` is empty.
pub fn chain(calls: impl IntoIterator<Item = RawSignature>) -> Result<RawSignature> {
    let mut calls: Vec<RawSignature> = calls.into_iter().collect();
    let mut next: Option<RawSignature> = None;
    while let Some(mut call) = calls.pop() {
        if let Some(n) = next.take() {
            call.link.push(n);
        }
        next = Some(call);
    }
    next.ok_or_else(|| Error::Config("a chain needs at least one call".into()))
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

/// Prepends `first` (a MessagePack value) to the MessagePack array `args`.
///
/// # Errors
/// [`Error::MalformedMessage`] if `args` is not a MessagePack array.
pub(crate) fn prepend_arg(args: &[u8], first: &[u8]) -> Result<Vec<u8>> {
    let (count, header_len) = match args.first() {
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
    let n = count + 1;
    let mut out = Vec::with_capacity(args.len() + first.len() + 4);
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(first);
    out.extend_from_slice(&args[header_len..]);
    Ok(out)
}

/// Sends what follows a successful run (its links), retrying transient
/// errors until they succeed or the worker loses its lease.
pub(crate) async fn on_success(
    client: &Client,
    id: &TaskId,
    env: &Envelope,
    output: &[u8],
    lease_lost: &CancellationToken,
) -> Result<()> {
    if env.link.is_empty() {
        return Ok(());
    }
    let mut calls = Vec::with_capacity(env.link.len());
    for (i, link) in env.link.iter().enumerate() {
        let mut call = link.clone();
        call.args = prepend_arg(&call.args, output)?;
        call.options.id = Some(link_id(id, i)?);
        calls.push(call);
    }
    let mut delay = Duration::from_millis(50);
    loop {
        match client.send_raw_batch(calls.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_transient() && !lease_lost.is_cancelled() => {
                tracing::warn!(error = %e, "sending follow-up tasks failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
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
    }

    #[test]
    fn link_ids_are_deterministic_and_bounded() {
        let p = TaskId::new("abc").unwrap();
        assert_eq!(link_id(&p, 0).unwrap().as_str(), "abc>0");
        let long = TaskId::new("x".repeat(200)).unwrap();
        assert!(link_id(&long, 3).unwrap().as_str().len() < 40);
    }
}
