//! Repositories and their immutable versions.
//!
//! A version stores what it added and removed; the repository keeps the
//! full content set of its latest version. Creating a version is one Lua
//! script that checks the expected latest version number (so a version is
//! never built on a stale base) and applies the change atomically.

use std::collections::BTreeMap;

use chrono::Utc;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use super::model::{ContentRef, ContentSummary, ContentType, Repository, RepositoryVersion};
use super::{Catalog, CatalogError, Entity, Result, from_json, to_json};

/// A repository version by repository id and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRef {
    /// The repository.
    pub repository: Uuid,
    /// The version number.
    pub number: u64,
}

/// A change to apply on top of the latest version.
#[derive(Debug, Clone, Default)]
pub struct VersionChange {
    /// Content to add (already present units are ignored).
    pub add: Vec<ContentRef>,
    /// Content to remove (absent units are ignored).
    pub remove: Vec<ContentRef>,
    /// Replace everything: remove whatever is present and not in `add`.
    pub replace: bool,
    /// Record this as the base version (for versions made from an older one).
    pub base_version: Option<u64>,
}

const CREATE_REPOSITORY: &str = r"
-- KEYS[1] entity, KEYS[2] index, KEYS[3] names, KEYS[4] state, KEYS[5] versions,
-- KEYS[6] version 0, KEYS[7] all versions
-- ARGV id, json, name, version-0 json, created ms
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[4], 'latest', 0, 'next', 1)
redis.call('ZADD', KEYS[5], 0, 0)
redis.call('SET', KEYS[6], ARGV[4])
redis.call('ZADD', KEYS[7], ARGV[5], ARGV[1] .. '/0')
return 1
";

const COMMIT: &str = r"
-- KEYS[1] state, KEYS[2] versions, KEYS[3] new version json, KEYS[4] added,
-- KEYS[5] removed, KEYS[6] repository content, KEYS[7] all versions,
-- KEYS[8] staged additions, KEYS[9] staged removals (temporary sorted sets)
-- ARGV expected latest, new number, json, created ms, repo id
-- The diff was staged by pipelined ZADDs; here it only moves into place, so
-- Redis is blocked for set operations in C, not for a Lua loop per unit.
local latest = tonumber(redis.call('HGET', KEYS[1], 'latest') or '-1')
local next = tonumber(redis.call('HGET', KEYS[1], 'next') or '-1')
if latest ~= tonumber(ARGV[1]) or next ~= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[8], KEYS[9])
  return -1 - latest
end
if redis.call('EXISTS', KEYS[8]) == 1 then
  redis.call('RENAME', KEYS[8], KEYS[4])
  redis.call('PERSIST', KEYS[4])
  redis.call('ZUNIONSTORE', KEYS[6], 2, KEYS[6], KEYS[4])
end
if redis.call('EXISTS', KEYS[9]) == 1 then
  redis.call('RENAME', KEYS[9], KEYS[5])
  redis.call('PERSIST', KEYS[5])
  redis.call('ZDIFFSTORE', KEYS[6], 2, KEYS[6], KEYS[5])
end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[2])
redis.call('ZADD', KEYS[7], ARGV[4], ARGV[5] .. '/' .. ARGV[2])
redis.call('HSET', KEYS[1], 'latest', ARGV[2], 'next', tonumber(ARGV[2]) + 1)
return 1
";

const DELETE_VERSION: &str = r"
-- KEYS[1] state, KEYS[2] versions, KEYS[3] version json, KEYS[4] added,
-- KEYS[5] removed, KEYS[6] repository content, KEYS[7] all versions,
-- KEYS[8] next version's added, KEYS[9] next version's removed,
-- KEYS[10..13] scratch sets
-- ARGV number, next number (-1 when deleting the latest), previous number
-- (-1 when deleting the oldest), member in the all-versions index
-- A version's diff is relative to the previous existing version (the oldest
-- one's to the empty set). Deleting version k folds its diff into the next:
--   added'   = (added_k - removed_next) + (added_next - removed_k)
--   removed' = (removed_k - added_next) + (removed_next - added_k)
-- so every other version's content stays what it was.
local n = tonumber(ARGV[1])
if redis.call('ZSCORE', KEYS[2], n) == false then
  return 0
end
if redis.call('ZCARD', KEYS[2]) <= 1 then
  return -1
end
local following = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. n, '+inf', 'LIMIT', 0, 1)[1]
local preceding = redis.call('ZREVRANGEBYSCORE', KEYS[2], '(' .. n, '-inf', 'LIMIT', 0, 1)[1]
if tonumber(following or '-1') ~= tonumber(ARGV[2])
  or tonumber(preceding or '-1') ~= tonumber(ARGV[3]) then
  return -2
end
if following then
  redis.call('ZDIFFSTORE', KEYS[10], 2, KEYS[4], KEYS[9])
  redis.call('ZDIFFSTORE', KEYS[11], 2, KEYS[8], KEYS[5])
  redis.call('ZDIFFSTORE', KEYS[12], 2, KEYS[5], KEYS[8])
  redis.call('ZDIFFSTORE', KEYS[13], 2, KEYS[9], KEYS[4])
  redis.call('ZUNIONSTORE', KEYS[8], 2, KEYS[10], KEYS[11])
  redis.call('ZUNIONSTORE', KEYS[9], 2, KEYS[12], KEYS[13])
  redis.call('DEL', KEYS[10], KEYS[11], KEYS[12], KEYS[13])
else
  redis.call('ZDIFFSTORE', KEYS[6], 2, KEYS[6], KEYS[4])
  redis.call('ZUNIONSTORE', KEYS[6], 2, KEYS[6], KEYS[5])
  redis.call('HSET', KEYS[1], 'latest', preceding)
end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[2], n)
redis.call('ZREM', KEYS[7], ARGV[4])
return 1
";

/// What [`Catalog::delete_version`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionDeletion {
    /// The version was deleted; its changes now belong to the next version.
    Deleted,
    /// There was no such version.
    Missing,
    /// It is the repository's only version, which is never deleted.
    OnlyVersion,
}

/// Rebuilds the content of an old version into KEYS[1] by undoing the newer
/// versions' changes on a copy of the latest content.
const RECONSTRUCT: &str = r"
-- KEYS[1] target, KEYS[2] latest content, then pairs (added, removed) of the
-- versions newer than the wanted one, newest first; ARGV[1] ttl seconds
-- The target's name includes the latest version number, so an existing
-- target is still valid (versions are immutable): reuse it.
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 1 then
  return redis.call('ZCARD', KEYS[1])
end
redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[2])
for i = 3, #KEYS, 2 do
  redis.call('ZDIFFSTORE', KEYS[1], 2, KEYS[1], KEYS[i])
  redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[1], KEYS[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('ZCARD', KEYS[1])
";

impl Catalog {
    /// Creates a repository with its empty version 0.
    ///
    /// # Errors
    /// [`CatalogError::Conflict`] if the name is taken.
    pub async fn create_repository(&self, repo: &Repository) -> Result<()> {
        let k = self.keys();
        let key = k.entity(Repository::COLLECTION, &repo.id);
        let v0 = RepositoryVersion {
            id: Uuid::now_v7(),
            repository: repo.id,
            plugin: repo.plugin,
            number: 0,
            created: repo.created,
            base_version: None,
            summary: ContentSummary::default(),
        };
        let ok: i64 = Script::new(CREATE_REPOSITORY)
            .key(&key)
            .key(k.index(Repository::COLLECTION, repo.plugin))
            .key(k.names(Repository::COLLECTION, repo.plugin))
            .key(k.repo_state(&repo.id))
            .key(k.versions(&repo.id))
            .key(k.version(&repo.id, 0))
            .key(k.all_versions())
            .arg(repo.id.to_string())
            .arg(to_json(&key, repo)?)
            .arg(&repo.name)
            .arg(to_json("version 0", &v0)?)
            .arg(repo.created.timestamp_millis())
            .invoke_async(&mut self.conn())
            .await?;
        if ok == 0 {
            return Err(CatalogError::Conflict {
                field: "name",
                value: repo.name.clone(),
            });
        }
        Ok(())
    }

    /// The latest version number of a repository.
    ///
    /// # Errors
    /// [`CatalogError::NotFound`] if the repository does not exist.
    pub async fn latest_version(&self, repo: &Uuid) -> Result<u64> {
        let n: Option<u64> = self
            .conn()
            .hget(self.keys().repo_state(repo), "latest")
            .await?;
        n.ok_or(CatalogError::NotFound)
    }

    /// A string of the repository's mutable state (e.g. `last_sync` JSON).
    ///
    /// # Errors
    /// Redis errors.
    pub async fn repo_state_field(&self, repo: &Uuid, field: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .hget(self.keys().repo_state(repo), field)
            .await?)
    }

    /// Sets a field of the repository's mutable state.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn set_repo_state_field(&self, repo: &Uuid, field: &str, value: &str) -> Result<()> {
        let _: () = self
            .conn()
            .hset(self.keys().repo_state(repo), field, value)
            .await?;
        Ok(())
    }

    /// One repository version.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn version(&self, v: VersionRef) -> Result<Option<RepositoryVersion>> {
        let key = self.keys().version(&v.repository, v.number);
        let text: Option<String> = self.conn().get(&key).await?;
        text.map(|t| from_json(&key, &t)).transpose()
    }

    /// The version numbers of a repository, newest first, one page, and
    /// how many there are.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn version_numbers(
        &self,
        repo: &Uuid,
        offset: usize,
        limit: usize,
    ) -> Result<(u64, Vec<u64>)> {
        let key = self.keys().versions(repo);
        let count: u64 = self.conn().zcard(&key).await?;
        if limit == 0 {
            return Ok((count, Vec::new()));
        }
        let numbers: Vec<u64> = self
            .conn()
            .zrevrange(&key, offset as isize, (offset + limit) as isize - 1)
            .await?;
        Ok((count, numbers))
    }

    /// Every version of every repository, newest first, one page, and the
    /// total count.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn all_version_refs(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(u64, Vec<VersionRef>)> {
        let key = self.keys().all_versions();
        let count: u64 = self.conn().zcard(&key).await?;
        if limit == 0 {
            return Ok((count, Vec::new()));
        }
        let members: Vec<String> = self
            .conn()
            .zrevrange(&key, offset as isize, (offset + limit) as isize - 1)
            .await?;
        Ok((
            count,
            members
                .iter()
                .filter_map(|m| {
                    let (r, n) = m.split_once('/')?;
                    Some(VersionRef {
                        repository: r.parse().ok()?,
                        number: n.parse().ok()?,
                    })
                })
                .collect(),
        ))
    }

    /// How many units of each type the latest version holds.
    async fn present_counts(&self, repo: &Uuid) -> Result<BTreeMap<String, u64>> {
        let key = self.keys().repo_content(repo);
        let mut pipe = redis::pipe();
        for t in ContentType::ALL {
            pipe.zlexcount(&key, format!("[{}:", t.tag()), format!("[{};", t.tag()));
        }
        let counts: Vec<u64> = pipe.query_async(&mut self.conn()).await?;
        Ok(by_type(&counts))
    }

    /// Creates a new version from the latest one with `change` applied,
    /// provided the latest version is still `expected_latest`. Returns
    /// `None` when the change would not change anything (no version is
    /// created, as Pulp does).
    ///
    /// # Errors
    /// [`CatalogError::Concurrent`] if another version was created meanwhile.
    pub async fn commit_version(
        &self,
        repo: &Repository,
        expected_latest: u64,
        change: &VersionChange,
    ) -> Result<Option<RepositoryVersion>> {
        let k = self.keys();
        let content_key = k.repo_content(&repo.id);
        // What is present now, to keep only effective changes.
        let add_members: Vec<String> = change.add.iter().map(ToString::to_string).collect();
        let present_of_add = self.present_flags(&content_key, &add_members).await?;
        let adds: Vec<String> = add_members
            .into_iter()
            .zip(present_of_add)
            .filter(|(_, present)| !present)
            .map(|(m, _)| m)
            .collect();
        let removes: Vec<String> = if change.replace {
            let keep: std::collections::HashSet<String> =
                change.add.iter().map(ToString::to_string).collect();
            let all: Vec<String> = self.conn().zrange(&content_key, 0, -1).await?;
            all.into_iter().filter(|m| !keep.contains(m)).collect()
        } else {
            let members: Vec<String> = change.remove.iter().map(ToString::to_string).collect();
            let flags = self.present_flags(&content_key, &members).await?;
            members
                .into_iter()
                .zip(flags)
                .filter(|(_, p)| *p)
                .map(|(m, _)| m)
                .collect()
        };
        if adds.is_empty() && removes.is_empty() {
            return Ok(None);
        }
        // Numbers are never reused, even after the latest version was
        // deleted (cached rebuilds are named by the latest number).
        let number: u64 = self
            .conn()
            .hget::<_, _, Option<u64>>(k.repo_state(&repo.id), "next")
            .await?
            .unwrap_or(expected_latest + 1);
        let mut summary = ContentSummary {
            present: self.present_counts(&repo.id).await?,
            ..Default::default()
        };
        for (members, counts, sign) in [
            (&adds, &mut summary.added, 1i64),
            (&removes, &mut summary.removed, -1),
        ] {
            for m in members {
                let r: ContentRef =
                    m.parse()
                        .map_err(|e: super::model::BadContentRef| CatalogError::Json {
                            key: content_key.clone(),
                            source: serde::de::Error::custom(e),
                        })?;
                *counts.entry(r.kind.pulp_name().to_owned()).or_default() += 1;
                let p = summary
                    .present
                    .entry(r.kind.pulp_name().to_owned())
                    .or_default();
                *p = p.saturating_add_signed(sign);
            }
        }
        summary.present.retain(|_, c| *c > 0);
        let version = RepositoryVersion {
            id: Uuid::now_v7(),
            repository: repo.id,
            plugin: repo.plugin,
            number,
            created: Utc::now(),
            base_version: change.base_version,
            summary,
        };
        let vkey = k.version(&repo.id, number);
        let staged_add = k.temp();
        let staged_rem = k.temp();
        for (key, members) in [(&staged_add, &adds), (&staged_rem, &removes)] {
            for chunk in members.chunks(5000) {
                let mut pipe = redis::pipe();
                pipe.cmd("ZADD").arg(key);
                for m in chunk {
                    pipe.arg(0).arg(m);
                }
                pipe.ignore().expire(key, 3600).ignore();
                let _: () = pipe.query_async(&mut self.conn()).await?;
            }
        }
        let script = Script::new(COMMIT);
        let mut inv = script.prepare_invoke();
        inv.key(k.repo_state(&repo.id))
            .key(k.versions(&repo.id))
            .key(&vkey)
            .key(k.version_added(&repo.id, number))
            .key(k.version_removed(&repo.id, number))
            .key(&content_key)
            .key(k.all_versions())
            .key(&staged_add)
            .key(&staged_rem);
        inv.arg(expected_latest)
            .arg(number)
            .arg(to_json(&vkey, &version)?)
            .arg(version.created.timestamp_millis())
            .arg(repo.id.to_string());
        let ok: i64 = inv.invoke_async(&mut self.conn()).await?;
        if ok < 0 {
            return Err(CatalogError::Concurrent((-1 - ok) as u64));
        }
        Ok(Some(version))
    }

    async fn present_flags(&self, key: &str, members: &[String]) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(members.len());
        for chunk in members.chunks(1000) {
            let scores: Vec<Option<f64>> = redis::cmd("ZMSCORE")
                .arg(key)
                .arg(chunk)
                .query_async(&mut self.conn())
                .await?;
            out.extend(scores.into_iter().map(|s| s.is_some()));
        }
        Ok(out)
    }

    /// A sorted set holding the content of version `v`: the repository's
    /// live set for the latest version, else a temporary reconstruction
    /// (valid for a few minutes).
    ///
    /// # Errors
    /// [`CatalogError::NotFound`] if the version does not exist.
    pub async fn version_content_key(&self, v: VersionRef) -> Result<String> {
        let k = self.keys();
        let latest = self.latest_version(&v.repository).await?;
        if v.number > latest || self.version(v).await?.is_none() {
            return Err(CatalogError::NotFound);
        }
        if v.number == latest {
            return Ok(k.repo_content(&v.repository));
        }
        let target = k.version_rebuild(&v.repository, v.number, latest);
        // Numbers of deleted versions are gaps: their changes were folded
        // into the next version, so only existing versions are undone.
        let newer: Vec<u64> = self
            .conn()
            .zrangebyscore(k.versions(&v.repository), format!("({}", v.number), latest)
            .await?;
        let script = Script::new(RECONSTRUCT);
        let mut inv = script.prepare_invoke();
        inv.key(&target).key(k.repo_content(&v.repository));
        for n in newer.into_iter().rev() {
            inv.key(k.version_added(&v.repository, n))
                .key(k.version_removed(&v.repository, n));
        }
        inv.arg(300);
        let _: i64 = inv.invoke_async(&mut self.conn()).await?;
        Ok(target)
    }

    /// Deletes version `number` of a repository. Its changes are folded into
    /// the next version, so every other version keeps its content; deleting
    /// the latest version makes the previous one the latest. The only
    /// version of a repository is never deleted. Publications of the version
    /// are the caller's to delete first.
    ///
    /// # Errors
    /// Redis errors; [`CatalogError::Concurrent`] if the repository's
    /// versions changed while this ran.
    pub async fn delete_version(&self, repo: &Uuid, number: u64) -> Result<VersionDeletion> {
        let k = self.keys();
        let versions = k.versions(repo);
        let next: Option<u64> = self
            .conn()
            .zrangebyscore_limit(&versions, format!("({number}"), "+inf", 0, 1)
            .await
            .map(|v: Vec<u64>| v.first().copied())?;
        let prev: Option<u64> = self
            .conn()
            .zrevrangebyscore_limit(&versions, format!("({number}"), "-inf", 0, 1)
            .await
            .map(|v: Vec<u64>| v.first().copied())?;
        let script = Script::new(DELETE_VERSION);
        let mut inv = script.prepare_invoke();
        inv.key(k.repo_state(repo))
            .key(&versions)
            .key(k.version(repo, number))
            .key(k.version_added(repo, number))
            .key(k.version_removed(repo, number))
            .key(k.repo_content(repo))
            .key(k.all_versions());
        // Without a next version these two are unused placeholders.
        let following = next.unwrap_or(number);
        inv.key(k.version_added(repo, following))
            .key(k.version_removed(repo, following));
        for _ in 0..4 {
            inv.key(k.temp());
        }
        let as_arg = |n: Option<u64>| n.map_or(-1, |n| n as i64);
        inv.arg(number)
            .arg(as_arg(next))
            .arg(as_arg(prev))
            .arg(format!("{repo}/{number}"));
        let outcome: i64 = inv.invoke_async(&mut self.conn()).await?;
        match outcome {
            0 => return Ok(VersionDeletion::Missing),
            -1 => return Ok(VersionDeletion::OnlyVersion),
            -2 => return Err(CatalogError::Concurrent(self.latest_version(repo).await?)),
            _ => {}
        }
        if let Some(n) = next {
            self.recount_changes(VersionRef {
                repository: *repo,
                number: n,
            })
            .await?;
        }
        Ok(VersionDeletion::Deleted)
    }

    /// Recomputes the added and removed counts of a version's summary from
    /// its diff sets (after an older version was folded into it).
    async fn recount_changes(&self, v: VersionRef) -> Result<()> {
        let Some(mut version) = self.version(v).await? else {
            return Ok(());
        };
        let k = self.keys();
        let mut pipe = redis::pipe();
        for key in [
            k.version_added(&v.repository, v.number),
            k.version_removed(&v.repository, v.number),
        ] {
            for t in ContentType::ALL {
                pipe.zlexcount(&key, format!("[{}:", t.tag()), format!("[{};", t.tag()));
            }
        }
        let counts: Vec<u64> = pipe.query_async(&mut self.conn()).await?;
        let (added, removed) = counts.split_at(ContentType::ALL.len());
        version.summary.added = by_type(added);
        version.summary.removed = by_type(removed);
        let key = k.version(&v.repository, v.number);
        let _: () = self.conn().set(&key, to_json(&key, &version)?).await?;
        Ok(())
    }

    /// The version numbers of a repository, oldest first.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn all_version_numbers(&self, repo: &Uuid) -> Result<Vec<u64>> {
        Ok(self
            .conn()
            .zrange(self.keys().versions(repo), 0, -1)
            .await?)
    }

    /// The versions of `repo` (numbers, oldest first) that contain at least
    /// one of `refs` (the `content` / `content__in` filters of version and
    /// publication listings). Walks the versions' diffs oldest first, so no
    /// version is rebuilt: each diff is relative to the previous existing
    /// version, the oldest one's to the empty set.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn versions_containing(&self, repo: &Uuid, refs: &[ContentRef]) -> Result<Vec<u64>> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let k = self.keys();
        let members: Vec<String> = refs.iter().map(ToString::to_string).collect();
        let numbers = self.all_version_numbers(repo).await?;
        let mut present = vec![false; members.len()];
        let mut out = Vec::new();
        for chunk in numbers.chunks(200) {
            let mut pipe = redis::pipe();
            for n in chunk {
                pipe.cmd("ZMSCORE")
                    .arg(k.version_added(repo, *n))
                    .arg(&members);
                pipe.cmd("ZMSCORE")
                    .arg(k.version_removed(repo, *n))
                    .arg(&members);
            }
            let scores: Vec<Vec<Option<f64>>> = pipe.query_async(&mut self.conn()).await?;
            for (n, diff) in chunk.iter().zip(scores.chunks(2)) {
                let [added, removed] = diff else { continue };
                for (i, p) in present.iter_mut().enumerate() {
                    if added.get(i).is_some_and(Option::is_some) {
                        *p = true;
                    }
                    if removed.get(i).is_some_and(Option::is_some) {
                        *p = false;
                    }
                }
                if present.iter().any(|p| *p) {
                    out.push(*n);
                }
            }
        }
        Ok(out)
    }

    /// The sorted set of content a version added (`added`) or removed.
    pub fn version_diff_key(&self, v: VersionRef, added: bool) -> String {
        if added {
            self.keys().version_added(&v.repository, v.number)
        } else {
            self.keys().version_removed(&v.repository, v.number)
        }
    }

    /// Every content reference in a content set (e.g. from
    /// [`Catalog::version_content_key`]), of the given type, in order.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn refs_in(&self, key: &str, kind: ContentType) -> Result<Vec<ContentRef>> {
        let mut out = Vec::new();
        let mut start = format!("[{}:", kind.tag());
        let end = format!("[{};", kind.tag());
        loop {
            let page: Vec<String> = redis::cmd("ZRANGE")
                .arg(key)
                .arg(&start)
                .arg(&end)
                .arg("BYLEX")
                .arg("LIMIT")
                .arg(0)
                .arg(5000)
                .query_async(&mut self.conn())
                .await?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            out.extend(page.iter().filter_map(|m| m.parse::<ContentRef>().ok()));
            if page.len() < 5000 {
                break;
            }
            start = format!("({last}");
        }
        Ok(out)
    }

    /// Deletes a repository with all its versions and bookkeeping.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn delete_repository(&self, repo: &Repository) -> Result<()> {
        let k = self.keys();
        let numbers: Vec<u64> = self.conn().zrange(k.versions(&repo.id), 0, -1).await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for n in &numbers {
            pipe.del(k.version(&repo.id, *n))
                .ignore()
                .del(k.version_added(&repo.id, *n))
                .ignore()
                .del(k.version_removed(&repo.id, *n))
                .ignore()
                .zrem(k.all_versions(), format!("{}/{n}", repo.id))
                .ignore();
        }
        pipe.del(k.versions(&repo.id))
            .ignore()
            .del(k.repo_content(&repo.id))
            .ignore()
            .del(k.repo_state(&repo.id))
            .ignore()
            .del(k.repo_publications(&repo.id))
            .ignore();
        let _: () = pipe.query_async(&mut self.conn()).await?;
        self.delete(repo).await?;
        Ok(())
    }
}

/// Counts in [`ContentType::ALL`] order as a summary section: Pulp's type
/// name → count, without the zeros.
fn by_type(counts: &[u64]) -> BTreeMap<String, u64> {
    ContentType::ALL
        .iter()
        .zip(counts)
        .filter(|(_, c)| **c > 0)
        .map(|(t, c)| (t.pulp_name().to_owned(), *c))
        .collect()
}
