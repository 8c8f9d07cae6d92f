//! pulp-app's verified downloader over loopback HTTP, into the artifact
//! store.
//!
//! Run with: `cargo run --release -p benches --bin download_throughput`
//!
//! Serves content from memory with axum on 127.0.0.1 and measures:
//! - one 512 MiB artifact through `download_to_store` (SHA-256, size check
//!   and fsync included);
//! - the same file into memory with `fetch_bytes`;
//! - 200 artifacts of 10 kB, started at once (the downloader runs 10 at a
//!   time).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pulp_app::checksum::{Checksum, Sha256Digest};
use pulp_app::download::{Downloader, DownloaderConfig};
use pulp_app::storage::{ArtifactStore, Expected};
use tokio::net::TcpListener;

type Files = Arc<HashMap<String, Bytes>>;

/// Deterministic content of `len` bytes.
fn content(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

async fn file(State(files): State<Files>, Path(name): Path<String>) -> Response {
    match files.get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Serves `files` at `/f/<name>`; returns the base URL.
async fn serve(files: HashMap<String, Bytes>) -> std::io::Result<String> {
    let router = Router::new()
        .route("/f/{name}", get(file))
        .with_state(Arc::new(files));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{addr}"))
}

fn expect_for(data: &[u8]) -> Expected {
    Expected::default()
        .with_size(data.len() as u64)
        .with_checksum(Checksum::sha256(Sha256Digest::of(data)))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let size = 512 * 1024 * 1024;
    let big = content(size, 9);
    let small: HashMap<String, Bytes> = (0..200)
        .map(|i| (format!("s{i}"), content(10_000, i as u8)))
        .collect();
    let mut all = small.clone();
    all.insert("big".to_owned(), big.clone());
    let base = serve(all).await?;
    let dir = tempfile::tempdir()?;
    let store = ArtifactStore::new(dir.path().join("media")).await?;
    let dl = Downloader::new(DownloaderConfig::default())?;
    println!("machine: {}", benches::machine());

    let started = Instant::now();
    dl.download_to_store(&format!("{base}/f/big"), &expect_for(&big), &store)
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "one 512 MiB artifact: {:.0} MiB/s ({secs:.2} s, sha256 + fsync included)",
        512.0 / secs
    );

    let started = Instant::now();
    let bytes = dl
        .fetch_bytes(&format!("{base}/f/big"), size as u64)
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "the same into memory (fetch_bytes): {:.0} MiB/s",
        bytes.len() as f64 / f64::from(1 << 20) / secs
    );
    drop(bytes);

    let started = Instant::now();
    let tasks: Vec<_> = small
        .iter()
        .map(|(name, bytes)| {
            let (dl, store, url, expected) = (
                dl.clone(),
                store.clone(),
                format!("{base}/f/{name}"),
                expect_for(bytes),
            );
            tokio::spawn(async move { dl.download_to_store(&url, &expected, &store).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "200 artifacts of 10 kB, 10 at a time: {:.0} files/s",
        200.0 / secs
    );
    Ok(())
}
