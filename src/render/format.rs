//! Durations for humans: "12s", "2m05s", "1h02m" (countdowns) and "3m ago" (last activity).

use std::fmt::Write;

/// A countdown of `ms` milliseconds, rounded up to the second so it never shows 0 too early:
/// `12s`, `2m05s`, `1h02m`, `3d04h`. Zero or negative: `0s`.
pub fn push_duration(out: &mut String, ms: i64) {
    let s = if ms <= 0 { 0 } else { (ms + 999) / 1000 };
    let _ = if s < 60 {
        write!(out, "{s}s")
    } else if s < 3600 {
        write!(out, "{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        write!(out, "{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        write!(out, "{}d{:02}h", s / 86_400, s % 86_400 / 3600)
    };
}

/// How long ago `then_ms` was, in its largest whole unit: `just now` (under a second, or in
/// the future), `12s ago`, `3m ago`, `2h ago`, `4d ago`.
pub fn push_ago(out: &mut String, now_ms: i64, then_ms: i64) {
    let s = now_ms.saturating_sub(then_ms) / 1000;
    let _ = if s < 1 {
        write!(out, "just now")
    } else if s < 60 {
        write!(out, "{s}s ago")
    } else if s < 3600 {
        write!(out, "{}m ago", s / 60)
    } else if s < 86_400 {
        write!(out, "{}h ago", s / 3600)
    } else {
        write!(out, "{}d ago", s / 86_400)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(ms: i64) -> String {
        let mut s = String::new();
        push_duration(&mut s, ms);
        s
    }

    fn ago(now: i64, then: i64) -> String {
        let mut s = String::new();
        push_ago(&mut s, now, then);
        s
    }

    #[test]
    fn durations() {
        assert_eq!(dur(-5), "0s");
        assert_eq!(dur(0), "0s");
        assert_eq!(dur(1), "1s");
        assert_eq!(dur(12_000), "12s");
        assert_eq!(dur(12_001), "13s");
        assert_eq!(dur(59_999), "1m00s");
        assert_eq!(dur(125_000), "2m05s");
        assert_eq!(dur(3_720_000), "1h02m");
        assert_eq!(dur(86_400_000 * 3 + 3_600_000 * 4), "3d04h");
    }

    #[test]
    fn ages() {
        let now = 1_700_000_000_000;
        assert_eq!(ago(now, now + 5_000), "just now");
        assert_eq!(ago(now, now - 999), "just now");
        assert_eq!(ago(now, now - 12_000), "12s ago");
        assert_eq!(ago(now, now - 3 * 60_000 - 59_000), "3m ago");
        assert_eq!(ago(now, now - 2 * 3_600_000), "2h ago");
        assert_eq!(ago(now, now - 4 * 86_400_000), "4d ago");
        assert_eq!(
            ago(now, i64::MIN),
            "106751991167d ago",
            "saturates, no overflow"
        );
    }
}
