//! Time in tests: short durations, the epoch clock, and polling a condition.

use std::thread;
use std::time::{Duration, Instant};

/// `Duration::from_secs`, short.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Poll `cond` every 100 ms until it is true (→ `true`) or `timeout` passed (→ `false`): for a
/// test that asserts with its own message or treats a timeout as an answer. To fail the test on
/// a timeout, [`wait_or_fail`].
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Epoch milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Poll `cond` every 50 ms until it holds; fail the test naming `what` after `timeout`.
pub fn wait_or_fail(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}
