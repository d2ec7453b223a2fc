//! The peers' next timeouts, soonest first. Finding the node's next
//! deadline and the peers due at a time costs a heap operation per change
//! of a peer's timeout, instead of a scan of every peer on every datagram
//! and every wake-up (which grew with the peers on the node).
//!
//! An entry is current while its time equals its peer's `timeout` and the
//! peer is not being served; others are stale and dropped when they reach
//! the top. The owner keeps the invariant: every peer has a current entry,
//! except while `take_due` has handed it out and its drain has not yet set
//! its next timeout.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::PeerKey;

/// Stale entries beyond this many per peer (plus a floor) cause a rebuild.
const STALE_PER_PEER: usize = 4;
const STALE_FLOOR: usize = 1_024;

#[derive(Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, PeerKey)>>,
}

impl Timers {
    /// A peer's timeout is `at` from now on.
    pub(super) fn set(&mut self, key: PeerKey, at: Instant) {
        self.heap.push(Reverse((at, key)));
    }

    /// The soonest current timeout; `current` says whether an entry still
    /// holds.
    pub(super) fn soonest(&mut self, current: impl Fn(PeerKey, Instant) -> bool) -> Option<Instant> {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if current(key, at) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Moves the peers due at `now` into `due`, each once, soonest first.
    /// Their entries are gone: each gets a new one when its next timeout is
    /// set.
    pub(super) fn take_due(
        &mut self,
        now: Instant,
        current: impl Fn(PeerKey, Instant) -> bool,
        due: &mut Vec<PeerKey>,
    ) {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            if current(key, at) && !due.contains(&key) {
                due.push(key);
            }
        }
    }

    /// Whether stale entries outnumber the peers enough to rebuild.
    pub(super) fn wants_rebuild(&self, peers: usize) -> bool {
        self.heap.len() > peers * STALE_PER_PEER + STALE_FLOOR
    }

    /// Rebuilds from the peers' current timeouts, dropping stale entries.
    pub(super) fn rebuild(&mut self, current: impl Iterator<Item = (PeerKey, Instant)>) {
        self.heap = current.map(|(key, at)| Reverse((at, key))).collect();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_soonest_current_timeout_wins_and_stale_entries_are_skipped() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut timeouts: HashMap<PeerKey, Instant> = HashMap::new();
        let mut timers = Timers::default();
        for (key, ms) in [(1, 30), (2, 10), (3, 20)] {
            timeouts.insert(key, at(ms));
            timers.set(key, at(ms));
        }
        // Peer 2 moves later: its entry at 10 ms is stale now.
        timeouts.insert(2, at(40));
        timers.set(2, at(40));
        let current = |timeouts: &HashMap<PeerKey, Instant>| {
            let timeouts = timeouts.clone();
            move |key, when| timeouts.get(&key) == Some(&when)
        };
        assert_eq!(timers.soonest(current(&timeouts)), Some(at(20)));

        let mut due = Vec::new();
        timers.take_due(at(30), current(&timeouts), &mut due);
        assert_eq!(due, [3, 1], "due at 30 ms, soonest first; peer 2 is not due");
        // Served peers get new timeouts; a removed peer's entry goes stale.
        timeouts.insert(3, at(50));
        timers.set(3, at(50));
        timeouts.insert(1, at(45));
        timers.set(1, at(45));
        timeouts.remove(&2);
        assert_eq!(timers.soonest(current(&timeouts)), Some(at(45)));
    }

    #[test]
    fn a_peer_with_two_current_entries_is_due_once() {
        let start = Instant::now();
        let mut timers = Timers::default();
        // The same time set twice (a timeout moved away and back).
        timers.set(7, start);
        timers.set(7, start);
        let mut due = Vec::new();
        timers.take_due(start, |_, _| true, &mut due);
        assert_eq!(due, [7]);
    }

    #[test]
    fn a_rebuild_keeps_only_current_entries() {
        let start = Instant::now();
        let mut timers = Timers::default();
        for step in 0..5_000u64 {
            timers.set(1, start + Duration::from_micros(step));
        }
        assert!(timers.wants_rebuild(1));
        timers.rebuild([(1, start + Duration::from_micros(4_999))].into_iter());
        assert!(!timers.wants_rebuild(1));
        assert_eq!(timers.soonest(|_, _| true), Some(start + Duration::from_micros(4_999)));
    }
}
