//! One session as the model tracks it.

use super::event::{ErrorInfo, InputKind, SessionInfo, Status};
use crate::server_url::ServerUrl;
use crate::wire::snapshot::SessionState;

/// How a finished turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    Done,
    Error(String),
    Aborted,
}

/// Where a session is in its life, as far as this daemon has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Idle and not finished while watched (never active in this run, or lingered out).
    Quiet,
    /// Working on a turn.
    Busy,
    /// Backing off after a provider error.
    Retry {
        attempt: u32,
        message: String,
        next_ms: i64,
    },
    /// The last turn ended while watched.
    Finished(Finish),
}

impl Phase {
    /// Busy or retrying: a turn is in progress.
    pub fn is_active(&self) -> bool {
        matches!(self, Phase::Busy | Phase::Retry { .. })
    }
}

/// A pending permission or question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub request: String,
    pub kind: InputKind,
}

/// Everything the model knows of one session.
#[derive(Debug, Clone)]
pub struct Session {
    pub info: SessionInfo,
    /// Where the session can be reached: the last server that reported it. It may no longer
    /// be followed (its TUI exited, OpenCode moved to another port): then it is unreachable
    /// until a server reports it again.
    pub server: ServerUrl,
    /// Its own server is gone: the servers asked whether they know it (`GET /session/{id}`).
    /// Only a server that answers with the session shares the user's database.
    pub asked: Vec<ServerUrl>,
    /// Its own server is gone: the server its last turn's outcome is read through.
    pub reading: Option<ServerUrl>,
    /// Metadata has arrived (from an event or a fetch); until then `info` holds only the id.
    pub has_info: bool,
    /// A metadata fetch was asked for (asked once).
    pub info_requested: bool,
    pub phase: Phase,
    /// Permissions and questions waiting for the user.
    pub pending: Vec<Pending>,
    /// The error this turn reported so far (cleared by the next busy).
    pub turn_error: Option<ErrorInfo>,
    /// Shown in bars: active while watched, or active at connect.
    pub relevant: bool,
    /// Finished and not opened since.
    pub unvisited: bool,
    /// Notifications off for this session.
    pub muted: bool,
    /// Epoch ms of the last activity seen.
    pub last_activity_ms: i64,
    /// Epoch ms the current turn started (for the turn length of a notification).
    pub turn_started_ms: i64,
    /// The first retry of this turn was notified.
    pub retry_notified: bool,
    /// Epoch ms the session was finished and visited (linger starts then).
    pub visited_ms: Option<i64>,
    /// Was active before a connection gap and idle after it: the outcome is being fetched.
    pub awaiting_outcome: bool,
    /// Finished while children still ran: notify "done" when the last child stops.
    pub done_deferred: bool,
    /// The last resync could not read this session's status: shown as unknown until an event
    /// or a later resync tells (never taken for "finished").
    pub status_unknown: bool,
}

impl Session {
    /// A session known only by id (and metadata, if any), reported by `server`.
    pub fn new(server: ServerUrl, info: SessionInfo) -> Self {
        Session {
            info,
            server,
            asked: Vec::new(),
            reading: None,
            has_info: false,
            info_requested: false,
            phase: Phase::Quiet,
            pending: Vec::new(),
            turn_error: None,
            relevant: false,
            unvisited: false,
            muted: false,
            last_activity_ms: 0,
            turn_started_ms: 0,
            retry_notified: false,
            visited_ms: None,
            awaiting_outcome: false,
            done_deferred: false,
            status_unknown: false,
        }
    }

    /// The state users see, given whether the session's server is in sync. A known outcome
    /// stays known whatever happens to the server; only a turn in flight can be `unknown`.
    pub fn visible_state(&self, server_in_sync: bool) -> Option<SessionState> {
        let state = match &self.phase {
            Phase::Quiet => return None,
            Phase::Busy | Phase::Retry { .. }
                if self.awaiting_outcome || self.status_unknown || !server_in_sync =>
            {
                SessionState::Unknown
            }
            Phase::Busy | Phase::Retry { .. } if !self.pending.is_empty() => SessionState::Waiting,
            Phase::Busy => SessionState::Busy,
            Phase::Retry { .. } => SessionState::Retry,
            Phase::Finished(Finish::Done) => SessionState::Done,
            Phase::Finished(Finish::Error(_)) => SessionState::Error,
            Phase::Finished(Finish::Aborted) => SessionState::Aborted,
        };
        Some(state)
    }

    /// The one definition of "unvisited" every output uses: finished, and not opened since.
    pub fn is_unvisited(&self) -> bool {
        self.unvisited && matches!(self.phase, Phase::Finished(_))
    }

    /// Apply a new status from OpenCode; true when anything visible changed.
    pub fn set_status_fields(&mut self, status: &Status) -> bool {
        let next = match status {
            Status::Idle => return false,
            Status::Busy => Phase::Busy,
            Status::Retry {
                attempt,
                message,
                next_ms,
            } => Phase::Retry {
                attempt: *attempt,
                message: message.clone(),
                next_ms: *next_ms,
            },
        };
        if self.phase == next {
            return false;
        }
        self.phase = next;
        true
    }
}
