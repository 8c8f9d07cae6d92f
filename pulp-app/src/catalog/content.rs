//! Content units: stored once (ids derive from natural keys, so the same
//! unit found by two syncs is one record), indexed by filterable fields, and
//! listed per type with filters and true counts by intersecting sorted sets
//! in Redis.

use redis::AsyncCommands;

use super::model::{ContentRecord, ContentRef, ContentType};
use super::{Catalog, Result, from_json, to_json};

/// A content listing query.
#[derive(Debug, Clone, Default)]
pub struct ContentFilter {
    /// Sorted sets every result must be in (a version's content, what a
    /// version added or removed).
    pub within: Vec<String>,
    /// Field conditions: each is (field, accepted values); a unit matches
    /// when it has one of the values (an `__in` filter) for every field.
    pub fields: Vec<(String, Vec<String>)>,
}

/// One page of content.
#[derive(Debug, Clone)]
pub struct ContentPage {
    /// Matches in total.
    pub count: u64,
    /// This page.
    pub records: Vec<ContentRecord>,
}

impl Catalog {
    /// Stores content units that are not stored yet and indexes them. Units
    /// that exist are left as they are (content is immutable), except that
    /// an artifact now known is recorded.
    ///
    /// # Errors
    /// Redis or encoding errors.
    pub async fn put_content(&self, records: &[ContentRecord]) -> Result<()> {
        let k = self.keys();
        for chunk in records.chunks(500) {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for r in chunk {
                let key = k.entity("content", &r.r#ref.id);
                pipe.cmd("SET")
                    .arg(&key)
                    .arg(to_json(&key, r)?)
                    .arg("NX")
                    .ignore();
                let member = r.r#ref.to_string();
                pipe.zadd(k.all_content(), &member, 0).ignore();
                for (field, value) in &r.indexes {
                    pipe.zadd(
                        k.content_field(r.r#ref.kind.tag(), field, value),
                        &member,
                        0,
                    )
                    .ignore();
                }
            }
            let _: () = pipe.query_async(&mut self.conn()).await?;
        }
        Ok(())
    }

    /// Replaces stored content records (e.g. to record a downloaded artifact).
    ///
    /// # Errors
    /// Redis or encoding errors.
    pub async fn replace_content(&self, records: &[ContentRecord]) -> Result<()> {
        let k = self.keys();
        let mut pipe = redis::pipe();
        for r in records {
            let key = k.entity("content", &r.r#ref.id);
            pipe.set(&key, to_json(&key, r)?).ignore();
        }
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Loads content records, skipping unknown ones, keeping the order.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn content(&self, refs: &[ContentRef]) -> Result<Vec<ContentRecord>> {
        let mut out = Vec::with_capacity(refs.len());
        for chunk in refs.chunks(1000) {
            let keys: Vec<String> = chunk
                .iter()
                .map(|r| self.keys().entity("content", &r.id))
                .collect();
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

    /// Lists content of one type, newest first... by id order, with filters,
    /// one page, and the number of matches.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn list_content(
        &self,
        kind: ContentType,
        filter: &ContentFilter,
        offset: usize,
        limit: usize,
    ) -> Result<ContentPage> {
        let k = self.keys();
        let mut sets: Vec<String> = filter.within.clone();
        let mut temps: Vec<String> = Vec::new();
        let mut pipe = redis::pipe();
        for (field, values) in &filter.fields {
            match values.as_slice() {
                [] => {}
                [one] => sets.push(k.content_field(kind.tag(), field, one)),
                many => {
                    let t = k.temp();
                    pipe.cmd("ZUNIONSTORE").arg(&t).arg(many.len());
                    for v in many {
                        pipe.arg(k.content_field(kind.tag(), field, v));
                    }
                    pipe.ignore().expire(&t, 60).ignore();
                    sets.push(t.clone());
                    temps.push(t);
                }
            }
        }
        let source = match sets.as_slice() {
            [] => k.all_content(),
            [one] => one.clone(),
            many => {
                let t = k.temp();
                pipe.cmd("ZINTERSTORE")
                    .arg(&t)
                    .arg(many.len())
                    .arg(many)
                    .ignore();
                pipe.expire(&t, 60).ignore();
                temps.push(t.clone());
                t
            }
        };
        let (min, max) = (format!("[{}:", kind.tag()), format!("[{};", kind.tag()));
        pipe.zlexcount(&source, &min, &max);
        pipe.cmd("ZRANGE")
            .arg(&source)
            .arg(&min)
            .arg(&max)
            .arg("BYLEX")
            .arg("LIMIT")
            .arg(offset)
            .arg(limit);
        let (count, members): (u64, Vec<String>) = {
            let mut out: Vec<redis::Value> = pipe.query_async(&mut self.conn()).await?;
            let members = out
                .pop()
                .map(redis::from_redis_value::<Vec<String>>)
                .transpose();
            let count = out.pop().map(redis::from_redis_value::<u64>).transpose();
            (
                count.map_err(redis::RedisError::from)?.unwrap_or(0),
                members
                    .map_err(redis::RedisError::from)?
                    .unwrap_or_default(),
            )
        };
        if !temps.is_empty() {
            let _: () = self.conn().del(&temps).await?;
        }
        let refs: Vec<ContentRef> = members.iter().filter_map(|m| m.parse().ok()).collect();
        Ok(ContentPage {
            count,
            records: self.content(&refs).await?,
        })
    }

    /// Every content unit in the catalog (for orphan cleanup).
    ///
    /// # Errors
    /// Redis errors.
    pub async fn all_content_refs(&self) -> Result<Vec<ContentRef>> {
        let members: Vec<String> = self.conn().zrange(self.keys().all_content(), 0, -1).await?;
        Ok(members.iter().filter_map(|m| m.parse().ok()).collect())
    }

    /// Removes content units and their index entries.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn delete_content(&self, records: &[ContentRecord]) -> Result<()> {
        let k = self.keys();
        for chunk in records.chunks(500) {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for r in chunk {
                let member = r.r#ref.to_string();
                pipe.del(k.entity("content", &r.r#ref.id)).ignore();
                pipe.zrem(k.all_content(), &member).ignore();
                for (field, value) in &r.indexes {
                    pipe.zrem(k.content_field(r.r#ref.kind.tag(), field, value), &member)
                        .ignore();
                }
            }
            let _: () = pipe.query_async(&mut self.conn()).await?;
        }
        Ok(())
    }
}
