//! The file plugin end to end in one process: sync from a loopback remote,
//! publish, distribute, serve; hostile remotes; concurrent syncs; cancel.

mod support;

use serde_json::{Value, json};
use support::app::{App, FileServer, file_repo};

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

/// A manifest line for `bytes` at `path`.
fn line(path: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    format!(
        "{path},{},{}\n",
        hex::encode(sha2::Sha256::digest(bytes)),
        bytes.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_manifests_fail_and_change_nothing() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("good.txt"), b"good").unwrap();
    std::fs::write(src.path().join("short.txt"), b"short").unwrap();
    let server = FileServer::start(src.path()).await;
    let good = line("good.txt", b"good");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "dotdot",
            format!("{good}../etc/passwd,{},4\n", "a".repeat(64)),
            "../etc/passwd",
        ),
        (
            "absolute",
            format!("{good}/etc/passwd,{},4\n", "a".repeat(64)),
            "/etc/passwd",
        ),
        (
            "checksum",
            format!("{good}short.txt,{},5\n", "b".repeat(64)),
            "short.txt",
        ),
        (
            "size",
            format!(
                "{good}{}",
                line("short.txt", b"short").replace(",5\n", ",4\n")
            ),
            "short.txt",
        ),
        (
            "truncated",
            format!("{good}{}", line("short.txt", b"short and longer")),
            "short.txt",
        ),
        (
            "missing",
            format!("{good}{}", line("absent.bin", b"x")),
            "absent.bin",
        ),
    ];
    // A repository with one good sync first: its version must survive.
    std::fs::write(src.path().join("PULP_MANIFEST"), &good).unwrap();
    let (repo, remote) = app
        .repo_with_remote(
            "file",
            "r",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    assert_eq!(
        app.run_task(&format!("{repo}sync/"), json!({})).await["state"],
        "completed"
    );
    for (name, manifest, culprit) in cases {
        std::fs::write(src.path().join("PULP_MANIFEST"), &manifest).unwrap();
        let before_keys = app.redis_snapshot().await;
        let before_files = app.storage_files();
        let t = app
            .run_task(&format!("{repo}sync/"), json!({"remote": remote}))
            .await;
        assert_eq!(t["state"], "failed", "{name}: {t}");
        let msg = t["error"]["description"].as_str().unwrap();
        println!("{name}: {msg}");
        assert!(
            msg.contains(culprit),
            "{name}: the message names the entry: {msg}"
        );
        let mut after_keys = app.redis_snapshot().await;
        // The task's own record and bookkeeping are the only change.
        after_keys.retain(|k, _| !k.contains(":task:") && !k.ends_with(":idx:task"));
        let mut before_keys = before_keys;
        before_keys.retain(|k, _| !k.contains(":task:") && !k.ends_with(":idx:task"));
        assert_eq!(before_keys, after_keys, "{name}: catalog unchanged");
        assert_eq!(
            before_files,
            app.storage_files(),
            "{name}: storage unchanged (no temp files left)"
        );
    }
    let (_, r) = app.get(&repo).await;
    assert!(
        r["latest_version_href"]
            .as_str()
            .unwrap()
            .ends_with("/versions/1/")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_of_one_repository_never_overlap() {
    // Two workers, so the second sync could run at once if nothing stopped it.
    let app = App::start_with(2, |_| {}).await;
    let src = tempfile::tempdir().unwrap();
    let files: Vec<(String, Vec<u8>)> = (0..8)
        .map(|i| (format!("f{i}.bin"), vec![i as u8; 100 + i]))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    file_repo(src.path(), &refs);
    let server =
        FileServer::start_with_delay(src.path(), std::time::Duration::from_millis(150)).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "r",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({"download_concurrency": 2}),
        )
        .await;
    let (_, a) = app
        .post(&format!("{repo}sync/"), json!({"optimize": false}))
        .await;
    let (_, b) = app
        .post(
            &format!("{repo}sync/"),
            json!({"optimize": false, "mirror": true}),
        )
        .await;
    let (a, b) = (
        a["task"].as_str().unwrap().to_owned(),
        b["task"].as_str().unwrap().to_owned(),
    );
    let mut saw_waiting = false;
    loop {
        let (_, ta) = app.get(&a).await;
        let (_, tb) = app.get(&b).await;
        assert!(
            !(ta["state"] == "running" && tb["state"] == "running"),
            "both syncs ran at once"
        );
        if ta["state"] == "running" && tb["state"] == "waiting" {
            saw_waiting = true;
        }
        if ta["state"] == "completed" && tb["state"] == "completed" {
            assert!(tb["started_at"].as_str().unwrap() >= ta["finished_at"].as_str().unwrap());
            break;
        }
        assert!(
            ta["state"] != "failed" && tb["state"] != "failed",
            "{ta} {tb}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(saw_waiting, "the second sync waited for the first");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_a_running_sync_leaves_nothing_behind() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    let files: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("f{i}.bin"), vec![i as u8; 1000 + i]))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    file_repo(src.path(), &refs);
    let server =
        FileServer::start_with_delay(src.path(), std::time::Duration::from_millis(200)).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "r",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({"download_concurrency": 1}),
        )
        .await;
    let before_files = app.storage_files();
    let (_, t) = app.post(&format!("{repo}sync/"), json!({})).await;
    let href = t["task"].as_str().unwrap().to_owned();
    loop {
        let (_, t) = app.get(&href).await;
        let downloading = t["progress_reports"].as_array().unwrap().iter().any(|r| {
            r["code"] == "sync.downloading.artifacts" && r["done"].as_u64().unwrap_or(0) >= 2
        });
        if downloading {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (s, c) = app.patch(&href, json!({"state": "canceled"})).await;
    assert_eq!(s, 200);
    assert!(
        ["canceling", "canceled"].contains(&c["state"].as_str().unwrap()),
        "{c}"
    );
    let t = app.wait_task(&href).await;
    assert_eq!(t["state"], "canceled", "{t}");
    assert!(
        t["progress_reports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] != "running")
    );
    let (_, r) = app.get(&repo).await;
    assert!(
        r["latest_version_href"]
            .as_str()
            .unwrap()
            .ends_with("/versions/0/"),
        "no new version"
    );
    assert_eq!(
        before_files,
        app.storage_files(),
        "no artifact or temp file kept"
    );
    let (_, content) = app.get("/pulp/api/v3/content/file/files/").await;
    assert_eq!(content["count"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_optimize_and_orphan_cleanup() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("a", b"A"), ("b", b"B")]);
    let server = FileServer::start(src.path()).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "r",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    assert_eq!(
        app.run_task(&format!("{repo}sync/"), json!({})).await["created_resources"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Unchanged: skipped.
    let t = app.run_task(&format!("{repo}sync/"), json!({})).await;
    assert!(
        t["progress_reports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "sync.was_skipped"),
        "{t}"
    );
    assert_eq!(t["created_resources"].as_array().unwrap().len(), 0);
    // The remote drops b and gains c.
    std::fs::remove_file(src.path().join("b")).unwrap();
    file_repo(src.path(), &[("a", b"A"), ("c", b"C")]);
    let t = app.run_task(&format!("{repo}sync/"), json!({})).await;
    let v2 = t["created_resources"][0].as_str().unwrap().to_owned();
    let (_, v) = app.get(&v2).await;
    assert_eq!(
        v["content_summary"]["present"]["file.file"]["count"], 3,
        "additive keeps b"
    );
    let t = app
        .run_task(&format!("{repo}sync/"), json!({"mirror": true}))
        .await;
    let hrefs: Vec<String> = t["created_resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        hrefs.len(),
        2,
        "mirror creates a version and a publication: {hrefs:?}"
    );
    let (_, v) = app.get(&hrefs[0]).await;
    assert_eq!(v["content_summary"]["present"]["file.file"]["count"], 2);
    assert_eq!(v["content_summary"]["removed"]["file.file"]["count"], 1);
    // b is still in version 1 and 2: not an orphan. Deleting the repository
    // makes everything orphaned.
    let t = app
        .run_task(
            &format!("{API}/orphans/cleanup/"),
            json!({"orphan_protection_time": 0}),
        )
        .await;
    assert_eq!(t["state"], "completed");
    let (_, all) = app.get("/pulp/api/v3/content/file/files/").await;
    assert_eq!(all["count"], 3);
    let (_, d) = app.delete(&repo).await;
    app.wait_task(d["task"].as_str().unwrap()).await;
    let t = app
        .run_task(
            &format!("{API}/orphans/cleanup/"),
            json!({"orphan_protection_time": 0}),
        )
        .await;
    let reports = t["progress_reports"].as_array().unwrap();
    assert_eq!(
        reports
            .iter()
            .find(|r| r["code"] == "clean-up.content")
            .unwrap()["done"],
        3,
        "{t}"
    );
    assert_eq!(
        reports
            .iter()
            .find(|r| r["code"] == "clean-up.artifacts")
            .unwrap()["done"],
        3
    );
    let (_, all) = app.get("/pulp/api/v3/content/file/files/").await;
    assert_eq!(all["count"], 0);
    assert!(
        app.storage_files()
            .iter()
            .all(|f| !f.contains("/artifacts/")),
        "{:?}",
        app.storage_files()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_content_is_fetched_on_first_request() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("lazy.bin", b"fetched later")]);
    let server = FileServer::start(src.path()).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "r",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({"policy": "on_demand"}),
        )
        .await;
    app.run_task(&format!("{repo}sync/"), json!({})).await;
    assert!(
        app.storage_files()
            .iter()
            .all(|f| !f.contains("/artifacts/")),
        "nothing downloaded yet"
    );
    let (_, c) = app.get("/pulp/api/v3/content/file/files/").await;
    assert!(c["results"][0]["artifact"].is_null());
    app.run_task(
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "d", "base_path": "lazy", "repository": repo}),
    )
    .await;
    app.run_task(
        "/pulp/api/v3/publications/file/file/",
        json!({"repository": repo}),
    )
    .await;
    let got = app
        .http
        .get(format!("{}/pulp/content/lazy/lazy.bin", app.content))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"fetched later");
    assert!(
        app.storage_files()
            .iter()
            .any(|f| f.contains("/artifacts/")),
        "kept in the store"
    );
    let (_, c) = app.get("/pulp/api/v3/content/file/files/").await;
    assert!(c["results"][0]["artifact"].is_string(), "{c}");
    // The remote can go away now.
    drop(server);
    let again = app
        .http
        .get(format!("{}/pulp/content/lazy/lazy.bin", app.content))
        .send()
        .await
        .unwrap();
    assert_eq!(again.bytes().await.unwrap().as_ref(), b"fetched later");
    app.stop().await;
}

const API: &str = "/pulp/api/v3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_whose_worker_dies_fails_and_frees_the_repository() {
    let mut app = App::start_with(0, |s| s.worker_lease = std::time::Duration::from_secs(1)).await;
    let src = tempfile::tempdir().unwrap();
    let files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("f{i}.bin"), vec![i as u8; 500]))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    file_repo(src.path(), &refs);
    let server =
        FileServer::start_with_delay(src.path(), std::time::Duration::from_millis(300)).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "r",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({"download_concurrency": 1}),
        )
        .await;
    let mut victim = app.worker_process();
    let (_, t) = app.post(&format!("{repo}sync/"), json!({})).await;
    let href = t["task"].as_str().unwrap().to_owned();
    for _ in 0..600 {
        if app.get(&href).await.1["state"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.get(&href).await.1["state"], "running");
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    app.spawn_worker();
    let t = app.wait_task(&href).await;
    assert_eq!(t["state"], "failed", "{t}");
    assert!(
        t["error"]["description"]
            .as_str()
            .unwrap()
            .contains("gone missing"),
        "{t}"
    );
    // The reservation went with the dead worker: the next sync runs.
    drop(server);
    let fast = FileServer::start(src.path()).await;
    let (_, remote) = app
        .post(
            &format!("{API}/remotes/file/file/"),
            json!({"name": "fast", "url": format!("{}/PULP_MANIFEST", fast.url)}),
        )
        .await;
    let t = app
        .run_task(
            &format!("{repo}sync/"),
            json!({"remote": remote["pulp_href"]}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_syncs_fire_from_beat() {
    let mut app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("a", b"A")]);
    let server = FileServer::start(src.path()).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "nightly",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    // Errors name the problem.
    let err = pulp_app::schedules::put_sync_schedule(
        &app.services,
        "bad",
        pulp_app::catalog::model::Plugin::File,
        "no-such-repo",
        taskq::beat::When::every(std::time::Duration::from_secs(1)).unwrap(),
        false,
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no-such-repo"), "{err}");
    pulp_app::schedules::put_sync_schedule(
        &app.services,
        "every-second",
        pulp_app::catalog::model::Plugin::File,
        "nightly",
        taskq::beat::When::every(std::time::Duration::from_secs(1)).unwrap(),
        false,
        Some(3),
    )
    .await
    .unwrap();
    app.spawn_beat();
    // The first occurrence syncs (version 1); later ones are skipped (optimize).
    let mut synced = None;
    for _ in 0..200 {
        let (_, tasks) = app
            .get("/pulp/api/v3/tasks/?name=pulp_file.app.tasks.synchronizing.synchronize")
            .await;
        if let Some(t) = tasks["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["state"] == "completed")
        {
            synced = Some(t.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let t = synced.expect("a scheduled sync completed");
    assert_eq!(t["created_by"], "beat:every-second");
    assert!(
        t["reserved_resources_record"][0]
            .as_str()
            .unwrap()
            .starts_with("prn:file.filerepository:"),
        "{t}"
    );
    let (_, r) = app.get(&repo).await;
    assert!(
        r["latest_version_href"]
            .as_str()
            .unwrap()
            .ends_with("/versions/1/")
    );
    let entries = pulp_app::schedules::list(&app.services).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].total_runs >= 1);
    assert!(
        pulp_app::schedules::delete(&app.services, "every-second")
            .await
            .unwrap()
    );
    app.stop().await;
}
