#[taskq::task(name = "ui.dup", queue = "a", queue = "b")]
async fn dup() -> Result<(), taskq::TaskError> {
    Ok(())
}

fn main() {}
