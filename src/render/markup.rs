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

/// Pango markup (waybar): `<span foreground="#rrggbb" weight="bold">`.
pub struct Pango {
    pub color: bool,
}

impl Markup for Pango {
    fn push_char(&self, out: &mut String, c: char) {
        escape::push_pango(out, c);
    }

    fn open(&self, out: &mut String, color: Color, bold: bool) {
        let on = self.color && color.is_set();
        if !on && !bold {
            return;
        }
        out.push_str("<span");
        if on {
            out.push_str(" foreground=\"");
            color.write_hex(out);
            out.push('"');
        }
        if bold {
            out.push_str(" weight=\"bold\"");
        }
        out.push('>');
    }

    fn close(&self, out: &mut String, color: Color, bold: bool) {
        if (self.color && color.is_set()) || bold {
            out.push_str("</span>");
        }
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
            styled(&Pango { color: true }, c, true),
            "<span foreground=\"#f38ba8\" weight=\"bold\">a#&lt;b&gt;</span>"
        );
        assert_eq!(styled(&Pango { color: false }, c, false), "a#&lt;b&gt;");
    }
}
