//! A verified HTTP (and `file://`) downloader.
//!
//! One [`Downloader`] wraps one HTTP client (connection pool, timeouts,
//! `User-Agent`), a limit on concurrent downloads, and retries with
//! exponential backoff for failures that may go away (see
//! [`DownloadError::is_retryable`]). Bodies are streamed chunk by chunk,
//! never held whole in memory (except by [`Downloader::fetch_bytes`], which
//! is capped), and checked against what the caller expects while they
//! arrive: an announced `Content-Length` that cannot match fails before the
//! body is read, and the first byte past the expected or maximum size stops
//! the transfer.
//!
//! `file://` URLs read the local file the same way, since remotes may point
//! at local directories, but only under the configured
//! [`allowed_import_paths`](DownloaderConfig::allowed_import_paths) (none by
//! default): otherwise any user who may create a remote could read the
//! worker's files.
//!
//! A remote's own settings (credentials, headers, proxy, TLS, timeouts,
//! retries, rate limit) make a downloader of their own with
//! [`Downloader::new`]; see `plugins::remote_downloader`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pulp_app::checksum::Checksum;
//! use pulp_app::download::{join_url, Downloader, DownloaderConfig};
//! use pulp_app::storage::{ArtifactStore, Expected};
//!
//! let store = ArtifactStore::new("/var/lib/pulp/media").await?;
//! let downloader = Downloader::new(DownloaderConfig::default())?;
//! let manifest = "http://127.0.0.1:8000/file/PULP_MANIFEST";
//! let text = downloader.fetch_bytes(manifest, 16 << 20).await?;
//! # let (path, sha256, size) = ("a.iso", "0".repeat(64), 1);
//! let url = join_url(manifest, path)?;
//! let expected = Expected::default().with_size(size).with_checksum(Checksum::parse("sha256", &sha256)?);
//! let artifact = downloader.download_to_store(url.as_str(), &expected, &store).await?;
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod url;

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use crate::checksum::Checksum;

pub use self::config::{ClientIdentity, Credentials, DownloaderConfig};
pub use self::error::DownloadError;
pub use self::url::{join_dir_url, join_url};
use crate::storage::{Artifact, ArtifactStore, ArtifactWriter, Expected, StoreError, TempArtifact};
use crate::text::clip;

/// Read size for `file://` URLs.
const FILE_CHUNK: usize = 256 * 1024;

/// Downloads files and verifies them. Cheap to clone (clones share the
/// client and the concurrency limit).
#[derive(Debug, Clone)]
pub struct Downloader {
    client: reqwest::Client,
    limit: Arc<Semaphore>,
    rate: Option<Arc<RateLimiter>>,
    config: Arc<DownloaderConfig>,
}

/// Spaces request starts at least `interval` apart (a remote's
/// `rate_limit`), shared by the clones of a downloader.
#[derive(Debug)]
struct RateLimiter {
    interval: Duration,
    next: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl RateLimiter {
    fn per_second(n: u32) -> Self {
        RateLimiter {
            interval: Duration::from_secs(1) / n.max(1),
            next: std::sync::Mutex::new(None),
        }
    }

    /// Waits for this request's turn.
    async fn acquire(&self) {
        let at = self.reserve(tokio::time::Instant::now());
        tokio::time::sleep_until(at).await;
    }

    /// Books the next turn for a request asking at `now`; returns when it
    /// may start (`now` itself if the limiter was idle long enough).
    fn reserve(&self, now: tokio::time::Instant) -> tokio::time::Instant {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let at = next.map_or(now, |n| n.max(now));
        *next = Some(at + self.interval);
        at
    }
}

/// The extra headers of a remote as a header map.
fn header_map(headers: &[(String, String)]) -> Result<reqwest::header::HeaderMap, DownloadError> {
    use reqwest::header::{HeaderName, HeaderValue};
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let bad = |reason: String| DownloadError::InvalidSetting {
            setting: format!("header {:?}", clip(name)),
            reason,
        };
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad("not a valid header name".to_owned()))?;
        let v = HeaderValue::from_str(value)
            .map_err(|_| bad("the value has characters a header cannot carry".to_owned()))?;
        map.append(n, v);
    }
    Ok(map)
}

impl Downloader {
    /// Builds the HTTP client from `config`.
    ///
    /// # Errors
    ///
    /// [`DownloadError::Client`] if the client cannot be built (e.g. a bad
    /// proxy URL or user agent).
    pub fn new(config: DownloaderConfig) -> Result<Self, DownloadError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout);
        if let Some(total) = config.total_timeout {
            builder = builder.timeout(total);
        }
        builder = match &config.proxy {
            Some(proxy) => {
                let mut p =
                    reqwest::Proxy::all(proxy).map_err(|e| DownloadError::InvalidSetting {
                        setting: "proxy_url".to_owned(),
                        reason: e.to_string(),
                    })?;
                if let Some(c) = &config.proxy_credentials {
                    p = p.basic_auth(&c.username, c.password.as_deref().unwrap_or(""));
                }
                builder.proxy(p)
            }
            None => builder.no_proxy(),
        };
        if !config.headers.is_empty() {
            builder = builder.default_headers(header_map(&config.headers)?);
        }
        if !config.tls_validation {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Some(pem) = &config.ca_cert {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                DownloadError::InvalidSetting {
                    setting: "ca_cert".to_owned(),
                    reason: e.to_string(),
                }
            })?;
            if certs.is_empty() {
                return Err(DownloadError::InvalidSetting {
                    setting: "ca_cert".to_owned(),
                    reason: "no PEM certificate in it".to_owned(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(id) = &config.client_identity {
            let pem = format!("{}\n{}", id.key_pem, id.cert_pem);
            let identity = reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| {
                DownloadError::InvalidSetting {
                    setting: "client_cert/client_key".to_owned(),
                    reason: e.to_string(),
                }
            })?;
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(DownloadError::Client)?;
        let rate = match config.rate_limit {
            Some(0) => {
                return Err(DownloadError::InvalidSetting {
                    setting: "rate_limit".to_owned(),
                    reason: "must be at least 1 request per second".to_owned(),
                });
            }
            Some(n) => Some(Arc::new(RateLimiter::per_second(n))),
            None => None,
        };
        Ok(Downloader {
            client,
            limit: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            rate,
            config: Arc::new(config),
        })
    }

    /// The settings this downloader was built with.
    pub fn config(&self) -> &DownloaderConfig {
        &self.config
    }

    /// Downloads `url` into the store, verified against `expected`.
    ///
    /// When `expected` carries a SHA-256 that is already stored (with a
    /// matching size, if one is expected), nothing is downloaded.
    ///
    /// # Errors
    ///
    /// Any [`DownloadError`]; retryable failures are retried first. Nothing
    /// is stored and no temp file is left on failure.
    #[tracing::instrument(name = "download.to_store", skip(self, expected, store), fields(url = %url))]
    pub async fn download_to_store(
        &self,
        url: &str,
        expected: &Expected,
        store: &ArtifactStore,
    ) -> Result<Artifact, DownloadError> {
        if let Some(artifact) = already_stored(url, expected, store).await? {
            tracing::debug!(sha256 = %artifact.sha256, "already stored, not downloading");
            return Ok(artifact);
        }
        self.with_retries(url, || async {
            let mut writer = begin(url, expected, store).await?;
            self.fetch_into(url, expected, &mut writer).await?;
            writer
                .finish()
                .await
                .map_err(|e| DownloadError::from_store(url, e))
        })
        .await
    }

    /// Downloads `url` into a temp file of the store, verified against
    /// `expected` (for repository metadata: give the size and checksum from
    /// repomd.xml, or at least a `max_size`). The caller parses the file
    /// from [`TempArtifact::path`], then drops it or
    /// [`persist`](TempArtifact::persist)s it.
    ///
    /// # Errors
    ///
    /// Any [`DownloadError`]; retryable failures are retried first.
    #[tracing::instrument(name = "download.to_temp", skip(self, expected, store), fields(url = %url))]
    pub async fn download_to_temp_file(
        &self,
        url: &str,
        expected: &Expected,
        store: &ArtifactStore,
    ) -> Result<TempArtifact, DownloadError> {
        self.with_retries(url, || async {
            let mut writer = begin(url, expected, store).await?;
            self.fetch_into(url, expected, &mut writer).await?;
            writer
                .finish_temp()
                .await
                .map_err(|e| DownloadError::from_store(url, e))
        })
        .await
    }

    /// Fetches a small file (repomd.xml, PULP_MANIFEST) into memory, refusing
    /// more than `max_size` bytes.
    ///
    /// # Errors
    ///
    /// [`DownloadError::TooLarge`] past `max_size` (announced or received),
    /// and any other [`DownloadError`]; retryable failures are retried first.
    #[tracing::instrument(name = "download.bytes", skip(self), fields(url = %url))]
    pub async fn fetch_bytes(&self, url: &str, max_size: u64) -> Result<Vec<u8>, DownloadError> {
        let expected = Expected::default().with_max_size(max_size);
        self.with_retries(url, || async {
            let mut sink = MemorySink {
                buf: Vec::new(),
                max: max_size,
            };
            self.fetch_into(url, &expected, &mut sink).await?;
            Ok(sink.buf)
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails for good, or retries run out.
    async fn with_retries<T, F, Fut>(&self, url: &str, mut attempt: F) -> Result<T, DownloadError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DownloadError>>,
    {
        let mut retry = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(err) if err.is_retryable() && retry < self.config.max_retries => {
                    let delay = self.backoff(retry);
                    retry += 1;
                    tracing::warn!(
                        url,
                        error = %err,
                        retry,
                        delay_ms = delay.as_millis() as u64,
                        "download failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// `initial * 2^retry`, capped, plus up to 25 % jitter.
    fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .config
            .backoff_initial
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.config.backoff_max);
        let jitter = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            % 1000;
        base + base.mul_f64(jitter as f64 / 4000.0)
    }

    /// One attempt: streams `url` into `sink`, checking sizes on the way.
    async fn fetch_into<S: Sink>(
        &self,
        url: &str,
        expected: &Expected,
        sink: &mut S,
    ) -> Result<u64, DownloadError> {
        let parsed = url::parse_url(url)?;
        let received = if parsed.scheme() == "file" {
            let path = self.allowed_file(url, &parsed).await?;
            fetch_file(url, &path, expected, sink).await?
        } else {
            self.fetch_http(url, parsed, expected, sink).await?
        };
        if let Some(size) = expected.size
            && received < size
        {
            return Err(DownloadError::Truncated {
                url: url.to_owned(),
                expected: size,
                actual: received,
            });
        }
        Ok(received)
    }

    async fn fetch_http<S: Sink>(
        &self,
        url: &str,
        parsed: reqwest::Url,
        expected: &Expected,
        sink: &mut S,
    ) -> Result<u64, DownloadError> {
        // The semaphore is never closed; without a permit we would merely exceed the limit.
        let _permit = self.limit.acquire().await.ok();
        if let Some(rate) = &self.rate {
            rate.acquire().await;
        }
        let mut request = self.client.get(parsed);
        if let Some(c) = &self.config.credentials {
            request = request.basic_auth(&c.username, c.password.as_deref());
        }
        let mut response = request
            .send()
            .await
            .map_err(|source| DownloadError::Request {
                url: url.to_owned(),
                source,
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(DownloadError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        check_announced(url, expected, response.content_length())?;
        let mut received = 0u64;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    // On error the response is dropped here, closing the connection.
                    sink.write(&chunk)
                        .await
                        .map_err(|e| DownloadError::from_store(url, e))?;
                    received += chunk.len() as u64;
                }
                Ok(None) => return Ok(received),
                Err(source) => {
                    return Err(DownloadError::Body {
                        url: url.to_owned(),
                        received,
                        source,
                    });
                }
            }
        }
    }
}

impl Downloader {
    /// The local path of a `file://` URL, if it is under one of the
    /// allowed import paths (both sides with symlinks resolved, so a link
    /// cannot lead out). Nothing is read, and nothing about the file is
    /// revealed, when it is not allowed.
    async fn allowed_file(
        &self,
        url: &str,
        parsed: &reqwest::Url,
    ) -> Result<std::path::PathBuf, DownloadError> {
        let path = parsed
            .to_file_path()
            .map_err(|()| DownloadError::InvalidUrl {
                url: clip(url),
                reason: "not a local file path".to_owned(),
            })?;
        let allowed = &self.config.allowed_import_paths;
        let refuse = || DownloadError::FileNotAllowed {
            url: clip(url),
            path: path.clone(),
            allowed: if allowed.is_empty() {
                "none are set, so file:// URLs are refused".to_owned()
            } else {
                allowed
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        };
        if allowed.is_empty() {
            return Err(refuse());
        }
        let mut roots = Vec::with_capacity(allowed.len());
        for root in allowed {
            if let Ok(r) = tokio::fs::canonicalize(root).await {
                roots.push(r);
            }
        }
        match tokio::fs::canonicalize(&path).await {
            Ok(real) if roots.iter().any(|r| real.starts_with(r)) => Ok(real),
            // Missing under an allowed directory: let the read report it.
            Err(_)
                if roots.iter().any(|r| path.starts_with(r))
                    || allowed.iter().any(|r| path.starts_with(r)) =>
            {
                Ok(path)
            }
            _ => Err(refuse()),
        }
    }
}

/// Reads a local file (of a `file://` URL) into `sink`.
async fn fetch_file<S: Sink>(
    url: &str,
    path: &std::path::Path,
    expected: &Expected,
    sink: &mut S,
) -> Result<u64, DownloadError> {
    let path = path.to_path_buf();
    let file_error = |source| DownloadError::File {
        url: url.to_owned(),
        path: path.clone(),
        source,
    };
    let mut file = tokio::fs::File::open(&path).await.map_err(file_error)?;
    let meta = file.metadata().await.map_err(file_error)?;
    if meta.is_file() {
        check_announced(url, expected, Some(meta.len()))?;
    }
    let mut buf = vec![0u8; FILE_CHUNK];
    let mut received = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(file_error)?;
        if n == 0 {
            return Ok(received);
        }
        sink.write(&buf[..n])
            .await
            .map_err(|e| DownloadError::from_store(url, e))?;
        received += n as u64;
    }
}

/// Fails early when the announced length cannot satisfy `expected`.
fn check_announced(
    url: &str,
    expected: &Expected,
    announced: Option<u64>,
) -> Result<(), DownloadError> {
    let Some(announced) = announced else {
        return Ok(());
    };
    if let Some(size) = expected.size
        && announced != size
    {
        return Err(DownloadError::ContentLengthMismatch {
            url: url.to_owned(),
            expected: size,
            announced,
        });
    }
    if let Some(max) = expected.max_size
        && announced > max
    {
        return Err(DownloadError::TooLarge {
            url: url.to_owned(),
            max,
        });
    }
    Ok(())
}

/// The stored artifact, if `expected` names a SHA-256 the store already has.
async fn already_stored(
    url: &str,
    expected: &Expected,
    store: &ArtifactStore,
) -> Result<Option<Artifact>, DownloadError> {
    let Some(sha256) = expected.checksum.as_ref().and_then(Checksum::to_sha256) else {
        return Ok(None);
    };
    let size = match store.size(&sha256).await {
        Ok(size) => size,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(DownloadError::from_store(url, e)),
    };
    let fits =
        expected.size.is_none_or(|s| s == size) && expected.max_size.is_none_or(|m| size <= m);
    Ok(fits.then_some(Artifact { sha256, size }))
}

async fn begin(
    url: &str,
    expected: &Expected,
    store: &ArtifactStore,
) -> Result<ArtifactWriter, DownloadError> {
    store
        .begin_write(expected.clone())
        .await
        .map_err(|e| DownloadError::from_store(url, e))
}

/// Where downloaded chunks go.
trait Sink: Send {
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl Sink for ArtifactWriter {
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.write_chunk(chunk)
    }
}

/// An in-memory buffer with a ceiling.
struct MemorySink {
    buf: Vec<u8>,
    max: u64,
}

impl Sink for MemorySink {
    fn write(&mut self, chunk: &[u8]) -> impl Future<Output = Result<(), StoreError>> + Send {
        let result = if (self.buf.len() + chunk.len()) as u64 > self.max {
            Err(StoreError::TooLarge { max: self.max })
        } else {
            self.buf.extend_from_slice(chunk);
            Ok(())
        };
        std::future::ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests asking at once are spaced `1 / rate` apart; an idle
    /// limiter lets the next one start at once.
    #[test]
    fn rate_limit_spaces_requests() {
        let limiter = RateLimiter::per_second(4);
        let t0 = tokio::time::Instant::now();
        let ms = Duration::from_millis;
        let turns: Vec<Duration> = (0..4).map(|_| limiter.reserve(t0) - t0).collect();
        assert_eq!(turns, [ms(0), ms(250), ms(500), ms(750)]);
        // Asking later than the next free turn: at once, then spaced again.
        assert_eq!(limiter.reserve(t0 + ms(5000)) - t0, ms(5000));
        assert_eq!(limiter.reserve(t0 + ms(5100)) - t0, ms(5250));
        assert_eq!(RateLimiter::per_second(1).interval, ms(1000));
    }
}
