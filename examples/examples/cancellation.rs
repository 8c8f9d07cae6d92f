//! Cancellation from any process: a queued task that never runs, and a
//! running task that sees its cancellation token and stops.
//!
//! Run with: `cargo run -p examples --example cancellation`

use std::time::Duration;

use taskq::worker::Worker;
use taskq::{Client, Error, TaskContext, TaskError, TaskState, task};

#[task(name = "examples.crunch")]
async fn crunch(ctx: TaskContext, chunks: u32) -> Result<u32, TaskError> {
    for i in 0..chunks {
        if ctx.is_cancelled() {
            println!(
                "crunch: stopping after {i} chunks ({:?})",
                ctx.cancel_reason()
            );
            return Err(TaskError::Canceled);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(chunks)
}

#[tokio::main]
async fn main() -> taskq::Result<()> {
    let setup = examples::setup("examples-cancel").await;
    let client = Client::new(setup.broker.clone());

    // Canceled while queued (no worker yet): it never runs.
    let queued = client.send(crunch::call(10)).await?;
    println!("cancel queued task: {:?}", queued.cancel().await?);

    let worker = Worker::builder(setup.broker.clone())
        .register::<crunch>()
        .build()?
        .spawn();
    let running = client.send(crunch::call(1000)).await?;
    while running.state().await? != TaskState::Started {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(350)).await;
    println!("cancel running task: {:?}", running.cancel().await?);
    match running.wait(Duration::from_secs(10)).await {
        Err(Error::TaskCanceled(why)) => println!("running task ended: {why}"),
        other => println!("unexpected: {other:?}"),
    }
    println!("queued task state: {}", queued.state().await?);
    worker.shutdown().await
}
