//! Progress reports: a task publishes how far it got; the caller watches.
//!
//! Run with: `cargo run -p examples --example progress`

use std::time::Duration;

use serde::{Deserialize, Serialize};
use taskq::worker::Worker;
use taskq::{Client, TaskContext, TaskError, TaskState, task};

#[derive(Debug, Serialize, Deserialize)]
struct Progress {
    done: u32,
    total: u32,
}

#[task(name = "examples.download")]
async fn download(ctx: TaskContext, files: u32) -> Result<u32, TaskError> {
    for done in 1..=files {
        tokio::time::sleep(Duration::from_millis(150)).await;
        ctx.progress(&Progress { done, total: files }).await?;
    }
    Ok(files)
}

#[tokio::main]
async fn main() -> taskq::Result<()> {
    let setup = examples::setup("examples-progress").await;
    let worker = Worker::builder(setup.broker.clone())
        .register::<download>()
        .build()?
        .spawn();
    let client = Client::new(setup.broker.clone());

    let task = client.send(download::call(8)).await?;
    loop {
        let state = task.state().await?;
        if let Some(p) = task.progress::<Progress>().await? {
            println!("{state}: {}/{}", p.done, p.total);
        }
        if state.is_final() || state == TaskState::Succeeded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("downloaded {}", task.wait(Duration::from_secs(10)).await?);
    worker.shutdown().await
}
