//! The rpm plugin end to end: sync real createrepo_c repositories served on
//! loopback, publish, distribute, and let the real dnf read the result;
//! re-sync in mirror and additive mode; publish an older version; sync on
//! demand.

mod rpm_support;
mod support;

use std::collections::BTreeSet;

use rpm_support::{CountingServer, assert_ok, dnf, listed};
use serde_json::{Value, json};
use sha2::Digest;
use support::app::App;
use support::{fixtures, metadata};

const N: usize = 200;

fn sorted_lines(out: &std::process::Output) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

fn codes(task: &Value) -> Vec<String> {
    task["progress_reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_publish_and_dnf_reads_the_distribution() {
    if fixtures::skip_without("rpm sync with dnf", &["dnf"]) {
        return;
    }
    let Some(fixture) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let truth = metadata::ground_truth(&fixture);
    let app = App::start().await;
    let server = CountingServer::start(&fixture).await;
    let (repo, _) = app
        .repo_with_remote("rpm", "fixture", &server.url, json!({}))
        .await;

    let task = rpm_support::sync(&app, &repo, json!({})).await;
    for code in [
        "sync.downloading.metadata",
        "sync.parsing.packages",
        "sync.parsing.advisories",
        "sync.parsing.comps",
        "sync.downloading.artifacts",
        "associating.content",
    ] {
        assert!(codes(&task).iter().any(|c| c == code), "{code}: {task}");
    }
    let version = task["created_resources"][0].as_str().unwrap().to_owned();
    assert!(version.ends_with("/versions/1/"), "{version}");
    assert_eq!(server.rpm_hits(), N, "each package downloaded once");

    // The catalog has every package, with Pulp's fields.
    let packages = rpm_support::content(&app, "rpm/packages", &version).await;
    assert_eq!(
        rpm_support::package_entries(&app, &version).await,
        rpm_support::truth_entries(&truth)
    );
    for t in &truth {
        let p = packages
            .iter()
            .find(|p| p["location_href"] == t.location)
            .unwrap_or_else(|| panic!("{} missing", t.location));
        assert_eq!(p["sha256"], t.sha256, "{}", t.location);
        assert_eq!(p["pkgId"], t.sha256);
        assert!(p["artifact"].is_string(), "{p}");
        let requires: BTreeSet<String> = p["requires"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_str().unwrap().to_owned())
            .collect();
        let expected: BTreeSet<String> = t
            .requires
            .iter()
            .map(|r| r.split_whitespace().next().unwrap().to_owned())
            .collect();
        assert_eq!(requires, expected, "{}", t.location);
    }
    let source = metadata::parse_repo(&fixture).expect("parse the fixture");
    let comps = source.comps.clone().expect("the fixture has comps");
    let advisories = rpm_support::content(&app, "rpm/advisories", &version).await;
    assert_eq!(advisories.len(), source.advisories.len());
    let groups = rpm_support::content(&app, "rpm/packagegroups", &version).await;
    assert_eq!(groups.len(), comps.groups.len());
    let environments = rpm_support::content(&app, "rpm/packageenvironments", &version).await;
    assert_eq!(environments.len(), comps.environments.len());

    // A filter the CLI uses.
    let name = &truth[0].name;
    let (_, found) = app
        .get(&format!(
            "/pulp/api/v3/content/rpm/packages/?repository_version={version}&name__in={name}"
        ))
        .await;
    assert_eq!(
        found["count"].as_u64().unwrap() as usize,
        truth.iter().filter(|t| &t.name == name).count()
    );

    let base_url =
        rpm_support::publish_and_distribute(&app, json!({"repository": repo}), "rpm/fixture").await;

    // dnf sees the same repository through pulp-app as in the fixture.
    let cache = fixtures::scratch_dir("dnf");
    let original = format!("file://{}", fixture.display());
    let run = |url: &str, sub: &str, args: &[&str]| {
        let out = dnf(url, &cache.path().join(sub), args);
        assert_ok(&format!("dnf {args:?} on {url}"), &out);
        out
    };
    let ours = run(
        &base_url,
        "ours",
        &["list", "available", "--showduplicates"],
    );
    let theirs = run(
        &original,
        "theirs",
        &["list", "available", "--showduplicates"],
    );
    assert_eq!(listed(&ours), rpm_support::truth_entries(&truth));
    assert_eq!(listed(&ours), listed(&theirs));

    // Downloads through the content app are the packages.
    let singles: Vec<&metadata::Truth> = truth
        .iter()
        .filter(|t| truth.iter().filter(|u| u.name == t.name).count() == 1)
        .take(3)
        .collect();
    let dest = cache.path().join("downloads");
    let mut args = vec![
        "download".to_owned(),
        format!("--destdir={}", dest.display()),
    ];
    args.extend(singles.iter().map(|t| t.name.clone()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&base_url, "ours", &args);
    for t in &singles {
        let file = t.location.rsplit('/').next().unwrap();
        let bytes = std::fs::read(dest.join(file)).expect("downloaded package");
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            t.sha256,
            "{file}"
        );
    }

    let closure = run(&base_url, "ours", &["repoclosure", "--check", "t"]);
    assert!(
        closure.stdout.is_empty(),
        "repoclosure: {}",
        String::from_utf8_lossy(&closure.stdout)
    );

    let ours = run(&base_url, "ours", &["group", "list", "--hidden"]);
    let theirs = run(&original, "theirs", &["group", "list", "--hidden"]);
    let text = String::from_utf8_lossy(&ours.stdout);
    for group in &comps.groups {
        assert!(
            text.contains(&group.name),
            "group {} not listed:\n{text}",
            group.name
        );
    }
    assert_eq!(sorted_lines(&ours), sorted_lines(&theirs));

    // Querying by advisory proves dnf read the published updateinfo.
    let advisory = &source.advisories[0];
    let flag = format!("--advisory={}", advisory.id);
    let ours = run(&base_url, "ours", &["repoquery", &flag]);
    let theirs = run(&original, "theirs", &["repoquery", &flag]);
    assert!(!ours.stdout.is_empty());
    assert_eq!(sorted_lines(&ours), sorted_lines(&theirs));

    // Unchanged remote: the next sync is skipped.
    let task = rpm_support::sync(&app, &repo, json!({})).await;
    assert!(
        codes(&task).iter().any(|c| c == "sync.was_skipped"),
        "{task}"
    );
    assert_eq!(task["created_resources"], json!([]));
    assert_eq!(server.rpm_hits(), N);
    // Without optimize it runs, finds everything stored, downloads nothing
    // and creates no version.
    let task = rpm_support::sync(&app, &repo, json!({"optimize": false})).await;
    assert_eq!(task["created_resources"], json!([]), "{task}");
    assert_eq!(server.rpm_hits(), N);
    app.stop().await;
}

/// Locations of `n` packages of the fixture, starting at `skip`.
fn some(truth: &[metadata::Truth], skip: usize, n: usize) -> BTreeSet<String> {
    truth
        .iter()
        .skip(skip)
        .take(n)
        .map(|t| t.location.clone())
        .collect()
}

fn entries_without(truth: &[metadata::Truth], without: &BTreeSet<String>) -> BTreeSet<String> {
    let kept: Vec<metadata::Truth> = truth
        .iter()
        .filter(|t| !without.contains(&t.location))
        .cloned()
        .collect();
    rpm_support::truth_entries(&kept)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_mirror_and_additive_and_publish_an_older_version() {
    let Some(fixture) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    if fixtures::skip_without("rpm re-sync", &["createrepo_c"]) {
        return;
    }
    let truth = metadata::ground_truth(&fixture);
    // r1 lacks `gained`, r2 lacks `lost`: going from r1 to r2 the remote
    // gains and loses 20 packages.
    let gained = some(&truth, 0, 20);
    let lost = some(&truth, 100, 20);
    let r1 = rpm_support::subset_repo(&fixture, &gained);
    let r2 = rpm_support::subset_repo(&fixture, &lost);
    let s1 = CountingServer::start(r1.path()).await;
    let s2 = CountingServer::start(r2.path()).await;
    let app = App::start().await;
    let (_, remote2) = app
        .repo_with_remote("rpm", "second", &s2.url, json!({}))
        .await;

    for (name, mirror) in [("mirror", true), ("additive", false)] {
        let (repo, _) = app.repo_with_remote("rpm", name, &s1.url, json!({})).await;
        let task = rpm_support::sync(&app, &repo, json!({})).await;
        let v1 = task["created_resources"][0].as_str().unwrap().to_owned();
        assert_eq!(
            rpm_support::package_entries(&app, &v1).await,
            entries_without(&truth, &gained)
        );
        let policy = if mirror {
            "mirror_complete"
        } else {
            "additive"
        };
        let task = rpm_support::sync(
            &app,
            &repo,
            json!({"remote": remote2, "sync_policy": policy}),
        )
        .await;
        let v2 = task["created_resources"][0].as_str().unwrap().to_owned();
        assert!(v2.ends_with("/versions/2/"), "{task}");
        let expected = if mirror {
            entries_without(&truth, &lost)
        } else {
            rpm_support::truth_entries(&truth)
        };
        assert_eq!(
            rpm_support::package_entries(&app, &v2).await,
            expected,
            "{name}"
        );
        let (_, v) = app.get(&v2).await;
        let summary = &v["content_summary"];
        assert_eq!(summary["added"]["rpm.package"]["count"], 20, "{name}: {v}");
        if mirror {
            assert_eq!(summary["removed"]["rpm.package"]["count"], 20, "{v}");
            // A mirror sync also publishes the new version.
            assert!(
                task["created_resources"][1]
                    .as_str()
                    .is_some_and(|p| p.contains("/publications/rpm/rpm/"))
            );
        } else {
            assert!(summary["removed"].get("rpm.package").is_none(), "{v}");
        }

        // Publishing version 1 again serves the older set.
        let base_url = rpm_support::publish_and_distribute(
            &app,
            json!({"repository_version": v1}),
            &format!("old-{name}"),
        )
        .await;
        let published = fetch_published(&app, &base_url).await;
        assert_eq!(published, entries_without(&truth, &gained), "{name}");
        if fixtures::have("dnf") {
            let cache = fixtures::scratch_dir("dnf-old");
            let out = dnf(
                &base_url,
                cache.path(),
                &["list", "available", "--showduplicates"],
            );
            assert_ok("dnf list", &out);
            assert_eq!(listed(&out), published);
        }
    }
    app.stop().await;
}

/// The packages a distribution publishes, read from its repodata over HTTP
/// (each served package checked against its checksum).
async fn fetch_published(app: &App, base_url: &str) -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let get = |path: String| {
        let url = format!("{base_url}{path}");
        let http = app.http.clone();
        async move {
            let res = http.get(&url).send().await.unwrap();
            assert_eq!(res.status(), 200, "{url}");
            res.bytes().await.unwrap().to_vec()
        }
    };
    let repomd = get("repodata/repomd.xml".into()).await;
    std::fs::create_dir_all(dir.path().join("repodata")).unwrap();
    std::fs::write(dir.path().join("repodata/repomd.xml"), &repomd).unwrap();
    let md = pulp_app::plugins::rpm::metadata::RepoMd::parse(&repomd[..]).unwrap();
    for r in &md.records {
        let bytes = get(r.location_href.clone()).await;
        std::fs::write(dir.path().join(&r.location_href), bytes).unwrap();
    }
    let parsed = metadata::parse_repo(dir.path()).expect("published metadata parses");
    let mut out = BTreeSet::new();
    for p in &parsed.packages[..3] {
        let bytes = get(p.location_href.clone()).await;
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), p.pkg_id);
    }
    for p in parsed.packages {
        assert!(
            p.location_href.starts_with("Packages/"),
            "{}",
            p.location_href
        );
        out.insert(rpm_support::dnf_entry(
            &p.name, &p.epoch, &p.version, &p.release, &p.arch,
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_downloads_on_first_request_only() {
    let Some(fixture) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let truth = metadata::ground_truth(&fixture);
    let app = App::start().await;
    let server = CountingServer::start(&fixture).await;
    let (repo, remote) = app
        .repo_with_remote("rpm", "lazy", &server.url, json!({"policy": "on_demand"}))
        .await;
    let task = rpm_support::sync(&app, &repo, json!({})).await;
    let version = task["created_resources"][0].as_str().unwrap().to_owned();
    assert_eq!(server.rpm_hits(), 0, "on_demand downloads no package");
    let packages = rpm_support::content(&app, "rpm/packages", &version).await;
    assert_eq!(packages.len(), N);
    assert!(packages.iter().all(|p| p["artifact"].is_null()));

    let base_url =
        rpm_support::publish_and_distribute(&app, json!({"repository": repo}), "lazy").await;
    let t = &truth[0];
    let published = format!(
        "Packages/{}/{}",
        t.location
            .rsplit('/')
            .next()
            .unwrap()
            .chars()
            .next()
            .unwrap()
            .to_ascii_lowercase(),
        t.location.rsplit('/').next().unwrap()
    );
    for round in 1..=2 {
        let res = app
            .http
            .get(format!("{base_url}{published}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "round {round}");
        let bytes = res.bytes().await.unwrap();
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), t.sha256);
        assert_eq!(
            server.hits(&t.location),
            1,
            "round {round}: fetched once, then kept"
        );
    }
    assert_eq!(server.rpm_hits(), 1);
    // The unit now has its artifact.
    let (_, found) = app
        .get(&format!(
            "/pulp/api/v3/content/rpm/packages/?pkgId={}",
            t.sha256
        ))
        .await;
    assert!(found["results"][0]["artifact"].is_string(), "{found}");

    // Switched to immediate, a sync downloads the rest into the same units.
    let r = app.change(&remote, json!({"policy": "immediate"})).await;
    assert_eq!(r["policy"], "immediate");
    let task = rpm_support::sync(&app, &repo, json!({})).await;
    assert_eq!(task["created_resources"], json!([]), "same content: {task}");
    assert_eq!(server.rpm_hits(), N);
    let packages = rpm_support::content(&app, "rpm/packages", &version).await;
    assert!(packages.iter().all(|p| p["artifact"].is_string()));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_types_srpm_leaves_source_packages_out() {
    let Some(fixture) = fixtures::rpm_repo(30, &[("SRPM", "1")]) else {
        return;
    };
    let app = App::start().await;
    let server = CountingServer::start(&fixture).await;
    let mut sources = Vec::new();
    for (name, skip) in [("all", json!([])), ("binary", json!(["srpm"]))] {
        let (repo, _) = app
            .repo_with_remote("rpm", name, &server.url, json!({}))
            .await;
        let task = rpm_support::sync(&app, &repo, json!({"skip_types": skip})).await;
        let version = task["created_resources"][0].as_str().unwrap().to_owned();
        let packages = rpm_support::content(&app, "rpm/packages", &version).await;
        sources.push(packages.iter().filter(|p| p["arch"] == "src").count());
    }
    assert!(sources[0] > 0, "the fixture has source packages");
    assert_eq!(sources[1], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_xz_and_bzip2_metadata() {
    let app = App::start().await;
    for compression in ["xz", "bz2"] {
        let args = format!("--general-compress-type={compression}");
        let Some(fixture) = fixtures::rpm_repo(30, &[("CREATEREPO_ARGS", &args)]) else {
            return;
        };
        let repomd = std::fs::read_to_string(fixture.join("repodata/repomd.xml")).unwrap();
        assert!(
            repomd.contains(&format!("primary.xml.{compression}\"")),
            "{repomd}"
        );
        let truth = metadata::ground_truth(&fixture);
        let server = CountingServer::start(&fixture).await;
        let (repo, _) = app
            .repo_with_remote("rpm", compression, &server.url, json!({}))
            .await;
        let task = rpm_support::sync(&app, &repo, json!({})).await;
        let version = task["created_resources"][0].as_str().unwrap().to_owned();
        assert_eq!(
            rpm_support::package_entries(&app, &version).await,
            rpm_support::truth_entries(&truth),
            "{compression}"
        );
        assert!(
            !rpm_support::content(&app, "rpm/advisories", &version)
                .await
                .is_empty()
        );
    }
    app.stop().await;
}

/// `retain_package_versions = 1`: the synced version holds only the newest
/// version of each package name and architecture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_package_versions_keeps_the_newest_of_each_package() {
    use pulp_app::plugins::rpm::model::Nevra;
    use pulp_app::plugins::rpm::retention::evr_cmp;
    let Some(fixture) = fixtures::rpm_repo(N, &[]) else {
        return;
    };
    let truth = metadata::ground_truth(&fixture);
    let mut newest: std::collections::BTreeMap<(String, String), metadata::Truth> =
        std::collections::BTreeMap::new();
    let nevra = |t: &metadata::Truth| Nevra {
        name: t.name.clone(),
        epoch: t.epoch.clone(),
        version: t.version.clone(),
        release: t.release.clone(),
        arch: t.arch.clone(),
    };
    for t in &truth {
        let slot = newest.entry((t.name.clone(), t.arch.clone()));
        let e = slot.or_insert_with(|| t.clone());
        if evr_cmp(&nevra(t), &nevra(e)).is_gt() {
            *e = t.clone();
        }
    }
    assert!(
        newest.len() < truth.len(),
        "the fixture has packages in several versions"
    );
    let app = App::start().await;
    let server = CountingServer::start(&fixture).await;
    let (repo, _) = app
        .repo_with_remote("rpm", "retain", &server.url, json!({}))
        .await;
    let body = app
        .change(&repo, json!({"retain_package_versions": 1}))
        .await;
    assert_eq!(body["retain_package_versions"], 1, "{body}");
    let task = rpm_support::sync(&app, &repo, json!({})).await;
    let v1 = task["created_resources"][0].as_str().unwrap().to_owned();
    let kept: Vec<metadata::Truth> = newest.into_values().collect();
    assert_eq!(
        rpm_support::package_entries(&app, &v1).await,
        rpm_support::truth_entries(&kept)
    );
    app.stop().await;
}

/// Syncs `fixture` (policy immediate) and asserts that the packages are
/// exactly the fixture's ground truth, each stored with the bytes of the
/// fixture's file and listed with `checksum_type`.
async fn sync_matches_ground_truth(fixture: &std::path::Path, name: &str, checksum_type: &str) {
    let truth = metadata::ground_truth(fixture);
    let app = App::start().await;
    let server = CountingServer::start(fixture).await;
    let (repo, _) = app
        .repo_with_remote("rpm", name, &server.url, json!({}))
        .await;
    let task = rpm_support::sync(&app, &repo, json!({})).await;
    let version = task["created_resources"][0].as_str().unwrap().to_owned();
    assert_eq!(
        rpm_support::package_entries(&app, &version).await,
        rpm_support::truth_entries(&truth),
        "{name}: the synced packages are the fixture's"
    );
    let packages = rpm_support::content(&app, "rpm/packages", &version).await;
    assert_eq!(packages.len(), truth.len(), "{name}");
    let digest_len = match checksum_type {
        "sha1" => 40,
        "sha256" => 64,
        "sha512" => 128,
        other => panic!("{other}"),
    };
    for p in &packages {
        assert_eq!(p["checksum_type"], checksum_type, "{name}: {p}");
        assert_eq!(
            p["pkgId"].as_str().unwrap().len(),
            digest_len,
            "{name}: {p}"
        );
        let location = p["location_href"].as_str().unwrap();
        let t = truth.iter().find(|t| t.location == location).unwrap();
        let stored = std::fs::read(
            app.services
                .store
                .path(&pulp_app::checksum::Sha256Digest::parse(&t.sha256).unwrap()),
        )
        .unwrap_or_else(|e| panic!("{name}: {location} not stored: {e}"));
        assert_eq!(hex::encode(sha2::Sha256::digest(&stored)), t.sha256);
    }
    // Every package was downloaded once, verified against its metadata checksum.
    assert_eq!(server.rpm_hits(), truth.len(), "{name}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha1_and_sha512_repositories_sync() {
    for kind in ["sha1", "sha512"] {
        let Some(fixture) =
            fixtures::rpm_repo(20, &[("CREATEREPO_ARGS", &format!("--checksum={kind}"))])
        else {
            return;
        };
        let repomd = std::fs::read_to_string(fixture.join("repodata/repomd.xml")).unwrap();
        assert!(
            repomd.contains(&format!("<checksum type=\"{kind}\">")),
            "createrepo_c wrote {kind} metadata checksums"
        );
        sync_matches_ground_truth(&fixture, kind, kind).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_compressed_metadata_syncs() {
    let Some(fixture) = fixtures::rpm_repo_zstd(N) else {
        return;
    };
    let repomd = std::fs::read_to_string(fixture.join("repodata/repomd.xml")).unwrap();
    for kind in ["primary", "filelists", "other", "updateinfo"] {
        assert!(
            repomd.contains(&format!("-{kind}.xml.zst\"")),
            "{kind} is zstd: {repomd}"
        );
    }
    assert!(!repomd.contains(".xml.gz\""), "{repomd}");
    sync_matches_ground_truth(&fixture, "zstd", "sha256").await;
}
