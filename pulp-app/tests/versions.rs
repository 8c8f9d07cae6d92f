//! Repository versions: deleting one (its changes fold into the next, so no
//! other version changes), `retain_repo_versions`, and the rule that a
//! repository always keeps one version.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use support::app::{App, FileServer, file_repo};

/// A repository synced from a remote of `n` files (its version 1 holds them
/// all), the content href of each file by name, and the server (keep it).
async fn repo_with_files(
    app: &App,
    name: &str,
    n: usize,
    extra: Value,
) -> (String, BTreeMap<String, String>, FileServer) {
    let src = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("f{i}.txt")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), n.as_bytes())).collect();
    file_repo(src.path(), &files);
    let server = FileServer::start(src.path()).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            name,
            &format!("{}/PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    if extra.as_object().is_some_and(|o| !o.is_empty()) {
        app.change(&repo, extra).await;
    }
    let task = app.run_task(&format!("{repo}sync/"), json!({})).await;
    assert_eq!(task["state"], "completed", "{task}");
    let version = task["created_resources"][0].as_str().unwrap();
    let hrefs = version_files(app, version)
        .await
        .into_iter()
        .collect::<BTreeMap<_, _>>();
    assert_eq!(hrefs.len(), n);
    std::mem::forget(src);
    (repo, hrefs, server)
}

/// The files of a version: relative path → content href.
async fn version_files(app: &App, version: &str) -> Vec<(String, String)> {
    let (s, list) = app
        .get(&format!(
            "/pulp/api/v3/content/file/files/?repository_version={version}&limit=1000"
        ))
        .await;
    assert_eq!(s, 200, "{list}");
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["relative_path"].as_str().unwrap().to_owned(),
                u["pulp_href"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn names_in(app: &App, version: &str) -> BTreeSet<String> {
    version_files(app, version)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// Makes a new version holding exactly `target`; returns its number.
async fn modify_to(
    app: &App,
    repo: &str,
    hrefs: &BTreeMap<String, String>,
    current: &BTreeSet<String>,
    target: &BTreeSet<String>,
) -> Option<u64> {
    let add: Vec<&String> = target.difference(current).map(|n| &hrefs[n]).collect();
    let remove: Vec<&String> = current.difference(target).map(|n| &hrefs[n]).collect();
    let task = app
        .run_task(
            &format!("{repo}modify/"),
            json!({"add_content_units": add, "remove_content_units": remove}),
        )
        .await;
    assert_eq!(task["state"], "completed", "{task}");
    task["created_resources"][0].as_str().map(|v| {
        v.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    })
}

fn count(summary: &Value, section: &str) -> u64 {
    summary[section]["file.file"]["count"].as_u64().unwrap_or(0)
}

/// Checks every version the model holds against the API: content, the
/// summary counts (relative to the previous existing version), the version
/// list and the repository's latest version.
async fn check(app: &App, repo: &str, model: &BTreeMap<u64, BTreeSet<String>>) {
    let (_, list) = app.get(&format!("{repo}versions/?limit=100")).await;
    let listed: Vec<u64> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = model.keys().rev().copied().collect();
    assert_eq!(listed, want);
    assert_eq!(list["count"], want.len());
    let (_, r) = app.get(repo).await;
    let latest = *model.keys().last().unwrap();
    assert_eq!(
        r["latest_version_href"],
        format!("{repo}versions/{latest}/")
    );
    let empty = BTreeSet::new();
    let mut prev = &empty;
    for (n, files) in model {
        let href = format!("{repo}versions/{n}/");
        assert_eq!(&names_in(app, &href).await, files, "content of version {n}");
        let (s, v) = app.get(&href).await;
        assert_eq!(s, 200, "{v}");
        let summary = &v["content_summary"];
        assert_eq!(
            count(summary, "present"),
            files.len() as u64,
            "version {n}: {v}"
        );
        assert_eq!(
            count(summary, "added"),
            files.difference(prev).count() as u64,
            "version {n}: {v}"
        );
        assert_eq!(
            count(summary, "removed"),
            prev.difference(files).count() as u64,
            "version {n}: {v}"
        );
        prev = files;
    }
}

/// Random histories, then versions deleted in random order: after every
/// deletion each remaining version still holds exactly what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_versions_in_any_order_changes_no_other_version() {
    let app = App::start().await;
    for seed in [1u64, 2, 3] {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (repo, hrefs, _server) =
            repo_with_files(&app, &format!("squash-{seed}"), 8, json!({})).await;
        let all: BTreeSet<String> = hrefs.keys().cloned().collect();
        let mut model: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        model.insert(0, BTreeSet::new());
        model.insert(1, all.clone());
        let mut current = all.clone();
        while model.len() < 10 {
            let target: BTreeSet<String> = all.iter().filter(|_| rng.bool()).cloned().collect();
            if let Some(n) = modify_to(&app, &repo, &hrefs, &current, &target).await {
                model.insert(n, target.clone());
                current = target;
            }
        }
        check(&app, &repo, &model).await;
        let highest = *model.keys().last().unwrap();
        while model.len() > 1 {
            let numbers: Vec<u64> = model.keys().copied().collect();
            let n = numbers[rng.usize(..numbers.len())];
            let (s, body) = app.delete(&format!("{repo}versions/{n}/")).await;
            assert_eq!(s, 202, "{body}");
            let task = app.wait_task(body["task"].as_str().unwrap()).await;
            assert_eq!(task["state"], "completed", "{task}");
            model.remove(&n);
            let (s, _) = app.get(&format!("{repo}versions/{n}/")).await;
            assert_eq!(s, 404, "version {n} is gone");
            check(&app, &repo, &model).await;
        }
        // The last version stays.
        let last = *model.keys().next().unwrap();
        let (s, body) = app.delete(&format!("{repo}versions/{last}/")).await;
        assert_eq!(s, 202, "{body}");
        let task = app.wait_task(body["task"].as_str().unwrap()).await;
        assert_eq!(task["state"], "failed", "{task}");
        assert!(
            task["error"]["description"]
                .as_str()
                .unwrap()
                .contains("Repositories must have at least one repository version"),
            "{task}"
        );
        check(&app, &repo, &model).await;
        // New versions build on what is left, with a fresh number.
        let next = modify_to(&app, &repo, &hrefs, &model[&last], &all)
            .await
            .unwrap();
        assert_eq!(next, highest + 1, "version numbers are never reused");
        model.insert(next, all.clone());
        check(&app, &repo, &model).await;
    }
    app.stop().await;
}

/// A deleted version takes its publications with it; distributions that
/// served them stop serving; deleting the latest version makes the
/// previous one the latest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_version_withdraws_its_publications() {
    let app = App::start().await;
    let (repo, hrefs, _server) = repo_with_files(&app, "withdraw", 3, json!({})).await;
    let v1: BTreeSet<String> = hrefs.keys().cloned().collect();
    let v2: BTreeSet<String> = v1.iter().take(1).cloned().collect();
    assert_eq!(modify_to(&app, &repo, &hrefs, &v1, &v2).await, Some(2));
    let task = app
        .run_task(
            "/pulp/api/v3/publications/file/file/",
            json!({"repository_version": format!("{repo}versions/2/")}),
        )
        .await;
    let publication = task["created_resources"][0].as_str().unwrap().to_owned();
    let task = app
        .run_task(
            "/pulp/api/v3/distributions/file/file/",
            json!({"name": "withdraw", "base_path": "withdraw", "publication": publication}),
        )
        .await;
    let distribution = task["created_resources"][0].as_str().unwrap().to_owned();
    let served = format!("{}/pulp/content/withdraw/PULP_MANIFEST", app.content);
    assert_eq!(app.http.get(&served).send().await.unwrap().status(), 200);

    let (s, body) = app.delete(&format!("{repo}versions/2/")).await;
    assert_eq!(s, 202, "{body}");
    let task = app.wait_task(body["task"].as_str().unwrap()).await;
    assert_eq!(task["state"], "completed", "{task}");
    let (s, _) = app.get(&publication).await;
    assert_eq!(s, 404, "the publication went with its version");
    let (_, d) = app.get(&distribution).await;
    assert_eq!(d["publication"], Value::Null, "{d}");
    assert_eq!(app.http.get(&served).send().await.unwrap().status(), 404);
    let (_, r) = app.get(&repo).await;
    assert_eq!(r["latest_version_href"], format!("{repo}versions/1/"));
    assert_eq!(names_in(&app, &format!("{repo}versions/1/")).await, v1);

    // A missing version is a 404 with the one error shape, and changes nothing.
    let (s, body) = app.delete(&format!("{repo}versions/7/")).await;
    assert_eq!(s, 404, "{body}");
    assert!(body["detail"].is_string(), "{body}");
    app.stop().await;
}

/// `retain_repo_versions`: each new version deletes the oldest beyond the
/// limit; what is kept keeps its content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_repo_versions_keeps_the_newest() {
    let app = App::start().await;
    let (repo, hrefs, _server) =
        repo_with_files(&app, "retain", 4, json!({"retain_repo_versions": 2})).await;
    let (_, r) = app.get(&repo).await;
    assert_eq!(r["retain_repo_versions"], 2);
    let names: Vec<String> = hrefs.keys().cloned().collect();
    let mut model: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    model.insert(1, names.iter().cloned().collect());
    let mut current = model[&1].clone();
    for k in 1..4 {
        let target: BTreeSet<String> = names[k..].iter().cloned().collect();
        let n = modify_to(&app, &repo, &hrefs, &current, &target)
            .await
            .unwrap();
        model.insert(n, target.clone());
        current = target;
        while model.len() > 2 {
            let oldest = *model.keys().next().unwrap();
            model.remove(&oldest);
        }
        check(&app, &repo, &model).await;
    }
    assert_eq!(model.keys().copied().collect::<Vec<_>>(), vec![3, 4]);
    app.stop().await;
}
