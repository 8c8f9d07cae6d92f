use taskq::{TaskContext, TaskError, task};

struct Db;

#[task(name = "ui.needs_db")]
async fn needs_db(ctx: TaskContext<Db>) -> Result<(), TaskError> {
    let _ = ctx;
    Ok(())
}

fn main() {
    // A worker without state cannot run a task that needs a `Db`.
    let _ = taskq::worker::Worker::builder(taskq::MemoryBroker::new()).register::<needs_db>();
}
