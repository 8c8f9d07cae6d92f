//! Content listings with filters and true counts at 100,000 units.
//!
//! Run with: `cargo run --release -p benches --bin catalog_scale [-- --units 100000]`
//!
//! Stores N file content units, commits them as a repository version (and a
//! second version that removes 1%), then times listing queries (median of
//! 20 each): a page of the latest version with its count, a page of the
//! older (reconstructed) version, an exact `relative_path` filter, a
//! 50-value `sha256__in` filter, and a count of what a version added.
//! Also prints Redis memory per unit. Asserts nothing.

use std::time::Instant;

use benches::{machine, median};
use chrono::Utc;
use pulp_app::catalog::model::{ContentRecord, ContentType, Plugin, Repository};
use pulp_app::catalog::{Catalog, ContentFilter, VersionChange, VersionRef};
use pulp_app::plugins::file::content;
use pulp_app::plugins::file::manifest::ManifestEntry;
use taskq::testing::RedisServer;

fn units() -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == "--units")
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

async fn time<F, Fut>(mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let mut samples = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        std::hint::black_box(f().await);
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    median(&samples)
}

async fn used_memory(conn: &mut redis::aio::ConnectionManager) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let n = units();
    println!("# catalog at scale: {}", machine());
    let server = RedisServer::start().unwrap();
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(std::time::Duration::from_secs(30)));
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_connection_manager_with_config(config)
        .await
        .unwrap();
    let catalog = Catalog::new(conn.clone(), "pulp");
    let base = used_memory(&mut conn).await;
    let records: Vec<ContentRecord> = (0..n)
        .map(|i| {
            let e = ManifestEntry {
                relative_path: format!("dir{}/file-{i:07}.bin", i % 97),
                sha256: format!("{i:064x}"),
                size: i as u64,
            };
            content::record(&e, Some(e.sha256.clone()), None)
        })
        .collect();
    let t = Instant::now();
    catalog.put_content(&records).await.unwrap();
    let put = t.elapsed();
    let now = Utc::now();
    let repo = Repository {
        id: uuid::Uuid::now_v7(),
        plugin: Plugin::File,
        created: now,
        updated: now,
        name: "scale".into(),
        description: None,
        retain_repo_versions: None,
        remote: None,
        autopublish: false,
        manifest: None,
        pulp_labels: Default::default(),
        rpm: None,
    };
    catalog.create_repository(&repo).await.unwrap();
    let refs: Vec<_> = records.iter().map(|r| r.r#ref).collect();
    let t = Instant::now();
    let change = VersionChange {
        add: refs.clone(),
        ..Default::default()
    };
    catalog.commit_version(&repo, 0, &change).await.unwrap();
    let commit1 = t.elapsed();
    let removed: Vec<_> = refs.iter().step_by(100).copied().collect();
    let t = Instant::now();
    let change = VersionChange {
        remove: removed,
        ..Default::default()
    };
    catalog.commit_version(&repo, 1, &change).await.unwrap();
    let commit2 = t.elapsed();
    let mem = used_memory(&mut conn).await.saturating_sub(base);
    println!(
        "stored {n} units in {put:?}; version 1 (all added) in {commit1:?}; version 2 (1% removed) in {commit2:?}"
    );
    println!(
        "Redis memory: {:.1} MB, {:.0} bytes per unit",
        mem as f64 / 1e6,
        mem as f64 / n as f64
    );

    let latest = catalog
        .version_content_key(VersionRef {
            repository: repo.id,
            number: 2,
        })
        .await
        .unwrap();
    let page_latest = time(|| {
        let f = ContentFilter {
            within: vec![latest.clone()],
            fields: vec![],
        };
        let c = catalog.clone();
        async move {
            c.list_content(ContentType::File, &f, 5000, 100)
                .await
                .unwrap()
                .count
        }
    })
    .await;
    let page_old = time(|| {
        let c = catalog.clone();
        let repo = repo.id;
        async move {
            let key = c
                .version_content_key(VersionRef {
                    repository: repo,
                    number: 1,
                })
                .await
                .unwrap();
            let f = ContentFilter {
                within: vec![key],
                fields: vec![],
            };
            c.list_content(ContentType::File, &f, 5000, 100)
                .await
                .unwrap()
                .count
        }
    })
    .await;
    let by_path = time(|| {
        let f = ContentFilter {
            within: vec![latest.clone()],
            fields: vec![(
                "relative_path".into(),
                vec![format!("dir5/file-{:07}.bin", n / 2 - (n / 2) % 97 + 5)],
            )],
        };
        let c = catalog.clone();
        async move {
            c.list_content(ContentType::File, &f, 0, 100)
                .await
                .unwrap()
                .count
        }
    })
    .await;
    let by_digests = time(|| {
        let values: Vec<String> = (0..50).map(|i| format!("{:064x}", i * 997)).collect();
        let f = ContentFilter {
            within: vec![latest.clone()],
            fields: vec![("sha256".into(), values)],
        };
        let c = catalog.clone();
        async move {
            c.list_content(ContentType::File, &f, 0, 100)
                .await
                .unwrap()
                .count
        }
    })
    .await;
    let added = catalog.version_diff_key(
        VersionRef {
            repository: repo.id,
            number: 2,
        },
        false,
    );
    let removed_count = time(|| {
        let f = ContentFilter {
            within: vec![added.clone()],
            fields: vec![],
        };
        let c = catalog.clone();
        async move {
            c.list_content(ContentType::File, &f, 0, 25)
                .await
                .unwrap()
                .count
        }
    })
    .await;
    println!("list page (100 of {n}) of the latest version, with count: {page_latest:.1} ms");
    println!("list page of the previous version (rebuilt from diffs): {page_old:.1} ms");
    println!("relative_path = one value: {by_path:.1} ms");
    println!("sha256__in with 50 values: {by_digests:.1} ms");
    println!("what a version removed, with count: {removed_count:.1} ms");
    println!(
        "{{\"units\": {n}, \"page_ms\": {page_latest:.1}, \"page_old_version_ms\": {page_old:.1}, \"filter_exact_ms\": {by_path:.1}, \"filter_in50_ms\": {by_digests:.1}, \"bytes_per_unit\": {:.0}}}",
        mem as f64 / n as f64
    );
}
