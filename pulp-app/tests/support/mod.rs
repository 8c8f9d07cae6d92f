//! Helpers shared by the integration tests. Every test binary includes all
//! of them (`mod support;`) and uses some.

#![allow(dead_code, missing_docs, unreachable_pub)]

pub mod app;
pub mod fixtures;
pub mod metadata;
pub mod rpm;
pub mod store;
pub mod synth;
