//! The glyph of each state, in three sets: plain Unicode (the default), a Nerd Font, ASCII.
//!
//! | what       | Unicode (default)  | Nerd Font (Font Awesome range, Nerd Fonts 2 and 3) | ASCII |
//! |------------|--------------------|----------------------------------------------------|-------|
//! | busy       | `◔` U+25D4         | `U+F110` nf-fa-spinner                             | `*`   |
//! | retry      | `↻` U+21BB         | `U+F021` nf-fa-refresh                             | `r`   |
//! | waiting    | `?`                | `U+F059` nf-fa-question_circle                     | `?`   |
//! | done       | `✓` U+2713         | `U+F00C` nf-fa-check                               | `+`   |
//! | error      | `✗` U+2717         | `U+F00D` nf-fa-times                               | `!`   |
//! | aborted    | `▪` U+25AA         | `U+F04D` nf-fa-stop                                | `x`   |
//! | unknown    | `⊘` U+2298         | `U+F127` nf-fa-chain_broken                        | `~`   |
//! | unvisited  | `◉` U+25C9         | `U+F111` nf-fa-circle                              | `n`   |
//! | offline    | `⊘` U+2298         | `U+F127` nf-fa-chain_broken (the offline marker)   | `?`   |
//!
//! The default must draw in any font: Nerd Font glyphs are in the Private Use Area, blank boxes
//! without such a font. The Unicode set is in DejaVu Sans Mono (Debian's default monospace
//! font), is East Asian width "neutral" (one column in every locale, CJK ones included) and has
//! no emoji presentation (which some terminals draw two columns wide); a test checks each with
//! the C library's `wcwidth`. ASCII `?` means waiting when followed by a count (`?1`) and
//! offline when alone.

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

/// Plain Unicode glyphs every common font draws in one column (the default).
pub const UNICODE: GlyphSet = GlyphSet {
    busy: "\u{25d4}",
    retry: "\u{21bb}",
    waiting: "?",
    done: "\u{2713}",
    error: "\u{2717}",
    aborted: "\u{25aa}",
    unknown: "\u{2298}",
    unvisited: "\u{25c9}",
    offline: "\u{2298}",
};

/// Nerd Font glyphs (`glyph_set = "nerd"`).
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

/// Plain ASCII (`glyph_set = "ascii"`, or `ascii = true`).
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

/// Which built-in set a config chooses (`[render] glyph_set`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GlyphSetName {
    /// [`UNICODE`]: draws in any font.
    #[default]
    Unicode,
    /// [`NERD`]: for a terminal and bar with a Nerd Font.
    Nerd,
    /// [`ASCII`]: for terminals without Unicode.
    Ascii,
}

impl GlyphSetName {
    /// The glyphs of this set.
    pub fn glyphs(self) -> GlyphSet {
        match self {
            GlyphSetName::Unicode => UNICODE,
            GlyphSetName::Nerd => NERD,
            GlyphSetName::Ascii => ASCII,
        }
    }
}

/// Glyphs the user sets one by one (`[render.glyphs]`), over the built-in set.
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
    /// The glyphs of `set` with the user's `over`rides.
    pub fn new(set: GlyphSetName, over: &'a GlyphOverrides) -> Self {
        Glyphs {
            base: set.glyphs(),
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

#[cfg(test)]
mod tests {
    use super::{ASCII, GlyphSet, NERD, UNICODE};

    fn all(g: &GlyphSet) -> [&'static str; 9] {
        [
            g.busy,
            g.retry,
            g.waiting,
            g.done,
            g.error,
            g.aborted,
            g.unknown,
            g.unvisited,
            g.offline,
        ]
    }

    unsafe extern "C" {
        fn wcwidth(c: libc::wchar_t) -> libc::c_int;
    }

    /// One column each, by the C library's `wcwidth` in a UTF-8 locale (what terminals, tmux
    /// and the picker's column layout count), and none from the Private Use Area, where only
    /// a Nerd Font has glyphs.
    #[test]
    fn the_default_glyphs_are_one_column_wide_in_any_font() {
        // SAFETY: setlocale and wcwidth with valid arguments; C.UTF-8 is built into glibc.
        let set = unsafe { libc::setlocale(libc::LC_CTYPE, c"C.UTF-8".as_ptr()) };
        assert!(!set.is_null(), "the C.UTF-8 locale");
        for g in all(&UNICODE).into_iter().chain(all(&ASCII)) {
            let mut chars = g.chars();
            let c = chars.next().expect("a glyph");
            assert!(chars.next().is_none(), "{g:?} is one character");
            assert!(
                !('\u{e000}'..='\u{f8ff}').contains(&c),
                "{g:?} is not a private-use character"
            );
            // SAFETY: wcwidth reads only its argument.
            let width = unsafe { wcwidth(c as libc::wchar_t) };
            assert_eq!(width, 1, "{g:?} ({:04X}) is one column wide", c as u32);
        }
        // The Nerd set is the opt-in one, all of it private-use.
        assert!(
            all(&NERD)
                .iter()
                .all(|g| g.chars().all(|c| ('\u{e000}'..='\u{f8ff}').contains(&c)))
        );
    }
}
