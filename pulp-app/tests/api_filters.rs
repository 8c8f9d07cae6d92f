//! Filters the API document declares, each checked for its results and its
//! `count`: repository versions (`content`, `content__in`, `number`), the
//! versions of one repository (`content`, `content__in`), publications
//! (`content`, `content__in`), distributions (`with_content`), and tasks
//! (`worker`, `parent_task`, `task_group`, `ordering`).

mod support;

use serde_json::{Value, json};
use support::app::{App, FileServer, file_repo};

const API: &str = "/pulp/api/v3";

fn hrefs(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["pulp_href"].as_str().unwrap().to_owned())
        .collect()
}

/// (count, hrefs sorted) of a listing.
async fn listing(app: &App, path: &str) -> (u64, Vec<String>) {
    let (s, l) = app.get(path).await;
    assert_eq!(s, 200, "{path}: {l}");
    let mut h = hrefs(&l);
    h.sort();
    assert_eq!(
        l["count"].as_u64().unwrap(),
        h.len() as u64,
        "{path}: one page"
    );
    (l["count"].as_u64().unwrap(), h)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_filters_of_versions_publications_and_distributions() {
    let src = tempfile::tempdir().unwrap();
    file_repo(src.path(), &[("a", b"a"), ("b", b"b"), ("c", b"c")]);
    let two = tempfile::tempdir().unwrap();
    file_repo(two.path(), &[("a", b"a"), ("b", b"b")]);
    let one = tempfile::tempdir().unwrap();
    file_repo(one.path(), &[("a", b"a")]);
    let (s_all, s_two, s_one) = (
        FileServer::start(src.path()).await,
        FileServer::start(two.path()).await,
        FileServer::start(one.path()).await,
    );
    let app = App::start().await;
    // c exists as content (synced into a scratch repository).
    let (scratch, _) = app
        .repo_with_remote(
            "file",
            "all",
            &format!("{}/PULP_MANIFEST", s_all.url),
            json!({}),
        )
        .await;
    app.run_task(&format!("{scratch}sync/"), json!({})).await;
    let unit = |name: &'static str| {
        let app = &app;
        async move {
            let (_, l) = app
                .get(&format!("{API}/content/file/files/?relative_path={name}"))
                .await;
            l["results"][0]["pulp_href"].as_str().unwrap().to_owned()
        }
    };
    let (a, b, c) = (unit("a").await, unit("b").await, unit("c").await);
    // r1: v1 {a, b}, v2 {b}, v3 {b, c}; r2: v1 {a}.
    let (r1, _) = app
        .repo_with_remote(
            "file",
            "r1",
            &format!("{}/PULP_MANIFEST", s_two.url),
            json!({}),
        )
        .await;
    let (r2, _) = app
        .repo_with_remote(
            "file",
            "r2",
            &format!("{}/PULP_MANIFEST", s_one.url),
            json!({}),
        )
        .await;
    app.run_task(&format!("{r1}sync/"), json!({})).await;
    app.run_task(&format!("{r2}sync/"), json!({})).await;
    app.run_task(
        &format!("{r1}modify/"),
        json!({"remove_content_units": [a]}),
    )
    .await;
    app.run_task(&format!("{r1}modify/"), json!({"add_content_units": [c]}))
        .await;
    let v = |r: &str, n: u64| format!("{r}versions/{n}/");
    let s1 = v(&scratch, 1);

    // All versions.
    let rv = format!("{API}/repository_versions/");
    assert_eq!(listing(&app, &rv).await.0, 2 + 4 + 2, "unfiltered");
    assert_eq!(
        listing(&app, &format!("{rv}?content={a}")).await,
        (3, sorted(vec![v(&r1, 1), v(&r2, 1), s1.clone()]))
    );
    assert_eq!(
        listing(&app, &format!("{rv}?content={c}")).await,
        (2, sorted(vec![v(&r1, 3), s1.clone()]))
    );
    assert_eq!(
        listing(&app, &format!("{rv}?content__in={b},{c}")).await,
        (4, sorted(vec![v(&r1, 1), v(&r1, 2), v(&r1, 3), s1.clone()]))
    );
    assert_eq!(
        listing(&app, &format!("{rv}?number=1")).await,
        (3, sorted(vec![v(&r1, 1), v(&r2, 1), s1.clone()]))
    );
    assert_eq!(
        listing(&app, &format!("{rv}?number=2&content={b}")).await,
        (1, vec![v(&r1, 2)])
    );
    assert_eq!(
        listing(&app, &format!("{rv}?number=2&content={a}")).await.0,
        0
    );
    assert_eq!(listing(&app, &format!("{rv}?number=7")).await.0, 0);
    let (_, page) = app.get(&format!("{rv}?content__in={b},{c}&limit=1")).await;
    assert_eq!(page["count"], 4, "count is the total of matches");
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert!(page["next"].is_string());

    // One repository's versions.
    let r1v = format!("{r1}versions/");
    assert_eq!(
        listing(&app, &format!("{r1v}?content={a}")).await,
        (1, vec![v(&r1, 1)])
    );
    assert_eq!(
        listing(&app, &format!("{r1v}?content__in={a},{c}")).await,
        (2, sorted(vec![v(&r1, 1), v(&r1, 3)]))
    );
    assert_eq!(
        listing(&app, &format!("{r1v}?content={c}&number=2"))
            .await
            .0,
        0
    );
    assert_eq!(
        listing(&app, &format!("{r1v}?content={c}&number=3"))
            .await
            .0,
        1
    );
    let (_, l) = app.get(&format!("{r1v}?content__in={b}")).await;
    let numbers: Vec<u64> = l["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1], "newest first");

    // Publications.
    let pubs = format!("{API}/publications/file/file/");
    let publish = |version: String| {
        let app = &app;
        let pubs = pubs.clone();
        async move {
            let t = app
                .run_task(&pubs, json!({"repository_version": version}))
                .await;
            t["created_resources"][0].as_str().unwrap().to_owned()
        }
    };
    let p11 = publish(v(&r1, 1)).await;
    let p13 = publish(v(&r1, 3)).await;
    let p21 = publish(v(&r2, 1)).await;
    assert_eq!(listing(&app, &pubs).await.0, 3);
    assert_eq!(
        listing(&app, &format!("{pubs}?content={a}")).await,
        (2, sorted(vec![p11.clone(), p21.clone()]))
    );
    assert_eq!(
        listing(&app, &format!("{pubs}?content={c}")).await,
        (1, vec![p13.clone()])
    );
    assert_eq!(
        listing(&app, &format!("{pubs}?content__in={a},{c}"))
            .await
            .0,
        3
    );
    assert_eq!(
        listing(&app, &format!("{pubs}?content={a}&repository={r1}")).await,
        (1, vec![p11.clone()])
    );

    // Distributions serve a publication, a repository's newest publication,
    // or a pinned version's; with_content follows what each one serves.
    let dists = format!("{API}/distributions/file/file/");
    let mut d = Vec::new();
    for (name, body) in [
        ("d1", json!({"publication": p11})),
        ("d2", json!({"repository": r1})),
        ("d3", json!({"repository_version": v(&r2, 1)})),
        ("d4", json!({})),
    ] {
        let mut body = body;
        body["name"] = json!(name);
        body["base_path"] = json!(name);
        let t = app.run_task(&dists, body).await;
        assert_eq!(t["state"], "completed", "{t}");
        d.push(t["created_resources"][0].as_str().unwrap().to_owned());
    }
    assert_eq!(listing(&app, &dists).await.0, 4);
    assert_eq!(
        listing(&app, &format!("{dists}?with_content={a}")).await,
        (2, sorted(vec![d[0].clone(), d[2].clone()]))
    );
    assert_eq!(
        listing(&app, &format!("{dists}?with_content={b}")).await,
        (2, sorted(vec![d[0].clone(), d[1].clone()]))
    );
    assert_eq!(
        listing(&app, &format!("{dists}?with_content={c}")).await,
        (1, vec![d[1].clone()])
    );
    assert_eq!(
        listing(&app, &format!("{dists}?with_content={c}&name=d1"))
            .await
            .0,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_filters_and_ordering() {
    let app = App::start().await;
    let repos = format!("{API}/repositories/file/file/");
    let mut tasks = Vec::new();
    for name in ["r1", "r2"] {
        let (_, r) = app.post(&repos, json!({"name": name})).await;
        let repo = r["pulp_href"].as_str().unwrap().to_owned();
        let t = app
            .run_task(
                &format!("{API}/publications/file/file/"),
                json!({"repository": repo}),
            )
            .await;
        tasks.push(t);
        let (_, d) = app.delete(&repo).await;
        tasks.push(app.wait_task(d["task"].as_str().unwrap()).await);
    }
    let all = format!("{API}/tasks/");
    let (_, l) = app.get(&all).await;
    assert_eq!(l["count"], 4);

    // worker: by the name /status/ shows, or by id.
    let (_, status) = app.get(&format!("{API}/status/")).await;
    let worker = status["online_workers"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, l) = app.get(&format!("{all}?worker={worker}")).await;
    assert_eq!(l["count"], 4, "{l}");
    let (_, l) = app
        .get(&format!("{all}?worker=/pulp/api/v3/workers/{worker}/"))
        .await;
    assert_eq!(l["count"], 4);
    let (_, l) = app.get(&format!("{all}?worker=1@elsewhere")).await;
    assert_eq!(
        (l["count"].as_u64(), l["results"].as_array().unwrap().len()),
        (Some(0), 0)
    );

    // parent_task and task_group: no task has either.
    let some = tasks[0]["pulp_href"].as_str().unwrap();
    let (_, l) = app.get(&format!("{all}?parent_task={some}")).await;
    assert_eq!(l["count"], 0);
    let (_, l) = app
        .get(&format!(
            "{all}?task_group=/pulp/api/v3/task-groups/01a2124f-0a02-727a-abf8-081fcb8e2b84/"
        ))
        .await;
    assert_eq!(l["count"], 0);
    let (s, e) = app.get(&format!("{all}?task_group=garbage")).await;
    assert_eq!(s, 400);
    assert!(e["fields"]["task_group"].is_array(), "{e}");

    // ordering.
    let names = |l: &Value| -> Vec<String> {
        l["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, l) = app.get(&format!("{all}?ordering=name")).await;
    let got = names(&l);
    let mut want = got.clone();
    want.sort();
    assert_eq!(got, want);
    assert_ne!(got[0], got[3], "two kinds of task");
    let (_, l) = app.get(&format!("{all}?ordering=-name")).await;
    want.reverse();
    assert_eq!(names(&l), want);
    let created = |l: &Value| -> Vec<String> {
        l["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["pulp_href"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, default) = app.get(&all).await;
    let (_, oldest_first) = app.get(&format!("{all}?ordering=pulp_created")).await;
    let mut reversed = created(&default);
    reversed.reverse();
    assert_eq!(created(&oldest_first), reversed, "default is newest first");
    let (_, l) = app
        .get(&format!("{all}?ordering=name,-started_at&limit=2"))
        .await;
    assert_eq!((l["count"].as_u64(), names(&l).len()), (Some(4), 2));
    let first_two: Vec<String> = want.iter().rev().take(2).cloned().collect();
    assert_eq!(names(&l), first_two);
    let (s, e) = app.get(&format!("{all}?ordering=-bogus")).await;
    assert_eq!(s, 400);
    assert!(e["fields"]["ordering"].is_array());
    app.stop().await;
}
