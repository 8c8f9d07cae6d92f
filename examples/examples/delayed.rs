//! Delayed tasks: a countdown and an ETA. They wait in Redis (a sorted set),
//! not in a worker's memory, so they survive worker restarts.
//!
//! Run with: `cargo run -p examples --example delayed`

use std::time::{Duration, Instant, SystemTime};

use taskq::worker::Worker;
use taskq::{Client, TaskError, task};

#[task(name = "examples.remind")]
async fn remind(what: String) -> Result<String, TaskError> {
    Ok(format!("reminder: {what}"))
}

#[tokio::main]
async fn main() -> taskq::Result<()> {
    let setup = examples::setup("examples-delayed").await;
    let worker = Worker::builder(setup.broker.clone())
        .register::<remind>()
        .build()?
        .spawn();
    let client = Client::new(setup.broker.clone());

    let start = Instant::now();
    let soon = client
        .send(remind::call("stretch".into()).countdown(Duration::from_secs(1)))
        .await?;
    let later = client
        .send(remind::call("drink water".into()).eta(SystemTime::now() + Duration::from_secs(2)))
        .await?;
    println!("state right after sending: {}", soon.state().await?);
    println!(
        "{} after {:?}",
        soon.wait(Duration::from_secs(10)).await?,
        start.elapsed()
    );
    println!(
        "{} after {:?}",
        later.wait(Duration::from_secs(10)).await?,
        start.elapsed()
    );
    worker.shutdown().await
}
