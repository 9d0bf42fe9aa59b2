//! starship (a `[custom]` module): the segment in plain text with SGR colours, or plain text
//! when `no_color` is set. Colours are reset to the default foreground (`ESC[39m`), not with a
//! full reset, so the module's own style around the output survives.

use super::markup::Sgr;
use super::segment::write_segment;
use super::{Format, RenderConfig};
use crate::wire::snapshot::Snapshot;

pub fn render(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    let mut out = String::new();
    let template = cfg.template.for_format(Format::Starship);
    let m = Sgr {
        color: !cfg.no_color,
    };
    write_segment(&mut out, &m, template, snap, now_ms, cfg);
    out
}
