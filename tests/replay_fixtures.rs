//! Replay the event streams recorded from a real OpenCode 1.18.33 (tests/fixtures/*.sse)
//! through the same SSE parser, decoder and session model the daemon uses, and check what a
//! user would see at every step and at the end.

use std::collections::BTreeSet;
use std::path::PathBuf;

use ocbar::daemon::replay::events_from;
use ocbar::model::effect::{Effect, NotifyKind};
use ocbar::model::{ModelConfig, State};
use ocbar::server_url::ServerUrl;
use ocbar::wire::snapshot::{SessionState, Snapshot};

/// What one replay produced.
struct Run {
    final_snap: Snapshot,
    /// Every snapshot after an event that changed something.
    history: Vec<Snapshot>,
    notifications: Vec<(NotifyKind, String)>,
}

fn replay(name: &str) -> Run {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.sse"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let server: ServerUrl = ServerUrl::from("http://127.0.0.1:4096");
    let r = events_from(&server, &bytes);
    assert_eq!(r.invalid, 0, "{name}: every real frame decodes");
    assert!(r.noise > 0, "{name}: the recording has its noise");
    let mut state = State::new(ModelConfig::default());
    let mut now = 1_800_000_000_000i64;
    let mut history = Vec::new();
    let mut notifications = Vec::new();
    let mut generation = state.generation();
    for ev in r.events {
        now += 10;
        for fx in state.apply(ev, now) {
            if let Effect::Notify(n) = fx {
                notifications.push((n.kind, n.title.clone()));
            }
        }
        if state.generation() != generation {
            generation = state.generation();
            history.push(state.snapshot());
        }
    }
    Run {
        final_snap: state.snapshot(),
        history,
        notifications,
    }
}

impl Run {
    fn state(&self, title: &str) -> SessionState {
        self.final_snap
            .sessions
            .iter()
            .find(|s| &*s.title == title)
            .unwrap_or_else(|| panic!("no session '{title}' in {:#?}", self.final_snap.sessions))
            .state
    }
    fn states_seen(&self, title: &str) -> BTreeSet<SessionState> {
        self.history
            .iter()
            .flat_map(|s| {
                s.sessions
                    .iter()
                    .filter(|s| &*s.title == title)
                    .map(|s| s.state)
            })
            .collect()
    }
    fn notified(&self, kind: NotifyKind, title: &str) -> usize {
        self.notifications
            .iter()
            .filter(|(k, t)| *k == kind && t == title)
            .count()
    }
}

#[test]
fn normal_turn_is_done_once_and_renamed() {
    let r = replay("normal_turn");
    assert_eq!(r.state("Normal turn"), SessionState::Done);
    let s = &r.final_snap.sessions[0];
    assert!(s.unvisited);
    assert_eq!(s.model.as_deref(), Some("fake/fake-model"));
    assert_eq!(s.agent.as_deref(), Some("build"));
    assert_eq!(
        r.notified(NotifyKind::Done, "Normal turn"),
        1,
        "{:?}",
        r.notifications
    );
    assert_eq!(r.notifications.len(), 1);
}

#[test]
fn slow_turn_is_busy_then_done() {
    let r = replay("slow_turn");
    assert!(r.states_seen("Slow turn").contains(&SessionState::Busy));
    assert_eq!(r.state("Slow turn"), SessionState::Done);
    assert_eq!(r.notified(NotifyKind::Done, "Slow turn"), 1);
}

#[test]
fn retry_shows_attempts_then_done() {
    let r = replay("retry");
    let attempts: BTreeSet<u32> = r
        .history
        .iter()
        .flat_map(|s| s.sessions.iter().filter_map(|s| s.attempt))
        .collect();
    assert_eq!(attempts, BTreeSet::from([1, 2]));
    assert!(
        r.history
            .iter()
            .flat_map(|s| &s.sessions)
            .filter(|s| s.state == SessionState::Retry)
            .all(|s| s.retry_next_ms.is_some()
                && s.message.as_deref().is_some_and(|m| !m.is_empty()))
    );
    assert_eq!(r.state("Retry twice"), SessionState::Done);
    assert_eq!(
        r.notified(NotifyKind::Retry, "Retry twice"),
        1,
        "once per turn"
    );
    assert_eq!(r.notified(NotifyKind::Done, "Retry twice"), 1);
}

#[test]
fn fatal_error_is_error_once_despite_the_double_idle() {
    let r = replay("fatal_error");
    assert_eq!(r.state("Fatal error"), SessionState::Error);
    let s = &r.final_snap.sessions[0];
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("fake fatal")),
        "{s:?}"
    );
    assert_eq!(r.notified(NotifyKind::Error, "Fatal error"), 1);
    assert_eq!(r.notifications.len(), 1, "{:?}", r.notifications);
}

#[test]
fn user_abort_is_aborted_not_done() {
    let r = replay("user_abort");
    assert_eq!(r.state("User abort"), SessionState::Aborted);
    assert_eq!(r.notified(NotifyKind::Done, "User abort"), 0);
    assert_eq!(r.notified(NotifyKind::Aborted, "User abort"), 1);
}

#[test]
fn an_abort_before_the_model_answered_is_aborted_too() {
    // No session.error here: only the assistant message carries MessageAbortedError.
    let r = replay("abort_before_stream");
    assert_eq!(r.state("Early abort"), SessionState::Aborted);
    assert_eq!(r.notified(NotifyKind::Done, "Early abort"), 0);
}

#[test]
fn permission_waits_then_finishes() {
    let r = replay("permission_replied");
    let seen = r.states_seen("Permission asked");
    assert!(seen.contains(&SessionState::Waiting), "{seen:?}");
    assert_eq!(r.state("Permission asked"), SessionState::Done);
    assert_eq!(r.notified(NotifyKind::Waiting, "Permission asked"), 1);
}

#[test]
fn questions_wait_then_finish_whether_answered_or_dismissed() {
    for (file, title) in [
        ("question_replied", "Question replied"),
        ("question_rejected", "Question rejected"),
    ] {
        let r = replay(file);
        assert!(
            r.states_seen(title).contains(&SessionState::Waiting),
            "{file}"
        );
        assert_eq!(r.state(title), SessionState::Done, "{file}");
        assert_eq!(r.notified(NotifyKind::Waiting, title), 1, "{file}");
    }
}

#[test]
fn a_subagent_folds_into_its_parent() {
    let r = replay("subagent");
    let parent_title = "Sub agent parent";
    let child_title = "child job (@general subagent)";
    let max_children = r
        .history
        .iter()
        .flat_map(|s| s.sessions.iter().filter(|s| &*s.title == parent_title))
        .map(|s| s.children_active)
        .max();
    assert_eq!(max_children, Some(1));
    for snap in &r.history {
        let roots_busy = snap
            .sessions
            .iter()
            .filter(|s| s.parent_id.is_none() && s.state == SessionState::Busy)
            .count() as u32;
        assert_eq!(snap.counts.busy, roots_busy, "children are never counted");
    }
    let child = r
        .final_snap
        .sessions
        .iter()
        .find(|s| &*s.title == child_title)
        .expect("child listed");
    let parent = r
        .final_snap
        .sessions
        .iter()
        .find(|s| &*s.title == parent_title)
        .expect("parent listed");
    assert_eq!(child.parent_id.as_deref(), Some(&*parent.id));
    assert_eq!(parent.state, SessionState::Done);
    assert_eq!(r.final_snap.counts.done, 1, "only the parent counts");
    assert_eq!(r.notified(NotifyKind::Done, parent_title), 1);
    // The child's own "done" is emitted marked as a child; the notifier drops it by default.
    let done_order: Vec<&str> = r
        .notifications
        .iter()
        .filter(|(k, _)| *k == NotifyKind::Done)
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(done_order.last(), Some(&parent_title), "{done_order:?}");
}

#[test]
fn two_directories_on_one_stream() {
    let r = replay("two_directories");
    let a = r
        .final_snap
        .sessions
        .iter()
        .find(|s| &*s.title == "Dir A work")
        .unwrap();
    let b = r
        .final_snap
        .sessions
        .iter()
        .find(|s| &*s.title == "Dir B work")
        .unwrap();
    assert_eq!(a.state, SessionState::Done);
    assert_eq!(b.state, SessionState::Error);
    assert!(a.directory.ends_with("proj-a"), "{}", a.directory);
    assert!(b.directory.ends_with("proj-b"), "{}", b.directory);
    assert_eq!(r.final_snap.counts.unvisited, 2);
}
