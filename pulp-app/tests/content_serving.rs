//! The content app against real publications: files, HEAD, byte ranges,
//! directory listings (odd names included), distributions that follow a
//! repository's newest publication, `404: Not Found`, and path traversal.

mod rpm_support;
mod support;

use serde_json::{Value, json};
use support::app::{App, FileServer, file_repo};
use support::{fixtures, metadata};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// 100 distinct bytes.
fn hundred() -> Vec<u8> {
    (0..100u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(3))
        .collect()
}

/// Names a listing must escape (HTML) and encode (URLs) correctly.
const ODD: [&str; 5] = [
    "odd name & <b>.txt",
    "q?h#.txt",
    "100%.txt",
    "\u{fc}-\u{f1}.txt",
    "quote\"'.txt",
];

/// A published, distributed file repository at `files/`: `a.bin` (100
/// bytes), `dir/b.txt`, and the odd names. Returns the app, the remote
/// server's directory and the repository href.
async fn published() -> (App, tempfile::TempDir, FileServer, String) {
    let app = App::start().await;
    let src = tempfile::tempdir().unwrap();
    let mut files: Vec<(&str, Vec<u8>)> =
        vec![("a.bin", hundred()), ("dir/b.txt", b"bee".to_vec())];
    for name in ODD {
        files.push((name, format!("content of {name}").into_bytes()));
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    file_repo(src.path(), &refs);
    let server = FileServer::start(src.path()).await;
    let (repo, _) = app
        .repo_with_remote(
            "file",
            "served",
            &format!("{}/PULP_MANIFEST", server.url),
            json!({}),
        )
        .await;
    let t = app.run_task(&format!("{repo}sync/"), json!({})).await;
    assert_eq!(t["state"], "completed", "{t}");
    publish(&app, &repo).await;
    let t = app
        .run_task(
            "/pulp/api/v3/distributions/file/file/",
            json!({"name": "files", "base_path": "files", "repository": repo}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    (app, src, server, repo)
}

async fn publish(app: &App, repo: &str) -> String {
    let t = app
        .run_task(
            "/pulp/api/v3/publications/file/file/",
            json!({"repository": repo}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    t["created_resources"][0].as_str().unwrap().to_owned()
}

fn url(app: &App, path: &str) -> String {
    format!("{}/pulp/content/{path}", app.content)
}

async fn get(app: &App, path: &str, range: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(url(app, path));
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    req.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Sends `target` verbatim (no client-side normalization of `..` or
/// percent-encoding) and returns the status and body.
async fn raw_get(app: &App, target: &str) -> (u16, String) {
    let addr = app.content.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The `href`s of a listing page, HTML entities decoded.
fn hrefs(html: &str) -> Vec<String> {
    html.split("<a href=\"")
        .skip(1)
        .map(|rest| {
            rest.split('"')
                .next()
                .unwrap()
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#39;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_head_and_ranges() {
    let (app, _src, _server, _repo) = published().await;
    let data = hundred();

    let r = get(&app, "files/a.bin", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), "100");
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    let etag = header(&r, "etag");
    let modified = header(&r, "last-modified");
    assert!(
        !etag.is_empty() && modified.ends_with(" GMT"),
        "{etag} {modified}"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);

    // HEAD: the same headers, no body.
    let r = app
        .http
        .head(url(&app, "files/a.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), "100");
    assert_eq!(header(&r, "etag"), etag);
    assert_eq!(header(&r, "last-modified"), modified);
    assert!(r.bytes().await.unwrap().is_empty(), "HEAD has no body");

    for (range, from, to) in [
        ("bytes=0-9", 0, 9),
        ("bytes=-5", 95, 99),
        ("bytes=90-", 90, 99),
        ("bytes=95-500", 95, 99),
    ] {
        let r = get(&app, "files/a.bin", Some(range)).await;
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {from}-{to}/100"),
            "{range}"
        );
        assert_eq!(header(&r, "content-length"), (to - from + 1).to_string());
        assert_eq!(
            r.bytes().await.unwrap().as_ref(),
            &data[from..=to],
            "{range}"
        );
    }
    for range in ["bytes=100-", "bytes=500-600", "bytes=-0", "bytes=9-3"] {
        let r = get(&app, "files/a.bin", Some(range)).await;
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(header(&r, "content-range"), "bytes */100", "{range}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_name_and_link_every_entry() {
    let (app, _src, _server, _repo) = published().await;
    let page_url = url(&app, "files/");
    let r = get(&app, "files/", None).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<title>Index of /pulp/content/files/</title>"),
        "{html}"
    );
    assert!(!html.contains("<b>"), "names are escaped: {html}");
    assert!(html.contains("&lt;b&gt;"), "{html}");
    let links = hrefs(&html);
    for want in ["../", "a.bin", "dir/", "PULP_MANIFEST"] {
        assert!(links.iter().any(|l| l == want), "{want} in {links:?}");
    }
    // Every link leads to its entry, whatever characters its name has.
    let base = reqwest::Url::parse(&page_url).unwrap();
    for name in ODD {
        let link = links
            .iter()
            .find(|l| {
                let u = base.join(l).unwrap();
                u.path_segments()
                    .and_then(|mut s| s.next_back().map(str::to_owned))
                    .map(|last| percent_decode(&last))
                    == Some(name.to_owned())
                    && u.query().is_none()
                    && u.fragment().is_none()
            })
            .unwrap_or_else(|| panic!("no working link for {name:?} in {links:?}"));
        let r = app.http.get(base.join(link).unwrap()).send().await.unwrap();
        assert_eq!(r.status(), 200, "{name:?} via {link:?}");
        assert_eq!(r.text().await.unwrap(), format!("content of {name}"));
    }
    // A subdirectory, with and without its slash.
    let r = get(&app, "files/dir/", None).await;
    assert_eq!(r.status(), 200);
    let links = hrefs(&r.text().await.unwrap());
    assert_eq!(links, ["../", "b.txt"]);
    let r = get(&app, "files/dir", None).await;
    assert_eq!(r.status(), 404);
    // The content root lists the base path.
    let r = get(&app, "", None).await;
    assert_eq!(r.status(), 200);
    assert!(hrefs(&r.text().await.unwrap()).contains(&"files/".to_owned()));
    app.stop().await;
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_distribution_serves_its_newest_publication() {
    let (app, src, _server, repo) = published().await;
    let before = pulp_app::content::served_publication(&app.services, "files")
        .await
        .expect("served");
    assert_eq!(get(&app, "files/new.txt", None).await.status(), 404);
    // The remote gains a file; sync and publish again.
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("a.bin".into(), hundred()),
        ("new.txt".into(), b"fresh".to_vec()),
    ];
    files.push(("dir/b.txt".into(), b"bee".to_vec()));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    file_repo(src.path(), &refs);
    let t = app
        .run_task(&format!("{repo}sync/"), json!({"mirror": false}))
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    // Synced but not yet published: still the old publication.
    assert_eq!(get(&app, "files/new.txt", None).await.status(), 404);
    let newer = publish(&app, &repo).await;
    let after = pulp_app::content::served_publication(&app.services, "files")
        .await
        .expect("served");
    assert_ne!(before, after);
    assert!(newer.contains(&after.to_string()), "{newer} {after}");
    let r = get(&app, "files/new.txt", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "fresh");
    let manifest = get(&app, "files/PULP_MANIFEST", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(manifest.contains("new.txt,"), "{manifest}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_traversal_are_not_found() {
    let (app, _src, _server, _repo) = published().await;
    // Something outside every publication that traversal would reach.
    let storage = &app.services.settings.storage_path;
    std::fs::write(storage.join("secret.txt"), b"TOP-SECRET").unwrap();
    std::fs::write(storage.join("publications/secret.txt"), b"TOP-SECRET").unwrap();
    for path in [
        "nowhere/",
        "nowhere/a.bin",
        "files/absent.bin",
        "files/dir/absent/",
        "files/a.bin/",
    ] {
        let r = get(&app, path, None).await;
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.text().await.unwrap(), "404: Not Found", "{path}");
    }
    let r = app
        .http
        .get(format!("{}/elsewhere", app.content))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    for target in [
        "/pulp/content/files/../secret.txt",
        "/pulp/content/files/../../secret.txt",
        "/pulp/content/files/%2e%2e/secret.txt",
        "/pulp/content/files/%2e%2e/%2e%2e/secret.txt",
        "/pulp/content/files/%2E%2E%2Fsecret.txt",
        "/pulp/content/files/..%2f..%2fsecret.txt",
        "/pulp/content/files/dir/..%5c..%5csecret.txt",
        "/pulp/content/files/%252e%252e/secret.txt",
        "/pulp/content/files//etc/passwd",
        "/pulp/content/files/%2fetc%2fpasswd",
        "/pulp/content/files/dir/../a.bin",
        "/pulp/content/../../secret.txt",
    ] {
        let (status, body) = raw_get(&app, target).await;
        assert_eq!(status, 404, "{target}: {body}");
        assert_eq!(body, "404: Not Found", "{target}");
        assert!(
            !body.contains("TOP-SECRET") && !body.contains("root:"),
            "{target}: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_publications_are_served_too() {
    let Some(fixture) = fixtures::rpm_repo(200, &[]) else {
        return;
    };
    let truth = metadata::ground_truth(&fixture);
    let app = App::start().await;
    let server = rpm_support::CountingServer::start(&fixture).await;
    let (repo, _) = app
        .repo_with_remote("rpm", "rpms", &server.url, json!({}))
        .await;
    rpm_support::sync(&app, &repo, json!({})).await;
    let base = rpm_support::publish_and_distribute(&app, json!({"repository": repo}), "rpms").await;
    let pkg = &truth[0];
    let bytes = std::fs::read(fixture.join(&pkg.location)).unwrap();
    let r = app
        .http
        .get(format!("{base}{}", pkg.location))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/x-rpm");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..]);
    // The lead of an rpm, by range.
    let r = app
        .http
        .get(format!("{base}{}", pkg.location))
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &[0xed, 0xab, 0xee, 0xdb]);
    let r = app
        .http
        .get(format!("{base}repodata/"))
        .send()
        .await
        .unwrap();
    let links = hrefs(&r.text().await.unwrap());
    assert!(links.iter().any(|l| l == "repomd.xml"), "{links:?}");
    let (_, d): (u16, Value) = app.get("/pulp/api/v3/distributions/rpm/rpm/").await;
    assert_eq!(d["count"], 1);
    app.stop().await;
}
