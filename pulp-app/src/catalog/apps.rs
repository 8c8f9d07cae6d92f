//! Heartbeats of the API and content processes, so that `/status/` can list
//! the apps that are online (workers are listed by taskq itself).
//!
//! One sorted set per kind of app: member the app's name (`<pid>@<host>`),
//! score the time of its last heartbeat in milliseconds. An app is online
//! while its last heartbeat is recent; older entries are dropped when read.
//! The set is ephemeral (a `tmp:` key): each heartbeat renews its expiry.

use std::time::Duration;

use super::{Catalog, Result};
use chrono::{DateTime, Utc};

/// A kind of process that reports heartbeats here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    /// The REST API (`pulp-app api`).
    Api,
    /// The content app (`pulp-app content`).
    Content,
}

impl AppKind {
    /// `api` or `content`, as in key names.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Api => "api",
            AppKind::Content => "content",
        }
    }
}

impl Catalog {
    /// Records that app `name` of `kind` is alive now; the set of apps
    /// expires after `ttl` without heartbeats.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn app_heartbeat(&self, kind: AppKind, name: &str, ttl: Duration) -> Result<()> {
        let key = self.keys().apps(kind.name());
        let now = Utc::now().timestamp_millis();
        let mut pipe = redis::pipe();
        pipe.zadd(&key, name, now)
            .ignore()
            .pexpire(&key, ttl.as_millis() as i64)
            .ignore();
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// The apps of `kind` with a heartbeat within `within`, with the time of
    /// their last heartbeat, most recent first. Older entries are removed.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn online_apps(
        &self,
        kind: AppKind,
        within: Duration,
    ) -> Result<Vec<(String, DateTime<Utc>)>> {
        let key = self.keys().apps(kind.name());
        let oldest = Utc::now().timestamp_millis() - within.as_millis() as i64;
        let mut pipe = redis::pipe();
        pipe.zrembyscore(&key, "-inf", format!("({oldest}"))
            .ignore()
            .zrevrange_withscores(&key, 0, -1);
        let (apps,): (Vec<(String, f64)>,) = pipe.query_async(&mut self.conn()).await?;
        Ok(apps
            .into_iter()
            .filter_map(|(name, ms)| Some((name, DateTime::from_timestamp_millis(ms as i64)?)))
            .collect())
    }
}
