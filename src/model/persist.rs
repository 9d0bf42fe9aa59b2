//! What survives a daemon restart (pure data, no file I/O): finished sessions with their
//! unvisited marks (visited ones too, for the rest of their linger), sessions whose turn was
//! running (their outcome is read after the restart), and mutes.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::event::SessionInfo;
use super::session::{Finish, Phase, Session};
use super::state::State;
use crate::server_url::ServerUrl;

/// Version of the state file's schema. 2: one entry per session id, visited finished sessions
/// and running ones kept too. Version 1 files (one entry per server and id, unvisited and
/// muted sessions only) are read and migrated ([`Persisted::migrated`]).
pub const PERSIST_VERSION: u32 = 2;

/// The state file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persisted {
    pub version: u32,
    pub sessions: Vec<PersistedSession>,
}

/// One session worth remembering: finished and listed, running, or muted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedSession {
    /// Where it was last reached.
    pub server: String,
    pub id: String,
    pub directory: String,
    pub title: String,
    pub parent_id: Option<String>,
    pub model: Option<String>,
    pub agent: Option<String>,
    /// `done`, `error` or `aborted` for a listed finished session; None otherwise.
    pub finished: Option<String>,
    pub message: Option<String>,
    pub unvisited: bool,
    pub muted: bool,
    /// Last activity; for a running session, when its turn started.
    pub last_activity_ms: i64,
    /// When a finished session was visited (its linger runs from then). Version 2.
    #[serde(default)]
    pub visited_ms: Option<i64>,
    /// A turn was running: its outcome is read after the restart. Version 2.
    #[serde(default)]
    pub active: bool,
}

impl Persisted {
    /// A file of an older version as this version: version 1 could hold the same id once per
    /// server; the entry with the latest activity wins, a mute on any of them is kept.
    pub fn migrated(mut self) -> Persisted {
        if self.version >= PERSIST_VERSION {
            return self;
        }
        self.sessions.sort_by(|a, b| {
            (&a.id, a.last_activity_ms, &a.server).cmp(&(&b.id, b.last_activity_ms, &b.server))
        });
        let mut by_id: HashMap<String, PersistedSession> = HashMap::new();
        for p in self.sessions {
            let muted = p.muted || by_id.get(&p.id).is_some_and(|o| o.muted);
            let mut p = p;
            p.muted = muted;
            by_id.insert(p.id.clone(), p);
        }
        let mut sessions: Vec<PersistedSession> = by_id.into_values().collect();
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        Persisted {
            version: PERSIST_VERSION,
            sessions,
        }
    }
}

/// One remembered session as the model holds it, borrowed: what [`PersistedSession`] owns.
/// [`State::persisted`] and [`State::persisted_fingerprint`] both read the model through it, so
/// the fingerprint covers exactly what the state file would hold.
#[derive(Hash)]
struct RememberedView<'a> {
    server: &'a str,
    id: &'a str,
    directory: &'a str,
    title: &'a str,
    parent_id: Option<&'a str>,
    model: Option<&'a str>,
    agent: Option<&'a str>,
    finished: Option<&'static str>,
    message: Option<&'a str>,
    unvisited: bool,
    muted: bool,
    last_activity_ms: i64,
    visited_ms: Option<i64>,
    active: bool,
}

impl RememberedView<'_> {
    /// The owned entry the state file holds.
    fn to_persisted(&self) -> PersistedSession {
        PersistedSession {
            server: self.server.to_owned(),
            id: self.id.to_owned(),
            directory: self.directory.to_owned(),
            title: self.title.to_owned(),
            parent_id: self.parent_id.map(str::to_owned),
            model: self.model.map(str::to_owned),
            agent: self.agent.map(str::to_owned),
            finished: self.finished.map(str::to_owned),
            message: self.message.map(str::to_owned),
            unvisited: self.unvisited,
            muted: self.muted,
            last_activity_ms: self.last_activity_ms,
            visited_ms: self.visited_ms,
            active: self.active,
        }
    }
}

impl State {
    /// The sessions worth remembering, in the table's order: finished and listed, running, or
    /// muted.
    fn remembered(&self) -> impl Iterator<Item = RememberedView<'_>> {
        self.sessions_iter()
            .filter(|(_, s)| s.muted || (s.relevant && !matches!(s.phase, Phase::Quiet)))
            .map(|(id, s)| {
                let listed = s.relevant;
                let (finished, message) = match (&s.phase, listed) {
                    (Phase::Finished(Finish::Done), true) => (Some("done"), None),
                    (Phase::Finished(Finish::Error(m)), true) => (Some("error"), Some(m.as_ref())),
                    (Phase::Finished(Finish::Aborted), true) => (Some("aborted"), None),
                    _ => (None, None),
                };
                let active = listed && s.phase.is_active();
                let unvisited = finished.is_some() && s.unvisited;
                RememberedView {
                    server: s.server.as_str(),
                    id,
                    directory: &s.info.directory,
                    title: &s.info.title,
                    parent_id: s.info.parent_id.as_deref(),
                    model: s.info.model.as_deref(),
                    agent: s.info.agent.as_deref(),
                    finished,
                    message,
                    unvisited,
                    muted: s.muted,
                    // A running turn's activity changes all the time: its start does not.
                    last_activity_ms: if active {
                        s.turn_started_ms
                    } else {
                        s.last_activity_ms
                    },
                    visited_ms: if finished.is_some() && !unvisited {
                        s.visited_ms
                    } else {
                        None
                    },
                    active,
                }
            })
    }

    /// The part of the model that must survive a restart.
    pub fn persisted(&self) -> Persisted {
        let mut sessions: Vec<PersistedSession> =
            self.remembered().map(|v| v.to_persisted()).collect();
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        Persisted {
            version: PERSIST_VERSION,
            sessions,
        }
    }

    /// A 64-bit hash of what [`persisted`](Self::persisted) would return, computed without
    /// building it (no string is copied): the daemon builds and writes the state file's part
    /// only when this changes. Independent of the table's order (the sum of each session's
    /// hash).
    pub fn persisted_fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        self.remembered().fold(0u64, |sum, v| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            v.hash(&mut h);
            sum.wrapping_add(h.finish())
        })
    }

    /// Bring back what a previous daemon remembered (any version: migrated first). Sessions
    /// the model already knows keep their live state; only marks and mutes are added to them.
    pub fn restore(&mut self, saved: Persisted) {
        let mut saved = saved.migrated();
        saved.sessions.sort_by_key(|p| p.last_activity_ms);
        for p in saved.sessions {
            let id: Arc<str> = Arc::from(p.id.as_str());
            let server = ServerUrl::from(p.server.as_str());
            let finish = match p.finished.as_deref() {
                Some("done") => Some(Finish::Done),
                Some("error") => Some(Finish::Error(p.message.clone().unwrap_or_default())),
                Some("aborted") => Some(Finish::Aborted),
                _ => None,
            };
            let info = SessionInfo {
                id: id.clone(),
                directory: p.directory.into(),
                title: p.title.into(),
                parent_id: p.parent_id.map(|s| Arc::from(s.as_str())),
                agent: p.agent.map(Arc::from),
                model: p.model.map(Arc::from),
                updated_ms: p.last_activity_ms,
            };
            let (s, created) = self.session_entry(id, || {
                let mut s = Session::new(server.clone(), info);
                s.has_info = true;
                s
            });
            s.muted = p.muted || (!created && s.muted);
            if s.phase.is_active() || (!created && p.last_activity_ms < s.last_activity_ms) {
                // Live state, or a newer entry for the same id: it wins.
                continue;
            }
            s.server = server;
            s.last_activity_ms = s.last_activity_ms.max(p.last_activity_ms);
            if let Some(f) = finish {
                s.phase = Phase::Finished(f);
                s.relevant = true;
                s.unvisited = p.unvisited;
                s.visited_ms = if p.unvisited {
                    None
                } else {
                    Some(p.visited_ms.unwrap_or(p.last_activity_ms))
                };
                s.last_activity_ms = p.last_activity_ms;
            } else if p.active {
                // Running when the daemon stopped: `unknown` until its outcome is read.
                s.phase = Phase::Busy;
                s.relevant = true;
                s.unvisited = false;
                s.visited_ms = None;
                s.turn_started_ms = p.last_activity_ms;
                s.last_activity_ms = p.last_activity_ms;
            }
        }
        self.touch();
    }
}
