//! The compact segment every bar shows, written from a template, and the summary it reads.

use std::fmt::Write;

use super::RenderConfig;
use super::glyph::Glyphs;
use super::markup::Markup;
use super::template::{Piece, Placeholder, pieces};
use crate::wire::snapshot::{SessionState, SessionView, Snapshot};

/// What the segment needs, in one pass over the top-level sessions.
pub struct Summary<'a> {
    counts: [u32; 7],
    /// Top-level sessions marked unvisited (the snapshot's one definition, as `counts`).
    pub unvisited: u32,
    /// The retrying session whose next attempt is due first.
    pub retry_next: Option<&'a SessionView>,
    /// The unvisited finished session with the latest activity, and its state.
    pub newest_unvisited: Option<(&'a SessionView, SessionState)>,
}

fn index(s: SessionState) -> usize {
    match s {
        SessionState::Waiting => 0,
        SessionState::Retry => 1,
        SessionState::Busy => 2,
        SessionState::Error => 3,
        SessionState::Done => 4,
        SessionState::Aborted => 5,
        SessionState::Unknown => 6,
    }
}

/// States by urgency: waybar's `alt` is the first one present, its classes follow this order.
pub const BY_URGENCY: [SessionState; 7] = [
    SessionState::Waiting,
    SessionState::Error,
    SessionState::Retry,
    SessionState::Busy,
    SessionState::Done,
    SessionState::Aborted,
    SessionState::Unknown,
];

impl<'a> Summary<'a> {
    pub fn new(snap: &'a Snapshot) -> Self {
        let mut sum = Summary {
            counts: [0; 7],
            unvisited: 0,
            retry_next: None,
            newest_unvisited: None,
        };
        for s in snap.roots() {
            let st = s.state;
            sum.counts[index(st)] += 1;
            if st == SessionState::Retry {
                let due = |v: &SessionView| v.retry_next_ms.unwrap_or(i64::MAX);
                if sum.retry_next.is_none_or(|r| due(s) < due(r)) {
                    sum.retry_next = Some(s);
                }
            }
            if s.unvisited {
                sum.unvisited += 1;
            }
        }
        sum.newest_unvisited = snap.newest_unvisited().map(|s| (s, s.state));
        sum
    }

    /// Top-level sessions in `state`.
    pub fn count(&self, state: SessionState) -> u32 {
        self.counts[index(state)]
    }
}

/// A session's title for display: its id when the title is blank.
pub fn title(s: &SessionView) -> &str {
    if crate::text::is_blank(&s.title) {
        &s.id
    } else {
        &s.title
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Gap {
    None,
    /// After an expansion: a space only if another expansion follows.
    Soft,
    /// A literal space: a space if anything follows.
    Hard,
}

/// One line being written from a template.
struct Line<'o, M> {
    out: &'o mut String,
    m: &'o M,
    start: usize,
    gap: Gap,
    any: bool,
}

impl<M: Markup> Line<'_, M> {
    fn literal(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                if self.out.len() > self.start {
                    self.gap = Gap::Hard;
                }
            } else if !c.is_control() {
                if self.gap == Gap::Hard {
                    self.out.push(' ');
                }
                self.gap = Gap::None;
                self.out.push(c);
            }
        }
    }

    fn begin(&mut self) -> &mut String {
        if self.gap != Gap::None {
            self.out.push(' ');
        }
        self.gap = Gap::None;
        self.any = true;
        self.out
    }

    fn end(&mut self) {
        if self.gap == Gap::None {
            self.gap = Gap::Soft;
        }
    }

    fn finish(self) {
        if !self.any {
            self.out.truncate(self.start);
        }
    }
}

/// Write the segment for `template` into `out`.
pub fn write_segment<M: Markup>(
    out: &mut String,
    m: &M,
    template: &str,
    snap: &Snapshot,
    now_ms: i64,
    cfg: &RenderConfig,
) {
    let g = Glyphs::new(cfg.glyph_set(), &cfg.glyphs);
    if snap.offline() {
        write_offline(out, m, cfg, &g);
        return;
    }
    let sum = Summary::new(snap);
    let start = out.len();
    let mut line = Line {
        out,
        m,
        start,
        gap: Gap::None,
        any: false,
    };
    for piece in pieces(template) {
        match piece {
            Piece::Literal(s) | Piece::Unknown(s) | Piece::Unclosed(s) => line.literal(s),
            Piece::Placeholder(p) => expand(&mut line, p, &sum, now_ms, cfg, &g),
        }
    }
    line.finish();
}

fn expand<M: Markup>(
    line: &mut Line<'_, M>,
    p: Placeholder,
    sum: &Summary<'_>,
    now_ms: i64,
    cfg: &RenderConfig,
    g: &Glyphs<'_>,
) {
    let m = line.m;
    let count = |line: &mut Line<'_, M>, st: SessionState| {
        let n = sum.count(st);
        if n > 0 {
            let color = cfg.colors.state(st);
            let out = line.begin();
            m.open(out, color, false);
            m.push_data(out, g.state(st), 0);
            let _ = write!(out, "{n}");
            m.close(out, color, false);
            line.end();
        }
    };
    match p {
        Placeholder::Busy => count(line, SessionState::Busy),
        Placeholder::Retry => count(line, SessionState::Retry),
        Placeholder::Waiting => count(line, SessionState::Waiting),
        Placeholder::Done => count(line, SessionState::Done),
        Placeholder::Error => count(line, SessionState::Error),
        Placeholder::Aborted => count(line, SessionState::Aborted),
        Placeholder::Unknown => count(line, SessionState::Unknown),
        Placeholder::RetryNext => {
            let Some(s) = sum.retry_next else { return };
            let due = s.retry_next_ms.filter(|&t| t > now_ms);
            if s.attempt.is_none() && due.is_none() {
                return;
            }
            let color = cfg.colors.retry;
            let out = line.begin();
            m.open(out, color, false);
            if let Some(a) = s.attempt {
                m.push_char(out, '#');
                let _ = write!(out, "{a}");
                if due.is_some() {
                    out.push(' ');
                }
            }
            if let Some(t) = due {
                super::format::push_duration(out, t - now_ms);
            }
            m.close(out, color, false);
            line.end();
        }
        Placeholder::Unvisited => {
            if sum.unvisited > 0 {
                let color = cfg.colors.unvisited;
                let out = line.begin();
                m.open(out, color, true);
                m.push_data(out, g.unvisited(), 0);
                let _ = write!(out, "{}", sum.unvisited);
                m.close(out, color, true);
                line.end();
            }
        }
        Placeholder::UnvisitedGlyph => {
            if let Some((_, st)) = sum.newest_unvisited {
                let color = cfg.colors.state(st);
                let out = line.begin();
                m.open(out, color, true);
                m.push_data(out, g.state(st), 0);
                m.close(out, color, true);
                line.end();
            }
        }
        Placeholder::UnvisitedTitle => {
            if let Some((s, st)) = sum.newest_unvisited {
                let color = cfg.colors.state(st);
                let out = line.begin();
                m.open(out, color, true);
                m.push_data(out, title(s), cfg.title_width);
                m.close(out, color, true);
                line.end();
            }
        }
        Placeholder::UnvisitedMore => {
            if sum.unvisited > 1 {
                let color = cfg.colors.unvisited;
                let out = line.begin();
                m.open(out, color, false);
                let _ = write!(out, "(+{})", sum.unvisited - 1);
                m.close(out, color, false);
                line.end();
            }
        }
    }
}

/// The offline marker: the configured one as bar markup (control characters dropped, trimmed),
/// or the built-in glyph in the unknown colour.
fn write_offline<M: Markup>(out: &mut String, m: &M, cfg: &RenderConfig, g: &Glyphs<'_>) {
    match &cfg.offline_marker {
        Some(marker) => out.extend(marker.trim().chars().filter(|c| !c.is_control())),
        None => {
            let color = cfg.colors.unknown;
            m.open(out, color, false);
            m.push_data(out, g.offline(), 0);
            m.close(out, color, false);
        }
    }
}
