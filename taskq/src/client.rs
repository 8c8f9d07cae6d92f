//! Sending tasks and reading their results.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::broker::{Broker, EnqueueStatus};
use crate::error::Result;
use crate::result::{AsyncResult, CancelStatus, TaskRecord};
use crate::task::{RawSignature, Signature, Task, TaskId};

/// Sends tasks to a broker and reads their results. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> taskq::Result<()> {
/// use taskq::{task, Client, MemoryBroker, TaskError};
///
/// #[task(name = "docs.double")]
/// async fn double(x: u32) -> Result<u32, TaskError> {
///     Ok(x * 2)
/// }
///
/// let client = Client::new(MemoryBroker::new());
/// let pending = client.send(double::call(21)).await?;
/// assert_eq!(pending.state().await?, taskq::TaskState::Pending);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    broker: Arc<dyn Broker>,
}

impl Client {
    /// A client of `broker`.
    pub fn new(broker: impl Broker) -> Self {
        Client {
            broker: Arc::new(broker),
        }
    }

    /// A client of an already shared broker.
    pub fn from_arc(broker: Arc<dyn Broker>) -> Self {
        Client { broker }
    }

    /// The broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// Sends one task.
    ///
    /// # Errors
    /// [`Error::Encode`](crate::Error::Encode) for unencodable arguments, or
    /// a broker error.
    pub async fn send<T: Task>(&self, signature: Signature<T>) -> Result<AsyncResult<T::Output>> {
        let message = signature.into_raw()?.into_message()?;
        let id = message.id.clone();
        self.broker.enqueue(std::slice::from_ref(&message)).await?;
        Ok(AsyncResult::new(id, self.clone()))
    }

    /// Sends many tasks in as few round trips as possible.
    ///
    /// # Errors
    /// As [`Client::send`]. Messages are accepted atomically each, in order;
    /// on an error, a prefix of them may have been accepted.
    pub async fn send_batch<T: Task>(
        &self,
        signatures: impl IntoIterator<Item = Signature<T>>,
    ) -> Result<Vec<AsyncResult<T::Output>>> {
        let raws = signatures
            .into_iter()
            .map(Signature::into_raw)
            .collect::<Result<Vec<_>>>()?;
        let sent = self.send_raw_batch(raws).await?;
        Ok(sent
            .into_iter()
            .map(|(id, _)| AsyncResult::new(id, self.clone()))
            .collect())
    }

    /// Sends an untyped call (beat, canvas, dead-letter tools).
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn send_raw(&self, signature: RawSignature) -> Result<(TaskId, EnqueueStatus)> {
        let mut out = self.send_raw_batch(vec![signature]).await?;
        Ok(out.remove(0))
    }

    /// Sends untyped calls in batches.
    ///
    /// # Errors
    /// As [`Client::send_batch`].
    pub async fn send_raw_batch(
        &self,
        signatures: Vec<RawSignature>,
    ) -> Result<Vec<(TaskId, EnqueueStatus)>> {
        let messages = signatures
            .into_iter()
            .map(RawSignature::into_message)
            .collect::<Result<Vec<_>>>()?;
        let statuses = self.broker.enqueue(&messages).await?;
        Ok(messages.into_iter().map(|m| m.id).zip(statuses).collect())
    }

    /// A handle on the result of task `id`, typed as `O`.
    pub fn result<O: DeserializeOwned>(&self, id: TaskId) -> AsyncResult<O> {
        AsyncResult::new(id, self.clone())
    }

    /// Cancels a task from any process: a queued or waiting task never runs;
    /// a running one sees its cancellation token fire.
    ///
    /// # Errors
    /// A broker error.
    pub async fn cancel(&self, id: &TaskId) -> Result<CancelStatus> {
        self.broker.cancel(id).await
    }

    /// The stored record of a task.
    ///
    /// # Errors
    /// A broker error.
    pub async fn record(&self, id: &TaskId) -> Result<Option<TaskRecord>> {
        self.broker.record(id).await
    }
}
