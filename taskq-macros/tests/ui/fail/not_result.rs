#[taskq::task(name = "ui.plain")]
async fn plain() -> u32 {
    1
}

fn main() {}
