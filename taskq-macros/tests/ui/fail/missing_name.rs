#[taskq::task(queue = "q")]
async fn nameless() -> Result<(), taskq::TaskError> {
    Ok(())
}

fn main() {}
