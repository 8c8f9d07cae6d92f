//! Routes that had no in-process test: rpm remotes, repositories and their
//! versions, publications and distributions through their whole life;
//! reading content of every type; the comps listings; and `/status/`
//! (storage figures, online API and content apps).

mod support;

use serde_json::{Value, json};
use support::app::{App, FileServer};
use support::fixtures;

const API: &str = "/pulp/api/v3";

fn assert_error_shape(body: &Value) {
    let keys: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["code", "detail", "fields"], "{body}");
}

fn href(v: &Value) -> String {
    v["pulp_href"].as_str().unwrap().to_owned()
}

/// A yum repository of the fixture's packages, comps (plus one langpacks
/// entry, which the fixture has none of) and updateinfo.
fn repo_with_langpacks() -> Option<tempfile::TempDir> {
    let fixture = fixtures::rpm_repo(6, &[])?;
    let dir = fixtures::scratch_dir("api-langpacks");
    fixtures::link_packages(&fixture, dir.path());
    let comps = std::fs::read_to_string(fixture.join("comps.xml")).unwrap();
    assert!(comps.contains("</comps>"));
    let comps = comps.replace(
        "</comps>",
        "  <langpacks>\n    <match name=\"fixture-base\" install=\"fixture-base-langpack-%s\"/>\n  </langpacks>\n</comps>",
    );
    std::fs::write(dir.path().join("comps.xml"), comps).unwrap();
    fixtures::run_quietly(
        std::process::Command::new("createrepo_c")
            .arg("--quiet")
            .arg("-g")
            .arg("comps.xml")
            .arg(".")
            .current_dir(dir.path()),
    );
    fixtures::run_quietly(
        std::process::Command::new("modifyrepo_c")
            .args(["--mdtype", "updateinfo"])
            .arg(fixture.join("updateinfo.xml"))
            .arg(dir.path().join("repodata")),
    );
    Some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_entities_through_their_whole_life() {
    let Some(source) = repo_with_langpacks() else {
        return;
    };
    let server = FileServer::start(source.path()).await;
    let app = App::start().await;
    let (repo, remote) = app
        .repo_with_remote("rpm", "r", &format!("{}/", server.url), json!({}))
        .await;

    // Remote: read; not readable as a file remote; delete below.
    let (s, r) = app.get(&remote).await;
    assert_eq!((s, r["name"].as_str()), (200, Some("r")));
    assert_eq!(r["pulp_href"], remote.as_str());
    let (s, e) = app.get(&remote.replace("/rpm/rpm/", "/file/file/")).await;
    assert_eq!(s, 404);
    assert_error_shape(&e);

    let t = app.run_task(&format!("{repo}sync/"), json!({})).await;
    assert_eq!(t["state"], "completed", "{t}");

    // Versions: read one; a missing one is a 404.
    let (s, v1) = app.get(&format!("{repo}versions/1/")).await;
    assert_eq!(s, 200);
    assert_eq!(v1["number"], 1);
    assert_eq!(v1["repository"], repo.as_str());
    assert_eq!(v1["content_summary"]["present"]["rpm.package"]["count"], 6);
    let (s, e) = app.get(&format!("{repo}versions/7/")).await;
    assert_eq!(s, 404);
    assert_error_shape(&e);

    // Modify: remove a package (version 2), add it back (version 3).
    let (_, pkgs) = app
        .get(&format!(
            "{API}/content/rpm/packages/?repository_version={repo}versions/1/&limit=1"
        ))
        .await;
    let pkg = href(&pkgs["results"][0]);
    let t = app
        .run_task(
            &format!("{repo}modify/"),
            json!({"remove_content_units": [pkg]}),
        )
        .await;
    assert_eq!(t["created_resources"][0], format!("{repo}versions/2/"));
    let t = app
        .run_task(
            &format!("{repo}modify/"),
            json!({"add_content_units": [pkg], "base_version": format!("{repo}versions/2/")}),
        )
        .await;
    assert_eq!(t["created_resources"][0], format!("{repo}versions/3/"));
    let (_, v3) = app.get(&format!("{repo}versions/3/")).await;
    assert_eq!(v3["content_summary"]["present"]["rpm.package"]["count"], 6);
    assert_eq!(v3["content_summary"]["added"]["rpm.package"]["count"], 1);
    let (s, e) = app
        .post(
            &format!("{repo}modify/"),
            json!({"add_content_units": ["/pulp/api/v3/content/rpm/packages/00000000-0000-0000-0000-000000000000/"]}),
        )
        .await;
    assert_eq!(s, 400);
    assert_error_shape(&e);

    // Version delete: version 2 goes, 3 keeps its content.
    let (s, d) = app.delete(&format!("{repo}versions/2/")).await;
    assert_eq!(s, 202, "{d}");
    assert_eq!(
        app.wait_task(d["task"].as_str().unwrap()).await["state"],
        "completed"
    );
    let (s, _) = app.get(&format!("{repo}versions/2/")).await;
    assert_eq!(s, 404);
    let (_, list) = app.get(&format!("{repo}versions/")).await;
    let numbers: Vec<u64> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!((list["count"].as_u64(), numbers), (Some(3), vec![3, 1, 0]));
    let (_, in_v3) = app
        .get(&format!(
            "{API}/content/rpm/packages/?repository_version={repo}versions/3/"
        ))
        .await;
    assert_eq!(in_v3["count"], 6);
    let (s, e) = app.delete(&format!("{repo}versions/9/")).await;
    assert_eq!(s, 404);
    assert_error_shape(&e);

    // Repository partial update.
    let r = app
        .change(
            &repo,
            json!({"description": "d", "retain_package_versions": 2}),
        )
        .await;
    assert_eq!(
        (
            r["description"].as_str(),
            r["retain_package_versions"].as_u64()
        ),
        (Some("d"), Some(2))
    );
    let (s, e) = app.patch(&repo, json!({"layout": "sideways"})).await;
    assert_eq!(s, 400);
    assert!(e["fields"]["layout"].is_array());

    // Publications: create, list, read, delete.
    let pubs = format!("{API}/publications/rpm/rpm/");
    let t = app
        .run_task(
            &pubs,
            json!({"repository_version": format!("{repo}versions/3/")}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    let publication = t["created_resources"][0].as_str().unwrap().to_owned();
    let (_, l) = app.get(&pubs).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["results"][0]["pulp_href"], publication.as_str());
    let (_, l) = app.get(&format!("{pubs}?repository={repo}")).await;
    assert_eq!(l["count"], 1);
    let (_, l) = app
        .get(&format!("{pubs}?repository_version={repo}versions/1/"))
        .await;
    assert_eq!(l["count"], 0);
    let (s, p) = app.get(&publication).await;
    assert_eq!(s, 200);
    assert_eq!(p["repository_version"], format!("{repo}versions/3/"));

    // Distributions: create, list, partial update, delete.
    let dists = format!("{API}/distributions/rpm/rpm/");
    let t = app
        .run_task(
            &dists,
            json!({"name": "d", "base_path": "rpm/d", "publication": publication}),
        )
        .await;
    let dist = t["created_resources"][0].as_str().unwrap().to_owned();
    let (_, l) = app.get(&format!("{dists}?name=d")).await;
    assert_eq!(
        (l["count"].as_u64(), l["results"][0]["pulp_href"].as_str()),
        (Some(1), Some(dist.as_str()))
    );
    let (_, l) = app.get(&format!("{dists}?base_path=rpm/d")).await;
    assert_eq!(l["count"], 1);
    let (_, l) = app.get(&format!("{dists}?name=other")).await;
    assert_eq!(l["count"], 0);
    let (s, u) = app
        .patch(
            &dist,
            json!({"base_path": "rpm/e", "generate_repo_config": true}),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(
        app.wait_task(u["task"].as_str().unwrap()).await["state"],
        "completed"
    );
    let (_, d) = app.get(&dist).await;
    assert_eq!(
        (d["base_path"].as_str(), d["generate_repo_config"].as_bool()),
        (Some("rpm/e"), Some(true))
    );
    let (s, e) = app.patch(&dist, json!({"base_path": "../x"})).await;
    assert_eq!(s, 400);
    assert_error_shape(&e);
    let (s, del) = app.delete(&dist).await;
    assert_eq!(s, 202);
    app.wait_task(del["task"].as_str().unwrap()).await;
    let (s, _) = app.get(&dist).await;
    assert_eq!(s, 404);
    let (_, l) = app.get(&dists).await;
    assert_eq!(l["count"], 0);

    let (s, _) = app.delete(&publication).await;
    assert_eq!(s, 204);
    let (s, e) = app.get(&publication).await;
    assert_eq!(s, 404);
    assert_error_shape(&e);
    let (_, l) = app.get(&pubs).await;
    assert_eq!(l["count"], 0);

    // Remote delete: the repository loses its default remote.
    assert_eq!(app.delete_task(&remote).await["state"], "completed");
    let (s, _) = app.get(&remote).await;
    assert_eq!(s, 404);
    let (_, r) = app.get(&repo).await;
    assert!(r["remote"].is_null(), "{r}");
    let (s, _) = app.delete(&remote).await;
    assert_eq!(s, 404);

    // Content of every type: lists, reads, and the comps listings.
    let types = [
        ("rpm/packages", 6),
        ("rpm/advisories", 0),
        ("rpm/packagegroups", 0),
        ("rpm/packagecategories", 1),
        ("rpm/packageenvironments", 1),
        ("rpm/packagelangpacks", 1),
    ];
    for (path, at_least) in types {
        let (s, l) = app.get(&format!("{API}/content/{path}/")).await;
        assert_eq!(s, 200, "{path}");
        let count = l["count"].as_u64().unwrap();
        assert!(count >= at_least.max(1), "{path}: {l}");
        assert_eq!(
            l["results"].as_array().unwrap().len() as u64,
            count.min(100)
        );
        let first = &l["results"][0];
        let (s, one) = app.get(first["pulp_href"].as_str().unwrap()).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(&one, first, "{path}: a read equals the listed unit");
        let (s, e) = app
            .get(&format!(
                "{API}/content/{path}/01a2124f-0a02-727a-abf8-081fcb8e2b84/"
            ))
            .await;
        assert_eq!(s, 404, "{path}");
        assert_error_shape(&e);
        // A unit is not found under another type's path.
        let id = one["pulp_href"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let other = if path == "rpm/packages" {
            "rpm/advisories"
        } else {
            "rpm/packages"
        };
        let (s, _) = app.get(&format!("{API}/content/{other}/{id}/")).await;
        assert_eq!(s, 404, "{path} under {other}");
        let in_version = format!("{API}/content/{path}/?repository_version={repo}versions/3/");
        let (_, l) = app.get(&in_version).await;
        assert_eq!(l["count"].as_u64(), Some(count), "{path} in version 3");
        let (_, l) = app
            .get(&format!(
                "{API}/content/{path}/?repository_version={repo}versions/0/"
            ))
            .await;
        assert_eq!(l["count"], 0, "{path} in version 0");
    }
    let (_, cats) = app
        .get(&format!(
            "{API}/content/rpm/packagecategories/?id=fixture-category"
        ))
        .await;
    assert_eq!(cats["count"], 1, "{cats}");
    let (_, cats) = app
        .get(&format!("{API}/content/rpm/packagecategories/?id=nope"))
        .await;
    assert_eq!(cats["count"], 0);
    let (_, langpacks) = app
        .get(&format!("{API}/content/rpm/packagelangpacks/"))
        .await;
    assert_eq!(langpacks["count"], 1);
    assert!(
        langpacks["results"][0]
            .to_string()
            .contains("fixture-base-langpack-%s"),
        "{langpacks}"
    );
    let (_, files) = app.get(&format!("{API}/content/file/files/")).await;
    assert_eq!(files["count"], 0);

    // Repository delete.
    let (s, d) = app.delete(&repo).await;
    assert_eq!(s, 202);
    assert_eq!(
        app.wait_task(d["task"].as_str().unwrap()).await["state"],
        "completed"
    );
    let (s, _) = app.get(&repo).await;
    assert_eq!(s, 404);
    let (_, l) = app.get(&format!("{API}/repository_versions/")).await;
    assert_eq!(l["count"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_content_reads() {
    let src = tempfile::tempdir().unwrap();
    support::app::file_repo(src.path(), &[("a.txt", b"a"), ("sub/b.txt", b"bb")]);
    let server = FileServer::start(src.path()).await;
    let app = App::start().await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "f",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    app.run_task(&format!("{repo}sync/"), json!({})).await;
    let (_, l) = app
        .get(&format!(
            "{API}/content/file/files/?relative_path=sub/b.txt"
        ))
        .await;
    assert_eq!(l["count"], 1);
    let (s, one) = app
        .get(l["results"][0]["pulp_href"].as_str().unwrap())
        .await;
    assert_eq!(s, 200);
    assert_eq!(one["relative_path"], "sub/b.txt");
    assert_eq!(one, l["results"][0]);
    let (s, e) = app
        .get(&format!("{API}/content/file/files/not-a-uuid/"))
        .await;
    assert_eq!(s, 404);
    assert_error_shape(&e);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_storage_and_online_apps() {
    let app = App::start().await;
    let me = format!("{}@", std::process::id());
    let mut status = Value::Null;
    for _ in 0..100 {
        status = app.get(&format!("{API}/status/")).await.1;
        if !status["online_api_apps"].as_array().unwrap().is_empty()
            && !status["online_workers"].as_array().unwrap().is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let apps = status["online_api_apps"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "{status}");
    assert!(
        apps[0]["name"].as_str().unwrap().starts_with(&me),
        "{status}"
    );
    assert!(apps[0]["last_heartbeat"].as_str().unwrap().ends_with('Z'));
    assert_eq!(apps[0]["versions"]["core"], "3.123.1");
    let worker = &status["online_workers"][0];
    assert_eq!(worker["versions"]["rpm"], "3.39.4", "{status}");

    let storage = &status["storage"];
    let (total, used, free) = (
        storage["total"].as_u64().expect("total"),
        storage["used"].as_u64().expect("used"),
        storage["free"].as_u64().expect("free"),
    );
    assert!(total > 0 && used <= total && free <= total, "{storage}");
    let df = std::process::Command::new("df")
        .args(["-B1", "--output=size"])
        .arg(&app.services.settings.storage_path)
        .output();
    if let Ok(out) = df
        && out.status.success()
    {
        let size: u64 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap();
        assert_eq!(size, total, "df agrees");
    }

    // Content apps show when they heartbeat (the harness's own content app
    // does at start); stale heartbeats do not.
    let me = pulp_app::api::heartbeat::app_name();
    let catalog = &app.services.catalog;
    catalog
        .app_heartbeat(
            pulp_app::catalog::AppKind::Content,
            "7@content-host",
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
    let mut conn = redis::Client::open(app.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let old = chrono::Utc::now().timestamp_millis() - 120_000;
    let _: () = redis::cmd("ZADD")
        .arg("{pulp}:tmp:apps:content")
        .arg(old)
        .arg("8@gone-host")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (_, status) = app.get(&format!("{API}/status/")).await;
    let names: Vec<&str> = status["online_content_apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"7@content-host"), "{names:?}");
    assert!(names.contains(&me.as_str()), "{names:?}");
    assert!(!names.contains(&"8@gone-host"), "{names:?}");
    app.stop().await;
}
