//! tmux: the segment with `#[fg=…]` styles, for `#(ocbar status --format tmux)`.
//!
//! tmux parses a `#()` job's output as a format, so every `#` coming from data is doubled and
//! control characters never get through; the output is one line (tmux only keeps the last).

use super::markup::Tmux;
use super::segment::write_segment;
use super::{Format, RenderConfig};
use crate::wire::snapshot::Snapshot;

pub fn render(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    let mut out = String::new();
    let template = cfg.template.for_format(Format::Tmux);
    let m = Tmux {
        color: !cfg.no_color,
    };
    write_segment(&mut out, &m, template, snap, now_ms, cfg);
    out
}
