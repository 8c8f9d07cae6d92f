//! A producer and a worker: the worker runs `thumbnail` tasks, the producer
//! sends 20 of them and waits for every result.
//!
//! Run with: `cargo run -p examples --example producer_worker`
//!
//! Both roles run in one process unless you pass a role; with `REDIS_URL` set
//! you can run them in separate processes or on separate hosts:
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run -p examples --example producer_worker -- worker
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run -p examples --example producer_worker -- producer
//! ```

use std::time::{Duration, Instant};

use taskq::worker::Worker;
use taskq::{Client, TaskError, task};

/// Pretends to make a thumbnail of an image and returns its size.
#[task(name = "images.thumbnail", queue = "images")]
async fn thumbnail(path: String, width: u32) -> Result<(String, u32), TaskError> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok((format!("{path}.thumb.png"), width))
}

#[tokio::main]
async fn main() -> taskq::Result<()> {
    let role = std::env::args().nth(1).unwrap_or_default();
    let setup = examples::setup("examples").await;
    let broker = setup.broker.clone();

    let worker = match role.as_str() {
        "producer" => None,
        _ => {
            let w = Worker::builder(broker.clone())
                .register::<thumbnail>()
                .queue("images")
                .concurrency(8)
                .build()?;
            if role == "worker" {
                println!("worker running; Ctrl-C to stop");
                return w.run().await;
            }
            Some(w.spawn())
        }
    };

    let client = Client::new(broker);
    let started = Instant::now();
    let calls = (0..20).map(|i| thumbnail::call(format!("photo-{i}.jpg"), 128));
    let pending = client.send_batch(calls).await?;
    println!("sent {} tasks", pending.len());
    for p in &pending {
        let (thumb, width) = p.wait(Duration::from_secs(30)).await?;
        println!("{}: {thumb} ({width}px)", p.id());
    }
    println!("all {} done in {:?}", pending.len(), started.elapsed());

    if let Some(w) = worker {
        w.shutdown().await?;
    }
    Ok(())
}
