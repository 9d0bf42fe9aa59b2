//! Shared set-up of the benchmarks: realistic frames (the load tool's generator) and models
//! with many sessions.
#![allow(dead_code)]

use std::sync::Arc;

use ocbar::model::event::{
    ErrorInfo, Event, InputKind, PendingInput, ResyncReport, SessionInfo, Status,
};
use ocbar::model::{ModelConfig, State};
use ocbar::server_url::ServerUrl;
use ocbar::wire::snapshot::Snapshot;

pub use ocbar_load::frames;

/// Epoch ms the benchmarks pretend it is.
pub const NOW: i64 = 1_795_463_700_000;

pub fn server() -> ServerUrl {
    ServerUrl::from("http://127.0.0.1:4096")
}

/// A model following one connected, resynced server with `n` relevant sessions in a realistic
/// spread of states: half busy, a quarter finished and unvisited (done, error, aborted), the
/// rest retrying, waiting, or finished and visited; every eighth one is a sub-agent.
pub fn model(n: usize) -> State {
    let server = server();
    let mut state = State::new(ModelConfig::default());
    state.apply(
        Event::ServerAdded {
            server: server.clone(),
        },
        NOW,
    );
    state.apply(
        Event::Connected {
            server: server.clone(),
        },
        NOW,
    );
    let sessions: Vec<SessionInfo> = (0..n)
        .map(|i| SessionInfo {
            id: Arc::from(frames::session_id(i)),
            directory: frames::directory(i).into(),
            title: frames::title(i).into(),
            parent_id: (i % 8 == 7).then(|| Arc::from(frames::session_id(i - 1))),
            agent: Some("build".into()),
            model: Some("anthropic/claude-sonnet-4-5".into()),
            updated_ms: NOW - 60_000 + i as i64,
        })
        .collect();
    let active = sessions
        .iter()
        .map(|s| (s.id.clone(), Status::Busy))
        .collect();
    state.apply(
        Event::Resync {
            server: server.clone(),
            report: ResyncReport {
                sessions,
                active,
                pending: Vec::new(),
                ..ResyncReport::default()
            },
        },
        NOW - 50_000,
    );
    for i in 0..n {
        let session: Arc<str> = Arc::from(frames::session_id(i));
        let at = NOW - 40_000 + i as i64;
        let status = |status| Event::Status {
            server: server.clone(),
            directory: frames::directory(i),
            session: session.clone(),
            status,
        };
        match i % 16 {
            0..=7 => {} // busy
            8 | 9 => {
                state.apply(status(Status::Idle), at); // done, unvisited
            }
            10 => {
                state.apply(
                    Event::SessionError {
                        server: server.clone(),
                        session: Some(session.clone()),
                        error: ErrorInfo {
                            name: "APIError".into(),
                            message: "bad request".into(),
                        },
                    },
                    at,
                );
                state.apply(status(Status::Idle), at);
            }
            11 => {
                state.apply(
                    status(Status::Retry {
                        attempt: 2,
                        message: "rate limited".into(),
                        next_ms: NOW + 12_000 + i as i64,
                    }),
                    at,
                );
            }
            12 => {
                state.apply(
                    Event::InputAsked {
                        server: server.clone(),
                        input: PendingInput {
                            session: session.clone(),
                            request: format!("per_{i}"),
                            kind: InputKind::Permission,
                        },
                    },
                    at,
                );
            }
            13 => {
                state.apply(status(Status::Idle), at);
                state.apply(
                    Event::Seen {
                        target: ocbar::model::event::Target::One {
                            session: session.clone(),
                        },
                    },
                    at,
                );
            }
            _ => {
                state.apply(status(Status::Idle), at);
            }
        }
    }
    state
}

/// The snapshot of [`model`]`(n)`.
pub fn snapshot(n: usize) -> Snapshot {
    model(n).snapshot()
}
