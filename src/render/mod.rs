//! Renderers: pure functions from a snapshot to one bar's line.
//!
//! [`render`] writes the compact segment for a bar ([`Format`]); [`render_panel`] writes the
//! panel of `ocbar list`. Nothing here reads the clock, the environment or a file: the caller
//! passes `now_ms` and a [`RenderConfig`] (with `no_color` already decided from `NO_COLOR`).
//!
//! What a segment shows is a template (see [`template`] for the placeholders); by default:
//! the glyph and count of each state present among top-level sessions, the attempt and
//! countdown of the retry due soonest, then the glyph and title of the newest finished session
//! not yet opened (the primary signal, in bold), and how many more are unvisited:
//!
//! ```text
//! ◔1 ↻1 #3 12s ✓2 ✓ Fix the login bug (+1)          (the default, Unicode glyphs)
//! *1 r1 #3 12s +2 + Fix the login bug (+1)          (glyph_set = "ascii")
//! ```
//! Nothing relevant: an empty line, so the segment disappears. Servers configured but none
//! connected: the offline marker alone. Sessions of a stale server count as `unknown`, never as
//! finished. Sessions are counted from `sessions` (top-level only; sub-agents fold into their
//! parent), so every bar and the panel agree with each other.
//!
//! Every text from data is cleaned of control characters (see [`escape`]) and escaped for its
//! bar; bar outputs are always exactly one line.

pub mod color;
pub mod escape;
pub mod format;
pub mod glyph;
pub mod json;
pub mod markup;
pub mod panel;
pub mod plain;
pub mod segment;
pub mod starship;
pub mod template;
pub mod tmux;
pub mod waybar;

#[cfg(test)]
mod tests;

use serde::Deserialize;

pub use color::Color;
pub use glyph::{GlyphOverrides, GlyphSetName};
pub use template::{DEFAULT_TEMPLATE, Template, TemplateError};

use crate::wire::Format;
use crate::wire::snapshot::{SessionState, Snapshot};

/// How the panel is written (`ocbar list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelStyle {
    /// No escape sequences at all (a pipe, a file).
    Plain,
    /// SGR: colours unless `no_color`, bold for unvisited sessions (a terminal).
    Ansi,
}

/// The `[render]` table of the config file. Every field is optional; an unknown key is an error.
///
/// ```toml
/// [render]
/// title_width = 24          # characters of the unvisited title in a segment; 0: no limit
/// panel_title_width = 40    # characters of titles in the panel and waybar tooltip; 0: no limit
/// glyph_set = "unicode"     # "nerd": Nerd Font glyphs; "ascii": ASCII ones
/// ascii = false             # true: the same as glyph_set = "ascii" (and wins over it)
/// no_color = false          # true: no colours (bold stays); NO_COLOR in the environment sets it
/// offline_marker = "?"      # shown when no server is connected; "" hides the segment;
///                           # bar markup like templates; default: the offline glyph
///
/// [render.template]         # see the placeholder table; each falls back to `all`, then the default
/// all = "{busy}{retry}{retry_next}{waiting}{done}{error}{aborted}{unknown}{unvisited_glyph}{unvisited_title}{unvisited_more}"
/// tmux = "#[bold]{unvisited_title}#[nobold] {busy}{waiting}"
/// # plain, starship, waybar likewise
///
/// [render.colors]           # default, red, brightblack, colour208, #ff8800 …
/// busy = "brightblue"
/// retry = "yellow"
/// waiting = "brightmagenta"
/// done = "green"
/// error = "brightred"
/// aborted = "brightblack"
/// unknown = "brightblack"   # also the built-in offline marker
/// unvisited = "cyan"        # the unvisited count and mark, and `(+N)`
/// tmux_bg = "black"         # tmux: the segment's own background; "default": the status line's
/// tmux_fg = "white"         # tmux: its text without a state colour
///
/// [render.glyphs]           # override single glyphs: busy retry waiting done error aborted
/// busy = "●"                # unknown unvisited
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderConfig {
    pub title_width: usize,
    pub panel_title_width: usize,
    /// The built-in glyphs: Unicode (any font), Nerd Font, or ASCII.
    pub glyph_set: GlyphSetName,
    /// The older switch for ASCII glyphs; `true` wins over `glyph_set`.
    pub ascii: bool,
    pub no_color: bool,
    pub offline_marker: Option<String>,
    pub template: Templates,
    pub colors: Colors,
    pub glyphs: GlyphOverrides,
}

impl RenderConfig {
    /// The glyph set in force: ASCII when `ascii = true`, else `glyph_set`.
    pub fn glyph_set(&self) -> GlyphSetName {
        if self.ascii {
            GlyphSetName::Ascii
        } else {
            self.glyph_set
        }
    }
}

impl Default for RenderConfig {
    fn default() -> Self {
        RenderConfig {
            title_width: 24,
            panel_title_width: 40,
            glyph_set: GlyphSetName::default(),
            ascii: false,
            no_color: false,
            offline_marker: None,
            template: Templates::default(),
            colors: Colors::default(),
            glyphs: GlyphOverrides::default(),
        }
    }
}

/// Per-bar templates (`[render.template]`); checked when the config is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Templates {
    /// For every bar that has no template of its own.
    pub all: Option<Template>,
    pub plain: Option<Template>,
    pub tmux: Option<Template>,
    pub starship: Option<Template>,
    pub waybar: Option<Template>,
}

impl Templates {
    /// The template in force for `format`.
    pub fn for_format(&self, format: Format) -> &str {
        let own = match format {
            Format::Plain => &self.plain,
            Format::Tmux => &self.tmux,
            Format::Starship => &self.starship,
            Format::Waybar => &self.waybar,
            Format::Json => &None,
        };
        own.as_ref()
            .or(self.all.as_ref())
            .map_or(DEFAULT_TEMPLATE, Template::as_str)
    }
}

/// Colour per state (`[render.colors]`), and the tmux segment's own background.
///
/// The defaults are chosen to read on each bar's default look: named colours, so a terminal's
/// theme (starship, `ocbar list`) keeps them readable on its background; the bright variants of
/// blue, magenta and red, which are too dark on a dark background (xterm's blue on black is
/// 2.2:1); waybar gets them from a palette made for dark bars ([`color`]); and tmux draws the
/// segment on its own black background, since tmux's default status line is green (`done` in
/// green would vanish on it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Colors {
    pub busy: Color,
    pub retry: Color,
    pub waiting: Color,
    pub done: Color,
    pub error: Color,
    pub aborted: Color,
    pub unknown: Color,
    pub unvisited: Color,
    /// tmux: the segment's background; `default` draws it on the status line's own style.
    pub tmux_bg: Color,
    /// tmux: the segment's text that has no state colour (spaces, the template's literals).
    pub tmux_fg: Color,
}

impl Default for Colors {
    fn default() -> Self {
        Colors {
            busy: Color::BRIGHT_BLUE,
            retry: Color::YELLOW,
            waiting: Color::BRIGHT_MAGENTA,
            done: Color::GREEN,
            error: Color::BRIGHT_RED,
            aborted: Color::BRIGHT_BLACK,
            unknown: Color::BRIGHT_BLACK,
            unvisited: Color::CYAN,
            tmux_bg: Color::BLACK,
            tmux_fg: Color::WHITE,
        }
    }
}

impl Colors {
    pub fn state(&self, s: SessionState) -> Color {
        match s {
            SessionState::Busy => self.busy,
            SessionState::Retry => self.retry,
            SessionState::Waiting => self.waiting,
            SessionState::Done => self.done,
            SessionState::Error => self.error,
            SessionState::Aborted => self.aborted,
            SessionState::Unknown => self.unknown,
        }
    }
}

/// The line for `format`: the segment of a bar, or the snapshot as JSON. No trailing newline.
pub fn render(format: Format, snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    match format {
        Format::Plain => plain::render(snap, now_ms, cfg),
        Format::Tmux => tmux::render(snap, now_ms, cfg),
        Format::Starship => starship::render(snap, now_ms, cfg),
        Format::Waybar => waybar::render(snap, now_ms, cfg),
        Format::Json => json::render(snap),
    }
}

/// The panel of `ocbar list`: one line per relevant top-level session (see [`panel`]), or one
/// line saying there is none. Lines separated by `\n`, no trailing newline.
pub fn render_panel(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig, style: PanelStyle) -> String {
    let mut out = String::new();
    match style {
        PanelStyle::Plain => panel::write_panel(&mut out, &markup::Plain, snap, now_ms, cfg),
        PanelStyle::Ansi => {
            let m = markup::Sgr {
                color: !cfg.no_color,
            };
            panel::write_panel(&mut out, &m, snap, now_ms, cfg)
        }
    }
    out
}

/// The panel without escape sequences (what the daemon answers `list` with: it cannot know
/// whether the client's stdout is a terminal). Same as [`render_panel`] with [`PanelStyle::Plain`].
pub fn panel(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    render_panel(snap, now_ms, cfg, PanelStyle::Plain)
}

/// Whether a bar's segment for `snap` changes with time alone (a retry countdown runs), so a
/// cache keyed on the snapshot version must be refreshed about once a second. The panel and
/// waybar's tooltip always change with time ("3m ago"), slowly.
pub fn time_sensitive(snap: &Snapshot) -> bool {
    snap.roots()
        .any(|s| s.state == SessionState::Retry && s.retry_next_ms.is_some())
}
