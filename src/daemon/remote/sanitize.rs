//! What a host sends passes the same cleaner and limits as any server input: a hostile dev box
//! can neither put escapes into this machine's bars and notifications nor grow its memory.

use std::sync::Arc;

use crate::text::one_line;
use crate::wire::snapshot::{SessionView, Snapshot};

/// Most sessions kept of one host (newest activity first); more are dropped.
pub const MAX_REMOTE_SESSIONS: usize = 2000;

/// Longest title, directory or message kept, in characters.
const MAX_TEXT: usize = 1024;
/// Longest id, model, agent or server address kept, in characters.
const MAX_NAME: usize = 256;

/// The host's snapshot, cleaned and bounded: its own sessions only (a dev box that follows
/// remotes itself does not pass them on), each text one clean line of bounded length, ids
/// without blanks or controls.
pub fn sanitize(snapshot: Snapshot) -> Snapshot {
    let mut sessions: Vec<SessionView> = snapshot
        .sessions
        .into_iter()
        .filter(|s| s.host.is_none())
        .filter_map(clean_session)
        .collect();
    sessions.sort_by_key(|s| std::cmp::Reverse(s.last_activity_ms));
    sessions.truncate(MAX_REMOTE_SESSIONS);
    Snapshot {
        sessions,
        ..Snapshot::default()
    }
}

fn clean_session(s: SessionView) -> Option<SessionView> {
    let id = clean_id(&s.id)?;
    let text = |t: &str, max| Arc::<str>::from(one_line(t, max));
    let opt = |t: Option<Arc<str>>, max| t.map(|t| text(&t, max)).filter(|t| !t.is_empty());
    Some(SessionView {
        id,
        server: one_line(&s.server, MAX_NAME).into(),
        directory: text(&s.directory, MAX_TEXT),
        title: text(&s.title, MAX_TEXT),
        message: opt(s.message, MAX_TEXT),
        model: opt(s.model, MAX_NAME),
        agent: opt(s.agent, MAX_NAME),
        parent_id: s.parent_id.as_deref().and_then(clean_id),
        ..s
    })
}

/// A session id as it may be used in a command (`HOST:ID`): no blanks, no controls, bounded.
fn clean_id(raw: &str) -> Option<Arc<str>> {
    let ok = !raw.is_empty()
        && raw.chars().count() <= MAX_NAME
        && !raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\u{202e}');
    ok.then(|| Arc::from(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::snapshot::SessionState;

    #[test]
    fn hostile_text_is_cleaned_and_bounded() {
        let json = format!(
            r#"{{"version":1,"servers":[],"counts":{{"busy":0,"retry":0,"waiting":0,"done":0,"error":0,"aborted":0,"unvisited":0}},"sessions":[
            {{"id":"ses_ok","server":"http://x\u001b[2J","directory":"/p\n","title":"\u202eevil #[fg=red]\u001b]0;pwn\u0007{}","state":"done","attempt":null,"retry_next_ms":null,"message":null,"model":null,"agent":null,"last_activity_ms":5,"unvisited":true,"parent_id":"bad id","children_active":0}},
            {{"id":"ses bad","server":"http://x","directory":"/p","title":"t","state":"busy","attempt":null,"retry_next_ms":null,"message":null,"model":null,"agent":null,"last_activity_ms":5,"unvisited":false,"parent_id":null,"children_active":0}},
            {{"id":"ses_far","server":"http://x","directory":"/p","title":"t","state":"busy","attempt":null,"retry_next_ms":null,"message":null,"model":null,"agent":null,"last_activity_ms":5,"unvisited":false,"parent_id":null,"children_active":0,"host":"third"}}
            ]}}"#,
            "x".repeat(5000)
        );
        let snap: Snapshot = serde_json::from_str(&json).unwrap();
        let clean = sanitize(snap);
        assert_eq!(
            clean.sessions.len(),
            1,
            "bad ids and another host's sessions dropped"
        );
        let s = &clean.sessions[0];
        assert_eq!(s.state, SessionState::Done);
        assert!(s.title.starts_with("evil #[fg=red] ]0;pwn"), "{}", s.title);
        assert!(s.title.chars().count() <= MAX_TEXT);
        assert!(!s.title.chars().any(|c| c.is_control() || c == '\u{202e}'));
        assert_eq!(&*s.directory, "/p");
        assert_eq!(s.parent_id, None);
        assert!(!s.server.contains('\x1b'));
    }
}
