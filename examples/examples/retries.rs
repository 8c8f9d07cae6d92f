//! Retries with exponential backoff: a task that fails twice with a
//! transient error succeeds on its third attempt; one that fails with
//! `TaskError::fail` is not retried.
//!
//! Run with: `cargo run -p examples --example retries`

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use taskq::worker::Worker;
use taskq::{Client, Error, TaskContext, TaskError, task};

static CALLS: AtomicU32 = AtomicU32::new(0);

#[task(name = "examples.fetch_feed", max_retries = 5, retry_delay = "200ms")]
async fn fetch_feed(ctx: TaskContext, url: String) -> Result<usize, TaskError> {
    let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    println!("attempt {} of {url}", ctx.attempt());
    if n < 3 {
        // `?` on any std error means "retry later".
        Err(std::io::Error::other("connection reset"))?;
    }
    Ok(42)
}

#[task(name = "examples.validate", max_retries = 5)]
async fn validate(input: String) -> Result<(), TaskError> {
    Err(TaskError::fail(format!(
        "{input:?} is not valid; retrying cannot help"
    )))
}

#[tokio::main]
async fn main() -> taskq::Result<()> {
    let setup = examples::setup("examples-retries").await;
    let worker = Worker::builder(setup.broker.clone())
        .register::<fetch_feed>()
        .register::<validate>()
        .build()?
        .spawn();
    let client = Client::new(setup.broker.clone());

    let items = client
        .send(fetch_feed::call("https://example.invalid/feed".into()))
        .await?;
    println!("feed items: {}", items.wait(Duration::from_secs(30)).await?);
    println!(
        "attempts recorded: {}",
        items.record().await?.map(|r| r.attempt).unwrap_or(0)
    );

    let bad = client.send(validate::call("???".into())).await?;
    match bad.wait(Duration::from_secs(30)).await {
        Err(Error::TaskFailed(f)) => println!("validate failed for good: {f}"),
        other => println!("unexpected: {other:?}"),
    }
    worker.shutdown().await
}
