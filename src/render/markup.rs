//! How each bar spells text and style. The segment and panel writers are generic over this.

use super::color::Color;
use super::escape;

/// A bar's markup language.
pub trait Markup {
    /// Write one character of (already cleaned) data, escaped for this bar.
    fn push_char(&self, out: &mut String, c: char);
    /// Start a styled run. `bold` marks the unvisited highlight.
    fn open(&self, out: &mut String, color: Color, bold: bool);
    /// End the run started by [`Markup::open`] with the same arguments.
    fn close(&self, out: &mut String, color: Color, bold: bool);

    /// Write data: cleaned, truncated to `width` characters (0: no limit), escaped.
    fn push_data(&self, out: &mut String, s: &str, width: usize) {
        crate::text::push_truncated(out, s, width, |o, c| self.push_char(o, c));
    }
}

/// No styling, no escaping beyond cleaning.
pub struct Plain;

impl Markup for Plain {
    fn push_char(&self, out: &mut String, c: char) {
        escape::push_plain(out, c);
    }
    fn open(&self, _: &mut String, _: Color, _: bool) {}
    fn close(&self, _: &mut String, _: Color, _: bool) {}
}

/// Terminal SGR sequences (starship, `ocbar list`). Colour only when `color`; bold always
/// (bold is not colour, so `NO_COLOR` keeps the unvisited highlight).
pub struct Sgr {
    pub color: bool,
}

impl Markup for Sgr {
    fn push_char(&self, out: &mut String, c: char) {
        escape::push_plain(out, c);
    }

    fn open(&self, out: &mut String, color: Color, bold: bool) {
        let on = self.color && color.is_set();
        if !on && !bold {
            return;
        }
        out.push_str("\x1b[");
        if bold {
            out.push('1');
            if on {
                out.push(';');
            }
        }
        if on {
            color.write_sgr(out);
        }
        out.push('m');
    }

    fn close(&self, out: &mut String, color: Color, bold: bool) {
        match (self.color && color.is_set(), bold) {
            (true, true) => out.push_str("\x1b[22;39m"),
            (true, false) => out.push_str("\x1b[39m"),
            (false, true) => out.push_str("\x1b[22m"),
            (false, false) => {}
        }
    }
}

/// tmux format styles `#[fg=…]`; data `#` doubled.
pub struct Tmux {
    pub color: bool,
    /// The foreground a styled run returns to: the segment's own (`tmux_fg`) when it is drawn
    /// on its own background, else [`Color::Default`] (the status line's).
    pub base: Color,
}

impl Tmux {
    fn push_base(&self, out: &mut String) {
        if self.base.is_set() {
            self.base.write_tmux(out);
        } else {
            out.push_str("default");
        }
    }
}

impl Markup for Tmux {
    fn push_char(&self, out: &mut String, c: char) {
        escape::push_tmux(out, c);
    }

    fn open(&self, out: &mut String, color: Color, bold: bool) {
        let on = self.color && color.is_set();
        if !on && !bold {
            return;
        }
        out.push_str("#[");
        if on {
            out.push_str("fg=");
            color.write_tmux(out);
            if bold {
                out.push(',');
            }
        }
        if bold {
            out.push_str("bold");
        }
        out.push(']');
    }

    fn close(&self, out: &mut String, color: Color, bold: bool) {
        match (self.color && color.is_set(), bold) {
            (true, bold) => {
                out.push_str("#[fg=");
                self.push_base(out);
                out.push_str(if bold { ",nobold]" } else { "]" });
            }
            (false, true) => out.push_str("#[nobold]"),
            (false, false) => {}
        }
    }
}

/// Pango markup (waybar, i3blocks): `<span foreground="#rrggbb" weight="bold">`.
pub struct Pango {
    pub color: bool,
    /// i3blocks: attributes in single quotes and `\` written `&#92;`, so the markup has no `"`
    /// and no `\` at all: i3blocks 1.4 ends a JSON string at its first `"`, escaped or not,
    /// and passes the raw text on to i3bar.
    pub i3blocks: bool,
}

impl Pango {
    fn quote(&self) -> char {
        if self.i3blocks { '\'' } else { '"' }
    }
}

impl Markup for Pango {
    fn push_char(&self, out: &mut String, c: char) {
        if self.i3blocks && c == '\\' {
            out.push_str("&#92;");
        } else {
            escape::push_pango(out, c);
        }
    }

    fn open(&self, out: &mut String, color: Color, bold: bool) {
        let on = self.color && color.is_set();
        if !on && !bold {
            return;
        }
        let q = self.quote();
        out.push_str("<span");
        if on {
            out.push_str(" foreground=");
            out.push(q);
            color.write_hex(out);
            out.push(q);
        }
        if bold {
            out.push_str(" weight=");
            out.push(q);
            out.push_str("bold");
            out.push(q);
        }
        out.push('>');
    }

    fn close(&self, out: &mut String, color: Color, bold: bool) {
        if (self.color && color.is_set()) || bold {
            out.push_str("</span>");
        }
    }
}

/// polybar's own tags: `%{F#rrggbb}…%{F-}`, and for the unvisited highlight an underline in the
/// same colour, `%{u#rrggbb}%{+u}…%{-u}` (polybar has no bold without a second font; the
/// underline shows once the bar has a `line-size`). Colours from the same dark-bar palette as
/// waybar's. Data is written with `%{` broken ([`escape::push_polybar`]).
pub struct Polybar {
    pub color: bool,
}

impl Markup for Polybar {
    fn push_char(&self, out: &mut String, c: char) {
        escape::push_polybar(out, c);
    }

    fn open(&self, out: &mut String, color: Color, bold: bool) {
        let on = self.color && color.is_set();
        if on {
            out.push_str("%{F");
            color.write_hex(out);
            out.push('}');
        }
        if bold {
            if on {
                out.push_str("%{u");
                color.write_hex(out);
                out.push('}');
            }
            out.push_str("%{+u}");
        }
    }

    fn close(&self, out: &mut String, color: Color, bold: bool) {
        if bold {
            out.push_str("%{-u}");
        }
        if self.color && color.is_set() {
            out.push_str("%{F-}");
        }
    }
}

/// The shells whose prompt a segment can be part of (`ocbar init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// SGR sequences inside a shell prompt, marked as taking no room where the shell's line editor
/// must be told (readline's `\001`…`\002` in bash, `%{…%}` in zsh; fish measures them itself,
/// and `set_color` writes the same sequences), around data escaped for that prompt.
pub struct Prompt {
    pub shell: Shell,
    pub color: bool,
}

impl Prompt {
    fn sgr(&self, out: &mut String, write: impl FnOnce(&mut String)) {
        let start = out.len();
        write(out);
        if out.len() == start {
            return;
        }
        match self.shell {
            Shell::Bash => {
                out.insert(start, '\x01');
                out.push('\x02');
            }
            Shell::Zsh => {
                out.insert_str(start, "%{");
                out.push_str("%}");
            }
            Shell::Fish => {}
        }
    }
}

impl Markup for Prompt {
    fn push_char(&self, out: &mut String, c: char) {
        match self.shell {
            Shell::Bash => escape::push_bash(out, c),
            Shell::Zsh => escape::push_zsh(out, c),
            Shell::Fish => escape::push_plain(out, c),
        }
    }

    fn open(&self, out: &mut String, color: Color, bold: bool) {
        let sgr = Sgr { color: self.color };
        self.sgr(out, |o| sgr.open(o, color, bold));
    }

    fn close(&self, out: &mut String, color: Color, bold: bool) {
        let sgr = Sgr { color: self.color };
        self.sgr(out, |o| sgr.close(o, color, bold));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn styled(m: &dyn Markup, color: Color, bold: bool) -> String {
        let mut s = String::new();
        m.open(&mut s, color, bold);
        m.push_data(&mut s, "a#<b>", 0);
        m.close(&mut s, color, bold);
        s
    }

    #[test]
    fn each_bar_spells_styles() {
        let c = Color::RED;
        assert_eq!(styled(&Plain, c, true), "a#<b>");
        assert_eq!(
            styled(&Sgr { color: true }, c, false),
            "\x1b[31ma#<b>\x1b[39m"
        );
        assert_eq!(
            styled(&Sgr { color: true }, c, true),
            "\x1b[1;31ma#<b>\x1b[22;39m"
        );
        assert_eq!(
            styled(&Sgr { color: false }, c, true),
            "\x1b[1ma#<b>\x1b[22m"
        );
        assert_eq!(styled(&Sgr { color: false }, c, false), "a#<b>");
        assert_eq!(styled(&Sgr { color: true }, Color::Default, false), "a#<b>");
        assert_eq!(
            styled(
                &Tmux {
                    color: true,
                    base: Color::Default
                },
                c,
                false
            ),
            "#[fg=red]a##<b>#[fg=default]"
        );
        assert_eq!(
            styled(
                &Tmux {
                    color: true,
                    base: Color::Default
                },
                c,
                true
            ),
            "#[fg=red,bold]a##<b>#[fg=default,nobold]"
        );
        assert_eq!(
            styled(
                &Tmux {
                    color: false,
                    base: Color::Default
                },
                c,
                true
            ),
            "#[bold]a##<b>#[nobold]"
        );
        assert_eq!(
            styled(
                &Tmux {
                    color: false,
                    base: Color::Default
                },
                c,
                false
            ),
            "a##<b>"
        );
        assert_eq!(
            styled(
                &Tmux {
                    color: true,
                    base: Color::Named(7)
                },
                c,
                true
            ),
            "#[fg=red,bold]a##<b>#[fg=white,nobold]"
        );
        assert_eq!(
            styled(
                &Pango {
                    color: true,
                    i3blocks: false
                },
                c,
                true
            ),
            "<span foreground=\"#f38ba8\" weight=\"bold\">a#&lt;b&gt;</span>"
        );
        assert_eq!(
            styled(
                &Pango {
                    color: false,
                    i3blocks: false
                },
                c,
                false
            ),
            "a#&lt;b&gt;"
        );
        assert_eq!(
            styled(
                &Pango {
                    color: true,
                    i3blocks: true
                },
                c,
                true
            ),
            "<span foreground='#f38ba8' weight='bold'>a#&lt;b&gt;</span>"
        );
        assert_eq!(
            styled(&Polybar { color: true }, c, true),
            "%{F#f38ba8}%{u#f38ba8}%{+u}a#<b>%{-u}%{F-}"
        );
        assert_eq!(
            styled(&Polybar { color: false }, c, true),
            "%{+u}a#<b>%{-u}"
        );
        assert_eq!(styled(&Polybar { color: false }, c, false), "a#<b>");
        let prompt = |shell| Prompt { shell, color: true };
        assert_eq!(
            styled(&prompt(Shell::Bash), c, true),
            "\x01\x1b[1;31m\x02a#<b>\x01\x1b[22;39m\x02"
        );
        assert_eq!(
            styled(&prompt(Shell::Zsh), c, false),
            "%{\x1b[31m%}a#<b>%{\x1b[39m%}"
        );
        assert_eq!(
            styled(&prompt(Shell::Fish), c, true),
            "\x1b[1;31ma#<b>\x1b[22;39m"
        );
        let plain = Prompt {
            shell: Shell::Bash,
            color: false,
        };
        assert_eq!(styled(&plain, Color::Default, false), "a#<b>");
    }

    /// What each surface does with a title that is its own markup or code.
    #[test]
    fn data_cannot_be_markup_or_code() {
        let data = |m: &dyn Markup, s: &str| {
            let mut out = String::new();
            m.push_data(&mut out, s, 0);
            out
        };
        let p = Polybar { color: true };
        assert_eq!(
            data(&p, "%{A1:touch pwned:}x%{A} 100% {a} %%{F#f00}"),
            "%\u{200b}{A1:touch pwned:}x%\u{200b}{A} 100% {a} %%\u{200b}{F#f00}"
        );
        let bash = Prompt {
            shell: Shell::Bash,
            color: true,
        };
        assert_eq!(
            data(&bash, "$(touch pwned) `id` \\u ${HOME}"),
            "\\\\$(touch pwned) \\\\`id\\\\` \\\\\\\\u \\\\${HOME}"
        );
        let zsh = Prompt {
            shell: Shell::Zsh,
            color: true,
        };
        assert_eq!(data(&zsh, "%F{red}x%f 100%"), "%%F{red}x%%f 100%%");
        let fish = Prompt {
            shell: Shell::Fish,
            color: true,
        };
        assert_eq!(data(&fish, "$(x) `y` %F"), "$(x) `y` %F");
    }
}
