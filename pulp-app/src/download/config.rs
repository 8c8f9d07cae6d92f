//! Downloader settings.

use std::path::PathBuf;
use std::time::Duration;

/// A user name and password (HTTP Basic), shown as `<redacted>` by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password (`None`: user name only).
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A PEM client certificate and its private key (TLS client auth); the
/// key is shown as `<redacted>` by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// PEM certificate (chain).
    pub cert_pem: String,
    /// PEM private key.
    pub key_pem: String,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_pem", &format_args!("<{} bytes>", self.cert_pem.len()))
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

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
    /// Credentials sent to the proxy (`Proxy-Authorization`). Default `None`.
    pub proxy_credentials: Option<Credentials>,
    /// HTTP Basic credentials sent with every request. Default `None`.
    pub credentials: Option<Credentials>,
    /// Extra headers sent with every request (name, value). Default none.
    pub headers: Vec<(String, String)>,
    /// Whether TLS certificates and host names are checked. Default `true`.
    pub tls_validation: bool,
    /// PEM CA certificate(s) trusted in addition to the built-in roots.
    /// Default `None`.
    pub ca_cert: Option<String>,
    /// TLS client certificate and key. Default `None`.
    pub client_identity: Option<ClientIdentity>,
    /// Most requests started per second by this downloader, retries
    /// included (`None`: no limit). Default `None`.
    pub rate_limit: Option<u32>,
    /// Local directories `file://` URLs may read from (Pulp's
    /// `ALLOWED_IMPORT_PATHS`); a `file://` URL whose file (symlinks
    /// resolved) is not under one of them is refused. Default empty: every
    /// `file://` URL is refused.
    pub allowed_import_paths: Vec<PathBuf>,
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
            proxy_credentials: None,
            credentials: None,
            headers: Vec::new(),
            tls_validation: true,
            ca_cert: None,
            client_identity: None,
            rate_limit: None,
            allowed_import_paths: Vec::new(),
        }
    }
}
