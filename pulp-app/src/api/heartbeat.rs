//! Heartbeats of this process's API (and, when its owner starts one,
//! content) app, recorded in the catalog so that `/status/` lists the apps
//! that are online (`online_api_apps`, `online_content_apps`).
//!
//! [`spawn`] starts a loop that records a heartbeat at once and then every
//! [`EVERY`]; the loop ends when the returned [`Heartbeat`] is dropped. The
//! API router holds one for as long as it serves.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::catalog::{AppKind, Catalog};

/// How often an app records a heartbeat.
pub const EVERY: Duration = Duration::from_secs(10);

/// An app is online while its last heartbeat is at most this old.
pub const ONLINE_WITHIN: Duration = Duration::from_secs(30);

/// A running heartbeat loop; dropping it stops the loop.
#[derive(Debug)]
pub struct Heartbeat {
    stop: CancellationToken,
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// This process's app name, as Pulp shows it: `<pid>@<host>`.
pub fn app_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("{}@{host}", std::process::id())
}

/// Starts recording heartbeats of this process as an app of `kind`. Without
/// a Tokio runtime nothing is started (the guard is inert).
pub fn spawn(catalog: Catalog, kind: AppKind) -> Heartbeat {
    let stop = CancellationToken::new();
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let token = stop.clone();
        let name = app_name();
        rt.spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = catalog.app_heartbeat(kind, &name, ONLINE_WITHIN).await {
                            tracing::warn!(error = %e, app = kind.name(), "heartbeat failed");
                        }
                    }
                }
            }
        });
    }
    Heartbeat { stop }
}
