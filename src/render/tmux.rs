//! tmux: the segment with `#[fg=…]` styles, for `#{@ocbar}` and `#(ocbar status --format tmux)`.
//!
//! tmux parses a `#()` job's output as a format, so every `#` coming from data is doubled and
//! control characters never get through; the output is one line (tmux only keeps the last).
//!
//! The segment is drawn on its own background (`[render.colors] tmux_bg`, black by default,
//! with `tmux_fg` for text without a state colour): tmux's default status line is green, on
//! which the green of `done` would vanish, and a user's own `status-style` can be any colour.
//! After the segment, `#[default]` gives the rest of the status line its own style back.
//!
//! A notice (the tmux notification channel's text, shown for `[notify] display_ms`) is drawn
//! before the segment with its kind's glyph, in its kind's colour reversed, so it stands out
//! without stopping the screen as `display-message` does.

use super::color::Color;
use super::glyph::Glyphs;
use super::markup::{Markup, Tmux};
use super::segment::write_segment;
use super::{Format, RenderConfig};
use crate::wire::snapshot::{SessionState, Snapshot};

/// Characters of a notice shown in the status line; longer ones are cut with `…`.
pub const NOTICE_WIDTH: usize = 60;

/// The segment alone.
pub fn render(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    render_with_notice(snap, now_ms, cfg, None)
}

/// The segment, with `notice` (text, and the state whose colour it takes) before it.
pub fn render_with_notice(
    snap: &Snapshot,
    now_ms: i64,
    cfg: &RenderConfig,
    notice: Option<(&str, SessionState)>,
) -> String {
    let mut out = String::new();
    let color = !cfg.no_color;
    let (bg, fg) = (cfg.colors.tmux_bg, cfg.colors.tmux_fg);
    let own_bg = color && bg.is_set();
    if let Some((text, state)) = notice {
        write_notice(&mut out, text, state, cfg);
    }
    let m = Tmux {
        color,
        base: if own_bg { fg } else { Color::Default },
    };
    let before = out.len();
    if own_bg {
        out.push_str("#[fg=");
        push_color(&mut out, fg);
        out.push_str(",bg=");
        bg.write_tmux(&mut out);
        out.push_str("] ");
    }
    let start = out.len();
    write_segment(
        &mut out,
        &m,
        cfg.template.for_format(Format::Tmux),
        snap,
        now_ms,
        cfg,
    );
    if out.len() == start {
        out.truncate(before); // nothing to show: no empty box either
        if before > 0 {
            out.truncate(before - 1); // the space after the notice
        }
    } else if own_bg {
        out.push_str(" #[default]");
    }
    out
}

/// ` glyph text ` in the kind's colour, reversed (`#[fg=<segment bg>,bg=<colour>]`), then one space.
fn write_notice(out: &mut String, text: &str, state: SessionState, cfg: &RenderConfig) {
    let color = cfg.colors.state(state);
    if cfg.no_color || !color.is_set() {
        out.push_str("#[reverse,bold] ");
    } else {
        out.push_str("#[fg=");
        let bg = cfg.colors.tmux_bg;
        push_color(out, if bg.is_set() { bg } else { Color::BLACK });
        out.push_str(",bg=");
        color.write_tmux(out);
        out.push_str(",bold] ");
    }
    let m = Tmux {
        color: false,
        base: Color::Default,
    };
    let glyph = Glyphs::new(cfg.glyph_set(), &cfg.glyphs).state(state);
    if !glyph.is_empty() {
        m.push_data(out, glyph, 0);
        out.push(' ');
    }
    m.push_data(out, text, NOTICE_WIDTH);
    out.push_str(" #[default] ");
}

/// `c` in tmux's spelling, `default` for [`Color::Default`].
fn push_color(out: &mut String, c: Color) {
    if c.is_set() {
        c.write_tmux(out);
    } else {
        out.push_str("default");
    }
}
