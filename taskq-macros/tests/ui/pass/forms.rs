use std::time::Duration;

use taskq::{Task, TaskContext, TaskError, task};

#[derive(Clone)]
struct Db;

#[task(name = "ui.no_args")]
async fn no_args() -> Result<(), TaskError> {
    Ok(())
}

#[task(
    name = "ui.all_options",
    queue = "sync",
    priority = "high",
    max_retries = 5,
    retry_delay = "250ms",
    retry_delay_max = "1h",
    retry_jitter = false,
    soft_time_limit = "30s",
    time_limit = "1m",
    expires = "2h",
    result_ttl = "1d",
    on_worker_lost = "fail",
    rate_limit = "100/s"
)]
pub async fn all_options(name: String, sizes: Vec<u64>) -> Result<usize, TaskError> {
    Ok(name.len() + sizes.len())
}

#[task(name = "ui.stateless_ctx")]
async fn stateless_ctx(ctx: TaskContext, n: u32) -> Result<u32, TaskError> {
    Ok(n + ctx.attempt())
}

#[task(name = "ui.state_ctx")]
async fn state_ctx(ctx: TaskContext<Db>, n: u32) -> Result<u32, TaskError> {
    let _db: &Db = ctx.state();
    Ok(n)
}

#[task(name = "ui.ref_ctx")]
async fn ref_ctx(ctx: &TaskContext<Db>) -> Result<String, TaskError> {
    Ok(ctx.id().to_string())
}

/// Any std error type works: it converts into a retryable `TaskError`.
#[derive(Debug, thiserror::Error)]
#[error("custom")]
struct Custom;

#[task(name = "ui.custom_error")]
async fn custom_error(fail: bool) -> Result<(), Custom> {
    if fail { Err(Custom) } else { Ok(()) }
}

fn main() {
    assert_eq!(<all_options as Task>::NAME, "ui.all_options");
    let o = <all_options as Task>::OPTIONS;
    assert_eq!(o.queue, "sync");
    assert_eq!(o.retry.max_retries, 5);
    assert_eq!(o.retry.base_delay, Duration::from_millis(250));
    assert_eq!(o.time_limit, Some(Duration::from_secs(60)));
    assert_eq!(o.on_worker_lost, taskq::OnWorkerLost::Fail);
    assert_eq!(o.rate_limit, Some(taskq::RateLimit::per_second(100)));
    assert_eq!(all_options::call("x".into(), vec![]).options().rate_limit, o.rate_limit);
    let call = all_options::call("x".into(), vec![1, 2]);
    assert_eq!(call.args().1, vec![1, 2]);
    let _ = no_args::call();
    let _ = stateless_ctx::call(1);
    let _ = state_ctx::call(1);
    let _ = ref_ctx::call();
    let _ = custom_error::call(true);
    // Registering on a worker whose state matches compiles.
    let _ = taskq::worker::Worker::builder(taskq::MemoryBroker::new())
        .state(Db)
        .register::<no_args>()
        .register::<stateless_ctx>()
        .register::<state_ctx>()
        .register::<ref_ctx>();
}
