//! What a worker session knows it owns, so that it can find what it owns
//! without knowing.
//!
//! A fetch (or a finish that hands over waiters) moves frames into the
//! worker's in-flight set in Redis and returns them. If that reply is lost
//! (the connection drops after the script ran), the frames stay in the
//! in-flight set of a worker that is alive and renews its lease, so the
//! reaper never returns them: they would be stuck for as long as the worker
//! lives. The session therefore keeps the ids of every delivery it received
//! until its outcome (or hand-back) is recorded, and on every heartbeat
//! compares them with the in-flight set:
//! an id that it does not know on two consecutive looks is *disowned*
//! (a late reply carrying it is dropped, never run) and handed back to the
//! front of its queue.
//!
//! Replies on one Redis connection arrive in order, so once the hand-back's
//! own reply has come, a late reply of the lost fetch can no longer arrive:
//! the id is then forgotten, and the task may be fetched again normally.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::broker::Delivery;

/// The ids a session owns and knows of, and those it has disowned.
#[derive(Debug, Default)]
pub(crate) struct Held {
    inner: Mutex<Sets>,
}

#[derive(Debug, Default)]
struct Sets {
    /// Received and not yet recorded as finished or handed back.
    known: HashSet<String>,
    /// Found in the in-flight set without being known; being handed back.
    disowned: HashSet<String>,
}

impl Held {
    fn sets(&self) -> std::sync::MutexGuard<'_, Sets> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes on `deliveries` just received, except disowned ones (their
    /// hand-back is under way), which are dropped; returns those to run.
    pub(crate) fn adopt(&self, deliveries: Vec<Delivery>) -> Vec<Delivery> {
        let mut sets = self.sets();
        deliveries
            .into_iter()
            .filter(|d| {
                if sets.disowned.contains(&d.id) {
                    tracing::warn!(task.id = %d.id, "dropping a late delivery of a task already handed back");
                    false
                } else {
                    sets.known.insert(d.id.clone());
                    true
                }
            })
            .collect()
    }

    /// Takes on runs of deliveries handed over by a finish (see
    /// [`crate::broker::FinishReport::deliveries`]). A run is cut before
    /// its first disowned member: the members behind it must not run
    /// before it, so they are not taken on either (reconciliation hands
    /// them back like any unknown task).
    pub(crate) fn adopt_runs(&self, runs: Vec<Vec<Delivery>>) -> Vec<Vec<Delivery>> {
        let mut sets = self.sets();
        let mut kept = Vec::with_capacity(runs.len());
        for run in runs {
            let mut members = Vec::with_capacity(run.len());
            for d in run {
                if sets.disowned.contains(&d.id) {
                    tracing::warn!(task.id = %d.id, "dropping a late delivery of a task already handed back, and the run behind it");
                    break;
                }
                sets.known.insert(d.id.clone());
                members.push(d);
            }
            if !members.is_empty() {
                kept.push(members);
            }
        }
        kept
    }

    /// Whether the session holds task `id` (received, not yet recorded).
    pub(crate) fn knows(&self, id: &str) -> bool {
        self.sets().known.contains(id)
    }

    /// Forgets tasks whose outcome or hand-back is recorded (or that the
    /// session gives up on, so that reconciliation hands them back).
    pub(crate) fn release<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut sets = self.sets();
        for id in ids {
            sets.known.remove(id);
        }
    }

    /// Given the ids in the worker's in-flight set and those found unknown
    /// on the previous look (`suspects`), disowns the ids unknown both
    /// times (or disowned before and still there) and returns them;
    /// `suspects` becomes the ids unknown for the first time.
    pub(crate) fn disown_strays(
        &self,
        in_flight: Vec<String>,
        suspects: &mut HashSet<String>,
    ) -> Vec<String> {
        let mut sets = self.sets();
        let mut strays = Vec::new();
        let mut unknown = HashSet::new();
        for id in in_flight {
            if sets.known.contains(&id) {
                continue;
            }
            // Disowned and still there: its hand-back failed; try again.
            if sets.disowned.contains(&id) || suspects.contains(&id) {
                sets.disowned.insert(id.clone());
                strays.push(id);
            } else {
                unknown.insert(id);
            }
        }
        *suspects = unknown;
        strays
    }

    /// The hand-back of `ids` is recorded: forget that they were disowned.
    pub(crate) fn handed_back(&self, ids: &[String]) {
        let mut sets = self.sets();
        for id in ids {
            sets.disowned.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: &str) -> Delivery {
        Delivery {
            id: id.into(),
            frame: Vec::new(),
        }
    }

    #[test]
    fn strays_are_disowned_on_the_second_look_only() {
        let held = Held::default();
        assert_eq!(held.adopt(vec![d("a")]).len(), 1);
        let mut suspects = HashSet::new();
        let seen = || vec!["a".to_owned(), "b".to_owned()];
        assert!(held.disown_strays(seen(), &mut suspects).is_empty());
        assert_eq!(suspects, HashSet::from(["b".to_owned()]));
        assert_eq!(held.disown_strays(seen(), &mut suspects), ["b"]);
        // A late delivery of a disowned task is dropped; known ones are not.
        assert!(held.adopt(vec![d("b")]).is_empty());
        held.handed_back(&["b".to_owned()]);
        assert_eq!(held.adopt(vec![d("b")]).len(), 1);
        // A run is cut before a disowned member.
        held.handed_back(&["b".to_owned()]);
        held.release(["b"]);
        let mut suspects = HashSet::new();
        held.disown_strays(vec!["c".into()], &mut suspects);
        held.disown_strays(vec!["c".into()], &mut suspects);
        let runs = held.adopt_runs(vec![vec![d("x"), d("c"), d("y")], vec![d("c")]]);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].len(), 1);
        assert!(held.knows("x") && !held.knows("y"));
        // A task whose outcome is recorded becomes a stray if it lingers.
        held.release(["a"]);
        let mut suspects = HashSet::new();
        held.disown_strays(vec!["a".into()], &mut suspects);
        assert_eq!(held.disown_strays(vec!["a".into()], &mut suspects), ["a"]);
    }
}
