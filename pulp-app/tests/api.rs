//! Every API route, in process, against a private Redis: happy paths, the
//! one error shape, authentication refusals, and the OpenAPI rules that
//! pulp-cli depends on (reference/pulp-api-contract.md, section 0).

mod support;

use serde_json::{Value, json};
use support::app::{App, FileServer};

const API: &str = "/pulp/api/v3";

/// Every error body has exactly the keys detail, code and fields.
fn assert_error_shape(body: &Value) {
    let keys: Vec<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["code", "detail", "fields"], "{body}");
    assert!(body["fields"].is_object());
}

async fn status_of(
    app: &App,
    method: reqwest::Method,
    path: &str,
    auth: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = app.http.request(method, format!("{}{path}", app.api));
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication() {
    let app = App::start().await;
    // Public: status and the API document.
    let (s, status) = status_of(&app, reqwest::Method::GET, &format!("{API}/status/"), None).await;
    assert_eq!(s, 200);
    assert_eq!(status["redis_connection"]["connected"], true);
    let (s, _) = status_of(
        &app,
        reqwest::Method::GET,
        &format!("{API}/docs/api.json"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    // Everything else needs valid credentials.
    for path in [
        "/tasks/",
        "/remotes/file/file/",
        "/repositories/rpm/rpm/",
        "/content/file/files/",
    ] {
        let (s, body) = status_of(&app, reqwest::Method::GET, &format!("{API}{path}"), None).await;
        assert_eq!(s, 401, "{path}");
        assert_error_shape(&body);
        let (s, body) = status_of(
            &app,
            reqwest::Method::GET,
            &format!("{API}{path}"),
            Some(("admin", "wrong")),
        )
        .await;
        assert_eq!(s, 401, "{path}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("Invalid username/password")
        );
        let (s, _) = status_of(
            &app,
            reqwest::Method::GET,
            &format!("{API}{path}"),
            Some(("nobody", "x")),
        )
        .await;
        assert_eq!(s, 401);
        let (s, _) = app.get(&format!("{API}{path}")).await;
        assert_eq!(s, 200, "{path}");
    }
    let res = app
        .http
        .get(format!("{}{API}/tasks/", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"pulp\"");
    let res = app
        .http
        .get(format!("{}{API}/tasks/", app.api))
        .header("Authorization", "Basic !!!notbase64")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_follows_the_pulp_cli_rules() {
    let app = App::start().await;
    let (_, doc) = app.get(&format!("{API}/docs/api.json")).await;
    let (_, status) = app.get(&format!("{API}/status/")).await;
    // Rule 2: x-pulp-app-versions equals /status/ versions.
    let claimed = doc["info"]["x-pulp-app-versions"].as_object().unwrap();
    for v in status["versions"].as_array().unwrap() {
        assert_eq!(claimed[v["component"].as_str().unwrap()], v["version"]);
    }
    assert_eq!(claimed.len(), status["versions"].as_array().unwrap().len());
    assert!(doc["components"]["schemas"].is_object(), "rule 4");
    assert!(doc["paths"]["/pulp/api/v3/rpm/copy/"]["post"]["requestBody"]["content"]["application/json"]["schema"].is_object());
    let mut ops = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(
                ops.insert(id.clone(), (path.clone(), method.clone(), op.clone()))
                    .is_none(),
                "duplicate {id}"
            );
            for p in op["parameters"].as_array().unwrap() {
                if p["in"] == "path" {
                    assert_eq!(p["required"], true, "rule 3: {id}");
                }
            }
            for (code, r) in op["responses"].as_object().unwrap() {
                assert!(r["description"].is_string(), "{id} {code}");
            }
        }
    }
    // The operations pulp-cli needs (contract section 6), with their parameters.
    let needed = [
        "status_read",
        "tasks_list",
        "tasks_read",
        "tasks_cancel",
        "repository_versions_list",
        "orphans_cleanup_cleanup",
        "remotes_file_file_create",
        "remotes_file_file_list",
        "repositories_file_file_create",
        "repositories_file_file_list",
        "repositories_file_file_sync",
        "publications_file_file_create",
        "distributions_file_file_create",
        "content_file_files_list",
        "remotes_rpm_rpm_create",
        "remotes_rpm_rpm_list",
        "repositories_rpm_rpm_create",
        "repositories_rpm_rpm_list",
        "repositories_rpm_rpm_sync",
        "publications_rpm_rpm_create",
        "distributions_rpm_rpm_create",
        "content_rpm_packages_list",
        "copy_content",
        "remotes_file_file_read",
        "repositories_file_file_read",
        "publications_file_file_read",
        "distributions_file_file_read",
        "repositories_file_file_versions_list",
        "task_groups_read",
    ];
    for id in needed {
        assert!(ops.contains_key(id), "missing {id}");
    }
    let params = |id: &str| -> Vec<String> {
        ops[id].2["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for (id, (_, method, _)) in &ops {
        if method == "get" && id.ends_with("_list") {
            let p = params(id);
            for must in ["limit", "offset", "fields", "exclude_fields"] {
                assert!(p.contains(&must.to_owned()), "rule 6: {id} lacks {must}");
            }
        }
    }
    for f in [
        "arch__in",
        "checksum_type__in",
        "epoch__in",
        "name__in",
        "pkgId__in",
        "release__in",
        "version__in",
    ] {
        assert!(
            params("content_rpm_packages_list").contains(&f.to_owned()),
            "{f}"
        );
    }
    let state_in = ops["tasks_list"].2["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "state__in")
        .unwrap()
        .clone();
    assert_eq!(state_in["explode"], false);
    assert!(
        ops["status_read"].2.get("security").is_none(),
        "status is public"
    );
    assert!(ops["tasks_list"].2.get("security").is_some());
    assert_eq!(ops["tasks_read"].0, "{task_href}", "href-style path");
    assert_eq!(
        ops["repositories_file_file_sync"].0,
        "{file_file_repository_href}sync/"
    );
    // Rule 7: exactly application/json.
    let res = app
        .req(reqwest::Method::GET, &format!("{API}/tasks/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remotes_crud_and_errors() {
    let app = App::start().await;
    let path = format!("{API}/remotes/file/file/");
    let (s, r) = app.post(&path, json!({"name": "a", "url": "http://127.0.0.1:1/PULP_MANIFEST", "password": "secret", "policy": "on_demand"})).await;
    assert_eq!(s, 201, "{r}");
    assert!(
        r["pulp_href"]
            .as_str()
            .unwrap()
            .starts_with("/pulp/api/v3/remotes/file/file/")
    );
    assert!(
        !r.to_string().contains("secret"),
        "write-only fields never come back"
    );
    assert_eq!(r["policy"], "on_demand");
    assert!(
        r["hidden_fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "password" && h["is_set"] == true)
    );
    let href = r["pulp_href"].as_str().unwrap().to_owned();

    let (s, e) = app
        .post(&path, json!({"name": "a", "url": "http://x/PULP_MANIFEST"}))
        .await;
    assert_eq!(s, 400);
    assert_error_shape(&e);
    assert_eq!(e["fields"]["name"][0], "This field must be unique.");
    let (s, e) = app.post(&path, json!({"name": "b"})).await;
    assert_eq!(
        (s, e["fields"]["url"][0].as_str()),
        (400, Some("This field is required."))
    );
    let (s, e) = app
        .post(&path, json!({"name": "c", "url": "ftp://x"}))
        .await;
    assert_eq!(s, 400);
    assert!(e["fields"]["url"].is_array());
    let (s, e) = app
        .post(
            &path,
            json!({"name": "c", "url": "http://x/y", "policy": "sometimes"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(e["fields"]["policy"].is_array());
    let (s, e) = app
        .post(
            &path,
            json!({"name": "c", "url": "http://x/y", "download_concurrency": 0}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = app
        .post(&path, json!({"name": 5, "url": "http://x/y"}))
        .await;
    assert_eq!(s, 400);
    assert_error_shape(&e);
    let bad = app
        .req(reqwest::Method::POST, &path)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_error_shape(&bad.json().await.unwrap());

    app.post(
        &path,
        json!({"name": "b2", "url": "http://x/PULP_MANIFEST"}),
    )
    .await;
    let (_, l) = app.get(&format!("{path}?name=a&offset=0&limit=1")).await;
    assert_eq!(
        (l["count"].as_u64(), l["results"][0]["name"].as_str()),
        (Some(1), Some("a"))
    );
    let (_, l) = app.get(&format!("{path}?name=zzz")).await;
    assert_eq!(l["count"], 0);
    let (_, l) = app.get(&format!("{path}?name__in=a,b2")).await;
    assert_eq!(l["count"], 2);
    let (_, l) = app.get(&format!("{path}?limit=1")).await;
    assert_eq!(l["count"], 2);
    assert_eq!(l["results"].as_array().unwrap().len(), 1);
    assert!(l["next"].as_str().unwrap().contains("offset=1"));
    let (_, l) = app.get(&format!("{path}?fields=name&fields=url")).await;
    assert_eq!(l["results"][0].as_object().unwrap().len(), 2);
    let (s, e) = app.get(&format!("{path}?limit=-1")).await;
    assert_eq!(s, 400);
    assert_error_shape(&e);

    let (s, r) = app.get(&href).await;
    assert_eq!((s, r["name"].as_str()), (200, Some("a")));
    let r = app
        .change(&href, json!({"name": "renamed", "tls_validation": false}))
        .await;
    assert_eq!(
        (r["name"].as_str(), r["tls_validation"].as_bool()),
        (Some("renamed"), Some(false))
    );
    let (s, e) = app.patch(&href, json!({"name": "b2"})).await;
    assert_eq!(s, 400);
    assert_eq!(e["fields"]["name"][0], "This field must be unique.");
    // The old name is free again after the rename.
    let (s, _) = app
        .post(&path, json!({"name": "a", "url": "http://x/PULP_MANIFEST"}))
        .await;
    assert_eq!(s, 201);
    // A file remote is not an rpm remote.
    let rpm_href = href.replace("/file/file/", "/rpm/rpm/");
    let (s, e) = app.get(&rpm_href).await;
    assert_eq!(s, 404);
    assert_error_shape(&e);
    assert_eq!(app.delete_task(&href).await["state"], "completed");
    let (s, e) = app.get(&href).await;
    assert_eq!(s, 404);
    assert_error_shape(&e);
    let (s, e) = app.get(&format!("{path}not-a-uuid/")).await;
    assert_eq!(s, 404);
    assert_error_shape(&e);
    let (s, e) = app.get("/pulp/api/v3/no/such/route/").await;
    assert_eq!(s, 404);
    assert_error_shape(&e);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_versions_modify_and_delete() {
    let app = App::start().await;
    let path = format!("{API}/repositories/file/file/");
    let (s, r) = app
        .post(&path, json!({"name": "repo", "description": "d"}))
        .await;
    assert_eq!(s, 201, "{r}");
    let repo = r["pulp_href"].as_str().unwrap().to_owned();
    assert_eq!(r["latest_version_href"], format!("{repo}versions/0/"));
    assert_eq!(r["manifest"], "PULP_MANIFEST");
    let (s, e) = app.post(&path, json!({"name": "repo"})).await;
    assert_eq!(s, 400);
    assert_eq!(e["fields"]["name"][0], "This field must be unique.");
    let (s, e) = app.post(&path, json!({})).await;
    assert_eq!(
        (s, e["fields"]["name"][0].as_str()),
        (400, Some("This field is required."))
    );
    let (s, e) = app.post(&path, json!({"name": "x", "remote": "/pulp/api/v3/remotes/file/file/00000000-0000-0000-0000-000000000000/"})).await;
    assert_eq!(s, 400);
    assert!(e["fields"]["remote"].is_array());
    let (s, e) = app.post(&format!("{repo}sync/"), json!({})).await;
    assert_eq!(s, 400, "no remote");
    assert_error_shape(&e);

    // Content from a synced repository, added to this one with modify.
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("one.txt"), b"1").unwrap();
    std::fs::write(
        src.path().join("PULP_MANIFEST"),
        "one.txt,6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b,1\n",
    )
    .unwrap();
    let server = FileServer::start(src.path()).await;
    let (other, _) = app
        .repo_with_remote(
            "file",
            "other",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    assert_eq!(
        app.run_task(&format!("{other}sync/"), json!({})).await["state"],
        "completed"
    );
    let (_, content) = app
        .get(&format!("{API}/content/file/files/?relative_path=one.txt"))
        .await;
    assert_eq!(content["count"], 1);
    let unit = content["results"][0]["pulp_href"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app
        .run_task(
            &format!("{repo}modify/"),
            json!({"add_content_units": [unit]}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["created_resources"][0], format!("{repo}versions/1/"));
    let t = app
        .run_task(
            &format!("{repo}modify/"),
            json!({"add_content_units": [unit]}),
        )
        .await;
    assert_eq!(
        t["created_resources"].as_array().unwrap().len(),
        0,
        "no change, no version"
    );
    let t = app
        .run_task(
            &format!("{repo}modify/"),
            json!({"remove_content_units": [unit]}),
        )
        .await;
    assert_eq!(t["created_resources"][0], format!("{repo}versions/2/"));
    let (_, versions) = app.get(&format!("{repo}versions/")).await;
    assert_eq!(versions["count"], 3);
    assert_eq!(versions["results"][0]["number"], 2);
    let (_, v1) = app.get(&format!("{repo}versions/1/")).await;
    assert_eq!(v1["content_summary"]["added"]["file.file"]["count"], 1);
    assert_eq!(v1["content_summary"]["present"]["file.file"]["count"], 1);
    let (_, v2) = app.get(&format!("{repo}versions/2/")).await;
    assert_eq!(v2["content_summary"]["removed"]["file.file"]["count"], 1);
    // Content of an older version is reconstructed from the diffs.
    let (_, in_v1) = app
        .get(&format!(
            "{API}/content/file/files/?repository_version={repo}versions/1/"
        ))
        .await;
    assert_eq!(in_v1["count"], 1);
    let (_, in_v2) = app
        .get(&format!(
            "{API}/content/file/files/?repository_version={repo}versions/2/"
        ))
        .await;
    assert_eq!(in_v2["count"], 0);
    let (_, added) = app
        .get(&format!(
            "{API}/content/file/files/?repository_version_added={repo}versions/1/"
        ))
        .await;
    assert_eq!(added["count"], 1);
    let (s, e) = app
        .post(
            &format!("{repo}modify/"),
            json!({"add_content_units": ["/pulp/api/v3/content/file/files/nope/"]}),
        )
        .await;
    assert_eq!(s, 400);
    assert_error_shape(&e);
    let (_, all) = app.get(&format!("{API}/repository_versions/")).await;
    assert_eq!(all["count"], 5, "3 of repo + 2 of other");
    let patched = app
        .change(
            &repo,
            json!({"description": "new", "retain_repo_versions": 5}),
        )
        .await;
    assert_eq!(
        (
            patched["description"].as_str(),
            patched["retain_repo_versions"].as_u64()
        ),
        (Some("new"), Some(5))
    );
    let (s, d) = app.delete(&repo).await;
    assert_eq!(s, 202);
    assert_eq!(
        app.wait_task(d["task"].as_str().unwrap()).await["state"],
        "completed"
    );
    let (s, _) = app.get(&repo).await;
    assert_eq!(s, 404);
    let (_, all) = app.get(&format!("{API}/repository_versions/")).await;
    assert_eq!(all["count"], 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publications_and_distributions() {
    let app = App::start().await;
    let (s, repo) = app
        .post(
            &format!("{API}/repositories/file/file/"),
            json!({"name": "r"}),
        )
        .await;
    assert_eq!(s, 201);
    let repo = repo["pulp_href"].as_str().unwrap().to_owned();
    let pubs = format!("{API}/publications/file/file/");
    let (s, e) = app.post(&pubs, json!({})).await;
    assert_eq!(s, 400);
    assert_error_shape(&e);
    let (s, e) = app.post(&pubs, json!({"repository": "/pulp/api/v3/repositories/file/file/00000000-0000-0000-0000-000000000000/"})).await;
    assert_eq!(s, 400);
    assert!(e["fields"]["repository"].is_array());
    let t = app
        .run_task(
            &pubs,
            json!({"repository_version": format!("{repo}versions/0/")}),
        )
        .await;
    assert_eq!(t["state"], "completed");
    let publication = t["created_resources"][0].as_str().unwrap().to_owned();
    assert_eq!(
        t["result"]["pulp_href"],
        publication.as_str(),
        "core >= 3.86: result is the created object"
    );
    let (_, l) = app.get(&format!("{pubs}?repository={repo}")).await;
    assert_eq!(l["count"], 1);

    let dists = format!("{API}/distributions/file/file/");
    let t = app
        .run_task(
            &dists,
            json!({"name": "d", "base_path": "a/b", "publication": publication}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    let d = t["created_resources"][0].as_str().unwrap().to_owned();
    let (_, dist) = app.get(&d).await;
    assert_eq!(
        dist["base_url"],
        format!("{}/pulp/content/a/b/", app.content)
    );
    for (body, field) in [
        (json!({"name": "d", "base_path": "other"}), "name"),
        (json!({"name": "e", "base_path": "a/b"}), "base_path"),
        (json!({"name": "e", "base_path": "a"}), "base_path"),
        (json!({"name": "e", "base_path": "a/b/c"}), "base_path"),
        (json!({"name": "e", "base_path": "../up"}), "base_path"),
        (json!({"name": "e"}), "base_path"),
    ] {
        let (s, e) = app.post(&dists, body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert!(e["fields"][field].is_array(), "{body}: {e}");
    }
    let (s, e) = app
        .post(
            &dists,
            json!({"name": "e", "base_path": "e", "publication": publication, "repository": repo}),
        )
        .await;
    assert_eq!(s, 400);
    assert_error_shape(&e);
    let (s, u) = app
        .patch(&d, json!({"base_path": "moved", "repository": repo}))
        .await;
    assert_eq!(s, 202);
    assert_eq!(
        app.wait_task(u["task"].as_str().unwrap()).await["state"],
        "completed"
    );
    let (_, dist) = app.get(&d).await;
    assert_eq!(
        (
            dist["base_path"].as_str(),
            dist["publication"].is_null(),
            dist["repository"].as_str()
        ),
        (Some("moved"), true, Some(repo.as_str()))
    );
    // The freed base path can be used again.
    let t = app
        .run_task(&dists, json!({"name": "e", "base_path": "a/b"}))
        .await;
    assert_eq!(t["state"], "completed");
    let (_, l) = app.get(&format!("{dists}?base_path=moved")).await;
    assert_eq!(l["count"], 1);
    let (s, del) = app.delete(&d).await;
    assert_eq!(s, 202);
    app.wait_task(del["task"].as_str().unwrap()).await;
    let (s, _) = app.get(&d).await;
    assert_eq!(s, 404);
    let (s, _) = app.delete(&publication).await;
    assert_eq!(s, 204);
    let (s, _) = app.get(&publication).await;
    assert_eq!(s, 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_list_filter_read_cancel() {
    let app = App::start().await;
    let (_, repo) = app
        .post(
            &format!("{API}/repositories/file/file/"),
            json!({"name": "r"}),
        )
        .await;
    let repo = repo["pulp_href"].as_str().unwrap().to_owned();
    let t = app
        .run_task(
            &format!("{API}/publications/file/file/"),
            json!({"repository": repo}),
        )
        .await;
    let href = t["pulp_href"].as_str().unwrap().to_owned();
    for key in [
        "pulp_href",
        "state",
        "name",
        "error",
        "created_resources",
        "result",
        "progress_reports",
        "reserved_resources_record",
        "started_at",
        "finished_at",
    ] {
        assert!(t.get(key).is_some(), "{key}");
    }
    assert!(
        t["reserved_resources_record"][0]
            .as_str()
            .unwrap()
            .starts_with("shared:prn:file.filerepository:")
    );
    let (_, l) = app
        .get(&format!("{API}/tasks/?state__in=completed,failed"))
        .await;
    assert_eq!(l["count"], 1);
    let (_, l) = app.get(&format!("{API}/tasks/?state=running")).await;
    assert_eq!(l["count"], 0);
    let (_, l) = app
        .get(&format!(
            "{API}/tasks/?name=pulp_file.app.tasks.publishing.publish"
        ))
        .await;
    assert_eq!(l["count"], 1);
    let prn = t["reserved_resources_record"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("shared:")
        .to_owned();
    let (_, l) = app
        .get(&format!("{API}/tasks/?shared_resources__in={prn}"))
        .await;
    assert_eq!(l["count"], 1);
    let (_, l) = app
        .get(&format!("{API}/tasks/?exclusive_resources__in={prn}"))
        .await;
    assert_eq!(l["count"], 0);
    let (s, e) = app.get(&format!("{API}/tasks/?state=bogus")).await;
    assert_eq!(s, 400);
    assert_error_shape(&e);
    // Canceling a finished task: 409 with the task.
    let (s, body) = app.patch(&href, json!({"state": "canceled"})).await;
    assert_eq!((s, body["state"].as_str()), (409, Some("completed")));
    let (s, e) = app.patch(&href, json!({"state": "running"})).await;
    assert_eq!(s, 400);
    assert_error_shape(&e);
    let (s, e) = app
        .get(&format!(
            "{API}/tasks/01a2124f-0a02-727a-abf8-081fcb8e2b84/"
        ))
        .await;
    assert_eq!(s, 404);
    assert_error_shape(&e);
    let (s, e) = app
        .get("/pulp/api/v3/task-groups/01a2124f-0a02-727a-abf8-081fcb8e2b84/")
        .await;
    assert_eq!(s, 404);
    assert_error_shape(&e);
    // Orphan cleanup is a task too.
    let t = app
        .run_task(
            &format!("{API}/orphans/cleanup/"),
            json!({"orphan_protection_time": 0}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["name"], "pulpcore.app.tasks.orphan.orphan_cleanup");
    app.stop().await;
}

/// A request path for a route template: `{id}` becomes a fresh UUID and
/// `{number}` a version number, so the path matches the route.
fn concrete(axum_path: &str) -> String {
    axum_path
        .replace("{id}", &uuid_like())
        .replace("{number}", "1")
}

fn uuid_like() -> String {
    "01a2124f-0a02-727a-abf8-081fcb8e2b84".to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_missing_or_wrong_credentials() {
    let app = App::start().await;
    let routes = pulp_app::api::routes::all();
    assert!(routes.len() > 50, "the route table is complete");
    let before = app.redis_snapshot().await;
    let mut checked = 0;
    for r in &routes {
        let path = concrete(r.axum_path());
        let method = reqwest::Method::from_bytes(r.method().to_uppercase().as_bytes()).unwrap();
        let send = |auth: Option<(&str, &str)>| {
            let mut req = app
                .http
                .request(method.clone(), format!("{}{path}", app.api));
            if let Some((u, p)) = auth {
                req = req.basic_auth(u, Some(p));
            }
            if ["POST", "PATCH", "PUT"].contains(&method.as_str()) {
                req = req.json(&json!({}));
            }
            req.send()
        };
        if r.is_public() {
            let res = send(None).await.unwrap();
            assert_eq!(res.status(), 200, "{} {path} is public", r.operation_id());
            continue;
        }
        for (auth, detail) in [
            (None, "Authentication credentials were not provided."),
            (Some(("admin", "wrong")), "Invalid username/password."),
            (Some(("nobody", "x")), "Invalid username/password."),
        ] {
            let res = send(auth).await.unwrap();
            let id = r.operation_id();
            assert_eq!(res.status(), 401, "{id} {method} {path} {auth:?}");
            assert_eq!(
                res.headers()["www-authenticate"],
                "Basic realm=\"pulp\"",
                "{id}"
            );
            assert_eq!(res.headers()["content-type"], "application/json", "{id}");
            let body: Value = res.json().await.unwrap();
            assert_error_shape(&body);
            assert_eq!(
                (body["code"].as_str(), body["detail"].as_str()),
                (Some("not_authenticated"), Some(detail)),
                "{id} {auth:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 50, "{checked} protected routes");
    // The API document is public too, and refused requests changed nothing.
    let (s, _) = status_of(
        &app,
        reqwest::Method::GET,
        &format!("{API}/docs/api.json"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(app.redis_snapshot().await, before);
    app.stop().await;
}
