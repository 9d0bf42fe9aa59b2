//! `--format json`: the snapshot itself, one object on one line (see `crate::wire::snapshot`).

use crate::wire::snapshot::Snapshot;

pub fn render(snap: &Snapshot) -> String {
    // Serializing plain structs with string keys cannot fail.
    serde_json::to_string(snap).unwrap_or_else(|e| {
        let mut out = String::from("{\"error\":");
        super::escape::push_json_str(&mut out, &e.to_string());
        out.push('}');
        out
    })
}
