#[taskq::task(name = "ui.borrowed")]
async fn borrowed(name: &str) -> Result<usize, taskq::TaskError> {
    Ok(name.len())
}

fn main() {}
