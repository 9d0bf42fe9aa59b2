//! Typed inputs of the session model.
//!
//! The source turns OpenCode's JSON into these; the socket server turns client
//! requests into the `User*` variants. The model never sees JSON or sockets.

use std::sync::Arc;

use crate::server_url::ServerUrl;

/// An OpenCode session id (`ses_…`).
pub type SessionId = Arc<str>;

/// OpenCode's `SessionStatus`, reduced to what the model needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not working. Arrives after every turn (often twice).
    Idle,
    /// Working on a turn.
    Busy,
    /// A provider error, backing off before attempt `attempt` at `next_ms` (epoch ms).
    Retry {
        attempt: u32,
        message: String,
        next_ms: i64,
    },
}

/// An error reported by `session.error` or carried by an assistant message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// OpenCode's error class, e.g. `APIError`, `MessageAbortedError`.
    pub name: String,
    /// The human-readable message (`data.message`), possibly empty.
    pub message: String,
}

impl ErrorInfo {
    /// The user stopped the turn (OpenCode 2's `session.execution.interrupted` with reason
    /// `user`): the same error OpenCode 1 reports for it, so both read as "aborted".
    pub fn aborted() -> ErrorInfo {
        ErrorInfo {
            name: "MessageAbortedError".to_owned(),
            message: String::new(),
        }
    }

    /// True for the user pressing stop (or an instance being disposed).
    pub fn is_abort(&self) -> bool {
        self.name == "MessageAbortedError"
    }
}

/// Session metadata from `session.created/updated` or `GET /experimental/session`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionInfo {
    pub id: SessionId,
    pub directory: Arc<str>,
    pub title: Arc<str>,
    pub parent_id: Option<SessionId>,
    /// Last used primary agent, when OpenCode has recorded one.
    pub agent: Option<Arc<str>>,
    /// `provider/model`, when OpenCode has recorded one.
    pub model: Option<Arc<str>>,
    /// `time.updated` (epoch ms): OpenCode's own "last activity".
    pub updated_ms: i64,
}

impl SessionInfo {
    /// Apply one changed field; true when it changed anything.
    pub fn apply(&mut self, change: SessionChange) -> bool {
        match change {
            SessionChange::Title(t) if self.title != t => self.title = t,
            SessionChange::Agent(a) if self.agent.as_ref() != Some(&a) => self.agent = Some(a),
            SessionChange::Model(m) if self.model.as_ref() != Some(&m) => self.model = Some(m),
            _ => return false,
        }
        true
    }
}

/// Who a message is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// The parts of `message.updated` that matter: who, which model/agent, and how the turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    pub id: String,
    pub role: Role,
    pub agent: Option<String>,
    /// `provider/model`.
    pub model: Option<String>,
    /// `time.completed` is set (an assistant message finished, successfully or not).
    pub completed: bool,
    /// The error the turn ended with, if any.
    pub error: Option<ErrorInfo>,
    /// `time.created` (epoch ms).
    pub created_ms: i64,
}

/// What a pending user-input request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Permission,
    Question,
}

/// A permission or question waiting for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInput {
    pub session: SessionId,
    /// `per_…` or `que_…`.
    pub request: String,
    pub kind: InputKind,
}

/// How the last turn of a session ended, read back after a reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnOutcome {
    /// The last assistant message completed with no error.
    Finished,
    /// The last assistant message carries this error.
    Failed(ErrorInfo),
    /// The last assistant message never completed (the server died mid-turn), or none exists.
    Interrupted,
}

/// Everything learnt from HTTP right after a (re)connect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResyncReport {
    /// Metadata of recently updated sessions (all directories of the server).
    pub sessions: Vec<SessionInfo>,
    /// Non-idle sessions (`GET /session/status?directory=D` for every known directory).
    /// A session not listed here is idle.
    pub active: Vec<(SessionId, Status)>,
    /// Pending permissions and questions.
    pub pending: Vec<PendingInput>,
    /// Directories whose statuses could not be read (the request failed, or the directory was
    /// over the per-resync limit). Their sessions are not idle for lack of a listing in
    /// `active`: their state is unknown until an event or a later resync tells.
    pub unread_statuses: Vec<Arc<str>>,
    /// Directories whose pending permissions or questions could not be read: the pending
    /// requests of that kind already known there stay as they are.
    pub unread_pending: Vec<(Arc<str>, InputKind)>,
    /// No status could be read, in any directory (OpenCode 2 lists the running sessions of a
    /// whole server at once, `GET /api/session/active`): nothing is idle for lack of a listing.
    pub statuses_unread_everywhere: bool,
    /// The pending requests of these kinds could not be read anywhere: what is known of them
    /// stays as it is.
    pub pending_unread_everywhere: Vec<InputKind>,
}

impl ResyncReport {
    /// Whether the statuses of sessions in `directory` were read (`""`: a session whose
    /// directory is not known, which is read only if every directory was).
    pub fn statuses_read(&self, directory: &str) -> bool {
        if self.statuses_unread_everywhere {
            false
        } else if directory.is_empty() {
            self.unread_statuses.is_empty()
        } else {
            !self.unread_statuses.iter().any(|d| &**d == directory)
        }
    }

    /// Whether the pending requests of `kind` in `directory` were read (`""` as above).
    pub fn pending_read(&self, directory: &str, kind: InputKind) -> bool {
        !self.pending_unread_everywhere.contains(&kind)
            && self
                .unread_pending
                .iter()
                .filter(|(_, k)| *k == kind)
                .all(|(d, _)| !directory.is_empty() && &**d != directory)
    }
}

/// One field of a session's metadata, changed on its own (OpenCode 2 sends `session.renamed`,
/// `session.agent.selected` and `session.model.selected` instead of a whole session object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    /// The new title.
    Title(Arc<str>),
    /// The agent now selected.
    Agent(Arc<str>),
    /// The model now selected, `provider/model`.
    Model(Arc<str>),
}

/// Which sessions a user command names, already resolved by the caller to ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One session (a session is its id, whichever server reports it).
    One { session: SessionId },
    /// Every relevant session.
    All,
}

/// One input to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The daemon starts watching a server (configured or discovered).
    ServerAdded { server: ServerUrl },
    /// The daemon stops watching a server (a discovered server went away).
    ServerRemoved { server: ServerUrl },
    /// The SSE stream opened (`server.connected`). State stays unknown until `Resync`.
    Connected { server: ServerUrl },
    /// The stream broke, could not be opened, or the watchdog gave up on it.
    Disconnected { server: ServerUrl, reason: String },
    /// Any frame arrived, heartbeats included: the connection is alive.
    Alive { server: ServerUrl },
    /// The HTTP resync after a connect finished.
    Resync {
        server: ServerUrl,
        report: ResyncReport,
    },
    /// `session.status`.
    Status {
        server: ServerUrl,
        directory: String,
        session: SessionId,
        status: Status,
    },
    /// `session.error` (`sessionID` is optional in OpenCode's schema).
    SessionError {
        server: ServerUrl,
        session: Option<SessionId>,
        error: ErrorInfo,
    },
    /// `session.created` / `session.updated`, or a metadata fetch answering `Effect::FetchSession`.
    SessionInfo {
        server: ServerUrl,
        info: SessionInfo,
    },
    /// `session.deleted`: gone from the user's database, so from every server.
    SessionDeleted {
        server: ServerUrl,
        session: SessionId,
    },
    /// A read of the session (`Effect::FetchSession`, `Effect::FetchOutcome`) answered 404:
    /// deleted, if `server` is its own; else that server may use another database.
    Missing {
        server: ServerUrl,
        session: SessionId,
    },
    /// `message.updated`.
    Message {
        server: ServerUrl,
        session: SessionId,
        info: MessageInfo,
    },
    /// OpenCode 2's `session.execution.succeeded` / `failed` / `interrupted` (reason `user`):
    /// the server says how the running turn of `session` ended. `TurnOutcome::Interrupted`
    /// is not sent for it (a turn interrupted by a shutdown is resumed by the server).
    TurnEnded {
        server: ServerUrl,
        session: SessionId,
        outcome: TurnOutcome,
    },
    /// One metadata field of a known session changed (OpenCode 2).
    SessionChanged {
        server: ServerUrl,
        session: SessionId,
        change: SessionChange,
    },
    /// `permission.asked` / `question.asked`.
    InputAsked {
        server: ServerUrl,
        input: PendingInput,
    },
    /// `permission.replied` / `question.replied` / `question.rejected`.
    InputAnswered {
        server: ServerUrl,
        session: SessionId,
        request: String,
    },
    /// The answer to `Effect::FetchOutcome`, from the server it was read through.
    Outcome {
        server: ServerUrl,
        session: SessionId,
        outcome: TurnOutcome,
    },
    /// The user opened or acknowledged sessions (`ocbar seen`, `ocbar open`).
    Seen { target: Target },
    /// Mute or unmute notifications of one session.
    Mute { target: Target, muted: bool },
    /// What a TUI shows (`session` None: not a session screen) and whether the user can see it
    /// (`focused`: on screen, decided at the edges from its tmux pane and the focused window,
    /// see `daemon::visibility`). `tui` identifies the TUI (e.g. its pid); `focused: false`
    /// with `session: None` also serves as "this TUI went away".
    Focus {
        tui: String,
        session: Option<SessionId>,
        focused: bool,
    },
    /// Time passed (lets visited finished sessions linger out). Sent with heartbeats.
    Tick,
}

impl Event {
    /// The server this event belongs to, if it belongs to one.
    pub fn server(&self) -> Option<&ServerUrl> {
        match self {
            Event::ServerAdded { server }
            | Event::ServerRemoved { server }
            | Event::Connected { server }
            | Event::Disconnected { server, .. }
            | Event::Alive { server }
            | Event::Resync { server, .. }
            | Event::Status { server, .. }
            | Event::SessionError { server, .. }
            | Event::SessionInfo { server, .. }
            | Event::SessionDeleted { server, .. }
            | Event::Missing { server, .. }
            | Event::Message { server, .. }
            | Event::InputAsked { server, .. }
            | Event::InputAnswered { server, .. }
            | Event::Outcome { server, .. }
            | Event::TurnEnded { server, .. }
            | Event::SessionChanged { server, .. } => Some(server),
            Event::Seen { .. } | Event::Mute { .. } | Event::Focus { .. } | Event::Tick => None,
        }
    }
}
