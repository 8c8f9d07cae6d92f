//! Task bookkeeping that Pulp shows and taskq does not keep: Pulp's task
//! name, who dispatched it, reserved resources, created resources, result.
//! The live state (waiting, running, ...) comes from taskq's record.

use std::time::Duration;

use redis::AsyncCommands;

use super::model::TaskMeta;
use super::{Catalog, Result, from_json, to_json};

impl Catalog {
    /// Records a dispatched task.
    ///
    /// # Errors
    /// Redis or encoding errors.
    pub async fn put_task(&self, id: &str, meta: &TaskMeta, ttl: Duration) -> Result<()> {
        let key = self.task_key(id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set_ex(&key, to_json(&key, meta)?, ttl.as_secs())
            .ignore()
            .zadd(self.keys().tasks(), id, 0)
            .ignore();
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// The bookkeeping of a task.
    ///
    /// # Errors
    /// Redis or decoding errors.
    pub async fn task(&self, id: &str) -> Result<Option<TaskMeta>> {
        let key = self.task_key(id);
        let text: Option<String> = self.conn().get(&key).await?;
        text.map(|t| from_json(&key, &t)).transpose()
    }

    /// Records what a task created (called by the task before it returns).
    ///
    /// # Errors
    /// Redis or encoding errors.
    pub async fn set_task_result(
        &self,
        id: &str,
        created_resources: Vec<String>,
        result: Option<serde_json::Value>,
    ) -> Result<()> {
        let key = self.task_key(id);
        let Some(mut meta) = self.task(id).await? else {
            return Ok(());
        };
        meta.created_resources = created_resources;
        meta.result = result;
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(to_json(&key, &meta)?)
            .arg("KEEPTTL")
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Every task id, newest first; ids whose records expired are dropped
    /// from the index on the way.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn task_ids(&self) -> Result<Vec<String>> {
        let ids: Vec<String> = self.conn().zrevrange(self.keys().tasks(), 0, -1).await?;
        let mut live = Vec::with_capacity(ids.len());
        let mut gone = Vec::new();
        for chunk in ids.chunks(1000) {
            let keys: Vec<String> = chunk.iter().map(|id| self.task_key(id)).collect();
            let exists: Vec<bool> = {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.exists(k);
                }
                pipe.query_async(&mut self.conn()).await?
            };
            for (id, e) in chunk.iter().zip(exists) {
                if e {
                    live.push(id.clone())
                } else {
                    gone.push(id.clone())
                }
            }
        }
        if !gone.is_empty() {
            let _: () = self.conn().zrem(self.keys().tasks(), &gone).await?;
        }
        Ok(live)
    }

    fn task_key(&self, id: &str) -> String {
        match id.parse() {
            Ok(uuid) => self.keys().entity("task", &uuid),
            Err(_) => self.keys().entity("task", &uuid::Uuid::nil()),
        }
    }
}
