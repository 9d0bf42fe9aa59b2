//! The transition function: `(State, Event, now) → (State, effects)`.
//!
//! Every rule of the session model (README "The session model") lives here, and only here. Edge-triggered: only a
//! transition changes anything; duplicates (idle twice, busy again) are no-ops.

use std::collections::HashMap;
use std::sync::Arc;

use super::effect::{Effect, Notification, NotifyKind};
use super::event::{
    ErrorInfo, Event, InputKind, ResyncReport, SessionId, SessionInfo, Status, Target, TurnOutcome,
};
use super::session::{Finish, Pending, Phase, Session};
use crate::server_url::ServerUrl;
use crate::wire::snapshot::{
    Counts, SNAPSHOT_VERSION, ServerView, SessionState, SessionView, Snapshot,
};

/// Tunables of the model (from the `[model]` config table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// How long a visited finished session stays listed, in ms (default 30 min).
    pub linger_ms: i64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            linger_ms: 30 * 60 * 1000,
        }
    }
}

/// What the model knows of one server.
#[derive(Debug, Clone)]
struct ServerState {
    url: ServerUrl,
    /// The SSE stream is open.
    connected: bool,
    /// A resync finished since the stream opened: statuses are trustworthy.
    synced: bool,
    /// At least one resync has happened in this run (later ones are re-syncs after a gap).
    ever_synced: bool,
}

impl ServerState {
    fn in_sync(&self) -> bool {
        self.connected && self.synced
    }
}

/// The key of a session: the same id on two servers is two sessions.
pub type SessionKey = (ServerUrl, SessionId);

/// The whole model. Mutated only by [`State::apply`] and read through [`State::snapshot`].
#[derive(Debug, Clone, Default)]
pub struct State {
    config: ModelConfig,
    servers: Vec<ServerState>,
    sessions: HashMap<SessionKey, Session>,
    /// What each reporting TUI shows, and whether its terminal has focus.
    tuis: HashMap<String, (Option<SessionId>, bool)>,
    /// Bumped on every change a user could see; lets readers cache renders.
    generation: u64,
}

/// Why a `<SESSION>` argument did not name exactly one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing matched the id, id prefix or title substring.
    NotFound(String),
    /// Several sessions matched: the query, then their ids and titles.
    Ambiguous(String, Vec<(String, String)>),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::NotFound(q) => write!(
                f,
                "no session matches '{q}' (give a session id, a unique id prefix, or a unique part of its title; 'ocbar list' shows them)"
            ),
            ResolveError::Ambiguous(q, c) => {
                write!(f, "'{q}' matches {} sessions:", c.len())?;
                for (id, title) in c {
                    write!(f, "\n  {id}  {title}")?;
                }
                write!(f, "\ngive more of the id or title")
            }
        }
    }
}

impl State {
    /// An empty model with these tunables.
    pub fn new(config: ModelConfig) -> Self {
        State {
            config,
            ..State::default()
        }
    }

    /// Changes whenever the snapshot would change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of sessions held (relevant or not), for `doctor` and memory bounds.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    fn bump(&mut self) {
        self.generation += 1;
    }

    /// Mark the model changed (after a restore).
    pub(super) fn touch(&mut self) {
        self.bump();
    }

    /// Every session the model holds.
    pub(super) fn sessions_iter(&self) -> impl Iterator<Item = (&SessionKey, &Session)> {
        self.sessions.iter()
    }

    /// The session under `key`, created by `make` if absent.
    pub(super) fn session_entry(
        &mut self,
        key: SessionKey,
        make: impl FnOnce() -> Session,
    ) -> &mut Session {
        self.sessions.entry(key).or_insert_with(make)
    }

    fn server_mut(&mut self, url: &ServerUrl) -> &mut ServerState {
        if let Some(i) = self.servers.iter().position(|s| &s.url == url) {
            return &mut self.servers[i];
        }
        self.servers.push(ServerState {
            url: url.clone(),
            connected: false,
            synced: false,
            ever_synced: false,
        });
        let last = self.servers.len() - 1;
        &mut self.servers[last]
    }

    fn server_in_sync(&self, url: &ServerUrl) -> bool {
        self.servers.iter().any(|s| &s.url == url && s.in_sync())
    }

    /// Apply one event at time `now_ms` (epoch ms); returns what the shell must do.
    pub fn apply(&mut self, event: Event, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        // A late event of a server that is not (or no longer) followed must not bring it back
        // as a ghost entry, nor leave sessions that no server accounts for. (A stream that
        // opens, `Connected`, does add its server.)
        if let Some(server) = event.server()
            && !matches!(
                event,
                Event::ServerAdded { .. } | Event::ServerRemoved { .. } | Event::Connected { .. }
            )
            && !self.servers.iter().any(|s| &s.url == server)
        {
            return fx;
        }
        match event {
            Event::ServerAdded { server } => {
                let known = self.servers.iter().any(|s| s.url == server);
                self.server_mut(&server);
                if !known {
                    self.bump();
                }
            }
            Event::ServerRemoved { server } => {
                self.servers.retain(|s| s.url != server);
                self.sessions.retain(|(s, _), _| s != &server);
                self.bump();
            }
            Event::Connected { server } => {
                let s = self.server_mut(&server);
                s.connected = true;
                s.synced = false;
                self.bump();
            }
            Event::Disconnected { server, .. } => {
                let s = self.server_mut(&server);
                if s.connected || s.synced {
                    s.connected = false;
                    s.synced = false;
                    self.bump();
                }
            }
            Event::Alive { .. } => {}
            Event::Tick => self.expire(now_ms),
            Event::Resync { server, report } => self.resync(server, report, now_ms, &mut fx),
            Event::Status {
                server,
                directory,
                session,
                status,
            } => self.on_status(server, directory, session, status, now_ms, &mut fx),
            Event::SessionError {
                server,
                session,
                error,
            } => {
                if let Some(id) = session {
                    self.on_error(&server, &id, error);
                }
            }
            Event::SessionInfo { server, info } => self.on_info(server, info),
            Event::SessionDeleted { server, session } => {
                if let Some(s) = self.sessions.remove(&(server, session))
                    && s.relevant
                {
                    self.bump();
                }
            }
            Event::Message {
                server,
                session,
                info,
            } => {
                let key = (server, session);
                if let Some(s) = self.sessions.get_mut(&key) {
                    let mut changed = false;
                    if info.agent.is_some() && s.info.agent.as_deref() != info.agent.as_deref() {
                        s.info.agent = info.agent.as_deref().map(Arc::from);
                        changed = true;
                    }
                    if info.model.is_some() && s.info.model.as_deref() != info.model.as_deref() {
                        s.info.model = info.model.as_deref().map(Arc::from);
                        changed = true;
                    }
                    // A new prompt clears the unvisited mark through the busy it causes; the
                    // user message itself is updated again after idle (its summary), so it
                    // must not count as the user looking.
                    if s.phase.is_active()
                        && let Some(err) = info.error
                        && s.turn_error.is_none()
                    {
                        s.turn_error = Some(err);
                    }
                    if s.relevant && changed {
                        s.last_activity_ms = now_ms;
                        self.bump();
                    }
                }
            }
            Event::InputAsked { server, input } => {
                let key = (server.clone(), input.session.clone());
                let first_time = self
                    .sessions
                    .get(&key)
                    .is_none_or(|s| !s.pending.iter().any(|p| p.request == input.request));
                if !first_time {
                    return fx;
                }
                let dir = String::new();
                let fg = self.is_foreground(&key.1);
                let s = self.ensure(&key, dir, &mut fx);
                if !s.phase.is_active() {
                    // Asking implies a running turn, even if its busy was missed.
                    start_turn(s, now_ms);
                    s.phase = Phase::Busy;
                }
                s.pending.push(Pending {
                    request: input.request,
                    kind: input.kind,
                });
                s.last_activity_ms = now_ms;
                let what = match input.kind {
                    InputKind::Permission => "asks for permission",
                    InputKind::Question => "asks a question",
                };
                let n = notification(&key, s, NotifyKind::Waiting, Some(what.to_string()), now_ms);
                if let Some(n) = n.filter(|_| !fg) {
                    fx.push(Effect::Notify(n));
                }
                self.bump();
            }
            Event::InputAnswered {
                server,
                session,
                request,
            } => {
                if let Some(s) = self.sessions.get_mut(&(server, session)) {
                    let before = s.pending.len();
                    s.pending.retain(|p| p.request != request);
                    if s.pending.len() != before {
                        s.last_activity_ms = now_ms;
                        self.bump();
                    }
                }
            }
            Event::Outcome {
                server,
                session,
                outcome,
            } => {
                let key = (server, session);
                let Some(s) = self.sessions.get_mut(&key) else {
                    return fx;
                };
                if !s.awaiting_outcome {
                    return fx;
                }
                s.awaiting_outcome = false;
                s.turn_error = match outcome {
                    TurnOutcome::Finished => None,
                    TurnOutcome::Failed(e) => Some(e),
                    TurnOutcome::Interrupted => Some(ErrorInfo {
                        name: "Interrupted".into(),
                        message:
                            "the turn stopped while ocbar was not connected (OpenCode restarted?)"
                                .into(),
                    }),
                };
                self.finish(&key, now_ms, &mut fx);
                self.bump();
            }
            Event::Seen { target } => {
                let now = now_ms;
                let mut changed = false;
                self.for_target(&target, |s| {
                    if s.unvisited {
                        s.unvisited = false;
                        s.visited_ms = Some(now);
                        changed = true;
                    }
                });
                if changed {
                    self.bump();
                }
            }
            Event::Focus {
                tui,
                session,
                focused,
            } => {
                if session.is_none() && !focused {
                    self.tuis.remove(&tui);
                } else {
                    self.tuis.insert(tui, (session.clone(), focused));
                }
                // On screen in a focused terminal: the user sees it, so it is visited.
                if focused && let Some(id) = session {
                    let mut changed = false;
                    for ((_, sid), s) in self.sessions.iter_mut() {
                        if sid == &id && s.unvisited {
                            s.unvisited = false;
                            s.visited_ms = Some(now_ms);
                            changed = true;
                        }
                    }
                    if changed {
                        self.bump();
                    }
                }
            }
            Event::Mute { target, muted } => {
                let mut changed = false;
                self.for_target(&target, |s| {
                    if s.muted != muted {
                        s.muted = muted;
                        changed = true;
                    }
                });
                if changed {
                    self.bump();
                }
            }
        }
        fx
    }

    fn for_target(&mut self, target: &Target, mut f: impl FnMut(&mut Session)) {
        match target {
            Target::All => self
                .sessions
                .values_mut()
                .filter(|s| s.relevant)
                .for_each(f),
            Target::One { server, session } => {
                if let Some(s) = self.sessions.get_mut(&(server.clone(), session.clone())) {
                    f(s)
                }
            }
        }
    }

    /// The session under `key`, created if unknown (asking the shell for its metadata).
    fn ensure(
        &mut self,
        key: &SessionKey,
        directory: String,
        fx: &mut Vec<Effect>,
    ) -> &mut Session {
        let s = self.sessions.entry(key.clone()).or_insert_with(|| {
            Session::new(SessionInfo {
                id: key.1.clone(),
                directory: directory.into(),
                ..SessionInfo::default()
            })
        });
        if !s.has_info && !s.info_requested {
            s.info_requested = true;
            fx.push(Effect::FetchSession {
                server: key.0.clone(),
                session: key.1.clone(),
            });
        }
        s
    }

    fn on_info(&mut self, server: ServerUrl, info: SessionInfo) {
        let key = (server, info.id.clone());
        let s = self
            .sessions
            .entry(key)
            .or_insert_with(|| Session::new(info.clone()));
        let visible_change = s.info.title != info.title
            || s.info.parent_id != info.parent_id
            || (info.agent.is_some() && s.info.agent != info.agent)
            || (info.model.is_some() && s.info.model != info.model)
            || s.info.directory != info.directory;
        let SessionInfo {
            id: _,
            directory,
            title,
            parent_id,
            agent,
            model,
            updated_ms,
        } = info;
        s.info.directory = directory;
        s.info.title = title;
        s.info.parent_id = parent_id;
        if agent.is_some() {
            s.info.agent = agent;
        }
        if model.is_some() {
            s.info.model = model;
        }
        s.info.updated_ms = s.info.updated_ms.max(updated_ms);
        s.has_info = true;
        if s.relevant && visible_change {
            self.bump();
        }
    }

    fn on_error(&mut self, server: &ServerUrl, id: &SessionId, error: ErrorInfo) {
        if let Some(s) = self.sessions.get_mut(&(server.clone(), id.clone()))
            && s.phase.is_active()
        {
            // The turn may still go on (context overflow → compaction): only idle ends it.
            s.turn_error = Some(error);
        }
    }

    fn on_status(
        &mut self,
        server: ServerUrl,
        directory: String,
        session: SessionId,
        status: Status,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        let key = (server, session);
        let fg = self.is_foreground(&key.1);
        if status == Status::Idle {
            let active = self
                .sessions
                .get(&key)
                .is_some_and(|s| s.phase.is_active() && !s.awaiting_outcome);
            if active {
                self.finish(&key, now_ms, fx);
                self.bump();
            }
            return;
        }
        let s = self.ensure(&key, directory, fx);
        let mut changed = std::mem::take(&mut s.status_unknown);
        if !s.phase.is_active() || s.awaiting_outcome {
            start_turn(s, now_ms);
            changed = true;
        } else if status == Status::Busy && s.turn_error.is_some() {
            // Busy after an error: the turn recovered (e.g. compaction after context overflow).
            s.turn_error = None;
        }
        changed |= s.set_status_fields(&status);
        if let Status::Retry { message, .. } = &status
            && !s.retry_notified
        {
            s.retry_notified = true;
            if let Some(n) = notification(&key, s, NotifyKind::Retry, Some(message.clone()), now_ms)
                .filter(|_| !fg)
            {
                fx.push(Effect::Notify(n));
            }
        }
        if changed {
            s.last_activity_ms = now_ms;
            self.bump();
        }
    }

    /// End the turn of an active session: done, error or aborted, by what the turn reported.
    fn finish(&mut self, key: &SessionKey, now_ms: i64, fx: &mut Vec<Effect>) {
        let children_running = self.children_active(key);
        let foreground = self.is_foreground(&key.1);
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let (finish, kind, message) = match s.turn_error.take() {
            None => (Finish::Done, NotifyKind::Done, None),
            Some(e) if e.is_abort() => (Finish::Aborted, NotifyKind::Aborted, None),
            Some(e) => {
                let msg = if e.message.is_empty() {
                    e.name.clone()
                } else {
                    e.message.clone()
                };
                (Finish::Error(msg.clone()), NotifyKind::Error, Some(msg))
            }
        };
        s.phase = Phase::Finished(finish);
        s.status_unknown = false;
        s.pending.clear();
        s.unvisited = !foreground;
        s.visited_ms = if foreground { Some(now_ms) } else { None };
        s.last_activity_ms = now_ms;
        if foreground {
            // The user is looking at it: no mark, no notification.
        } else if kind == NotifyKind::Done && children_running > 0 {
            s.done_deferred = true;
        } else if let Some(n) = notification(key, s, kind, message, now_ms) {
            fx.push(Effect::Notify(n));
        }
        // A child that stops may release its parent's deferred "done".
        if let Some(parent) = s.info.parent_id.clone() {
            let pkey = (key.0.clone(), parent);
            if self.children_active(&pkey) == 0
                && let Some(p) = self.sessions.get_mut(&pkey)
                && p.done_deferred
            {
                p.done_deferred = false;
                if let Some(n) = notification(&pkey, p, NotifyKind::Done, None, now_ms) {
                    fx.push(Effect::Notify(n));
                }
            }
        }
    }

    /// On screen in a TUI whose terminal has focus.
    pub fn is_foreground(&self, session: &SessionId) -> bool {
        self.tuis
            .values()
            .any(|(s, focused)| *focused && s.as_ref() == Some(session))
    }

    fn children_active(&self, key: &SessionKey) -> u32 {
        self.sessions
            .iter()
            .filter(|((srv, _), s)| {
                srv == &key.0 && s.info.parent_id.as_ref() == Some(&key.1) && s.phase.is_active()
            })
            .count() as u32
    }

    fn resync(
        &mut self,
        server: ServerUrl,
        report: ResyncReport,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        let first = {
            let s = self.server_mut(&server);
            s.synced = true;
            let first = !s.ever_synced;
            s.ever_synced = true;
            first
        };
        let ResyncReport {
            sessions,
            active,
            pending: report_pending,
            unread_statuses,
            unread_pending,
        } = report;
        // What was not read stays unknown (never "idle", never "finished").
        let unread = ResyncReport {
            unread_statuses,
            unread_pending,
            ..ResyncReport::default()
        };
        for info in sessions {
            self.on_info(server.clone(), info);
        }
        let active: HashMap<SessionId, Status> = active.into_iter().collect();
        // Sessions we thought were running: still running, or finished during the gap?
        // Only a directory whose statuses were read can say "finished".
        let previously_active: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|((srv, id), s)| {
                srv == &server && s.phase.is_active() && !active.contains_key(id)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in previously_active {
            if let Some(s) = self.sessions.get_mut(&key) {
                if !unread.statuses_read(&s.info.directory) {
                    s.status_unknown = true;
                    continue;
                }
                s.status_unknown = false;
                // (Asked again when an earlier fetch failed: the handle runs one at a time.)
                s.awaiting_outcome = true;
                fx.push(Effect::FetchOutcome {
                    server: key.0.clone(),
                    session: key.1.clone(),
                });
                s.pending.clear();
            }
        }
        for (id, status) in active {
            let key = (server.clone(), id);
            let s = self.ensure(&key, String::new(), fx);
            s.status_unknown = false;
            if !s.phase.is_active() || s.awaiting_outcome {
                start_turn(s, now_ms);
            }
            s.set_status_fields(&status);
        }
        // Pending inputs: the server's list is the truth.
        let mut pending: HashMap<SessionId, Vec<Pending>> = HashMap::new();
        for p in report_pending {
            pending.entry(p.session).or_default().push(Pending {
                request: p.request,
                kind: p.kind,
            });
        }
        let keys: Vec<SessionKey> = self
            .sessions
            .keys()
            .filter(|(srv, _)| srv == &server)
            .cloned()
            .collect();
        for key in keys {
            let new = pending.remove(&key.1).unwrap_or_default();
            let Some(s) = self.sessions.get_mut(&key) else {
                continue;
            };
            if !s.phase.is_active() || s.awaiting_outcome || s.status_unknown {
                continue;
            }
            // A kind that could not be read keeps what is known of it.
            let mut new = new;
            for kind in [InputKind::Permission, InputKind::Question] {
                if !unread.pending_read(&s.info.directory, kind) {
                    new.retain(|p| p.kind != kind);
                    new.extend(s.pending.iter().filter(|p| p.kind == kind).cloned());
                }
            }
            let fresh: Vec<&Pending> = new
                .iter()
                .filter(|p| !s.pending.iter().any(|q| q.request == p.request))
                .collect();
            if !first && let Some(p) = fresh.first() {
                let what = match p.kind {
                    InputKind::Permission => "asks for permission",
                    InputKind::Question => "asks a question",
                };
                if let Some(n) =
                    notification(&key, s, NotifyKind::Waiting, Some(what.into()), now_ms)
                {
                    fx.push(Effect::Notify(n));
                }
            }
            s.pending = new;
        }
        self.bump();
    }

    /// Drop visited finished sessions that have lingered long enough.
    fn expire(&mut self, now_ms: i64) {
        let linger = self.config.linger_ms;
        let mut changed = false;
        for s in self.sessions.values_mut() {
            if s.relevant
                && matches!(s.phase, Phase::Finished(_))
                && !s.unvisited
                && s.visited_ms.is_some_and(|v| now_ms - v >= linger)
            {
                s.relevant = false;
                s.phase = Phase::Quiet;
                changed = true;
            }
        }
        if changed {
            self.bump();
        }
    }

    /// Resolve a `<SESSION>` argument: a full id, a unique id prefix, or a unique title substring
    /// (case-insensitive). Relevant sessions are preferred; any known session may be named by id.
    pub fn resolve(&self, query: &str) -> Result<(ServerUrl, SessionId), ResolveError> {
        let q = query.trim();
        if q.is_empty() {
            return Err(ResolveError::NotFound(query.to_string()));
        }
        let exact: Vec<&SessionKey> = self.sessions.keys().filter(|(_, id)| &**id == q).collect();
        if exact.len() == 1 {
            return Ok(exact[0].clone());
        }
        let pools: [&dyn Fn(&Session) -> bool; 2] =
            [&|s: &Session| s.relevant, &|_: &Session| true];
        for pool in pools {
            let prefix: Vec<(&SessionKey, &Session)> = self
                .sessions
                .iter()
                .filter(|(k, s)| pool(s) && k.1.starts_with(q))
                .collect();
            if let Some(found) = unique(q, prefix)? {
                return Ok(found);
            }
            let lower = q.to_lowercase();
            let titled: Vec<(&SessionKey, &Session)> = self
                .sessions
                .iter()
                .filter(|(_, s)| pool(s) && s.info.title.to_lowercase().contains(&lower))
                .collect();
            if let Some(found) = unique(q, titled)? {
                return Ok(found);
            }
        }
        Err(ResolveError::NotFound(q.to_string()))
    }

    /// A session's title (as received: clean it before showing it), and whether it is muted
    /// and unvisited: what `mute` and `seen` tell the user they changed.
    pub fn describe(&self, key: &SessionKey) -> Option<(&str, bool, bool)> {
        let s = self.sessions.get(key)?;
        Some((&s.info.title, s.muted, s.unvisited))
    }

    /// How many relevant sessions are unvisited (what `seen --all` marks).
    pub fn unvisited_count(&self) -> usize {
        self.sessions
            .values()
            .filter(|s| s.relevant && s.unvisited)
            .count()
    }

    /// The directory of a session (for `?directory=` on actions).
    pub fn directory_of(&self, key: &SessionKey) -> Option<&str> {
        self.sessions.get(key).map(|s| &*s.info.directory)
    }

    /// What bars and clients see now.
    pub fn snapshot(&self) -> Snapshot {
        let mut children: HashMap<SessionKey, u32> = HashMap::new();
        for ((srv, _), s) in &self.sessions {
            if let Some(p) = &s.info.parent_id
                && s.phase.is_active()
            {
                *children.entry((srv.clone(), p.clone())).or_default() += 1;
            }
        }
        let mut sessions = Vec::new();
        let mut counts = Counts::default();
        for (key, s) in &self.sessions {
            if !s.relevant {
                continue;
            }
            let Some(state) = s.visible_state(self.server_in_sync(&key.0)) else {
                continue;
            };
            let (attempt, retry_next_ms, message) = match (&s.phase, state) {
                (
                    Phase::Retry {
                        attempt,
                        message,
                        next_ms,
                    },
                    SessionState::Retry,
                ) => (Some(*attempt), Some(*next_ms), Some(message.clone())),
                (Phase::Finished(Finish::Error(m)), SessionState::Error) => {
                    (None, None, Some(m.clone()))
                }
                _ => (None, None, None),
            };
            let root = s.info.parent_id.is_none();
            if root {
                match state {
                    SessionState::Busy => counts.busy += 1,
                    SessionState::Retry => counts.retry += 1,
                    SessionState::Waiting => counts.waiting += 1,
                    SessionState::Done => counts.done += 1,
                    SessionState::Error => counts.error += 1,
                    SessionState::Aborted => counts.aborted += 1,
                    SessionState::Unknown => {}
                }
                if s.unvisited {
                    counts.unvisited += 1;
                }
            }
            sessions.push(SessionView {
                id: key.1.clone(),
                server: key.0.clone(),
                directory: s.info.directory.clone(),
                title: s.info.title.clone(),
                state,
                attempt,
                retry_next_ms,
                message: message.map(Arc::from),
                model: s.info.model.clone(),
                agent: s.info.agent.clone(),
                last_activity_ms: s.last_activity_ms,
                // The mark is about the user, not the connection: it stays while stale.
                unvisited: s.unvisited && matches!(s.phase, Phase::Finished(_)),
                parent_id: s.info.parent_id.clone(),
                children_active: children.get(key).copied().unwrap_or(0),
                muted: s.muted,
            });
        }
        sessions.sort_by(|a, b| {
            b.last_activity_ms
                .cmp(&a.last_activity_ms)
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.server.cmp(&b.server))
        });
        Snapshot {
            version: SNAPSHOT_VERSION,
            servers: self
                .servers
                .iter()
                .map(|s| ServerView {
                    url: s.url.clone(),
                    connected: s.connected,
                    stale: !s.in_sync(),
                })
                .collect(),
            sessions,
            counts,
        }
    }
}

fn unique(
    query: &str,
    found: Vec<(&SessionKey, &Session)>,
) -> Result<Option<SessionKey>, ResolveError> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(Some(found[0].0.clone())),
        _ => {
            let mut c: Vec<(String, String)> = found
                .iter()
                .map(|(k, s)| (k.1.to_string(), s.info.title.to_string()))
                .collect();
            c.sort();
            Err(ResolveError::Ambiguous(query.to_string(), c))
        }
    }
}

/// A turn begins: the session becomes relevant and loses its unvisited mark.
fn start_turn(s: &mut Session, now_ms: i64) {
    s.relevant = true;
    s.unvisited = false;
    s.visited_ms = None;
    s.turn_error = None;
    s.retry_notified = false;
    s.awaiting_outcome = false;
    s.done_deferred = false;
    s.turn_started_ms = now_ms;
    s.last_activity_ms = now_ms;
    s.phase = Phase::Busy;
}

/// The notification for a transition, unless the session is muted.
fn notification(
    key: &SessionKey,
    s: &Session,
    kind: NotifyKind,
    message: Option<String>,
    now_ms: i64,
) -> Option<Notification> {
    if s.muted {
        return None;
    }
    Some(Notification {
        kind,
        server: key.0.clone(),
        session: key.1.clone(),
        directory: s.info.directory.to_string(),
        title: s.info.title.to_string(),
        message,
        child: s.info.parent_id.is_some(),
        busy_ms: now_ms - s.turn_started_ms,
    })
}
