//! Progress reports as Pulp shows them (`sync.downloading.artifacts`, ...).

use serde::{Deserialize, Serialize};
use taskq::TaskContext;

use crate::services::Services;

/// One progress report line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressReport {
    /// Human text, e.g. "Downloading Artifacts".
    pub message: String,
    /// Machine code, e.g. `sync.downloading.artifacts`.
    pub code: String,
    /// `running`, `completed`, `failed`, `canceled`, `skipped`.
    pub state: String,
    /// Total expected, if known.
    pub total: Option<u64>,
    /// Done so far.
    pub done: u64,
    /// Extra text.
    pub suffix: Option<String>,
}

/// The reports of one task run; published to the task record when changed,
/// at most a few times a second.
#[derive(Debug)]
pub struct Progress {
    ctx: TaskContext<Services>,
    reports: Vec<ProgressReport>,
    last_sent: Option<std::time::Instant>,
}

impl Progress {
    /// No reports yet.
    pub fn new(ctx: &TaskContext<Services>) -> Self {
        Progress {
            ctx: ctx.clone(),
            reports: Vec::new(),
            last_sent: None,
        }
    }

    /// Starts a report (state `running`) and returns its index.
    pub async fn start(&mut self, code: &str, message: &str, total: Option<u64>) -> usize {
        self.reports.push(ProgressReport {
            message: message.to_owned(),
            code: code.to_owned(),
            state: "running".to_owned(),
            total,
            done: 0,
            suffix: None,
        });
        self.flush(true).await;
        self.reports.len() - 1
    }

    /// Sets how much of report `i` is done (sent at most every 250 ms).
    pub async fn set(&mut self, i: usize, done: u64) {
        if let Some(r) = self.reports.get_mut(i) {
            r.done = done;
        }
        self.flush(false).await;
    }

    /// Sets the total of report `i`.
    pub async fn set_total(&mut self, i: usize, total: u64) {
        if let Some(r) = self.reports.get_mut(i) {
            r.total = Some(total);
        }
        self.flush(false).await;
    }

    /// Ends report `i` in `state` (`completed`, `skipped`, ...).
    pub async fn finish(&mut self, i: usize, state: &str) {
        if let Some(r) = self.reports.get_mut(i) {
            r.state = state.to_owned();
            if state == "completed" && r.total.is_none() {
                r.total = Some(r.done);
            }
        }
        self.flush(true).await;
    }

    /// Collects what `steps` yields (downloads, say), counting each done one
    /// in report `i`, until the stream ends (report `completed`), a step
    /// fails (report `failed`, the error returned) or the task is canceled.
    ///
    /// # Errors
    /// The first step's error; [`TaskError::Canceled`] on a cancel.
    pub async fn collect<T>(
        &mut self,
        i: usize,
        steps: impl futures::Stream<Item = Result<T, taskq::TaskError>>,
    ) -> Result<Vec<T>, taskq::TaskError> {
        use futures::StreamExt as _;
        let mut steps = std::pin::pin!(steps);
        let ctx = self.ctx.clone();
        let mut done = Vec::new();
        loop {
            let next = tokio::select! {
                n = steps.next() => n,
                () = ctx.cancelled() => return Err(taskq::TaskError::Canceled),
            };
            match next {
                Some(Ok(t)) => {
                    done.push(t);
                    self.set(i, done.len() as u64).await;
                }
                Some(Err(e)) => {
                    self.finish(i, "failed").await;
                    return Err(e);
                }
                None => break,
            }
        }
        self.finish(i, "completed").await;
        Ok(done)
    }

    /// Adds a finished report in one go.
    pub async fn record(&mut self, code: &str, message: &str, done: u64, state: &str) {
        self.reports.push(ProgressReport {
            message: message.to_owned(),
            code: code.to_owned(),
            state: state.to_owned(),
            total: Some(done),
            done,
            suffix: None,
        });
        self.flush(true).await;
    }

    async fn flush(&mut self, force: bool) {
        let due = self
            .last_sent
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_millis(250));
        if force || due {
            self.last_sent = Some(std::time::Instant::now());
            if let Err(e) = self.ctx.progress(&self.reports).await {
                tracing::debug!(error = %e, "could not publish progress");
            }
        }
    }
}
