//! The daemon log: one timestamped line per event worth a human's attention, on stderr.
//!
//! Loud towards humans: every line says what happened and, where it can, how to fix it.

/// Write one log line: `2026-11-23T20:31:00Z ocbar: <message>`.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::daemon::log::line(format_args!($($arg)*))
    };
}

/// The function behind [`log!`].
pub fn line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{now} ocbar: {args}");
}
