//! Settings: one TOML file plus `PULP_*` environment overrides.
//!
//! Every key, its environment variable and its default:
//!
//! | key | environment | default | meaning |
//! |---|---|---|---|
//! | `redis_url` | `PULP_REDIS_URL` | none | Redis for catalog and tasks; `dev` starts a private redis-server when unset |
//! | `data_dir` | `PULP_DATA_DIR` | `./pulp-data` | `dev`'s Redis data (AOF) and the default storage path |
//! | `storage_path` | `PULP_STORAGE_PATH` | `<data_dir>/storage` | artifacts and publications; a directory shared by all hosts |
//! | `api_bind` | `PULP_API_BIND` | `127.0.0.1:24817` | address of the REST API |
//! | `content_bind` | `PULP_CONTENT_BIND` | `127.0.0.1:24816` | address of the content app |
//! | `content_origin` | `PULP_CONTENT_ORIGIN` | `http://<content_bind>` | public base URL of the content app, used in `base_url` |
//! | `namespace` | `PULP_NAMESPACE` | `pulp` | Redis key prefix (catalog `{<namespace>}`, tasks `{<namespace>-tasks}`) |
//! | `worker_concurrency` | `PULP_WORKER_CONCURRENCY` | `4` | tasks one worker process runs at once |
//! | `worker_lease_secs` | `PULP_WORKER_LEASE_SECS` | `30` | a dead worker's tasks fail after this long without a heartbeat |
//! | `download_concurrency` | `PULP_DOWNLOAD_CONCURRENCY` | `10` | parallel downloads per sync (a remote's own setting wins) |
//! | `admin_password` | `PULP_ADMIN_PASSWORD` | none | if set, the `admin` user is created (or its password reset) at start |
//! | `task_result_days` | `PULP_TASK_RESULT_DAYS` | `30` | how long finished task records are kept |
//! | `allowed_import_paths` | `PULP_ALLOWED_IMPORT_PATHS` (`:`-separated) | empty | local directories `file://` remote URLs may read (Pulp's `ALLOWED_IMPORT_PATHS`); empty refuses every `file://` download, so API users cannot read the workers' files |
//! | `stale_temp_secs` | `PULP_STALE_TEMP_SECS` | `3600` | at start, a worker removes temp files (`tmp/`) and unfinished publications (`publications/.tmp-*`) untouched for longer than this: leftovers of killed processes. Other hosts share the storage and may be writing right now, so keep it well above the longest download or publish |
//!
//! The file is read from `--config <path>`, else `$PULP_CONFIG`, else
//! `/etc/pulp-app/settings.toml` if it exists. Environment variables win.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for these settings.
    #[error("invalid settings in {path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: toml::de::Error,
    },
    /// An environment variable has an invalid value.
    #[error("invalid value {value:?} for {key}: {reason}")]
    Env {
        /// The variable.
        key: &'static str,
        /// Its value.
        value: String,
        /// Why it was refused.
        reason: String,
    },
}

/// The settings file's contents; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    redis_url: Option<String>,
    data_dir: Option<PathBuf>,
    storage_path: Option<PathBuf>,
    api_bind: Option<SocketAddr>,
    content_bind: Option<SocketAddr>,
    content_origin: Option<String>,
    namespace: Option<String>,
    worker_concurrency: Option<usize>,
    worker_lease_secs: Option<u64>,
    download_concurrency: Option<usize>,
    admin_password: Option<String>,
    task_result_days: Option<u64>,
    allowed_import_paths: Option<Vec<PathBuf>>,
    stale_temp_secs: Option<u64>,
}

/// Resolved settings (see the module docs for each key).
#[derive(Clone)]
pub struct Settings {
    /// Redis URL; `None` lets `dev` start its own server.
    pub redis_url: Option<String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Artifact and publication storage.
    pub storage_path: PathBuf,
    /// REST API address.
    pub api_bind: SocketAddr,
    /// Content app address.
    pub content_bind: SocketAddr,
    /// Public base URL of the content app (no trailing slash).
    pub content_origin: String,
    /// Redis namespace.
    pub namespace: String,
    /// Worker concurrency.
    pub worker_concurrency: usize,
    /// Worker lease.
    pub worker_lease: Duration,
    /// Default download concurrency.
    pub download_concurrency: usize,
    /// Bootstrap password of `admin` (never printed).
    pub admin_password: Option<String>,
    /// Retention of finished task records.
    pub task_result_ttl: Duration,
    /// Directories `file://` downloads may read (empty: none).
    pub allowed_import_paths: Vec<PathBuf>,
    /// Age after which a worker at start removes abandoned temp files and
    /// unfinished publications.
    pub stale_temp_age: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("data_dir", &self.data_dir)
            .field("storage_path", &self.storage_path)
            .field("api_bind", &self.api_bind)
            .field("content_bind", &self.content_bind)
            .field("content_origin", &self.content_origin)
            .field("namespace", &self.namespace)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("worker_lease", &self.worker_lease)
            .field("download_concurrency", &self.download_concurrency)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<set>"),
            )
            .field("task_result_ttl", &self.task_result_ttl)
            .field("allowed_import_paths", &self.allowed_import_paths)
            .field("stale_temp_age", &self.stale_temp_age)
            .finish()
    }
}

/// `redis://user:secret@host/` → `redis://user:***@host/`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Settings {
    /// Loads the file (if any) and applies the environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file or variable at fault.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let path: Option<PathBuf> = path
            .map(Path::to_path_buf)
            .or_else(|| env("PULP_CONFIG").map(PathBuf::from))
            .or_else(|| {
                let p = PathBuf::from("/etc/pulp-app/settings.toml");
                p.exists().then_some(p)
            });
        let file = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?;
                toml::from_str::<FileSettings>(&text).map_err(|source| ConfigError::Parse {
                    path: p.clone(),
                    source,
                })?
            }
            None => FileSettings::default(),
        };
        Self::resolve(file, &env)
    }

    /// Settings for tests: everything default, storage under `data_dir`.
    pub fn for_tests(data_dir: &Path, redis_url: &str) -> Self {
        let mut s = Self::resolve(FileSettings::default(), &|_| None).expect("defaults are valid");
        s.data_dir = data_dir.to_path_buf();
        s.storage_path = data_dir.join("storage");
        s.redis_url = Some(redis_url.to_owned());
        s
    }

    fn resolve(
        file: FileSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        fn parse<T: std::str::FromStr>(
            key: &'static str,
            value: Option<String>,
        ) -> Result<Option<T>, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value
                .map(|v| {
                    v.parse::<T>().map_err(|e| ConfigError::Env {
                        key,
                        value: v.clone(),
                        reason: e.to_string(),
                    })
                })
                .transpose()
        }
        let data_dir = env("PULP_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("pulp-data"));
        let storage_path = env("PULP_STORAGE_PATH")
            .map(PathBuf::from)
            .or(file.storage_path)
            .unwrap_or_else(|| data_dir.join("storage"));
        let api_bind = parse("PULP_API_BIND", env("PULP_API_BIND"))?
            .or(file.api_bind)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 24817)));
        let content_bind = parse("PULP_CONTENT_BIND", env("PULP_CONTENT_BIND"))?
            .or(file.content_bind)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 24816)));
        let content_origin = env("PULP_CONTENT_ORIGIN")
            .or(file.content_origin)
            .unwrap_or_else(|| format!("http://{content_bind}"))
            .trim_end_matches('/')
            .to_owned();
        let worker_concurrency: usize =
            parse("PULP_WORKER_CONCURRENCY", env("PULP_WORKER_CONCURRENCY"))?
                .or(file.worker_concurrency)
                .unwrap_or(4);
        let lease: u64 = parse("PULP_WORKER_LEASE_SECS", env("PULP_WORKER_LEASE_SECS"))?
            .or(file.worker_lease_secs)
            .unwrap_or(30);
        let days: u64 = parse("PULP_TASK_RESULT_DAYS", env("PULP_TASK_RESULT_DAYS"))?
            .or(file.task_result_days)
            .unwrap_or(30);
        let allowed_import_paths = env("PULP_ALLOWED_IMPORT_PATHS")
            .map(|v| {
                v.split(':')
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .or(file.allowed_import_paths)
            .unwrap_or_default();
        let stale: u64 = parse("PULP_STALE_TEMP_SECS", env("PULP_STALE_TEMP_SECS"))?
            .or(file.stale_temp_secs)
            .unwrap_or(3600);
        Ok(Settings {
            allowed_import_paths,
            stale_temp_age: Duration::from_secs(stale),
            redis_url: env("PULP_REDIS_URL").or(file.redis_url),
            data_dir,
            storage_path,
            api_bind,
            content_bind,
            content_origin,
            namespace: env("PULP_NAMESPACE")
                .or(file.namespace)
                .unwrap_or_else(|| "pulp".to_owned()),
            worker_concurrency: worker_concurrency.max(1),
            worker_lease: Duration::from_secs(lease.max(1)),
            download_concurrency: parse(
                "PULP_DOWNLOAD_CONCURRENCY",
                env("PULP_DOWNLOAD_CONCURRENCY"),
            )?
            .or(file.download_concurrency)
            .unwrap_or(10)
            .max(1),
            admin_password: env("PULP_ADMIN_PASSWORD").or(file.admin_password),
            task_result_ttl: Duration::from_secs(days.max(1) * 86_400),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let file: FileSettings =
            toml::from_str("api_bind = \"127.0.0.1:9000\"\nworker_concurrency = 2\n").unwrap();
        let env = |k: &str| match k {
            "PULP_WORKER_CONCURRENCY" => Some("8".to_owned()),
            "PULP_DATA_DIR" => Some("/srv/pulp".to_owned()),
            _ => None,
        };
        let s = Settings::resolve(file, &env).unwrap();
        assert_eq!(s.api_bind.port(), 9000);
        assert_eq!(s.worker_concurrency, 8, "environment wins over the file");
        assert_eq!(s.storage_path, PathBuf::from("/srv/pulp/storage"));
        assert_eq!(s.content_origin, "http://127.0.0.1:24816");
        assert!(
            s.allowed_import_paths.is_empty(),
            "file:// refused by default"
        );
        assert_eq!(s.stale_temp_age, Duration::from_secs(3600));
        let env = |k: &str| (k == "PULP_ALLOWED_IMPORT_PATHS").then(|| "/srv/a:/srv/b".to_owned());
        let s = Settings::resolve(FileSettings::default(), &env).unwrap();
        assert_eq!(
            s.allowed_import_paths,
            [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let env = |k: &str| (k == "PULP_API_BIND").then(|| "nowhere".to_owned());
        let err = Settings::resolve(FileSettings::default(), &env).unwrap_err();
        assert!(err.to_string().contains("PULP_API_BIND"), "{err}");
        assert!(toml::from_str::<FileSettings>("no_such_key = 1").is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let mut s = Settings::for_tests(Path::new("/tmp/x"), "redis://u:hunter2@127.0.0.1:1/");
        s.admin_password = Some("hunter3".into());
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("hunter3"),
            "{dbg}"
        );
    }
}
