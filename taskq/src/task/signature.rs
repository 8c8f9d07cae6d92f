//! A task call waiting to be sent: the task, its arguments and per-call options.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{OnWorkerLost, Priority, RateLimit, Resource, RetryPolicy, Task, TaskId, TaskOptions};
use crate::broker::Message;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::result::AsyncResult;
use crate::time::{millis, now_ms};
use crate::wire::{Envelope, GroupMembership, encode_frame};

/// Options of one send, starting from the task type's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendOptions {
    /// A caller-chosen id (makes the send idempotent); generated otherwise.
    pub id: Option<TaskId>,
    /// Target queue.
    pub queue: String,
    /// Priority.
    pub priority: Priority,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Soft time limit.
    pub soft_time_limit: Option<Duration>,
    /// Hard time limit.
    pub time_limit: Option<Duration>,
    /// Relative expiry, counted from the send.
    pub expires: Option<Duration>,
    /// Run no earlier than this (ms since the Unix epoch).
    pub eta_ms: Option<u64>,
    /// How long the result is kept.
    pub result_ttl: Duration,
    /// Resources to reserve.
    pub resources: Vec<Resource>,
    /// What to do when the worker dies.
    pub on_worker_lost: OnWorkerLost,
    /// Application headers.
    pub headers: BTreeMap<String, String>,
    /// The task type's cluster-wide rate limit.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

impl SendOptions {
    /// The options a task type declares.
    pub fn from_task_options(o: &TaskOptions) -> Self {
        SendOptions {
            id: None,
            queue: o.queue.to_owned(),
            priority: o.priority,
            retry: o.retry,
            soft_time_limit: o.soft_time_limit,
            time_limit: o.time_limit,
            expires: o.expires,
            eta_ms: None,
            result_ttl: o.result_ttl,
            resources: Vec::new(),
            on_worker_lost: o.on_worker_lost,
            headers: BTreeMap::new(),
            rate_limit: o.rate_limit,
        }
    }
}

/// An untyped task call: wire name, encoded arguments and options.
///
/// Beat schedules, chains and groups store calls in this form; typed code
/// uses [`Signature`] and converts with [`Signature::into_raw`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawSignature {
    /// The task's wire name.
    pub name: String,
    /// MessagePack-encoded arguments (a tuple, one element per parameter).
    #[serde(with = "serde_bytes")]
    pub args: Vec<u8>,
    /// Per-call options.
    pub options: SendOptions,
    /// Calls to send after this one succeeds (see [`Envelope::link`]).
    #[serde(default)]
    pub link: Vec<RawSignature>,
    /// Chord membership, set by [`crate::canvas`].
    #[serde(default)]
    pub group: Option<GroupMembership>,
}

impl RawSignature {
    /// A call of task `name` with already-encoded arguments and default options.
    pub fn new(name: impl Into<String>, args: Vec<u8>) -> Self {
        RawSignature {
            name: name.into(),
            args,
            options: SendOptions::from_task_options(&TaskOptions::DEFAULT),
            link: Vec::new(),
            group: None,
        }
    }

    /// A call of task `T` with only its *trailing* arguments, as a tuple:
    /// the leading one is filled in later by a chain (the previous task's
    /// output) or a chord (the list of member outputs). Options are `T`'s
    /// defaults.
    ///
    /// ```
    /// # use taskq::{task, RawSignature, TaskError};
    /// #[task(name = "docs.report")]
    /// async fn report(totals: Vec<u64>, title: String) -> Result<String, TaskError> {
    ///     Ok(format!("{title}: {totals:?}"))
    /// }
    ///
    /// let callback = RawSignature::partial::<report>(&("nightly",)).unwrap();
    /// assert_eq!(callback.name, "docs.report");
    /// ```
    ///
    /// # Errors
    /// [`Error::Encode`] if the arguments cannot be encoded.
    pub fn partial<T: Task>(rest: &impl Serialize) -> Result<Self> {
        let args = rmp_serde::to_vec(rest)
            .map_err(|e| Error::encode(format!("arguments of task {}", T::NAME), e))?;
        Ok(RawSignature {
            name: T::NAME.to_owned(),
            args,
            options: SendOptions::from_task_options(&T::OPTIONS),
            link: Vec::new(),
            group: None,
        })
    }

    /// Turns the call into a broker message, fixing its id and timestamps.
    ///
    /// # Errors
    /// [`Error::Encode`] if the envelope cannot be encoded.
    pub fn into_message(self) -> Result<Message> {
        let now = now_ms();
        let mut o = self.options;
        let (id, dedupe) = match o.id.take() {
            Some(id) => (id, true),
            None => (TaskId::generate(), false),
        };
        let envelope = Envelope {
            name: self.name,
            args: self.args,
            queue: o.queue,
            priority: o.priority,
            attempt: 1,
            retry: o.retry,
            soft_time_limit_ms: o.soft_time_limit.map(millis),
            time_limit_ms: o.time_limit.map(millis),
            expires_at_ms: o.expires.map(|e| now + millis(e)),
            result_ttl_s: o.result_ttl.as_secs().max(1),
            created_ms: now,
            resources: o.resources,
            on_worker_lost: o.on_worker_lost,
            headers: o.headers,
            link: self.link,
            group: self.group,
            rate_limit: o.rate_limit,
            eta_ms: o.eta_ms.filter(|&eta| eta > now),
        };
        let frame = encode_frame(&id, &envelope)?;
        Ok(Message {
            id,
            name: envelope.name,
            queue: envelope.queue,
            priority: envelope.priority,
            eta_ms: envelope.eta_ms,
            resources: envelope.resources,
            result_ttl_s: envelope.result_ttl_s,
            dedupe,
            frame,
        })
    }
}

/// A typed call of task `T`, built by the generated `T::call(..)` (or
/// [`Signature::new`]) and sent with [`Signature::send`] or
/// [`Client::send`].
///
/// ```
/// # use std::time::Duration;
/// # use taskq::{task, TaskError, Priority};
/// #[task(name = "docs.add")]
/// async fn add(x: i64, y: i64) -> Result<i64, TaskError> {
///     Ok(x + y)
/// }
///
/// let call = add::call(2, 3)
///     .priority(Priority::High)
///     .countdown(Duration::from_secs(10))
///     .exclusive("counter:7");
/// assert_eq!(call.options().priority, Priority::High);
/// ```
pub struct Signature<T: Task> {
    args: T::Args,
    options: SendOptions,
    link: Vec<RawSignature>,
    _task: PhantomData<fn() -> T>,
}

impl<T: Task> std::fmt::Debug for Signature<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signature")
            .field("task", &T::NAME)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<T: Task> Clone for Signature<T>
where
    T::Args: Clone,
{
    fn clone(&self) -> Self {
        Signature {
            args: self.args.clone(),
            options: self.options.clone(),
            link: self.link.clone(),
            _task: PhantomData,
        }
    }
}

impl<T: Task> Signature<T> {
    /// A call with the given arguments and the task's default options.
    pub fn new(args: T::Args) -> Self {
        Signature {
            args,
            options: SendOptions::from_task_options(&T::OPTIONS),
            link: Vec::new(),
            _task: PhantomData,
        }
    }

    /// The options as currently set.
    pub fn options(&self) -> &SendOptions {
        &self.options
    }

    /// The arguments.
    pub fn args(&self) -> &T::Args {
        &self.args
    }

    /// Uses this id instead of a generated one. A send with an id that the
    /// broker still knows is ignored, so retried sends do not duplicate work.
    pub fn id(mut self, id: TaskId) -> Self {
        self.options.id = Some(id);
        self
    }

    /// Sends to another queue.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.options.queue = queue.into();
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.options.priority = priority;
        self
    }

    /// Sets the number of retries.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.options.retry.max_retries = n;
        self
    }

    /// Sets the whole retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// Runs the task no earlier than `delay` from now.
    pub fn countdown(mut self, delay: Duration) -> Self {
        self.options.eta_ms = Some(now_ms() + millis(delay));
        self
    }

    /// Runs the task no earlier than `at`.
    pub fn eta(mut self, at: SystemTime) -> Self {
        let ms = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(millis)
            .unwrap_or(0);
        self.options.eta_ms = Some(ms);
        self
    }

    /// Discards the task if it has not started within `after` of sending.
    pub fn expires(mut self, after: Duration) -> Self {
        self.options.expires = Some(after);
        self
    }

    /// Sets the soft time limit.
    pub fn soft_time_limit(mut self, limit: Duration) -> Self {
        self.options.soft_time_limit = Some(limit);
        self
    }

    /// Sets the hard time limit.
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.options.time_limit = Some(limit);
        self
    }

    /// Keeps the result this long.
    pub fn result_ttl(mut self, ttl: Duration) -> Self {
        self.options.result_ttl = ttl;
        self
    }

    /// Reserves `resource` exclusively while the task runs.
    pub fn exclusive(mut self, resource: impl Into<String>) -> Self {
        self.options.resources.push(Resource::exclusive(resource));
        self
    }

    /// Reserves `resource` shared while the task runs.
    pub fn shared(mut self, resource: impl Into<String>) -> Self {
        self.options.resources.push(Resource::shared(resource));
        self
    }

    /// Sets what happens when the worker running the task dies.
    pub fn on_worker_lost(mut self, what: OnWorkerLost) -> Self {
        self.options.on_worker_lost = what;
        self
    }

    /// Adds an application header, readable in the task through
    /// [`TaskContext::header`](crate::TaskContext::header).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.headers.insert(key.into(), value.into());
        self
    }

    /// Sends `next` after this task succeeds (see [`crate::canvas::chain`]).
    pub fn link(mut self, next: RawSignature) -> Self {
        self.link.push(next);
        self
    }

    /// Encodes the arguments and erases the type.
    ///
    /// # Errors
    /// [`Error::Encode`] if the arguments cannot be encoded.
    pub fn into_raw(self) -> Result<RawSignature> {
        let args = rmp_serde::to_vec(&self.args)
            .map_err(|e| Error::encode(format!("arguments of task {}", T::NAME), e))?;
        Ok(RawSignature {
            name: T::NAME.to_owned(),
            args,
            options: self.options,
            link: self.link,
            group: None,
        })
    }

    /// Sends the call and returns a handle on its result.
    ///
    /// # Errors
    /// [`Error::Encode`] for unencodable arguments, or a broker error.
    pub async fn send(self, client: &Client) -> Result<AsyncResult<T::Output>> {
        client.send(self).await
    }
}
