/*!
OpenCode's TUI config, as ocbar reads and edits it: OpenCode 1's `tui.json` / `tui.jsonc` and
OpenCode 2's `cli.json` in OpenCode's global config directory (`paths::opencode_config_dir`).
What matters to ocbar: whether the plugin is where OpenCode loads it (`doctor`'s hints), and
`attention` (whether OpenCode notifies by itself, `daemon::notify::opencode`).

The files are JSON with comments (JSONC), as OpenCode reads them. This is the one JSONC
implementation: the `jsonc-parser` crate's tree (CST), which keeps every comment and space, so
reading ([`read_jsonc`]) and editing ([`add_to_list`], [`remove_from_list`], used by
`client::install`) share one grammar and an edit changes only the list it edits.
*/

use std::path::{Path, PathBuf};

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstArray, CstInputValue, CstNode, CstRootNode};
use serde_json::Value;

/// How `tui.json` names the plugin (relative to OpenCode's config directory).
pub const PLUGIN_SPEC: &str = "./plugins/ocbar.tsx";

/// Whether a `"plugin"` entry's spec names the ocbar plugin (however it was written).
pub fn names_us(spec: &str) -> bool {
    spec == PLUGIN_SPEC
        || spec == "plugins/ocbar.tsx"
        || spec.ends_with("/opencode/plugins/ocbar.tsx")
}

/// How OpenCode reads its JSONC files (the `jsonc-parser` npm package with
/// `allowTrailingComma`): comments and trailing commas, nothing else beyond JSON.
fn parse_options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// Parse JSONC into a tree that keeps every comment and space, so that an edit changes only
/// what it edits. The error says where (line and column).
pub fn parse(text: &str) -> Result<CstRootNode, String> {
    CstRootNode::parse(text, &parse_options()).map_err(|e| e.to_string())
}

/// A JSONC text as JSON (`Value::Null` for an empty file).
pub fn to_value(text: &str) -> Result<Value, String> {
    Ok(parse(text)?.to_serde_value().unwrap_or(Value::Null))
}

/// A JSONC file as JSON. `Ok(None)`: there is no such file; `Err`: it cannot be read or parsed
/// (the message names the file).
pub fn read_jsonc(path: &Path) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    to_value(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The spec of one entry of a plugin list: a string (`tui.json`'s `plugin`, `cli.json`'s
/// `plugins`), the first element of `[spec, options]` (`tui.json`), or `package` of
/// `{package, options}` (`cli.json`).
pub fn entry_spec(entry: &Value) -> Option<&str> {
    match entry {
        Value::String(s) => Some(s),
        Value::Array(pair) => pair.first().and_then(Value::as_str),
        Value::Object(o) => o.get("package").and_then(Value::as_str),
        _ => None,
    }
}

/// The top-level object's list `key`, if there is one (an error when it is not a list).
fn list_of(root: &CstRootNode, key: &str) -> Result<Option<CstArray>, String> {
    let Some(obj) = root.object_value() else {
        return Err("the top level is not an object".into());
    };
    // The last duplicate key wins, as in JavaScript.
    let Some(prop) = obj
        .properties()
        .into_iter()
        .rev()
        .find(|p| p.decoded_name().as_deref() == Some(key))
    else {
        return Ok(None);
    };
    prop.array_value()
        .map(Some)
        .ok_or_else(|| format!("its \"{key}\" entry is not a list"))
}

/// The elements of list `key` that name this plugin.
fn ours(list: &CstArray, names: fn(&str) -> bool) -> Vec<CstNode> {
    list.elements()
        .into_iter()
        .filter(|e| {
            e.to_serde_value()
                .is_some_and(|v| entry_spec(&v).is_some_and(names))
        })
        .collect()
}

/// `text` with `spec` appended to the top-level list `key` (created if missing), keeping
/// comments and layout; `None` when an entry `names` already matches.
pub fn add_to_list(
    text: &str,
    key: &str,
    spec: &str,
    names: fn(&str) -> bool,
) -> Result<Option<String>, String> {
    let root = parse(text)?;
    if root.value().is_none() {
        root.set_value(CstInputValue::Object(vec![]));
    }
    match list_of(&root, key)? {
        Some(list) if !ours(&list, names).is_empty() => return Ok(None),
        Some(list) => {
            list.append(CstInputValue::String(spec.to_string()));
        }
        None => {
            let obj = root
                .object_value()
                .ok_or("the top level is not an object")?;
            obj.append(
                key,
                CstInputValue::Array(vec![CstInputValue::String(spec.to_string())]),
            );
        }
    }
    checked(root.to_string(), key, names, true).map(Some)
}

/// `text` without the entries of list `key` that `names` matches, keeping everything else;
/// `None` when there is none.
pub fn remove_from_list(
    text: &str,
    key: &str,
    names: fn(&str) -> bool,
) -> Result<Option<String>, String> {
    let root = parse(text)?;
    if root.value().is_none() {
        return Ok(None);
    }
    let Some(list) = list_of(&root, key)? else {
        return Ok(None);
    };
    let found = ours(&list, names);
    if found.is_empty() {
        return Ok(None);
    }
    for e in found {
        e.remove();
    }
    checked(root.to_string(), key, names, false).map(Some)
}

/// Never write something that does not read back as intended.
fn checked(
    out: String,
    key: &str,
    names: fn(&str) -> bool,
    listed: bool,
) -> Result<String, String> {
    let root =
        parse(&out).map_err(|e| format!("internal error, the edit would not parse ({e})"))?;
    let now = list_of(&root, key)?.is_some_and(|l| !ours(&l, names).is_empty());
    if now != listed {
        return Err(format!("internal error: the edit did not change \"{key}\""));
    }
    Ok(out)
}

/// Whether the plugin is installed where OpenCode looks for it: what `doctor`'s hints follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginState {
    /// OpenCode 1: this `tui.json` (or `tui.jsonc`) lists the plugin, and the plugin files are
    /// there.
    Installed(PathBuf),
    /// OpenCode 2: its plugin (this `tui.tsx`) and the core are where it discovers them.
    InstalledV2(PathBuf),
    /// OpenCode 1: this file lists the plugin, but `plugins/ocbar.tsx` (or the core it
    /// imports) is missing.
    FileMissing(PathBuf),
    /// OpenCode 2: this `cli.json` lists the OpenCode 1 plugin (copied by OpenCode 2's
    /// migration from `tui.json`), which OpenCode 2 refuses to load.
    V1InCliJson(PathBuf),
    /// No `tui.json`, or its plugin list does not name this plugin.
    NotInstalled,
    /// A config file cannot be read or parsed (the message says which and why).
    Unreadable(String),
}

/// The OpenCode 1 plugin, relative to OpenCode's config directory.
pub const V1_FILE: &str = "plugins/ocbar.tsx";
/// What both plugins import.
pub const CORE_FILE: &str = "plugins/ocbar/core.tsx";
/// The OpenCode 2 plugin (OpenCode 2 discovers `plugins/<name>/tui.tsx`).
pub const V2_FILE: &str = "plugins/ocbar/tui.tsx";

/// Look (only look) at `dir`, OpenCode's global config directory. With a `cli.json` (OpenCode
/// 2 has run) OpenCode 2's places count, else OpenCode 1's.
pub fn plugin_state(dir: &Path) -> PluginState {
    let cli = dir.join("cli.json");
    if cli.is_file() {
        return plugin_state_v2(dir, &cli);
    }
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
        match lists_us(&v, "plugin") {
            Ok(false) => {}
            Ok(true) => {
                return if dir.join(V1_FILE).is_file() && dir.join(CORE_FILE).is_file() {
                    PluginState::Installed(path)
                } else {
                    PluginState::FileMissing(path)
                };
            }
            Err(e) => {
                unreadable.get_or_insert(format!("{}: {e}", path.display()));
            }
        }
    }
    unreadable.map_or(PluginState::NotInstalled, PluginState::Unreadable)
}

fn plugin_state_v2(dir: &Path, cli: &Path) -> PluginState {
    match read_jsonc(cli) {
        Err(e) => return PluginState::Unreadable(e),
        Ok(Some(v)) if lists_us(&v, "plugins") == Ok(true) => {
            return PluginState::V1InCliJson(cli.to_path_buf());
        }
        Ok(_) => {}
    }
    if dir.join(V2_FILE).is_file() && dir.join(CORE_FILE).is_file() {
        PluginState::InstalledV2(dir.join(V2_FILE))
    } else {
        PluginState::NotInstalled
    }
}

/// Whether list `key` of a config names the (OpenCode 1) plugin; an error when it is no list.
fn lists_us(v: &Value, key: &str) -> Result<bool, String> {
    match v.get(key) {
        None => Ok(false),
        Some(Value::Array(list)) => Ok(list.iter().any(|e| entry_spec(e).is_some_and(names_us))),
        Some(_) => Err(format!("its \"{key}\" entry is not a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonc_is_read() {
        let v = to_value("{\n // c\n \"a\": \"x // not a comment\", /* b */ \"l\": [1, 2,],\n}")
            .unwrap();
        assert_eq!(v["a"], "x // not a comment");
        assert_eq!(v["l"], serde_json::json!([1, 2]));
        // A comment between the last element and its trailing comma's bracket: the shape the
        // installer writes and `doctor` and `notify` must read back (once two grammars
        // disagreed on it).
        let v = to_value("{\"plugin\": [\"x\", // c\n]}").unwrap();
        assert_eq!(v["plugin"], serde_json::json!(["x"]));
        let added = add_to_list(
            "{\"plugin\": [\"x\", // c\n]}",
            "plugin",
            PLUGIN_SPEC,
            names_us,
        )
        .unwrap()
        .unwrap();
        assert!(added.contains("// c"), "{added}");
        assert_eq!(
            to_value(&added).unwrap()["plugin"],
            serde_json::json!(["x", PLUGIN_SPEC])
        );
        for bad in [
            "{\"a\": 1 \"b\": 2}",
            "{'a': 1}",
            "{a: 1}",
            "{\"a\": 0x1}",
            "{\"a\": 1} {}",
        ] {
            assert!(to_value(bad).is_err(), "{bad}");
        }
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
        std::fs::create_dir_all(d.path().join("plugins/ocbar")).unwrap();
        std::fs::write(d.path().join("plugins/ocbar.tsx"), "x").unwrap();
        std::fs::write(d.path().join("plugins/ocbar/core.tsx"), "x").unwrap();
        assert_eq!(plugin_state(d.path()), PluginState::Installed(jsonc));
        std::fs::write(d.path().join("tui.json"), "{ broken").unwrap();
        std::fs::remove_file(d.path().join("tui.jsonc")).unwrap();
        assert!(
            matches!(plugin_state(d.path()), PluginState::Unreadable(e) if e.contains("tui.json"))
        );
    }
}
