//! A tiny stderr logger for the notifier: one line per message, with a local timestamp.
//!
//! `info` always prints; `debug` prints only when `OCBAR_LOG=debug` (read once).

use std::sync::OnceLock;

fn debug_enabled() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| {
        std::env::var("OCBAR_LOG")
            .map(|v| v.eq_ignore_ascii_case("debug"))
            .unwrap_or(false)
    })
}

fn line(level: &str, msg: &str) {
    let now = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z");
    // One write per line so concurrent tasks do not interleave inside a line.
    eprintln!("{now} ocbar {level} notify: {msg}");
}

/// Something the user may want to know (a channel failed, a channel is off).
pub(crate) fn info(msg: &str) {
    line("INFO", msg);
}

/// Details useful when tracking down why a notification did not show up.
pub(crate) fn debug(msg: &str) {
    if debug_enabled() {
        line("DEBUG", msg);
    }
}
