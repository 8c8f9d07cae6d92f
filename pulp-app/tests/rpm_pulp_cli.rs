//! The stock `pulp` command line client (pulp-cli) drives the rpm plugin:
//! remote, repository, sync, publication, distribution, content list and
//! upload, against an in-process app. Runs the CLI found at `$PULP_CLI` or
//! as `pulp` on PATH; skips loudly without it.

mod rpm_support;
mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::app::{App, PASSWORD};
use support::{fixtures, metadata};

fn cli() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PULP_CLI") {
        return Some(PathBuf::from(p));
    }
    fixtures::have("pulp").then(|| PathBuf::from("pulp"))
}

/// Runs `pulp <args>` against `app`; returns stdout (asserting success).
async fn pulp(cli: &Path, app: &App, home: &Path, args: &[&str]) -> String {
    let out = tokio::process::Command::new(cli)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("HOME", home)
        .args([
            "--base-url",
            &app.api,
            "--username",
            "admin",
            "--password",
            PASSWORD,
        ])
        .args(args)
        .output()
        .await
        .expect("run pulp");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pulp {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

struct Cli<'a> {
    path: &'a Path,
    app: &'a App,
    home: &'a Path,
}

impl Cli<'_> {
    async fn run(&self, args: &[&str]) -> String {
        pulp(self.path, self.app, self.home, args).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulp_cli_rpm_workflow() {
    let Some(cli) = cli() else {
        fixtures::skip_or_fail(
            "pulp_cli_rpm_workflow",
            "pulp-cli (set PULP_CLI or put `pulp` on PATH)",
            "pip install pulp-cli==0.41.1",
        );
        return;
    };
    let Some(fixture) = fixtures::rpm_repo(200, &[]) else {
        return;
    };
    let truth = metadata::ground_truth(&fixture);
    let app = App::start().await;
    let server = rpm_support::CountingServer::start(&fixture).await;
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let c = Cli {
        path: &cli,
        app: &app,
        home,
    };

    let remote = json(
        &c.run(&[
            "rpm",
            "remote",
            "create",
            "--name",
            "cli",
            "--url",
            &server.url,
            "--policy",
            "immediate",
        ])
        .await,
    );
    assert_eq!(remote["url"], server.url.as_str());
    let repo = json(
        &c.run(&[
            "rpm",
            "repository",
            "create",
            "--name",
            "cli",
            "--remote",
            "cli",
        ])
        .await,
    );
    assert!(
        repo["pulp_href"]
            .as_str()
            .unwrap()
            .contains("/repositories/rpm/rpm/")
    );
    c.run(&["rpm", "repository", "sync", "--name", "cli"]).await;
    assert_eq!(server.rpm_hits(), truth.len());
    let repo = json(&c.run(&["rpm", "repository", "show", "--name", "cli"]).await);
    let version = repo["latest_version_href"].as_str().unwrap().to_owned();
    assert!(version.ends_with("/versions/1/"), "{repo}");

    let publication = json(
        &c.run(&["rpm", "publication", "create", "--repository", "cli"])
            .await,
    );
    let publication = publication["pulp_href"].as_str().unwrap().to_owned();
    assert!(publication.contains("/publications/rpm/rpm/"));
    let distribution = json(
        &c.run(&[
            "rpm",
            "distribution",
            "create",
            "--name",
            "cli",
            "--base-path",
            "cli",
            "--publication",
            &publication,
        ])
        .await,
    );
    let base_url = distribution["base_url"].as_str().unwrap().to_owned();
    let res = app
        .http
        .get(format!("{base_url}repodata/repomd.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let listed = json(&c.run(&["rpm", "content", "list", "--limit", "1000"]).await);
    assert_eq!(listed.as_array().unwrap().len(), truth.len());
    let t = &truth[0];
    let found = json(
        &c.run(&[
            "rpm", "content", "list", "--name", &t.name, "--arch", &t.arch,
        ])
        .await,
    );
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["sha256"] == t.sha256.as_str()),
        "{found}"
    );
    let versions = json(
        &c.run(&[
            "rpm",
            "repository",
            "version",
            "list",
            "--repository",
            "cli",
        ])
        .await,
    );
    assert_eq!(versions.as_array().unwrap().len(), 2);

    // Uploads, with and without a repository.
    let file = fixture.join(&truth[1].location);
    let file = file.to_str().unwrap();
    let unit = json(&c.run(&["rpm", "content", "upload", "--file", file]).await);
    assert_eq!(unit["sha256"], truth[1].sha256.as_str(), "{unit}");
    c.run(&["rpm", "repository", "create", "--name", "up"])
        .await;
    c.run(&[
        "rpm",
        "content",
        "upload",
        "--file",
        file,
        "--repository",
        "up",
    ])
    .await;
    let up = json(&c.run(&["rpm", "repository", "show", "--name", "up"]).await);
    let version = up["latest_version_href"].as_str().unwrap();
    assert!(version.ends_with("/versions/1/"), "{up}");
    let packages = rpm_support::content(&app, "rpm/packages", version).await;
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0]["sha256"], truth[1].sha256.as_str());
    app.stop().await;
}
