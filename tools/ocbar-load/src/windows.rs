//! CPU over one-second windows of a measurement: how much the same work costs from one second
//! to the next on this machine.
//!
//! A phase's CPU share is one mean; on a shared VM the same stream, read by the same code, can
//! cost several times more in one second than in the next. The spread of the one-second windows
//! says whether a run was quiet enough to compare with a budget: a receive floor whose windows
//! vary threefold is the machine's noise, not the daemon's work.

use serde::Serialize;

/// The length of a window, in seconds.
pub const WINDOW_SECS: f64 = 1.0;

/// CPU (% of one core) of each whole window of a phase, with its spread.
#[derive(Serialize, Default, Debug, Clone)]
pub struct Windows {
    /// Each window's CPU share, in the order they ran.
    pub cpu_percent: Vec<f64>,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

/// Collects CPU-time marks and cuts them into windows of [`WINDOW_SECS`].
pub struct WindowClock {
    /// Start of the current window: seconds since the phase began, CPU ns.
    start: (f64, u64),
    shares: Vec<f64>,
}

impl WindowClock {
    /// A clock for a phase whose CPU counter reads `cpu_ns` at its start.
    pub fn new(cpu_ns: u64) -> WindowClock {
        WindowClock {
            start: (0.0, cpu_ns),
            shares: Vec::new(),
        }
    }

    /// Whether a window is due at `secs` since the phase began (so the caller reads the CPU
    /// counter, which costs a few `/proc` reads, only then).
    pub fn due(&self, secs: f64) -> bool {
        secs - self.start.0 >= WINDOW_SECS
    }

    /// Close the window that ends at `secs` with the CPU counter at `cpu_ns`.
    pub fn mark(&mut self, secs: f64, cpu_ns: u64) {
        let (t0, c0) = self.start;
        let span = secs - t0;
        if span > 0.0 {
            self.shares
                .push(cpu_ns.saturating_sub(c0) as f64 / 1e9 / span * 100.0);
        }
        self.start = (secs, cpu_ns);
    }

    /// The whole windows (a last partial one is left out); `None` if there were none.
    pub fn finish(self) -> Option<Windows> {
        let mut sorted = self.shares.clone();
        sorted.sort_by(f64::total_cmp);
        let min = *sorted.first()?;
        let max = *sorted.last()?;
        let median = crate::percentile(&sorted, 0.5);
        Some(Windows {
            cpu_percent: self.shares,
            min,
            median,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_cut_per_second_and_summarised() {
        let mut c = WindowClock::new(1_000);
        assert!(!c.due(0.5));
        assert!(c.due(1.0));
        // 10 ms of CPU in the first second, 30 ms in the next, 20 ms in the third.
        c.mark(1.0, 1_000 + 10_000_000);
        c.mark(2.0, 1_000 + 40_000_000);
        c.mark(3.0, 1_000 + 60_000_000);
        let w = c.finish().expect("three windows");
        assert_eq!(w.cpu_percent.len(), 3);
        assert!((w.min - 1.0).abs() < 1e-9, "{w:?}");
        assert!((w.median - 2.0).abs() < 1e-9, "{w:?}");
        assert!((w.max - 3.0).abs() < 1e-9, "{w:?}");
    }

    #[test]
    fn no_whole_window_gives_none() {
        assert!(WindowClock::new(0).finish().is_none());
    }
}
