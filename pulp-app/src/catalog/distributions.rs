//! Distributions (unique, non-overlapping base paths) and publications.

use redis::{AsyncCommands, Script};
use uuid::Uuid;

use super::model::{Distribution, Publication};
use super::{Catalog, CatalogError, Entity, Result, to_json};

const SAVE: &str = r"
-- KEYS[1] entity, KEYS[2] index, KEYS[3] names, KEYS[4] base paths
-- ARGV id, json, old name ('' when new), new name, old base path ('' when new), new base path
if ARGV[4] ~= ARGV[3] and redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then
  return 'name'
end
if ARGV[6] ~= ARGV[5] then
  if redis.call('HEXISTS', KEYS[4], ARGV[6]) == 1 then
    return 'base_path'
  end
  local new = ARGV[6]
  for _, bp in ipairs(redis.call('HKEYS', KEYS[4])) do
    if bp ~= ARGV[5] and (string.sub(new, 1, #bp + 1) == bp .. '/' or string.sub(bp, 1, #new + 1) == new .. '/') then
      return 'overlap'
    end
  end
end
if ARGV[3] ~= '' and ARGV[3] ~= ARGV[4] then
  redis.call('HDEL', KEYS[3], ARGV[3])
end
if ARGV[5] ~= '' and ARGV[5] ~= ARGV[6] then
  redis.call('HDEL', KEYS[4], ARGV[5])
end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[6], ARGV[1])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 'ok'
";

impl Catalog {
    /// Creates (`old` = None) or updates a distribution, keeping names and
    /// base paths unique and base paths from nesting in one another.
    ///
    /// # Errors
    /// [`CatalogError::Conflict`] for a taken name or base path,
    /// [`CatalogError::Overlap`] for a nested base path.
    pub async fn save_distribution(
        &self,
        old: Option<&Distribution>,
        new: &Distribution,
    ) -> Result<()> {
        let k = self.keys();
        let key = k.entity(Distribution::COLLECTION, &new.id);
        let outcome: String = Script::new(SAVE)
            .key(&key)
            .key(k.index(Distribution::COLLECTION, new.plugin))
            .key(k.names(Distribution::COLLECTION, new.plugin))
            .key(k.base_paths())
            .arg(new.id.to_string())
            .arg(to_json(&key, new)?)
            .arg(old.map(|o| o.name.as_str()).unwrap_or(""))
            .arg(&new.name)
            .arg(old.map(|o| o.base_path.as_str()).unwrap_or(""))
            .arg(&new.base_path)
            .invoke_async(&mut self.conn())
            .await?;
        match outcome.as_str() {
            "name" => Err(CatalogError::Conflict {
                field: "name",
                value: new.name.clone(),
            }),
            "base_path" => Err(CatalogError::Conflict {
                field: "base_path",
                value: new.base_path.clone(),
            }),
            "overlap" => Err(CatalogError::Overlap(new.base_path.clone())),
            _ => Ok(()),
        }
    }

    /// Deletes a distribution and frees its name and base path.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn delete_distribution(&self, d: &Distribution) -> Result<()> {
        let k = self.keys();
        let owner: Option<String> = self.conn().hget(k.base_paths(), &d.base_path).await?;
        if owner.as_deref() == Some(d.id.to_string().as_str()) {
            let _: () = self.conn().hdel(k.base_paths(), &d.base_path).await?;
        }
        self.delete(d).await?;
        Ok(())
    }

    /// Finds the distribution serving `path` (`<base_path>/<rest>`): the one
    /// whose base path is the longest prefix of it. Returns it and the rest.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn distribution_for_path(
        &self,
        path: &str,
    ) -> Result<Option<(Distribution, String)>> {
        let path = path.trim_start_matches('/');
        let mut candidate = path.trim_end_matches('/');
        loop {
            let id: Option<String> = self
                .conn()
                .hget(self.keys().base_paths(), candidate)
                .await?;
            if let Some(id) = id.and_then(|s| s.parse::<Uuid>().ok())
                && let Some(d) = self.get::<Distribution>(&id).await?
            {
                let rest = path[candidate.len()..].trim_start_matches('/').to_owned();
                return Ok(Some((d, rest)));
            }
            match candidate.rfind('/') {
                Some(i) => candidate = &candidate[..i],
                None => return Ok(None),
            }
        }
    }

    /// Every base path with its distribution id (for the content root listing).
    ///
    /// # Errors
    /// Redis errors.
    pub async fn base_paths(&self) -> Result<Vec<(String, Uuid)>> {
        let all: Vec<(String, String)> = self.conn().hgetall(self.keys().base_paths()).await?;
        let mut out: Vec<(String, Uuid)> = all
            .into_iter()
            .filter_map(|(bp, id)| Some((bp, id.parse().ok()?)))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Stores a publication and indexes it under its repository.
    ///
    /// # Errors
    /// Redis or encoding errors.
    pub async fn create_publication(&self, p: &Publication) -> Result<()> {
        self.create(p).await?;
        let _: () = self
            .conn()
            .zadd(
                self.keys().repo_publications(&p.repository),
                p.id.to_string(),
                0,
            )
            .await?;
        Ok(())
    }

    /// Deletes a publication record.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn delete_publication(&self, p: &Publication) -> Result<()> {
        let _: () = self
            .conn()
            .zrem(
                self.keys().repo_publications(&p.repository),
                p.id.to_string(),
            )
            .await?;
        self.delete(p).await?;
        Ok(())
    }

    /// Publications of a repository, newest first.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn repository_publications(&self, repo: &Uuid) -> Result<Vec<Publication>> {
        let ids: Vec<String> = self
            .conn()
            .zrevrange(self.keys().repo_publications(repo), 0, -1)
            .await?;
        self.load_ids(&ids).await
    }
}
