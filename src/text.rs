/*!
The one cleaner for every piece of text that reaches a person: bar lines, the panel, desktop
notifications, toasts, tmux messages and the environment of a notification command.

Titles, messages, models and directories come from a model or a user, so they can hold anything:
terminal escapes, line breaks, invisible bidi controls that reorder the text around them. [`clean`]
turns such text into one safe line; [`one_line`] does that and cuts it to a width. Each output
then escapes the cleaned characters for its own syntax (`render::escape`: tmux `#`, Pango, JSON).

What [`clean`] does: control characters (C0 incl. ESC, BEL, CR, LF, TAB; DEL; C1 incl. CSI
`U+009B` and NEL) and every Unicode whitespace (incl. `U+2028`/`U+2029`) become one space, runs of
them collapse, leading and trailing ones are dropped, and bidi embedding/override/isolate controls
are removed.
*/

/// Bidi embeddings, overrides and isolates: invisible, and able to reorder what follows.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text that breaks a line or is invisible-but-active: it never reaches a bar from data.
fn is_separator(c: char) -> bool {
    c.is_control() || c.is_whitespace()
}

/// The characters of `s`, cleaned for one line of a bar (see the module documentation).
pub fn clean(s: &str) -> Clean<'_> {
    Clean {
        chars: s.chars(),
        started: false,
        held: None,
    }
}

/// Iterator returned by [`clean`].
#[derive(Clone)]
pub struct Clean<'a> {
    chars: std::str::Chars<'a>,
    /// A visible character has been yielded: a separator run now becomes one space.
    started: bool,
    /// A character read after a separator run; the space goes out first.
    held: Option<char>,
}

impl Iterator for Clean<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if let Some(c) = self.held.take() {
            return Some(c);
        }
        let mut gap = false;
        loop {
            let c = self.chars.next()?;
            if is_separator(c) {
                gap = self.started;
                continue;
            }
            if is_bidi_control(c) {
                continue;
            }
            self.started = true;
            if gap {
                self.held = Some(c);
                return Some(' ');
            }
            return Some(c);
        }
    }
}

/// Whether the cleaned `s` is empty.
pub fn is_blank(s: &str) -> bool {
    clean(s).next().is_none()
}

/// Number of characters of the cleaned `s`, counting no further than `limit`.
pub fn clean_len(s: &str, limit: usize) -> usize {
    clean(s).take(limit).count()
}

/// Write the cleaned `s`, at most `width` characters (0: no limit), through `escape`.
///
/// A longer text keeps its first `width - 1` characters (a trailing space dropped) and ends in
/// `…`. Counting is in characters, so a multi-byte character is never split; a character that
/// is two cells wide (CJK, most emoji) still counts as one.
pub fn push_truncated(out: &mut String, s: &str, width: usize, escape: impl Fn(&mut String, char)) {
    if width == 0 || clean(s).nth(width).is_none() {
        for c in clean(s) {
            escape(out, c);
        }
        return;
    }
    let mut space = false;
    for c in clean(s).take(width - 1) {
        if c == ' ' {
            space = true;
            continue;
        }
        if space {
            escape(out, ' ');
            space = false;
        }
        escape(out, c);
    }
    escape(out, '…');
}

/// The cleaned `s` as one line of at most `max` characters (0: no limit), ending in `…` when
/// cut: the form notifications, toasts and a command's environment carry.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    push_truncated(&mut out, s, max, |o, c| o.push(c));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaned(s: &str) -> String {
        clean(s).collect()
    }

    fn trunc(s: &str, width: usize) -> String {
        one_line(s, width)
    }

    #[test]
    fn clean_removes_every_control_character() {
        assert_eq!(cleaned("a\x1b[31mb"), "a [31mb");
        assert_eq!(cleaned("\x1b]0;x\x07title"), "]0;x title");
        assert_eq!(cleaned("one\r\ntwo\tthree"), "one two three");
        assert_eq!(cleaned("c1\u{9b}31m\u{85}x\u{7f}y"), "c1 31m x y");
        assert_eq!(cleaned("line\u{2028}sep\u{2029}para"), "line sep para");
        assert_eq!(cleaned("  lead and trail \n"), "lead and trail");
        assert_eq!(cleaned("\u{202E}evil\u{2066}x\u{2069}"), "evilx");
        assert_eq!(cleaned("\x00\x01\x1b"), "");
        assert!(is_blank(" \t\x1b "));
        assert!(!is_blank(" a "));
    }

    #[test]
    fn clean_keeps_ordinary_text() {
        assert_eq!(cleaned("Fix the login bug"), "Fix the login bug");
        assert_eq!(cleaned("日本語 ✓ 👨‍👩‍👧"), "日本語 ✓ 👨‍👩‍👧");
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(trunc("short", 24), "short");
        assert_eq!(trunc("exactly ten", 11), "exactly ten");
        assert_eq!(trunc("exactly ten!", 11), "exactly te…");
        assert_eq!(trunc("日本語のタイトルです", 5), "日本語の…");
        assert_eq!(trunc("héllo wörld ünïcode", 8), "héllo w…");
        assert_eq!(trunc("ab cd", 4), "ab…", "a space before … is dropped");
        assert_eq!(trunc("abc", 1), "…");
        assert_eq!(
            trunc("a very long title indeed", 0),
            "a very long title indeed"
        );
        assert_eq!(trunc("a\n\nb", 24), "a b");
        assert_eq!(trunc("👨‍👩‍👧 family", 3), "👨\u{200d}…");
        assert_eq!(clean_len("日本語", 10), 3);
        assert_eq!(clean_len("日本語", 2), 2);
    }

    #[test]
    fn one_line_removes_what_could_reorder_or_break_a_notification() {
        assert_eq!(one_line("a\nb\t\x1b[31mc\x07", 100), "a b [31mc");
        assert_eq!(one_line("  lots   of\r\n space  ", 100), "lots of space");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("", 4), "");
        assert_eq!(one_line("\u{202e}é漢字\u{2066}", 10), "é漢字");
    }
}
