#[taskq::task(name = "ui.unknown", retries = 3)]
async fn unknown() -> Result<(), taskq::TaskError> {
    Ok(())
}

fn main() {}
