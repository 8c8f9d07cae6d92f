//! The error type of the downloader and the URL helpers.

use std::path::PathBuf;

use crate::checksum::ChecksumKind;
use crate::relpath::RelPathError;
use crate::storage::StoreError;

/// Why a download (or a URL/path check) failed. Every variant that concerns
/// a download names its URL, and size or checksum errors give both the
/// expected and the actual value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The HTTP client could not be built from the configuration.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),

    /// A setting of the downloader (a remote's headers, CA certificate,
    /// proxy, timeouts, ...) is unusable.
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// The setting (as a remote names it).
        setting: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A `file://` URL outside the allowed import paths.
    #[error(
        "{url}: reading local files is not allowed here: {path} is not under any of the \
         allowed_import_paths setting ({allowed})"
    )]
    FileNotAllowed {
        /// The URL (clipped to 200 bytes).
        url: String,
        /// The local path it names.
        path: PathBuf,
        /// The allowed paths, or a note that there are none.
        allowed: String,
    },

    /// A URL could not be parsed or used as a base.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL (clipped to 200 bytes).
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A URL scheme other than http, https or file.
    #[error("unsupported URL scheme {scheme:?} in {url}")]
    UnsupportedScheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },

    /// A relative path from remote metadata that could escape its base.
    #[error(transparent)]
    UnsafePath(#[from] RelPathError),

    /// The server answered with a non-success status (after any retries).
    #[error("GET {url}: HTTP status {status}{}", status_hint(*status))]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },

    /// The request failed: connection refused or reset, timeout, TLS, ... (after any retries).
    #[error("GET {url}: request failed ({})", request_kind(source))]
    Request {
        /// The URL.
        url: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },

    /// The body broke off after `received` bytes (after any retries).
    #[error("GET {url}: body broke off after {received} bytes")]
    Body {
        /// The URL.
        url: String,
        /// Bytes received before the error.
        received: u64,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },

    /// The announced `Content-Length` differs from the expected size.
    #[error("{url}: expected {expected} bytes, the server announces {announced}")]
    ContentLengthMismatch {
        /// The URL.
        url: String,
        /// The expected size.
        expected: u64,
        /// The `Content-Length` (or local file size).
        announced: u64,
    },

    /// More bytes than the expected size arrived; reading stopped at once.
    #[error("{url}: more data than the expected {expected} bytes")]
    LongerThanExpected {
        /// The URL.
        url: String,
        /// The expected size.
        expected: u64,
    },

    /// The content is larger than the allowed maximum (announced or received).
    #[error("{url}: larger than the maximum of {max} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The maximum.
        max: u64,
    },

    /// The body ended early: fewer bytes than expected (after any retries).
    #[error("{url}: truncated, expected {expected} bytes, got {actual}")]
    Truncated {
        /// The URL.
        url: String,
        /// The expected size.
        expected: u64,
        /// The bytes received.
        actual: u64,
    },

    /// The content's checksum differs from the expected one.
    #[error("{url}: {kind} checksum mismatch, expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The URL.
        url: String,
        /// The algorithm.
        kind: ChecksumKind,
        /// The expected digest.
        expected: String,
        /// The digest of what was received.
        actual: String,
    },

    /// Reading a `file://` URL's local file failed.
    #[error("{url}: cannot read {path}")]
    File {
        /// The URL.
        url: String,
        /// The local path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Writing the content into the artifact store failed.
    #[error("{url}: cannot store the content")]
    Store {
        /// The URL.
        url: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

/// A reason phrase, and what to check, for statuses users must act on.
fn status_hint(status: u16) -> &'static str {
    match status {
        401 => {
            " Unauthorized (the remote needs a username and password, or refused the ones given)"
        }
        403 => " Forbidden",
        404 => " Not Found",
        407 => " Proxy Authentication Required (check proxy_username and proxy_password)",
        429 => " Too Many Requests (consider the remote's rate_limit)",
        500..=599 => " (server error)",
        _ => "",
    }
}

/// What kind of request failure `e` is, in words.
fn request_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out: see the remote's connect_timeout, sock_connect_timeout, sock_read_timeout and total_timeout"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "the response broke off"
    } else {
        "error"
    }
}

impl DownloadError {
    /// Whether trying again may succeed: connection problems, timeouts,
    /// broken-off or truncated bodies, HTTP 408, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            DownloadError::Request { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            DownloadError::Body { .. } | DownloadError::Truncated { .. } => true,
            DownloadError::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// Attaches the URL to a store error, lifting verification failures
    /// into the matching download variants.
    pub(crate) fn from_store(url: &str, err: StoreError) -> Self {
        let url = url.to_owned();
        match err {
            StoreError::LongerThanExpected { expected } => {
                DownloadError::LongerThanExpected { url, expected }
            }
            StoreError::TooLarge { max } => DownloadError::TooLarge { url, max },
            StoreError::SizeMismatch { expected, actual } if actual < expected => {
                DownloadError::Truncated {
                    url,
                    expected,
                    actual,
                }
            }
            StoreError::ChecksumMismatch {
                kind,
                expected,
                actual,
            } => DownloadError::ChecksumMismatch {
                url,
                kind,
                expected,
                actual,
            },
            source => DownloadError::Store { url, source },
        }
    }
}
