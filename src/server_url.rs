/*!
The address of an OpenCode server as ocbar names it: one type, checked and normalised once.

A server reaches ocbar from a flag, `OCBAR_SERVER`, the config file, discovery's `/proc` scan, a
TUI's report, a bridged TUI (`tui://PID`, no HTTP at all) or a recorded file (`replay://PATH`).
Before this type each of those trimmed, lower-cased and compared bare strings its own way; now
[`ServerUrl::parse`] is the one check for what a user or a TUI hands in, [`ServerUrl::key`] the
one comparison ("is this the same server?"), and [`ServerUrl::kind`] says what can be done with
it (HTTP calls only on [`ServerKind::Http`]/[`ServerKind::Https`]).

A `ServerUrl` is a shared string (`Arc<str>`): every event and session of a server holds it, so
cloning it copies a pointer. It dereferences to `&str` and serialises as the plain string, so
the JSON snapshot is unchanged.
*/

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The URL ocbar follows when nothing is configured (OpenCode's own default port).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:4096";

/// The scheme of the pseudo servers of bridged TUIs (`tui://PID`).
pub const TUI_SCHEME: &str = "tui://";

/// The scheme of recorded streams replayed by `ocbar daemon --replay`.
pub const REPLAY_SCHEME: &str = "replay://";

/// The scheme of the pseudo address notifications of a remote machine's sessions carry
/// (`ssh://HOST`): nothing on this machine answers it, so no channel calls it.
pub const REMOTE_SCHEME: &str = "ssh://";

/// The address of one OpenCode server (no trailing slash). See the module documentation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerUrl(Arc<str>);

/// What a [`ServerUrl`] points at, and so what ocbar can do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// An OpenCode HTTP server (`opencode serve`, `opencode --port N`).
    Http,
    /// The same over TLS.
    Https,
    /// A plain TUI whose in-process server is bridged over the plugin channel: no HTTP.
    Tui,
    /// A recorded stream (`daemon --replay`), or a remote machine's pseudo address: nothing to call.
    Replay,
}

impl ServerUrl {
    /// Check and normalise a server URL a person or a TUI handed in: `http://HOST:PORT` or
    /// `https://…`, surrounding blanks and trailing slashes dropped. The error says what a valid
    /// one looks like; a URL with `user:password@` is refused (a password must never sit in argv).
    pub fn parse(url: &str) -> Result<ServerUrl, String> {
        let url = url.trim().trim_end_matches('/');
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| {
                format!(
                    "'{url}' is not an OpenCode server URL: use http://HOST:PORT, e.g. {DEFAULT_SERVER}"
                )
            })?;
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            return Err(format!(
                "'{url}' has no host: use http://HOST:PORT, e.g. {DEFAULT_SERVER}"
            ));
        }
        if url.contains('@') {
            return Err(format!(
                "'{url}' carries credentials: put the password in OPENCODE_SERVER_PASSWORD instead (it must never appear in argv)"
            ));
        }
        Ok(ServerUrl(Arc::from(url)))
    }

    /// The server a TUI says it is attached to; `None` for a plain TUI (no server, or OpenCode's
    /// in-process `http://opencode.internal`) or a URL the daemon could not follow.
    pub fn attached(reported: Option<&str>) -> Option<ServerUrl> {
        let s = reported?.trim().trim_end_matches('/');
        if s.is_empty() || s.eq_ignore_ascii_case("http://opencode.internal") {
            return None;
        }
        ServerUrl::parse(s).ok()
    }

    /// A URL discovery built from a process's command line or listening socket: parsed, with
    /// `localhost` written `127.0.0.1` (what `opencode` itself binds by default).
    pub fn discovered(url: &str) -> Result<ServerUrl, String> {
        let parsed = ServerUrl::parse(url)?;
        for (from, to) in [
            ("http://localhost:", "http://127.0.0.1:"),
            ("https://localhost:", "https://127.0.0.1:"),
        ] {
            if let Some(rest) = parsed.0.strip_prefix(from) {
                return Ok(ServerUrl(Arc::from(format!("{to}{rest}").as_str())));
            }
        }
        Ok(parsed)
    }

    /// The pseudo server of the bridged TUI `who` (its pid, or its id when it sent none).
    pub fn tui(who: impl fmt::Display) -> ServerUrl {
        ServerUrl(Arc::from(format!("{TUI_SCHEME}{who}").as_str()))
    }

    /// The name a replayed file is shown under.
    pub fn replay(path: &std::path::Path) -> ServerUrl {
        ServerUrl(Arc::from(
            format!("{REPLAY_SCHEME}{}", path.display()).as_str(),
        ))
    }

    /// The pseudo address of the sessions of remote machine `host` (`ssh://HOST`).
    pub fn remote(host: &str) -> ServerUrl {
        ServerUrl(Arc::from(format!("{REMOTE_SCHEME}{host}").as_str()))
    }

    /// The host of a [`ServerUrl::remote`] address.
    pub fn remote_host(&self) -> Option<&str> {
        self.0.strip_prefix(REMOTE_SCHEME)
    }

    /// What this URL points at.
    pub fn kind(&self) -> ServerKind {
        if self.0.starts_with(TUI_SCHEME) {
            ServerKind::Tui
        } else if self.0.starts_with(REPLAY_SCHEME) || self.0.starts_with(REMOTE_SCHEME) {
            ServerKind::Replay
        } else if self.0.starts_with("https://") {
            ServerKind::Https
        } else {
            ServerKind::Http
        }
    }

    /// Whether this is a bridged TUI's pseudo server (reached through the plugin, not HTTP).
    pub fn is_tui(&self) -> bool {
        self.kind() == ServerKind::Tui
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL reduced for "same server?" comparisons: lower-case, no trailing slash,
    /// `localhost` and `[::1]` written `127.0.0.1`.
    pub fn key(&self) -> String {
        url_key(&self.0)
    }

    /// Whether `self` and `other` name the same server (see [`ServerUrl::key`]).
    pub fn same_server(&self, other: &str) -> bool {
        self.0.as_ref() == other || self.key() == url_key(other)
    }
}

/// [`ServerUrl::key`] for a URL that is still a string (a TUI's report, a scan result).
pub fn url_key(url: &str) -> String {
    let u = url.trim().trim_end_matches('/').to_ascii_lowercase();
    for (from, to) in [
        ("http://localhost:", "http://127.0.0.1:"),
        ("https://localhost:", "https://127.0.0.1:"),
        ("http://[::1]:", "http://127.0.0.1:"),
    ] {
        if let Some(rest) = u.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    u
}

/// Wrap a string ocbar already holds as a server's name (one that came from a `ServerUrl`, a
/// snapshot, a state file, or a test). Input from a person or a TUI goes through
/// [`ServerUrl::parse`] instead.
impl From<&str> for ServerUrl {
    fn from(s: &str) -> Self {
        ServerUrl(Arc::from(s))
    }
}

impl From<String> for ServerUrl {
    fn from(s: String) -> Self {
        ServerUrl(Arc::from(s.as_str()))
    }
}

impl From<Arc<str>> for ServerUrl {
    fn from(s: Arc<str>) -> Self {
        ServerUrl(s)
    }
}

impl From<ServerUrl> for Arc<str> {
    fn from(s: ServerUrl) -> Self {
        s.0
    }
}

impl std::ops::Deref for ServerUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ServerUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ServerUrl {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ServerUrl {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ServerUrl {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for ServerUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ServerUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ServerUrl(Arc::<str>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_checks_and_trims() {
        assert_eq!(
            ServerUrl::parse(" http://127.0.0.1:4096/ ").unwrap(),
            "http://127.0.0.1:4096"
        );
        assert_eq!(
            ServerUrl::parse("https://h:1").unwrap().kind(),
            ServerKind::Https
        );
        for bad in [
            "127.0.0.1:4096",
            "ftp://x",
            "http://",
            "http:///x",
            "http://a b",
        ] {
            let e = ServerUrl::parse(bad).unwrap_err();
            assert!(e.contains("http://HOST:PORT"), "{bad}: {e}");
        }
        let e = ServerUrl::parse("http://u:pw@h:1").unwrap_err();
        assert!(e.contains("OPENCODE_SERVER_PASSWORD"), "{e}");
    }

    #[test]
    fn attached_ignores_the_in_process_server() {
        assert_eq!(ServerUrl::attached(None), None);
        assert_eq!(ServerUrl::attached(Some("http://opencode.internal/")), None);
        assert_eq!(ServerUrl::attached(Some("http://u:p@h:1")), None);
        assert_eq!(
            ServerUrl::attached(Some("http://127.0.0.1:5000/")).unwrap(),
            "http://127.0.0.1:5000"
        );
    }

    #[test]
    fn kinds_keys_and_discovered_urls() {
        assert!(ServerUrl::tui(77).is_tui());
        assert_eq!(ServerUrl::tui(77), "tui://77");
        assert_eq!(
            ServerUrl::replay(std::path::Path::new("/x.sse")).kind(),
            ServerKind::Replay
        );
        assert_eq!(
            ServerUrl::discovered("http://localhost:4097/").unwrap(),
            "http://127.0.0.1:4097"
        );
        let u = ServerUrl::from("http://127.0.0.1:4096");
        assert!(u.same_server("HTTP://localhost:4096/"));
        assert!(u.same_server("http://[::1]:4096"));
        assert!(!u.same_server("http://127.0.0.1:4097"));
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            "\"http://127.0.0.1:4096\""
        );
        let back: ServerUrl = serde_json::from_str("\"tui://9\"").unwrap();
        assert!(back.is_tui());
    }
}
