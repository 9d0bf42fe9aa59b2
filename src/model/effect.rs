//! Outputs of the session model besides the new state: things the imperative shell must do.

use super::event::SessionId;
use crate::server_url::ServerUrl;

/// Why a notification is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyKind {
    /// A turn finished cleanly (busy/retry → idle with no error).
    Done,
    /// A turn ended with an error.
    Error,
    /// The user stopped the turn (off by default in the notifier).
    Aborted,
    /// The first retry of a turn (provider error, backing off).
    Retry,
    /// A permission or question is waiting for the user.
    Waiting,
}

impl NotifyKind {
    /// The lower-case name used in config files, environment variables and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Done => "done",
            NotifyKind::Error => "error",
            NotifyKind::Aborted => "aborted",
            NotifyKind::Retry => "retry",
            NotifyKind::Waiting => "waiting",
        }
    }
}

/// A notification the model decided is due. Channels and their switches live in the notifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: NotifyKind,
    pub server: ServerUrl,
    pub session: SessionId,
    pub directory: String,
    pub title: String,
    /// The error or retry message, or what is being asked.
    pub message: Option<String>,
    /// The session is a sub-agent (has a parent).
    pub child: bool,
    /// How long the turn ran, in ms (for a minimum-busy-time filter).
    pub busy_ms: i64,
    /// The remote machine the session lives on (`--remote HOST`); `None`: this machine.
    pub host: Option<std::sync::Arc<str>>,
}

#[cfg(test)]
impl Notification {
    /// A notification of `kind` for `session`, titled `title`, of a turn of a second on
    /// `http://127.0.0.1:4096` in `/p`: for the tests of what delivers notifications.
    pub(crate) fn sample(kind: NotifyKind, session: &str, title: &str) -> Notification {
        Notification {
            kind,
            server: "http://127.0.0.1:4096".into(),
            session: session.into(),
            directory: "/p".into(),
            title: title.into(),
            message: None,
            child: false,
            busy_ms: 1000,
            host: None,
        }
    }
}

/// Something the shell must do because of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Tell the user (through whichever channels are on).
    Notify(Notification),
    /// Metadata of this session is unknown, or its own server is gone and it is looked for
    /// through this one: fetch `GET /session/{id}` and feed back `Event::SessionInfo` (or
    /// `Event::Missing` on a 404).
    FetchSession {
        server: ServerUrl,
        session: SessionId,
    },
    /// The session was active before a gap and is idle after it (or its server is gone and
    /// this one reads it instead): read its last assistant message and feed back
    /// `Event::Outcome` (or `Event::Missing` on a 404).
    FetchOutcome {
        server: ServerUrl,
        session: SessionId,
    },
}
