//! A distributed lock: four contenders take turns on one lock; each grant
//! carries a larger fencing token than the one before.
//!
//! Run with: `cargo run -p examples --example distributed_lock`

use std::time::Duration;

use taskq::lock::Lock;

#[tokio::main]
async fn main() -> taskq::Result<()> {
    let setup = examples::setup("examples-lock").await;
    let mut contenders = Vec::new();
    for who in 0..4 {
        let lock = Lock::new(&setup.broker, "report:monthly");
        contenders.push(tokio::spawn(async move {
            // A 5 s lease, renewed while held; wait up to 30 s for a turn.
            let guard = lock
                .acquire(Duration::from_secs(5), Duration::from_secs(30))
                .await?;
            println!(
                "contender {who} holds the lock, fencing token {}",
                guard.fencing_token()
            );
            tokio::select! {
                () = guard.lost() => println!("contender {who} lost its lease"),
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            guard.release().await?;
            Ok::<_, taskq::Error>(())
        }));
    }
    for c in contenders {
        c.await.expect("contender task")?;
    }
    Ok(())
}
