#[taskq::task(name = "ui.generic")]
async fn generic<T: serde::Serialize>(value: T) -> Result<(), taskq::TaskError> {
    let _ = value;
    Ok(())
}

fn main() {}
