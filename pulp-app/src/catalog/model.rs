//! What the catalog stores: remotes, repositories, versions, publications,
//! distributions, content units and task bookkeeping. Entities are stored
//! as JSON; fields the REST API derives (hrefs, PRNs) are not stored.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A content plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plugin {
    /// Plain files described by a PULP_MANIFEST.
    File,
    /// yum/dnf repositories.
    Rpm,
    /// Puppet modules mirrored from a Puppet Forge (v3 API).
    Puppet,
}

impl Plugin {
    /// Every plugin.
    pub const ALL: [Plugin; 3] = [Plugin::File, Plugin::Rpm, Plugin::Puppet];

    /// `file`, `rpm` or `puppet`.
    pub fn name(self) -> &'static str {
        match self {
            Plugin::File => "file",
            Plugin::Rpm => "rpm",
            Plugin::Puppet => "puppet",
        }
    }

    /// The href segment after the collection: `file/file`, `rpm/rpm`, `puppet/puppet`.
    pub fn path(self) -> &'static str {
        match self {
            Plugin::File => "file/file",
            Plugin::Rpm => "rpm/rpm",
            Plugin::Puppet => "puppet/puppet",
        }
    }

    /// The PRN model prefix, e.g. `file.file` + `remote` → `prn:file.fileremote:<id>`.
    pub fn prn_model(self, model: &str) -> String {
        format!("{}.{}{model}", self.name(), self.name())
    }
}

/// How a remote's content is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Download everything during sync.
    #[default]
    Immediate,
    /// Record content during sync; download on first request, then keep it.
    OnDemand,
    /// Like on_demand, but never keep the downloaded file.
    Streamed,
}

impl Policy {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Immediate => "immediate",
            Policy::OnDemand => "on_demand",
            Policy::Streamed => "streamed",
        }
    }
}

/// A source to sync from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    /// Id.
    pub id: Uuid,
    /// Plugin.
    pub plugin: Plugin,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change.
    pub updated: DateTime<Utc>,
    /// Unique name (per plugin).
    pub name: String,
    /// For file: the PULP_MANIFEST URL; for rpm: the repository base URL;
    /// for puppet: the Forge's base URL (the one `/v3/releases` is under).
    pub url: String,
    /// Download policy.
    pub policy: Policy,
    /// Labels.
    #[serde(default)]
    pub pulp_labels: BTreeMap<String, String>,
    /// PEM CA certificate to trust.
    pub ca_cert: Option<String>,
    /// PEM client certificate.
    pub client_cert: Option<String>,
    /// Whether to check TLS certificates.
    pub tls_validation: bool,
    /// Proxy URL.
    pub proxy_url: Option<String>,
    /// Download retries.
    pub max_retries: Option<u32>,
    /// Timeouts in seconds.
    pub total_timeout: Option<f64>,
    /// Connect timeout in seconds.
    pub connect_timeout: Option<f64>,
    /// Socket connect timeout in seconds.
    pub sock_connect_timeout: Option<f64>,
    /// Socket read timeout in seconds.
    pub sock_read_timeout: Option<f64>,
    /// Extra request headers (a list of one-key maps, as Pulp has it).
    pub headers: Option<Vec<BTreeMap<String, String>>>,
    /// Parallel downloads.
    pub download_concurrency: Option<u32>,
    /// Requests per second.
    pub rate_limit: Option<u32>,
    /// Write-only secrets: never returned by the API.
    #[serde(default)]
    pub secrets: RemoteSecrets,
}

/// A remote document with the puppet plugin's one extra field, `includes`.
/// It is stored as the remote's own document (same key, same collection),
/// and `includes` is left out when empty, so a file or rpm remote reads and
/// writes through this type unchanged, and code that reads any remote as a
/// [`Remote`] still can. Code that writes remotes must use this type, or it
/// would drop a puppet remote's `includes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PuppetRemote {
    /// The remote's common settings.
    #[serde(flatten)]
    pub remote: Remote,
    /// Modules to mirror, as `author-name`; empty: every module the Forge
    /// lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<String>,
}

/// Credentials of a remote (write-only through the API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSecrets {
    /// HTTP user.
    pub username: Option<String>,
    /// HTTP password.
    pub password: Option<String>,
    /// PEM client key.
    pub client_key: Option<String>,
    /// Proxy user.
    pub proxy_username: Option<String>,
    /// Proxy password.
    pub proxy_password: Option<String>,
    /// SLES auth token (rpm).
    pub sles_auth_token: Option<String>,
}

/// Settings of an rpm repository (and its default publish options).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpmRepoSettings {
    /// Keep at most this many versions of each package name (0: all).
    pub retain_package_versions: u64,
    /// Checksum type for published metadata and packages.
    pub checksum_type: Option<String>,
    /// Compression of published metadata.
    pub compression_type: Option<String>,
    /// Package layout of publications.
    pub layout: String,
    /// Extra dnf repo config.
    pub repo_config: serde_json::Value,
}

impl Default for RpmRepoSettings {
    fn default() -> Self {
        RpmRepoSettings {
            retain_package_versions: 0,
            checksum_type: None,
            compression_type: None,
            layout: "nested_alphabetically".to_owned(),
            repo_config: serde_json::json!({}),
        }
    }
}

/// A repository: a named, versioned set of content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repository {
    /// Id.
    pub id: Uuid,
    /// Plugin.
    pub plugin: Plugin,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change.
    pub updated: DateTime<Utc>,
    /// Unique name (per plugin).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Keep at most this many versions (None: all).
    pub retain_repo_versions: Option<u64>,
    /// Default remote to sync from.
    pub remote: Option<Uuid>,
    /// Publish every new version automatically.
    pub autopublish: bool,
    /// File plugin: name of the published manifest.
    pub manifest: Option<String>,
    /// Labels.
    #[serde(default)]
    pub pulp_labels: BTreeMap<String, String>,
    /// rpm settings (None for file repositories).
    pub rpm: Option<RpmRepoSettings>,
}

/// How many content units of each type a version added, removed, has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentSummary {
    /// Added by this version, per content type (`file.file`, `rpm.package`, ...).
    pub added: BTreeMap<String, u64>,
    /// Removed by this version.
    pub removed: BTreeMap<String, u64>,
    /// Present in this version.
    pub present: BTreeMap<String, u64>,
}

/// An immutable repository version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepositoryVersion {
    /// Its own id (for the PRN).
    pub id: Uuid,
    /// The repository.
    pub repository: Uuid,
    /// Plugin of the repository.
    pub plugin: Plugin,
    /// 0, 1, 2, ...
    pub number: u64,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// The version it was based on, when not the previous one.
    pub base_version: Option<u64>,
    /// Counts.
    pub summary: ContentSummary,
}

/// Settings of an rpm publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpmPublishSettings {
    /// Checksum of metadata and packages.
    pub checksum_type: String,
    /// Layout of packages.
    pub layout: String,
    /// Metadata compression.
    pub compression_type: String,
    /// Extra dnf repo config.
    pub repo_config: serde_json::Value,
}

/// The published metadata of one repository version, served by distributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    /// Id (also its directory under `publications/`).
    pub id: Uuid,
    /// Plugin.
    pub plugin: Plugin,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Repository.
    pub repository: Uuid,
    /// Version number published.
    pub version: u64,
    /// File plugin: the manifest file name (None for rpm and puppet).
    pub manifest: Option<String>,
    /// rpm settings.
    pub rpm: Option<RpmPublishSettings>,
}

/// Where a distribution serves from, at its base path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Id.
    pub id: Uuid,
    /// Plugin.
    pub plugin: Plugin,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change.
    pub updated: DateTime<Utc>,
    /// Unique name (per plugin).
    pub name: String,
    /// Unique, non-overlapping base path under the content prefix.
    pub base_path: String,
    /// Serve this publication...
    pub publication: Option<Uuid>,
    /// ... or the latest publication of this repository ...
    pub repository: Option<Uuid>,
    /// ... or a publication of this pinned version.
    pub repository_version: Option<(Uuid, u64)>,
    /// Hidden from the content root listing.
    pub hidden: bool,
    /// Labels.
    #[serde(default)]
    pub pulp_labels: BTreeMap<String, String>,
    /// rpm: also serve `config.repo`.
    pub generate_repo_config: bool,
}

/// A content type and the short tag its references carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ContentType {
    /// `file.file`
    File,
    /// `rpm.package`
    Package,
    /// `rpm.advisory`
    Advisory,
    /// `rpm.packagegroup`
    PackageGroup,
    /// `rpm.packagecategory`
    PackageCategory,
    /// `rpm.packageenvironment`
    PackageEnvironment,
    /// `rpm.packagelangpacks`
    PackageLangpacks,
    /// `puppet.module`
    PuppetModule,
}

impl ContentType {
    /// Every type.
    pub const ALL: [ContentType; 8] = [
        ContentType::File,
        ContentType::Package,
        ContentType::Advisory,
        ContentType::PackageGroup,
        ContentType::PackageCategory,
        ContentType::PackageEnvironment,
        ContentType::PackageLangpacks,
        ContentType::PuppetModule,
    ];

    /// The tag in content references (`pkg:<uuid>`).
    pub fn tag(self) -> &'static str {
        match self {
            ContentType::File => "file",
            ContentType::Package => "pkg",
            ContentType::Advisory => "adv",
            ContentType::PackageGroup => "grp",
            ContentType::PackageCategory => "cat",
            ContentType::PackageEnvironment => "env",
            ContentType::PackageLangpacks => "lng",
            ContentType::PuppetModule => "pup",
        }
    }

    /// Pulp's name (`rpm.package`).
    pub fn pulp_name(self) -> &'static str {
        match self {
            ContentType::File => "file.file",
            ContentType::Package => "rpm.package",
            ContentType::Advisory => "rpm.advisory",
            ContentType::PackageGroup => "rpm.packagegroup",
            ContentType::PackageCategory => "rpm.packagecategory",
            ContentType::PackageEnvironment => "rpm.packageenvironment",
            ContentType::PackageLangpacks => "rpm.packagelangpacks",
            ContentType::PuppetModule => "puppet.module",
        }
    }

    /// The href segment under `/content/`: `file/files`, `rpm/packages`, ...
    pub fn href_path(self) -> &'static str {
        match self {
            ContentType::File => "file/files",
            ContentType::Package => "rpm/packages",
            ContentType::Advisory => "rpm/advisories",
            ContentType::PackageGroup => "rpm/packagegroups",
            ContentType::PackageCategory => "rpm/packagecategories",
            ContentType::PackageEnvironment => "rpm/packageenvironments",
            ContentType::PackageLangpacks => "rpm/packagelangpacks",
            ContentType::PuppetModule => "puppet/modules",
        }
    }

    /// The type of a tag.
    pub fn from_tag(tag: &str) -> Option<Self> {
        ContentType::ALL.into_iter().find(|t| t.tag() == tag)
    }
}

/// A reference to a content unit: its type and id, written `<tag>:<uuid>`
/// in Redis sets so that sets sort by type and count per type by prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentRef {
    /// The type.
    pub kind: ContentType,
    /// The id.
    pub id: Uuid,
}

impl ContentRef {
    /// A reference whose id is derived from the unit's natural key, so the
    /// same content found twice (in two repositories, two syncs) is one unit.
    pub fn derive(kind: ContentType, natural_key: &str) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}\0{natural_key}", kind.tag()).as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        ContentRef {
            kind,
            id: uuid::Builder::from_custom_bytes(bytes).into_uuid(),
        }
    }
}

impl Serialize for ContentRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ContentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.tag(), self.id)
    }
}

/// A string that is not `<tag>:<uuid>`.
#[derive(Debug, thiserror::Error)]
#[error("not a content reference: {0:?}")]
pub struct BadContentRef(pub String);

impl FromStr for ContentRef {
    type Err = BadContentRef;

    fn from_str(s: &str) -> Result<Self, BadContentRef> {
        let (tag, id) = s
            .split_once(':')
            .ok_or_else(|| BadContentRef(s.to_owned()))?;
        Ok(ContentRef {
            kind: ContentType::from_tag(tag).ok_or_else(|| BadContentRef(s.to_owned()))?,
            id: id.parse().map_err(|_| BadContentRef(s.to_owned()))?,
        })
    }
}

/// A content unit as the catalog stores it: the plugin's JSON document, the
/// filterable fields to index, and the artifact it needs (if downloaded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentRecord {
    /// Type and id.
    pub r#ref: ContentRef,
    /// When it was first created.
    pub created: DateTime<Utc>,
    /// The artifact (sha256) with the unit's bytes, once downloaded.
    pub artifact: Option<String>,
    /// Other artifacts it needs (e.g. a blob with file lists and changelogs).
    #[serde(default)]
    pub blobs: Vec<String>,
    /// Where to download the artifact from when it is missing (content
    /// synced with the on_demand policy). Never shown by the API.
    #[serde(default)]
    pub source: Option<Source>,
    /// Fields indexed for filters: (field, value).
    pub indexes: Vec<(String, String)>,
    /// The plugin's data.
    pub data: serde_json::Value,
}

/// Where a content unit's bytes can be downloaded, and what they must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The URL.
    pub url: String,
    /// Checksum algorithm (`sha256`, `sha1`, ...).
    pub checksum_type: String,
    /// Checksum, hex.
    pub checksum: String,
    /// Size in bytes, if known.
    pub size: Option<u64>,
    /// The remote it was synced from: its credentials, headers, proxy and
    /// TLS settings apply to the download. None for records from before
    /// this field (they download with the process's plain settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<Uuid>,
}

/// What the catalog keeps about a task besides taskq's own record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskMeta {
    /// Pulp's task name, e.g. `pulp_file.app.tasks.synchronizing.synchronize`.
    pub name: String,
    /// Creation time.
    pub created: Option<DateTime<Utc>>,
    /// The user who dispatched it.
    pub created_by: Option<String>,
    /// Correlation id.
    pub logging_cid: String,
    /// Reserved resources as Pulp shows them (`prn:...`, `shared:prn:...`).
    pub reserved_resources_record: Vec<String>,
    /// Hrefs of what the task created (set when it succeeds).
    #[serde(default)]
    pub created_resources: Vec<String>,
    /// The entity the task produced, rendered (set when it succeeds).
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_refs_round_trip_and_derive_stably() {
        let a = ContentRef::derive(ContentType::File, "a.txt\0abc");
        let b = ContentRef::derive(ContentType::File, "a.txt\0abc");
        let c = ContentRef::derive(ContentType::File, "b.txt\0abc");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let text = a.to_string();
        assert!(text.starts_with("file:"));
        assert_eq!(text.parse::<ContentRef>().unwrap(), a);
        assert!("nope".parse::<ContentRef>().is_err());
        assert!("pkg:not-a-uuid".parse::<ContentRef>().is_err());
    }
}
