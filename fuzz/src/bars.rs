//! What a bar's line must look like, checked on the renderers' output (the same rules as the
//! hostile-data unit tests of `src/render/tests.rs`, applied to fuzzed snapshots).
//!
//! Every function panics (a finding) when its rule is broken.

use ocbar::render::{self, PanelStyle, RenderConfig};
use ocbar::wire::Format;
use ocbar::wire::snapshot::Snapshot;

/// No control character (C0, DEL, C1) and no Unicode line/paragraph separator; `\n` only
/// when `allow_newline` (multi-line tooltips and panels).
pub fn no_controls(s: &str, allow_newline: bool) {
    for c in s.chars() {
        assert!(
            !(c.is_control() || c == '\u{2028}' || c == '\u{2029}') || (allow_newline && c == '\n'),
            "control {c:?} in {s:?}"
        );
    }
}

/// The visible text of tmux output, parsed as tmux parses a `#()` job's output. Panics on a
/// `#` that is neither `##` nor one of the styles ocbar writes (`#[fg=NAME]`, `bg=NAME`,
/// `bold`, `nobold`, `default`): a `#` from data that was not doubled would be one of those.
/// The one space of padding inside the segment's own background (`#[fg=…,bg=…] … #[default]`)
/// is not part of the text.
pub fn tmux_visible(out: &str) -> String {
    let mut text = String::new();
    let mut rest = out;
    while let Some(c) = rest.chars().next() {
        if c == '#' {
            match rest[1..].chars().next() {
                Some('#') => {
                    text.push('#');
                    rest = &rest[2..];
                }
                Some('[') => {
                    let end = rest.find(']').expect("unclosed tmux style");
                    let style = &rest[2..end];
                    for part in style.split(',') {
                        let color = part
                            .strip_prefix("fg=")
                            .or_else(|| part.strip_prefix("bg="))
                            .is_some_and(|c| {
                                !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric())
                            });
                        assert!(
                            color || ["bold", "nobold", "default"].contains(&part),
                            "foreign tmux style {style:?} in {out:?}"
                        );
                    }
                    rest = &rest[end + 1..];
                }
                other => panic!("lone # before {other:?} in {out:?}"),
            }
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let padded = out.starts_with("#[fg=") && out.contains(",bg=") && out.ends_with(" #[default]");
    match text.strip_prefix(' ').and_then(|t| t.strip_suffix(' ')) {
        Some(inner) if padded => inner.to_string(),
        _ => text,
    }
}

/// The text of SGR-styled output; panics on any escape sequence other than `ESC [ digits;… m`.
pub fn sgr_visible(out: &str) -> String {
    let mut text = String::new();
    let mut rest = out;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b' {
            assert!(rest[1..].starts_with('['), "not an SGR sequence in {out:?}");
            let end = rest.find('m').expect("SGR ends in m");
            let params = &rest[2..end];
            assert!(
                params.bytes().all(|b| b.is_ascii_digit() || b == b';'),
                "foreign escape sequence in {out:?}"
            );
            rest = &rest[end + 1..];
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    text
}

/// The text of Pango markup. Panics unless it is well-formed markup made of ocbar's own
/// `<span foreground="#rrggbb" weight="bold">` tags, balanced, with every `&`, `<`, `>` of
/// the text escaped as an entity.
pub fn pango_visible(markup: &str) -> String {
    let mut text = String::new();
    let mut depth = 0i32;
    let mut rest = markup;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').expect("unclosed tag");
                let tag = &rest[..=end];
                if tag == "</span>" {
                    depth -= 1;
                } else {
                    let attrs = tag
                        .strip_prefix("<span")
                        .and_then(|t| t.strip_suffix('>'))
                        .unwrap_or_else(|| panic!("foreign tag {tag:?} in {markup:?}"));
                    // i3blocks' markup quotes attributes with ' (see render::i3blocks)
                    let attrs = attrs.replace('\'', "\"");
                    let attrs = attrs.replace(" weight=\"bold\"", "");
                    let color_ok = attrs.len() == 21
                        && attrs.starts_with(" foreground=\"#")
                        && attrs.ends_with('"')
                        && attrs[14..20].bytes().all(|b| b.is_ascii_hexdigit());
                    assert!(
                        attrs.is_empty() || color_ok,
                        "foreign attributes in {tag:?}"
                    );
                    depth += 1;
                }
                assert!(depth >= 0, "unbalanced tags in {markup:?}");
                rest = &rest[end + 1..];
            }
            '&' => {
                let end = rest.find(';').expect("unterminated entity");
                text.push(match &rest[..=end] {
                    "&amp;" => '&',
                    "&lt;" => '<',
                    "&gt;" => '>',
                    "&#39;" => '\'',
                    "&quot;" => '"',
                    "&#92;" => '\\',
                    e => panic!("foreign entity {e:?} in {markup:?}"),
                });
                rest = &rest[end + 1..];
            }
            '>' => panic!("raw > in {markup:?}"),
            c => {
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    assert_eq!(depth, 0, "unbalanced tags in {markup:?}");
    text
}

/// The text polybar draws for a line, parsed as polybar 3.6 parses a script's line: `%{` starts
/// a tag wherever it is. Panics on any tag but ocbar's own (`F#rrggbb`, `F-`, `u#rrggbb`, `+u`,
/// `-u`); the zero-width space ocbar puts between a `%` and a `{` from data is not drawn.
pub fn polybar_visible(out: &str) -> String {
    let mut text = String::new();
    let mut rest = out;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("%{") {
            let end = rest.find('}').expect("unclosed polybar tag");
            let tag = &rest[2..end];
            let hex = |t: &str| t.len() == 7 && t[1..].bytes().all(|b| b.is_ascii_hexdigit());
            let ok = matches!(tag, "F-" | "+u" | "-u")
                || tag.strip_prefix('F').is_some_and(hex)
                || tag.strip_prefix('u').is_some_and(hex);
            assert!(ok, "foreign polybar tag {tag:?} in {out:?}");
            rest = &rest[end + 1..];
        } else {
            if c != '\u{200b}' {
                text.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    text
}

/// The text bash shows for `PS1` text (decoded, then expanded with `promptvars`), as far as
/// ocbar writes it: `\x01`…`\x02` around SGR, `\\\\` → `\`, `\\$` → `$`, `\\`` → `` ` ``.
/// Panics on a `$`, backquote or `\` that bash would decode or expand (one from data that was
/// not escaped), and on anything but SGR inside `\x01`…`\x02`.
pub fn bash_visible(out: &str) -> String {
    let mut text = String::new();
    let mut rest = out;
    while let Some(c) = rest.chars().next() {
        if c == '\x01' {
            let end = rest.find('\x02').expect("\\x01 without \\x02");
            assert!(
                sgr_visible(&rest[1..end]).is_empty(),
                "not SGR inside \\x01..\\x02 in {out:?}"
            );
            rest = &rest[end + 1..];
        } else if let Some(r) = rest.strip_prefix("\\\\\\\\") {
            text.push('\\');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("\\\\$") {
            text.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("\\\\`") {
            text.push('`');
            rest = r;
        } else {
            assert!(
                !matches!(c, '$' | '`' | '\\' | '\x02'),
                "bash would expand {c:?} in {out:?}"
            );
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    text
}

/// The text zsh shows for `PROMPT` text: `%{…%}` (SGR only) takes no room, `%%` is `%`. Panics
/// on any other `%` sequence (one from data that was not doubled).
pub fn zsh_visible(out: &str) -> String {
    let mut text = String::new();
    let mut rest = out;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("%{") {
            let end = r.find("%}").expect("%{ without %}");
            assert!(
                sgr_visible(&r[..end]).is_empty(),
                "not SGR inside %{{..%}} in {out:?}"
            );
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix("%%") {
            text.push('%');
            rest = r;
        } else {
            assert!(c != '%', "zsh would expand a % sequence in {out:?}");
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    text
}

/// Render `snap` in every format and the panel, checking every rule. Used by the `render`
/// target on arbitrary snapshots and by the `model` target on the model's own snapshots.
pub fn check_all_formats(snap: &Snapshot, cfg: &RenderConfig, now: i64) {
    let plain = render::render(Format::Plain, snap, now, cfg);
    no_controls(&plain, false);

    let tmux = render::render(Format::Tmux, snap, now, cfg);
    no_controls(&tmux, false);
    assert_eq!(
        tmux_visible(&tmux),
        plain,
        "tmux shows other text than plain: {tmux:?}"
    );

    let star = render::render(Format::Starship, snap, now, cfg);
    let visible = sgr_visible(&star);
    no_controls(&visible, false);
    assert_eq!(visible, plain, "starship is plain text plus SGR: {star:?}");

    let panel = render::render_panel(snap, now, cfg, PanelStyle::Plain);
    no_controls(&panel, true);
    let ansi = render::render_panel(snap, now, cfg, PanelStyle::Ansi);
    let ansi_text = sgr_visible(&ansi);
    no_controls(&ansi_text, true);
    assert_eq!(ansi_text, panel, "ANSI panel is the plain panel plus SGR");
    assert!(!panel.ends_with('\n'), "panel ends with a newline");

    let way = render::render(Format::Waybar, snap, now, cfg);
    no_controls(&way, false);
    let v: serde_json::Value = serde_json::from_str(&way).expect("waybar line is JSON");
    let obj = v.as_object().expect("waybar line is an object");
    let text = obj["text"].as_str().expect("text is a string");
    no_controls(text, false);
    assert_eq!(pango_visible(text), plain, "waybar text is the plain line");
    let tip = obj["tooltip"].as_str().expect("tooltip is a string");
    no_controls(tip, true);
    assert_eq!(pango_visible(tip), panel, "waybar tooltip is the panel");
    assert!(obj["alt"].is_string() && obj["class"].is_array());

    let poly = render::render(Format::Polybar, snap, now, cfg);
    no_controls(&poly, false);
    assert_eq!(
        polybar_visible(&poly),
        plain,
        "polybar draws the plain line: {poly:?}"
    );

    let blocks = render::render(Format::I3blocks, snap, now, cfg);
    no_controls(&blocks, false);
    let v: serde_json::Value = serde_json::from_str(&blocks).expect("i3blocks line is JSON");
    for value in v.as_object().expect("i3blocks line is an object").values() {
        let s = value.as_str().expect("i3blocks values are strings");
        assert!(
            !s.contains(['"', '\\']),
            "a \" or \\ in an i3blocks string, which i3blocks 1.4 cuts: {blocks:?}"
        );
    }
    let full = v["full_text"].as_str().expect("full_text is a string");
    assert_eq!(
        pango_visible(full),
        plain,
        "i3blocks full_text is the plain line"
    );
    pango_visible(v["short_text"].as_str().expect("short_text is a string"));
    assert!(
        v.get("urgent").is_none_or(|u| u == "true"),
        "urgent is the string true"
    );

    let bash = render::render(Format::Bash, snap, now, cfg);
    let visible = bash_visible(&bash);
    no_controls(&visible, false);
    assert_eq!(visible, plain, "bash shows the plain line: {bash:?}");

    let zsh = render::render(Format::Zsh, snap, now, cfg);
    let visible = sgr_visible(&zsh_visible(&zsh));
    no_controls(&visible, false);
    assert_eq!(visible, plain, "zsh shows the plain line: {zsh:?}");

    let fish = render::render(Format::Fish, snap, now, cfg);
    let visible = sgr_visible(&fish);
    no_controls(&visible, false);
    assert_eq!(
        visible, plain,
        "fish shows the plain line plus SGR: {fish:?}"
    );

    let json = render::render(Format::Json, snap, now, cfg);
    assert!(!json.contains('\n'), "json is one line");
    let back: Snapshot = serde_json::from_str(&json).expect("json parses back");
    assert_eq!(&back, snap, "json is the snapshot");
}
