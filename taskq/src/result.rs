//! Task states, stored records and handles on pending results.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::task::TaskId;

/// Where a task is in its life.
///
/// `pending` (queued) → `waiting` (blocked on a reserved resource) →
/// `started` → `succeeded` | `failed` | `retrying` (back to the queue after a
/// delay) | `canceled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Queued (or scheduled for later).
    Pending,
    /// Waiting for a resource held by an earlier task.
    Waiting,
    /// Running on a worker.
    Started,
    /// Failed an attempt; will run again after its backoff.
    Retrying,
    /// Finished successfully; the result is stored.
    Succeeded,
    /// Failed for good; the error is stored.
    Failed,
    /// Canceled before or while running.
    Canceled,
}

impl TaskState {
    /// The lowercase name used in Redis and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Waiting => "waiting",
            TaskState::Started => "started",
            TaskState::Retrying => "retrying",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
        }
    }

    /// Whether the task will not change state again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed | TaskState::Canceled
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => TaskState::Pending,
            "waiting" => TaskState::Waiting,
            "started" => TaskState::Started,
            "retrying" => TaskState::Retrying,
            "succeeded" => TaskState::Succeeded,
            "failed" => TaskState::Failed,
            "canceled" => TaskState::Canceled,
            other => {
                return Err(Error::MalformedMessage(format!(
                    "unknown task state {other:?}"
                )));
            }
        })
    }
}

/// The category of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The task returned an error.
    Error,
    /// The task panicked.
    Panic,
    /// The hard time limit passed and the task was dropped.
    TimeLimit,
    /// The worker running the task died (and the task asked to fail rather
    /// than be requeued).
    WorkerLost,
    /// The task was not started before its expiry.
    Expired,
    /// The task was canceled.
    Canceled,
    /// The message could not be decoded (its arguments do not match the
    /// task's types, or it is not a taskq message at all).
    Undecodable,
    /// No worker serving the queue knows the task's name.
    Unregistered,
    /// The task killed its worker too many times and was dead-lettered.
    Poison,
}

impl FailureKind {
    /// The snake_case name stored in Redis.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Error => "error",
            FailureKind::Panic => "panic",
            FailureKind::TimeLimit => "time_limit",
            FailureKind::WorkerLost => "worker_lost",
            FailureKind::Expired => "expired",
            FailureKind::Canceled => "canceled",
            FailureKind::Undecodable => "undecodable",
            FailureKind::Unregistered => "unregistered",
            FailureKind::Poison => "poison",
        }
    }

    fn parse(s: &str) -> FailureKind {
        match s {
            "panic" => FailureKind::Panic,
            "time_limit" => FailureKind::TimeLimit,
            "worker_lost" => FailureKind::WorkerLost,
            "expired" => FailureKind::Expired,
            "canceled" => FailureKind::Canceled,
            "undecodable" => FailureKind::Undecodable,
            "unregistered" => FailureKind::Unregistered,
            "poison" => FailureKind::Poison,
            _ => FailureKind::Error,
        }
    }
}

/// Why a task did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The category.
    pub kind: FailureKind,
    /// A human-readable message (the error chain, the panic message, ...).
    pub message: String,
}

impl TaskFailure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        TaskFailure {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.as_str())
    }
}

/// Everything the broker stores about one task.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskRecord {
    /// The task's id.
    pub id: TaskId,
    /// Its wire name.
    pub name: String,
    /// Its queue.
    pub queue: String,
    /// Its state.
    pub state: TaskState,
    /// The attempt running or last run (1-based; 0 before the first start).
    pub attempt: u32,
    /// When it was sent (ms since the Unix epoch).
    pub created_ms: u64,
    /// When the current or last attempt started.
    pub started_ms: Option<u64>,
    /// When it ended.
    pub finished_ms: Option<u64>,
    /// When it is due, if it was sent with a countdown or is retrying.
    pub eta_ms: Option<u64>,
    /// The worker running or last running it.
    pub worker: Option<String>,
    /// The MessagePack-encoded result, once succeeded.
    pub result: Option<Vec<u8>>,
    /// The failure, once failed or canceled (also the last error while retrying).
    pub error: Option<TaskFailure>,
    /// The latest progress report, MessagePack-encoded.
    pub progress: Option<Vec<u8>>,
    /// Whether a cancellation was requested while it ran.
    pub cancel_requested: bool,
    /// Resources it reserves, as `x:name` / `s:name` lines.
    pub resources: Vec<String>,
}

impl TaskRecord {
    /// Builds a record from a Redis hash (field → value).
    pub(crate) fn from_fields(id: TaskId, fields: Vec<(String, Vec<u8>)>) -> Result<Option<Self>> {
        if fields.is_empty() {
            return Ok(None);
        }
        let mut r = TaskRecord {
            id,
            name: String::new(),
            queue: String::new(),
            state: TaskState::Pending,
            attempt: 0,
            created_ms: 0,
            started_ms: None,
            finished_ms: None,
            eta_ms: None,
            worker: None,
            result: None,
            error: None,
            progress: None,
            cancel_requested: false,
            resources: Vec::new(),
        };
        let mut error_kind = None;
        let mut error_msg = None;
        for (k, v) in fields {
            let text = || String::from_utf8_lossy(&v).into_owned();
            let num = || text().parse::<u64>().ok();
            match k.as_str() {
                "name" => r.name = text(),
                "queue" => r.queue = text(),
                "state" => r.state = text().parse()?,
                "attempt" => r.attempt = num().unwrap_or(0) as u32,
                "created" => r.created_ms = num().unwrap_or(0),
                "started" => r.started_ms = num(),
                "finished" => r.finished_ms = num(),
                "eta" => r.eta_ms = num(),
                "worker" => r.worker = Some(text()),
                "result" => r.result = Some(v),
                "error_kind" => error_kind = Some(FailureKind::parse(&text())),
                "error" => error_msg = Some(text()),
                "progress" => r.progress = Some(v),
                "cancel" => r.cancel_requested = v == b"1",
                "resources" => {
                    r.resources = text().lines().map(str::to_owned).collect();
                }
                _ => {}
            }
        }
        if let Some(message) = error_msg {
            r.error = Some(TaskFailure {
                kind: error_kind.unwrap_or(FailureKind::Error),
                message,
            });
        }
        Ok(Some(r))
    }

    /// Decodes the stored result as `O`.
    ///
    /// # Errors
    /// [`Error::Decode`] if the stored bytes are not an `O`.
    pub fn output<O: DeserializeOwned>(&self) -> Result<Option<O>> {
        self.result
            .as_deref()
            .map(|b| {
                rmp_serde::from_slice(b)
                    .map_err(|e| Error::decode(format!("result of task {}", self.id), e))
            })
            .transpose()
    }

    /// Decodes the latest progress report as `P`.
    ///
    /// # Errors
    /// [`Error::Decode`] if the stored bytes are not a `P`.
    pub fn progress_as<P: DeserializeOwned>(&self) -> Result<Option<P>> {
        self.progress
            .as_deref()
            .map(|b| {
                rmp_serde::from_slice(b)
                    .map_err(|e| Error::decode(format!("progress of task {}", self.id), e))
            })
            .transpose()
    }
}

/// What [`Client::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelStatus {
    /// The task had not started: it is canceled and will never run.
    Canceled,
    /// The task is running: its cancellation token fired; it ends `canceled`
    /// when it stops (or is dropped after the worker's grace period).
    Canceling,
    /// The task had already ended in this state; nothing changed.
    AlreadyFinished(TaskState),
    /// No such task (never sent, or its record expired).
    Unknown,
}

/// A handle on the result of a sent task.
pub struct AsyncResult<O> {
    id: TaskId,
    client: Client,
    _output: PhantomData<fn() -> O>,
}

impl<O> Clone for AsyncResult<O> {
    fn clone(&self) -> Self {
        AsyncResult {
            id: self.id.clone(),
            client: self.client.clone(),
            _output: PhantomData,
        }
    }
}

impl<O> fmt::Debug for AsyncResult<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult").field("id", &self.id).finish()
    }
}

impl<O: DeserializeOwned> AsyncResult<O> {
    pub(crate) fn new(id: TaskId, client: Client) -> Self {
        AsyncResult {
            id,
            client,
            _output: PhantomData,
        }
    }

    /// The task's id.
    pub fn id(&self) -> &TaskId {
        &self.id
    }

    /// The stored record, if the broker still has it.
    ///
    /// # Errors
    /// A broker error.
    pub async fn record(&self) -> Result<Option<TaskRecord>> {
        self.client.record(&self.id).await
    }

    /// The current state.
    ///
    /// # Errors
    /// [`Error::UnknownTask`] if the broker has no record, or a broker error.
    pub async fn state(&self) -> Result<TaskState> {
        self.record()
            .await?
            .map(|r| r.state)
            .ok_or_else(|| Error::UnknownTask(self.id.to_string()))
    }

    /// The latest progress report.
    ///
    /// # Errors
    /// A broker or decode error.
    pub async fn progress<P: DeserializeOwned>(&self) -> Result<Option<P>> {
        match self.record().await? {
            Some(r) => r.progress_as(),
            None => Ok(None),
        }
    }

    /// Waits until the task ends and returns its output. Woken by a
    /// notification from the worker that finished it, not by polling.
    ///
    /// # Errors
    /// [`Error::TaskFailed`], [`Error::TaskCanceled`], [`Error::Timeout`],
    /// [`Error::UnknownTask`], or a broker or decode error.
    pub async fn wait(&self, timeout: Duration) -> Result<O> {
        let record = self
            .client
            .broker()
            .wait_final(&self.id, timeout)
            .await?
            .ok_or(Error::Timeout(timeout))?;
        match record.state {
            TaskState::Succeeded => record.output()?.ok_or_else(|| {
                Error::MalformedMessage(format!("task {} succeeded without a result", self.id))
            }),
            TaskState::Canceled => {
                Err(Error::TaskCanceled(record.error.unwrap_or_else(|| {
                    TaskFailure::new(FailureKind::Canceled, "canceled")
                })))
            }
            _ => Err(Error::TaskFailed(record.error.unwrap_or_else(|| {
                TaskFailure::new(FailureKind::Error, "failed")
            }))),
        }
    }

    /// Cancels the task (see [`Client::cancel`]).
    ///
    /// # Errors
    /// A broker error.
    pub async fn cancel(&self) -> Result<CancelStatus> {
        self.client.cancel(&self.id).await
    }
}
