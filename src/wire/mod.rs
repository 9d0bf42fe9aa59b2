//! The line protocol between `ocbar` clients and the daemon, shared by both ends.
//!
//! ```text
//! daemon → client   {"hello":"ocbar","protocol":1,"version":"0.1.0"}      (sent at once on accept)
//! client → daemon   one request line, words separated by one space:
//!                     status <plain|tmux|starship|waybar|polybar|i3blocks|bash|zsh|fish|json>
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
//!
//! ## The TUI channel (the OpenCode plugin)
//!
//! One more request opens a long-lived, two-way channel for an OpenCode TUI (the plugin in
//! `integrations/opencode/`, `ocbar/core.tsx`, for OpenCode 1 and 2 alike):
//!
//! ```text
//! client → daemon   tui {"tui":"<id>","pid":N,"tmux_pane":"%3"|null,"tmux":"/tmp/tmux-1000/default,4100,0"|null,
//!                        "directory":"/p","server":"http://…"|null}
//!                   (`tmux_pane` and `tmux` are the TUI's `$TMUX_PANE` and `$TMUX`: where it is on
//!                   screen, for `ocbar open`; both optional, older plugins send no `tmux`)
//! daemon → client   {"ok":"bridge tui://<pid>"}       a TUI with no HTTP server (`server` null):
//!                                                    its events are bridged under that pseudo server
//!                   {"ok":"focus"}                   a TUI attached to an HTTP server: the daemon follows
//!                                                    that server itself; the channel carries focus only
//! then, any number of lines, in any order, until either side closes:
//! client → daemon   focus {"session":"ses_…"|null,"focused":true|false}
//!                   event {"directory":"/p","payload":{"id":…,"type":…,"properties":{…}}}
//!                         (bridge only: one bus event, as `GET /global/event` frames it; a bare
//!                         `{"type":…,"properties":…,"directory"?:…}` is accepted too, and so is
//!                         OpenCode 2's `{"id":…,"type":…,"data":{…},"location"?:{…}}`)
//! daemon → client   {"toast":{"title":"…","message":"…","variant":"info|success|warning|error"}}
//!                   {"open":"ses_…"}                 show that session (`ocbar open`)
//!                   {"error":"…"}                    a line the daemon could not use; the channel stays open
//! ```
//! Closing the channel means the TUI is gone: its focus is cleared and a bridged pseudo server
//! is removed with its sessions. A channel line may be up to [`MAX_TUI_LINE`] bytes and, once
//! started, must be complete within [`TUI_LINE_TIMEOUT`]; a longer or stalled line closes the
//! channel (the plugin reconnects). A new channel with the same `tui` id replaces the old one.

mod format;
pub mod remote;
pub mod snapshot;

pub use format::{Format, Style, UnknownFormat};

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Protocol number; bumped on any incompatible change.
pub const PROTOCOL: u32 = 1;

/// Longest request line accepted, in bytes (newline included).
pub const MAX_REQUEST: usize = 4096;

/// How long the daemon waits for a client's request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest line on a TUI channel, in bytes (newline included): bridged events carry session
/// metadata and permission diffs.
pub const MAX_TUI_LINE: usize = 1024 * 1024;

/// How long a started line on a TUI channel may take to complete.
pub const TUI_LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client waits for `open`'s reply: the daemon runs programs first (tmux, the window
/// manager's IPC, `[open] command`), each bounded by 2 s.
pub const OPEN_REPLY_TIMEOUT: Duration = Duration::from_secs(12);

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
    Status(Style),
    /// The snapshot now, then one line per change.
    Watch(Style),
    /// The panel: one relevant session per line.
    List,
    /// Something the daemon's state loop does or tells (answered by it, in order).
    Action(Action),
    /// Open a TUI channel (see the module docs).
    Tui(TuiHello),
}

/// A request the state loop answers: the same variant from the command line's request to the
/// arm that carries it out (`daemon/actions.rs`, `daemon/doctor.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
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

/// The first line of a TUI channel: who the TUI is and which server it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TuiHello {
    /// The TUI's identity (the plugin sends its pid); a new channel with the same id replaces
    /// the old one.
    pub tui: String,
    /// The TUI's process id.
    #[serde(default)]
    pub pid: Option<u32>,
    /// `$TMUX_PANE` of the TUI, when it runs in tmux.
    #[serde(default)]
    pub tmux_pane: Option<String>,
    /// `$TMUX` of the TUI (`socket,server-pid,session`): which tmux server that pane is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmux: Option<String>,
    /// The TUI's project directory.
    #[serde(default)]
    pub directory: Option<String>,
    /// The HTTP server the TUI is attached to; `None` for a plain TUI (in-process server, no
    /// port), whose events the plugin bridges.
    #[serde(default)]
    pub server: Option<String>,
}

/// A line a TUI sends on its channel after the `tui` request.
#[derive(Debug, Clone, PartialEq)]
pub enum TuiLine<'a> {
    /// What the TUI shows (`None`: not a session screen) and whether its terminal has focus.
    Focus {
        session: Option<String>,
        focused: bool,
    },
    /// One bus event (bridge), still as JSON text: `{"directory","payload"}` or a bare event.
    Event(&'a str),
}

impl TuiHello {
    /// The tmux server socket from `$TMUX` (`socket,server-pid,session`; the socket path may
    /// itself contain commas, so the last two fields are cut from the right).
    pub fn tmux_socket(&self) -> Option<&str> {
        let t = self.tmux.as_deref()?.trim();
        let mut parts = t.rsplitn(3, ',');
        let (_, _, socket) = (parts.next()?, parts.next()?, parts.next()?);
        (socket.starts_with('/') && !socket.chars().any(char::is_control)).then_some(socket)
    }

    /// `$TMUX_PANE` when it looks like a pane id (`%N`).
    pub fn pane(&self) -> Option<&str> {
        let p = self.tmux_pane.as_deref()?.trim();
        (p.len() > 1 && p.starts_with('%') && p[1..].bytes().all(|b| b.is_ascii_digit()))
            .then_some(p)
    }
}

impl<'a> TuiLine<'a> {
    /// Parse one channel line (without its newline).
    pub fn parse(line: &'a str) -> Result<TuiLine<'a>, String> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "focus" => {
                #[derive(Deserialize)]
                struct Focus {
                    #[serde(default)]
                    session: Option<String>,
                    focused: bool,
                }
                let f: Focus = serde_json::from_str(rest)
                    .map_err(|e| format!("focus: expected {{\"session\":…,\"focused\":…}}: {e}"))?;
                let session = f.session.filter(|s| !s.is_empty());
                if let Some(s) = &session
                    && (s.len() > 128 || s.chars().any(char::is_control))
                {
                    return Err("focus: not a session id".into());
                }
                Ok(TuiLine::Focus {
                    session,
                    focused: f.focused,
                })
            }
            "event" if !rest.trim().is_empty() => Ok(TuiLine::Event(rest)),
            "event" => Err("'event' needs a JSON event".into()),
            "" => Err("empty line".into()),
            other => Err(format!(
                "unknown TUI channel line '{}' (focus, event)",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

/// A line the daemon sends down a TUI channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TuiOut {
    /// Show a toast in this TUI (`api.ui.toast`).
    Toast {
        title: String,
        message: String,
        /// `info`, `success`, `warning` or `error`.
        variant: String,
    },
    /// Show this session (`api.route.navigate("session", {sessionID})`).
    Open(String),
}

impl TuiOut {
    /// The line, newline included.
    pub fn to_line(&self) -> String {
        let mut s =
            serde_json::to_string(self).unwrap_or_else(|_| "{\"error\":\"encoding\"}".into());
        s.push('\n');
        s
    }
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
            "status" => Ok(Request::Status(need("a format")?.parse()?)),
            "watch" => Ok(Request::Watch(need("a format")?.parse()?)),
            "list" => Ok(Request::List),
            "doctor" => Ok(Request::Action(Action::Doctor)),
            "seen" => Ok(Request::Action(Action::Seen(need("a session")?))),
            "seen-all" => Ok(Request::Action(Action::SeenAll)),
            "open" => Ok(Request::Action(Action::Open(need("a session")?))),
            "mute" => Ok(Request::Action(Action::Mute(need("a session")?, true))),
            "unmute" => Ok(Request::Action(Action::Mute(need("a session")?, false))),
            "tui" => {
                let hello: TuiHello =
                    serde_json::from_str(&need("a JSON description")?).map_err(|e| {
                        format!("tui: expected {{\"tui\":\"<id>\",\"pid\":…,\"server\":…}}: {e}")
                    })?;
                let id = hello.tui.trim();
                if id.is_empty()
                    || id.len() > 64
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
                {
                    return Err("tui: 'tui' must be 1-64 characters of [A-Za-z0-9-_.:]".into());
                }
                Ok(Request::Tui(hello))
            }
            "" => Err("empty request".into()),
            other => Err(format!(
                "unknown request '{}' (protocol {PROTOCOL}: status, watch, list, doctor, seen, seen-all, open, mute, unmute, tui)",
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
            Request::Action(Action::Doctor) => "doctor".into(),
            Request::Action(Action::Seen(q)) => format!("seen {q}"),
            Request::Action(Action::SeenAll) => "seen-all".into(),
            Request::Action(Action::Open(q)) => format!("open {q}"),
            Request::Action(Action::Mute(q, true)) => format!("mute {q}"),
            Request::Action(Action::Mute(q, false)) => format!("unmute {q}"),
            Request::Tui(h) => format!("tui {}", serde_json::to_string(h).unwrap_or_default()),
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
            Request::Status(Format::Tmux.into()),
            Request::Status(Style {
                format: Format::Starship,
                no_color: true,
            }),
            Request::Watch(Format::Waybar.into()),
            Request::List,
            Request::Action(Action::Doctor),
            Request::Action(Action::Seen("fix the parser".into())),
            Request::Action(Action::SeenAll),
            Request::Action(Action::Open("ses_1".into())),
            Request::Action(Action::Mute("x".into(), true)),
            Request::Action(Action::Mute("x".into(), false)),
            Request::Tui(TuiHello {
                tui: "4242".into(),
                pid: Some(4242),
                tmux_pane: Some("%3".into()),
                tmux: Some("/tmp/tmux-0/default,77,0".into()),
                directory: Some("/p q".into()),
                server: None,
            }),
        ] {
            let line = r.to_line();
            assert_eq!(Request::parse(line.trim_end_matches('\n')), Ok(r));
        }
    }

    #[test]
    fn bad_requests_are_explained() {
        assert!(Request::parse("").is_err());
        let e = Request::parse("status tmuxx").unwrap_err();
        assert!(
            e.contains("unknown format") && e.contains("plain, tmux"),
            "{e}"
        );
        let e = Request::parse("watch tmux bold").unwrap_err();
        assert!(e.contains("only 'no-color'"), "{e}");
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
    fn tui_requests_are_checked() {
        assert!(Request::parse("tui").unwrap_err().contains("needs"));
        assert!(Request::parse("tui {").unwrap_err().starts_with("tui:"));
        assert!(Request::parse("tui {\"tui\":\"\"}").is_err());
        assert!(Request::parse("tui {\"tui\":\"a b\"}").is_err());
        let Ok(Request::Tui(h)) = Request::parse("tui {\"tui\":\"7\",\"server\":\"http://h:1\"}")
        else {
            panic!("minimal hello")
        };
        assert_eq!((h.pid, h.server.as_deref()), (None, Some("http://h:1")));
    }

    #[test]
    fn tmux_places_are_read_from_the_environment_values() {
        let mut h = TuiHello {
            tui: "1".into(),
            pid: Some(1),
            tmux_pane: Some("%12".into()),
            tmux: Some("/tmp/a,b/default,4100,0".into()),
            directory: None,
            server: None,
        };
        assert_eq!(h.tmux_socket(), Some("/tmp/a,b/default"));
        assert_eq!(h.pane(), Some("%12"));
        for bad in ["", "default", "x,1,0", "/s\n,1,0"] {
            h.tmux = Some(bad.into());
            assert_eq!(h.tmux_socket(), None, "{bad}");
        }
        for bad in ["%", "12", "%1;kill", "%-1"] {
            h.tmux_pane = Some(bad.into());
            assert_eq!(h.pane(), None, "{bad}");
        }
        // An older plugin: no `tmux` key at all.
        let Ok(Request::Tui(old)) = Request::parse("tui {\"tui\":\"7\",\"tmux_pane\":\"%1\"}")
        else {
            panic!("old hello")
        };
        assert_eq!((old.tmux_socket(), old.pane()), (None, Some("%1")));
    }

    #[test]
    fn tui_lines_parse_or_explain() {
        assert_eq!(
            TuiLine::parse("focus {\"session\":\"ses_1\",\"focused\":true}"),
            Ok(TuiLine::Focus {
                session: Some("ses_1".into()),
                focused: true
            })
        );
        assert_eq!(
            TuiLine::parse("focus {\"session\":null,\"focused\":false}\r"),
            Ok(TuiLine::Focus {
                session: None,
                focused: false
            })
        );
        assert_eq!(TuiLine::parse("event {}"), Ok(TuiLine::Event("{}")));
        for bad in [
            "",
            "event",
            "focus",
            "focus {\"session\":3}",
            "blah {}",
            "\u{0}",
        ] {
            assert!(TuiLine::parse(bad).is_err(), "{bad:?}");
        }
        let out = TuiOut::Toast {
            title: "ocbar".into(),
            message: "a\nb".into(),
            variant: "success".into(),
        };
        let line = out.to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.starts_with("{\"toast\":{"), "{line}");
        assert_eq!(
            TuiOut::Open("ses_1".into()).to_line(),
            "{\"open\":\"ses_1\"}\n"
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
