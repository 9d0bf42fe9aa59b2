//! The panel (`ocbar list`, waybar's tooltip): one relevant top-level session per line.
//!
//! ```text
//! ● ✓ done    Fix the login bug      3m ago    anthropic/claude-sonnet-4  build
//!   ↻ retry   Research rate limits   12s ago   attempt 3, next in 12s (rate limited)  +2 sub-agents
//! ```
//! Columns: the unvisited mark, the state glyph and word, the title (cut to
//! `panel_title_width`, padded to the longest shown), then last activity and, when known, the
//! retry attempt and countdown or the error message, `on HOST` for a remote machine's session,
//! `unreachable` when the session's server (or the link to its machine) is gone or not connected, active sub-agents, `muted` for a session `ocbar mute` silenced,
//! model and agent.
//! Servers and remote machines that are not connected get a line each before the sessions; when nothing is relevant
//! the panel says so in one line. Lines are separated by `\n`, with no newline at the end.

use std::fmt::Write;

use super::RenderConfig;
use super::format::{push_ago, push_duration};
use super::glyph::Glyphs;
use super::markup::Markup;
use super::segment::title;
use crate::wire::snapshot::{SessionState, Snapshot};

/// The line shown when no session is relevant.
pub const NOTHING: &str = "No active or recently finished sessions.";

/// Longest retry or error message shown, in characters.
const MESSAGE_WIDTH: usize = 60;

/// Write the panel into `out`.
pub fn write_panel<M: Markup>(
    out: &mut String,
    m: &M,
    snap: &Snapshot,
    now_ms: i64,
    cfg: &RenderConfig,
) {
    let g = Glyphs::new(cfg.glyph_set(), &cfg.glyphs);
    let start = out.len();
    let newline = |out: &mut String| {
        if out.len() > start {
            out.push('\n');
        }
    };

    if snap.offline() {
        let color = cfg.colors.unknown;
        m.open(out, color, false);
        m.push_data(out, g.offline(), 0);
        m.close(out, color, false);
        out.push_str(" No OpenCode server connected: ");
        let names = snap.servers.iter().map(|s| s.url.as_str());
        let hosts = snap.remotes.iter().map(|r| &*r.host);
        for (i, name) in names.chain(hosts).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            m.push_data(out, name, 0);
        }
    } else {
        for r in snap.remotes.iter().filter(|r| !r.connected) {
            newline(out);
            push_unknown(
                out,
                m,
                &g,
                cfg,
                &r.host,
                ": not connected over ssh, states unknown",
            );
        }
        for s in snap.servers.iter().filter(|s| s.stale || !s.connected) {
            newline(out);
            let what = if s.connected {
                ": catching up, states unknown"
            } else {
                ": not connected, states unknown"
            };
            push_unknown(out, m, &g, cfg, &s.url, what);
        }
    }

    let limit = match cfg.panel_title_width {
        0 => usize::MAX,
        w => w,
    };
    let Some(width) = snap
        .roots()
        .map(|s| crate::text::clean_len(title(s), limit))
        .max()
    else {
        if !snap.offline() {
            newline(out);
            out.push_str(NOTHING);
        }
        return;
    };

    for s in snap.roots() {
        newline(out);
        let st = s.state;
        let unvisited = s.unvisited;
        let color = cfg.colors.state(st);

        if unvisited {
            let c = cfg.colors.unvisited;
            m.open(out, c, true);
            m.push_data(out, g.unvisited(), 0);
            m.close(out, c, true);
        } else {
            out.push(' ');
        }
        out.push(' ');
        m.open(out, color, false);
        m.push_data(out, g.state(st), 0);
        let _ = write!(out, " {:<7}", st.as_str());
        m.close(out, color, false);
        out.push(' ');

        let t = title(s);
        let shown = crate::text::clean_len(t, width);
        m.open(out, color, unvisited);
        m.push_data(out, t, cfg.panel_title_width);
        m.close(out, color, unvisited);
        pad(out, width - shown.min(width));

        out.push_str("  ");
        let before = out.len();
        push_ago(out, now_ms, s.last_activity_ms);
        let ago_len = out.len() - before;

        let mut details = Details {
            out,
            pending_pad: 8usize.saturating_sub(ago_len),
        };
        match st {
            SessionState::Retry => {
                let o = details.next();
                if let Some(a) = s.attempt {
                    let _ = write!(o, "attempt {a}");
                } else {
                    o.push_str("retrying");
                }
                match s.retry_next_ms {
                    Some(t) if t > now_ms => {
                        o.push_str(", next in ");
                        push_duration(o, t - now_ms);
                    }
                    Some(_) => o.push_str(", due now"),
                    None => {}
                }
                if let Some(msg) = s.message.as_deref().filter(|t| !crate::text::is_blank(t)) {
                    o.push_str(" (");
                    m.push_data(o, msg, MESSAGE_WIDTH);
                    o.push(')');
                }
            }
            SessionState::Error => {
                if let Some(msg) = s.message.as_deref().filter(|t| !crate::text::is_blank(t)) {
                    m.push_data(details.next(), msg, MESSAGE_WIDTH);
                }
            }
            _ => {}
        }
        if let Some(host) = &s.host {
            // A remote machine's session (`--remote HOST`): where it runs.
            let o = details.next();
            o.push_str("on ");
            m.push_data(o, host, 0);
        }
        if !s.reachable {
            // Its server is gone or not connected: `open` may have to go through another TUI.
            details.next().push_str("unreachable");
        }
        if s.children_active > 0 {
            let n = s.children_active;
            let _ = write!(
                details.next(),
                "+{n} sub-agent{}",
                if n == 1 { "" } else { "s" }
            );
        }
        if s.muted {
            details.next().push_str("muted");
        }
        for v in [&s.model, &s.agent].into_iter().flatten() {
            if !crate::text::is_blank(v) {
                m.push_data(details.next(), v, 0);
            }
        }
    }
}

/// A line about a server or remote machine whose sessions' states are unknown: the unknown
/// glyph, its name (from data), then `what`.
fn push_unknown<M: Markup>(
    out: &mut String,
    m: &M,
    g: &Glyphs,
    cfg: &RenderConfig,
    name: &str,
    what: &str,
) {
    let color = cfg.colors.unknown;
    m.open(out, color, false);
    m.push_data(out, g.state(SessionState::Unknown), 0);
    m.close(out, color, false);
    out.push(' ');
    m.push_data(out, name, 0);
    out.push_str(what);
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Columns after the last activity, two spaces apart; the activity column is padded only
/// when something follows it, so lines never end in spaces.
struct Details<'o> {
    out: &'o mut String,
    pending_pad: usize,
}

impl Details<'_> {
    fn next(&mut self) -> &mut String {
        pad(self.out, self.pending_pad + 2);
        self.pending_pad = 0;
        self.out
    }
}
