/*!
OpenCode's TUI config, as ocbar reads it: `tui.json` / `tui.jsonc` in OpenCode's global config
directory (`paths::opencode_config_dir`). Two things in it matter to ocbar: whether its
`"plugin"` list names the ocbar plugin (`doctor`'s hints), and `attention` (whether OpenCode
notifies by itself). The files are JSON with comments (JSONC), as OpenCode reads them.

Reading is here; `client::install` keeps its own token-level editor, because an edit must keep
the user's comments and layout, which a parsed value has lost.
*/

use std::path::{Path, PathBuf};

use serde_json::Value;

/// How `tui.json` names the plugin (relative to OpenCode's config directory).
pub const PLUGIN_SPEC: &str = "./plugins/ocbar.tsx";

/// Whether a `"plugin"` entry's spec names the ocbar plugin (however it was written).
pub fn names_us(spec: &str) -> bool {
    spec == PLUGIN_SPEC
        || spec == "plugins/ocbar.tsx"
        || spec.ends_with("/opencode/plugins/ocbar.tsx")
}

/// A JSONC file as JSON. `Ok(None)`: there is no such file; `Err`: it cannot be read or parsed
/// (the message names the file).
pub fn read_jsonc(path: &Path) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    serde_json::from_str(&strip_jsonc(&text))
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Remove comments and trailing commas outside strings.
pub fn strip_jsonc(text: &str) -> String {
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
                out.extend_from_slice(&b[start..i]);
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i = (i + 2).min(b.len());
            }
            b',' => {
                let next = b[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
                if !matches!(next, Some(b'}') | Some(b']')) {
                    out.push(b',');
                }
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether OpenCode's config directory lists this plugin: what `doctor`'s hints follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginState {
    /// This `tui.json` (or `tui.jsonc`) lists the plugin, and the plugin file is there.
    Installed(PathBuf),
    /// This file lists the plugin, but `plugins/ocbar.tsx` is missing.
    FileMissing(PathBuf),
    /// No `tui.json`, or its plugin list does not name this plugin.
    NotInstalled,
    /// A config file cannot be read or parsed (the message says which and why).
    Unreadable(String),
}

/// Look (only look) at `dir`, OpenCode's global config directory.
pub fn plugin_state(dir: &Path) -> PluginState {
    let mut unreadable = None;
    for name in ["tui.json", "tui.jsonc"] {
        let path = dir.join(name);
        let v = match read_jsonc(&path) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => {
                unreadable.get_or_insert(e);
                continue;
            }
        };
        let listed = match v.get("plugin") {
            None => false,
            Some(Value::Array(list)) => list.iter().any(|entry| {
                let spec = match entry {
                    Value::Array(pair) => pair.first(),
                    other => Some(other),
                };
                spec.and_then(Value::as_str).is_some_and(names_us)
            }),
            Some(_) => {
                unreadable.get_or_insert(format!(
                    "{}: its \"plugin\" entry is not a list",
                    path.display()
                ));
                false
            }
        };
        if listed {
            return if dir.join("plugins/ocbar.tsx").is_file() {
                PluginState::Installed(path)
            } else {
                PluginState::FileMissing(path)
            };
        }
    }
    unreadable.map_or(PluginState::NotInstalled, PluginState::Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonc_is_read() {
        let v: Value = serde_json::from_str(&strip_jsonc(
            "{\n // c\n \"a\": \"x // not a comment\", /* b */ \"l\": [1, 2,],\n}",
        ))
        .unwrap();
        assert_eq!(v["a"], "x // not a comment");
        assert_eq!(v["l"], serde_json::json!([1, 2]));
    }

    #[test]
    fn the_plugin_state_follows_the_files() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(plugin_state(d.path()), PluginState::NotInstalled);
        std::fs::write(
            d.path().join("tui.json"),
            "{ /* mine */ \"plugin\": [\"other\",],}",
        )
        .unwrap();
        assert_eq!(plugin_state(d.path()), PluginState::NotInstalled);
        std::fs::write(
            d.path().join("tui.jsonc"),
            "{\"plugin\": [[\"./plugins/ocbar.tsx\", {}]]}",
        )
        .unwrap();
        let jsonc = d.path().join("tui.jsonc");
        assert_eq!(
            plugin_state(d.path()),
            PluginState::FileMissing(jsonc.clone())
        );
        std::fs::create_dir(d.path().join("plugins")).unwrap();
        std::fs::write(d.path().join("plugins/ocbar.tsx"), "x").unwrap();
        assert_eq!(plugin_state(d.path()), PluginState::Installed(jsonc));
        std::fs::write(d.path().join("tui.json"), "{ broken").unwrap();
        std::fs::remove_file(d.path().join("tui.jsonc")).unwrap();
        assert!(
            matches!(plugin_state(d.path()), PluginState::Unreadable(e) if e.contains("tui.json"))
        );
    }
}
