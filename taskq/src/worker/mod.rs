//! Workers: processes that fetch tasks from their queues and run them.
//!
//! A [`Worker`] runs up to `concurrency` tasks at once on the current tokio
//! runtime. It fetches in batches (one round trip for many tasks), records
//! outcomes in batches, renews its lease with a heartbeat, returns the tasks
//! of dead workers to their queues, applies cancellations, enforces time
//! limits, catches panics, and shuts down gracefully: on SIGTERM or SIGINT
//! it stops fetching, lets running tasks finish within a grace period, and
//! hands the rest back to their queues; a second signal hands them back at
//! once (a cold shutdown).

mod batcher;
mod builder;
mod execute;
mod held;
mod observe;
mod registry;
mod session;
mod shutdown;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use builder::WorkerConfig;
pub use builder::{IntoClient, WorkerBuilder};
use registry::Registry;
use session::{SessionEnd, run_session};
pub use shutdown::{ShutdownSignals, shutdown_signal};

use crate::client::Client;
use crate::error::Result;

/// A worker running in the background (see [`Worker::spawn`]).
#[derive(Debug)]
pub struct WorkerHandle {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<Result<()>>,
}

impl WorkerHandle {
    /// Shuts the worker down gracefully and waits until it has stopped.
    ///
    /// # Errors
    /// Whatever the worker's run returned.
    ///
    /// # Panics
    /// If the worker's task panicked.
    pub async fn shutdown(self) -> Result<()> {
        self.stop.cancel();
        self.handle.await.expect("the worker task panicked")
    }

    /// Whether the worker has stopped.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

/// A configured worker; see [`Worker::builder`].
pub struct Worker<S = ()> {
    client: Client,
    state: Arc<S>,
    registry: Arc<Registry<S>>,
    config: WorkerConfig,
}

impl<S> std::fmt::Debug for Worker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Worker<()> {
    /// Starts configuring a worker on `broker` (a broker or a [`Client`]).
    pub fn builder(broker: impl IntoClient) -> WorkerBuilder<()> {
        WorkerBuilder::new(broker.into_client())
    }
}

impl<S: Send + Sync + 'static> Worker<S> {
    pub(crate) fn from_parts(
        client: Client,
        state: Arc<S>,
        registry: Registry<S>,
        config: WorkerConfig,
    ) -> Self {
        Worker {
            client,
            state,
            registry: Arc::new(registry),
            config,
        }
    }

    /// The wire names of the registered tasks.
    pub fn task_names(&self) -> Vec<&'static str> {
        self.registry.names()
    }

    /// The queues served.
    pub fn queues(&self) -> &[String] {
        &self.config.queues
    }

    /// Runs until SIGTERM or SIGINT (unless signal handling was turned off,
    /// then forever), then shuts down gracefully. A second SIGTERM or
    /// SIGINT during the grace period cancels the running tasks and hands
    /// them back at once (see [`Worker::run_until_with_cold`]).
    ///
    /// # Errors
    /// Currently never fails: broker errors are logged and retried.
    pub async fn run(self) -> Result<()> {
        if !self.config.handle_signals {
            return self.run_until(std::future::pending()).await;
        }
        let (warm, cold) = (CancellationToken::new(), CancellationToken::new());
        let listener = {
            let (warm, cold) = (warm.clone(), cold.clone());
            let mut signals = ShutdownSignals::new();
            tokio::spawn(async move {
                signals.recv().await;
                tracing::info!("shutting down: a second signal hands running tasks back at once");
                warm.cancel();
                signals.recv().await;
                tracing::warn!("second signal: canceling running tasks and handing them back");
                cold.cancel();
            })
        };
        let r = self
            .run_until_with_cold(warm.cancelled_owned(), cold.cancelled_owned())
            .await;
        listener.abort();
        r
    }

    /// Runs the worker in a background tokio task; the handle shuts it down.
    pub fn spawn(self) -> WorkerHandle {
        let stop = CancellationToken::new();
        let handle = tokio::spawn(self.run_until(stop.clone().cancelled_owned()));
        WorkerHandle { stop, handle }
    }

    /// Runs until `shutdown` completes, then shuts down gracefully.
    ///
    /// # Errors
    /// Currently never fails: broker errors are logged and retried.
    pub async fn run_until<F: Future<Output = ()>>(self, shutdown: F) -> Result<()> {
        self.run_until_with_cold(shutdown, std::future::pending())
            .await
    }

    /// Runs until `shutdown` completes, then shuts down gracefully (a warm
    /// shutdown); if `cold` completes before the running tasks have
    /// finished, they are canceled and handed back at once, as when the
    /// grace period ends (a cold shutdown, as Celery's second Ctrl-C).
    ///
    /// # Errors
    /// Currently never fails: broker errors are logged and retried.
    pub async fn run_until_with_cold<F, C>(self, shutdown: F, cold: C) -> Result<()>
    where
        F: Future<Output = ()>,
        C: Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let hurry = CancellationToken::new();
        let cold_watch = {
            let hurry = hurry.clone();
            tokio::spawn(async move {
                cold.await;
                hurry.cancel();
            })
        };
        let r = self.run_sessions_until(shutdown, stop, hurry).await;
        cold_watch.abort();
        r
    }

    async fn run_sessions_until<F: Future<Output = ()>>(
        self,
        shutdown: F,
        stop: CancellationToken,
        hurry: CancellationToken,
    ) -> Result<()> {
        let sessions = self.sessions(stop.clone(), hurry);
        tokio::pin!(sessions, shutdown);
        tokio::select! {
            r = &mut sessions => r,
            () = &mut shutdown => {
                stop.cancel();
                sessions.await
            }
        }
    }

    async fn sessions(&self, stop: CancellationToken, hurry: CancellationToken) -> Result<()> {
        loop {
            let end = run_session(
                self.client.clone(),
                Arc::clone(&self.state),
                Arc::clone(&self.registry),
                self.config.clone(),
                &stop,
                &hurry,
            )
            .await;
            match end {
                SessionEnd::Shutdown => return Ok(()),
                SessionEnd::LeaseLost => {
                    if stop.is_cancelled() {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}
