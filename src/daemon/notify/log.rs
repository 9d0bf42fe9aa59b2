//! The notifier's log lines, through the daemon log (`crate::daemon::log`): `… ocbar: notify: …`.
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

/// Something the user may want to know (a channel failed, a channel is off).
pub(crate) fn info(msg: &str) {
    crate::daemon::log::line(format_args!("notify: {msg}"));
}

/// Details useful when tracking down why a notification did not show up.
pub(crate) fn debug(msg: &str) {
    if debug_enabled() {
        crate::daemon::log::line(format_args!("notify (debug): {msg}"));
    }
}
