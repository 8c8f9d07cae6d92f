//! The long-lived services every process shares: catalog, task client,
//! artifact storage, downloader and settings. Handlers reach them through
//! [`crate::api::AppState`]; tasks through their `TaskContext<Services>`.

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::config::Settings;
use crate::download::{Downloader, DownloaderConfig};
use crate::storage::ArtifactStore;

/// Shared services of one process.
pub struct Services {
    /// The catalog.
    pub catalog: Catalog,
    /// Sends and inspects tasks.
    pub client: taskq::Client,
    /// The Redis broker behind `client` (beat schedules need it).
    pub broker: taskq::RedisBroker,
    /// Artifacts and publications on the shared storage path.
    pub store: ArtifactStore,
    /// Verified downloads.
    pub downloader: Downloader,
    /// Per-remote downloaders for content fetched on demand.
    pub remote_downloaders: crate::plugins::RemoteDownloaders,
    /// Settings.
    pub settings: Settings,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why services could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// No Redis URL was configured (and this is not `dev`).
    #[error("no Redis configured: set redis_url in the settings file or PULP_REDIS_URL")]
    NoRedis,
    /// Redis could not be reached.
    #[error("cannot connect to Redis")]
    Redis(#[from] taskq::Error),
    /// The storage path could not be prepared.
    #[error("cannot use the storage path")]
    Storage(#[from] crate::storage::StoreError),
    /// The downloader could not be built.
    #[error("cannot build the HTTP client")]
    Download(#[from] crate::download::DownloadError),
    /// Creating the bootstrap admin user failed.
    #[error("cannot create the admin user")]
    Catalog(#[from] crate::catalog::CatalogError),
}

impl Services {
    /// Connects to Redis and opens the storage path.
    ///
    /// # Errors
    /// [`StartError`] saying what is missing.
    pub async fn start(settings: Settings) -> Result<Arc<Self>, StartError> {
        let url = settings.redis_url.clone().ok_or(StartError::NoRedis)?;
        let broker = taskq::RedisBroker::connect_with(
            taskq::RedisConfig::new(url).namespace(format!("{}-tasks", settings.namespace)),
        )
        .await?;
        let catalog = Catalog::new(broker.connection(), &settings.namespace);
        let store = ArtifactStore::new(&settings.storage_path).await?;
        let downloader = Downloader::new(DownloaderConfig {
            max_concurrent: settings.download_concurrency,
            allowed_import_paths: settings.allowed_import_paths.clone(),
            ..DownloaderConfig::default()
        })?;
        if let Some(password) = &settings.admin_password {
            catalog.set_user("admin", password).await?;
        }
        Ok(Arc::new(Services {
            catalog,
            client: taskq::Client::new(broker.clone()),
            broker,
            store,
            downloader,
            remote_downloaders: crate::plugins::RemoteDownloaders::default(),
            settings,
        }))
    }
}
