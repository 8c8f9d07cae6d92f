//! Downloader settings.

use std::time::Duration;

/// Settings for a [`Downloader`](super::Downloader). Every field has a default
/// (see [`Default`]); the library reads no environment variables, proxies
/// included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloaderConfig {
    /// `User-Agent` header. Default `pulp-app/<crate version>`.
    pub user_agent: String,
    /// Time allowed to establish a connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed between two reads of a response (an idle connection
    /// fails after it). Default 60 s.
    pub read_timeout: Duration,
    /// Time allowed for a whole request, body included (`None`: no limit,
    /// since large files take long). Default `None`.
    pub total_timeout: Option<Duration>,
    /// Downloads running at once per downloader; more wait. Default 10
    /// (Pulp's `download_concurrency`).
    pub max_concurrent: usize,
    /// Retries after a retryable failure (see
    /// [`DownloadError::is_retryable`](super::DownloadError::is_retryable)).
    /// Default 3, so at most 4 attempts.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one, with up
    /// to 25 % random jitter added. Default 500 ms.
    pub backoff_initial: Duration,
    /// Longest wait between retries. Default 30 s.
    pub backoff_max: Duration,
    /// Proxy URL for http and https (`None`: connect directly). Default `None`.
    pub proxy: Option<String>,
}

impl Default for DownloaderConfig {
    fn default() -> Self {
        DownloaderConfig {
            user_agent: concat!("pulp-app/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            total_timeout: None,
            max_concurrent: 10,
            max_retries: 3,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            proxy: None,
        }
    }
}
