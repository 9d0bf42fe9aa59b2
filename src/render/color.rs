//! Colours, written once in the config and translated for each bar.
//!
//! Accepted spellings (the ones tmux accepts, so a tmux user's habits carry over):
//! `default` (or `none`, or empty: no colour), the 16 names `black red green yellow blue
//! magenta cyan white` and `brightblack` … `brightwhite`, `colour0` … `colour255` (or
//! `color…`), and `#rrggbb`. tmux gets the same spelling back; a terminal (starship, `ocbar
//! list`) gets the SGR code, so the terminal's theme decides the shade of a named colour;
//! Pango (waybar) gets `#rrggbb`: the 16 named colours from `DARK_BAR16`, a palette made for
//! a dark bar (waybar's default look), the other 240 from xterm's palette.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

const NAMES: [&str; 16] = [
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "white",
    "brightblack",
    "brightred",
    "brightgreen",
    "brightyellow",
    "brightblue",
    "brightmagenta",
    "brightcyan",
    "brightwhite",
];

/// xterm's default palette for the 16 named colours.
const PALETTE16: [(u8, u8, u8); 16] = [
    (0x00, 0x00, 0x00),
    (0xcd, 0x00, 0x00),
    (0x00, 0xcd, 0x00),
    (0xcd, 0xcd, 0x00),
    (0x00, 0x00, 0xee),
    (0xcd, 0x00, 0xcd),
    (0x00, 0xcd, 0xcd),
    (0xe5, 0xe5, 0xe5),
    (0x7f, 0x7f, 0x7f),
    (0xff, 0x00, 0x00),
    (0x00, 0xff, 0x00),
    (0xff, 0xff, 0x00),
    (0x5c, 0x5c, 0xff),
    (0xff, 0x00, 0xff),
    (0x00, 0xff, 0xff),
    (0xff, 0xff, 0xff),
];

/// The 16 named colours for Pango (waybar): Catppuccin Mocha's terminal palette, light enough
/// for a dark bar (waybar's default `rgba(43, 48, 59, 0.5)`, the module's `#313244` in
/// `integrations/waybar/style.css`): every colour but black is at least 4.5:1 against both.
/// xterm's own blue, `#0000ee`, is 1.4:1 there.
const DARK_BAR16: [(u8, u8, u8); 16] = [
    (0x45, 0x47, 0x5a),
    (0xf3, 0x8b, 0xa8),
    (0xa6, 0xe3, 0xa1),
    (0xf9, 0xe2, 0xaf),
    (0x89, 0xb4, 0xfa),
    (0xf5, 0xc2, 0xe7),
    (0x94, 0xe2, 0xd5),
    (0xba, 0xc2, 0xde),
    (0xa6, 0xad, 0xc8),
    (0xf3, 0x8b, 0xa8),
    (0xa6, 0xe3, 0xa1),
    (0xf9, 0xe2, 0xaf),
    (0x89, 0xb4, 0xfa),
    (0xf5, 0xc2, 0xe7),
    (0x94, 0xe2, 0xd5),
    (0xcd, 0xd6, 0xf4),
];

/// A colour from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// No colour: the bar's own.
    #[default]
    Default,
    /// One of the 16 named colours (index into [`NAMES`]).
    Named(u8),
    /// `colourN`, the 256-colour palette.
    Indexed(u8),
    /// `#rrggbb`.
    Rgb(u8, u8, u8),
}

impl Color {
    pub const BLACK: Color = Color::Named(0);
    pub const RED: Color = Color::Named(1);
    pub const GREEN: Color = Color::Named(2);
    pub const YELLOW: Color = Color::Named(3);
    pub const BLUE: Color = Color::Named(4);
    pub const MAGENTA: Color = Color::Named(5);
    pub const CYAN: Color = Color::Named(6);
    pub const WHITE: Color = Color::Named(7);
    pub const BRIGHT_BLACK: Color = Color::Named(8);
    pub const BRIGHT_RED: Color = Color::Named(9);
    pub const BRIGHT_BLUE: Color = Color::Named(12);
    pub const BRIGHT_MAGENTA: Color = Color::Named(13);

    /// Is there a colour to write at all.
    pub fn is_set(self) -> bool {
        self != Color::Default
    }

    /// The tmux spelling (`red`, `colour208`, `#ff8800`); nothing for [`Color::Default`].
    pub fn write_tmux(self, out: &mut String) {
        use fmt::Write;
        let _ = match self {
            Color::Default => Ok(()),
            Color::Named(i) => write!(out, "{}", NAMES[i as usize]),
            Color::Indexed(n) => write!(out, "colour{n}"),
            Color::Rgb(r, g, b) => write!(out, "#{r:02x}{g:02x}{b:02x}"),
        };
    }

    /// The SGR parameters for this foreground colour (`31`, `38;5;208`, `38;2;255;136;0`).
    pub fn write_sgr(self, out: &mut String) {
        use fmt::Write;
        let _ = match self {
            Color::Default => write!(out, "39"),
            Color::Named(i) if i < 8 => write!(out, "{}", 30 + i),
            Color::Named(i) => write!(out, "{}", 90 + i - 8),
            Color::Indexed(n) => write!(out, "38;5;{n}"),
            Color::Rgb(r, g, b) => write!(out, "38;2;{r};{g};{b}"),
        };
    }

    /// `#rrggbb` for Pango: the 16 named colours from `DARK_BAR16`, the rest of the
    /// 256-colour palette as xterm draws it.
    pub fn write_hex(self, out: &mut String) {
        use fmt::Write;
        let rgb = match self {
            Color::Named(i) => Some(DARK_BAR16[usize::from(i) % 16]),
            Color::Indexed(n) if n < 16 => Some(DARK_BAR16[usize::from(n)]),
            c => c.xterm_rgb(),
        };
        if let Some((r, g, b)) = rgb {
            let _ = write!(out, "#{r:02x}{g:02x}{b:02x}");
        }
    }

    /// The colour as xterm's default palette draws it; `None` for [`Color::Default`].
    pub fn xterm_rgb(self) -> Option<(u8, u8, u8)> {
        Some(match self {
            Color::Default => return None,
            Color::Named(i) => PALETTE16[usize::from(i) % 16],
            Color::Indexed(n) if n < 16 => PALETTE16[n as usize],
            Color::Indexed(n) if n < 232 => {
                let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
                let n = n - 16;
                (level(n / 36), level(n / 6 % 6), level(n % 6))
            }
            Color::Indexed(n) => {
                let v = 8 + 10 * (n - 232);
                (v, v, v)
            }
            Color::Rgb(r, g, b) => (r, g, b),
        })
    }
}

/// A colour spelling that is not one of the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadColor(pub String);

impl fmt::Display for BadColor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown colour {:?}: expected default, a name (red, brightblack, …), colour0-colour255 or #rrggbb",
            self.0
        )
    }
}

impl std::error::Error for BadColor {}

impl FromStr for Color {
    type Err = BadColor;

    fn from_str(s: &str) -> Result<Self, BadColor> {
        let bad = || BadColor(s.to_string());
        let t = s.trim().to_ascii_lowercase();
        if t.is_empty() || t == "default" || t == "none" {
            return Ok(Color::Default);
        }
        if let Some(i) = NAMES.iter().position(|n| *n == t) {
            return Ok(Color::Named(i as u8));
        }
        if let Some(n) = t.strip_prefix("colour").or_else(|| t.strip_prefix("color")) {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            return n.parse::<u8>().map(Color::Indexed).map_err(|_| bad());
        }
        if let Some(hex) = t.strip_prefix('#') {
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let v = u32::from_str_radix(hex, 16).map_err(|_| bad())?;
            return Ok(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        Err(bad())
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        match self {
            Color::Default => s.push_str("default"),
            c => c.write_tmux(&mut s),
        }
        f.write_str(&s)
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmux(c: Color) -> String {
        let mut s = String::new();
        c.write_tmux(&mut s);
        s
    }
    fn sgr(c: Color) -> String {
        let mut s = String::new();
        c.write_sgr(&mut s);
        s
    }
    fn hex(c: Color) -> String {
        let mut s = String::new();
        c.write_hex(&mut s);
        s
    }

    #[test]
    fn parses_tmux_spellings() {
        assert_eq!("red".parse(), Ok(Color::RED));
        assert_eq!("BrightBlack".parse(), Ok(Color::BRIGHT_BLACK));
        assert_eq!("colour208".parse(), Ok(Color::Indexed(208)));
        assert_eq!("color7".parse(), Ok(Color::Indexed(7)));
        assert_eq!("#FF8800".parse(), Ok(Color::Rgb(255, 136, 0)));
        assert_eq!("default".parse(), Ok(Color::Default));
        assert_eq!("".parse(), Ok(Color::Default));
        for bad in [
            "reddish",
            "colour256",
            "colour",
            "colour+1",
            "#ff880",
            "#gg0000",
            "#ff8800,bold",
            "red]",
        ] {
            assert!(bad.parse::<Color>().is_err(), "{bad}");
        }
        let msg = "nope".parse::<Color>().unwrap_err().to_string();
        assert!(msg.contains("colour0-colour255"), "{msg}");
    }

    #[test]
    fn translates_per_bar() {
        assert_eq!(tmux(Color::RED), "red");
        assert_eq!(tmux(Color::Indexed(208)), "colour208");
        assert_eq!(tmux(Color::Rgb(255, 136, 0)), "#ff8800");
        assert_eq!(tmux(Color::Default), "");
        assert_eq!(sgr(Color::RED), "31");
        assert_eq!(sgr(Color::BRIGHT_BLACK), "90");
        assert_eq!(sgr(Color::Indexed(208)), "38;5;208");
        assert_eq!(sgr(Color::Rgb(1, 2, 3)), "38;2;1;2;3");
        assert_eq!(hex(Color::RED), "#f38ba8");
        assert_eq!(hex(Color::Indexed(4)), "#89b4fa");
        assert_eq!(hex(Color::Indexed(16)), "#000000");
        assert_eq!(hex(Color::Indexed(208)), "#ff8700");
        assert_eq!(hex(Color::Indexed(244)), "#808080");
        assert_eq!(hex(Color::Default), "");
        assert_eq!(Color::Indexed(9).to_string(), "colour9");
        assert_eq!(Color::Default.to_string(), "default");
    }

    /// WCAG 2 contrast ratio of two sRGB colours (1 to 21).
    pub(crate) fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
        fn lum((r, g, b): (u8, u8, u8)) -> f64 {
            let c = |v: u8| {
                let v = f64::from(v) / 255.0;
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b)
        }
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    fn hex_rgb(c: Color) -> (u8, u8, u8) {
        let h = hex(c);
        let v = u32::from_str_radix(&h[1..], 16).unwrap();
        ((v >> 16) as u8, (v >> 8) as u8, v as u8)
    }

    /// The default state colours on a dark terminal (starship, `ocbar list`) and on the tmux
    /// segment's own black background, in xterm's palette: named (a theme may change the
    /// shade) and at least 4:1 (xterm's bright blue, the lowest, is 4.4:1).
    #[test]
    fn default_colours_read_on_black() {
        let c = crate::render::Colors::default();
        assert_eq!(c.tmux_bg, Color::BLACK);
        for (name, color) in [
            ("busy", c.busy),
            ("retry", c.retry),
            ("waiting", c.waiting),
            ("done", c.done),
            ("error", c.error),
            ("aborted", c.aborted),
            ("unknown", c.unknown),
            ("unvisited", c.unvisited),
            ("tmux_fg", c.tmux_fg),
        ] {
            assert!(matches!(color, Color::Named(_)), "{name}: {color}");
            let ratio = contrast(color.xterm_rgb().unwrap(), (0, 0, 0));
            assert!(ratio >= 4.0, "{name} ({color}) on black: {ratio:.2}");
        }
    }

    #[test]
    fn named_colours_read_on_a_dark_waybar() {
        // waybar's default bar (rgba(43, 48, 59, 0.5), over black at worst) and the module's
        // own background in integrations/waybar/style.css.
        for bg in [(0x2b, 0x30, 0x3b), (0x16, 0x18, 0x1d), (0x31, 0x32, 0x44)] {
            for i in 1..16u8 {
                let c = Color::Named(i);
                let ratio = contrast(hex_rgb(c), bg);
                assert!(ratio >= 4.5, "{c} on {bg:02x?}: {ratio:.2}");
            }
        }
    }
}
