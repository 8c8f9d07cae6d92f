//! Compile-time behaviour of `#[task]`: what compiles, and the exact errors
//! (and their spans) for the common mistakes. The expected `.stderr` files
//! are generated with `TRYBUILD=overwrite cargo test -p taskq-macros --test ui`
//! and reviewed; they are tied to the toolchain in rust-toolchain (stable).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
