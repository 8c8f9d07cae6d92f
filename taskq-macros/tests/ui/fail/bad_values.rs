#[taskq::task(name = "ui.bad", time_limit = "ten seconds", priority = "urgent", max_retries = "3", rate_limit = "fast")]
async fn bad() -> Result<(), taskq::TaskError> {
    Ok(())
}

fn main() {}
