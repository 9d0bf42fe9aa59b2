//! The `model` target: a recorded-stream-like input drives `State::apply`, and every snapshot
//! is checked.
//!
//! Input: lines. A line starting with `!` is an operation of the daemon's shell (connect,
//! resync, a fetched outcome, a user command, time passing…); every other line is fed to the
//! SSE framer, and each frame goes through `decode` into the model, exactly as a live
//! connection does. So a captured `tests/fixtures/*.sse` file is a valid input as it is, and
//! the fuzzer mixes real event streams with disconnects, resyncs and user actions.
//!
//! Operations (arguments separated by spaces):
//! `!add` `!remove` `!connect` `!disconnect` `!alive` `!tick` — that event for the current server;
//! `!server N` — switch the current server (3 servers);
//! `!time N` — move the clock by N ms (negative too: wall clocks jump);
//! `!resync TOKEN…` — a resync report: `SID=busy`, `SID=retry`, `?SID` (pending permission),
//! `??SID` (pending question), `+SID` / `+SID<PARENT` (session metadata);
//! `!outcome SID f|e|a|i` — finished / failed / aborted / interrupted;
//! `!error SID NAME` — `session.error` without a frame;
//! `!missing SID` — a read of SID answered 404 (on the current server);
//! `!seen SID|*` `!mute SID` `!unmute SID` `!focus TUI SID|- 0|1` — user actions;
//! `!restart` — the daemon restarts: the persisted part goes through JSON into a new model.
//!
//! Checked after every event: the snapshot's own invariants (see [`check_snapshot`]: among
//! them, no session id twice whatever the order of events, servers and restarts), that the
//! snapshot changed only if the generation did (the socket server caches renders per
//! generation), that notifications match what the snapshot shows and never concern a muted
//! session, and that applying the same stream event twice changes nothing the second time
//! (edge-triggered model). At the end the snapshot is rendered in every format.

use std::collections::HashSet;
use std::sync::Arc;

use ocbar::daemon::source::sse::{Frame, SseParser};
use ocbar::daemon::source::{Decoded, decode_frame};
use ocbar::model::effect::{Effect, NotifyKind};
use ocbar::model::event::{
    ErrorInfo, Event, InputKind, PendingInput, ResyncReport, SessionInfo, Status, Target,
    TurnOutcome,
};
use ocbar::model::persist::Persisted;
use ocbar::model::{ModelConfig, State};
use ocbar::render::RenderConfig;
use ocbar::server_url::ServerUrl;
use ocbar::wire::snapshot::{SessionState, Snapshot};

const SERVERS: [&str; 3] = ["http://127.0.0.1:4096", "http://127.0.0.1:4097", "tui://7"];
const LINGER_MS: i64 = 60_000;
const UNVISITED_MS: i64 = 3_600_000;
/// Events applied per input at most (keeps one execution fast).
const MAX_EVENTS: usize = 2_000;

/// Invariants of a snapshot that hold whatever happened before.
pub fn check_snapshot(s: &Snapshot) {
    assert_eq!(s.version, 1);
    let mut urls = HashSet::new();
    for v in &s.servers {
        assert!(
            urls.insert(v.url.as_str()),
            "server listed twice: {}",
            v.url
        );
        if !v.connected {
            assert!(v.stale, "a server that is not connected must be stale");
        }
    }
    let mut ids = HashSet::new();
    for w in s.sessions.windows(2) {
        assert!(
            (w[0].last_activity_ms, &w[1].id) > (w[1].last_activity_ms, &w[0].id),
            "sessions out of order: {} then {}",
            w[0].id,
            w[1].id
        );
    }
    let mut recount = [0u32; 7];
    let mut unvisited = 0;
    for x in &s.sessions {
        // A session is its id: listed once, whichever servers reported it.
        assert!(ids.insert(&x.id), "session listed twice: {}", x.id);
        let listed = s.servers.iter().find(|v| *v.url == *x.server);
        assert_eq!(
            x.reachable,
            listed.is_some_and(|v| v.connected),
            "reachable of {} vs its server",
            x.id
        );
        let in_sync = listed.is_some_and(|v| v.connected && !v.stale);
        if x.state.is_active() {
            assert!(
                in_sync,
                "session {} of a stale or gone server shows {:?}",
                x.id, x.state
            );
        }
        let retry = x.state == SessionState::Retry;
        assert_eq!(x.attempt.is_some(), retry, "attempt vs state of {}", x.id);
        assert_eq!(
            x.retry_next_ms.is_some(),
            retry,
            "retry_next_ms vs state of {}",
            x.id
        );
        if x.message.is_some() {
            assert!(
                matches!(x.state, SessionState::Retry | SessionState::Error),
                "message on a {:?} session",
                x.state
            );
        }
        if x.state == SessionState::Error {
            assert!(x.message.is_some(), "error without a message");
        }
        if x.unvisited {
            // Only a known outcome carries the mark, and it keeps it whatever the server does.
            assert!(x.state.is_finished(), "unvisited {:?} session", x.state);
        }
        if x.parent_id.is_none() {
            let i = match x.state {
                SessionState::Busy => 0,
                SessionState::Retry => 1,
                SessionState::Waiting => 2,
                SessionState::Done => 3,
                SessionState::Error => 4,
                SessionState::Aborted => 5,
                SessionState::Unknown => 6,
            };
            recount[i] += 1;
            if x.unvisited {
                unvisited += 1;
            }
        }
    }
    let c = &s.counts;
    assert_eq!(
        [c.busy, c.retry, c.waiting, c.done, c.error, c.aborted],
        [
            recount[0], recount[1], recount[2], recount[3], recount[4], recount[5]
        ],
        "counts do not match the sessions"
    );
    assert_eq!(
        c.unvisited, unvisited,
        "counts.unvisited does not match the sessions"
    );
    // `open --newest-unvisited` opens what the count counts.
    assert_eq!(
        s.newest_unvisited().is_some(),
        unvisited > 0,
        "open --newest-unvisited disagrees with counts.unvisited"
    );
}

struct Driver {
    state: State,
    now: i64,
    cur: usize,
    added: [bool; 3],
    servers: [ServerUrl; 3],
    prev: Snapshot,
    prev_gen: u64,
    applied: usize,
    attempt: u32,
}

/// Short enough that `!time` reaches them: marks expire after an hour here.
fn config() -> ModelConfig {
    ModelConfig {
        linger_ms: LINGER_MS,
        unvisited_ms: UNVISITED_MS,
    }
}

fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

impl Driver {
    fn new() -> Driver {
        let state = State::new(config());
        let prev = state.snapshot();
        let prev_gen = state.generation();
        let mut d = Driver {
            state,
            now: 1_795_463_600_000,
            cur: 0,
            added: [false; 3],
            servers: SERVERS.map(ServerUrl::from),
            prev,
            prev_gen,
            applied: 0,
            attempt: 0,
        };
        // As a live connection starts: added, connected, an empty resync.
        let server = d.server();
        d.added[0] = true;
        d.apply(Event::ServerAdded {
            server: server.clone(),
        });
        d.apply(Event::Connected {
            server: server.clone(),
        });
        d.apply(Event::Resync {
            server,
            report: ResyncReport::default(),
        });
        d
    }

    fn server(&self) -> ServerUrl {
        self.servers[self.cur].clone()
    }

    fn apply(&mut self, event: Event) {
        if self.applied >= MAX_EVENTS {
            return;
        }
        self.applied += 1;
        let repeatable = matches!(
            event,
            Event::Status { .. }
                | Event::SessionError { .. }
                | Event::SessionInfo { .. }
                | Event::SessionDeleted { .. }
                | Event::Message { .. }
                | Event::InputAsked { .. }
                | Event::InputAnswered { .. }
                | Event::Seen { .. }
                | Event::Mute { .. }
                | Event::Focus { .. }
        );
        // Kept to name the event in a failure message (formatting it every time is slow).
        let shown = event.clone();
        let again = repeatable.then(|| event.clone());
        let fx = self.state.apply(event, self.now);
        let snap = self.state.snapshot();
        let generation = self.state.generation();
        if generation == self.prev_gen {
            assert_eq!(
                snap, self.prev,
                "the snapshot changed without a new generation after {shown:?}"
            );
        }
        check_snapshot(&snap);
        self.check_effects(&fx, &snap, &shown);
        if let Some(e) = again {
            let fx2 = self.state.apply(e, self.now);
            assert!(fx2.is_empty(), "a repeated {shown:?} had effects: {fx2:?}");
            assert_eq!(
                self.state.generation(),
                generation,
                "a repeated {shown:?} changed the model"
            );
            assert_eq!(self.state.snapshot(), snap);
        }
        self.prev = snap;
        self.prev_gen = generation;
    }

    fn check_effects(&self, fx: &[Effect], snap: &Snapshot, event: &Event) {
        for e in fx {
            let Effect::Notify(n) = e else { continue };
            let view = snap.sessions.iter().find(|s| *s.id == *n.session);
            let Some(view) = view else {
                panic!(
                    "{:?} notification for session {} that is not shown, after {event:?}",
                    n.kind, n.session
                );
            };
            assert!(
                !view.muted,
                "notification for a muted session, after {event:?}"
            );
            assert_eq!(
                *view.server, *n.server,
                "notification names another server than the session's, after {event:?}"
            );
            if view.state == SessionState::Unknown {
                continue;
            }
            let ok = match n.kind {
                NotifyKind::Done => view.state == SessionState::Done,
                NotifyKind::Error => view.state == SessionState::Error,
                NotifyKind::Aborted => view.state == SessionState::Aborted,
                NotifyKind::Retry => {
                    matches!(view.state, SessionState::Retry | SessionState::Waiting)
                }
                NotifyKind::Waiting => view.state == SessionState::Waiting,
            };
            assert!(
                ok,
                "{:?} notification for a {:?} session, after {event:?}",
                n.kind, view.state
            );
        }
    }

    fn frames(&mut self, parser: &mut SseParser, bytes: &[u8]) {
        let server = self.server();
        let mut events = Vec::new();
        parser.push(bytes, |frame| {
            let Frame::Data(data) = frame else { return };
            match decode_frame(&server, data) {
                Decoded::Event(e, _) => events.push(e),
                Decoded::Heartbeat => {
                    events.push(Event::Alive {
                        server: server.clone(),
                    });
                    events.push(Event::Tick);
                }
                _ => {}
            }
        });
        for e in events {
            self.apply(e);
        }
    }

    fn op(&mut self, line: &str) {
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let Some(op) = words.next() else { return };
        let server = self.server();
        let arg = words.next();
        match op {
            "!add" => {
                self.added[self.cur] = true;
                self.apply(Event::ServerAdded { server });
            }
            "!remove" => {
                self.added[self.cur] = false;
                self.apply(Event::ServerRemoved { server });
            }
            "!connect" => self.apply(Event::Connected { server }),
            "!disconnect" => self.apply(Event::Disconnected {
                server,
                reason: "fuzz".into(),
            }),
            "!alive" => self.apply(Event::Alive { server }),
            "!tick" => self.apply(Event::Tick),
            "!server" => {
                if let Some(n) = arg.and_then(|a| a.parse::<usize>().ok()) {
                    self.cur = n % SERVERS.len();
                }
            }
            "!time" => {
                if let Some(n) = arg.and_then(|a| a.parse::<i64>().ok()) {
                    self.now = self.now.saturating_add(n.clamp(-(1 << 40), 1 << 40));
                }
            }
            "!resync" => {
                let mut report = ResyncReport::default();
                for w in arg.into_iter().chain(words) {
                    if let Some(q) = w.strip_prefix("??") {
                        report.pending.push(PendingInput {
                            session: arc(q),
                            request: format!("que_{q}"),
                            kind: InputKind::Question,
                        });
                    } else if let Some(p) = w.strip_prefix('?') {
                        report.pending.push(PendingInput {
                            session: arc(p),
                            request: format!("per_{p}"),
                            kind: InputKind::Permission,
                        });
                    } else if let Some(info) = w.strip_prefix('+') {
                        let (id, parent) = match info.split_once('<') {
                            Some((i, p)) => (i, Some(arc(p))),
                            None => (info, None),
                        };
                        report.sessions.push(SessionInfo {
                            id: arc(id),
                            directory: "/p".into(),
                            title: id.into(),
                            parent_id: parent,
                            agent: None,
                            model: None,
                            updated_ms: self.now,
                        });
                    } else if let Some((id, st)) = w.split_once('=') {
                        let status = if st == "retry" {
                            self.attempt += 1;
                            Status::Retry {
                                attempt: self.attempt,
                                message: "rate limited".into(),
                                next_ms: self.now + 2_000,
                            }
                        } else {
                            Status::Busy
                        };
                        report.active.push((arc(id), status));
                    }
                }
                // As the HTTP side builds it: one entry per session, sorted.
                report.active.sort_by(|a, b| a.0.cmp(&b.0));
                report.active.dedup_by(|a, b| a.0 == b.0);
                report
                    .pending
                    .sort_by(|a, b| (&a.session, &a.request).cmp(&(&b.session, &b.request)));
                report.pending.dedup();
                self.apply(Event::Resync { server, report });
            }
            "!outcome" => {
                let Some(id) = arg else { return };
                let outcome = match words.next() {
                    Some("f") => TurnOutcome::Finished,
                    Some("e") => TurnOutcome::Failed(ErrorInfo {
                        name: "APIError".into(),
                        message: "bad request".into(),
                    }),
                    Some("a") => TurnOutcome::Failed(ErrorInfo {
                        name: "MessageAbortedError".into(),
                        message: "Aborted".into(),
                    }),
                    _ => TurnOutcome::Interrupted,
                };
                self.apply(Event::Outcome {
                    server,
                    session: arc(id),
                    outcome,
                });
            }
            "!missing" => {
                let Some(id) = arg else { return };
                self.apply(Event::Missing {
                    server,
                    session: arc(id),
                });
            }
            "!error" => {
                let Some(id) = arg else { return };
                self.apply(Event::SessionError {
                    server,
                    session: Some(arc(id)),
                    error: ErrorInfo {
                        name: words.next().unwrap_or("UnknownError").into(),
                        message: String::new(),
                    },
                });
            }
            "!seen" | "!mute" | "!unmute" => {
                let Some(q) = arg else { return };
                let target = if q == "*" {
                    Target::All
                } else {
                    match self.state.resolve(q) {
                        Ok(session) => Target::One { session },
                        Err(_) => return,
                    }
                };
                self.apply(match op {
                    "!seen" => Event::Seen { target },
                    muted => Event::Mute {
                        target,
                        muted: muted == "!mute",
                    },
                });
            }
            "!focus" => {
                let tui = arg.unwrap_or("1").to_owned();
                let session = words.next().filter(|s| *s != "-").map(arc);
                let focused = words.next() != Some("0");
                self.apply(Event::Focus {
                    tui,
                    session,
                    focused,
                });
            }
            "!restart" => self.restart(),
            _ => {}
        }
    }

    /// The daemon restarts: what it persists goes through JSON into a fresh model, then the
    /// servers are added again (not connected yet).
    fn restart(&mut self) {
        let saved = self.state.persisted();
        let json = serde_json::to_string(&saved).expect("persisted state serializes");
        let back: Persisted = serde_json::from_str(&json).expect("persisted state reads back");
        assert_eq!(
            back, saved,
            "persisted state does not round-trip through JSON"
        );
        let mut state = State::new(config());
        state.restore(back);
        let mut again = state.persisted();
        let mut want = saved;
        again.sessions.sort_by(|a, b| a.id.cmp(&b.id));
        want.sessions.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(again, want, "a restored model persists something else");
        self.state = state;
        self.prev = self.state.snapshot();
        self.prev_gen = self.state.generation();
        check_snapshot(&self.prev);
        for i in 0..SERVERS.len() {
            if self.added[i] {
                let server = self.servers[i].clone();
                self.apply(Event::ServerAdded { server });
            }
        }
    }
}

/// The `model` fuzz target.
pub fn run(data: &[u8]) {
    let mut d = Driver::new();
    let mut parser = SseParser::new(1 << 16);
    for line in data.split_inclusive(|&b| b == b'\n') {
        if d.applied >= MAX_EVENTS {
            break;
        }
        if line.first() == Some(&b'!') {
            if let Ok(text) = std::str::from_utf8(line) {
                d.op(text.trim_end());
            }
        } else {
            d.frames(&mut parser, line);
        }
    }
    let snap = d.state.snapshot();
    crate::bars::check_all_formats(&snap, &RenderConfig::default(), d.now);
}
