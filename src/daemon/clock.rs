//! The daemon's one clock read: wall-clock epoch milliseconds.
//!
//! The model never reads a clock; the daemon reads it here and passes `now` in, so tests can
//! run the model on a fake clock.

/// Wall-clock epoch milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Just after the next whole second of the wall clock, when a retry countdown's text changes:
/// when a bar's pusher (tmux, i3blocks) renders again while a countdown runs.
pub fn after_next_second() -> tokio::time::Instant {
    let into = now_ms().rem_euclid(1000) as u64;
    tokio::time::Instant::now() + std::time::Duration::from_millis(1000 - into + 20)
}

/// Sleep until `at`, or for ever with `None` (a `select!` arm that never fires).
pub async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
