//! Paths used by code that `#[task]` generates. Not public API.

pub use std::boxed::Box;
pub use std::future::Future;
pub use std::result::Result;
pub use std::time::Duration;

pub use crate::task::{
    Handler, OnWorkerLost, Priority, RateLimit, Signature, Task, TaskContext, TaskError,
    TaskOptions,
};
