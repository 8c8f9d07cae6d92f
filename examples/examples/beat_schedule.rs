//! Beat: a schedule stored in Redis fires a task every second; two beats
//! run, yet each occurrence is sent once. The schedule is then changed and
//! disabled at run time.
//!
//! Run with: `cargo run -p examples --example beat_schedule`

use std::time::Duration;

use taskq::beat::{Beat, BeatConfig, Schedule, Schedules, When};
use taskq::worker::Worker;
use taskq::{TaskContext, TaskError, task};

#[task(name = "examples.tick")]
async fn tick(ctx: TaskContext, label: String) -> Result<(), TaskError> {
    // The id says which occurrence this is: beat:<schedule>:<due ms>.
    println!("{label}: {}", ctx.id());
    Ok(())
}

#[tokio::main]
async fn main() -> taskq::Result<()> {
    let setup = examples::setup("examples-beat").await;
    let worker = Worker::builder(setup.broker.clone())
        .register::<tick>()
        .build()?
        .spawn();
    let schedules = Schedules::new(&setup.broker);
    schedules
        .put(&Schedule::new(
            "ticker",
            When::cron("* * * * * *")?,
            tick::call("every second".into()).into_raw()?,
        ))
        .await?;

    // Two beats, as two processes would run them: each occurrence fires once.
    let beats = [
        Beat::new(schedules.clone(), BeatConfig::default()).spawn(),
        Beat::new(schedules.clone(), BeatConfig::default()).spawn(),
    ];
    tokio::time::sleep(Duration::from_millis(3500)).await;

    // Change it while the beats run: an ISO 8601 repeating interval, 3 runs.
    schedules
        .put(&Schedule::new(
            "ticker",
            When::iso8601("R3/PT1S")?,
            tick::call("three more".into()).into_raw()?,
        ))
        .await?;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    if let Some(entry) = schedules.get("ticker").await? {
        println!(
            "fired {} times; remaining {:?}; last outcome {:?}",
            entry.total_runs, entry.remaining_runs, entry.last_outcome
        );
    }
    schedules.delete("ticker").await?;
    for (stop, handle) in beats {
        stop.cancel();
        handle.await.expect("beat task")?;
    }
    worker.shutdown().await
}
