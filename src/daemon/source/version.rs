//! Which OpenCode versions ocbar supports, and what differs between them that the connection
//! must know (the heartbeat interval).
//!
//! Observed on every release from npm between 1.0.98 and 1.18.33 (see the README's
//! "OpenCode versions" section):
//! - 1.0.185 and 1.1.x send `server.heartbeat` every 30 s, 1.2 and later every 10 s.
//! - 1.0.x does not report its version (`GET /global/health` does not exist there).
//! - 1.0.98 sends nothing at all on `/global/event` (no `server.connected`, no heartbeat).

use std::time::Duration;

/// The oldest OpenCode release ocbar is tested against and supports.
pub const OLDEST_SUPPORTED: &str = "1.0.185";

/// The releases the test suite runs against (oldest first); the last one is the pinned newest.
pub const TESTED: [&str; 3] = ["1.0.185", "1.14.41", "1.18.33"];

/// How a server's version relates to what ocbar supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// At or above [`OLDEST_SUPPORTED`].
    Supported,
    /// Below [`OLDEST_SUPPORTED`]: ocbar does not follow it (its states would be wrong).
    TooOld,
    /// The server does not say (OpenCode 1.0.x). Followed: every 1.0 release that streams
    /// events at all behaves like 1.0.185.
    Unreported,
    /// A version string this code cannot read, or a development build (`0.0.0-…`). Followed.
    Unreadable,
}

/// `major.minor.patch` of a version string such as `1.18.33` or `v1.2.0-beta.1` (the
/// pre-release part is ignored).
pub fn parse(v: &str) -> Option<(u32, u32, u32)> {
    let v = v.trim().trim_start_matches('v');
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    let patch = it.next().unwrap_or("0").parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// Whether ocbar supports the server's `version` (`None`: the server did not report one).
pub fn support(version: Option<&str>) -> Support {
    let Some(v) = version else {
        return Support::Unreported;
    };
    match (parse(v), parse(OLDEST_SUPPORTED)) {
        // `0.0.0-…`: a development or snapshot build, not an old release.
        (Some((0, 0, 0)), _) => Support::Unreadable,
        (Some(have), Some(floor)) if have < floor => Support::TooOld,
        (Some(_), _) => Support::Supported,
        (None, _) => Support::Unreadable,
    }
}

/// The `doctor`/log sentence for a version ocbar does not follow.
pub fn too_old_message(version: &str) -> String {
    format!(
        "OpenCode {version} is older than the oldest supported ({OLDEST_SUPPORTED}): upgrade OpenCode"
    )
}

/// How often the server sends `server.heartbeat`, by version: 10 s from 1.2 on (and for
/// development builds), 30 s before and when the version is not reported (1.0.x does not).
pub fn heartbeat_interval(version: Option<&str>) -> Duration {
    let Some(v) = version else {
        return Duration::from_secs(30);
    };
    match parse(v) {
        Some(p) if p != (0, 0, 0) && p < (1, 2, 0) => Duration::from_secs(30),
        _ => Duration::from_secs(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_and_compared() {
        assert_eq!(parse("1.18.33"), Some((1, 18, 33)));
        assert_eq!(parse("v1.2.0-beta.1"), Some((1, 2, 0)));
        assert_eq!(parse("1.2"), Some((1, 2, 0)));
        assert_eq!(parse("local"), None);
        assert_eq!(parse("1.2.3.4"), None);
        assert_eq!(support(Some("1.18.33")), Support::Supported);
        assert_eq!(support(Some("1.0.185")), Support::Supported);
        assert_eq!(support(Some("1.1.65")), Support::Supported);
        assert_eq!(support(Some("1.0.98")), Support::TooOld);
        assert_eq!(support(Some("0.15.8")), Support::TooOld);
        assert_eq!(support(Some("2.0.0")), Support::Supported);
        assert_eq!(support(None), Support::Unreported);
        assert_eq!(support(Some("dev")), Support::Unreadable);
        assert_eq!(support(Some("0.0.0-dev-202611")), Support::Unreadable);
        assert_eq!(
            too_old_message("1.0.98"),
            "OpenCode 1.0.98 is older than the oldest supported (1.0.185): upgrade OpenCode"
        );
    }

    #[test]
    fn heartbeat_follows_the_version() {
        assert_eq!(heartbeat_interval(Some("1.18.33")), Duration::from_secs(10));
        assert_eq!(heartbeat_interval(Some("1.2.27")), Duration::from_secs(10));
        assert_eq!(heartbeat_interval(Some("1.1.65")), Duration::from_secs(30));
        assert_eq!(heartbeat_interval(None), Duration::from_secs(30));
        assert_eq!(
            heartbeat_interval(Some("0.0.0-fake")),
            Duration::from_secs(10)
        );
        assert_eq!(heartbeat_interval(Some("local")), Duration::from_secs(10));
    }

    #[test]
    fn tested_versions_are_supported_and_ordered() {
        assert_eq!(TESTED[0], OLDEST_SUPPORTED);
        assert!(TESTED.windows(2).all(|w| parse(w[0]) < parse(w[1])));
    }
}
