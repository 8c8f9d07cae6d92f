//! Waiting for SIGTERM or SIGINT.

/// The process's SIGTERM and SIGINT (Ctrl-C), as a stream of events: the
/// handlers are installed by [`ShutdownSignals::new`], so a signal that
/// arrives between two [`recv`](ShutdownSignals::recv) calls is not lost.
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    /// Installs the handlers. Must be called within a tokio runtime.
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            ShutdownSignals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        ShutdownSignals {}
    }

    /// Completes at the next SIGTERM or SIGINT.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn next(s: Option<&mut tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = next(self.int.as_mut()) => tracing::info!("SIGINT received"),
                () = next(self.term.as_mut()) => tracing::info!("SIGTERM received"),
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            tracing::info!("Ctrl-C received");
        }
    }
}

impl Default for ShutdownSignals {
    fn default() -> Self {
        Self::new()
    }
}

/// Completes when the process receives SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    ShutdownSignals::new().recv().await;
}
