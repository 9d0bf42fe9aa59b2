//! waybar (a `custom` module with `"return-type": "json"`): one JSON object per line.
//!
//! ```json
//! {"text":"…","alt":"busy","tooltip":"…","class":["busy","done","unvisited"]}
//! ```
//! - `text`: the segment in Pango markup (data escaped; colours as `<span foreground>` unless
//!   `no_color`); empty when nothing is relevant, which hides the module.
//! - `alt`: the most urgent state present, for `format-icons`: `waiting`, `error`, `retry`,
//!   `busy`, `done`, `aborted`, `unknown`, else `idle`; `offline` when no server is connected.
//! - `class`: the states present in that order, then `unvisited` when a finished session has
//!   not been opened, or just `offline`. Style them in waybar's CSS: `#custom-ocbar.waiting`.
//! - `tooltip`: the panel (one line per session), Pango markup.

use super::escape::push_json_str;
use super::markup::Pango;
use super::panel::write_panel;
use super::segment::{BY_URGENCY, Summary, write_segment};
use super::{Format, RenderConfig};
use crate::wire::snapshot::Snapshot;

pub fn render(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    let m = Pango {
        color: !cfg.no_color,
        i3blocks: false,
    };
    let mut text = String::new();
    write_segment(
        &mut text,
        &m,
        cfg.template.for_format(Format::Waybar),
        snap,
        now_ms,
        cfg,
    );
    let mut tooltip = String::new();
    write_panel(&mut tooltip, &m, snap, now_ms, cfg);

    let mut out = String::with_capacity(text.len() + tooltip.len() + 96);
    out.push_str("{\"text\":");
    push_json_str(&mut out, &text);

    let offline = snap.offline();
    let sum = Summary::new(snap);
    let alt = if offline {
        "offline"
    } else {
        BY_URGENCY
            .iter()
            .find(|&&st| sum.count(st) > 0)
            .map_or("idle", |st| st.as_str())
    };
    out.push_str(",\"alt\":\"");
    out.push_str(alt);
    out.push_str("\",\"tooltip\":");
    push_json_str(&mut out, &tooltip);

    out.push_str(",\"class\":[");
    let mut first = true;
    let mut class = |out: &mut String, name: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(name);
        out.push('"');
    };
    if offline {
        class(&mut out, "offline");
    } else {
        for st in BY_URGENCY.iter().filter(|&&st| sum.count(st) > 0) {
            class(&mut out, st.as_str());
        }
        if sum.unvisited > 0 {
            class(&mut out, "unvisited");
        }
    }
    out.push_str("]}");
    out
}
