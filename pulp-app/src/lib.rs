//! pulp-app: a software repository manager in the spirit of Pulp, built on
//! taskq.
//!
//! | module | what |
//! |---|---|
//! | [`api`] | the Pulp 3 compatible REST API (axum), its OpenAPI document, auth |
//! | [`content`] | the content app serving publications |
//! | [`catalog`] | remotes, repositories, versions, content, ... in Redis |
//! | [`tasks`] | syncs, publishes and other work run by workers (taskq tasks) |
//! | [`plugins`] | `file` (PULP_MANIFEST) and `rpm` (yum metadata, `.rpm` headers) |
//! | [`checksum`] | checksum algorithms, validated digests, streaming hashers |
//! | [`relpath`] | the safety check for relative paths from remote metadata |
//! | [`storage`], [`download`] | content-addressed artifacts, verified downloads |
//! | [`schedules`] | scheduled syncs, fired by `pulp-app beat` |
//! | [`config`], [`services`], [`run`] | settings, shared services, the processes |
//!
//! Only the binary reads the environment (through [`config`]) and installs a
//! tracing subscriber.

pub mod api;
pub mod catalog;
pub mod checksum;
pub mod config;
pub mod content;
pub mod download;
pub mod plugins;
pub mod relpath;
pub mod run;
pub mod schedules;
pub mod services;
pub mod storage;
pub mod tasks;
mod text;
