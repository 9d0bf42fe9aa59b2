//! polybar (a `custom/script` module, `tail = true`, fed by `ocbar watch --format polybar`):
//! the segment with polybar's own tags, `%{F#rrggbb}…%{F-}` in the dark-bar palette waybar
//! uses, the unvisited title underlined in its colour.
//!
//! polybar parses `%{` as a tag anywhere in a script's line and has no escape for it there, so
//! data gets a zero-width space between `%` and `{` ([`super::escape::push_polybar`]): a title
//! such as `%{A1:touch pwned:}x%{A}` is drawn as that text and is no click action. Actions come
//! only from the module's own `click-left` (`integrations/polybar/ocbar.ini`).

use super::markup::Polybar;
use super::segment::write_segment;
use super::{Format, RenderConfig};
use crate::wire::snapshot::Snapshot;

/// The segment as one polybar line.
pub fn render(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    let mut out = String::new();
    let m = Polybar {
        color: !cfg.no_color,
    };
    let template = cfg.template.for_format(Format::Polybar);
    write_segment(&mut out, &m, template, snap, now_ms, cfg);
    out
}
