//! The Lua scripts, loaded once per broker. Scripts that touch reservations
//! get `scripts/reservations.lua` prepended (it declares the fixed
//! reservation keys as KEYS[1..6]).

use redis::Script;

const RESERVATIONS: &str = include_str!("scripts/reservations.lua");

fn with_reservations(body: &str) -> Script {
    Script::new(&format!("{RESERVATIONS}\n{body}"))
}

/// Every script the Redis broker runs.
pub(crate) struct Scripts {
    pub(crate) enqueue: Script,
    pub(crate) fetch: Script,
    pub(crate) start: Script,
    pub(crate) finish: Script,
    pub(crate) push_ready: Script,
    pub(crate) worker: Script,
    pub(crate) reap: Script,
    pub(crate) unregister: Script,
    pub(crate) cancel: Script,
    pub(crate) dead_letter: Script,
    pub(crate) progress: Script,
    pub(crate) rate_limit: Script,
    pub(crate) group: Script,
    #[cfg_attr(not(feature = "lock"), allow(dead_code))]
    pub(crate) lock_acquire: Script,
    #[cfg_attr(not(feature = "lock"), allow(dead_code))]
    pub(crate) lock_renew: Script,
    #[cfg_attr(not(feature = "lock"), allow(dead_code))]
    pub(crate) lock_release: Script,
    #[cfg_attr(not(feature = "beat"), allow(dead_code))]
    pub(crate) beat_put: Script,
    #[cfg_attr(not(feature = "beat"), allow(dead_code))]
    pub(crate) beat_fire: Script,
    #[cfg_attr(not(feature = "beat"), allow(dead_code))]
    pub(crate) beat_outcome: Script,
}

impl Scripts {
    pub(crate) fn load() -> Self {
        Scripts {
            enqueue: with_reservations(include_str!("scripts/enqueue.lua")),
            fetch: Script::new(include_str!("scripts/fetch.lua")),
            start: Script::new(include_str!("scripts/start.lua")),
            finish: with_reservations(include_str!("scripts/finish.lua")),
            push_ready: with_reservations(include_str!("scripts/push_ready.lua")),
            worker: Script::new(include_str!("scripts/worker.lua")),
            reap: with_reservations(include_str!("scripts/reap.lua")),
            unregister: Script::new(include_str!("scripts/unregister.lua")),
            cancel: with_reservations(include_str!("scripts/cancel.lua")),
            dead_letter: with_reservations(include_str!("scripts/dead_letter.lua")),
            progress: Script::new(include_str!("scripts/progress.lua")),
            rate_limit: Script::new(include_str!("scripts/rate_limit.lua")),
            group: Script::new(include_str!("scripts/group.lua")),
            lock_acquire: Script::new(include_str!("scripts/lock_acquire.lua")),
            lock_renew: Script::new(include_str!("scripts/lock_renew.lua")),
            lock_release: Script::new(include_str!("scripts/lock_release.lua")),
            beat_put: Script::new(include_str!("scripts/beat_put.lua")),
            // The CAS prelude, then enqueue.lua's body: one atomic step.
            beat_fire: with_reservations(&format!(
                "{}\n{}",
                include_str!("scripts/beat_fire.lua"),
                include_str!("scripts/enqueue.lua")
            )),
            beat_outcome: Script::new(include_str!("scripts/beat_outcome.lua")),
        }
    }
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripts")
    }
}
