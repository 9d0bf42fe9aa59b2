//! The daemon's one clock read: wall-clock epoch milliseconds.
//!
//! The model never reads a clock; the daemon reads it here and passes `now` in, so tests can
//! run the model on a fake clock.

/// Wall-clock epoch milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
