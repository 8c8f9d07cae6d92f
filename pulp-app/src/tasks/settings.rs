//! Changing and deleting remotes and repositories' settings, as tasks.
//!
//! As in Pulp, `PATCH` of a remote or repository and `DELETE` of a remote
//! answer 202 with a task that reserves the object exclusively: a change
//! waits for the syncs that use the object (they reserve it) instead of
//! racing them or failing. The API checks the request at once (a bad field
//! is a 400 then); the task applies the change to the object as it is when
//! the task runs, so two changes of different fields queued one after the
//! other both take effect.
//!
//! A change travels as a JSON merge patch (RFC 7396) of the stored
//! document: [`diff`] computes it from the old and new documents the API
//! built, [`merge`] applies it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use taskq::{TaskContext, TaskError, task};
use uuid::Uuid;

use super::{created, fail};
use crate::api::render;
use crate::catalog::model::{PuppetRemote, Repository};
use crate::services::Services;

/// What a settings task changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    /// A remote (of any plugin; stored with a puppet remote's `includes`).
    Remote,
    /// A repository.
    Repository,
}

/// Applies `patch` (a merge patch of the stored document) to the remote or
/// repository `id`, and stamps it updated.
#[task(name = "core.update", queue = "pulp", on_worker_lost = "fail")]
pub async fn update_object(
    ctx: TaskContext<Services>,
    object: Object,
    id: Uuid,
    patch: Value,
) -> Result<(), TaskError> {
    let s = ctx.state();
    let rendered = match object {
        Object::Remote => {
            let new: PuppetRemote = apply(s, &id, &patch, |r: &mut PuppetRemote| {
                r.remote.updated = chrono::Utc::now();
            })
            .await?;
            render::remote(&new)
        }
        Object::Repository => {
            let new: Repository = apply(s, &id, &patch, |r: &mut Repository| {
                r.updated = chrono::Utc::now();
            })
            .await?;
            render::repository(&s.catalog, &new).await.map_err(fail)?
        }
    };
    created(&ctx, Vec::new(), Some(rendered)).await
}

/// Loads `id`, merges `patch` into it, stamps it and stores it.
async fn apply<T>(
    s: &Services,
    id: &Uuid,
    patch: &Value,
    stamp: impl FnOnce(&mut T),
) -> Result<T, TaskError>
where
    T: crate::catalog::Entity + Serialize + serde::de::DeserializeOwned,
{
    let old: T = s
        .catalog
        .get(id)
        .await
        .map_err(fail)?
        .ok_or_else(|| TaskError::fail("it was deleted before the change ran"))?;
    let mut doc = serde_json::to_value(&old).map_err(fail)?;
    merge(&mut doc, patch);
    let mut new: T = serde_json::from_value(doc)
        .map_err(|e| TaskError::fail(format!("the change does not fit the object: {e}")))?;
    stamp(&mut new);
    s.catalog.update(&old, &new).await.map_err(fail)?;
    Ok(new)
}

/// Deletes a remote; repositories that used it as their default remote
/// lose it (as Pulp's `SET_NULL`).
#[task(name = "core.delete_remote", queue = "pulp", on_worker_lost = "fail")]
pub async fn delete_remote(ctx: TaskContext<Services>, remote: Uuid) -> Result<(), TaskError> {
    let s = ctx.state();
    if let Some(r) = s.catalog.get::<PuppetRemote>(&remote).await.map_err(fail)? {
        for repo in s
            .catalog
            .load_all::<Repository>(r.remote.plugin)
            .await
            .map_err(fail)?
        {
            if repo.remote == Some(remote) {
                let mut unset = repo.clone();
                unset.remote = None;
                s.catalog.update(&repo, &unset).await.map_err(fail)?;
            }
        }
        s.catalog.delete(&r).await.map_err(fail)?;
    }
    created(&ctx, Vec::new(), None).await
}

/// The merge patch that turns `old` into `new`: changed members with their
/// new value (objects compared member by member), removed members as null.
pub fn diff(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) if ov == nv => {}
                    Some(ov @ Value::Object(_)) if nv.is_object() => {
                        patch.insert(k.clone(), diff(ov, nv));
                    }
                    // A null member is stored as absent (merge removes it).
                    _ => {
                        patch.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

/// Applies the merge patch `patch` to `target` (RFC 7396).
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        unreachable!("made an object above")
    };
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_diff_merged_into_the_old_document_gives_the_new_one() {
        let old = json!({"name": "a", "url": "http://x/", "proxy_url": "http://p/",
            "secrets": {"username": "u", "password": "p"}, "includes": ["acme-web"]});
        let new = json!({"name": "b", "url": "http://x/", "proxy_url": null,
            "secrets": {"username": "u", "password": "q"}});
        let patch = diff(&old, &new);
        assert_eq!(
            patch,
            json!({"name": "b", "proxy_url": null, "secrets": {"password": "q"}, "includes": null})
        );
        let mut doc = old.clone();
        merge(&mut doc, &patch);
        // Null members come back absent, which deserializes to None.
        assert_eq!(
            doc,
            json!({"name": "b", "url": "http://x/",
                "secrets": {"username": "u", "password": "q"}})
        );
    }

    #[test]
    fn changes_of_different_fields_both_apply() {
        let base = json!({"url": "http://x/", "tls_validation": true, "description": null});
        let first = diff(
            &base,
            &json!({"url": "http://y/", "tls_validation": true, "description": null}),
        );
        let second = diff(
            &base,
            &json!({"url": "http://x/", "tls_validation": false, "description": null}),
        );
        let mut doc = base.clone();
        merge(&mut doc, &first);
        merge(&mut doc, &second);
        assert_eq!(
            doc,
            json!({"url": "http://y/", "tls_validation": false, "description": null})
        );
    }
}
