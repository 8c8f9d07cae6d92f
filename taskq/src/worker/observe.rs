//! What a worker reports to its [`Metrics`](crate::metrics::Metrics), if it
//! has any. Without the `metrics` feature, or without metrics configured,
//! every call is a no-op.

use std::time::Duration;

use crate::broker::{OutcomeKind, QueueDepth};

/// The worker's metrics, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observer {
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<crate::metrics::Metrics>,
}

#[cfg(feature = "metrics")]
impl Observer {
    pub(crate) fn enabled(&self) -> bool {
        self.metrics.is_some()
    }

    pub(crate) fn started(&self, task: &str, waited: Duration) {
        if let Some(m) = &self.metrics {
            m.started(task, waited);
        }
    }

    pub(crate) fn stopped(&self, task: &str, ran: Duration) {
        if let Some(m) = &self.metrics {
            m.stopped(task, ran);
        }
    }

    pub(crate) fn outcome(&self, task: &str, kind: &OutcomeKind) {
        use crate::metrics::Ended;
        if let Some(m) = &self.metrics {
            let how = match kind {
                OutcomeKind::Succeeded(_) => Ended::Succeeded,
                OutcomeKind::Failed(_) => Ended::Failed,
                OutcomeKind::Canceled(_) => Ended::Canceled,
                OutcomeKind::Retry { .. } => Ended::Retried,
                OutcomeKind::Defer { .. } => Ended::Deferred,
            };
            m.ended(task, how);
        }
    }

    pub(crate) fn queue_depths(&self, depths: &[QueueDepth]) {
        if let Some(m) = &self.metrics {
            m.queue_depths(depths);
        }
    }
}

#[cfg(not(feature = "metrics"))]
impl Observer {
    pub(crate) fn enabled(&self) -> bool {
        false
    }

    pub(crate) fn started(&self, _task: &str, _waited: Duration) {}

    pub(crate) fn stopped(&self, _task: &str, _ran: Duration) {}

    pub(crate) fn outcome(&self, _task: &str, _kind: &OutcomeKind) {}

    pub(crate) fn queue_depths(&self, _depths: &[QueueDepth]) {}
}
