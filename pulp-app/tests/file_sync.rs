//! The file plugin end to end in one process: sync from a loopback remote,
//! publish, distribute, serve; hostile remotes; concurrent syncs; cancel.

mod support;

use serde_json::{Value, json};
use support::app::{App, FileServer};

/// Writes a file repository of `n` files with make_file_repo.sh semantics.
fn file_repo(dir: &std::path::Path, files: &[(&str, &[u8])]) {
    use sha2::Digest;
    let mut manifest = String::new();
    for (path, bytes) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        manifest.push_str(&format!(
            "{path},{},{}\n",
            hex::encode(sha2::Sha256::digest(bytes)),
            bytes.len()
        ));
    }
    std::fs::write(dir.join("PULP_MANIFEST"), manifest).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_publish_distribute_serve() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(
        src.path(),
        &[("a.txt", b"hello"), ("sub/b.bin", &[7u8; 3000])],
    );
    let server = FileServer::start(src.path()).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "r1",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    let task = app.run_task(&format!("{repo}sync/"), json!({})).await;
    assert_eq!(task["state"], "completed", "{task}");
    let codes: Vec<&str> = task["progress_reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"sync.downloading.artifacts"), "{codes:?}");
    let version = task["created_resources"][0].as_str().unwrap().to_owned();
    assert!(version.ends_with("/versions/1/"));
    let task = app
        .run_task(
            "/pulp/api/v3/publications/file/file/",
            json!({"repository": repo}),
        )
        .await;
    let publication = task["created_resources"][0].as_str().unwrap().to_owned();
    let task = app
        .run_task(
            "/pulp/api/v3/distributions/file/file/",
            json!({"name": "d1", "base_path": "files/d1", "publication": publication}),
        )
        .await;
    assert_eq!(task["state"], "completed", "{task}");
    let body = app
        .http
        .get(format!("{}/pulp/content/files/d1/sub/b.bin", app.content))
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(body.bytes().await.unwrap().as_ref(), &[7u8; 3000][..]);
    let manifest = app
        .http
        .get(format!(
            "{}/pulp/content/files/d1/PULP_MANIFEST",
            app.content
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(manifest.lines().count(), 2);
    let (_, list): (u16, Value) = app
        .get(&format!(
            "/pulp/api/v3/content/file/files/?repository_version={version}"
        ))
        .await;
    assert_eq!(list["count"], 2);
    app.stop().await;
}
