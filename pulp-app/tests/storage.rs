//! The artifact store on a real directory: layout, verification, limits,
//! temp-file hygiene, concurrency, listing and cleanup.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use pulp_app::checksum::{Checksum, ChecksumKind, Sha256Digest};
use pulp_app::storage::{Expected, StoreError};
use tokio::io::AsyncReadExt;

use support::store::{new_store, tmp_files};

fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(data))
}

#[tokio::test]
async fn put_bytes_lays_out_by_digest_and_reads_back() {
    let (_dir, store) = new_store().await;
    let artifact = store.put_bytes(b"hello world").await.expect("put");
    let hex = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
    assert_eq!(artifact.sha256.to_hex(), hex);
    assert_eq!(artifact.size, 11);
    let path = store.path(&artifact.sha256);
    assert_eq!(path, store.root().join("artifacts/b9").join(&hex[2..]));
    assert_eq!(std::fs::read(&path).expect("stored file"), b"hello world");
    assert!(store.exists(&artifact.sha256).await.expect("exists"));
    assert_eq!(store.size(&artifact.sha256).await.expect("size"), 11);
    let mut content = String::new();
    store
        .open(&artifact.sha256)
        .await
        .expect("open")
        .read_to_string(&mut content)
        .await
        .expect("read");
    assert_eq!(content, "hello world");
    assert!(tmp_files(&store).is_empty());

    assert!(store.delete(&artifact.sha256).await.expect("delete"));
    assert!(!store.delete(&artifact.sha256).await.expect("delete again"));
    assert!(!store.exists(&artifact.sha256).await.expect("exists"));
    assert!(matches!(
        store.open(&artifact.sha256).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.size(&artifact.sha256).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn verifies_size_and_every_checksum_kind() {
    let (_dir, store) = new_store().await;
    let data = b"some package bytes";
    let sha256 = Sha256Digest::of(data);
    let good = [
        Checksum::sha256(sha256),
        Checksum::new(ChecksumKind::Sha1, &sha1_hex(data)).expect("sha1"),
        Checksum::new(ChecksumKind::Sha512, &{
            use sha2::Digest;
            hex::encode(sha2::Sha512::digest(data))
        })
        .expect("sha512"),
    ];
    for checksum in good {
        let expected = Expected::default()
            .with_size(data.len() as u64)
            .with_checksum(checksum);
        let mut w = store.begin_write(expected).await.expect("begin");
        w.write_chunk(&data[..5]).await.expect("chunk 1");
        w.write_chunk(&data[5..]).await.expect("chunk 2");
        assert_eq!(w.finish().await.expect("finish").sha256, sha256);
    }

    // Wrong checksum: rejected with both values, nothing stored, no temp file left.
    store.delete(&sha256).await.expect("delete");
    let wrong = Checksum::new(ChecksumKind::Sha1, &"0".repeat(40)).expect("sha1");
    let mut w = store
        .begin_write(Expected::default().with_checksum(wrong))
        .await
        .expect("begin");
    w.write_chunk(data).await.expect("write");
    match w.finish().await {
        Err(StoreError::ChecksumMismatch {
            kind,
            expected,
            actual,
        }) => {
            assert_eq!(kind, ChecksumKind::Sha1);
            assert_eq!(expected, "0".repeat(40));
            assert_eq!(actual, sha1_hex(data));
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    assert!(!store.exists(&sha256).await.expect("exists"));
    assert!(tmp_files(&store).is_empty());

    // Fewer bytes than expected.
    let mut w = store
        .begin_write(Expected::default().with_size(100))
        .await
        .expect("begin");
    w.write_chunk(data).await.expect("write");
    assert!(matches!(
        w.finish().await,
        Err(StoreError::SizeMismatch {
            expected: 100,
            actual: 18
        })
    ));
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test]
async fn limits_hold_during_writing() {
    let (_dir, store) = new_store().await;
    let mut w = store
        .begin_write(Expected::default().with_max_size(10))
        .await
        .expect("begin");
    w.write_chunk(b"12345").await.expect("under the limit");
    w.write_chunk(b"12345").await.expect("exactly at the limit");
    assert!(matches!(
        w.write_chunk(b"x").await,
        Err(StoreError::TooLarge { max: 10 })
    ));
    assert_eq!(
        w.bytes_written(),
        10,
        "the chunk over the limit was not written"
    );
    assert!(matches!(
        w.write_chunk(b"").await,
        Err(StoreError::WriterFailed)
    ));
    assert!(matches!(w.finish().await, Err(StoreError::WriterFailed)));
    assert!(tmp_files(&store).is_empty());

    // An exact size is also a ceiling, reported as such.
    let mut w = store
        .begin_write(Expected::default().with_size(4).with_max_size(100))
        .await
        .expect("begin");
    assert!(matches!(
        w.write_chunk(b"12345").await,
        Err(StoreError::LongerThanExpected { expected: 4 })
    ));
    drop(w);
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test]
async fn dropped_writer_leaves_no_temp_file() {
    let (_dir, store) = new_store().await;
    let mut w = store.begin_write(Expected::default()).await.expect("begin");
    w.write_chunk(&[7u8; 1 << 20]).await.expect("write");
    assert_eq!(tmp_files(&store).len(), 1);
    drop(w);
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test]
async fn temp_artifacts_are_verified_then_persisted_or_removed() {
    let (_dir, store) = new_store().await;
    let mut w = store.begin_write(Expected::default()).await.expect("begin");
    w.write_chunk(b"<repomd/>").await.expect("write");
    let temp = w.finish_temp().await.expect("finish_temp");
    assert!(temp.path().starts_with(store.tmp_dir()));
    assert_eq!(
        std::fs::read(temp.path()).expect("temp content"),
        b"<repomd/>"
    );
    let artifact = temp.artifact();
    drop(temp);
    assert!(tmp_files(&store).is_empty());
    assert!(!store.exists(&artifact.sha256).await.expect("exists"));

    let mut w = store.begin_write(Expected::default()).await.expect("begin");
    w.write_chunk(b"<repomd/>").await.expect("write");
    let stored = w
        .finish_temp()
        .await
        .expect("finish_temp")
        .persist()
        .await
        .expect("persist");
    assert_eq!(stored, artifact);
    assert!(store.exists(&artifact.sha256).await.expect("exists"));
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_of_one_content_leave_one_copy() {
    let (_dir, store) = new_store().await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (store, data, barrier) = (store.clone(), data.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let written = async {
                let mut w = store
                    .begin_write(Expected::default().with_size(data.len() as u64))
                    .await?;
                for chunk in data.chunks(7000) {
                    w.write_chunk(chunk).await?;
                }
                Ok::<_, StoreError>(w)
            }
            .await;
            barrier.wait().await; // all finish at the same moment
            written?.finish().await
        }));
    }
    let mut digests = BTreeSet::new();
    for t in tasks {
        digests.insert(t.await.expect("join").expect("finish").sha256);
    }
    assert_eq!(digests.len(), 1);
    let all: Vec<_> = store.list().into_stream().collect().await;
    assert_eq!(all.len(), 1, "one copy: {all:?}");
    assert!(tmp_files(&store).is_empty());
    assert_eq!(
        std::fs::read(store.path(digests.first().expect("one"))).expect("read"),
        data
    );
}

#[tokio::test]
async fn import_file_copies_and_verifies() {
    let (dir, store) = new_store().await;
    let source = dir.path().join("local.rpm");
    std::fs::write(&source, vec![42u8; 200_000]).expect("write source");
    let artifact = store
        .import_file(&source, Expected::default())
        .await
        .expect("import");
    assert_eq!(artifact.size, 200_000);
    assert!(source.exists(), "the source is copied, not moved");
    let err = store
        .import_file(&source, Expected::default().with_size(5))
        .await
        .expect_err("too long");
    assert!(matches!(
        err,
        StoreError::LongerThanExpected { expected: 5 }
    ));
    let missing = store
        .import_file(&dir.path().join("nope"), Expected::default())
        .await;
    assert!(matches!(missing, Err(StoreError::Io { op: "open", .. })));
    assert!(tmp_files(&store).is_empty());
}

#[tokio::test]
async fn list_yields_every_artifact_and_skips_strays() {
    let (_dir, store) = new_store().await;
    let mut want = BTreeSet::new();
    for i in 0..300u32 {
        want.insert(store.put_bytes(&i.to_be_bytes()).await.expect("put").sha256);
    }
    // Strays that must not be reported as artifacts.
    let artifacts = store.root().join("artifacts");
    std::fs::write(artifacts.join("README"), b"x").expect("stray file");
    std::fs::create_dir_all(artifacts.join("zz")).expect("stray dir");
    std::fs::write(artifacts.join("zz").join("a".repeat(62)), b"x").expect("stray in bad shard");
    let shard = store
        .path(want.first().expect("some"))
        .parent()
        .expect("shard")
        .to_path_buf();
    std::fs::write(shard.join(".nfs000123"), b"x").expect("nfs leftover");

    let mut list = store.list();
    let mut got = Vec::new();
    while let Some(item) = list.next().await {
        got.push(item.expect("list"));
    }
    assert_eq!(got.len(), 300);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

#[tokio::test]
async fn cleanup_tmp_removes_only_old_leftovers() {
    let (_dir, store) = new_store().await;
    let old = store.tmp_dir().join("crashed-1234.part");
    std::fs::write(&old, b"partial").expect("leftover");
    let day_ago = SystemTime::now() - Duration::from_secs(86_400);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .expect("open")
        .set_modified(day_ago)
        .expect("set mtime");
    let mut active = store.begin_write(Expected::default()).await.expect("begin");
    active.write_chunk(b"in progress").await.expect("write");

    let removed = store
        .cleanup_tmp(Duration::from_secs(3600))
        .await
        .expect("cleanup");
    assert_eq!(removed, 1);
    assert!(!old.exists());
    assert_eq!(tmp_files(&store).len(), 1, "the active writer's file stays");
    active.finish().await.expect("active writer still finishes");
    assert_eq!(store.cleanup_tmp(Duration::ZERO).await.expect("cleanup"), 0);
}

#[test]
fn hostile_digests_never_become_paths() {
    for bad in [
        "../../../../etc/passwd",
        "/etc/passwd",
        "..",
        "",
        "AB",
        &"A".repeat(64),
    ] {
        assert!(Sha256Digest::parse(bad).is_err(), "{bad}");
    }
    let ok = Sha256Digest::parse(&"ab".repeat(32)).expect("valid");
    assert_eq!(ok.to_hex(), "ab".repeat(32));
}

#[tokio::test]
async fn a_write_cancelled_half_way_poisons_the_writer() {
    let (_dir, store) = new_store().await;
    let big = vec![1u8; 8 << 20];
    // Poll a write exactly once, then drop it. tokio hands file writes to
    // its blocking pool in pieces of at most 2 MiB and the write is usually
    // still pending after one poll; on a busy machine the blocking thread
    // may win every race, so try a few writers until one is cut short.
    // (A timeout instead of the single poll is not enough: the timer rounds
    // up to the next millisecond, time enough for the write to complete.)
    let mut cut_short = None;
    for _ in 0..50 {
        let mut w = store.begin_write(Expected::default()).await.expect("begin");
        let pending = {
            let mut fut = std::pin::pin!(w.write_chunk(&big));
            futures::poll!(fut.as_mut()).is_pending()
        };
        if pending {
            cut_short = Some(w);
            break;
        }
    }
    let mut w = cut_short.expect("no write was still pending after one poll in 50 tries");
    assert!(matches!(
        w.write_chunk(b"more").await,
        Err(StoreError::WriterFailed)
    ));
    assert!(matches!(w.finish().await, Err(StoreError::WriterFailed)));
    assert!(tmp_files(&store).is_empty());
    assert!(store.list().next().await.is_none());
}

/// Sets the modification time of a file or directory.
fn age(path: &std::path::Path, by: Duration) {
    std::fs::File::open(path)
        .expect("open")
        .set_modified(SystemTime::now() - by)
        .expect("set mtime");
}

/// Makes `dir/rel` (a file with `bytes`), creating parents.
fn put(dir: &std::path::Path, rel: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
    std::fs::write(&p, bytes).expect("write");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starting_worker_removes_what_killed_ones_left_behind() {
    use serde_json::json;
    use support::app::App;
    let two_hours = Duration::from_secs(7200);
    // No worker yet: plant leftovers first.
    let mut app = App::start_with(0, |_| {}).await;
    let root = app.services.settings.storage_path.clone();
    // tmp/: an abandoned file and directory, and a fresh file (another
    // host's download in progress).
    let old_part = put(&root, "tmp/dead-1.part", b"partial");
    age(&old_part, two_hours);
    let old_dir = put(&root, "tmp/dead-dir/x", b"x");
    age(&old_dir, two_hours);
    age(&root.join("tmp/dead-dir"), two_hours);
    let fresh_part = put(&root, "tmp/live-2.part", b"being written");
    // publications/: an abandoned staging tree, one being built (an old
    // directory with a file just written deep inside), and a finished
    // publication that is old but not a temp directory.
    let pubs = root.join("publications");
    for f in ["a/b/repomd.xml", "a/PULP_MANIFEST"] {
        age(&put(&pubs, &format!(".tmp-dead/{f}"), b"m"), two_hours);
    }
    for d in [".tmp-dead/a/b", ".tmp-dead/a", ".tmp-dead"] {
        age(&pubs.join(d), two_hours);
    }
    age(&put(&pubs, ".tmp-busy/old.txt", b"o"), two_hours);
    put(&pubs, ".tmp-busy/Packages/a/new.rpm", b"just now");
    age(&pubs.join(".tmp-busy"), two_hours);
    let finished = put(
        &pubs,
        "0190aaaa-0000-7000-8000-000000000000/PULP_MANIFEST",
        b"done",
    );
    age(&finished, two_hours);
    age(finished.parent().unwrap(), two_hours);

    app.spawn_worker();
    // Any task that completed ran on that worker, after its start-up cleanup.
    let t = app
        .run_task(
            "/pulp/api/v3/orphans/cleanup/",
            json!({"orphan_protection_time": 0}),
        )
        .await;
    assert_eq!(t["state"], "completed", "{t}");
    assert!(!old_part.exists(), "old temp file removed");
    assert!(
        !root.join("tmp/dead-dir").exists(),
        "old temp directory removed"
    );
    assert!(
        !pubs.join(".tmp-dead").exists(),
        "abandoned publication removed"
    );
    assert!(fresh_part.exists(), "a fresh temp file stays");
    assert!(
        pubs.join(".tmp-busy/Packages/a/new.rpm").exists()
            && pubs.join(".tmp-busy/old.txt").exists(),
        "a publication being built stays"
    );
    assert!(
        finished.exists(),
        "finished publications are not temp files"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleanup_age_is_a_setting() {
    use support::app::App;
    let app = App::start_with(0, |s| s.stale_temp_age = Duration::from_secs(60)).await;
    let root = app.services.settings.storage_path.clone();
    let minutes = put(&root, "tmp/five-minutes.part", b"p");
    age(&minutes, Duration::from_secs(300));
    let staging = put(&root, "publications/.tmp-x/f", b"p");
    age(&staging, Duration::from_secs(300));
    age(staging.parent().unwrap(), Duration::from_secs(300));
    let recent = put(&root, "tmp/recent.part", b"p");
    age(&recent, Duration::from_secs(10));
    let removed = pulp_app::tasks::cleanup_stale_temp(&app.services)
        .await
        .expect("cleanup");
    assert_eq!(removed, 2);
    assert!(!minutes.exists() && !staging.exists() && recent.exists());
    app.stop().await;
}
