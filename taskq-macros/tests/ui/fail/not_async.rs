#[taskq::task(name = "ui.sync")]
fn not_async() -> Result<(), taskq::TaskError> {
    Ok(())
}

fn main() {}
