//! Hostile yum repositories: each sync fails with a message naming the
//! problem, downloads no package it should not, and leaves the catalog
//! and the storage exactly as they were.

mod rpm_support;
mod support;

use std::io::Write as _;
use std::path::Path;

use rpm_support::CountingServer;
use serde_json::json;
use sha2::Digest;
use support::app::{App, GatedServer};
use support::{fixtures, metadata};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// One package of a hand-written primary.xml.
struct Pkg {
    name: String,
    href: String,
    sha256: String,
    size: u64,
}

fn primary_xml(packages: &[Pkg]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
        packages.len()
    );
    for p in packages {
        xml.push_str(&format!(
            "<package type=\"rpm\"><name>{}</name><arch>noarch</arch><version epoch=\"0\" ver=\"1\" rel=\"1\"/>\
             <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum><summary>s</summary><description>d</description>\
             <packager/><url/><time file=\"1\" build=\"1\"/><size package=\"{}\" installed=\"1\" archive=\"1\"/>\
             <location href=\"{}\"/><format><rpm:license>MIT</rpm:license></format></package>\n",
            p.name, p.sha256, p.size, p.href
        ));
    }
    xml.push_str("</metadata>\n");
    xml
}

/// Writes `repodata/repomd.xml` listing `files` (type, href, bytes) and
/// writes the files, except those whose bytes are `None` (listed, missing).
fn write_repo(dir: &Path, files: &[(&str, &str, Option<Vec<u8>>)]) {
    std::fs::create_dir_all(dir.join("repodata")).unwrap();
    let mut repomd = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision>\n",
    );
    for (kind, href, bytes) in files {
        let listed = bytes.clone().unwrap_or_else(|| b"gone".to_vec());
        repomd.push_str(&format!(
            "<data type=\"{kind}\"><checksum type=\"sha256\">{}</checksum><location href=\"{href}\"/><size>{}</size></data>\n",
            sha256(&listed),
            listed.len()
        ));
        if let Some(b) = bytes {
            std::fs::write(dir.join(href), b).unwrap();
        }
    }
    repomd.push_str("</repomd>\n");
    std::fs::write(dir.join("repodata/repomd.xml"), repomd).unwrap();
}

/// A repository whose primary.xml.gz lists `packages`.
fn package_repo(dir: &Path, packages: &[Pkg]) {
    write_repo(
        dir,
        &[(
            "primary",
            "repodata/primary.xml.gz",
            Some(gzip(primary_xml(packages).as_bytes())),
        )],
    );
}

/// Real packages of the fixture, linked into `dir` at their locations.
fn real_packages(fixture: &Path, dir: &Path, n: usize) -> Vec<Pkg> {
    metadata::ground_truth(fixture)
        .into_iter()
        .take(n)
        .map(|t| {
            let dest = dir.join(&t.location);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(fixture.join(&t.location), &dest).unwrap();
            Pkg {
                name: t.name,
                href: t.location,
                sha256: t.sha256,
                size: t.size,
            }
        })
        .collect()
}

/// Syncs a repository from `dir`; asserts the task fails with a message
/// containing every one of `expected`, and that neither the catalog nor the
/// storage changed.
async fn assert_refused(app: &App, name: &str, dir: &Path, expected: &[&str]) -> CountingServer {
    let server = CountingServer::start(dir).await;
    let (repo, _) = app
        .repo_with_remote("rpm", name, &server.url, json!({}))
        .await;
    let catalog = app.redis_snapshot().await;
    let files = app.storage_files();
    let task = app.run_task(&format!("{repo}sync/"), json!({})).await;
    assert_eq!(task["state"], "failed", "{name}: {task}");
    let message = task["error"]["description"].as_str().unwrap_or_default();
    for e in expected {
        assert!(message.contains(e), "{name}: {e:?} not in {message:?}");
    }
    assert_eq!(
        app.redis_snapshot().await,
        catalog,
        "{name}: catalog changed"
    );
    assert_eq!(app.storage_files(), files, "{name}: storage changed");
    let (_, r) = app.get(&repo).await;
    assert!(
        r["latest_version_href"]
            .as_str()
            .unwrap()
            .ends_with("/versions/0/")
    );
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_remotes_fail_cleanly() {
    let Some(fixture) = fixtures::rpm_repo(200, &[]) else {
        return;
    };
    let app = App::start().await;
    // A good sync first, so there is state that must stay as it is (on
    // demand, so that the packages below are really downloaded).
    let good = CountingServer::start(&fixture).await;
    let (repo, _) = app
        .repo_with_remote("rpm", "good", &good.url, json!({"policy": "on_demand"}))
        .await;
    rpm_support::sync(&app, &repo, json!({})).await;

    // Location hrefs that leave the repository: refused before any download.
    for (i, href) in ["../evil.rpm", "/etc/passwd", "Packages/../../x.rpm"]
        .into_iter()
        .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let mut packages = real_packages(&fixture, dir.path(), 3);
        packages.push(Pkg {
            name: "evil".into(),
            href: href.into(),
            sha256: "0".repeat(64),
            size: 10,
        });
        package_repo(dir.path(), &packages);
        let server = assert_refused(
            &app,
            &format!("href{i}"),
            dir.path(),
            &["unsafe relative path"],
        )
        .await;
        assert_eq!(server.rpm_hits(), 0, "{href}: nothing downloaded");
    }

    // A package whose bytes do not match the checksum, among good ones
    // (which are downloaded, then dropped).
    let dir = tempfile::tempdir().unwrap();
    let mut packages = real_packages(&fixture, dir.path(), 5);
    packages[4].sha256 = sha256(b"something else");
    let bad = packages[4].href.clone();
    package_repo(dir.path(), &packages);
    assert_refused(&app, "checksum", dir.path(), &["checksum mismatch", &bad]).await;

    // A package larger than its declared size.
    let dir = tempfile::tempdir().unwrap();
    let mut packages = real_packages(&fixture, dir.path(), 5);
    packages[2].size -= 10;
    let big = packages[2].href.clone();
    package_repo(dir.path(), &packages);
    assert_refused(&app, "size", dir.path(), &[&big, "bytes"]).await;

    // A gzip bomb as primary.xml.gz: 256 MiB of blanks in ~250 KiB.
    let dir = tempfile::tempdir().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b"<metadata xmlns=\"http://linux.duke.edu/metadata/common\" packages=\"1\">")
        .unwrap();
    let blanks = vec![b' '; 1 << 20];
    for _ in 0..256 {
        e.write_all(&blanks).unwrap();
    }
    let bomb = e.finish().unwrap();
    write_repo(
        dir.path(),
        &[("primary", "repodata/primary.xml.gz", Some(bomb))],
    );
    assert_refused(&app, "bomb", dir.path(), &["decompression bomb"]).await;

    // Billion laughs: entity expansion.
    let dir = tempfile::tempdir().unwrap();
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE metadata [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        laughs.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    laughs.push_str("]>\n<metadata packages=\"1\"><package type=\"rpm\"><name>&lol9;</name></package></metadata>\n");
    write_repo(
        dir.path(),
        &[("primary", "repodata/primary.xml", Some(laughs.into_bytes()))],
    );
    assert_refused(&app, "laughs", dir.path(), &["DOCTYPE"]).await;

    // repomd.xml points at a file the server does not have.
    let dir = tempfile::tempdir().unwrap();
    write_repo(
        dir.path(),
        &[("primary", "repodata/abc-primary.xml.gz", None)],
    );
    assert_refused(
        &app,
        "missing",
        dir.path(),
        &["repodata/abc-primary.xml.gz", "404"],
    )
    .await;

    // filelists.xml that does not match primary.xml.
    let dir = tempfile::tempdir().unwrap();
    let packages = real_packages(&fixture, dir.path(), 2);
    let filelists = format!(
        "<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"2\">\
         <package pkgid=\"{}\" name=\"x\" arch=\"noarch\"><version epoch=\"0\" ver=\"1\" rel=\"1\"/></package>\
         <package pkgid=\"{}\" name=\"y\" arch=\"noarch\"><version epoch=\"0\" ver=\"1\" rel=\"1\"/></package></filelists>",
        packages[1].sha256, packages[0].sha256
    );
    write_repo(
        dir.path(),
        &[
            (
                "primary",
                "repodata/primary.xml.gz",
                Some(gzip(primary_xml(&packages).as_bytes())),
            ),
            (
                "filelists",
                "repodata/filelists.xml.gz",
                Some(gzip(filelists.as_bytes())),
            ),
        ],
    );
    assert_refused(&app, "order", dir.path(), &["same order"]).await;

    app.stop().await;
}

/// A sync canceled while it downloads packages: the package requests are
/// held by the server until the test has seen the task canceled, so the
/// sync cannot win the race by finishing first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_sync_leaves_nothing_behind() {
    let Some(fixture) = fixtures::rpm_repo(200, &[]) else {
        return;
    };
    let app = App::start().await;
    // State that must stay as it is: an on-demand sync of another
    // repository, so the packages are in the catalog (records the canceled
    // sync would update) but not in the store (it must download them).
    let good = CountingServer::start(&fixture).await;
    let (other, _) = app
        .repo_with_remote("rpm", "other", &good.url, json!({"policy": "on_demand"}))
        .await;
    rpm_support::sync(&app, &other, json!({})).await;

    let server = GatedServer::start(&fixture, |p| p.ends_with(".rpm")).await;
    let (repo, _) = app
        .repo_with_remote(
            "rpm",
            "cancel",
            &server.url,
            json!({"download_concurrency": 2, "policy": "immediate"}),
        )
        .await;
    let catalog = app.redis_snapshot().await;
    let files = app.storage_files();
    let (status, r) = app.post(&format!("{repo}sync/"), json!({})).await;
    assert_eq!(status, 202, "{r}");
    let task = r["task"].as_str().unwrap().to_owned();
    server.wait_held().await;
    let (status, c) = app.patch(&task, json!({"state": "canceled"})).await;
    assert_eq!(status, 200, "{c}");
    let t = app.wait_task(&task).await;
    assert_eq!(t["state"], "canceled", "{t}");
    assert!(
        t["progress_reports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] != "running"),
        "{t}"
    );
    let (_, r) = app.get(&repo).await;
    assert!(
        r["latest_version_href"]
            .as_str()
            .unwrap()
            .ends_with("/versions/0/"),
        "no new version: {r}"
    );
    assert_eq!(app.redis_snapshot().await, catalog, "catalog unchanged");
    assert_eq!(app.storage_files(), files, "storage unchanged");
    server.release();
    app.stop().await;
    drop(good);
}
