//! Shell prompts (`ocbar init bash|zsh|fish` puts them in): the segment with SGR colours that
//! the shell's line editor knows take no room, and every character from data written so the
//! shell shows it as text and never runs or expands it.
//!
//! - **bash** (`PS1`, which bash decodes then expands again at every prompt): colours inside
//!   readline's `\001`…`\002`; `$`, backquote and `\` from data escaped for both passes.
//! - **zsh** (`PROMPT`): colours inside `%{…%}`; `%` from data doubled. With `PROMPT_SUBST` the
//!   snippet references the segment as a parameter, so `$(…)` in it is not expanded again.
//! - **fish** (a prompt function's output, which fish never expands): colours as `set_color`
//!   writes them; data is only cleaned.
//!
//! Colours end with "default foreground" / "normal intensity", never a full reset, so the
//! user's own prompt around the segment keeps its style.

use super::markup::{Prompt, Shell};
use super::segment::write_segment;
use super::{Format, RenderConfig};
use crate::wire::snapshot::Snapshot;

/// The segment for `shell`'s prompt.
pub fn render(shell: Shell, snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    let mut out = String::new();
    let m = Prompt {
        shell,
        color: !cfg.no_color,
    };
    let format = match shell {
        Shell::Bash => Format::Bash,
        Shell::Zsh => Format::Zsh,
        Shell::Fish => Format::Fish,
    };
    write_segment(
        &mut out,
        &m,
        cfg.template.for_format(format),
        snap,
        now_ms,
        cfg,
    );
    out
}
