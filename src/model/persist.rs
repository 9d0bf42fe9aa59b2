//! What survives a daemon restart: unvisited marks and mutes (pure data, no file I/O).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::event::SessionInfo;
use super::session::{Finish, Phase, Session};
use super::state::State;
use crate::server_url::ServerUrl;

/// Version of the state file's schema.
pub const PERSIST_VERSION: u32 = 1;

/// The state file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persisted {
    pub version: u32,
    pub sessions: Vec<PersistedSession>,
}

/// One session worth remembering: unvisited and finished, or muted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedSession {
    pub server: String,
    pub id: String,
    pub directory: String,
    pub title: String,
    pub parent_id: Option<String>,
    pub model: Option<String>,
    pub agent: Option<String>,
    /// `done`, `error` or `aborted` when unvisited; None for a muted session with no mark.
    pub finished: Option<String>,
    pub message: Option<String>,
    pub unvisited: bool,
    pub muted: bool,
    pub last_activity_ms: i64,
}

impl State {
    /// The part of the model that must survive a restart.
    pub fn persisted(&self) -> Persisted {
        let mut sessions: Vec<PersistedSession> = self
            .sessions_iter()
            .filter(|(_, s)| s.muted || (s.unvisited && matches!(s.phase, Phase::Finished(_))))
            .map(|((server, id), s)| {
                let (finished, message) = match (&s.phase, s.unvisited) {
                    (Phase::Finished(Finish::Done), true) => (Some("done"), None),
                    (Phase::Finished(Finish::Error(m)), true) => (Some("error"), Some(m.clone())),
                    (Phase::Finished(Finish::Aborted), true) => (Some("aborted"), None),
                    _ => (None, None),
                };
                PersistedSession {
                    server: server.to_string(),
                    id: id.to_string(),
                    directory: s.info.directory.to_string(),
                    title: s.info.title.to_string(),
                    parent_id: s.info.parent_id.as_ref().map(|p| p.to_string()),
                    model: s.info.model.as_deref().map(str::to_string),
                    agent: s.info.agent.as_deref().map(str::to_string),
                    finished: finished.map(str::to_string),
                    message,
                    unvisited: finished.is_some(),
                    muted: s.muted,
                    last_activity_ms: s.last_activity_ms,
                }
            })
            .collect();
        sessions.sort_by(|a, b| (&a.server, &a.id).cmp(&(&b.server, &b.id)));
        Persisted {
            version: PERSIST_VERSION,
            sessions,
        }
    }

    /// Bring back what a previous daemon remembered. Sessions the model already knows keep
    /// their live state; only marks and mutes are added to them.
    pub fn restore(&mut self, saved: Persisted) {
        for p in saved.sessions {
            let key = (
                ServerUrl::from(p.server.as_str()),
                Arc::<str>::from(p.id.as_str()),
            );
            let finish = match p.finished.as_deref() {
                Some("done") => Some(Finish::Done),
                Some("error") => Some(Finish::Error(p.message.clone().unwrap_or_default())),
                Some("aborted") => Some(Finish::Aborted),
                _ => None,
            };
            let info = SessionInfo {
                id: key.1.clone(),
                directory: p.directory.into(),
                title: p.title.into(),
                parent_id: p.parent_id.map(|s| Arc::from(s.as_str())),
                agent: p.agent.map(Arc::from),
                model: p.model.map(Arc::from),
                updated_ms: p.last_activity_ms,
            };
            let s = self.session_entry(key, || {
                let mut s = Session::new(info);
                s.has_info = true;
                s
            });
            s.muted = p.muted;
            s.last_activity_ms = s.last_activity_ms.max(p.last_activity_ms);
            if let Some(f) = finish
                && p.unvisited
                && !s.phase.is_active()
            {
                s.phase = Phase::Finished(f);
                s.relevant = true;
                s.unvisited = true;
                s.last_activity_ms = p.last_activity_ms;
            }
        }
        self.touch();
    }
}
