//! The remote bridge's line protocol: what `ocbar remote-bridge` on a dev box and the laptop's
//! daemon say to each other over ssh's stdin and stdout.
//!
//! ```text
//! bridge → laptop  {"ocbar_remote":1,"version":"0.1.0"}                 first line, always
//!                  {"snapshot":{…}}                                      the dev box's JSON snapshot,
//!                                                                        at once and after every change
//!                  {"reply":{"id":7,"ok":"marked 'x' visited"}}          the answer to action 7
//!                  {"reply":{"id":7,"error":"no session matches 'x'"}}
//!                  {"error":"…"}                                        the bridge cannot go on (its
//!                                                                        daemon is down); it exits next
//! laptop → bridge  {"id":7,"action":"seen","session":"ses_…"}           seen, mute, unmute, open
//!                  {"id":8,"action":"seen-all"}
//! ```
//! A line is at most [`MAX_REMOTE_LINE`] bytes. The first line names the protocol: a peer that
//! speaks another number is refused with both numbers named, never misread.

use serde::{Deserialize, Serialize};

/// The bridge protocol's number; bumped on any incompatible change.
pub const REMOTE_PROTOCOL: u32 = 1;

/// Longest line either side accepts, in bytes: a snapshot of a busy dev box fits many times
/// over; a hostile one cannot grow the laptop's memory past it.
pub const MAX_REMOTE_LINE: usize = 16 * 1024 * 1024;

/// The bridge's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteHello {
    pub ocbar_remote: u32,
    /// The dev box's ocbar version.
    pub version: String,
}

impl RemoteHello {
    /// This build's greeting.
    pub fn current() -> Self {
        RemoteHello {
            ocbar_remote: REMOTE_PROTOCOL,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// Read the first line of a bridge: its greeting, or why it is not one this build speaks.
    pub fn parse(line: &str) -> Result<RemoteHello, HelloError> {
        match serde_json::from_str::<RemoteHello>(line.trim_end()) {
            Ok(h) if h.ocbar_remote == REMOTE_PROTOCOL => Ok(h),
            Ok(h) => Err(HelloError::Protocol {
                protocol: h.ocbar_remote,
                version: h.version,
            }),
            Err(_) => Err(HelloError::NotBridge),
        }
    }
}

/// Why a bridge's first line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloError {
    /// An ocbar bridge of another protocol number (and its version).
    Protocol { protocol: u32, version: String },
    /// Not an ocbar bridge at all (a shell's error, a login banner, garbage).
    NotBridge,
}

/// What the laptop asks the dev box's daemon to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteAction {
    Seen,
    SeenAll,
    Mute,
    Unmute,
    Open,
}

/// One line from the laptop to the bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRequest {
    pub id: u64,
    pub action: RemoteAction,
    /// The session's id on the dev box (absent for `seen-all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl RemoteRequest {
    /// The request as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The same request as the dev box's own socket protocol takes it.
    pub fn to_action(&self) -> Option<super::Action> {
        use super::Action;
        let session = || self.session.clone().filter(|s| !s.trim().is_empty());
        Some(match self.action {
            RemoteAction::SeenAll => Action::SeenAll,
            RemoteAction::Seen => Action::Seen(session()?),
            RemoteAction::Mute => Action::Mute(session()?, true),
            RemoteAction::Unmute => Action::Mute(session()?, false),
            RemoteAction::Open => Action::Open(session()?),
        })
    }
}

/// The answer to one [`RemoteRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteReply {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One line from the bridge after its greeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteLine {
    /// The dev box's snapshot (its JSON, as `ocbar status --format json` prints it).
    Snapshot(Box<super::snapshot::Snapshot>),
    Reply(RemoteReply),
    Error(String),
}

impl RemoteLine {
    /// The line, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_protocol_is_named_not_misread() {
        assert_eq!(
            RemoteHello::parse(r#"{"ocbar_remote":2,"version":"9.0.0"}"#),
            Err(HelloError::Protocol {
                protocol: 2,
                version: "9.0.0".into()
            })
        );
        assert_eq!(
            RemoteHello::parse("bash: ocbar: command not found"),
            Err(HelloError::NotBridge)
        );
        assert_eq!(
            RemoteHello::parse(&serde_json::to_string(&RemoteHello::current()).unwrap()),
            Ok(RemoteHello::current())
        );
    }

    #[test]
    fn requests_map_to_the_dev_box_actions() {
        let r = RemoteRequest {
            id: 3,
            action: RemoteAction::Unmute,
            session: Some("ses_1".into()),
        };
        let back: RemoteRequest = serde_json::from_str(r.to_line().trim_end()).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            back.to_action(),
            Some(super::super::Action::Mute("ses_1".into(), false))
        );
        let no_session = RemoteRequest { session: None, ..r };
        assert_eq!(no_session.to_action(), None);
    }
}
