//! Segment templates: what a bar's line shows, chosen by the user.
//!
//! A template is text with placeholders in braces. `{{` and `}}` are literal braces.
//!
//! | placeholder          | expands to (nothing when there is nothing to say)                          |
//! |----------------------|-----------------------------------------------------------------------------|
//! | `{busy}`             | busy glyph and the number of busy sessions: `●2`                             |
//! | `{retry}`            | retry glyph and the number of sessions backing off after a provider error   |
//! | `{retry_next}`       | attempt and countdown of the retry due soonest: `#3 12s` (`#3` once due)     |
//! | `{waiting}`          | waiting glyph and the number of sessions blocked on a permission or question |
//! | `{done}`             | done glyph and the number of sessions that finished cleanly                 |
//! | `{error}`            | error glyph and the number of sessions whose turn ended with an error       |
//! | `{aborted}`          | aborted glyph and the number of sessions the user stopped                   |
//! | `{unknown}`          | unknown glyph and the number of sessions whose server is not reachable      |
//! | `{unvisited}`        | unvisited glyph and the number of finished sessions not yet opened          |
//! | `{unvisited_glyph}`  | the state glyph (done, error or aborted) of the newest unvisited session    |
//! | `{unvisited_title}`  | its title, cut to `title_width` characters with `…`, highlighted (bold)     |
//! | `{unvisited_more}`   | how many other unvisited sessions there are: `(+2)`                         |
//!
//! Counts are of top-level sessions; sub-agents are folded into their parents.
//! Each expansion is in its state's colour; the unvisited ones are also bold.
//!
//! Spacing: every non-empty expansion is followed by a space, runs of spaces collapse to one,
//! and leading and trailing spaces are dropped, so empty placeholders leave no gaps. If every
//! placeholder is empty, the whole line is empty (the segment disappears) whatever literal text
//! the template has. Literal text is the bar's own markup and is written as it is (only control
//! characters are dropped): tmux styles such as `#[bg=blue]` and Pango tags in waybar work there,
//! and a literal `#` in a tmux template must be written `##`. Expansions are always escaped.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// The built-in template of every bar.
pub const DEFAULT_TEMPLATE: &str = "{busy}{retry}{retry_next}{waiting}{done}{error}{aborted}{unknown}{unvisited_glyph}{unvisited_title}{unvisited_more}";

/// One placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Busy,
    Retry,
    RetryNext,
    Waiting,
    Done,
    Error,
    Aborted,
    Unknown,
    Unvisited,
    UnvisitedGlyph,
    UnvisitedTitle,
    UnvisitedMore,
}

/// Every placeholder with its name.
pub const PLACEHOLDERS: [(&str, Placeholder); 12] = [
    ("busy", Placeholder::Busy),
    ("retry", Placeholder::Retry),
    ("retry_next", Placeholder::RetryNext),
    ("waiting", Placeholder::Waiting),
    ("done", Placeholder::Done),
    ("error", Placeholder::Error),
    ("aborted", Placeholder::Aborted),
    ("unknown", Placeholder::Unknown),
    ("unvisited", Placeholder::Unvisited),
    ("unvisited_glyph", Placeholder::UnvisitedGlyph),
    ("unvisited_title", Placeholder::UnvisitedTitle),
    ("unvisited_more", Placeholder::UnvisitedMore),
];

impl Placeholder {
    /// The placeholder called `name` (without braces).
    pub fn from_name(name: &str) -> Option<Placeholder> {
        PLACEHOLDERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }
}

/// A piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a str),
    Placeholder(Placeholder),
    /// `{name}` that is not a placeholder (rejected by [`Template`]; written as it is).
    Unknown(&'a str),
    /// A `{` with no `}` after it (rejected by [`Template`]; written as it is).
    Unclosed(&'a str),
}

/// The pieces of a template, in order, without allocating.
pub fn pieces(t: &str) -> Pieces<'_> {
    Pieces { rest: t }
}

/// Iterator returned by [`pieces`].
pub struct Pieces<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        let Some(i) = rest.find(['{', '}']) else {
            self.rest = "";
            return Some(Piece::Literal(rest));
        };
        if i > 0 {
            self.rest = &rest[i..];
            return Some(Piece::Literal(&rest[..i]));
        }
        let brace = &rest[..1];
        if rest[1..].starts_with(brace) || brace == "}" {
            // `{{`, `}}`, or a lone `}`: one literal brace.
            let skip = if rest[1..].starts_with(brace) { 2 } else { 1 };
            self.rest = &rest[skip..];
            return Some(Piece::Literal(brace));
        }
        match rest.find('}') {
            Some(end) => {
                self.rest = &rest[end + 1..];
                let name = &rest[1..end];
                Some(match Placeholder::from_name(name) {
                    Some(p) => Piece::Placeholder(p),
                    None => Piece::Unknown(&rest[..end + 1]),
                })
            }
            None => {
                self.rest = "";
                Some(Piece::Unclosed(rest))
            }
        }
    }
}

/// A template that has been checked: every `{name}` is a placeholder, every `{` is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// Check `t` and wrap it.
    pub fn new(t: impl Into<String>) -> Result<Template, TemplateError> {
        let t = t.into();
        for piece in pieces(&t) {
            match piece {
                Piece::Unknown(p) => return Err(TemplateError::Unknown(p.to_string())),
                Piece::Unclosed(p) => return Err(TemplateError::Unclosed(p.to_string())),
                _ => {}
            }
        }
        Ok(Template(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    Unknown(String),
    Unclosed(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Unknown(p) => {
                write!(f, "unknown placeholder {p} in template; valid ones:")?;
                for (name, _) in PLACEHOLDERS {
                    write!(f, " {{{name}}}")?;
                }
                write!(f, " (write {{{{ and }}}} for literal braces)")
            }
            TemplateError::Unclosed(p) => write!(
                f,
                "unclosed {{ in template at {p:?} (write {{{{ for a literal brace)"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Template::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_pieces() {
        let got: Vec<Piece> = pieces("a {busy}{{x}} }{nope}{retry").collect();
        assert_eq!(
            got,
            vec![
                Piece::Literal("a "),
                Piece::Placeholder(Placeholder::Busy),
                Piece::Literal("{"),
                Piece::Literal("x"),
                Piece::Literal("}"),
                Piece::Literal(" "),
                Piece::Literal("}"),
                Piece::Unknown("{nope}"),
                Piece::Unclosed("{retry"),
            ]
        );
        assert_eq!(pieces("").count(), 0);
    }

    #[test]
    fn every_placeholder_is_known_and_the_default_is_valid() {
        for (name, p) in PLACEHOLDERS {
            assert_eq!(Placeholder::from_name(name), Some(p));
        }
        assert!(Template::new(DEFAULT_TEMPLATE).is_ok());
        assert!(Template::new("#[bold]{{{busy}}}").is_ok());
    }

    #[test]
    fn refuses_typos_with_a_clear_message() {
        let e = Template::new("{bsy} {done}").unwrap_err();
        assert_eq!(e, TemplateError::Unknown("{bsy}".into()));
        let msg = e.to_string();
        assert!(
            msg.starts_with("unknown placeholder {bsy} in template; valid ones: {busy} {retry}"),
            "{msg}"
        );
        assert!(msg.contains("{unvisited_title}"), "{msg}");
        let e = Template::new("{done").unwrap_err();
        assert_eq!(e, TemplateError::Unclosed("{done".into()));
    }
}
