//! pulp-app: a software repository manager in the spirit of Pulp, built on
//! taskq.
//!
//! | module | what |
//! |---|---|
//! | [`checksum`] | checksum algorithms, validated digests, streaming hashers |
//! | [`download`] | verified, streaming, retrying HTTP and `file://` downloads |
//! | [`plugins`] | content types: [`plugins::rpm`] (yum metadata, `.rpm` headers) |
//! | [`relpath`] | the safety check for relative paths from remote metadata |
//! | [`storage`] | the content-addressed artifact store |
//!
//! No module reads environment variables or installs a tracing subscriber;
//! the binary does that.

pub mod checksum;
pub mod download;
pub mod plugins;
pub mod relpath;
pub mod storage;
mod text;
