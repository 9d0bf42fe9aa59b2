//! The transition function: `(State, Event, now) → (State, effects)`.
//!
//! Every rule of the session model (README "The session model") lives here, and only here. Edge-triggered: only a
//! transition changes anything; duplicates (idle twice, busy again) are no-ops.
//!
//! A session **is its id**: ids are unique in the user's OpenCode database, which every server
//! and TUI of that user shares. Each session remembers where it can be reached (the last
//! server that reported it); that place may change (re-attach) or be gone (unreachable), and
//! a known outcome outlives it.

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
    /// How long an unvisited mark (and an unresolved `unknown` session whose server is gone)
    /// is kept, in ms after the last activity (default 7 days); 0: for ever.
    pub unvisited_ms: i64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            linger_ms: 30 * 60 * 1000,
            unvisited_ms: 7 * 24 * 3600 * 1000,
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

/// Where a session can be reached now, for actions such as `open`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The last server that reported the session.
    pub server: ServerUrl,
    /// That server is followed and its event stream is open.
    pub reachable: bool,
    /// The session's directory (for `?directory=` on actions); may be empty.
    pub directory: Arc<str>,
}

/// The whole model. Mutated only by [`State::apply`] and read through [`State::snapshot`].
#[derive(Debug, Clone, Default)]
pub struct State {
    config: ModelConfig,
    servers: Vec<ServerState>,
    /// Every session, by id: one entry per session whichever server reports it.
    /// Boxed: a `Session` is ~370 bytes, and a table sized for growth holds up to twice as
    /// many slots as sessions (with 1,000 sessions: 0.26 MB less resident memory).
    sessions: HashMap<SessionId, Box<Session>>,
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
    pub(super) fn sessions_iter(&self) -> impl Iterator<Item = (&SessionId, &Session)> {
        self.sessions.iter().map(|(id, s)| (id, &**s))
    }

    /// The session `id`, created by `make` if absent; true when it was created.
    pub(super) fn session_entry(
        &mut self,
        id: SessionId,
        make: impl FnOnce() -> Session,
    ) -> (&mut Session, bool) {
        let mut created = false;
        let s = self.sessions.entry(id).or_insert_with(|| {
            created = true;
            Box::new(make())
        });
        (s, created)
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

    fn followed(&self, url: &ServerUrl) -> bool {
        self.servers.iter().any(|s| &s.url == url)
    }

    fn connected(&self, url: &ServerUrl) -> bool {
        self.servers.iter().any(|s| &s.url == url && s.connected)
    }

    fn server_in_sync(&self, url: &ServerUrl) -> bool {
        self.servers.iter().any(|s| &s.url == url && s.in_sync())
    }

    /// Apply one event at time `now_ms` (epoch ms); returns what the shell must do.
    pub fn apply(&mut self, event: Event, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        // A late event of a server that is not (or no longer) followed must not bring it back
        // as a ghost entry, nor move a session there. (A stream that opens, `Connected`, does
        // add its server.)
        if let Some(server) = event.server()
            && !matches!(
                event,
                Event::ServerAdded { .. } | Event::ServerRemoved { .. } | Event::Connected { .. }
            )
            && !self.followed(server)
        {
            return fx;
        }
        match event {
            Event::ServerAdded { server } => {
                let known = self.followed(&server);
                self.server_mut(&server);
                if !known {
                    self.bump();
                }
            }
            Event::ServerRemoved { server } => self.server_removed(server, &mut fx),
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
                // Reads in flight through it may never answer: go through another server.
                if self.forget_lookups(&server) {
                    self.settle(&mut fx);
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
                if let Some(id) = session
                    && let Some(s) = self.sessions.get_mut(&id)
                    && s.server == server
                    && s.phase.is_active()
                {
                    // The turn may still go on (context overflow → compaction): only idle ends it.
                    s.turn_error = Some(error);
                }
            }
            Event::SessionInfo { server, info } => self.on_info(server, info, &mut fx),
            Event::Missing { server, session } => {
                // Its own server does not know it (any more): deleted. Another server may use
                // another database: that says nothing.
                if self
                    .sessions
                    .get(&session)
                    .is_some_and(|s| s.server == server)
                    && let Some(s) = self.sessions.remove(&session)
                    && s.relevant
                {
                    self.bump();
                }
            }
            Event::SessionDeleted { session, .. } => {
                // Deleted from the one database: gone on every server.
                if let Some(s) = self.sessions.remove(&session)
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
                self.attach(&session, &server, false);
                if let Some(s) = self.sessions.get_mut(&session) {
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
                        && s.server == server
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
                let id = input.session.clone();
                let first_time = self.sessions.get(&id).is_none_or(|s| {
                    s.server != server || !s.pending.iter().any(|p| p.request == input.request)
                });
                if !first_time {
                    return fx;
                }
                // Asking implies running there.
                self.attach(&id, &server, true);
                let fg = self.is_foreground(&id);
                let s = self.ensure(&id, &server, String::new(), &mut fx);
                if !s.phase.is_active() || s.awaiting_outcome {
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
                let n = notification(&id, s, NotifyKind::Waiting, Some(what.to_string()), now_ms);
                if let Some(n) = n.filter(|_| !fg) {
                    fx.push(Effect::Notify(n));
                }
                self.bump();
            }
            Event::InputAnswered {
                session, request, ..
            } => {
                if let Some(s) = self.sessions.get_mut(&session) {
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
                let Some(s) = self.sessions.get(&session) else {
                    return fx;
                };
                if !s.awaiting_outcome {
                    return fx;
                }
                if !self.connected(&s.server) {
                    // Read through `server` because its own is gone: reachable there now (and
                    // its notification goes there).
                    self.attach(&session, &server, true);
                }
                let Some(s) = self.sessions.get_mut(&session) else {
                    return fx;
                };
                s.awaiting_outcome = false;
                s.reading = None;
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
                self.finish(&session, now_ms, &mut fx);
                self.bump();
            }
            Event::TurnEnded {
                server,
                session,
                outcome,
            } => {
                // Only the server running the turn can end it, and only a turn in flight ends
                // (a repeated or late end changes nothing), exactly as `idle` in OpenCode 1.
                let Some(s) = self
                    .sessions
                    .get_mut(&session)
                    .filter(|s| s.server == server && s.phase.is_active() && !s.awaiting_outcome)
                else {
                    return fx;
                };
                s.turn_error = match outcome {
                    TurnOutcome::Finished => None,
                    TurnOutcome::Failed(e) => Some(e),
                    // Not sent by the decoder; keep whatever the turn reported.
                    TurnOutcome::Interrupted => s.turn_error.take(),
                };
                self.finish(&session, now_ms, &mut fx);
                self.bump();
            }
            Event::SessionChanged {
                session, change, ..
            } => {
                if let Some(s) = self.sessions.get_mut(&session)
                    && s.info.apply(change)
                    && s.relevant
                {
                    self.bump();
                }
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
                if focused
                    && let Some(id) = session
                    && let Some(s) = self.sessions.get_mut(&id)
                    && s.unvisited
                {
                    s.unvisited = false;
                    s.visited_ms = Some(now_ms);
                    self.bump();
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
                .for_each(|s| f(s)),
            Target::One { session } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    f(s)
                }
            }
        }
    }

    /// `server` reported session `id`: move the session there when `runs` (the server is
    /// running a turn of it), or when no turn is in flight and its current server cannot be
    /// reached (gone, or not connected). An active session whose server is gone moves only
    /// through a run or a read of its outcome, never on a mere listing: its turn is not over
    /// because another server lists it. True when it moved.
    fn attach(&mut self, id: &SessionId, server: &ServerUrl, runs: bool) -> bool {
        let Some(s) = self.sessions.get(id) else {
            return false;
        };
        if &s.server == server {
            return false;
        }
        let movable = runs || (!s.phase.is_active() && !self.connected(&s.server));
        if !movable {
            return false;
        }
        let Some(s) = self.sessions.get_mut(id) else {
            return false;
        };
        s.server = server.clone();
        s.asked.clear();
        s.reading = None;
        // Requests pending on the old server cannot be answered on the new one.
        s.pending.clear();
        if s.relevant {
            self.bump();
        }
        true
    }

    /// The session `id`, created on `server` if unknown (asking the shell for its metadata).
    fn ensure(
        &mut self,
        id: &SessionId,
        server: &ServerUrl,
        directory: String,
        fx: &mut Vec<Effect>,
    ) -> &mut Session {
        let s = self.sessions.entry(id.clone()).or_insert_with(|| {
            Box::new(Session::new(
                server.clone(),
                SessionInfo {
                    id: id.clone(),
                    directory: directory.into(),
                    ..SessionInfo::default()
                },
            ))
        });
        if !s.has_info && !s.info_requested {
            s.info_requested = true;
            fx.push(Effect::FetchSession {
                server: s.server.clone(),
                session: id.clone(),
            });
        }
        s
    }

    fn on_info(&mut self, server: ServerUrl, info: SessionInfo, fx: &mut Vec<Effect>) {
        let id = info.id.clone();
        let s = self
            .sessions
            .entry(id.clone())
            .or_insert_with(|| Box::new(Session::new(server.clone(), info.clone())));
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
        self.attach(&id, &server, false);
        self.read_lost_turn(&id, &server, fx);
    }

    fn on_status(
        &mut self,
        server: ServerUrl,
        directory: String,
        id: SessionId,
        status: Status,
        now_ms: i64,
        fx: &mut Vec<Effect>,
    ) {
        let fg = self.is_foreground(&id);
        if status == Status::Idle {
            // Only the server running the turn can end it (statuses are per server).
            let active = self
                .sessions
                .get(&id)
                .is_some_and(|s| s.server == server && s.phase.is_active() && !s.awaiting_outcome);
            if active {
                self.finish(&id, now_ms, fx);
                self.bump();
            }
            return;
        }
        self.attach(&id, &server, true);
        let s = self.ensure(&id, &server, directory, fx);
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
            if let Some(n) = notification(&id, s, NotifyKind::Retry, Some(message.clone()), now_ms)
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
    fn finish(&mut self, id: &SessionId, now_ms: i64, fx: &mut Vec<Effect>) {
        let children_running = self.children_active(id);
        let foreground = self.is_foreground(id);
        let Some(s) = self.sessions.get_mut(id) else {
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
        } else if let Some(n) = notification(id, s, kind, message, now_ms) {
            fx.push(Effect::Notify(n));
        }
        // A child that stops may release its parent's deferred "done".
        if let Some(parent) = s.info.parent_id.clone()
            && self.children_active(&parent) == 0
            && let Some(p) = self.sessions.get_mut(&parent)
            && p.done_deferred
            && p.relevant
            && matches!(p.phase, Phase::Finished(_))
        {
            p.done_deferred = false;
            if let Some(n) = notification(&parent, p, NotifyKind::Done, None, now_ms) {
                fx.push(Effect::Notify(n));
            }
        }
    }

    /// On screen in a TUI whose terminal has focus.
    pub fn is_foreground(&self, session: &SessionId) -> bool {
        self.tuis
            .values()
            .any(|(s, focused)| *focused && s.as_ref() == Some(session))
    }

    fn children_active(&self, id: &SessionId) -> u32 {
        self.sessions
            .values()
            .filter(|s| s.info.parent_id.as_ref() == Some(id) && s.phase.is_active())
            .count() as u32
    }

    /// The daemon stops following `server` (it went away, or its TUI exited). Its sessions
    /// stay as they were, unreachable: a known outcome stays known, a running turn becomes
    /// `unknown` and is read through another server; sessions nobody looks at are forgotten.
    fn server_removed(&mut self, server: ServerUrl, fx: &mut Vec<Effect>) {
        self.servers.retain(|s| s.url != server);
        self.sessions
            .retain(|_, s| s.server != server || s.relevant || s.muted);
        for s in self.sessions.values_mut() {
            if s.server == server {
                s.pending.clear();
                if s.phase.is_active() {
                    // A read of its outcome through this server will not answer now.
                    s.awaiting_outcome = false;
                    s.reading = None;
                }
            }
        }
        self.forget_lookups(&server);
        self.settle(fx);
        self.bump();
    }

    /// Reads in flight through `server` will not be answered: forget them. True if any.
    fn forget_lookups(&mut self, server: &ServerUrl) -> bool {
        let mut any = false;
        for s in self.sessions.values_mut() {
            let before = s.asked.len();
            s.asked.retain(|a| a != server);
            any |= s.asked.len() != before;
            if s.reading.as_ref() == Some(server) {
                s.reading = None;
                s.awaiting_outcome = false;
                any = true;
            }
        }
        any
    }

    /// Sessions whose server is gone: ask every HTTP server in sync that was not asked yet
    /// whether it knows them. One that answers shares the user's database: a finished session
    /// moves there, and a turn that was running is read there (see [`State::on_info`]). A
    /// server that does not know it may use another database: nothing follows from that.
    fn settle(&mut self, fx: &mut Vec<Effect>) {
        let readers: Vec<ServerUrl> = self
            .servers
            .iter()
            .filter(|s| s.in_sync() && !s.url.is_tui())
            .map(|s| s.url.clone())
            .collect();
        if readers.is_empty() {
            return;
        }
        let mut lost: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.relevant && !s.awaiting_outcome && !self.followed(&s.server))
            .map(|(id, _)| id.clone())
            .collect();
        lost.sort();
        for id in lost {
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            for r in &readers {
                if !s.asked.contains(r) {
                    s.asked.push(r.clone());
                    fx.push(Effect::FetchSession {
                        server: r.clone(),
                        session: id.clone(),
                    });
                }
            }
        }
    }

    /// A turn whose server is gone, reported by `server` (which therefore shares the
    /// database): read its outcome there.
    fn read_lost_turn(&mut self, id: &SessionId, server: &ServerUrl, fx: &mut Vec<Effect>) {
        if server.is_tui() || !self.server_in_sync(server) {
            return;
        }
        let gone = match self.sessions.get(id) {
            Some(s) => s.phase.is_active() && !s.awaiting_outcome && !self.followed(&s.server),
            None => false,
        };
        if let Some(s) = self.sessions.get_mut(id).filter(|_| gone) {
            s.awaiting_outcome = true;
            s.reading = Some(server.clone());
            fx.push(Effect::FetchOutcome {
                server: server.clone(),
                session: id.clone(),
            });
        }
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
            statuses_unread_everywhere,
            pending_unread_everywhere,
        } = report;
        // What was not read stays unknown (never "idle", never "finished").
        let unread = ResyncReport {
            unread_statuses,
            unread_pending,
            statuses_unread_everywhere,
            pending_unread_everywhere,
            ..ResyncReport::default()
        };
        for info in sessions {
            self.on_info(server.clone(), info, fx);
        }
        let active: HashMap<SessionId, Status> = active.into_iter().collect();
        // Sessions we thought were running there: still running, or finished during the gap?
        // (Asked again after every resync: an earlier read may have failed.)
        let mut previously_active: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(id, s)| {
                s.server == server && s.phase.is_active() && !active.contains_key(*id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        previously_active.sort();
        for id in previously_active {
            if let Some(s) = self.sessions.get_mut(&id) {
                // Only a directory whose statuses were read can say "finished".
                if !unread.statuses_read(&s.info.directory) {
                    s.status_unknown = true;
                    continue;
                }
                s.status_unknown = false;
                s.awaiting_outcome = true;
                s.reading = None;
                s.pending.clear();
                fx.push(Effect::FetchOutcome {
                    server: server.clone(),
                    session: id,
                });
            }
        }
        let mut running: Vec<(SessionId, Status)> = active.into_iter().collect();
        running.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, status) in running {
            self.attach(&id, &server, true);
            let s = self.ensure(&id, &server, String::new(), fx);
            s.status_unknown = false;
            if !s.phase.is_active() || s.awaiting_outcome {
                start_turn(s, now_ms);
            }
            s.set_status_fields(&status);
        }
        // Pending inputs: the server's list is the truth for the sessions it runs.
        let mut pending: HashMap<SessionId, Vec<Pending>> = HashMap::new();
        for p in report_pending {
            pending.entry(p.session).or_default().push(Pending {
                request: p.request,
                kind: p.kind,
            });
        }
        let mut ids: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.server == server)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        for id in ids {
            let new = pending.remove(&id).unwrap_or_default();
            let Some(s) = self.sessions.get_mut(&id) else {
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
                    notification(&id, s, NotifyKind::Waiting, Some(what.into()), now_ms)
                {
                    fx.push(Effect::Notify(n));
                }
            }
            s.pending = new;
        }
        self.settle(fx);
        self.bump();
    }

    /// Time passed: visited finished sessions that lingered long enough drop off, and so do
    /// unvisited marks (and `unknown` sessions whose server is gone) older than
    /// `unvisited_ms`. A session that no followed server accounts for is then forgotten.
    fn expire(&mut self, now_ms: i64) {
        let linger = self.config.linger_ms;
        let keep = self.config.unvisited_ms;
        let mut changed = false;
        let mut forget = Vec::new();
        for (id, s) in self.sessions.iter_mut() {
            if !s.relevant {
                continue;
            }
            let old = keep > 0 && now_ms.saturating_sub(s.last_activity_ms) >= keep;
            let gone = !self.servers.iter().any(|v| v.url == s.server);
            let out = match s.phase {
                Phase::Finished(_) if s.unvisited => old,
                Phase::Finished(_) => s.visited_ms.is_some_and(|v| now_ms - v >= linger),
                Phase::Busy | Phase::Retry { .. } => old && gone,
                Phase::Quiet => false,
            };
            if out {
                s.relevant = false;
                s.phase = Phase::Quiet;
                s.unvisited = false;
                s.visited_ms = None;
                s.awaiting_outcome = false;
                s.done_deferred = false;
                s.asked.clear();
                s.reading = None;
                s.pending.clear();
                changed = true;
                if gone && !s.muted {
                    forget.push(id.clone());
                }
            }
        }
        for id in forget {
            self.sessions.remove(&id);
        }
        if changed {
            self.bump();
        }
    }

    /// When the next listed session is due to drop off (a visited one's linger, an unvisited
    /// mark's or a lost turn's `unvisited_ms`), epoch ms: the shell sends `Event::Tick` then.
    pub fn next_deadline(&self) -> Option<i64> {
        let linger = self.config.linger_ms;
        let keep = self.config.unvisited_ms;
        self.sessions
            .values()
            .filter(|s| s.relevant)
            .filter_map(|s| match s.phase {
                Phase::Finished(_) if s.unvisited => {
                    (keep > 0).then(|| s.last_activity_ms.saturating_add(keep))
                }
                Phase::Finished(_) => s.visited_ms.map(|v| v.saturating_add(linger)),
                Phase::Busy | Phase::Retry { .. } if keep > 0 && !self.followed(&s.server) => {
                    Some(s.last_activity_ms.saturating_add(keep))
                }
                _ => None,
            })
            .min()
    }

    /// Resolve a `<SESSION>` argument: a full id, a unique id prefix, or a unique title substring
    /// (case-insensitive). Relevant sessions are preferred; any known session may be named by id.
    pub fn resolve(&self, query: &str) -> Result<SessionId, ResolveError> {
        let q = query.trim();
        if q.is_empty() {
            return Err(ResolveError::NotFound(query.to_string()));
        }
        if let Some((id, _)) = self.sessions.get_key_value(q) {
            return Ok(id.clone());
        }
        let pools: [&dyn Fn(&Session) -> bool; 2] =
            [&|s: &Session| s.relevant, &|_: &Session| true];
        for pool in pools {
            let prefix: Vec<(&SessionId, &Session)> = self
                .sessions_iter()
                .filter(|(id, s)| pool(s) && id.starts_with(q))
                .collect();
            if let Some(found) = unique(q, prefix)? {
                return Ok(found);
            }
            let lower = q.to_lowercase();
            let titled: Vec<(&SessionId, &Session)> = self
                .sessions_iter()
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
    pub fn describe(&self, id: &SessionId) -> Option<(&str, bool, bool)> {
        let s = self.sessions.get(id)?;
        Some((&s.info.title, s.muted, s.is_unvisited()))
    }

    /// How many relevant sessions are unvisited (what `seen --all` marks).
    pub fn unvisited_count(&self) -> usize {
        self.sessions
            .values()
            .filter(|s| s.relevant && s.is_unvisited())
            .count()
    }

    /// Where session `id` can be reached now.
    pub fn place(&self, id: &SessionId) -> Option<Place> {
        self.sessions.get(id).map(|s| Place {
            server: s.server.clone(),
            reachable: self.connected(&s.server),
            directory: s.info.directory.clone(),
        })
    }

    /// What bars and clients see now.
    pub fn snapshot(&self) -> Snapshot {
        let mut children: HashMap<&SessionId, u32> = HashMap::new();
        for s in self.sessions.values() {
            if let Some(p) = &s.info.parent_id
                && s.phase.is_active()
            {
                *children.entry(p).or_default() += 1;
            }
        }
        let mut sessions = Vec::new();
        let mut counts = Counts::default();
        for (id, s) in &self.sessions {
            if !s.relevant {
                continue;
            }
            let Some(state) = s.visible_state(self.server_in_sync(&s.server)) else {
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
            let unvisited = s.is_unvisited();
            if s.info.parent_id.is_none() {
                counts.count(state, unvisited);
            }
            sessions.push(SessionView {
                id: id.clone(),
                server: s.server.clone(),
                reachable: self.connected(&s.server),
                directory: s.info.directory.clone(),
                title: s.info.title.clone(),
                state,
                attempt,
                retry_next_ms,
                message: message.map(Arc::from),
                model: s.info.model.clone(),
                agent: s.info.agent.clone(),
                last_activity_ms: s.last_activity_ms,
                unvisited,
                parent_id: s.info.parent_id.clone(),
                children_active: children.get(id).copied().unwrap_or(0),
                muted: s.muted,
                host: None,
            });
        }
        sessions.sort_by(|a, b| {
            b.last_activity_ms
                .cmp(&a.last_activity_ms)
                .then_with(|| a.id.cmp(&b.id))
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
            remotes: Vec::new(),
        }
    }
}

fn unique(
    query: &str,
    found: Vec<(&SessionId, &Session)>,
) -> Result<Option<SessionId>, ResolveError> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(Some(found[0].0.clone())),
        _ => {
            let mut c: Vec<(String, String)> = found
                .iter()
                .map(|(id, s)| (id.to_string(), s.info.title.to_string()))
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
    s.asked.clear();
    s.reading = None;
    s.done_deferred = false;
    s.turn_started_ms = now_ms;
    s.last_activity_ms = now_ms;
    s.phase = Phase::Busy;
}

/// The notification for a transition, unless the session is muted.
fn notification(
    id: &SessionId,
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
        server: s.server.clone(),
        session: id.clone(),
        directory: s.info.directory.to_string(),
        title: s.info.title.to_string(),
        message,
        child: s.info.parent_id.is_some(),
        busy_ms: now_ms - s.turn_started_ms,
        host: None,
    })
}
