//! Plain text: the segment with no styling and no escaping beyond cleaning.

use super::markup::Plain;
use super::segment::write_segment;
use super::{Format, RenderConfig};
use crate::wire::snapshot::Snapshot;

pub fn render(snap: &Snapshot, now_ms: i64, cfg: &RenderConfig) -> String {
    let mut out = String::new();
    let template = cfg.template.for_format(Format::Plain);
    write_segment(&mut out, &Plain, template, snap, now_ms, cfg);
    out
}
