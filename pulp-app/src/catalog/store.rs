//! Generic storage of named entities: create with unique names, read,
//! update, delete, and list with filters and true counts.

use redis::{AsyncCommands, Script};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::model::{Distribution, Plugin, Publication, PuppetRemote, Remote, Repository};
use super::{Catalog, CatalogError, Result, from_json, to_json};

/// Something the catalog stores as a JSON document.
pub trait Entity: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Collection name in keys (`remote`, `repository`, ...).
    const COLLECTION: &'static str;
    /// Its id.
    fn id(&self) -> Uuid;
    /// Its plugin.
    fn plugin(&self) -> Plugin;
    /// Its unique name, if the collection has names.
    fn unique_name(&self) -> Option<&str>;
}

impl Entity for Remote {
    const COLLECTION: &'static str = "remote";
    fn id(&self) -> Uuid {
        self.id
    }
    fn plugin(&self) -> Plugin {
        self.plugin
    }
    fn unique_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// A puppet remote is a remote document with `includes`: same collection.
impl Entity for PuppetRemote {
    const COLLECTION: &'static str = "remote";
    fn id(&self) -> Uuid {
        self.remote.id
    }
    fn plugin(&self) -> Plugin {
        self.remote.plugin
    }
    fn unique_name(&self) -> Option<&str> {
        Some(&self.remote.name)
    }
}

impl Entity for Repository {
    const COLLECTION: &'static str = "repository";
    fn id(&self) -> Uuid {
        self.id
    }
    fn plugin(&self) -> Plugin {
        self.plugin
    }
    fn unique_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

impl Entity for Distribution {
    const COLLECTION: &'static str = "distribution";
    fn id(&self) -> Uuid {
        self.id
    }
    fn plugin(&self) -> Plugin {
        self.plugin
    }
    fn unique_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

impl Entity for Publication {
    const COLLECTION: &'static str = "publication";
    fn id(&self) -> Uuid {
        self.id
    }
    fn plugin(&self) -> Plugin {
        self.plugin
    }
    fn unique_name(&self) -> Option<&str> {
        None
    }
}

/// One page of a listing, with the total count of matches.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// How many entities match (all pages).
    pub count: u64,
    /// This page.
    pub items: Vec<T>,
}

/// How to filter a listing.
pub struct ListFilter<T> {
    /// Exact name: answered from the name index without loading others.
    pub name: Option<String>,
    /// Any other condition.
    pub predicate: Box<dyn Fn(&T) -> bool + Send + Sync>,
}

impl<T> std::fmt::Debug for ListFilter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListFilter")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<T> Default for ListFilter<T> {
    fn default() -> Self {
        ListFilter {
            name: None,
            predicate: Box::new(|_| true),
        }
    }
}

const CREATE: &str = r"
-- KEYS[1] entity, KEYS[2] index, KEYS[3] names; ARGV id, json, name ('' if none)
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[1])
end
return 1
";

const UPDATE: &str = r"
-- KEYS[1] entity, KEYS[2] names; ARGV id, json, old name, new name
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
if ARGV[4] ~= ARGV[3] then
  if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then
    return 0
  end
  if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then
    redis.call('HDEL', KEYS[2], ARGV[3])
  end
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[1])
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
";

const DELETE: &str = r"
-- KEYS[1] entity, KEYS[2] index, KEYS[3] names; ARGV id, name
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] ~= '' and redis.call('HGET', KEYS[3], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[3], ARGV[2])
end
return existed
";

impl Catalog {
    /// Stores a new entity.
    ///
    /// # Errors
    /// [`CatalogError::Conflict`] if its name is taken.
    pub async fn create<T: Entity>(&self, entity: &T) -> Result<()> {
        let k = self.keys();
        let key = k.entity(T::COLLECTION, &entity.id());
        let ok: i64 = Script::new(CREATE)
            .key(&key)
            .key(k.index(T::COLLECTION, entity.plugin()))
            .key(k.names(T::COLLECTION, entity.plugin()))
            .arg(entity.id().to_string())
            .arg(to_json(&key, entity)?)
            .arg(entity.unique_name().unwrap_or(""))
            .invoke_async(&mut self.conn())
            .await?;
        if ok == 0 {
            return Err(CatalogError::Conflict {
                field: "name",
                value: entity.unique_name().unwrap_or_default().to_owned(),
            });
        }
        Ok(())
    }

    /// Reads an entity.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn get<T: Entity>(&self, id: &Uuid) -> Result<Option<T>> {
        let key = self.keys().entity(T::COLLECTION, id);
        let text: Option<String> = self.conn().get(&key).await?;
        text.map(|t| from_json(&key, &t)).transpose()
    }

    /// Reads an entity that must exist.
    ///
    /// # Errors
    /// [`CatalogError::NotFound`] if it does not.
    pub async fn require<T: Entity>(&self, id: &Uuid) -> Result<T> {
        self.get(id).await?.ok_or(CatalogError::NotFound)
    }

    /// Checks that no other entity of the collection has `entity`'s name
    /// (the store checks again when it writes).
    ///
    /// # Errors
    /// [`CatalogError::Conflict`] if the name is taken.
    pub async fn check_name_free<T: Entity>(&self, entity: &T) -> Result<()> {
        let Some(name) = entity.unique_name() else {
            return Ok(());
        };
        let holder: Option<String> = self
            .conn()
            .hget(self.keys().names(T::COLLECTION, entity.plugin()), name)
            .await?;
        match holder {
            Some(id) if id != entity.id().to_string() => Err(CatalogError::Conflict {
                field: "name",
                value: name.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Replaces an entity (renames keep names unique).
    ///
    /// # Errors
    /// [`CatalogError::Conflict`] if the new name is taken,
    /// [`CatalogError::NotFound`] if the entity is gone.
    pub async fn update<T: Entity>(&self, old: &T, new: &T) -> Result<()> {
        let k = self.keys();
        let key = k.entity(T::COLLECTION, &new.id());
        let ok: i64 = Script::new(UPDATE)
            .key(&key)
            .key(k.names(T::COLLECTION, new.plugin()))
            .arg(new.id().to_string())
            .arg(to_json(&key, new)?)
            .arg(old.unique_name().unwrap_or(""))
            .arg(new.unique_name().unwrap_or(""))
            .invoke_async(&mut self.conn())
            .await?;
        match ok {
            -1 => Err(CatalogError::NotFound),
            0 => Err(CatalogError::Conflict {
                field: "name",
                value: new.unique_name().unwrap_or_default().to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Deletes an entity; returns whether it existed.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn delete<T: Entity>(&self, entity: &T) -> Result<bool> {
        let k = self.keys();
        let existed: i64 = Script::new(DELETE)
            .key(k.entity(T::COLLECTION, &entity.id()))
            .key(k.index(T::COLLECTION, entity.plugin()))
            .key(k.names(T::COLLECTION, entity.plugin()))
            .arg(entity.id().to_string())
            .arg(entity.unique_name().unwrap_or(""))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(existed == 1)
    }

    /// The id of the entity called `name`.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn id_by_name<T: Entity>(&self, plugin: Plugin, name: &str) -> Result<Option<Uuid>> {
        let id: Option<String> = self
            .conn()
            .hget(self.keys().names(T::COLLECTION, plugin), name)
            .await?;
        Ok(id.and_then(|s| s.parse().ok()))
    }

    /// Lists entities of `plugin`, newest first, filtered, one page.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn list<T: Entity>(
        &self,
        plugin: Plugin,
        filter: &ListFilter<T>,
        offset: usize,
        limit: usize,
    ) -> Result<Page<T>> {
        let matches: Vec<T> = match &filter.name {
            Some(name) => match self.id_by_name::<T>(plugin, name).await? {
                Some(id) => self.get::<T>(&id).await?.into_iter().collect(),
                None => Vec::new(),
            },
            None => self.load_all::<T>(plugin).await?,
        };
        let matches: Vec<T> = matches
            .into_iter()
            .filter(|e| (filter.predicate)(e))
            .collect();
        Ok(Page {
            count: matches.len() as u64,
            items: matches.into_iter().skip(offset).take(limit).collect(),
        })
    }

    /// Every entity of `plugin`, newest first.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn load_all<T: Entity>(&self, plugin: Plugin) -> Result<Vec<T>> {
        let k = self.keys();
        let ids: Vec<String> = self
            .conn()
            .zrevrange(k.index(T::COLLECTION, plugin), 0, -1)
            .await?;
        self.load_ids(&ids).await
    }

    /// Loads entities by id (missing ones are skipped), keeping the order.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn load_ids<T: Entity>(&self, ids: &[String]) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let keys: Vec<String> = chunk
                .iter()
                .filter_map(|id| id.parse::<Uuid>().ok())
                .map(|id| self.keys().entity(T::COLLECTION, &id))
                .collect();
            if keys.is_empty() {
                continue;
            }
            let texts: Vec<Option<String>> = redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut self.conn())
                .await?;
            for (key, text) in keys.iter().zip(texts) {
                if let Some(t) = text {
                    out.push(from_json(key, &t)?);
                }
            }
        }
        Ok(out)
    }
}
