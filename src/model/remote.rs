//! Sessions of remote machines (`ocbar daemon --remote HOST`), as this daemon holds them.
//!
//! A dev box runs its own ocbar daemon, which follows its OpenCode servers and keeps the
//! unvisited marks and mutes of its sessions. This daemon receives that daemon's snapshot over
//! one ssh link per host and holds the latest one. Pure, like the rest of the model: events in,
//! state and effects out, `now` passed in.
//!
//! Where transitions are detected: here, by comparing each snapshot of a host with the one held
//! before it. The dev box's own notifications are not forwarded: a snapshot carries everything
//! needed (the far model already applied its focus rule: a turn that ends in a focused TUI is
//! not unvisited), and a diff cannot notify twice or be lost with the link. The first snapshot
//! of a run is the base (nothing notifies); after a reconnect the held snapshot is the base, so a
//! turn that ended while the link was down notifies once, and a reconnect alone never does.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::effect::{Effect, Notification, NotifyKind};
use super::event::SessionId;
use super::state::ResolveError;
use crate::server_url::ServerUrl;
use crate::wire::snapshot::{RemoteView, SessionState, SessionView, Snapshot};

/// One input about a remote machine.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteEvent {
    /// The daemon follows this host (from `--remote`, `OCBAR_REMOTE` or `remotes`).
    Added { host: Arc<str> },
    /// The host's daemon sent its snapshot (already cleaned and bounded by the link).
    Snapshot { host: Arc<str>, snapshot: Snapshot },
    /// The link is down (ssh exited, the keep-alive gave up, the bridge said it cannot go on).
    Down { host: Arc<str> },
}

/// What is held of one host.
#[derive(Debug, Clone)]
struct Host {
    name: Arc<str>,
    /// The link is up and a snapshot arrived since it came up.
    connected: bool,
    /// A snapshot arrived in this run: later ones are compared with the held one.
    ever: bool,
    /// The last snapshot's sessions (as the dev box reported them).
    sessions: Vec<SessionView>,
    /// When each session was first seen active (for a notification's turn length).
    active_since: HashMap<SessionId, i64>,
    /// Sessions whose current turn's first retry was notified.
    retry_notified: HashSet<SessionId>,
}

/// Every remote host and its sessions. Mutated only by [`Remotes::apply`].
#[derive(Debug, Clone, Default)]
pub struct Remotes {
    hosts: Vec<Host>,
    /// Bumped on every change a user could see.
    generation: u64,
}

/// A session of a remote host that a `<SESSION>` argument named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSession {
    pub host: Arc<str>,
    pub id: SessionId,
    pub title: Arc<str>,
    pub muted: bool,
    pub unvisited: bool,
}

impl Remotes {
    /// Changes whenever what [`Remotes::add_to`] adds would change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The hosts followed, and whether each link is up.
    pub fn hosts(&self) -> impl Iterator<Item = (&Arc<str>, bool, usize)> {
        self.hosts
            .iter()
            .map(|h| (&h.name, h.connected, h.sessions.len()))
    }

    /// Apply one event; the notifications it makes due.
    pub fn apply(&mut self, ev: RemoteEvent, now_ms: i64) -> Vec<Effect> {
        let mut fx = Vec::new();
        match ev {
            RemoteEvent::Added { host } => {
                if !self.hosts.iter().any(|h| h.name == host) {
                    self.hosts.push(Host {
                        name: host,
                        connected: false,
                        ever: false,
                        sessions: Vec::new(),
                        active_since: HashMap::new(),
                        retry_notified: HashSet::new(),
                    });
                    self.generation += 1;
                }
            }
            RemoteEvent::Down { host } => {
                if let Some(h) = self.hosts.iter_mut().find(|h| h.name == host)
                    && h.connected
                {
                    h.connected = false;
                    self.generation += 1;
                }
            }
            RemoteEvent::Snapshot { host, snapshot } => {
                let Some(h) = self.hosts.iter_mut().find(|h| h.name == host) else {
                    return fx;
                };
                let mut sessions = snapshot.sessions;
                // A session is (host, id): one entry per id within a host.
                let mut seen = HashSet::new();
                sessions.retain(|s| seen.insert(s.id.clone()));
                for s in &mut sessions {
                    s.host = Some(h.name.clone());
                }
                if h.ever {
                    let before: HashMap<&SessionId, &SessionView> =
                        h.sessions.iter().map(|s| (&s.id, s)).collect();
                    for s in &sessions {
                        if let Some(kind) = transition(before.get(&s.id).copied(), s) {
                            if kind == NotifyKind::Retry && !h.retry_notified.insert(s.id.clone()) {
                                continue;
                            }
                            if !s.muted {
                                let since = h.active_since.get(&s.id).copied().unwrap_or(now_ms);
                                fx.push(Effect::Notify(note(&h.name, s, kind, now_ms - since)));
                            }
                        }
                    }
                }
                for s in &sessions {
                    if s.state.is_active() || s.state == SessionState::Unknown {
                        h.active_since.entry(s.id.clone()).or_insert(now_ms);
                    } else {
                        h.active_since.remove(&s.id);
                        h.retry_notified.remove(&s.id);
                    }
                }
                let ids: HashSet<&SessionId> = sessions.iter().map(|s| &s.id).collect();
                h.active_since.retain(|id, _| ids.contains(id));
                h.retry_notified.retain(|id| ids.contains(id));
                let changed = !h.connected || h.sessions != sessions;
                h.sessions = sessions;
                h.connected = true;
                h.ever = true;
                if changed {
                    self.generation += 1;
                }
            }
        }
        fx
    }

    /// Add the remote hosts and their sessions to this machine's snapshot: each session carries
    /// its host; a host whose link is down shows its sessions unreachable, and a turn in flight
    /// there as `unknown` (never finished by the loss).
    pub fn add_to(&self, snap: &mut Snapshot) {
        if self.hosts.is_empty() {
            return;
        }
        for h in &self.hosts {
            snap.remotes.push(RemoteView {
                host: h.name.clone(),
                connected: h.connected,
            });
            for s in &h.sessions {
                let mut s = s.clone();
                if !h.connected {
                    s.reachable = false;
                    if s.state.is_active() {
                        s.state = SessionState::Unknown;
                        s.attempt = None;
                        s.retry_next_ms = None;
                        s.message = None;
                    }
                }
                if s.parent_id.is_none() {
                    snap.counts.count(s.state, s.unvisited);
                }
                snap.sessions.push(s);
            }
        }
        snap.sessions.sort_by(|a, b| {
            b.last_activity_ms
                .cmp(&a.last_activity_ms)
                .then_with(|| a.host.cmp(&b.host))
                .then_with(|| a.id.cmp(&b.id))
        });
    }

    /// The followed host a `HOST:REST` argument starts with, and the rest (the longest host
    /// name wins, so `me@[::1]` works as well as `devbox`).
    pub fn split_host<'q>(&self, query: &'q str) -> Option<(Arc<str>, &'q str)> {
        self.hosts
            .iter()
            .filter_map(|h| {
                let rest = query.trim().strip_prefix(&*h.name)?.strip_prefix(':')?;
                Some((h.name.clone(), rest))
            })
            .max_by_key(|(h, _)| h.len())
    }

    /// The sessions of `host` (every host: `None`) that `query` names, by the same rules as
    /// this machine's: the full id, else a unique id prefix, else a unique title substring
    /// (case-insensitive). `Ok(None)`: nothing matches.
    pub fn resolve(
        &self,
        host: Option<&str>,
        query: &str,
    ) -> Result<Option<RemoteSession>, ResolveError> {
        let q = query.trim();
        if q.is_empty() {
            return Ok(None);
        }
        let pool = || {
            self.hosts
                .iter()
                .filter(|h| host.is_none_or(|n| *h.name == *n))
                .flat_map(|h| h.sessions.iter().map(move |s| (h, s)))
        };
        let lower = q.to_lowercase();
        let tests: [&dyn Fn(&SessionView) -> bool; 3] =
            [&|s| &*s.id == q, &|s| s.id.starts_with(q), &|s| {
                s.title.to_lowercase().contains(&lower)
            }];
        for test in tests {
            let found: Vec<(&Host, &SessionView)> = pool().filter(|(_, s)| test(s)).collect();
            match found.as_slice() {
                [] => continue,
                [(h, s)] => {
                    return Ok(Some(RemoteSession {
                        host: h.name.clone(),
                        id: s.id.clone(),
                        title: s.title.clone(),
                        muted: s.muted,
                        unvisited: s.unvisited,
                    }));
                }
                many => {
                    let mut c: Vec<(String, String)> = many
                        .iter()
                        .map(|(h, s)| (format!("{}:{}", h.name, s.id), s.title.to_string()))
                        .collect();
                    c.sort();
                    return Err(ResolveError::Ambiguous(q.to_string(), c));
                }
            }
        }
        Ok(None)
    }

    /// How many sessions of `host` are unvisited (what `seen --all` marks there).
    pub fn unvisited_count(&self, host: &str) -> usize {
        self.hosts
            .iter()
            .filter(|h| *h.name == *host)
            .flat_map(|h| &h.sessions)
            .filter(|s| s.parent_id.is_none() && s.unvisited)
            .count()
    }
}

/// The notification due when a session of a host went from `before` to `now`, if any.
fn transition(before: Option<&SessionView>, now: &SessionView) -> Option<NotifyKind> {
    let was = before.map(|b| b.state);
    let ran =
        |w: Option<SessionState>| w.is_some_and(|w| w.is_active() || w == SessionState::Unknown);
    match now.state {
        // Not unvisited: the dev box saw it end on screen in a focused TUI (its focus rule).
        s if s.is_finished() && !now.unvisited => None,
        s if s.is_finished() => {
            let new_turn = before.is_some_and(|b| {
                b.state.is_finished() && b.last_activity_ms < now.last_activity_ms
            });
            (ran(was) || new_turn).then_some(match s {
                SessionState::Error => NotifyKind::Error,
                SessionState::Aborted => NotifyKind::Aborted,
                _ => NotifyKind::Done,
            })
        }
        SessionState::Waiting => {
            (was != Some(SessionState::Waiting)).then_some(NotifyKind::Waiting)
        }
        SessionState::Retry => (was != Some(SessionState::Retry)).then_some(NotifyKind::Retry),
        _ => None,
    }
}

/// The notification for a remote session: the host named, the session's own server kept out of
/// reach of this machine's channels (a pseudo address, never an HTTP one to toast).
fn note(host: &Arc<str>, s: &SessionView, kind: NotifyKind, busy_ms: i64) -> Notification {
    Notification {
        kind,
        server: ServerUrl::remote(host),
        session: s.id.clone(),
        directory: s.directory.to_string(),
        title: s.title.to_string(),
        message: s.message.as_deref().map(str::to_string),
        child: s.parent_id.is_some(),
        busy_ms,
        host: Some(host.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: &str, state: SessionState, unvisited: bool, at: i64) -> SessionView {
        SessionView {
            id: id.into(),
            server: "http://127.0.0.1:4096".into(),
            reachable: true,
            directory: "/p".into(),
            title: format!("title {id}").into(),
            state,
            attempt: None,
            retry_next_ms: None,
            message: None,
            model: None,
            agent: None,
            last_activity_ms: at,
            unvisited,
            parent_id: None,
            children_active: 0,
            muted: false,
            host: None,
        }
    }

    fn snap(sessions: Vec<SessionView>) -> RemoteEvent {
        RemoteEvent::Snapshot {
            host: "devbox".into(),
            snapshot: Snapshot {
                sessions,
                ..Snapshot::default()
            },
        }
    }

    fn kinds(fx: &[Effect]) -> Vec<(NotifyKind, String)> {
        fx.iter()
            .map(|e| match e {
                Effect::Notify(n) => (
                    n.kind,
                    format!("{}/{}", n.host.as_deref().unwrap_or(""), n.session),
                ),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn followed() -> Remotes {
        let mut r = Remotes::default();
        r.apply(
            RemoteEvent::Added {
                host: "devbox".into(),
            },
            0,
        );
        r
    }

    fn merged(r: &Remotes) -> Snapshot {
        let mut s = Snapshot::default();
        r.add_to(&mut s);
        s
    }

    #[test]
    fn the_first_snapshot_is_the_base_and_a_finished_turn_notifies_once_naming_the_host() {
        let mut r = followed();
        let fx = r.apply(
            snap(vec![
                view("a", SessionState::Done, true, 5),
                view("b", SessionState::Busy, false, 6),
            ]),
            10,
        );
        assert!(
            fx.is_empty(),
            "a connect notifies nothing by itself: {fx:?}"
        );
        let done = snap(vec![
            view("a", SessionState::Done, true, 5),
            view("b", SessionState::Done, true, 20),
        ]);
        let fx = r.apply(done.clone(), 30);
        assert_eq!(kinds(&fx), vec![(NotifyKind::Done, "devbox/b".into())]);
        match &fx[0] {
            Effect::Notify(n) => {
                assert_eq!(n.busy_ms, 20);
                assert_eq!(n.server.remote_host(), Some("devbox"));
            }
            _ => unreachable!(),
        }
        assert!(
            r.apply(done, 40).is_empty(),
            "the same snapshot again is no transition"
        );
        let s = merged(&r);
        assert_eq!(s.counts.done, 2);
        assert_eq!(s.counts.unvisited, 2);
        assert!(
            s.sessions
                .iter()
                .all(|v| v.host.as_deref() == Some("devbox"))
        );
        assert_eq!(
            s.remotes,
            vec![RemoteView {
                host: "devbox".into(),
                connected: true
            }]
        );
    }

    #[test]
    fn focus_mutes_waiting_and_retry_follow_the_dev_box() {
        let mut r = followed();
        r.apply(
            snap(vec![
                view("a", SessionState::Busy, false, 1),
                view("m", SessionState::Busy, false, 1),
            ]),
            1,
        );
        let mut muted = view("m", SessionState::Done, true, 2);
        muted.muted = true;
        // Ended on screen in a focused TUI on the dev box: visited at once, no notification.
        let fx = r.apply(
            snap(vec![view("a", SessionState::Done, false, 2), muted.clone()]),
            2,
        );
        assert!(fx.is_empty(), "{fx:?}");
        let fx = r.apply(
            snap(vec![
                view("a", SessionState::Retry, false, 3),
                muted.clone(),
            ]),
            3,
        );
        assert_eq!(kinds(&fx), vec![(NotifyKind::Retry, "devbox/a".into())]);
        r.apply(
            snap(vec![view("a", SessionState::Busy, false, 4), muted.clone()]),
            4,
        );
        let fx = r.apply(
            snap(vec![
                view("a", SessionState::Retry, false, 5),
                muted.clone(),
            ]),
            5,
        );
        assert!(
            fx.is_empty(),
            "only the first retry of a turn notifies: {fx:?}"
        );
        let fx = r.apply(
            snap(vec![view("a", SessionState::Waiting, false, 6), muted]),
            6,
        );
        assert_eq!(kinds(&fx), vec![(NotifyKind::Waiting, "devbox/a".into())]);
    }

    #[test]
    fn a_dropped_link_keeps_finished_sessions_and_turns_running_ones_unknown() {
        let mut r = followed();
        r.apply(
            snap(vec![
                view("d", SessionState::Done, true, 1),
                view("b", SessionState::Busy, false, 2),
            ]),
            1,
        );
        let g = r.generation();
        assert!(
            r.apply(
                RemoteEvent::Down {
                    host: "devbox".into()
                },
                2
            )
            .is_empty()
        );
        assert!(r.generation() > g);
        let s = merged(&r);
        assert_eq!(s.sessions.len(), 2, "listed once each");
        let d = s.sessions.iter().find(|v| &*v.id == "d").unwrap();
        assert_eq!(
            (d.state, d.unvisited, d.reachable),
            (SessionState::Done, true, false)
        );
        let b = s.sessions.iter().find(|v| &*v.id == "b").unwrap();
        assert_eq!((b.state, b.reachable), (SessionState::Unknown, false));
        assert_eq!(s.counts.busy, 0);
        assert!(s.offline(), "no server and no remote connected");
        // Reconnect: the dev box's snapshot replaces what was held; the turn that ended while
        // the link was down notifies once, and nothing else does.
        let back = snap(vec![
            view("d", SessionState::Done, true, 1),
            view("b", SessionState::Error, true, 9),
        ]);
        let fx = r.apply(back.clone(), 10);
        assert_eq!(kinds(&fx), vec![(NotifyKind::Error, "devbox/b".into())]);
        r.apply(
            RemoteEvent::Down {
                host: "devbox".into(),
            },
            11,
        );
        assert!(
            r.apply(back, 12).is_empty(),
            "a reconnect alone never notifies"
        );
        let s = merged(&r);
        assert_eq!(s.sessions.len(), 2);
        assert!(s.sessions.iter().all(|v| v.reachable));
    }

    #[test]
    fn sessions_are_host_and_id() {
        let mut r = followed();
        r.apply(
            RemoteEvent::Added {
                host: "other".into(),
            },
            0,
        );
        r.apply(
            snap(vec![
                view("x", SessionState::Done, true, 1),
                view("x", SessionState::Busy, false, 1),
            ]),
            1,
        );
        r.apply(
            RemoteEvent::Snapshot {
                host: "other".into(),
                snapshot: Snapshot {
                    sessions: vec![view("x", SessionState::Busy, false, 2)],
                    ..Snapshot::default()
                },
            },
            1,
        );
        let s = merged(&r);
        assert_eq!(s.sessions.len(), 2, "one per (host, id): {:?}", s.sessions);
        assert!(matches!(
            r.resolve(None, "x"),
            Err(ResolveError::Ambiguous(..))
        ));
        let (host, rest) = r.split_host("other:x").unwrap();
        let found = r.resolve(Some(&host), rest).unwrap().unwrap();
        assert_eq!((&*found.host, &*found.id), ("other", "x"));
        assert_eq!(r.resolve(None, "nothing"), Ok(None));
        assert_eq!(r.unvisited_count("devbox"), 1);
    }
}
