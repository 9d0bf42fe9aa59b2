//! Escaping of cleaned text for one bar's syntax.
//!
//! Every piece of data is cleaned first ([`crate::text::clean`]: one line, no control or bidi
//! characters); then a format-specific escaper writes each character: tmux doubles `#`, Pango and
//! JSON escape their own specials, polybar breaks `%{`, bash and zsh defuse prompt expansion.

/// tmux: the output of `#()` is parsed as a format, so every `#` is written `##`.
pub fn push_tmux(out: &mut String, c: char) {
    if c == '#' {
        out.push_str("##");
    } else {
        out.push(c);
    }
}

/// Pango markup (waybar `text` and `tooltip`).
pub fn push_pango(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '\'' => out.push_str("&#39;"),
        '"' => out.push_str("&quot;"),
        _ => out.push(c),
    }
}

/// `s` escaped as Pango markup text, kept as it is otherwise (line breaks included): the
/// body of a desktop notification, which servers may read as markup.
pub fn pango(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_pango(&mut out, c);
    }
    out
}

/// What polybar draws between a `%` and a `{` from data: a zero-width space. polybar (3.6.3)
/// parses `%{` as a tag wherever it appears in a `custom/script` line, and has no escape for it
/// there: `%%{A1:…:}` still loses the tag to the parser (the `%`s are drawn, the tag is not).
/// Any character in between makes it text; this one draws nothing in a proportional font, is
/// dropped by polybar from a font without it (with a warning in polybar's log), and is at most
/// one blank cell in a monospace font that has it: the title reads as written.
pub const POLYBAR_TAG_BREAK: char = '\u{200b}';

/// polybar: a `{` right after a `%` (from data or a template literal) gets
/// [`POLYBAR_TAG_BREAK`] before it, so no `%{…}` tag (colour, font, action) comes from data.
pub fn push_polybar(out: &mut String, c: char) {
    if c == '{' && out.ends_with('%') {
        out.push(POLYBAR_TAG_BREAK);
    }
    out.push(c);
}

/// bash `PS1` text, decoded then expanded at every prompt (`promptvars`, bash's default):
/// `$`, backquote and `\` are written so that both passes leave the character itself
/// (`\\$` decodes to `\$`, which expansion turns into `$`), so nothing in data runs or
/// expands, whoever the user is (`\$` alone would turn into `#` for root).
pub fn push_bash(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\\\\\"),
        '$' => out.push_str("\\\\$"),
        '`' => out.push_str("\\\\`"),
        c => out.push(c),
    }
}

/// zsh `PROMPT` text: `%` is doubled, so no `%F{…}`, `%{…%}` or `%(…)` comes from data.
/// (`$(…)` and backquotes matter only with `PROMPT_SUBST`: `ocbar init zsh` then puts the
/// segment in through a parameter, whose value is not expanded again.)
pub fn push_zsh(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// Plain text and SGR: the cleaned character as it is.
pub fn push_plain(out: &mut String, c: char) {
    out.push(c);
}

/// Write `s` as a JSON string literal (quotes included). Control characters, which only our
/// own tooltip line breaks can be at this point, are escaped as JSON requires.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::push_truncated;

    #[test]
    fn tmux_doubles_every_hash() {
        let mut out = String::new();
        push_truncated(&mut out, "#[fg=red]#(rm -rf ~)##", 0, push_tmux);
        assert_eq!(out, "##[fg=red]##(rm -rf ~)####");
    }

    #[test]
    fn pango_escapes_markup() {
        let mut out = String::new();
        push_truncated(&mut out, "<b>&amp;</b> 'q' \"d\"", 0, push_pango);
        assert_eq!(
            out,
            "&lt;b&gt;&amp;amp;&lt;/b&gt; &#39;q&#39; &quot;d&quot;"
        );
    }

    #[test]
    fn json_strings_parse_back() {
        for s in [
            "plain",
            "q\"uote\\",
            "line\nbreak\ttab\r",
            "\x01\x1b\x7f",
            "日本",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert!(!out.chars().any(|c| c.is_control()), "{out:?}");
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
    }
}
