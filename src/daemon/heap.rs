//! The daemon's heap, given back to the system after a peak.
//!
//! The daemon lives for weeks; its heap peaks while it reads a server's whole session list (a
//! resync parses every session: ~0.5 MB more than the model keeps, with 1,000 sessions) and
//! while many clients ask at once. glibc's allocator keeps freed pages for reuse, so without
//! help the resident memory stays at the highest it ever was. Two measures, measured with
//! `ocbar-load --sessions 1000 --watchers 100` (docs/performance.md):
//!
//! - **One allocator arena.** A thread that allocates gets an arena of its own, whose pages
//!   are held for it alone; the daemon's threads besides the event loop (the state file's
//!   writer, blocking helpers) allocate little and rarely, so they share the main arena. (A
//!   helper holds its lock only inside one allocation; with 1,000 sessions, runs with and
//!   without the limit, interleaved, showed the same `watch` latency.)
//! - **Trimming**, after a resync and then at most once a [`MIN_GAP`] (10 s), on an event the
//!   state loop woke for anyway (a heartbeat at the latest): it costs no wake-up of its own.
//!   Not more often: each trim's pages are faulted back in by the next snapshots (measured with
//!   a 2 s gap and 1,000 sessions streaming: +0.1–0.2 % of a core, no smaller RSS).
//!
//! Both are glibc's (`mallopt`, `malloc_trim`); elsewhere they do nothing.

use std::time::{Duration, Instant};

/// The least time between two trims that are not after a resync.
pub const MIN_GAP: Duration = Duration::from_secs(10);

/// Let every thread allocate from the main arena. Call once, before any thread starts.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// When to give freed heap pages back: after a big free, or now and then.
#[derive(Debug, Default)]
pub struct Trimmer {
    last: Option<Instant>,
    /// A resync happened since the last trim.
    resynced: bool,
}

impl Trimmer {
    /// A trimmer that has not trimmed yet.
    pub fn new() -> Trimmer {
        Trimmer::default()
    }

    /// Whether to trim at `now`: always after a big free (`big`), else at most once a
    /// [`MIN_GAP`]. Records the trim when it says yes.
    pub fn due(&mut self, now: Instant, big: bool) -> bool {
        let due = big || self.last.is_none_or(|t| now.duration_since(t) >= MIN_GAP);
        if due {
            self.last = Some(now);
        }
        due
    }

    /// A resync freed its parsed session list: the next [`maybe_trim`](Self::maybe_trim) trims.
    pub fn resynced(&mut self) {
        self.resynced = true;
    }

    /// Trim if [`due`](Self::due) (a resync since the last trim counts as a big free).
    pub fn maybe_trim(&mut self, now: Instant) {
        let big = std::mem::take(&mut self.resynced);
        if self.due(now, big) {
            trim();
        }
    }
}

/// Give the heap's free pages back to the system.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_a_big_free_and_otherwise_once_a_gap() {
        let t0 = Instant::now();
        let half = MIN_GAP / 2;
        let mut t = Trimmer::new();
        assert!(t.due(t0, false), "the first event trims");
        assert!(!t.due(t0 + half, false), "not again within the gap");
        assert!(t.due(t0 + half, true), "a resync always trims");
        assert!(
            !t.due(t0 + MIN_GAP, false),
            "the gap counts from the resync"
        );
        assert!(t.due(t0 + half + MIN_GAP, false));
    }
}
