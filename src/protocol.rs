//! The line protocol between `ocbar` clients and the daemon, shared by both ends.
//!
//! ```text
//! daemon → client   {"hello":"ocbar","protocol":1,"version":"0.1.0"}      (sent at once on accept)
//! client → daemon   one request line, words separated by one space:
//!                     status <plain|tmux|starship|waybar|json>
//!                     watch <format>
//!                     list
//!                     doctor
//!                     seen <SESSION>      seen-all
//!                     open <SESSION>
//!                     mute <SESSION>      unmute <SESSION>
//! daemon → client   one reply line: {"ok":"<text>"} or {"error":"<message>"}
//!                   (watch: one {"ok":…} line per change until either side closes)
//! ```
//! `<SESSION>` is the rest of the line (it may contain spaces). Lines are UTF-8, end in `\n`,
//! and a request longer than [`MAX_REQUEST`] bytes is refused. A client that says nothing
//! for [`REQUEST_TIMEOUT`] is dropped. The hello lets a client tell an old daemon: a
//! daemon speaking another protocol number is reported, never misread.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Protocol number; bumped on any incompatible change.
pub const PROTOCOL: u32 = 1;

/// Longest request line accepted, in bytes (newline included).
pub const MAX_REQUEST: usize = 4096;

/// How long the daemon waits for a client's request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The greeting the daemon sends first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub hello: String,
    pub protocol: u32,
    pub version: String,
}

impl Hello {
    /// This build's greeting.
    pub fn current() -> Self {
        Hello {
            hello: "ocbar".into(),
            protocol: PROTOCOL,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One reply line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Ok(String),
    Error(String),
}

impl Reply {
    /// The reply as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut s =
            serde_json::to_string(self).unwrap_or_else(|_| "{\"error\":\"encoding\"}".into());
        s.push('\n');
        s
    }
}

/// A client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// One rendered snapshot in a format.
    Status(String),
    /// The snapshot now, then one line per change.
    Watch(String),
    /// The panel: one relevant session per line.
    List,
    /// Connection health, counters, paths.
    Doctor,
    /// Mark one session visited.
    Seen(String),
    /// Mark every session visited.
    SeenAll,
    /// Switch the TUI to a session and mark it visited.
    Open(String),
    /// Turn notifications of a session off (true) or on (false).
    Mute(String, bool),
}

impl Request {
    /// Parse a request line (without its newline).
    pub fn parse(line: &str) -> Result<Request, String> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (word, rest) = match line.split_once(' ') {
            Some((w, r)) => (w, r),
            None => (line, ""),
        };
        let need = |what: &str| -> Result<String, String> {
            if rest.trim().is_empty() {
                Err(format!("'{word}' needs {what}"))
            } else {
                Ok(rest.to_string())
            }
        };
        match word {
            "status" => Ok(Request::Status(need("a format")?)),
            "watch" => Ok(Request::Watch(need("a format")?)),
            "list" => Ok(Request::List),
            "doctor" => Ok(Request::Doctor),
            "seen" => Ok(Request::Seen(need("a session")?)),
            "seen-all" => Ok(Request::SeenAll),
            "open" => Ok(Request::Open(need("a session")?)),
            "mute" => Ok(Request::Mute(need("a session")?, true)),
            "unmute" => Ok(Request::Mute(need("a session")?, false)),
            "" => Err("empty request".into()),
            other => Err(format!(
                "unknown request '{}' (protocol {PROTOCOL}: status, watch, list, doctor, seen, seen-all, open, mute, unmute)",
                other.chars().take(32).collect::<String>()
            )),
        }
    }

    /// The request as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut s = match self {
            Request::Status(f) => format!("status {f}"),
            Request::Watch(f) => format!("watch {f}"),
            Request::List => "list".into(),
            Request::Doctor => "doctor".into(),
            Request::Seen(q) => format!("seen {q}"),
            Request::SeenAll => "seen-all".into(),
            Request::Open(q) => format!("open {q}"),
            Request::Mute(q, true) => format!("mute {q}"),
            Request::Mute(q, false) => format!("unmute {q}"),
        };
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for r in [
            Request::Status("tmux".into()),
            Request::Watch("waybar".into()),
            Request::List,
            Request::Doctor,
            Request::Seen("fix the parser".into()),
            Request::SeenAll,
            Request::Open("ses_1".into()),
            Request::Mute("x".into(), true),
            Request::Mute("x".into(), false),
        ] {
            let line = r.to_line();
            assert_eq!(Request::parse(line.trim_end_matches('\n')), Ok(r));
        }
    }

    #[test]
    fn bad_requests_are_explained() {
        assert!(Request::parse("").is_err());
        assert!(
            Request::parse("seen")
                .unwrap_err()
                .contains("needs a session")
        );
        assert!(
            Request::parse("\u{1b}[31mfoo")
                .unwrap_err()
                .contains("unknown request")
        );
    }

    #[test]
    fn replies_are_one_line() {
        let line = Reply::Ok("a\nb".into()).to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(line, "{\"ok\":\"a\\nb\"}\n");
        let back: Reply = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(back, Reply::Ok("a\nb".into()));
    }
}
