//! The puppet plugin end to end in one process: real module tarballs on a
//! fake Puppet Forge (v3 API) on loopback; sync, content, publication,
//! distribution through the REST API; the published Forge read back
//! through the content app (and by `puppet module install` when it is
//! installed); re-syncs as the Forge changes; `includes`; hostile Forges.

mod support;

use serde_json::{Value, json};
use support::app::App;
use support::puppet::{Entry, Forge, Release, gzip_bomb, metadata, module_entries, sha256, tar_gz};

const API: &str = "/pulp/api/v3";

/// The Forge of most tests: acme-base 1.0.0, acme-web 1.0.0 and 1.1.0
/// (web needs base).
fn releases() -> Vec<Release> {
    let dep = [("acme/base", ">= 1.0.0 < 2.0.0")];
    vec![
        Release::new("acme-base", "1.0.0", &[]),
        Release::new("acme-web", "1.0.0", &dep),
        Release::new("acme-web", "1.1.0", &dep),
    ]
}

/// Creates a puppet remote (with `extra` fields) and a repository using it.
async fn repo_for(app: &App, name: &str, forge: &Forge, extra: Value) -> (String, String) {
    app.repo_with_remote("puppet", name, &forge.url, extra)
        .await
}

/// Runs a sync and returns the task document.
async fn sync(app: &App, repo: &str, body: Value) -> Value {
    app.run_task(&format!("{repo}sync/"), body).await
}

/// The relative paths of the modules in `version`.
async fn paths_in(app: &App, version: &str) -> Vec<String> {
    let (s, list) = app
        .get(&format!(
            "{API}/content/puppet/modules/?repository_version={version}&limit=1000"
        ))
        .await;
    assert_eq!(s, 200, "{list}");
    let mut paths: Vec<String> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["relative_path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    assert_eq!(list["count"], paths.len(), "count agrees with the results");
    paths
}

fn codes(task: &Value) -> Vec<String> {
    task["progress_reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Publishes the latest version of `repo` and distributes it at `base_path`.
async fn publish_and_distribute(app: &App, repo: &str, name: &str, base_path: &str) -> String {
    let t = app
        .run_task(
            &format!("{API}/publications/puppet/puppet/"),
            json!({"repository": repo}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    let publication = t["created_resources"][0].as_str().unwrap().to_owned();
    let t = app
        .run_task(
            &format!("{API}/distributions/puppet/puppet/"),
            json!({"name": name, "base_path": base_path, "publication": publication}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    publication
}

/// GET from the content app → (status, body bytes).
async fn content_get(app: &App, path: &str) -> (u16, Vec<u8>) {
    let res = app
        .http
        .get(format!("{}{path}", app.content))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.bytes().await.unwrap().to_vec())
}

async fn content_json(app: &App, path: &str) -> Value {
    let (s, body) = content_get(app, path).await;
    assert_eq!(s, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_publish_and_serve_a_forge_then_follow_its_changes() {
    let app = App::start().await;
    // Two releases per page: the sync must follow pagination.next.
    let forge = Forge::start(releases(), 2).await;
    let (repo, remote) = repo_for(&app, "acme", &forge, json!({})).await;
    let (_, r) = app.get(&remote).await;
    assert_eq!(r["includes"], json!([]), "{r}");
    assert_eq!(r["url"], forge.url.as_str());

    let t = sync(&app, &repo, json!({})).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["name"], "pulp_puppet.app.tasks.synchronizing.synchronize");
    let seen = codes(&t);
    for c in [
        "sync.downloading.metadata",
        "sync.parsing.metadata",
        "sync.downloading.artifacts",
        "associating.content",
    ] {
        assert!(seen.contains(&c.to_owned()), "{c} in {seen:?}");
    }
    assert!(
        t["reserved_resources_record"]
            .as_array()
            .unwrap()
            .contains(&json!("shared:pdrn:orphans")),
        "{t}"
    );
    let pages = forge
        .seen()
        .iter()
        .filter(|u| u.starts_with("/v3/releases"))
        .count();
    assert_eq!(
        pages,
        2,
        "three releases at two per page: {:?}",
        forge.seen()
    );
    let v1 = t["created_resources"][0].as_str().unwrap().to_owned();
    assert!(v1.ends_with("/versions/1/"), "{v1}");

    // Content: fields as parsed from each tarball's metadata.json.
    assert_eq!(
        paths_in(&app, &v1).await,
        [
            "acme-base-1.0.0.tar.gz",
            "acme-web-1.0.0.tar.gz",
            "acme-web-1.1.0.tar.gz"
        ]
    );
    let (_, web) = app
        .get(&format!(
            "{API}/content/puppet/modules/?name=web&version=1.1.0"
        ))
        .await;
    assert_eq!(web["count"], 1, "{web}");
    let m = &web["results"][0];
    let source = forge.release("acme-web-1.1.0");
    assert_eq!(m["author"], "acme");
    assert_eq!(m["name"], "web");
    assert_eq!(m["version"], "1.1.0");
    assert_eq!(m["summary"], "The acme-web module, version 1.1.0");
    assert_eq!(
        m["dependencies"],
        json!([{"name": "acme/base", "version_requirement": ">= 1.0.0 < 2.0.0"}])
    );
    assert_eq!(m["sha256"], sha256(&source.tarball));
    assert_eq!(m["relative_path"], "acme-web-1.1.0.tar.gz");
    assert!(
        m["artifact"]
            .as_str()
            .unwrap()
            .starts_with("/pulp/api/v3/artifacts/")
    );
    assert!(
        m["pulp_href"]
            .as_str()
            .unwrap()
            .starts_with("/pulp/api/v3/content/puppet/modules/")
    );
    let (s, one) = app.get(m["pulp_href"].as_str().unwrap()).await;
    assert_eq!((s, &one["version"]), (200, &json!("1.1.0")));
    let (_, by_author) = app
        .get(&format!("{API}/content/puppet/modules/?author=acme"))
        .await;
    assert_eq!(by_author["count"], 3);
    let (_, v) = app.get(&v1).await;
    assert_eq!(
        v["content_summary"]["added"]["puppet.module"]["count"], 3,
        "{v}"
    );

    // Publication and distribution; the Forge API through the content app.
    publish_and_distribute(&app, &repo, "acme", "forge/acme").await;
    let base = "/pulp/content/forge/acme";
    let page = content_json(&app, &format!("{base}/v3/releases?module=acme-web")).await;
    assert_eq!(page["pagination"]["total"], 2, "{page}");
    let versions: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"], "newest first");
    let newest = &page["results"][0];
    assert_eq!(newest["file_uri"], "/v3/files/acme-web-1.1.0.tar.gz");
    assert_eq!(newest["file_sha256"], sha256(&source.tarball));
    assert_eq!(newest["file_size"], source.tarball.len());
    assert_eq!(
        newest["metadata"], source.metadata,
        "the whole metadata.json"
    );
    // Paging as a Forge client follows it.
    let first = content_json(&app, &format!("{base}/v3/releases?module=acme/web&limit=1")).await;
    let next = first["pagination"]["next"].as_str().unwrap().to_owned();
    assert_eq!(next, "/v3/releases?module=acme-web&limit=1&offset=1");
    let second = content_json(&app, &format!("{base}{next}")).await;
    assert_eq!(second["results"][0]["version"], "1.0.0");
    assert!(second["pagination"]["next"].is_null());
    let all = content_json(&app, &format!("{base}/v3/releases")).await;
    assert_eq!(all["pagination"]["total"], 3);
    let none = content_json(&app, &format!("{base}/v3/releases?module=acme-nothere")).await;
    assert_eq!(none["pagination"]["total"], 0);
    let (s, _) = content_get(&app, &format!("{base}/v3/releases?limit=1000")).await;
    assert_eq!(s, 400, "limit is at most 100");
    // The tarballs are the source's bytes.
    for r in releases() {
        let (s, bytes) = content_get(&app, &format!("{base}/v3/files/{}", r.file_name())).await;
        assert_eq!(s, 200, "{}", r.file_name());
        assert_eq!(sha256(&bytes), sha256(&forge.release(&r.slug()).tarball));
    }
    let module = content_json(&app, &format!("{base}/v3/modules/acme-web")).await;
    assert_eq!(module["current_release"]["version"], "1.1.0");
    assert_eq!(module["releases"].as_array().unwrap().len(), 2);
    let release = content_json(&app, &format!("{base}/v3/releases/acme-base-1.0.0")).await;
    assert_eq!(release["metadata"]["name"], "acme-base");
    let file = content_json(&app, &format!("{base}/v3/modules/acme-base.json")).await;
    assert_eq!(file["slug"], "acme-base", "the static file is served too");
    let (s, _) = content_get(&app, &format!("{base}/v3/modules/acme-nothere")).await;
    assert_eq!(s, 404);

    // Unchanged Forge: the sync is skipped.
    let t = sync(&app, &repo, json!({})).await;
    assert_eq!(t["state"], "completed", "{t}");
    assert!(codes(&t).contains(&"sync.was_skipped".to_owned()), "{t}");
    assert!(t["created_resources"].as_array().unwrap().is_empty());

    // The Forge gains acme-db 1.0.0 and loses acme-web 1.0.0.
    forge.add(Release::new("acme-db", "1.0.0", &[]));
    forge.remove("acme-web-1.0.0");
    let t = sync(&app, &repo, json!({})).await;
    assert_eq!(t["state"], "completed", "{t}");
    let v2 = t["created_resources"][0].as_str().unwrap().to_owned();
    assert!(v2.ends_with("/versions/2/"), "{v2}");
    assert_eq!(
        paths_in(&app, &v2).await,
        [
            "acme-base-1.0.0.tar.gz",
            "acme-db-1.0.0.tar.gz",
            "acme-web-1.0.0.tar.gz",
            "acme-web-1.1.0.tar.gz"
        ],
        "additive: what the Forge dropped stays"
    );
    let t = sync(&app, &repo, json!({"mirror": true})).await;
    assert_eq!(t["state"], "completed", "{t}");
    let v3 = t["created_resources"][0].as_str().unwrap().to_owned();
    assert!(v3.ends_with("/versions/3/"), "{v3}");
    assert_eq!(
        paths_in(&app, &v3).await,
        [
            "acme-base-1.0.0.tar.gz",
            "acme-db-1.0.0.tar.gz",
            "acme-web-1.1.0.tar.gz"
        ],
        "mirror: exactly what the Forge lists"
    );
    let (_, removed) = app
        .get(&format!(
            "{API}/content/puppet/modules/?repository_version_removed={v3}"
        ))
        .await;
    assert_eq!(removed["count"], 1);
    assert_eq!(
        removed["results"][0]["relative_path"],
        "acme-web-1.0.0.tar.gz"
    );
    // A mirror sync publishes, as the file plugin's does.
    let publication = t["created_resources"][1].as_str().unwrap();
    assert!(
        publication.starts_with("/pulp/api/v3/publications/puppet/puppet/"),
        "{t}"
    );
    // Old versions keep what they had.
    assert_eq!(paths_in(&app, &v1).await.len(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn includes_sync_only_the_named_modules() {
    let app = App::start().await;
    let forge = Forge::start(releases(), 100).await;
    // Remote settings are checked.
    let bad = [
        (
            json!({"name": "x", "url": forge.url, "includes": ["acme"]}),
            "includes",
        ),
        (
            json!({"name": "x", "url": forge.url, "includes": ["../x-y"]}),
            "includes",
        ),
        (
            json!({"name": "x", "url": forge.url, "policy": "on_demand"}),
            "policy",
        ),
    ];
    for (body, field) in bad {
        let (s, e) = app
            .post(&format!("{API}/remotes/puppet/puppet/"), body)
            .await;
        assert_eq!(s, 400, "{e}");
        assert!(e.to_string().contains(field), "{e}");
    }
    let (s, e) = app
        .post(
            &format!("{API}/remotes/file/file/"),
            json!({"name": "f", "url": "http://127.0.0.1/PULP_MANIFEST", "includes": ["acme-web"]}),
        )
        .await;
    assert_eq!(s, 400, "file remotes have no includes: {e}");

    let (repo, remote) = repo_for(
        &app,
        "only-web",
        &forge,
        json!({"includes": ["acme/web", "acme-web"]}),
    )
    .await;
    let (_, r) = app.get(&remote).await;
    assert_eq!(r["includes"], json!(["acme-web"]), "normalized, once");
    let t = sync(&app, &repo, json!({})).await;
    assert_eq!(t["state"], "completed", "{t}");
    let v = t["created_resources"][0].as_str().unwrap();
    assert_eq!(
        paths_in(&app, v).await,
        ["acme-web-1.0.0.tar.gz", "acme-web-1.1.0.tar.gz"]
    );
    let listings: Vec<String> = forge
        .seen()
        .into_iter()
        .filter(|u| u.starts_with("/v3/releases"))
        .collect();
    assert!(!listings.is_empty());
    assert!(
        listings.iter().all(|u| u.contains("module=acme-web")),
        "{listings:?}"
    );
    assert!(
        !forge.seen().iter().any(|u| u.contains("acme-base")),
        "nothing of other modules is downloaded: {:?}",
        forge.seen()
    );
    // Changing includes changes what the next sync brings.
    let r = app
        .change(&remote, json!({"includes": ["acme-base"]}))
        .await;
    assert_eq!(r["includes"], json!(["acme-base"]), "{r}");
    let t = sync(&app, &repo, json!({"mirror": true})).await;
    assert_eq!(t["state"], "completed", "{t}");
    let v = t["created_resources"][0].as_str().unwrap();
    assert_eq!(paths_in(&app, v).await, ["acme-base-1.0.0.tar.gz"]);
    app.stop().await;
}

/// A release listed as `acme-evil` `1.0.0` with `tarball`.
fn evil(tarball: Vec<u8>) -> Release {
    Release::with_tarball("acme-evil", "1.0.0", tarball)
}

/// A well-formed acme-evil tarball, except for `change`.
fn evil_entries(change: impl FnOnce(&mut Vec<Entry>)) -> Vec<u8> {
    let mut e = module_entries("acme-evil", "1.0.0", &metadata("acme-evil", "1.0.0", &[]));
    change(&mut e);
    tar_gz(&e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_forges_fail_naming_the_module_and_change_nothing() {
    let app = App::start().await;
    let forge = Forge::start(releases(), 100).await;
    let (repo, _) = repo_for(&app, "r", &forge, json!({})).await;
    assert_eq!(sync(&app, &repo, json!({})).await["state"], "completed");

    let huge = {
        let mut m = metadata("acme-evil", "1.0.0", &[]);
        m["description"] = json!("x".repeat(2 * 1024 * 1024));
        m
    };
    let mut cases: Vec<(&str, Release, &str)> = vec![
        (
            "traversal member",
            evil(evil_entries(|e| {
                e.push(Entry::File(
                    "acme-evil-1.0.0/../../evil.sh".into(),
                    b"x".to_vec(),
                ))
            })),
            "acme-evil-1.0.0",
        ),
        (
            "absolute member",
            evil(evil_entries(|e| {
                e.push(Entry::File("/etc/cron.d/evil".into(), b"x".to_vec()))
            })),
            "acme-evil-1.0.0",
        ),
        (
            "symlink member",
            evil(evil_entries(|e| {
                e.push(Entry::Symlink(
                    "acme-evil-1.0.0/passwd".into(),
                    "/etc/passwd".into(),
                ))
            })),
            "acme-evil-1.0.0",
        ),
        (
            "huge metadata.json",
            evil(tar_gz(&module_entries("acme-evil", "1.0.0", &huge))),
            "acme-evil-1.0.0",
        ),
        (
            "gzip bomb",
            evil(gzip_bomb("acme-evil", "1.0.0", 64 * 1024 * 1024)),
            "acme-evil-1.0.0",
        ),
        (
            "missing metadata.json",
            evil(evil_entries(|e| {
                e.retain(|m| !matches!(m, Entry::File(p, _) if p.ends_with("metadata.json")))
            })),
            "acme-evil-1.0.0",
        ),
        (
            "invalid metadata.json",
            evil(evil_entries(|e| {
                for m in e.iter_mut() {
                    if let Entry::File(p, data) = m
                        && p.ends_with("metadata.json")
                    {
                        *data = b"{\"name\": \"acme-evil\", ".to_vec();
                    }
                }
            })),
            "acme-evil-1.0.0",
        ),
        (
            "metadata names another version",
            evil(tar_gz(&module_entries(
                "acme-evil",
                "1.0.0",
                &metadata("acme-evil", "6.6.6", &[]),
            ))),
            "acme-evil-1.0.0",
        ),
        (
            "metadata names another module",
            evil(tar_gz(&module_entries(
                "acme-evil",
                "1.0.0",
                &metadata("acme-web", "1.0.0", &[]),
            ))),
            "acme-evil-1.0.0",
        ),
        (
            "not a tarball",
            evil(b"just some bytes, not gzip".to_vec()),
            "acme-evil-1.0.0",
        ),
    ];
    let mut wrong_sha = evil(Release::new("acme-evil", "1.0.0", &[]).tarball);
    wrong_sha.overrides = json!({"file_sha256": "0".repeat(64)});
    cases.push(("checksum", wrong_sha, "acme-evil-1.0.0"));
    let mut wrong_size = evil(Release::new("acme-evil", "1.0.0", &[]).tarball);
    wrong_size.overrides = json!({"file_size": 10});
    cases.push(("size", wrong_size, "acme-evil-1.0.0"));
    let mut foreign = evil(Release::new("acme-evil", "1.0.0", &[]).tarball);
    foreign.overrides = json!({"file_uri": "http://192.0.2.1/acme-evil-1.0.0.tar.gz"});
    cases.push(("file_uri elsewhere", foreign, "acme-evil-1.0.0"));
    let mut bad_name = evil(Release::new("acme-evil", "1.0.0", &[]).tarball);
    bad_name.metadata["name"] = json!("../../etc-passwd");
    cases.push(("bad module name", bad_name, "not a module name"));

    for (name, release, culprit) in cases {
        let slug = release.slug();
        forge.add(release);
        let before_keys = app.redis_snapshot().await;
        let before_files = app.storage_files();
        let t = sync(&app, &repo, json!({})).await;
        assert_eq!(t["state"], "failed", "{name}: {t}");
        let msg = t["error"]["description"].as_str().unwrap();
        println!("{name}: {msg}");
        assert!(msg.contains(culprit), "{name}: the message names it: {msg}");
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
        forge.remove(&slug);
    }
    let (_, r) = app.get(&repo).await;
    assert!(
        r["latest_version_href"]
            .as_str()
            .unwrap()
            .ends_with("/versions/1/")
    );
    // The Forge is good again: the sync works.
    assert_eq!(sync(&app, &repo, json!({})).await["state"], "completed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puppet_module_install_works_against_a_distribution() {
    if !support::fixtures::have("puppet") {
        support::fixtures::skip_or_fail(
            "puppet_module_install_works_against_a_distribution",
            "the `puppet` command",
            "apt-get install -y puppet",
        );
        return;
    }
    let app = App::start().await;
    let forge = Forge::start(releases(), 100).await;
    let (repo, _) = repo_for(&app, "install", &forge, json!({})).await;
    assert_eq!(sync(&app, &repo, json!({})).await["state"], "completed");
    publish_and_distribute(&app, &repo, "install", "forge/install").await;
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("modules");
    std::fs::create_dir_all(&target).unwrap();
    let repository = format!("{}/pulp/content/forge/install/", app.content);
    let dir = work.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("puppet")
            .args(["module", "install", "--module_repository"])
            .arg(&repository)
            .arg("--target-dir")
            .arg(dir.join("modules"))
            .arg("--confdir")
            .arg(dir.join("conf"))
            .arg("--vardir")
            .arg(dir.join("var"))
            .arg("--codedir")
            .arg(dir.join("code"))
            .arg("--logdir")
            .arg(dir.join("log"))
            .arg("--rundir")
            .arg(dir.join("run"))
            .args(["--color", "false", "acme-web"])
            .env("HOME", &dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "puppet module install failed: {text}");
    let installed: Value =
        serde_json::from_slice(&std::fs::read(target.join("web/metadata.json")).unwrap()).unwrap();
    assert_eq!(installed["version"], "1.1.0", "the newest release");
    let base: Value =
        serde_json::from_slice(&std::fs::read(target.join("base/metadata.json")).unwrap()).unwrap();
    assert_eq!(base["name"], "acme-base", "its dependency came along");
    assert!(target.join("web/manifests/init.pp").is_file());
    app.stop().await;
}
