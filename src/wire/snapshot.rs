//! The JSON snapshot: the contract users script against (`ocbar status --format json`).
//!
//! Field names are stable; see README "JSON snapshot". Renderers read only this type, so
//! every bar shows the same truth.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::server_url::ServerUrl;

/// Version of the snapshot schema (the `version` field).
pub const SNAPSHOT_VERSION: u32 = 1;

/// What a session is doing, as shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// Blocked on the user: a permission or question is pending.
    Waiting,
    /// Provider error, backing off.
    Retry,
    /// Working.
    Busy,
    /// The turn ended with an error.
    Error,
    /// Finished cleanly.
    Done,
    /// The user stopped it.
    Aborted,
    /// It was working when contact with its server was lost (or is not yet resynced), and
    /// how the turn ended has not been read yet.
    Unknown,
}

impl SessionState {
    /// Lower-case name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Waiting => "waiting",
            SessionState::Retry => "retry",
            SessionState::Busy => "busy",
            SessionState::Error => "error",
            SessionState::Done => "done",
            SessionState::Aborted => "aborted",
            SessionState::Unknown => "unknown",
        }
    }

    /// Finished states carry the unvisited mark.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            SessionState::Done | SessionState::Error | SessionState::Aborted
        )
    }

    /// Working or blocked on the user.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            SessionState::Busy | SessionState::Retry | SessionState::Waiting
        )
    }
}

/// One watched OpenCode server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerView {
    pub url: ServerUrl,
    /// The event stream is open.
    pub connected: bool,
    /// What ocbar shows for this server may be out of date (not connected, or not resynced yet).
    pub stale: bool,
}

/// One relevant session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The session's id: unique in the snapshot (a session is its id, whichever server
    /// reports it).
    pub id: Arc<str>,
    /// The server it was last reported by: where `open` reaches it.
    pub server: ServerUrl,
    /// `server` is followed and connected. False: that server is gone (OpenCode restarted
    /// elsewhere, its TUI exited) or not connected; a finished session keeps its state.
    #[serde(default = "reachable_default")]
    pub reachable: bool,
    pub directory: Arc<str>,
    pub title: Arc<str>,
    pub state: SessionState,
    /// Retry attempt; null unless `state` is `retry`.
    pub attempt: Option<u32>,
    /// Epoch ms of the next retry; null unless `state` is `retry`.
    pub retry_next_ms: Option<i64>,
    /// Retry or error message; null unless `state` is `retry` or `error`.
    pub message: Option<Arc<str>>,
    /// `provider/model`.
    pub model: Option<Arc<str>>,
    pub agent: Option<Arc<str>>,
    /// Epoch ms of the last activity ocbar saw.
    pub last_activity_ms: i64,
    /// Finished and not yet opened by the user.
    pub unvisited: bool,
    pub parent_id: Option<Arc<str>>,
    /// Sub-agent sessions of this one that are busy, retrying or waiting.
    pub children_active: u32,
    /// Notifications for this session are off (`ocbar mute`).
    #[serde(default)]
    pub muted: bool,
    /// The remote machine it lives on, as the user named it (`--remote HOST`); null: this
    /// machine. A session is (host, id): two hosts never merge their sessions.
    #[serde(default)]
    pub host: Option<Arc<str>>,
}

impl SessionView {
    /// How a command names this session unambiguously: its id, prefixed with `HOST:` when it
    /// lives on a remote machine (`ocbar open devbox:ses_…`).
    pub fn qualified_id(&self) -> String {
        match &self.host {
            Some(h) => format!("{h}:{}", self.id),
            None => self.id.to_string(),
        }
    }
}

/// Snapshots of daemons that predate `reachable` meant every session as reachable.
fn reachable_default() -> bool {
    true
}

/// One remote machine followed over ssh (`--remote HOST`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteView {
    /// The ssh destination, as the user gave it.
    pub host: Arc<str>,
    /// The link is up: its sessions are live.
    pub connected: bool,
}

/// Number of top-level sessions per state (sub-agents are folded into their parents).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub busy: u32,
    pub retry: u32,
    pub waiting: u32,
    pub done: u32,
    pub error: u32,
    pub aborted: u32,
    pub unvisited: u32,
}

impl Counts {
    /// Count one top-level session in `state` (`unknown` has no count of its own).
    pub fn count(&mut self, state: SessionState, unvisited: bool) {
        match state {
            SessionState::Busy => self.busy += 1,
            SessionState::Retry => self.retry += 1,
            SessionState::Waiting => self.waiting += 1,
            SessionState::Done => self.done += 1,
            SessionState::Error => self.error += 1,
            SessionState::Aborted => self.aborted += 1,
            SessionState::Unknown => {}
        }
        if unvisited {
            self.unvisited += 1;
        }
    }
}

/// Everything a bar needs, at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub servers: Vec<ServerView>,
    /// Relevant sessions, most recent activity first; sub-agents carry `parent_id`.
    pub sessions: Vec<SessionView>,
    pub counts: Counts,
    /// Remote machines followed over ssh (empty without `--remote`).
    #[serde(default)]
    pub remotes: Vec<RemoteView>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            version: SNAPSHOT_VERSION,
            servers: Vec::new(),
            sessions: Vec::new(),
            counts: Counts::default(),
            remotes: Vec::new(),
        }
    }
}

impl Snapshot {
    /// Top-level sessions only (what bars and the panel list).
    pub fn roots(&self) -> impl Iterator<Item = &SessionView> {
        self.sessions.iter().filter(|s| s.parent_id.is_none())
    }

    /// The unvisited top-level session with the latest activity (ties: the smallest id): the
    /// one every bar highlights and `ocbar open --newest-unvisited` opens. The same `unvisited`
    /// that `counts.unvisited` counts, so a bar showing a mark always has a session to open.
    pub fn newest_unvisited(&self) -> Option<&SessionView> {
        self.roots()
            .filter(|s| s.unvisited)
            .max_by_key(|s| (s.last_activity_ms, std::cmp::Reverse(&s.id)))
    }

    /// No server and no remote machine is connected (bars show the offline marker).
    pub fn offline(&self) -> bool {
        (!self.servers.is_empty() || !self.remotes.is_empty())
            && self.servers.iter().all(|s| !s.connected)
            && self.remotes.iter().all(|r| !r.connected)
    }
}
