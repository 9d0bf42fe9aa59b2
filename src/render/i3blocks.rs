//! i3blocks (a block with `format=json` and `markup=pango`, see `integrations/i3blocks/`): one
//! JSON object, which i3blocks hands on to i3bar.
//!
//! ```json
//! {"full_text":"…","short_text":"…","color":"#a6e3a1","urgent":"true"}
//! ```
//! - `full_text`: the segment in Pango markup (data escaped), as waybar's `text`; empty when
//!   nothing is relevant, which hides the block.
//! - `short_text`: the counts alone ([`SHORT_TEMPLATE`]), what i3bar shows when the bar is full.
//! - `color`: the colour of the most urgent state present (the offline marker's when no server
//!   is connected), for the parts of the text without a colour of their own.
//! - Neither `"` nor `\` appears inside the strings (attributes in single quotes, `&quot;` and
//!   `&#92;` for data): i3blocks 1.4 reads a JSON string up to its first `"`, escaped or not,
//!   and hands the raw text to i3bar.
//! - `urgent`: present while a session waits for the user or has just failed (an unvisited
//!   error). The string `"true"`: i3blocks 1.4 drops a JSON boolean there and passes the string
//!   on to i3bar as `true`.

use super::escape::push_json_str;
use super::markup::Pango;
use super::segment::{BY_URGENCY, Summary, write_segment};
use super::{Format, RenderConfig};
use crate::wire::snapshot::{SessionState, Snapshot};

/// What `short_text` shows: the glyph and count of each state, and of unvisited sessions.
pub const SHORT_TEMPLATE: &str = "{busy}{retry}{waiting}{done}{error}{aborted}{unknown}{unvisited}";

/// The block as one JSON object.
pub fn render(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    let m = Pango {
        color: !cfg.no_color,
        i3blocks: true,
    };
    let mut full = String::new();
    let template = cfg.template.for_format(Format::I3blocks);
    write_segment(&mut full, &m, template, snap, now_ms, cfg);
    let mut short = String::new();
    write_segment(&mut short, &m, SHORT_TEMPLATE, snap, now_ms, cfg);

    let mut out = String::with_capacity(full.len() + short.len() + 64);
    out.push_str("{\"full_text\":");
    push_json_str(&mut out, &full);
    out.push_str(",\"short_text\":");
    push_json_str(&mut out, &short);

    let sum = Summary::new(snap);
    let color = if snap.offline() {
        Some(cfg.colors.unknown)
    } else {
        BY_URGENCY
            .iter()
            .find(|&&st| sum.count(st) > 0)
            .map(|&st| cfg.colors.state(st))
    };
    if let Some(c) = color.filter(|c| !cfg.no_color && c.is_set()) {
        out.push_str(",\"color\":\"");
        c.write_hex(&mut out);
        out.push('"');
    }
    let urgent = !snap.offline()
        && snap.roots().any(|s| {
            s.state == SessionState::Waiting || (s.state == SessionState::Error && s.unvisited)
        });
    if urgent {
        out.push_str(",\"urgent\":\"true\"");
    }
    out.push('}');
    out
}
