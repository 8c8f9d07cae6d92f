//! pulp-app: placeholder until the catalog and API land.

fn main() {
    println!("pulp-app {}", env!("CARGO_PKG_VERSION"));
}
