//! Shared setup for the examples in `examples/examples/`.
//!
//! Every example talks to Redis: to the one at `$REDIS_URL` if set, otherwise
//! to a private `redis-server` it starts on a free port (and stops on exit).

use taskq::testing::RedisServer;
use taskq::{RedisBroker, RedisConfig};

/// A broker, and the private server behind it when one was started.
#[derive(Debug)]
pub struct Setup {
    /// The broker.
    pub broker: RedisBroker,
    /// The private server, kept alive while the example runs.
    pub server: Option<RedisServer>,
}

/// Connects to `$REDIS_URL`, or starts a private redis-server.
///
/// # Panics
/// If Redis cannot be reached or started (the message says how to fix it).
pub async fn setup(namespace: &str) -> Setup {
    let (url, server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = RedisServer::start().unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}); install it with `apt-get install -y redis-server` or set REDIS_URL")
            });
            (server.url(), Some(server))
        }
    };
    let broker = RedisBroker::connect_with(RedisConfig::new(url.clone()).namespace(namespace))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    Setup { broker, server }
}
