//! Client conveniences for bars: `ocbar open --newest-unvisited`, a bar's on-click.
//!
//! Runs on the synchronous client path: one `status json` request, then one `open` request for
//! the session the bars highlight (the unvisited finished top-level session with the latest
//! activity: the title shown by every segment).

use std::path::Path;
use std::process::ExitCode;

use crate::client;
use crate::wire::snapshot::Snapshot;
use crate::wire::{Action, Format, Request};

/// `ocbar open --newest-unvisited`: open that session; with none, say so and exit 0 (a click
/// on a bar with nothing unvisited is not an error).
pub fn open_newest_unvisited(socket: &Path) -> ExitCode {
    let json = match client::request(socket, &Request::Status(Format::Json.into())) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("ocbar: {e}");
            return ExitCode::FAILURE;
        }
    };
    let snap: Snapshot = match serde_json::from_str(&json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ocbar: the daemon sent a snapshot this client cannot read: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(s) = snap.newest_unvisited() else {
        eprintln!("ocbar: no unvisited session");
        return ExitCode::SUCCESS;
    };
    client::run(socket, Request::Action(Action::Open(s.qualified_id())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::snapshot::SessionState;
    use crate::wire::snapshot::SessionView;

    fn session(id: &str, state: SessionState, unvisited: bool, at: i64) -> SessionView {
        SessionView {
            id: id.into(),
            server: "http://s".into(),
            reachable: true,
            directory: "/d".into(),
            title: id.into(),
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

    #[test]
    fn picks_the_newest_unvisited_finished_top_level_session() {
        let mut child = session("child", SessionState::Done, true, 50);
        child.parent_id = Some("old".into());
        let snap = Snapshot {
            sessions: vec![
                session("busy", SessionState::Busy, false, 40),
                child,
                session("seen", SessionState::Done, false, 30),
                session("old", SessionState::Error, true, 10),
                session("new", SessionState::Aborted, true, 20),
            ],
            ..Snapshot::default()
        };
        assert_eq!(snap.newest_unvisited().map(|s| &*s.id), Some("new"));
        assert!(Snapshot::default().newest_unvisited().is_none());
    }
}
