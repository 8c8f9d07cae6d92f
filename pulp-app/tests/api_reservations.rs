//! Reservations the API takes or honours: changes of a remote or repository
//! that a running task reserved wait for it (they are tasks, as in Pulp), and
//! orphan cleanup waits for a running sync, which reserves the orphans
//! resource shared, so it never deletes what the sync stored but has not
//! committed yet.

mod support;

use std::time::Duration;

use serde_json::json;
use sha2::Digest;
use support::app::{App, GatedServer, file_repo};

const API: &str = "/pulp/api/v3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_wait_for_a_running_sync_and_cleanup_waits_too() {
    let files: [(&str, &[u8]); 3] = [("one", b"1"), ("two", b"22"), ("held", b"333")];
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &files);
    let gate = GatedServer::start(src.path(), |p| p == "held").await;
    let app = App::start_with(2, |_| {}).await;
    let (repo, remote) = app
        .repo_with_remote(
            "file",
            "r",
            &format!("{}PULP_MANIFEST", gate.url),
            json!({}),
        )
        .await;
    let (_, other) = app
        .post(
            &format!("{API}/repositories/file/file/"),
            json!({"name": "other"}),
        )
        .await;
    let other = other["pulp_href"].as_str().unwrap().to_owned();

    let (s, r) = app.post(&format!("{repo}sync/"), json!({})).await;
    assert_eq!(s, 202);
    let sync = r["task"].as_str().unwrap().to_owned();
    gate.wait_held().await;
    let (_, t) = app.get(&sync).await;
    assert_eq!(t["state"], "running");
    assert!(
        t["reserved_resources_record"]
            .as_array()
            .unwrap()
            .contains(&json!("shared:pdrn:orphans")),
        "{t}"
    );

    // The remote and the repository are in use: changes are accepted as
    // tasks that wait for the sync, and nothing changes under it.
    let (_, remote_before) = app.get(&remote).await;
    let (_, repo_before) = app.get(&repo).await;
    let mut changes = Vec::new();
    for (href, body) in [
        (&remote, json!({"url": "http://127.0.0.1:1/PULP_MANIFEST"})),
        (&remote, json!({"tls_validation": false})),
        (&repo, json!({"description": "changed"})),
    ] {
        let (s, r) = app.patch(href, body).await;
        assert_eq!(s, 202, "{r}");
        assert_eq!(r.as_object().unwrap().len(), 1, "only the task: {r}");
        changes.push(r["task"].as_str().unwrap().to_owned());
    }
    // Bad input is still a 400 at once, and other objects are free.
    let (s, e) = app.patch(&remote, json!({"policy": "sometimes"})).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["fields"]["policy"].is_array(), "{e}");
    let free = app.change(&other, json!({"description": "free"})).await;
    assert_eq!(free["description"], "free");
    for c in &changes {
        let (_, t) = app.get(c).await;
        assert_eq!(t["state"], "waiting", "{t}");
    }
    assert_eq!(app.get(&sync).await.1["state"], "running");
    assert_eq!(app.get(&remote).await.1, remote_before);
    assert_eq!(app.get(&repo).await.1, repo_before);

    // Orphan cleanup (no protection time) waits for the sync, although a
    // worker is free: another task runs to completion meanwhile.
    let (s, r) = app
        .post(
            &format!("{API}/orphans/cleanup/"),
            json!({"orphan_protection_time": 0}),
        )
        .await;
    assert_eq!(s, 202);
    let cleanup = r["task"].as_str().unwrap().to_owned();
    let published = app
        .run_task(
            &format!("{API}/publications/file/file/"),
            json!({"repository": other}),
        )
        .await;
    assert_eq!(published["state"], "completed", "a worker is free");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, c) = app.get(&cleanup).await;
    assert_eq!(c["state"], "waiting", "{c}");
    assert!(c["started_at"].is_null());

    gate.release();
    let t = app.wait_task(&sync).await;
    assert_eq!(t["state"], "completed", "{t}");
    let c = app.wait_task(&cleanup).await;
    assert_eq!(c["state"], "completed", "{c}");
    assert!(
        c["started_at"].as_str().unwrap() >= t["finished_at"].as_str().unwrap(),
        "cleanup started after the sync finished: {c} {t}"
    );
    // Everything the sync stored is there, in use by version 1.
    let (_, l) = app
        .get(&format!(
            "{API}/content/file/files/?repository_version={repo}versions/1/"
        ))
        .await;
    assert_eq!(l["count"], 3, "{l}");
    for (_, bytes) in files {
        let digest = hex::encode(sha2::Sha256::digest(bytes));
        let path = app
            .services
            .settings
            .storage_path
            .join("artifacts")
            .join(&digest[..2])
            .join(&digest[2..]);
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{}", path.display());
    }

    // Once the sync is over, the changes ran, after it, and both changes
    // of the remote (different fields) took effect.
    for c in &changes {
        let ct = app.wait_task(c).await;
        assert_eq!(ct["state"], "completed", "{ct}");
        assert!(
            ct["started_at"].as_str().unwrap() >= t["finished_at"].as_str().unwrap(),
            "the change started after the sync finished: {ct} {t}"
        );
    }
    let (_, r) = app.get(&remote).await;
    assert_eq!(
        (r["url"].as_str(), r["tls_validation"].as_bool()),
        (Some("http://127.0.0.1:1/PULP_MANIFEST"), Some(false)),
        "{r}"
    );
    assert_eq!(app.get(&repo).await.1["description"], "changed");
    // Deleting the remote is a task too; the repository loses it.
    let d = app.delete_task(&remote).await;
    assert_eq!(d["state"], "completed", "{d}");
    assert_eq!(app.get(&remote).await.0, 404);
    assert!(app.get(&repo).await.1["remote"].is_null());
    app.stop().await;
}
