//! What a running task can see and do: its id, attempt, cancellation,
//! progress reports and the worker's shared state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::TaskId;
use crate::client::Client;
use crate::error::{Error, Result};

/// Why a task's cancellation token fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// Someone canceled the task (see [`Client::cancel`]).
    Requested,
    /// The task's soft time limit passed.
    SoftTimeLimit,
    /// The worker is shutting down; the task will be handed back to its
    /// queue if it does not finish within the grace period.
    Shutdown,
    /// The worker lost its lease (it could not reach Redis for a whole lease
    /// period, or was declared dead); another worker may now run the task.
    LeaseLost,
}

/// Per-run facts shared by all clones of a [`TaskContext`].
#[derive(Debug)]
pub(crate) struct RunInfo {
    pub(crate) id: TaskId,
    pub(crate) name: String,
    pub(crate) attempt: u32,
    pub(crate) headers: BTreeMap<String, String>,
    /// Fires for every reason; the task observes it.
    pub(crate) token: CancellationToken,
    /// Fires for every reason but the soft time limit; starts the grace
    /// period after which the worker drops the task's future.
    pub(crate) stop: CancellationToken,
    pub(crate) reason: Mutex<Option<CancelReason>>,
    pub(crate) client: Client,
}

impl RunInfo {
    pub(crate) fn new(
        id: TaskId,
        name: String,
        attempt: u32,
        headers: BTreeMap<String, String>,
        client: Client,
    ) -> Self {
        RunInfo {
            id,
            name,
            attempt,
            headers,
            token: CancellationToken::new(),
            stop: CancellationToken::new(),
            reason: Mutex::new(None),
            client,
        }
    }

    /// Fires the token. The first reason is kept, except that any other
    /// reason replaces a soft time limit.
    pub(crate) fn cancel(&self, reason: CancelReason) {
        {
            let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
            if r.is_none()
                || (*r == Some(CancelReason::SoftTimeLimit)
                    && reason != CancelReason::SoftTimeLimit)
            {
                *r = Some(reason);
            }
        }
        if reason != CancelReason::SoftTimeLimit {
            self.stop.cancel();
        }
        self.token.cancel();
    }

    /// Why the token fired, if it did.
    pub(crate) fn reason(&self) -> Option<CancelReason> {
        *self.reason.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The context handed to a running task.
///
/// `S` is the worker's shared application state (a database handle, a
/// storage client, ...), set with
/// [`WorkerBuilder::state`](crate::worker::WorkerBuilder::state).
pub struct TaskContext<S = ()> {
    run: Arc<RunInfo>,
    state: Arc<S>,
}

impl<S> Clone for TaskContext<S> {
    fn clone(&self) -> Self {
        TaskContext {
            run: Arc::clone(&self.run),
            state: Arc::clone(&self.state),
        }
    }
}

impl<S> std::fmt::Debug for TaskContext<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("id", &self.run.id)
            .field("name", &self.run.name)
            .field("attempt", &self.run.attempt)
            .field("cancelled", &self.run.token.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl<S> TaskContext<S> {
    pub(crate) fn new(run: Arc<RunInfo>, state: Arc<S>) -> Self {
        TaskContext { run, state }
    }

    /// The task's id.
    pub fn id(&self) -> &TaskId {
        &self.run.id
    }

    /// The task's wire name.
    pub fn name(&self) -> &str {
        &self.run.name
    }

    /// 1 on the first run, 2 on the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.run.attempt
    }

    /// The worker's shared state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The shared state as an `Arc`, to move into spawned futures.
    pub fn state_arc(&self) -> Arc<S> {
        Arc::clone(&self.state)
    }

    /// A header set by the sender with [`Signature::header`](crate::Signature::header).
    pub fn header(&self, key: &str) -> Option<&str> {
        self.run.headers.get(key).map(String::as_str)
    }

    /// A client on the same broker, to send further tasks.
    pub fn client(&self) -> &Client {
        &self.run.client
    }

    /// Whether the task has been asked to stop (canceled, soft time limit,
    /// shutdown). Long loops should check it and return
    /// [`TaskError::Canceled`](crate::TaskError::Canceled).
    pub fn is_cancelled(&self) -> bool {
        self.run.token.is_cancelled()
    }

    /// Completes when the task is asked to stop.
    pub async fn cancelled(&self) {
        self.run.token.cancelled().await;
    }

    /// Why the task was asked to stop, once it was.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.run.reason()
    }

    /// A clone of the cancellation token, for `select!` in helper futures.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.run.token.clone()
    }

    /// Publishes a progress report that watchers of the task can read
    /// ([`AsyncResult::progress`](crate::AsyncResult::progress)). Each report
    /// replaces the previous one; it costs one Redis write, so report at a
    /// human pace (a few times per second), not per byte.
    ///
    /// # Errors
    /// [`Error::Encode`] if the report cannot be encoded, or a broker error.
    pub async fn progress<P: Serialize + ?Sized>(&self, report: &P) -> Result<()> {
        let bytes = rmp_serde::to_vec_named(report)
            .map_err(|e| Error::encode(format!("progress of task {}", self.run.id), e))?;
        self.run
            .client
            .broker()
            .set_progress(&self.run.id, &bytes)
            .await
    }

    /// The same context without the application state, for tasks that do not
    /// need it.
    pub fn erase_state(&self) -> TaskContext<()> {
        TaskContext {
            run: Arc::clone(&self.run),
            state: Arc::new(()),
        }
    }
}
