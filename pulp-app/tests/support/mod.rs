//! Helpers shared by the integration tests. Every test binary includes all
//! of them (`mod support;`) and uses some.
//!
//! Tests that need outside tools (rpmbuild, createrepo_c, modifyrepo_c,
//! dnf, zstd, python3, openssl, pulp-cli) skip with a loud notice when one
//! is missing, so that `cargo test` runs anywhere. Set
//! `PULP_APP_REQUIRE_TOOLS=1` (as `scripts/test.sh` does) to make a missing
//! tool fail the test instead, with the command that installs it
//! ([`fixtures::skip_without`], [`fixtures::skip_or_fail`]): a machine
//! that lost a tool then cannot pass by skipping.

#![allow(dead_code, missing_docs, unreachable_pub)]

pub mod app;
pub mod fixtures;
pub mod metadata;
pub mod puppet;
pub mod rpm;
pub mod store;
pub mod synth;
