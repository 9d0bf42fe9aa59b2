//! The glyph of each state, in a Nerd Font and in plain ASCII.
//!
//! | what       | Nerd Font (Font Awesome range, stable across Nerd Fonts 2 and 3) | ASCII |
//! |------------|------------------------------------------------------------------|-------|
//! | busy       | `U+F110` nf-fa-spinner                                           | `*`   |
//! | retry      | `U+F021` nf-fa-refresh                                           | `r`   |
//! | waiting    | `U+F059` nf-fa-question_circle                                   | `?`   |
//! | done       | `U+F00C` nf-fa-check                                             | `+`   |
//! | error      | `U+F00D` nf-fa-times                                             | `!`   |
//! | aborted    | `U+F04D` nf-fa-stop                                              | `x`   |
//! | unknown    | `U+F127` nf-fa-chain_broken                                      | `~`   |
//! | unvisited  | `U+F111` nf-fa-circle                                            | `n`   |
//! | offline    | `U+F127` nf-fa-chain_broken (the default offline marker)         | `?`   |
//!
//! ASCII `?` means waiting when followed by a count (`?1`) and offline when alone.

use serde::Deserialize;

use crate::wire::snapshot::SessionState;

/// One glyph per state, plus the unvisited mark and the offline marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlyphSet {
    pub busy: &'static str,
    pub retry: &'static str,
    pub waiting: &'static str,
    pub done: &'static str,
    pub error: &'static str,
    pub aborted: &'static str,
    pub unknown: &'static str,
    pub unvisited: &'static str,
    pub offline: &'static str,
}

/// Nerd Font glyphs (the default).
pub const NERD: GlyphSet = GlyphSet {
    busy: "\u{f110}",
    retry: "\u{f021}",
    waiting: "\u{f059}",
    done: "\u{f00c}",
    error: "\u{f00d}",
    aborted: "\u{f04d}",
    unknown: "\u{f127}",
    unvisited: "\u{f111}",
    offline: "\u{f127}",
};

/// Plain ASCII (`ascii = true`).
pub const ASCII: GlyphSet = GlyphSet {
    busy: "*",
    retry: "r",
    waiting: "?",
    done: "+",
    error: "!",
    aborted: "x",
    unknown: "~",
    unvisited: "n",
    offline: "?",
};

/// Glyphs the user sets one by one (`[render.glyphs]`), over the Nerd or ASCII set.
/// They are data, not markup: cleaned and escaped like titles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlyphOverrides {
    pub busy: Option<String>,
    pub retry: Option<String>,
    pub waiting: Option<String>,
    pub done: Option<String>,
    pub error: Option<String>,
    pub aborted: Option<String>,
    pub unknown: Option<String>,
    pub unvisited: Option<String>,
}

/// The glyphs in force: built-in set with the user's overrides.
#[derive(Debug, Clone, Copy)]
pub struct Glyphs<'a> {
    base: GlyphSet,
    over: &'a GlyphOverrides,
}

impl<'a> Glyphs<'a> {
    pub fn new(ascii: bool, over: &'a GlyphOverrides) -> Self {
        Glyphs {
            base: if ascii { ASCII } else { NERD },
            over,
        }
    }

    fn pick(o: &'a Option<String>, d: &'static str) -> &'a str {
        o.as_deref().unwrap_or(d)
    }

    pub fn state(&self, s: SessionState) -> &'a str {
        let (b, o) = (&self.base, self.over);
        match s {
            SessionState::Busy => Self::pick(&o.busy, b.busy),
            SessionState::Retry => Self::pick(&o.retry, b.retry),
            SessionState::Waiting => Self::pick(&o.waiting, b.waiting),
            SessionState::Done => Self::pick(&o.done, b.done),
            SessionState::Error => Self::pick(&o.error, b.error),
            SessionState::Aborted => Self::pick(&o.aborted, b.aborted),
            SessionState::Unknown => Self::pick(&o.unknown, b.unknown),
        }
    }

    pub fn unvisited(&self) -> &'a str {
        Self::pick(&self.over.unvisited, self.base.unvisited)
    }

    /// The built-in offline marker (used when `offline_marker` is not set).
    pub fn offline(&self) -> &'static str {
        self.base.offline
    }
}
