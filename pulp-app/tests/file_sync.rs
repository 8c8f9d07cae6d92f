//! The file plugin end to end in one process: sync from a loopback remote,
//! publish, distribute, serve; hostile remotes; concurrent syncs; cancel.

mod support;

use serde_json::{Value, json};
use support::app::{App, FileServer, GatedServer, file_repo};

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
        // Only task bookkeeping may change (see redis_snapshot).
        assert_eq!(
            before_keys,
            app.redis_snapshot().await,
            "{name}: catalog unchanged"
        );
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
        // Two reads are not one snapshot: `a` may finish (and hand over to
        // `b`) between them. Running before and after `b` was read, `a`
        // was running throughout, so `b` running then is an overlap.
        let (_, ta) = app.get(&a).await;
        let (_, tb) = app.get(&b).await;
        let (_, ta_after) = app.get(&a).await;
        assert!(
            !(ta["state"] == "running"
                && tb["state"] == "running"
                && ta_after["state"] == "running"),
            "both syncs ran at once: {ta_after} {tb}"
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
    let before_keys = app.redis_snapshot().await;
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
    assert_eq!(before_keys, app.redis_snapshot().await, "catalog unchanged");
    let (_, content) = app.get("/pulp/api/v3/content/file/files/").await;
    assert_eq!(content["count"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_a_sync_waiting_for_its_repository_never_runs_it() {
    // Two workers: only the reservation keeps the second sync from running.
    let app = App::start_with(2, |_| {}).await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("a.bin", b"AAAA"), ("b.bin", b"BBBB")]);
    let server = GatedServer::start(src.path(), |p| p.ends_with(".bin")).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "r",
            &format!("{}PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    let (_, a) = app.post(&format!("{repo}sync/"), json!({})).await;
    let a = a["task"].as_str().unwrap().to_owned();
    // The first sync is running and cannot finish until released.
    server.wait_held().await;
    assert_eq!(app.get(&a).await.1["state"], "running");
    let (_, b) = app
        .post(&format!("{repo}sync/"), json!({"mirror": true}))
        .await;
    let b = b["task"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&b).await.1["state"], "waiting");
    let (status, c) = app.patch(&b, json!({"state": "canceled"})).await;
    assert_eq!(status, 200, "{c}");
    // Canceled while the first still holds the repository.
    let tb = app.wait_task(&b).await;
    assert_eq!(tb["state"], "canceled", "{tb}");
    assert!(tb["started_at"].is_null(), "it never started: {tb}");
    assert_eq!(app.get(&a).await.1["state"], "running");
    server.release();
    let ta = app.wait_task(&a).await;
    assert_eq!(ta["state"], "completed", "{ta}");
    assert!(
        ta["created_resources"][0]
            .as_str()
            .unwrap()
            .ends_with("/versions/1/"),
        "{ta}"
    );
    // The canceled sync never ran: one manifest download (the first
    // sync's), no mirror publication, and it stays canceled.
    assert_eq!(server.hits("PULP_MANIFEST"), 1);
    let (_, pubs) = app.get("/pulp/api/v3/publications/file/file/").await;
    assert_eq!(pubs["count"], 0, "{pubs}");
    let tb = app.get(&b).await.1;
    assert_eq!(tb["state"], "canceled", "{tb}");
    assert!(tb["started_at"].is_null(), "{tb}");
    // The repository is free again.
    let t = app
        .run_task(&format!("{repo}sync/"), json!({"optimize": false}))
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(server.hits("PULP_MANIFEST"), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_see_changes_of_equal_size() {
    let app = App::start().await;
    let (s, remote) = app
        .post(
            "/pulp/api/v3/remotes/file/file/",
            json!({"name": "aaaa", "url": "http://127.0.0.1:1/PULP_MANIFEST"}),
        )
        .await;
    assert_eq!(s, 201, "{remote}");
    let before = app.redis_snapshot().await;
    assert!(
        before.keys().any(|k| k.starts_with("{pulp}:remote:")),
        "{before:?}"
    );
    // The same name, one letter changed: every value keeps its length.
    let (s, r) = app
        .patch(
            remote["pulp_href"].as_str().unwrap(),
            json!({"name": "aaab"}),
        )
        .await;
    assert!(s == 200 || s == 202, "{r}");
    if let Some(t) = r["task"].as_str() {
        app.wait_task(t).await;
    }
    assert_ne!(before, app.redis_snapshot().await, "a renamed remote shows");

    let root = &app.services.settings.storage_path;
    std::fs::write(root.join("tmp/x.part"), b"1234").unwrap();
    let files = app.storage_files();
    std::fs::write(root.join("tmp/x.part"), b"1235").unwrap();
    assert_ne!(files, app.storage_files(), "same size, other bytes");
    std::fs::remove_file(root.join("tmp/x.part")).unwrap();
    std::fs::create_dir_all(root.join("publications")).unwrap();
    let files = app.storage_files();
    std::fs::create_dir(root.join("publications/.tmp-y")).unwrap();
    assert_ne!(files, app.storage_files(), "an empty temp directory shows");
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
            .all(|f| !f.contains("/artifacts/") || f.ends_with('/')),
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
            .all(|f| !f.contains("/artifacts/") || f.ends_with('/')),
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
            .any(|f| f.contains("/artifacts/") && !f.ends_with('/')),
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

// ------------------------------------------------ remote settings reach the downloader

use support::app::{Demands, RecordingServer};

/// A file repository `name` syncing `url` with the remote fields `extra`;
/// returns the finished sync task.
async fn sync_with(app: &App, name: &str, url: &str, extra: Value) -> Value {
    let (repo, _) = app.repo_with_remote("file", name, url, extra).await;
    app.run_task(&format!("{repo}sync/"), json!({})).await
}

fn failure(task: &Value) -> String {
    assert_eq!(task["state"], "failed", "{task}");
    task["error"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_headers_reach_the_server() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("a.txt", b"A"), ("b.txt", b"B")]);
    let server = RecordingServer::start(
        src.path(),
        Demands {
            basic_auth: Some(("alice".into(), "s3cret".into())),
            ..Demands::default()
        },
    )
    .await;
    let manifest = format!("{}PULP_MANIFEST", server.url);

    let before = app.redis_snapshot().await;
    let files = app.storage_files();
    let t = sync_with(&app, "anonymous", &manifest, json!({})).await;
    let msg = failure(&t);
    assert!(msg.contains("401") && msg.contains("Unauthorized"), "{msg}");
    assert!(msg.contains("username and password"), "{msg}");
    let wrong = sync_with(
        &app,
        "wrong",
        &manifest,
        json!({"username": "alice", "password": "guess"}),
    )
    .await;
    assert!(failure(&wrong).contains("401"), "{wrong}");
    // Nothing but the two new remotes and repositories changed.
    let after = app.redis_snapshot().await;
    assert!(
        before
            .iter()
            .all(|(k, v)| after.get(k) == Some(v) || k.contains(":names:") || k.contains(":idx:")),
        "catalog changed"
    );
    assert_eq!(files, app.storage_files(), "storage unchanged");

    let t = sync_with(
        &app,
        "alice",
        &manifest,
        json!({
            "username": "alice",
            "password": "s3cret",
            "headers": [{"X-Pulp-Test": "yes"}, {"X-Tenant": "team a"}],
        }),
    )
    .await;
    assert_eq!(t["state"], "completed", "{t}");
    let seen = server.seen();
    let ok: Vec<_> = seen.iter().filter(|s| s.status == 200).collect();
    assert_eq!(ok.len(), 3, "the manifest and two files: {seen:?}");
    for s in ok {
        assert_eq!(s.headers["x-pulp-test"], "yes", "{s:?}");
        assert_eq!(s.headers["x-tenant"], "team a", "{s:?}");
    }
    // The password is not in the task, nor in the remote as the API shows it.
    assert!(!t.to_string().contains("s3cret"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_fetches_use_the_remotes_credentials_and_headers() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("lazy.bin", b"behind a password")]);
    let server = RecordingServer::start(
        src.path(),
        Demands {
            basic_auth: Some(("alice".into(), "s3cret".into())),
            ..Demands::default()
        },
    )
    .await;
    let (repo, remote) = app
        .repo_with_remote(
            "file",
            "lazy",
            &format!("{}PULP_MANIFEST", server.url),
            json!({
                "policy": "on_demand",
                "username": "alice",
                "password": "s3cret",
                "headers": [{"X-Tenant": "team a"}],
            }),
        )
        .await;
    assert_eq!(
        app.run_task(&format!("{repo}sync/"), json!({})).await["state"],
        "completed"
    );
    app.run_task(
        &format!("{API}/publications/file/file/"),
        json!({"repository": repo}),
    )
    .await;
    app.run_task(
        &format!("{API}/distributions/file/file/"),
        json!({"name": "lazy", "base_path": "lazy", "repository": repo}),
    )
    .await;
    let url = format!("{}/pulp/content/lazy/lazy.bin", app.content);
    let got = app.http.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"behind a password");
    let fetch = server
        .seen()
        .into_iter()
        .find(|s| s.uri.ends_with("/lazy.bin"))
        .expect("the content app fetched the file");
    assert_eq!(
        fetch.status, 200,
        "with the remote's credentials: {fetch:?}"
    );
    assert_eq!(fetch.headers["x-tenant"], "team a", "{fetch:?}");

    // A changed remote takes effect for the next fetch (no stale client).
    app.change(&remote, json!({"headers": [{"X-Tenant": "team b"}]}))
        .await;
    file_repo(
        src.path(),
        &[("lazy.bin", b"behind a password"), ("more.bin", b"more")],
    );
    app.run_task(&format!("{repo}sync/"), json!({})).await;
    app.run_task(
        &format!("{API}/publications/file/file/"),
        json!({"repository": repo}),
    )
    .await;
    let more = format!("{}/pulp/content/lazy/more.bin", app.content);
    let got = app.http.get(&more).send().await.unwrap();
    assert_eq!(got.status(), 200);
    let fetch = server
        .seen()
        .into_iter()
        .find(|s| s.uri.ends_with("/more.bin"))
        .expect("fetched");
    assert_eq!(fetch.headers["x-tenant"], "team b", "{fetch:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retries_retries_server_errors() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("a.txt", b"A")]);
    // The first two requests get 503: two retries are enough...
    let server = RecordingServer::start(
        src.path(),
        Demands {
            fail_first: 2,
            ..Demands::default()
        },
    )
    .await;
    let t = sync_with(
        &app,
        "patient",
        &format!("{}PULP_MANIFEST", server.url),
        json!({"max_retries": 2}),
    )
    .await;
    assert_eq!(t["state"], "completed", "{t}");
    let statuses: Vec<u16> = server.seen().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [503, 503, 200, 200], "retried, then the file");
    // ...one is not.
    let server = RecordingServer::start(
        src.path(),
        Demands {
            fail_first: 2,
            ..Demands::default()
        },
    )
    .await;
    let t = sync_with(
        &app,
        "hasty",
        &format!("{}PULP_MANIFEST", server.url),
        json!({"max_retries": 1}),
    )
    .await;
    let msg = failure(&t);
    assert!(msg.contains("503"), "{msg}");
    assert_eq!(server.seen().len(), 2, "one try and one retry");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_fail_clearly() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("stuck.bin", b"never sent")]);
    // The file is never answered (until the server stops).
    let server = GatedServer::start(src.path(), |p| p.ends_with(".bin")).await;
    let manifest = format!("{}PULP_MANIFEST", server.url);
    for (name, setting) in [("total", "total_timeout"), ("read", "sock_read_timeout")] {
        let before = app.redis_snapshot().await;
        let files = app.storage_files();
        let mut extra = json!({"max_retries": 0});
        extra[setting] = json!(0.5);
        let t = sync_with(&app, name, &manifest, extra).await;
        let msg = failure(&t);
        assert!(
            msg.contains("stuck.bin") && msg.contains("timed out") && msg.contains(setting),
            "{name}: {msg}"
        );
        assert_eq!(files, app.storage_files(), "{name}: storage unchanged");
        let after = app.redis_snapshot().await;
        assert!(
            before.iter().all(|(k, v)| after.get(k) == Some(v)
                || k.contains(":names:")
                || k.contains(":idx:")),
            "{name}: catalog changed"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_go_through_the_remotes_proxy() {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("a.txt", b"via proxy")]);
    // Nothing listens at the origin: only the proxy can answer.
    let origin = "http://127.0.0.1:9/";
    let proxy = RecordingServer::proxy_to(
        origin,
        src.path(),
        Demands {
            basic_auth: Some(("p".into(), "pw".into())),
            ..Demands::default()
        },
    )
    .await;
    let manifest = format!("{origin}PULP_MANIFEST");
    let t = sync_with(
        &app,
        "no-proxy-auth",
        &manifest,
        json!({"proxy_url": proxy.url, "max_retries": 0}),
    )
    .await;
    let msg = failure(&t);
    assert!(msg.contains("407"), "{msg}");
    let t = sync_with(
        &app,
        "proxied",
        &manifest,
        json!({"proxy_url": proxy.url, "proxy_username": "p", "proxy_password": "pw"}),
    )
    .await;
    assert_eq!(t["state"], "completed", "{t}");
    let seen = proxy.seen();
    let uris: Vec<&str> = seen
        .iter()
        .filter(|s| s.status == 200)
        .map(|s| s.uri.as_str())
        .collect();
    assert_eq!(
        uris,
        [
            "http://127.0.0.1:9/PULP_MANIFEST",
            "http://127.0.0.1:9/a.txt"
        ]
    );
    app.stop().await;
}

/// `openssl s_server` serving `dir` over HTTPS with a certificate for
/// 127.0.0.1 signed by a fresh CA; killed (by its PID) when dropped.
struct TlsServer {
    child: std::process::Child,
    url: String,
    ca_pem: String,
}

impl TlsServer {
    fn start(dir: &std::path::Path, certs: &std::path::Path) -> Option<TlsServer> {
        if support::fixtures::skip_without("the TLS test", &["openssl"]) {
            return None;
        }
        let run = |args: &[&str]| {
            support::fixtures::run_quietly(
                std::process::Command::new("openssl")
                    .args(args)
                    .current_dir(certs),
            )
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=pulp-app test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(
            certs.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(certs.join("leaf.pem"))
            .arg("-key")
            .arg(certs.join("leaf.key"))
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let server = TlsServer {
            child,
            url: format!("https://127.0.0.1:{port}/"),
            ca_pem: std::fs::read_to_string(certs.join("ca.pem")).unwrap(),
        };
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("openssl s_server did not start");
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_validation_and_ca_cert_are_honoured() {
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("a.txt", b"over TLS")]);
    let certs = tempfile::tempdir().unwrap();
    let Some(tls) = TlsServer::start(src.path(), certs.path()) else {
        return;
    };
    let app = App::start().await;
    let manifest = format!("{}PULP_MANIFEST", tls.url);
    let t = sync_with(&app, "untrusted", &manifest, json!({"max_retries": 0})).await;
    let msg = failure(&t);
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
    let t = sync_with(
        &app,
        "garbage-ca",
        &manifest,
        json!({"ca_cert": "not a PEM"}),
    )
    .await;
    assert!(failure(&t).contains("ca_cert"), "{t}");
    let t = sync_with(&app, "trusted", &manifest, json!({"ca_cert": tls.ca_pem})).await;
    assert_eq!(t["state"], "completed", "{t}");
    let t = sync_with(
        &app,
        "unchecked",
        &manifest,
        json!({"tls_validation": false}),
    )
    .await;
    assert_eq!(t["state"], "completed", "{t}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_urls_need_allowed_import_paths() {
    let src = tempfile::tempdir().unwrap();
    let allowed = src.path().join("allowed");
    std::fs::create_dir_all(&allowed).unwrap();
    file_repo(&allowed, &[("a.txt", b"local")]);
    let secret = src.path().join("secret.txt");
    std::fs::write(&secret, b"top secret").unwrap();
    let manifest = reqwest::Url::from_file_path(allowed.join("PULP_MANIFEST")).unwrap();

    // By default every file:// URL is refused, before anything is read.
    let app = App::start().await;
    let files = app.storage_files();
    let t = sync_with(&app, "local", manifest.as_str(), json!({})).await;
    let msg = failure(&t);
    assert!(
        msg.contains("allowed_import_paths") && msg.contains("not allowed"),
        "{msg}"
    );
    assert_eq!(files, app.storage_files());
    app.stop().await;

    let app = App::start_with(1, |s| s.allowed_import_paths = vec![allowed.clone()]).await;
    let t = sync_with(&app, "local", manifest.as_str(), json!({})).await;
    assert_eq!(t["state"], "completed", "{t}");
    // A symlink inside the allowed directory does not lead out of it.
    std::os::unix::fs::symlink(&secret, allowed.join("link.txt")).unwrap();
    std::fs::write(
        allowed.join("PULP_MANIFEST"),
        format!(
            "link.txt,{},10\n",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"top secret"))
        ),
    )
    .unwrap();
    let t = sync_with(&app, "link", manifest.as_str(), json!({})).await;
    let msg = failure(&t);
    assert!(
        msg.contains("link.txt") && msg.contains("not allowed"),
        "{msg}"
    );
    // Nor does a manifest outside it.
    let outside = reqwest::Url::from_file_path(&secret).unwrap();
    let t = sync_with(&app, "outside", outside.as_str(), json!({})).await;
    assert!(failure(&t).contains("not allowed"), "{t}");
    app.stop().await;
}
