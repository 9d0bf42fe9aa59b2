//! One test per rule of the session model (README "The session model").

use std::sync::Arc;

use super::effect::{Effect, NotifyKind};
use super::event::*;
use super::{ModelConfig, ResolveError, State};
use crate::server_url::ServerUrl;
use crate::wire::snapshot::{SessionState, SessionView, Snapshot};

const SRV: &str = "http://127.0.0.1:4096";

fn srv() -> ServerUrl {
    ServerUrl::from(SRV)
}
fn sid(s: &str) -> SessionId {
    Arc::from(s)
}

/// A model with one connected, resynced server and a clock.
struct World {
    state: State,
    now: i64,
    effects: Vec<Effect>,
}

impl World {
    fn new() -> Self {
        let mut w = World {
            state: State::new(ModelConfig::default()),
            now: 1_000_000,
            effects: Vec::new(),
        };
        w.send(Event::ServerAdded { server: srv() });
        w.send(Event::Connected { server: srv() });
        w.send(Event::Resync {
            server: srv(),
            report: ResyncReport::default(),
        });
        w.effects.clear();
        w
    }
    /// A daemon that starts again with `saved` (no server followed yet), then follows
    /// [`SRV`] again.
    fn restarted(saved: super::persist::Persisted) -> Self {
        let mut state = State::new(ModelConfig::default());
        state.restore(saved);
        World {
            state,
            now: 2_000_000,
            effects: Vec::new(),
        }
    }
    /// `server` is added, connects and resyncs with nothing running.
    fn connect(&mut self, server: &ServerUrl) -> &mut Self {
        self.resync(server, ResyncReport::default())
    }
    fn resync(&mut self, server: &ServerUrl, report: ResyncReport) -> &mut Self {
        self.send(Event::ServerAdded {
            server: server.clone(),
        });
        self.send(Event::Connected {
            server: server.clone(),
        });
        self.send(Event::Resync {
            server: server.clone(),
            report,
        })
    }
    fn send(&mut self, e: Event) -> &mut Self {
        self.now += 1000;
        let fx = self.state.apply(e, self.now);
        self.effects.extend(fx);
        self
    }
    fn info(&mut self, id: &str, title: &str, parent: Option<&str>) -> &mut Self {
        self.send(Event::SessionInfo {
            server: srv(),
            info: SessionInfo {
                id: sid(id),
                directory: "/p".into(),
                title: title.into(),
                parent_id: parent.map(sid),
                agent: Some("build".into()),
                model: Some("fake/fake-model".into()),
                updated_ms: 1,
            },
        })
    }
    fn status(&mut self, id: &str, status: Status) -> &mut Self {
        self.send(Event::Status {
            server: srv(),
            directory: "/p".into(),
            session: sid(id),
            status,
        })
    }
    fn busy(&mut self, id: &str) -> &mut Self {
        self.status(id, Status::Busy)
    }
    fn idle(&mut self, id: &str) -> &mut Self {
        self.status(id, Status::Idle)
    }
    fn retry(&mut self, id: &str, attempt: u32) -> &mut Self {
        let next_ms = self.now + 5000;
        self.status(
            id,
            Status::Retry {
                attempt,
                message: "rate limited".into(),
                next_ms,
            },
        )
    }
    fn error(&mut self, id: &str, name: &str) -> &mut Self {
        self.send(Event::SessionError {
            server: srv(),
            session: Some(sid(id)),
            error: ErrorInfo {
                name: name.into(),
                message: "boom".into(),
            },
        })
    }
    fn snap(&self) -> Snapshot {
        self.state.snapshot()
    }
    fn session(&self, id: &str) -> Option<SessionView> {
        self.snap().sessions.into_iter().find(|s| &*s.id == id)
    }
    fn state_of(&self, id: &str) -> Option<SessionState> {
        self.session(id).map(|s| s.state)
    }
    fn notified(&mut self) -> Vec<(NotifyKind, String)> {
        let out = self
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Notify(n) => Some((n.kind, n.session.to_string())),
                _ => None,
            })
            .collect();
        self.effects.clear();
        out
    }
}

#[test]
fn never_active_sessions_are_not_shown() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None);
    assert!(w.snap().sessions.is_empty());
}

#[test]
fn busy_then_idle_is_done_unvisited_and_notified_once() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Busy));
    assert_eq!(w.snap().counts.busy, 1);
    w.busy("ses_a").busy("ses_a");
    w.idle("ses_a").idle("ses_a");
    let s = w.session("ses_a").unwrap();
    assert_eq!(s.state, SessionState::Done);
    assert!(s.unvisited);
    assert_eq!(w.snap().counts.done, 1);
    assert_eq!(w.snap().counts.unvisited, 1);
    assert_eq!(w.notified(), vec![(NotifyKind::Done, "ses_a".to_string())]);
}

#[test]
fn duplicate_events_do_not_change_the_generation() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    let g = w.state.generation();
    w.busy("ses_a");
    assert_eq!(w.state.generation(), g, "repeated busy is a no-op");
    w.idle("ses_a");
    let g = w.state.generation();
    w.idle("ses_a");
    assert_eq!(w.state.generation(), g, "second idle is a no-op");
}

#[test]
fn retry_carries_attempt_and_next_and_notifies_once_per_turn() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None)
        .busy("ses_a")
        .retry("ses_a", 1);
    let s = w.session("ses_a").unwrap();
    assert_eq!(s.state, SessionState::Retry);
    assert_eq!(s.attempt, Some(1));
    assert_eq!(s.retry_next_ms, Some(w.now + 4000));
    assert_eq!(s.message.as_deref(), Some("rate limited"));
    w.busy("ses_a").retry("ses_a", 2);
    assert_eq!(w.session("ses_a").unwrap().attempt, Some(2));
    w.busy("ses_a").idle("ses_a");
    let s = w.session("ses_a").unwrap();
    assert_eq!(s.state, SessionState::Done);
    assert_eq!(s.attempt, None, "attempt is null unless retrying");
    assert_eq!(
        w.notified(),
        vec![
            (NotifyKind::Retry, "ses_a".to_string()),
            (NotifyKind::Done, "ses_a".to_string())
        ]
    );
}

#[test]
fn error_before_idle_makes_error_with_message_not_done() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None)
        .busy("ses_a")
        .error("ses_a", "APIError");
    w.idle("ses_a").idle("ses_a");
    let s = w.session("ses_a").unwrap();
    assert_eq!(s.state, SessionState::Error);
    assert_eq!(s.message.as_deref(), Some("boom"));
    assert!(s.unvisited);
    assert_eq!(w.notified(), vec![(NotifyKind::Error, "ses_a".to_string())]);
}

#[test]
fn abort_makes_aborted() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None)
        .busy("ses_a")
        .error("ses_a", "MessageAbortedError")
        .idle("ses_a")
        .idle("ses_a");
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Aborted));
    assert_eq!(w.session("ses_a").unwrap().message, None);
    assert_eq!(
        w.notified(),
        vec![(NotifyKind::Aborted, "ses_a".to_string())]
    );
}

#[test]
fn busy_after_error_means_the_turn_recovered() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None)
        .busy("ses_a")
        .error("ses_a", "ContextOverflowError")
        .busy("ses_a")
        .idle("ses_a");
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
}

#[test]
fn error_after_idle_changes_nothing() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    w.error("ses_a", "APIError").idle("ses_a");
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
}

#[test]
fn waiting_on_permission_and_question_until_answered() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.send(Event::InputAsked {
        server: srv(),
        input: PendingInput {
            session: sid("ses_a"),
            request: "per_1".into(),
            kind: InputKind::Permission,
        },
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Waiting));
    assert_eq!(w.snap().counts.waiting, 1);
    // The same request again (e.g. replayed) notifies nothing new.
    w.send(Event::InputAsked {
        server: srv(),
        input: PendingInput {
            session: sid("ses_a"),
            request: "per_1".into(),
            kind: InputKind::Permission,
        },
    });
    w.send(Event::InputAnswered {
        server: srv(),
        session: sid("ses_a"),
        request: "per_1".into(),
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Busy));
    w.send(Event::InputAsked {
        server: srv(),
        input: PendingInput {
            session: sid("ses_a"),
            request: "que_1".into(),
            kind: InputKind::Question,
        },
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Waiting));
    // A rejected question ends the turn with an idle: the pending input goes with it.
    w.idle("ses_a");
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
    assert_eq!(
        w.notified(),
        vec![
            (NotifyKind::Waiting, "ses_a".to_string()),
            (NotifyKind::Waiting, "ses_a".to_string()),
            (NotifyKind::Done, "ses_a".to_string())
        ]
    );
}

#[test]
fn subagents_fold_into_their_parent_and_defer_its_done() {
    let mut w = World::new();
    w.info("ses_p", "parent", None).busy("ses_p");
    w.info("ses_c", "child job (@general subagent)", Some("ses_p"))
        .busy("ses_c");
    let snap = w.snap();
    assert_eq!(snap.counts.busy, 1, "children are not counted on their own");
    let p = w.session("ses_p").unwrap();
    assert_eq!(p.children_active, 1);
    let c = w.session("ses_c").unwrap();
    assert_eq!(c.parent_id.as_deref(), Some("ses_p"));
    assert_eq!(snap.roots().count(), 1);
    // Parent idles while its child still runs: no "done" yet.
    w.idle("ses_p");
    let n = w.notified();
    assert!(
        !n.iter()
            .any(|(k, s)| *k == NotifyKind::Done && s == "ses_p"),
        "{n:?}"
    );
    w.idle("ses_c");
    let n = w.notified();
    assert!(n.contains(&(NotifyKind::Done, "ses_c".to_string())));
    assert!(n.contains(&(NotifyKind::Done, "ses_p".to_string())));
    let effects_child: Vec<_> = w.effects.clone();
    assert!(effects_child.is_empty());
    assert_eq!(w.session("ses_p").unwrap().children_active, 0);
}

#[test]
fn child_notifications_are_marked_as_children() {
    let mut w = World::new();
    w.info("ses_p", "parent", None).busy("ses_p");
    w.info("ses_c", "child", Some("ses_p"))
        .busy("ses_c")
        .idle("ses_c");
    let child = w
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Notify(n) if &*n.session == "ses_c" => Some(n.child),
            _ => None,
        })
        .unwrap();
    assert!(child);
}

#[test]
fn seen_clears_unvisited_and_new_prompt_clears_it_too_but_not_a_trailing_update() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b").idle("ses_b");
    w.send(Event::Seen {
        target: Target::One {
            session: sid("ses_a"),
        },
    });
    assert!(!w.session("ses_a").unwrap().unvisited);
    assert!(w.session("ses_b").unwrap().unvisited);
    w.send(Event::Message {
        server: srv(),
        session: sid("ses_b"),
        info: MessageInfo {
            id: "msg_1".into(),
            role: Role::User,
            agent: Some("build".into()),
            model: Some("fake/fake-model".into()),
            completed: false,
            error: None,
            created_ms: 0,
        },
    });
    assert!(
        w.session("ses_b").unwrap().unvisited,
        "OpenCode updates the user message (summary) after idle: not a visit"
    );
    w.busy("ses_b");
    assert!(!w.session("ses_b").unwrap().unvisited, "a new prompt");
    assert_eq!(w.snap().counts.unvisited, 0);
}

#[test]
fn seen_all_clears_every_mark() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b").idle("ses_b");
    w.send(Event::Seen {
        target: Target::All,
    });
    assert_eq!(w.snap().counts.unvisited, 0);
}

#[test]
fn visited_sessions_linger_then_drop_unvisited_ones_stay() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b").idle("ses_b");
    w.send(Event::Seen {
        target: Target::One {
            session: sid("ses_a"),
        },
    });
    w.now += 29 * 60 * 1000;
    w.send(Event::Tick);
    assert!(w.session("ses_a").is_some(), "still lingering");
    w.now += 2 * 60 * 1000;
    w.send(Event::Tick);
    assert!(w.session("ses_a").is_none(), "lingered out");
    assert!(w.session("ses_b").is_some(), "unvisited stays");
}

#[test]
fn a_new_turn_clears_the_mark_and_starts_over() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None)
        .busy("ses_a")
        .error("ses_a", "APIError")
        .idle("ses_a");
    w.busy("ses_a");
    let s = w.session("ses_a").unwrap();
    assert_eq!(s.state, SessionState::Busy);
    assert!(!s.unvisited);
    assert_eq!(s.message, None);
    w.idle("ses_a");
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
}

#[test]
fn metadata_and_model_show_up() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    let s = w.session("ses_a").unwrap();
    assert_eq!(&*s.title, "alpha");
    assert_eq!(s.model.as_deref(), Some("fake/fake-model"));
    assert_eq!(s.agent.as_deref(), Some("build"));
    assert_eq!(&*s.directory, "/p");
    assert_eq!(&*s.server, SRV);
    w.info("ses_a", "renamed", None);
    assert_eq!(&*w.session("ses_a").unwrap().title, "renamed");
}

#[test]
fn unknown_session_asks_for_its_metadata_once() {
    let mut w = World::new();
    w.busy("ses_x").busy("ses_x").idle("ses_x").busy("ses_x");
    let fetches = w
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::FetchSession { .. }))
        .count();
    assert_eq!(fetches, 1);
}

#[test]
fn muted_sessions_do_not_notify_and_show_muted() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.send(Event::Mute {
        target: Target::One {
            session: sid("ses_a"),
        },
        muted: true,
    });
    w.idle("ses_a");
    assert!(w.notified().is_empty());
    assert!(w.session("ses_a").unwrap().muted);
}

#[test]
fn disconnect_turns_active_sessions_unknown_never_done() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b").idle("ses_b");
    w.send(Event::Disconnected {
        server: srv(),
        reason: "connection reset".into(),
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Unknown));
    assert_eq!(
        w.state_of("ses_b"),
        Some(SessionState::Done),
        "a known outcome stays known while the server is away"
    );
    let b = w.session("ses_b").unwrap();
    assert!(b.unvisited, "the mark stays while stale");
    assert!(!b.reachable);
    let srv_view = &w.snap().servers[0];
    assert!(!srv_view.connected);
    assert!(srv_view.stale);
    assert_eq!(w.snap().counts.busy, 0);
    // Reconnected but not yet resynced: still unknown.
    w.send(Event::Connected { server: srv() });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Unknown));
}

#[test]
fn resync_after_gap_still_busy() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.send(Event::Disconnected {
        server: srv(),
        reason: "x".into(),
    });
    w.send(Event::Connected { server: srv() });
    w.send(Event::Resync {
        server: srv(),
        report: ResyncReport {
            sessions: vec![],
            active: vec![(sid("ses_a"), Status::Busy)],
            pending: vec![],
            ..ResyncReport::default()
        },
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Busy));
    assert!(!w.snap().servers[0].stale);
}

#[test]
fn resync_after_gap_idle_asks_for_the_outcome_before_calling_it_done() {
    for (outcome, expected, kind) in [
        (TurnOutcome::Finished, SessionState::Done, NotifyKind::Done),
        (
            TurnOutcome::Interrupted,
            SessionState::Error,
            NotifyKind::Error,
        ),
        (
            TurnOutcome::Failed(ErrorInfo {
                name: "MessageAbortedError".into(),
                message: "Aborted".into(),
            }),
            SessionState::Aborted,
            NotifyKind::Aborted,
        ),
    ] {
        let mut w = World::new();
        w.info("ses_a", "alpha", None).busy("ses_a");
        w.send(Event::Disconnected {
            server: srv(),
            reason: "x".into(),
        });
        w.send(Event::Connected { server: srv() });
        w.send(Event::Resync {
            server: srv(),
            report: ResyncReport::default(),
        });
        assert!(
            w.effects.iter().any(
                |e| matches!(e, Effect::FetchOutcome { session, .. } if &**session == "ses_a")
            )
        );
        assert_eq!(w.state_of("ses_a"), Some(SessionState::Unknown));
        assert!(
            w.notified().is_empty(),
            "nothing is claimed before the outcome"
        );
        w.send(Event::Outcome {
            server: srv(),
            session: sid("ses_a"),
            outcome,
        });
        assert_eq!(w.state_of("ses_a"), Some(expected));
        assert_eq!(w.notified(), vec![(kind, "ses_a".to_string())]);
    }
}

/// A resync that could not read a piece leaves that piece unknown: never "finished", never a
/// notification, never a lost pending request.
#[test]
fn a_partial_resync_leaves_what_it_could_not_read_unknown() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.send(Event::InputAsked {
        server: srv(),
        input: PendingInput {
            session: sid("ses_a"),
            request: "per_1".into(),
            kind: InputKind::Permission,
        },
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Waiting));
    let dir: Arc<str> = Arc::from("/p");
    let gap = |w: &mut World, report: ResyncReport| {
        w.send(Event::Disconnected {
            server: srv(),
            reason: "x".into(),
        });
        w.send(Event::Connected { server: srv() });
        w.effects.clear();
        w.send(Event::Resync {
            server: srv(),
            report,
        });
    };
    // Statuses read (still busy), permissions not: the known request stays.
    gap(
        &mut w,
        ResyncReport {
            active: vec![(sid("ses_a"), Status::Busy)],
            unread_pending: vec![(dir.clone(), InputKind::Permission)],
            ..ResyncReport::default()
        },
    );
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Waiting));
    // The statuses of its directory could not be read: unknown, not finished, no fetch.
    gap(
        &mut w,
        ResyncReport {
            unread_statuses: vec![dir.clone()],
            unread_pending: vec![
                (dir.clone(), InputKind::Permission),
                (dir, InputKind::Question),
            ],
            ..ResyncReport::default()
        },
    );
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Unknown));
    assert!(
        !w.effects
            .iter()
            .any(|e| matches!(e, Effect::FetchOutcome { .. })),
        "{:?}",
        w.effects
    );
    assert!(w.notified().is_empty(), "no notification: {:?}", w.effects);
    // The next event tells: still running, and still waiting on its request.
    w.busy("ses_a");
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Waiting));
    // A later full resync that does not list it: now it finished during a gap.
    gap(&mut w, ResyncReport::default());
    assert!(
        w.effects
            .iter()
            .any(|e| matches!(e, Effect::FetchOutcome { .. }))
    );
    w.send(Event::Outcome {
        server: srv(),
        session: sid("ses_a"),
        outcome: TurnOutcome::Finished,
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
}

#[test]
fn sessions_active_at_connect_are_relevant_without_notifications() {
    let mut state = State::new(ModelConfig::default());
    state.apply(Event::Connected { server: srv() }, 1);
    let fx = state.apply(
        Event::Resync {
            server: srv(),
            report: ResyncReport {
                sessions: vec![SessionInfo {
                    id: sid("ses_a"),
                    directory: "/p".into(),
                    title: "alpha".into(),
                    ..SessionInfo::default()
                }],
                active: vec![(sid("ses_a"), Status::Busy)],
                pending: vec![PendingInput {
                    session: sid("ses_a"),
                    request: "per_1".into(),
                    kind: InputKind::Permission,
                }],
                ..ResyncReport::default()
            },
        },
        2,
    );
    assert!(fx.iter().all(|e| !matches!(e, Effect::Notify(_))), "{fx:?}");
    let snap = state.snapshot();
    assert_eq!(snap.sessions.len(), 1);
    assert_eq!(snap.sessions[0].state, SessionState::Waiting);
    assert_eq!(&*snap.sessions[0].title, "alpha");
}

#[test]
fn the_same_id_on_two_servers_is_one_session_where_it_runs() {
    let mut w = World::new();
    let other = ServerUrl::from("http://127.0.0.1:4097");
    w.connect(&other);
    w.busy("ses_a").idle("ses_a");
    assert_eq!(w.session("ses_a").unwrap().server, srv());
    // Continued on the other server: the same session moves there, its mark goes (a new turn).
    w.send(Event::Status {
        server: other.clone(),
        directory: "/q".into(),
        session: sid("ses_a"),
        status: Status::Busy,
    });
    let snap = w.snap();
    assert_eq!(snap.sessions.len(), 1);
    assert_eq!(snap.sessions[0].server, other);
    assert_eq!(snap.counts.busy, 1);
    // An idle from the server it left does not end the turn it runs elsewhere.
    w.idle("ses_a");
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Busy));
    w.send(Event::Status {
        server: other.clone(),
        directory: "/q".into(),
        session: sid("ses_a"),
        status: Status::Idle,
    });
    let snap = w.snap();
    assert_eq!(snap.sessions.len(), 1);
    assert_eq!(snap.counts.done, 1);
    assert_eq!(snap.counts.unvisited, 1);
    assert_eq!(snap.servers.len(), 2);
}

#[test]
fn deleted_sessions_disappear() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    w.send(Event::SessionDeleted {
        server: srv(),
        session: sid("ses_a"),
    });
    assert!(w.snap().sessions.is_empty());
}

#[test]
fn resolve_by_id_prefix_and_title() {
    let mut w = World::new();
    w.info("ses_abc1", "Fix the parser", None).busy("ses_abc1");
    w.info("ses_abd2", "Write docs", None).busy("ses_abd2");
    assert_eq!(&*w.state.resolve("ses_abc1").unwrap(), "ses_abc1");
    assert_eq!(&*w.state.resolve("ses_abd").unwrap(), "ses_abd2");
    assert_eq!(&*w.state.resolve("parser").unwrap(), "ses_abc1");
    assert_eq!(&*w.state.resolve("DOCS").unwrap(), "ses_abd2");
    match w.state.resolve("ses_ab") {
        Err(ResolveError::Ambiguous(_, c)) => assert_eq!(c.len(), 2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.state.resolve("nothing"),
        Err(ResolveError::NotFound(_))
    ));
    let msg = w.state.resolve("ses_ab").unwrap_err().to_string();
    assert!(
        msg.contains("ses_abc1") && msg.contains("Write docs"),
        "{msg}"
    );
}

#[test]
fn sessions_are_listed_most_recent_first() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b");
    let ids: Vec<String> = w
        .snap()
        .sessions
        .into_iter()
        .map(|s| s.id.to_string())
        .collect();
    assert_eq!(ids, vec!["ses_b", "ses_a"]);
}

fn focus(w: &mut World, tui: &str, session: Option<&str>, focused: bool) {
    w.send(Event::Focus {
        tui: tui.into(),
        session: session.map(sid),
        focused,
    });
}

#[test]
fn the_session_on_screen_in_a_focused_tui_is_visited_and_not_notified() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b");
    focus(&mut w, "tui-1", Some("ses_a"), true);
    w.retry("ses_a", 1).idle("ses_a").idle("ses_b");
    assert!(!w.session("ses_a").unwrap().unvisited);
    assert!(w.session("ses_b").unwrap().unvisited);
    assert_eq!(w.notified(), vec![(NotifyKind::Done, "ses_b".to_string())]);
}

#[test]
fn a_blurred_tui_is_background_and_focusing_it_clears_the_mark() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    focus(&mut w, "tui-1", Some("ses_a"), false);
    w.idle("ses_a");
    assert!(w.session("ses_a").unwrap().unvisited);
    assert_eq!(w.notified(), vec![(NotifyKind::Done, "ses_a".to_string())]);
    focus(&mut w, "tui-1", Some("ses_a"), true);
    assert!(!w.session("ses_a").unwrap().unvisited);
    // The TUI goes away: the session is background again.
    focus(&mut w, "tui-1", None, false);
    w.busy("ses_a").idle("ses_a");
    assert!(w.session("ses_a").unwrap().unvisited);
}

#[test]
fn unvisited_marks_and_mutes_survive_a_restart() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None)
        .busy("ses_a")
        .error("ses_a", "APIError")
        .idle("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b").idle("ses_b");
    w.send(Event::Seen {
        target: Target::One {
            session: sid("ses_b"),
        },
    });
    w.info("ses_c", "gamma", None).busy("ses_c");
    w.send(Event::Mute {
        target: Target::One {
            session: sid("ses_c"),
        },
        muted: true,
    });
    w.info("ses_d", "delta", None);
    w.send(Event::Mute {
        target: Target::One {
            session: sid("ses_d"),
        },
        muted: true,
    });
    let saved = w.state.persisted();
    let text = serde_json::to_string(&saved).unwrap();
    let back: super::persist::Persisted = serde_json::from_str(&text).unwrap();
    assert_eq!(back, saved);
    assert_eq!(saved.sessions.len(), 4, "{saved:?}");

    let mut fresh = World::restarted(back);
    let a = fresh.session("ses_a").unwrap();
    assert_eq!(a.state, SessionState::Error);
    assert!(a.unvisited);
    assert_eq!(a.message.as_deref(), Some("boom"));
    assert_eq!(&*a.title, "alpha");
    let b = fresh.session("ses_b").unwrap();
    assert_eq!(
        (b.state, b.unvisited),
        (SessionState::Done, false),
        "lingers"
    );
    // Running when the daemon stopped: unknown until its server says.
    assert_eq!(fresh.state_of("ses_c"), Some(SessionState::Unknown));
    fresh.connect(&srv());
    assert!(
        fresh
            .effects
            .iter()
            .any(|e| matches!(e, Effect::FetchOutcome { session, .. } if &**session == "ses_c")),
        "{:?}",
        fresh.effects
    );
    fresh.send(Event::Outcome {
        server: srv(),
        session: sid("ses_c"),
        outcome: TurnOutcome::Finished,
    });
    assert_eq!(fresh.state_of("ses_c"), Some(SessionState::Done));
    assert!(fresh.session("ses_c").unwrap().muted);
    assert!(fresh.notified().is_empty(), "muted");
    // Muted but never seen active by this daemon: not listed, but still muted when it runs.
    assert!(fresh.session("ses_d").is_none());
    fresh.busy("ses_d").idle("ses_d");
    assert!(fresh.session("ses_d").unwrap().muted);
    assert!(fresh.notified().is_empty());
}

#[test]
fn late_events_of_a_removed_server_are_ignored() {
    // Found by the model fuzz target (fuzz/): a `Disconnected` arriving after
    // `ServerRemoved` (a stopped connection's last event) re-created the server in the
    // snapshot without a new generation, so the published snapshot went stale; a late
    // status created a session no server accounted for.
    let mut w = World::new();
    w.busy("ses_a");
    w.send(Event::ServerRemoved { server: srv() });
    let generation = w.state.generation();
    let gone = w.state.snapshot();
    assert!(gone.servers.is_empty());
    // Its running session stays, `unknown` and unreachable, until read elsewhere.
    assert_eq!(gone.sessions.len(), 1);
    assert_eq!(gone.sessions[0].state, SessionState::Unknown);
    assert!(!gone.sessions[0].reachable);
    for e in [
        Event::Disconnected {
            server: srv(),
            reason: "late".into(),
        },
        Event::Alive { server: srv() },
        Event::Resync {
            server: srv(),
            report: ResyncReport::default(),
        },
        Event::Status {
            server: srv(),
            directory: "/p".into(),
            session: sid("ses_b"),
            status: Status::Busy,
        },
    ] {
        assert!(w.state.apply(e, 5_000_000).is_empty());
    }
    assert_eq!(w.state.snapshot(), gone);
    assert_eq!(w.state.generation(), generation);
    // A stream that opens again follows it again.
    w.send(Event::Connected { server: srv() });
    assert_eq!(w.state.snapshot().servers.len(), 1);
}

#[test]
fn a_restored_model_persists_the_same_state() {
    // Found by the model fuzz target (fuzz/): a muted session that was not finished came
    // back from the state file with last_activity_ms 0, so the next state file differed.
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    w.info("ses_c", "gamma", None).busy("ses_c");
    w.send(Event::Mute {
        target: Target::One {
            session: sid("ses_c"),
        },
        muted: true,
    });
    let mut saved = w.state.persisted();
    let mut fresh = World::new();
    fresh.state.restore(saved.clone());
    let mut again = fresh.state.persisted();
    saved.sessions.sort_by(|a, b| a.id.cmp(&b.id));
    again.sessions.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(saved.sessions.len(), 2, "{saved:?}");
    assert_eq!(again, saved);
}

#[test]
fn the_persisted_fingerprint_changes_exactly_when_the_state_file_would() {
    // The daemon writes the state file only when this hash changes: a change it missed would
    // be lost at the next restart, one it saw too often would write the disk for nothing.
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b").idle("ses_b");
    let saved = w.state.persisted();
    let fingerprint = w.state.persisted_fingerprint();
    // The running turn goes on, a second later: its activity moves, the file does not.
    w.busy("ses_a");
    assert_eq!(w.state.persisted(), saved);
    assert_eq!(w.state.persisted_fingerprint(), fingerprint);
    // Every change the file holds changes it, and never back to an earlier value.
    let mut seen = vec![(saved, fingerprint)];
    let mut check = |w: &World, what: &str| {
        let (p, f) = (w.state.persisted(), w.state.persisted_fingerprint());
        assert_ne!(
            p,
            seen.last().unwrap().0,
            "{what}: the file would not change"
        );
        assert!(
            seen.iter().all(|(_, old)| *old != f),
            "{what}: the fingerprint did not change"
        );
        seen.push((p, f));
    };
    w.idle("ses_a");
    check(&w, "the turn ended");
    w.send(Event::Mute {
        target: Target::One {
            session: sid("ses_b"),
        },
        muted: true,
    });
    check(&w, "a mute");
    w.info("ses_a", "alpha renamed", None);
    check(&w, "a rename");
}

#[test]
fn snapshot_order_does_not_depend_on_hash_order() {
    // Found by the model fuzz target (fuzz/): sessions with the same last activity came out in
    // hash-map order, so an unrelated new session could reorder the snapshot without any
    // visible change (and without a new generation). Ties are broken by id.
    for extra in 0..40 {
        let mut state = State::new(ModelConfig::default());
        state.apply(Event::ServerAdded { server: srv() }, 1);
        state.apply(Event::Connected { server: srv() }, 1);
        state.apply(
            Event::Resync {
                server: srv(),
                report: ResyncReport::default(),
            },
            1,
        );
        for id in ["ses_b", "ses_a"] {
            state.apply(
                Event::Status {
                    server: srv(),
                    directory: "/p".into(),
                    session: sid(id),
                    status: Status::Busy,
                },
                7,
            );
        }
        for i in 0..extra {
            state.apply(
                Event::SessionInfo {
                    server: srv(),
                    info: SessionInfo {
                        id: sid(&format!("ses_quiet_{i}")),
                        ..SessionInfo::default()
                    },
                },
                8,
            );
        }
        let ids: Vec<String> = state
            .snapshot()
            .sessions
            .into_iter()
            .map(|s| s.id.to_string())
            .collect();
        assert_eq!(ids, vec!["ses_a", "ses_b"], "with {extra} others");
    }
}

// --- identity: a session is its id, wherever it is reached ----------------------------------

const DAY: i64 = 24 * 3600 * 1000;

fn other() -> ServerUrl {
    ServerUrl::from("http://127.0.0.1:5123")
}

fn listing(ids: &[&str]) -> ResyncReport {
    ResyncReport {
        sessions: ids
            .iter()
            .map(|id| SessionInfo {
                id: sid(id),
                directory: "/p".into(),
                title: format!("title of {id}").into(),
                ..SessionInfo::default()
            })
            .collect(),
        ..ResyncReport::default()
    }
}

/// Every id once, counts that match the list, the newest unvisited agreeing with the count.
fn assert_consistent(snap: &Snapshot) {
    let mut ids: Vec<&str> = snap.sessions.iter().map(|s| &*s.id).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "a session listed twice: {snap:?}");
    let unvisited = snap
        .roots()
        .filter(|s| s.unvisited)
        .inspect(|s| assert!(s.state.is_finished(), "unvisited {:?}", s.state))
        .count() as u32;
    assert_eq!(snap.counts.unvisited, unvisited);
    assert_eq!(
        snap.newest_unvisited().is_some(),
        unvisited > 0,
        "open --newest-unvisited must agree with counts.unvisited"
    );
}

#[test]
fn opencode_restarted_on_another_port_with_the_daemon_keeps_one_session_with_its_outcome() {
    // The walkthrough that found it: done and unvisited; OpenCode and the daemon restart,
    // OpenCode on another port; the session must not turn unknown, nor be listed twice once
    // the user continues it on the new server.
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    let saved = w.state.persisted();
    let mut w = World::restarted(saved);
    let a = w.session("ses_a").unwrap();
    assert_eq!(
        (a.state, a.unvisited, a.reachable),
        (SessionState::Done, true, false)
    );
    assert_eq!(&*a.title, "alpha");
    assert_consistent(&w.snap());
    // The new server lists it (same database): it is reachable there, still done, unvisited.
    w.resync(&other(), listing(&["ses_a"]));
    let a = w.session("ses_a").unwrap();
    assert_eq!((a.state, a.unvisited), (SessionState::Done, true));
    assert_eq!((a.server.clone(), a.reachable), (other(), true));
    assert_consistent(&w.snap());
    // Work continues there: one session, busy then done again.
    w.send(Event::Status {
        server: other(),
        directory: "/p".into(),
        session: sid("ses_a"),
        status: Status::Busy,
    });
    assert_eq!(w.snap().sessions.len(), 1);
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Busy));
    w.send(Event::Status {
        server: other(),
        directory: "/p".into(),
        session: sid("ses_a"),
        status: Status::Idle,
    });
    let snap = w.snap();
    assert_eq!(snap.sessions.len(), 1);
    assert_eq!((snap.counts.done, snap.counts.unvisited), (1, 1));
    assert_consistent(&snap);
}

#[test]
fn a_tui_that_exits_leaves_its_finished_sessions_with_their_marks() {
    let tui1 = ServerUrl::from("tui://111");
    let tui2 = ServerUrl::from("tui://222");
    let mut w = World::new();
    w.connect(&tui1);
    let st = |w: &mut World, server: &ServerUrl, id: &str, status: Status| {
        w.send(Event::Status {
            server: server.clone(),
            directory: "/p".into(),
            session: sid(id),
            status,
        });
    };
    st(&mut w, &tui1, "ses_t", Status::Busy);
    st(&mut w, &tui1, "ses_t", Status::Idle);
    st(&mut w, &tui1, "ses_v", Status::Busy);
    st(&mut w, &tui1, "ses_v", Status::Idle);
    w.send(Event::Seen {
        target: Target::One {
            session: sid("ses_v"),
        },
    });
    st(&mut w, &tui1, "ses_r", Status::Busy);
    w.send(Event::Mute {
        target: Target::One {
            session: sid("ses_t"),
        },
        muted: true,
    });
    w.effects.clear();
    w.send(Event::ServerRemoved {
        server: tui1.clone(),
    });
    let t = w.session("ses_t").unwrap();
    assert_eq!(
        (t.state, t.unvisited, t.reachable, t.muted),
        (SessionState::Done, true, false, true)
    );
    let v = w.session("ses_v").unwrap();
    assert_eq!(
        (v.state, v.unvisited),
        (SessionState::Done, false),
        "lingers"
    );
    // Running when the TUI exited: unknown; the HTTP server in sync is asked about every
    // session of the TUI (no bridged TUI serves reads).
    assert_eq!(w.state_of("ses_r"), Some(SessionState::Unknown));
    let asked = |id: &str| Effect::FetchSession {
        server: srv(),
        session: sid(id),
    };
    assert_eq!(
        w.effects,
        vec![asked("ses_r"), asked("ses_t"), asked("ses_v")]
    );
    assert_consistent(&w.snap());
    // It knows ses_r (same database): its outcome is read there.
    w.effects.clear();
    w.info("ses_r", "running", None);
    assert_eq!(
        w.effects,
        vec![Effect::FetchOutcome {
            server: srv(),
            session: sid("ses_r"),
        }]
    );
    assert_eq!(w.state_of("ses_r"), Some(SessionState::Unknown));
    w.send(Event::Outcome {
        server: srv(),
        session: sid("ses_r"),
        outcome: TurnOutcome::Interrupted,
    });
    let r = w.session("ses_r").unwrap();
    assert_eq!((r.state, r.unvisited), (SessionState::Error, true));
    assert_eq!(
        (r.server.clone(), r.reachable),
        (srv(), true),
        "read there: reachable there"
    );
    // The TUI starts again (a new pid) and continues ses_t: it moves there with its mute.
    w.connect(&tui2);
    st(&mut w, &tui2, "ses_t", Status::Busy);
    let t = w.session("ses_t").unwrap();
    assert_eq!(
        (t.state, t.server.clone(), t.muted),
        (SessionState::Busy, tui2.clone(), true)
    );
    st(&mut w, &tui2, "ses_t", Status::Idle);
    assert!(w.notified().iter().all(|(_, id)| id != "ses_t"), "muted");
    assert_consistent(&w.snap());
}

#[test]
fn a_listing_elsewhere_does_not_end_a_turn_whose_server_is_only_disconnected() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.send(Event::Disconnected {
        server: srv(),
        reason: "reset".into(),
    });
    w.effects.clear();
    w.resync(&other(), listing(&["ses_a"]));
    let a = w.session("ses_a").unwrap();
    assert_eq!((a.state, a.server.clone()), (SessionState::Unknown, srv()));
    assert!(w.effects.is_empty(), "{:?}", w.effects);
    // Its server is gone for good: the other one is asked whether it knows it.
    w.send(Event::ServerRemoved { server: srv() });
    assert_eq!(
        w.effects,
        vec![Effect::FetchSession {
            server: other(),
            session: sid("ses_a"),
        }]
    );
    w.effects.clear();
    w.send(Event::SessionInfo {
        server: other(),
        info: SessionInfo {
            id: sid("ses_a"),
            title: "alpha".into(),
            ..SessionInfo::default()
        },
    });
    assert_eq!(
        w.effects,
        vec![Effect::FetchOutcome {
            server: other(),
            session: sid("ses_a"),
        }]
    );
    // That server goes too before answering; the first comes back: asked there again.
    w.effects.clear();
    w.send(Event::Disconnected {
        server: other(),
        reason: "x".into(),
    });
    w.connect(&srv());
    assert_eq!(
        w.effects,
        vec![Effect::FetchOutcome {
            server: srv(),
            session: sid("ses_a"),
        }]
    );
    w.send(Event::Outcome {
        server: srv(),
        session: sid("ses_a"),
        outcome: TurnOutcome::Finished,
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
    assert_consistent(&w.snap());
}

#[test]
fn sessions_deleted_in_opencode_are_dropped_wherever_they_were() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    w.info("ses_b", "beta", None).busy("ses_b");
    let saved = w.state.persisted();
    let mut w = World::restarted(saved);
    w.connect(&other());
    assert_eq!(
        w.effects,
        vec![
            Effect::FetchSession {
                server: other(),
                session: sid("ses_a"),
            },
            Effect::FetchSession {
                server: other(),
                session: sid("ses_b"),
            },
        ]
    );
    // A server that does not know it may use another database: it stays, and is not asked
    // again there.
    w.effects.clear();
    w.send(Event::Missing {
        server: other(),
        session: sid("ses_a"),
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
    w.send(Event::Disconnected {
        server: srv(),
        reason: "never connected".into(),
    });
    assert!(w.effects.is_empty(), "{:?}", w.effects);
    // Its own server says 404 on the read of the running one: deleted.
    w.connect(&srv());
    assert!(w.effects.contains(&Effect::FetchOutcome {
        server: srv(),
        session: sid("ses_b"),
    }));
    w.send(Event::Missing {
        server: srv(),
        session: sid("ses_b"),
    });
    assert!(w.session("ses_b").is_none());
    // session.deleted from any server of the database: dropped.
    w.send(Event::SessionDeleted {
        server: other(),
        session: sid("ses_a"),
    });
    assert!(w.snap().sessions.is_empty());
    assert!(w.state.persisted().sessions.is_empty());
}

#[test]
fn unvisited_marks_expire_after_unvisited_days_with_a_fake_clock() {
    for days in [7, 1, 0] {
        let mut state = State::new(ModelConfig {
            unvisited_ms: days * DAY,
            ..ModelConfig::default()
        });
        let t0 = 1_800_000_000_000;
        for e in [
            Event::ServerAdded { server: srv() },
            Event::Connected { server: srv() },
            Event::Resync {
                server: srv(),
                report: ResyncReport::default(),
            },
        ] {
            state.apply(e, t0);
        }
        for (id, st) in [("ses_a", Status::Busy), ("ses_a", Status::Idle)] {
            state.apply(
                Event::Status {
                    server: srv(),
                    directory: "/p".into(),
                    session: sid(id),
                    status: st,
                },
                t0,
            );
        }
        // A lost turn (its server gone, no other to read it through) expires the same way.
        let gone = ServerUrl::from("tui://9");
        for e in [
            Event::ServerAdded {
                server: gone.clone(),
            },
            Event::Connected {
                server: gone.clone(),
            },
            Event::Resync {
                server: gone.clone(),
                report: ResyncReport::default(),
            },
            Event::Status {
                server: gone.clone(),
                directory: "/p".into(),
                session: sid("ses_lost"),
                status: Status::Busy,
            },
            Event::ServerRemoved {
                server: gone.clone(),
            },
        ] {
            state.apply(e, t0);
        }
        state.apply(Event::ServerRemoved { server: srv() }, t0);
        let listed = |state: &State| {
            let mut v: Vec<String> = state
                .snapshot()
                .sessions
                .iter()
                .map(|s| s.id.to_string())
                .collect();
            v.sort();
            v
        };
        if days > 0 {
            assert_eq!(state.next_deadline(), Some(t0 + days * DAY));
        } else {
            assert_eq!(state.next_deadline(), None, "nothing to wake up for");
        }
        // Simulated days pass, one tick an hour.
        let mut t = t0;
        let mut dropped_at = None;
        while t < t0 + 30 * DAY {
            t += 3600 * 1000;
            state.apply(Event::Tick, t);
            if dropped_at.is_none() && listed(&state).is_empty() {
                dropped_at = Some(t);
            }
            if days > 0 && t < t0 + days * DAY {
                assert_eq!(
                    listed(&state),
                    ["ses_a", "ses_lost"],
                    "day {}",
                    (t - t0) / DAY
                );
                assert_eq!(state.snapshot().counts.unvisited, 1);
            }
        }
        match days {
            0 => {
                assert_eq!(dropped_at, None, "0: marks never expire");
                assert_eq!(state.snapshot().counts.unvisited, 1);
            }
            d => {
                assert_eq!(dropped_at, Some(t0 + d * DAY), "{d} days");
                assert_eq!(
                    state.session_count(),
                    0,
                    "nothing accounts for them: forgotten"
                );
                assert!(state.persisted().sessions.is_empty());
            }
        }
    }
}

#[test]
fn visited_finished_sessions_linger_across_a_restart() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a").idle("ses_a");
    w.send(Event::Seen {
        target: Target::One {
            session: sid("ses_a"),
        },
    });
    let visited_at = w.now;
    let mut w = World::restarted(w.state.persisted());
    let linger = ModelConfig::default().linger_ms;
    // The shell is told when to tick: when the linger ends, not before.
    assert_eq!(w.state.next_deadline(), Some(visited_at + linger));
    w.state.apply(Event::Tick, visited_at + linger - 1);
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
    w.state.apply(Event::Tick, visited_at + linger);
    assert!(w.session("ses_a").is_none());
}

// ---------------------------------------------------------------------------------------------
// OpenCode 2: the end of a turn is said once (`session.execution.*`), metadata field by field.

impl World {
    fn ended(&mut self, id: &str, outcome: TurnOutcome) -> &mut Self {
        self.send(Event::TurnEnded {
            server: srv(),
            session: sid(id),
            outcome,
        })
    }
    fn changed(&mut self, id: &str, change: SessionChange) -> &mut Self {
        self.send(Event::SessionChanged {
            server: srv(),
            session: sid(id),
            change,
        })
    }
}

#[test]
fn a_turn_ended_gives_done_error_or_aborted_and_notifies_once() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None)
        .busy("ses_a")
        .ended("ses_a", TurnOutcome::Finished);
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Done));
    assert!(w.session("ses_a").unwrap().unvisited);
    let g = w.state.generation();
    w.ended("ses_a", TurnOutcome::Finished).idle("ses_a");
    assert_eq!(
        w.state.generation(),
        g,
        "a repeated end, or idle after it, is a no-op"
    );
    assert_eq!(w.notified(), vec![(NotifyKind::Done, "ses_a".to_string())]);

    let failed = ErrorInfo {
        name: "ProviderError".into(),
        message: "quota exceeded".into(),
    };
    w.busy("ses_a").ended("ses_a", TurnOutcome::Failed(failed));
    let s = w.session("ses_a").unwrap();
    assert_eq!(s.state, SessionState::Error);
    assert_eq!(s.message.as_deref(), Some("quota exceeded"));

    w.busy("ses_a")
        .ended("ses_a", TurnOutcome::Failed(ErrorInfo::aborted()));
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Aborted));
    assert_eq!(
        w.notified(),
        vec![
            (NotifyKind::Error, "ses_a".to_string()),
            (NotifyKind::Aborted, "ses_a".to_string())
        ]
    );
}

#[test]
fn a_turn_ended_for_a_session_never_seen_running_shows_nothing() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None)
        .ended("ses_a", TurnOutcome::Finished);
    assert_eq!(w.state_of("ses_a"), None, "transitions only");
    assert!(w.notified().is_empty());
}

#[test]
fn a_turn_ended_on_another_server_does_not_end_it() {
    let other = ServerUrl::from("http://127.0.0.1:5000");
    let mut w = World::new();
    w.connect(&other);
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.send(Event::TurnEnded {
        server: other,
        session: sid("ses_a"),
        outcome: TurnOutcome::Finished,
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Busy));
}

#[test]
fn session_changes_update_title_agent_and_model_of_a_shown_session() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.changed("ses_a", SessionChange::Title("renamed".into()))
        .changed("ses_a", SessionChange::Agent("plan".into()))
        .changed("ses_a", SessionChange::Model("p/m2".into()));
    let s = w.session("ses_a").unwrap();
    assert_eq!(&*s.title, "renamed");
    assert_eq!(s.agent.as_deref(), Some("plan"));
    assert_eq!(s.model.as_deref(), Some("p/m2"));
    let g = w.state.generation();
    w.changed("ses_a", SessionChange::Title("renamed".into()));
    assert_eq!(w.state.generation(), g, "the same title again is a no-op");
    w.changed("ses_unknown", SessionChange::Title("x".into()));
    assert_eq!(w.state.generation(), g, "an unknown session is not created");
}

#[test]
fn a_resync_that_read_no_status_anywhere_finishes_nothing() {
    let mut w = World::new();
    w.info("ses_a", "alpha", None).busy("ses_a");
    w.send(Event::Disconnected {
        server: srv(),
        reason: "overflow".into(),
    });
    w.send(Event::Connected { server: srv() });
    w.effects.clear();
    w.send(Event::Resync {
        server: srv(),
        report: ResyncReport {
            statuses_unread_everywhere: true,
            pending_unread_everywhere: vec![InputKind::Permission, InputKind::Question],
            ..ResyncReport::default()
        },
    });
    assert_eq!(w.state_of("ses_a"), Some(SessionState::Unknown));
    assert!(
        !w.effects
            .iter()
            .any(|e| matches!(e, Effect::FetchOutcome { .. })),
        "{:?}",
        w.effects
    );
    assert!(w.notified().is_empty());
}
