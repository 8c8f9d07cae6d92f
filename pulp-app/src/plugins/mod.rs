//! Content types. Each plugin owns the formats of one kind of repository.
//!
//! | plugin | content | remote feed | publication |
//! |---|---|---|---|
//! | [`file`] | `file.file`: files at relative paths | a `PULP_MANIFEST` | the files and a `PULP_MANIFEST` |
//! | [`rpm`] | `rpm.package`, advisories, comps | a yum/dnf repository | yum metadata (`repodata/`) dnf reads |
//! | [`puppet`] | `puppet.module`: module tarballs | a Puppet Forge (v3 API) | a static read-only Forge |

pub mod file;
pub mod puppet;
pub mod rpm;

use std::collections::HashMap;
use std::sync::PoisonError;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::model::Remote;
use crate::download::{ClientIdentity, Credentials, DownloadError, Downloader, DownloaderConfig};

/// The downloader settings of `remote`: the process's defaults
/// (`base`, which carries `allowed_import_paths`) with the remote's
/// credentials, headers, proxy, TLS settings, timeouts, retries, rate limit
/// and download concurrency applied. A timeout of 0 means no limit of the
/// remote's own (the default applies), as in Pulp.
///
/// # Errors
/// [`DownloadError::InvalidSetting`] naming a setting that cannot be used
/// (a negative timeout, a client certificate without its key, ...).
pub fn remote_config(
    base: &DownloaderConfig,
    remote: &Remote,
) -> Result<DownloaderConfig, DownloadError> {
    let mut c = base.clone();
    let secs = |setting: &str, v: Option<f64>| -> Result<Option<Duration>, DownloadError> {
        let Some(s) = v else {
            return Ok(None);
        };
        let d = Duration::try_from_secs_f64(s).map_err(|_| DownloadError::InvalidSetting {
            setting: setting.to_owned(),
            reason: format!("{s} is not a number of seconds"),
        })?;
        Ok((!d.is_zero()).then_some(d))
    };
    let connect = secs("connect_timeout", remote.connect_timeout)?;
    let sock_connect = secs("sock_connect_timeout", remote.sock_connect_timeout)?;
    if let Some(d) = [connect, sock_connect].into_iter().flatten().min() {
        c.connect_timeout = d;
    }
    if let Some(d) = secs("sock_read_timeout", remote.sock_read_timeout)? {
        c.read_timeout = d;
    }
    if let Some(d) = secs("total_timeout", remote.total_timeout)? {
        c.total_timeout = Some(d);
    }
    if let Some(n) = remote.max_retries {
        c.max_retries = n;
    }
    if let Some(n) = remote.download_concurrency {
        c.max_concurrent = (n as usize).max(1);
    }
    c.rate_limit = remote.rate_limit.filter(|&n| n > 0);
    let secrets = &remote.secrets;
    c.credentials = credentials(&secrets.username, &secrets.password);
    c.proxy = remote.proxy_url.clone().filter(|u| !u.is_empty());
    c.proxy_credentials = credentials(&secrets.proxy_username, &secrets.proxy_password);
    c.headers = remote
        .headers
        .iter()
        .flatten()
        .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect();
    c.tls_validation = remote.tls_validation;
    c.ca_cert = remote.ca_cert.clone().filter(|p| !p.trim().is_empty());
    c.client_identity = match (&remote.client_cert, &secrets.client_key) {
        (Some(cert), Some(key)) => Some(ClientIdentity {
            cert_pem: cert.clone(),
            key_pem: key.clone(),
        }),
        (None, None) => None,
        _ => {
            return Err(DownloadError::InvalidSetting {
                setting: "client_cert/client_key".to_owned(),
                reason: "a client certificate needs its key, and a key its certificate".to_owned(),
            });
        }
    };
    Ok(c)
}

fn credentials(user: &Option<String>, password: &Option<String>) -> Option<Credentials> {
    user.as_ref()
        .filter(|u| !u.is_empty())
        .map(|u| Credentials {
            username: u.clone(),
            password: password.clone(),
        })
}

/// A downloader for syncing from `remote` (see [`remote_config`]).
///
/// # Errors
/// A permanent task failure naming the setting that cannot be used.
pub(crate) fn remote_downloader(
    base: &Downloader,
    remote: &Remote,
) -> Result<Downloader, taskq::TaskError> {
    remote_config(base.config(), remote)
        .and_then(Downloader::new)
        .map_err(|e| {
            taskq::TaskError::fail(format!("remote {:?}: {}", remote.name, rpm::report(&e)))
        })
}

/// Downloaders for fetching on demand, one per remote, rebuilt when the
/// remote changes (a client with its own TLS settings is costly to build
/// for every request).
#[derive(Debug, Default)]
pub struct RemoteDownloaders {
    built: std::sync::Mutex<HashMap<Uuid, (DateTime<Utc>, Downloader)>>,
}

impl RemoteDownloaders {
    /// The downloader for `remote`, built on `base`'s settings.
    ///
    /// # Errors
    /// As [`remote_downloader`].
    pub fn get(&self, base: &Downloader, remote: &Remote) -> Result<Downloader, taskq::TaskError> {
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((updated, d)) = built.get(&remote.id)
            && *updated == remote.updated
        {
            return Ok(d.clone());
        }
        let d = remote_downloader(base, remote)?;
        built.insert(remote.id, (remote.updated, d.clone()));
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{Plugin, Policy, RemoteSecrets};

    fn remote() -> Remote {
        let now = chrono::Utc::now();
        Remote {
            id: uuid::Uuid::now_v7(),
            plugin: Plugin::File,
            created: now,
            updated: now,
            name: "r".into(),
            url: "http://127.0.0.1/".into(),
            policy: Policy::Immediate,
            pulp_labels: Default::default(),
            ca_cert: None,
            client_cert: None,
            tls_validation: true,
            proxy_url: None,
            max_retries: None,
            total_timeout: None,
            connect_timeout: None,
            sock_connect_timeout: None,
            sock_read_timeout: None,
            headers: None,
            download_concurrency: None,
            rate_limit: None,
            secrets: RemoteSecrets::default(),
        }
    }

    #[test]
    fn every_remote_setting_reaches_the_downloader() {
        let base = DownloaderConfig {
            allowed_import_paths: vec!["/srv/import".into()],
            ..DownloaderConfig::default()
        };
        assert_eq!(
            remote_config(&base, &remote()).unwrap(),
            base,
            "defaults kept"
        );
        let mut r = remote();
        r.secrets.username = Some("u".into());
        r.secrets.password = Some("p".into());
        r.secrets.proxy_username = Some("pu".into());
        r.secrets.proxy_password = Some("pp".into());
        r.secrets.client_key = Some("KEY".into());
        r.client_cert = Some("CERT".into());
        r.proxy_url = Some("http://proxy:3128".into());
        r.headers = Some(vec![[("X-A".to_owned(), "1".to_owned())].into()]);
        r.tls_validation = false;
        r.ca_cert = Some("PEM".into());
        r.max_retries = Some(7);
        r.connect_timeout = Some(5.0);
        r.sock_connect_timeout = Some(2.5);
        r.sock_read_timeout = Some(9.0);
        r.total_timeout = Some(30.0);
        r.rate_limit = Some(3);
        r.download_concurrency = Some(2);
        let c = remote_config(&base, &r).unwrap();
        let secs = Duration::from_secs_f64;
        assert_eq!(
            c,
            DownloaderConfig {
                credentials: Some(Credentials {
                    username: "u".into(),
                    password: Some("p".into())
                }),
                proxy: Some("http://proxy:3128".into()),
                proxy_credentials: Some(Credentials {
                    username: "pu".into(),
                    password: Some("pp".into())
                }),
                client_identity: Some(ClientIdentity {
                    cert_pem: "CERT".into(),
                    key_pem: "KEY".into()
                }),
                headers: vec![("X-A".into(), "1".into())],
                tls_validation: false,
                ca_cert: Some("PEM".into()),
                max_retries: 7,
                connect_timeout: secs(2.5),
                read_timeout: secs(9.0),
                total_timeout: Some(secs(30.0)),
                rate_limit: Some(3),
                max_concurrent: 2,
                ..base.clone()
            }
        );
        // 0 means "no limit of its own"; a key needs its certificate.
        let mut r = remote();
        r.total_timeout = Some(0.0);
        r.connect_timeout = Some(0.0);
        assert_eq!(remote_config(&base, &r).unwrap(), base);
        r.secrets.client_key = Some("KEY".into());
        let err = remote_config(&base, &r).unwrap_err();
        assert!(err.to_string().contains("client_cert"), "{err}");
    }
}
