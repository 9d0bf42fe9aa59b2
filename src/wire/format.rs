//! The formats a client can ask for (`status <format>`, `watch <format>`), as both ends name
//! them: the client parses them from its command line, the daemon renders them.

use std::fmt;
use std::str::FromStr;

/// The bars `ocbar status --format …` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The segment as plain text.
    Plain,
    /// The segment with tmux `#[fg=…]` styles.
    Tmux,
    /// The segment with SGR colours, for a starship custom module.
    Starship,
    /// One JSON object for a waybar custom module (`return-type: json`).
    Waybar,
    /// The segment with polybar's `%{F#rrggbb}` tags, for a `custom/script` module.
    Polybar,
    /// One JSON block for i3blocks (`format=json`), which hands it on to i3bar.
    I3blocks,
    /// The segment for bash's `PS1`: readline-wrapped SGR, data safe from prompt expansion.
    Bash,
    /// The segment for zsh's `PROMPT`: `%{…%}`-wrapped SGR, data safe from `%` sequences.
    Zsh,
    /// The segment for a fish prompt function: SGR as `set_color` writes it.
    Fish,
    /// The snapshot itself, one JSON object.
    Json,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 10] = [
        Format::Plain,
        Format::Tmux,
        Format::Starship,
        Format::Waybar,
        Format::Polybar,
        Format::I3blocks,
        Format::Bash,
        Format::Zsh,
        Format::Fish,
        Format::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Tmux => "tmux",
            Format::Starship => "starship",
            Format::Waybar => "waybar",
            Format::Polybar => "polybar",
            Format::I3blocks => "i3blocks",
            Format::Bash => "bash",
            Format::Zsh => "zsh",
            Format::Fish => "fish",
            Format::Json => "json",
        }
    }

    /// What a bar shows while the daemon is down: `text` (the `--offline` option, the user's own
    /// markup; empty: nothing), as a line of this format. i3blocks wants a JSON block even
    /// then, or it keeps showing the last one: `{"full_text":"TEXT"}`, with `"` and `\` as
    /// Pango entities (i3blocks 1.4 ends a JSON string at its first `"`, escaped or not).
    pub fn offline_line(self, text: &str) -> String {
        match self {
            Format::I3blocks => {
                let text: String = text
                    .chars()
                    .filter(|c| !c.is_control())
                    .map(|c| match c {
                        '"' => "&quot;".to_string(),
                        '\\' => "&#92;".to_string(),
                        c => c.to_string(),
                    })
                    .collect();
                format!("{{\"full_text\":\"{text}\"}}")
            }
            _ => text.to_string(),
        }
    }

    /// A bar format: never fails a bar (exit 0, print nothing when the daemon is down).
    /// `json` is for scripts and reports errors instead.
    pub fn is_bar(self) -> bool {
        self != Format::Json
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--format` value that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown format {:?}: expected one of ",
            self.0.chars().take(32).collect::<String>()
        )?;
        for (i, format) in Format::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(format.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// A format as a client asked for it: `tmux`, or `starship no-color` from a client whose
/// environment has `NO_COLOR` (the daemon renders, so the client says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub format: Format,
    pub no_color: bool,
}

impl From<Format> for Style {
    fn from(format: Format) -> Style {
        Style {
            format,
            no_color: false,
        }
    }
}

impl FromStr for Style {
    type Err = String;
    fn from_str(s: &str) -> Result<Style, String> {
        let mut words = s.split_whitespace();
        let format = words
            .next()
            .unwrap_or("")
            .parse::<Format>()
            .map_err(|e| e.to_string())?;
        let no_color = match words.next() {
            None => false,
            Some("no-color") => true,
            Some(other) => {
                return Err(format!(
                    "unknown option '{}' after the format (only 'no-color')",
                    other.chars().take(32).collect::<String>()
                ));
            }
        };
        if words.next().is_some() {
            return Err("too many words after the format".into());
        }
        Ok(Style { format, no_color })
    }
}

impl fmt::Display for Style {
    /// As the request line writes it: `tmux`, `starship no-color`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format.as_str())?;
        if self.no_color {
            f.write_str(" no-color")?;
        }
        Ok(())
    }
}
