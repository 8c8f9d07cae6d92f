//! Package uploads (`POST content/rpm/packages/` as pulp-cli sends it,
//! and the synchronous `upload/`), and copying content between
//! repositories with `/pulp/api/v3/rpm/copy/`.

mod rpm_support;
mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::app::App;
use support::{fixtures, metadata};

/// A multipart/form-data body: text fields, then the file as `file`.
fn multipart(fields: &[(&str, &str)], file_name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----pulp-app-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_form(app: &App, path: &str, form: (String, Vec<u8>)) -> (u16, Value) {
    let res = app
        .req(reqwest::Method::POST, path)
        .header("content-type", form.0)
        .body(form.1)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_packages_are_listed_and_added_to_repositories() {
    let Some(fixture) = fixtures::rpm_repo(200, &[]) else {
        return;
    };
    let truth = metadata::ground_truth(&fixture);
    let t = truth
        .iter()
        .find(|t| !t.requires.is_empty() && t.epoch != "0")
        .or_else(|| truth.iter().find(|t| !t.requires.is_empty()))
        .expect("a package with requires");
    let bytes = std::fs::read(fixture.join(&t.location)).unwrap();
    let file_name = t.location.rsplit('/').next().unwrap();
    let app = App::start().await;

    // Without a repository: a task that creates the unit.
    let (status, r) = post_form(
        &app,
        "/pulp/api/v3/content/rpm/packages/",
        multipart(&[], file_name, &bytes),
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let task = app.wait_task(r["task"].as_str().unwrap()).await;
    assert_eq!(task["state"], "completed", "{task}");
    let href = task["created_resources"][0].as_str().unwrap().to_owned();
    assert!(
        href.starts_with("/pulp/api/v3/content/rpm/packages/"),
        "{href}"
    );
    let (_, p) = app.get(&href).await;
    for (field, value) in [
        ("name", &t.name),
        ("epoch", &t.epoch),
        ("version", &t.version),
        ("release", &t.release),
        ("arch", &t.arch),
        ("sha256", &t.sha256),
        ("pkgId", &t.sha256),
    ] {
        assert_eq!(p[field].as_str(), Some(value.as_str()), "{field}: {p}");
    }
    assert_eq!(p["size_package"], t.size);
    assert!(p["artifact"].is_string(), "{p}");
    let requires: BTreeSet<&str> = p["requires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = t
        .requires
        .iter()
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(requires, expected);
    let (_, listed) = app
        .get(&format!(
            "/pulp/api/v3/content/rpm/packages/?name={}&arch={}",
            t.name, t.arch
        ))
        .await;
    assert!(
        listed["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["pulp_href"] == href.as_str()),
        "{listed}"
    );

    // With a repository: the unit lands in a new version.
    let (s, repo) = app
        .post(
            "/pulp/api/v3/repositories/rpm/rpm/",
            json!({"name": "uploads"}),
        )
        .await;
    assert_eq!(s, 201);
    let repo = repo["pulp_href"].as_str().unwrap().to_owned();
    let (status, r) = post_form(
        &app,
        "/pulp/api/v3/content/rpm/packages/",
        multipart(
            &[("repository", &repo), ("relative_path", "custom/x.rpm")],
            file_name,
            &bytes,
        ),
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let task = app.wait_task(r["task"].as_str().unwrap()).await;
    assert_eq!(task["state"], "completed", "{task}");
    assert_eq!(task["created_resources"][0], href.as_str(), "same unit");
    let version = task["created_resources"][1].as_str().unwrap().to_owned();
    assert!(version.starts_with(&repo) && version.ends_with("/versions/1/"));
    let packages = rpm_support::content(&app, "rpm/packages", &version).await;
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0]["pulp_href"], href.as_str());

    // The synchronous endpoint answers with the unit.
    let other = truth.iter().find(|u| u.name != t.name).unwrap();
    let other_bytes = std::fs::read(fixture.join(&other.location)).unwrap();
    let (status, unit) = post_form(
        &app,
        "/pulp/api/v3/content/rpm/packages/upload/",
        multipart(&[], "other.rpm", &other_bytes),
    )
    .await;
    assert_eq!(status, 201, "{unit}");
    assert_eq!(unit["name"], other.name.as_str());
    assert_eq!(unit["sha256"], other.sha256.as_str());

    // Not an RPM: the task fails and says so; the sync endpoint says 400.
    let (status, r) = post_form(
        &app,
        "/pulp/api/v3/content/rpm/packages/",
        multipart(&[], "junk.rpm", b"definitely not an rpm"),
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let task = app.wait_task(r["task"].as_str().unwrap()).await;
    assert_eq!(task["state"], "failed", "{task}");
    assert!(
        task["error"]["description"]
            .as_str()
            .unwrap()
            .contains("not a valid RPM"),
        "{task}"
    );
    let (status, _) = post_form(
        &app,
        "/pulp/api/v3/content/rpm/packages/upload/",
        multipart(&[], "junk.rpm", b"definitely not an rpm"),
    )
    .await;
    assert_eq!(status, 400);
    // A relative path that leaves the repository is refused.
    let (status, r) = post_form(
        &app,
        "/pulp/api/v3/content/rpm/packages/",
        multipart(&[("relative_path", "../x.rpm")], file_name, &bytes),
    )
    .await;
    assert_eq!(status, 400, "{r}");

    // The document declares the multipart bodies pulp-cli picks.
    let (_, doc) = app.get("/pulp/api/v3/docs/api.json").await;
    for (path, op) in [
        (
            "/pulp/api/v3/content/rpm/packages/",
            "content_rpm_packages_create",
        ),
        (
            "/pulp/api/v3/content/rpm/packages/upload/",
            "content_rpm_packages_upload",
        ),
    ] {
        let post = &doc["paths"][path]["post"];
        assert_eq!(post["operationId"], op);
        assert_eq!(
            post["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["file"]["format"],
            "binary"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_all_or_some_content() {
    let Some(fixture) = fixtures::rpm_repo(200, &[]) else {
        return;
    };
    let app = App::start().await;
    let server = rpm_support::CountingServer::start(&fixture).await;
    let (source, _) = app
        .repo_with_remote("rpm", "source", &server.url, json!({"policy": "on_demand"}))
        .await;
    let task = rpm_support::sync(&app, &source, json!({})).await;
    let version = task["created_resources"][0].as_str().unwrap().to_owned();
    let packages = rpm_support::content(&app, "rpm/packages", &version).await;
    let mut dests = Vec::new();
    for name in ["all", "some"] {
        let (s, r) = app
            .post("/pulp/api/v3/repositories/rpm/rpm/", json!({"name": name}))
            .await;
        assert_eq!(s, 201);
        dests.push(r["pulp_href"].as_str().unwrap().to_owned());
    }

    // Everything.
    let task = app
        .run_task(
            "/pulp/api/v3/rpm/copy/",
            json!({"config": [{"source_repo_version": version, "dest_repo": dests[0]}],
                   "dependency_solving": false}),
        )
        .await;
    assert_eq!(task["state"], "completed", "{task}");
    let copied = task["created_resources"][0].as_str().unwrap();
    assert!(copied.starts_with(&dests[0]));
    assert_eq!(
        rpm_support::package_entries(&app, copied).await,
        rpm_support::package_entries(&app, &version).await
    );
    let kinds = ["rpm/advisories", "rpm/packagegroups"];
    for kind in kinds {
        assert_eq!(
            rpm_support::content(&app, kind, copied).await.len(),
            rpm_support::content(&app, kind, &version).await.len(),
            "{kind}"
        );
    }

    // Two packages only.
    let some: Vec<String> = packages[..2]
        .iter()
        .map(|p| p["pulp_href"].as_str().unwrap().to_owned())
        .collect();
    let task = app
        .run_task(
            "/pulp/api/v3/rpm/copy/",
            json!({"config": [{"source_repo_version": version, "dest_repo": dests[1], "content": some}]}),
        )
        .await;
    assert_eq!(task["state"], "completed", "{task}");
    let copied = task["created_resources"][0].as_str().unwrap();
    let got: BTreeSet<String> = rpm_support::content(&app, "rpm/packages", copied)
        .await
        .iter()
        .map(|p| p["pulp_href"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, some.into_iter().collect());
    assert!(
        rpm_support::content(&app, "rpm/advisories", copied)
            .await
            .is_empty()
    );

    // The copies publish and serve like the source.
    let base_url =
        rpm_support::publish_and_distribute(&app, json!({"repository": dests[1]}), "copied").await;
    let res = app
        .http
        .get(format!("{base_url}repodata/repomd.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;
}
