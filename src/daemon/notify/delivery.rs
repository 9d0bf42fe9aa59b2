//! What the channels send: one notification, or a summary of several that arrived together.
//! Pure: texts, severity, toast variants, desktop urgencies, sanitizing.

use std::collections::HashMap;

use crate::model::effect::{Notification, NotifyKind};
use crate::text::one_line;

/// Longest session title shown, in characters.
const MAX_TITLE: usize = 60;
/// Longest error/retry/question message shown, in characters.
const MAX_MESSAGE: usize = 200;

/// How much a kind asks for attention; higher first in summaries.
pub fn severity(kind: NotifyKind) -> u8 {
    match kind {
        NotifyKind::Error => 4,
        NotifyKind::Waiting => 3,
        NotifyKind::Retry => 2,
        NotifyKind::Done => 1,
        NotifyKind::Aborted => 0,
    }
}

/// The OpenCode toast variant for a kind.
pub fn toast_variant(kind: NotifyKind) -> &'static str {
    match kind {
        NotifyKind::Done => "success",
        NotifyKind::Error => "error",
        NotifyKind::Retry => "warning",
        NotifyKind::Waiting | NotifyKind::Aborted => "info",
    }
}

/// The freedesktop urgency hint: 1 normal, 2 critical.
pub fn urgency(kind: NotifyKind) -> u8 {
    match kind {
        NotifyKind::Error | NotifyKind::Waiting => 2,
        NotifyKind::Done | NotifyKind::Retry | NotifyKind::Aborted => 1,
    }
}

/// The freedesktop sound theme name for a kind (the `sound-name` hint, and `OCBAR_SOUND` for
/// the sound command): names every sound theme has.
pub fn sound_name(kind: NotifyKind) -> &'static str {
    match kind {
        NotifyKind::Done => "complete",
        NotifyKind::Error => "dialog-error",
        NotifyKind::Retry | NotifyKind::Aborted => "dialog-warning",
        NotifyKind::Waiting => "dialog-question",
    }
}

/// The word for a session in this state, in a sentence after its title.
fn verb(kind: NotifyKind) -> &'static str {
    match kind {
        NotifyKind::Done => "finished",
        NotifyKind::Error => "failed",
        NotifyKind::Aborted => "was aborted",
        NotifyKind::Retry => "is retrying",
        NotifyKind::Waiting => "is waiting for you",
    }
}

/// The word for several sessions in this state.
fn verb_plural(kind: NotifyKind) -> &'static str {
    match kind {
        NotifyKind::Done => "finished",
        NotifyKind::Error => "failed",
        NotifyKind::Aborted => "aborted",
        NotifyKind::Retry => "retrying",
        NotifyKind::Waiting => "waiting",
    }
}

/// The session's title for display: sanitized, never empty, marked when it is a sub-agent,
/// and naming the machine it runs on when that is not this one.
pub fn display_title(n: &Notification) -> String {
    let mut t = one_line(&n.title, MAX_TITLE);
    if t.is_empty() {
        t = one_line(&n.session, MAX_TITLE);
    }
    if n.child {
        t.push_str(" (sub-agent)");
    }
    if let Some(host) = &n.host {
        t.push_str(" on ");
        t.push_str(&one_line(host, MAX_TITLE));
    }
    t
}

/// The message carried by the notification, sanitized; `None` when empty.
pub fn display_message(n: &Notification) -> Option<String> {
    n.message
        .as_deref()
        .map(|m| one_line(m, MAX_MESSAGE))
        .filter(|m| !m.is_empty())
}

/// One sentence about one session: "fix login failed: rate limited".
pub fn sentence(n: &Notification) -> String {
    let mut s = format!("{} {}", display_title(n), verb(n.kind));
    if n.kind != NotifyKind::Done
        && let Some(m) = display_message(n)
    {
        s.push_str(": ");
        s.push_str(&m);
    }
    s
}

/// What the channels deliver: notifications that arrived within one summary window,
/// one per session (the latest wins), most urgent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    items: Vec<Notification>,
}

impl Delivery {
    /// Coalesce a batch; `None` when it is empty.
    pub fn new(batch: Vec<Notification>) -> Option<Delivery> {
        // Keep the latest notification per session (its id: wherever it runs now), at the
        // position of the latest.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, n) in batch.iter().enumerate() {
            last.insert(&n.session, i);
        }
        let keep: Vec<bool> = batch
            .iter()
            .enumerate()
            .map(|(i, n)| last.get(&*n.session) == Some(&i))
            .collect();
        let mut items: Vec<Notification> = batch
            .into_iter()
            .zip(keep)
            .filter_map(|(n, k)| k.then_some(n))
            .collect();
        if items.is_empty() {
            return None;
        }
        // Stable: arrival order within one kind.
        items.sort_by_key(|n| std::cmp::Reverse(severity(n.kind)));
        Some(Delivery { items })
    }

    /// A delivery of exactly one notification.
    pub fn single(n: Notification) -> Delivery {
        Delivery { items: vec![n] }
    }

    /// The notifications, most urgent first. Never empty.
    pub fn items(&self) -> &[Notification] {
        &self.items
    }

    /// The most urgent notification.
    pub fn lead(&self) -> &Notification {
        &self.items[0]
    }

    /// The most urgent kind.
    pub fn kind(&self) -> NotifyKind {
        self.lead().kind
    }

    /// More than one session.
    pub fn is_summary(&self) -> bool {
        self.items.len() > 1
    }

    /// The part of this delivery whose items satisfy `keep` (e.g. one server's sessions).
    pub fn subset(&self, keep: impl Fn(&Notification) -> bool) -> Option<Delivery> {
        let items: Vec<Notification> = self.items.iter().filter(|n| keep(n)).cloned().collect();
        (!items.is_empty()).then_some(Delivery { items })
    }

    /// Kinds present, most urgent first, each with its sessions' titles.
    fn groups(&self) -> Vec<(NotifyKind, Vec<String>)> {
        let mut groups: Vec<(NotifyKind, Vec<String>)> = Vec::new();
        for n in &self.items {
            let title = display_title(n);
            match groups.iter_mut().find(|(k, _)| *k == n.kind) {
                Some((_, titles)) => titles.push(title),
                None => groups.push((n.kind, vec![title])),
            }
        }
        groups
    }

    /// A short line: "fix login finished", "3 sessions finished", "3 sessions: 1 failed, 2 finished".
    pub fn headline(&self) -> String {
        if !self.is_summary() {
            return format!("{} {}", display_title(self.lead()), verb(self.kind()));
        }
        let groups = self.groups();
        let n = self.items.len();
        if let [(kind, _)] = groups.as_slice() {
            return format!("{n} sessions {}", verb_plural(*kind));
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(k, t)| format!("{} {}", t.len(), verb_plural(*k)))
            .collect();
        format!("{n} sessions: {}", parts.join(", "))
    }

    /// The full sentence: "fix login failed: rate limited", "3 sessions finished: a, b, c",
    /// "3 sessions: 1 failed (c), 2 finished (a, b)".
    pub fn text(&self) -> String {
        if !self.is_summary() {
            return sentence(self.lead());
        }
        let groups = self.groups();
        let n = self.items.len();
        if let [(kind, titles)] = groups.as_slice() {
            return format!("{n} sessions {}: {}", verb_plural(*kind), titles.join(", "));
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(k, t)| format!("{} {} ({})", t.len(), verb_plural(*k), t.join(", ")))
            .collect();
        format!("{n} sessions: {}", parts.join(", "))
    }

    /// The toast variant of the most urgent kind.
    pub fn variant(&self) -> &'static str {
        toast_variant(self.kind())
    }

    /// The sound of its most urgent session.
    pub fn sound_name(&self) -> &'static str {
        sound_name(self.lead().kind)
    }

    /// The highest urgency of the items.
    pub fn urgency(&self) -> u8 {
        self.items
            .iter()
            .map(|n| urgency(n.kind))
            .max()
            .unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: NotifyKind, session: &str, title: &str) -> Notification {
        Notification::sample(kind, session, title)
    }

    #[test]
    fn variants_and_urgencies() {
        use NotifyKind::*;
        assert_eq!(toast_variant(Done), "success");
        assert_eq!(toast_variant(Error), "error");
        assert_eq!(toast_variant(Retry), "warning");
        assert_eq!(toast_variant(Waiting), "info");
        assert_eq!(toast_variant(Aborted), "info");
        assert_eq!(urgency(Done), 1);
        assert_eq!(urgency(Retry), 1);
        assert_eq!(urgency(Error), 2);
        assert_eq!(urgency(Waiting), 2);
    }

    #[test]
    fn a_hostile_title_reaches_the_notification_cleaned() {
        // Line breaks, terminal escapes and a bidi override (which would reorder the rest of
        // the notification's text) are all gone; the words stay.
        let n = Notification {
            message: Some("rate\u{2028}limited\x1b[2J".into()),
            ..note(NotifyKind::Error, "s", "\u{202e}fix\nlogin\x07\u{2066}")
        };
        let d = Delivery::single(n);
        assert_eq!(d.text(), "fix login failed: rate limited [2J");
        assert!(!d.text().chars().any(|c| c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)));
    }

    #[test]
    fn titles_fall_back_to_the_id_and_mark_children() {
        assert_eq!(
            display_title(&note(NotifyKind::Done, "ses_1", " \n")),
            "ses_1"
        );
        let child = Notification {
            child: true,
            ..note(NotifyKind::Done, "ses_1", "explore")
        };
        assert_eq!(display_title(&child), "explore (sub-agent)");
        let remote = Notification {
            host: Some("dev\x1b[2Jbox".into()),
            ..note(NotifyKind::Done, "ses_1", "fix")
        };
        assert_eq!(
            Delivery::single(remote).text(),
            "fix on dev [2Jbox finished"
        );
    }

    #[test]
    fn single_sentences() {
        let d = Delivery::single(note(NotifyKind::Done, "s", "fix login"));
        assert_eq!(d.text(), "fix login finished");
        assert_eq!(d.headline(), "fix login finished");
        let e = Notification {
            message: Some("rate\nlimited".into()),
            ..note(NotifyKind::Error, "s", "x")
        };
        assert_eq!(Delivery::single(e).text(), "x failed: rate limited");
        let w = Notification {
            message: Some("bash: rm -rf".into()),
            ..note(NotifyKind::Waiting, "s", "x")
        };
        assert_eq!(
            Delivery::single(w).text(),
            "x is waiting for you: bash: rm -rf"
        );
    }

    #[test]
    fn coalesces_same_kind_into_a_summary() {
        let d = Delivery::new(vec![
            note(NotifyKind::Done, "1", "a"),
            note(NotifyKind::Done, "2", "b"),
            note(NotifyKind::Done, "3", "c"),
        ])
        .unwrap();
        assert!(d.is_summary());
        assert_eq!(d.headline(), "3 sessions finished");
        assert_eq!(d.text(), "3 sessions finished: a, b, c");
        assert_eq!(d.variant(), "success");
        assert_eq!(d.urgency(), 1);
    }

    #[test]
    fn mixed_summary_puts_the_most_urgent_first() {
        let d = Delivery::new(vec![
            note(NotifyKind::Done, "1", "a"),
            note(NotifyKind::Error, "2", "b"),
            note(NotifyKind::Done, "3", "c"),
        ])
        .unwrap();
        assert_eq!(d.lead().session.as_ref(), "2");
        assert_eq!(d.headline(), "3 sessions: 1 failed, 2 finished");
        assert_eq!(d.text(), "3 sessions: 1 failed (b), 2 finished (a, c)");
        assert_eq!(d.variant(), "error");
        assert_eq!(d.urgency(), 2);
    }

    #[test]
    fn the_latest_notification_of_a_session_wins() {
        let d = Delivery::new(vec![
            note(NotifyKind::Retry, "1", "a"),
            note(NotifyKind::Done, "2", "b"),
            note(NotifyKind::Done, "1", "a"),
        ])
        .unwrap();
        assert_eq!(d.text(), "2 sessions finished: b, a");
        let one = Delivery::new(vec![
            note(NotifyKind::Retry, "1", "a"),
            note(NotifyKind::Error, "1", "a"),
        ])
        .unwrap();
        assert!(!one.is_summary());
        assert_eq!(one.kind(), NotifyKind::Error);
        // A session is its id: reported again from another server (OpenCode restarted on
        // another port), it is still one session, notified once.
        let moved = Notification {
            server: "http://other".into(),
            ..note(NotifyKind::Done, "1", "a")
        };
        let d = Delivery::new(vec![note(NotifyKind::Retry, "1", "a"), moved]).unwrap();
        assert!(!d.is_summary());
        assert_eq!(&*d.lead().server, "http://other");
    }

    #[test]
    fn empty_batch_is_nothing_and_subsets_work() {
        assert!(Delivery::new(vec![]).is_none());
        let other = Notification {
            server: "http://other".into(),
            ..note(NotifyKind::Done, "2", "b")
        };
        let d = Delivery::new(vec![note(NotifyKind::Done, "1", "a"), other]).unwrap();
        let sub = d.subset(|n| &*n.server == "http://other").unwrap();
        assert_eq!(sub.text(), "b finished");
        assert!(d.subset(|_| false).is_none());
    }
}
