//! `ocbar install opencode-plugin [--uninstall]`: put the TUI plugin
//! (`integrations/opencode/ocbar.tsx`, embedded in the binary) into OpenCode's global config
//! directory and list it in `tui.json`.
//!
//! - The directory is `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode` (where OpenCode
//!   1.18 reads its global `tui.json` and `tui.jsonc`).
//! - The plugin goes to `plugins/ocbar.tsx` (rewritten when it differs: that is the upgrade).
//! - `tui.json` is JSON with comments (OpenCode accepts `//`, `/* */` and trailing commas). It is
//!   edited in place, as text: only the `"plugin"` list changes; comments, order, spacing and
//!   every other entry stay as they were. A file that cannot be parsed is an error naming it
//!   and is left untouched. With neither `tui.json` nor `tui.jsonc`, `tui.json` is created.
//! - Running it twice changes nothing the second time; `--uninstall` removes the entry and the
//!   plugin file, and leaves the rest of `tui.json` alone.

use std::path::{Path, PathBuf};

/// The plugin, as shipped.
pub const PLUGIN_SOURCE: &str = include_str!("../../integrations/opencode/ocbar.tsx");

pub use crate::opencode_config::PLUGIN_SPEC;

/// OpenCode's global config directory: `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`.
pub fn opencode_config_dir() -> Result<PathBuf, String> {
    crate::paths::opencode_config_dir().ok_or_else(|| {
        "neither XDG_CONFIG_HOME nor HOME is set: cannot find OpenCode's config directory"
            .to_string()
    })
}

/// Install into `dir`; returns one line per thing done (or found already done).
pub fn install(dir: &Path) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let plugins = dir.join("plugins");
    let file = plugins.join("ocbar.tsx");
    // Check tui.json before writing anything: an unparsable file stops everything.
    let (config, text) = pick_config(dir)?;
    let edited = match &text {
        Some(t) => add_entry(t).map_err(|e| unparsable(&config, &e))?,
        None => Some(format!(
            "{{\n  \"$schema\": \"https://opencode.ai/tui.json\",\n  \"plugin\": [\"{PLUGIN_SPEC}\"]\n}}\n"
        )),
    };
    std::fs::create_dir_all(&plugins)
        .map_err(|e| format!("cannot create {}: {e}", plugins.display()))?;
    match std::fs::read_to_string(&file) {
        Ok(old) if old == PLUGIN_SOURCE => done.push(format!("{}: up to date", file.display())),
        old => {
            write_file(&file, PLUGIN_SOURCE)?;
            done.push(format!(
                "{}: {}",
                file.display(),
                if old.is_ok() { "updated" } else { "written" }
            ));
        }
    }
    match edited {
        Some(new) => {
            write_file(&config, &new)?;
            done.push(format!(
                "{}: {} \"{PLUGIN_SPEC}\" in \"plugin\"",
                config.display(),
                if text.is_some() {
                    "added"
                } else {
                    "created with"
                }
            ));
        }
        None => done.push(format!("{}: already lists the plugin", config.display())),
    }
    done.push(
        "restart your OpenCode TUIs to load it; the panel shows in the session sidebar".into(),
    );
    Ok(done)
}

/// Undo [`install`] in `dir`.
pub fn uninstall(dir: &Path) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for name in ["tui.json", "tui.jsonc"] {
        let config = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&config) else {
            continue;
        };
        match remove_entry(&text).map_err(|e| unparsable(&config, &e))? {
            Some(new) => {
                write_file(&config, &new)?;
                done.push(format!(
                    "{}: removed \"{PLUGIN_SPEC}\" from \"plugin\"",
                    config.display()
                ));
            }
            None => done.push(format!("{}: does not list the plugin", config.display())),
        }
    }
    let file = dir.join("plugins/ocbar.tsx");
    match std::fs::remove_file(&file) {
        Ok(()) => done.push(format!("{}: removed", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            done.push(format!("{}: not there", file.display()))
        }
        Err(e) => return Err(format!("cannot remove {}: {e}", file.display())),
    }
    Ok(done)
}

fn unparsable(config: &Path, e: &str) -> String {
    format!(
        "cannot edit {}: {e}. It was left unchanged: fix it, or add \"{PLUGIN_SPEC}\" to its \"plugin\" list yourself",
        config.display()
    )
}

/// The config file to edit and its text: one that already lists the plugin, else `tui.json`
/// if it exists, else `tui.jsonc` if it exists, else a new `tui.json`.
fn pick_config(dir: &Path) -> Result<(PathBuf, Option<String>), String> {
    let mut existing = Vec::new();
    for name in ["tui.json", "tui.jsonc"] {
        let p = dir.join(name);
        match std::fs::read_to_string(&p) {
            Ok(t) => existing.push((p, t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", p.display())),
        }
    }
    for (p, t) in &existing {
        if let Ok(doc) = parse(t)
            && matches!(find_ours(t, &doc), Ok(Some(_)))
        {
            return Ok((p.clone(), Some(t.clone())));
        }
    }
    Ok(match existing.into_iter().next() {
        Some((p, t)) => (p, Some(t)),
        None => (dir.join("tui.json"), None),
    })
}

/// Write atomically and durably, keeping the old file's permissions.
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    crate::atomic_file::write(
        path,
        text.as_bytes(),
        crate::atomic_file::Mode::KeepOrDefault,
    )
    .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

// ------------------------------------------------------------------------------------------------
// JSON with comments, edited as text

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Open(u8),
    Close(u8),
    Colon,
    Comma,
    Str,
    Lit,
}

/// Tokens with their byte spans; comments and whitespace skipped.
fn tokens(text: &str) -> Result<Vec<(Tok, usize, usize)>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |i: usize, what: &str| {
        let line = text[..i.min(text.len())].matches('\n').count() + 1;
        format!("{what} at line {line}")
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..]
                    .find("*/")
                    .ok_or_else(|| err(i, "unterminated comment"))?;
                i += 2 + end + 2;
            }
            b'{' | b'[' => {
                out.push((Tok::Open(c), i, i + 1));
                i += 1;
            }
            b'}' | b']' => {
                out.push((Tok::Close(c), i, i + 1));
                i += 1;
            }
            b':' => {
                out.push((Tok::Colon, i, i + 1));
                i += 1;
            }
            b',' => {
                out.push((Tok::Comma, i, i + 1));
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None | Some(b'\n') => return Err(err(start, "unterminated string")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                out.push((Tok::Str, start, i));
            }
            c if c == b'-' || c.is_ascii_alphanumeric() || c == b'.' || c == b'+' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b"-+.".contains(&b[i])) {
                    i += 1;
                }
                let lit = &text[start..i];
                let ok = matches!(lit, "true" | "false" | "null") || lit.parse::<f64>().is_ok();
                if !ok {
                    return Err(err(start, &format!("unexpected '{lit}'")));
                }
                out.push((Tok::Lit, start, i));
            }
            _ => return Err(err(i, &format!("unexpected character '{}'", c as char))),
        }
    }
    Ok(out)
}

/// A parsed value: its token range and, for arrays and objects, its members.
#[derive(Debug)]
struct Value {
    /// Byte span of the whole value.
    start: usize,
    end: usize,
    /// Object members (key text decoded, value) or array elements (key None).
    members: Vec<(Option<String>, Value)>,
    kind: Tok,
    /// For arrays and objects: the byte index of the opening bracket's end and of the closing
    /// bracket.
    inner: (usize, usize),
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
}

impl Parser<'_> {
    fn line(&self, at: usize) -> usize {
        self.text[..at.min(self.text.len())].matches('\n').count() + 1
    }

    fn next(&mut self) -> Result<(Tok, usize, usize), String> {
        let t = self
            .toks
            .get(self.pos)
            .copied()
            .ok_or_else(|| "unexpected end of file".to_string())?;
        self.pos += 1;
        Ok(t)
    }

    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).map(|t| t.0)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > 64 {
            return Err("nested too deeply".into());
        }
        let (tok, start, end) = self.next()?;
        match tok {
            Tok::Str | Tok::Lit => Ok(Value {
                start,
                end,
                members: Vec::new(),
                kind: tok,
                inner: (end, end),
            }),
            Tok::Open(open) => {
                let close = if open == b'{' { b'}' } else { b']' };
                let mut members = Vec::new();
                loop {
                    if self.peek() == Some(Tok::Close(close)) {
                        let (_, cstart, cend) = self.next()?;
                        return Ok(Value {
                            start,
                            end: cend,
                            members,
                            kind: tok,
                            inner: (end, cstart),
                        });
                    }
                    let key = if open == b'{' {
                        let (kt, ks, ke) = self.next()?;
                        if kt != Tok::Str {
                            return Err(format!("expected a key at line {}", self.line(ks)));
                        }
                        let key: String = serde_json::from_str(&self.text[ks..ke])
                            .map_err(|_| format!("bad key at line {}", self.line(ks)))?;
                        let (ct, cs, _) = self.next()?;
                        if ct != Tok::Colon {
                            return Err(format!("expected ':' at line {}", self.line(cs)));
                        }
                        Some(key)
                    } else {
                        None
                    };
                    let v = self.value(depth + 1)?;
                    members.push((key, v));
                    match self.next()? {
                        (Tok::Comma, _, _) => {}
                        (Tok::Close(c), cs, ce) if c == close => {
                            return Ok(Value {
                                start,
                                end: ce,
                                members,
                                kind: tok,
                                inner: (end, cs),
                            });
                        }
                        (_, s, _) => {
                            return Err(format!(
                                "expected ',' or a closing bracket at line {}",
                                self.line(s)
                            ));
                        }
                    }
                }
            }
            _ => Err(format!("unexpected token at line {}", self.line(start))),
        }
    }
}

/// A parsed config document.
struct Doc {
    root: Value,
}

fn parse(text: &str) -> Result<Doc, String> {
    let toks = tokens(text)?;
    let mut p = Parser { text, toks, pos: 0 };
    let root = p.value(0)?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected content after the top-level object at line {}",
            p.line(p.toks[p.pos].1)
        ));
    }
    if root.kind != Tok::Open(b'{') {
        return Err("the top level is not an object".into());
    }
    Ok(Doc { root })
}

impl Doc {
    fn plugin_list(&self) -> Option<&Value> {
        self.root
            .members
            .iter()
            .rev() // the last duplicate key wins, as in JavaScript
            .find(|(k, _)| k.as_deref() == Some("plugin"))
            .map(|(_, v)| v)
    }
}

/// Whether an element of `"plugin"` names this plugin.
fn names_us(text: &str, v: &Value) -> bool {
    let spec = match v.kind {
        Tok::Str => &text[v.start..v.end],
        Tok::Open(b'[') => match v.members.first() {
            Some((_, first)) if first.kind == Tok::Str => &text[first.start..first.end],
            _ => return false,
        },
        _ => return false,
    };
    let Ok(spec) = serde_json::from_str::<String>(spec) else {
        return false;
    };
    crate::opencode_config::names_us(&spec)
}

fn find_ours(text: &str, doc: &Doc) -> Result<Option<usize>, String> {
    match doc.plugin_list() {
        None => Ok(None),
        Some(list) if list.kind != Tok::Open(b'[') => {
            Err("its \"plugin\" entry is not a list".into())
        }
        Some(list) => Ok(list.members.iter().position(|(_, v)| names_us(text, v))),
    }
}

/// `text` with our entry added to `"plugin"`; `None` when it is already there.
fn add_entry(text: &str) -> Result<Option<String>, String> {
    if text.trim().is_empty() {
        return Ok(Some(format!("{{\n  \"plugin\": [\"{PLUGIN_SPEC}\"]\n}}\n")));
    }
    let doc = parse(text)?;
    if find_ours(text, &doc)?.is_some() {
        return Ok(None);
    }
    let entry = format!("\"{PLUGIN_SPEC}\"");
    let mut out = String::with_capacity(text.len() + 64);
    match doc.plugin_list() {
        Some(list) => match list.members.last() {
            Some((_, last)) => {
                out.push_str(&text[..last.end]);
                out.push_str(", ");
                out.push_str(&entry);
                out.push_str(&text[last.end..]);
            }
            None => {
                out.push_str(&text[..list.inner.0]);
                out.push_str(&entry);
                out.push_str(&text[list.inner.1..]);
            }
        },
        None => {
            let at = doc.root.inner.0;
            let indent = match doc.root.members.first() {
                Some((_, v)) => {
                    // The indentation of the first member's line (its key starts it).
                    let line_start = text[..v.start].rfind('\n').map_or(0, |i| i + 1);
                    let ws: String = text[line_start..]
                        .chars()
                        .take_while(|c| *c == ' ' || *c == '\t')
                        .collect();
                    if ws.is_empty() { "  ".to_string() } else { ws }
                }
                None => "  ".to_string(),
            };
            out.push_str(&text[..at]);
            out.push('\n');
            out.push_str(&indent);
            out.push_str(&format!("\"plugin\": [{entry}]"));
            if !doc.root.members.is_empty() {
                out.push(',');
            } else {
                out.push('\n');
            }
            out.push_str(&text[at..]);
        }
    }
    // Never write something that does not parse back.
    let check =
        parse(&out).map_err(|e| format!("internal error, the edit would not parse ({e})"))?;
    if find_ours(&out, &check)?.is_none() {
        return Err("internal error: the edit did not add the entry".into());
    }
    Ok(Some(out))
}

/// `text` without our entry in `"plugin"`; `None` when it is not there.
fn remove_entry(text: &str) -> Result<Option<String>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let doc = parse(text)?;
    let Some(i) = find_ours(text, &doc)? else {
        return Ok(None);
    };
    let Some(list) = doc.plugin_list() else {
        return Ok(None);
    };
    let v = &list.members[i].1;
    // Remove the element and one separating comma (the one after it, else the one before).
    let after = &text[v.end..list.inner.1];
    let (from, to) = match next_comma(after) {
        Some(off) => {
            let mut to = v.end + off + 1;
            // and the spaces that followed the comma on the same line
            while to < list.inner.1 && matches!(text.as_bytes()[to], b' ' | b'\t') {
                to += 1;
            }
            (v.start, to)
        }
        None if i > 0 => {
            let prev_end = list.members[i - 1].1.end;
            let between = &text[prev_end..v.start];
            match next_comma(between) {
                Some(off) => (prev_end + off, v.end),
                None => (v.start, v.end),
            }
        }
        None => (v.start, v.end),
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..from]);
    out.push_str(&text[to..]);
    parse(&out).map_err(|e| format!("internal error, the edit would not parse ({e})"))?;
    Ok(Some(out))
}

/// The offset of the first comma in `s` outside comments (`s` holds only whitespace, comments
/// and commas: the text between two values).
fn next_comma(s: &str) -> Option<usize> {
    let toks = tokens(s).ok()?;
    toks.iter().find(|t| t.0 == Tok::Comma).map(|t| t.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_added_keeping_everything_else() {
        let cases = [
            (
                "{\n  // my theme\n  \"theme\": \"tokyonight\",\n  \"plugin\": [\"other\", [\"pkg\", {\"a\": 1}],],\n}\n",
                "{\n  // my theme\n  \"theme\": \"tokyonight\",\n  \"plugin\": [\"other\", [\"pkg\", {\"a\": 1}], \"./plugins/ocbar.tsx\",],\n}\n",
            ),
            (
                "{\"plugin\": [ ]}",
                "{\"plugin\": [\"./plugins/ocbar.tsx\"]}",
            ),
            (
                "{\n\t\"theme\": \"x\" /* keep */\n}",
                "{\n\t\"plugin\": [\"./plugins/ocbar.tsx\"],\n\t\"theme\": \"x\" /* keep */\n}",
            ),
            ("{}", "{\n  \"plugin\": [\"./plugins/ocbar.tsx\"]\n}"),
        ];
        for (before, after) in cases {
            let got = add_entry(before).unwrap().unwrap();
            assert_eq!(got, after, "from {before:?}");
            assert_eq!(add_entry(&got).unwrap(), None, "idempotent");
            assert!(remove_entry(&got).unwrap().is_some());
        }
        assert!(add_entry("").unwrap().unwrap().contains(PLUGIN_SPEC));
    }

    #[test]
    fn entries_are_removed_with_one_comma() {
        let cases = [
            (
                "{\"plugin\": [\"a\", \"./plugins/ocbar.tsx\", \"b\"]}",
                "{\"plugin\": [\"a\", \"b\"]}",
            ),
            (
                "{\"plugin\": [\"a\", \"./plugins/ocbar.tsx\"]}",
                "{\"plugin\": [\"a\"]}",
            ),
            (
                "{\"plugin\": [\"./plugins/ocbar.tsx\"]}",
                "{\"plugin\": []}",
            ),
            (
                "{\"plugin\": [[\"./plugins/ocbar.tsx\", {}], \"b\"] // c\n}",
                "{\"plugin\": [\"b\"] // c\n}",
            ),
        ];
        for (before, after) in cases {
            assert_eq!(remove_entry(before).unwrap().unwrap(), after);
            assert_eq!(remove_entry(after).unwrap(), None);
        }
    }

    #[test]
    fn unparsable_files_are_errors() {
        for bad in [
            "{",
            "{\"plugin\": [\"a\" \"b\"]}",
            "[1]",
            "{\"plugin\": \"x\"}",
            "{\"a\": 1} {}",
            "{\"a\": /* open",
            "{\"a\": nope}",
        ] {
            assert!(add_entry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn install_and_uninstall_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("opencode");
        let first = install(&d).unwrap();
        assert!(first.iter().any(|l| l.contains("written")), "{first:?}");
        let tui = std::fs::read_to_string(d.join("tui.json")).unwrap();
        assert!(
            tui.contains(PLUGIN_SPEC) && tui.contains("$schema"),
            "{tui}"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("plugins/ocbar.tsx")).unwrap(),
            PLUGIN_SOURCE
        );
        let again = install(&d).unwrap();
        assert!(again.iter().any(|l| l.contains("up to date")), "{again:?}");
        assert!(
            again.iter().any(|l| l.contains("already lists")),
            "{again:?}"
        );
        assert_eq!(std::fs::read_to_string(d.join("tui.json")).unwrap(), tui);

        let out = uninstall(&d).unwrap();
        assert!(out.iter().any(|l| l.contains("removed")), "{out:?}");
        assert!(!d.join("plugins/ocbar.tsx").exists());
        assert!(
            !std::fs::read_to_string(d.join("tui.json"))
                .unwrap()
                .contains("ocbar")
        );

        // A file OpenCode could not read either is never overwritten.
        std::fs::write(d.join("tui.json"), "{ \"plugin\": [ }").unwrap();
        let err = install(&d).unwrap_err();
        assert!(
            err.contains("tui.json") && err.contains("unchanged"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("tui.json")).unwrap(),
            "{ \"plugin\": [ }"
        );
        assert!(
            !d.join("plugins/ocbar.tsx").exists(),
            "nothing written on error"
        );

        // tui.jsonc is used when it is the only file.
        std::fs::remove_file(d.join("tui.json")).unwrap();
        std::fs::write(d.join("tui.jsonc"), "// mine\n{ \"theme\": \"x\" }\n").unwrap();
        install(&d).unwrap();
        let jsonc = std::fs::read_to_string(d.join("tui.jsonc")).unwrap();
        assert!(
            jsonc.starts_with("// mine\n") && jsonc.contains(PLUGIN_SPEC),
            "{jsonc}"
        );
        assert!(!d.join("tui.json").exists());
    }

    /// What the installer writes, the reader (`doctor`'s hints) sees.
    #[test]
    fn plugin_state_follows_tui_json_and_the_plugin_file() {
        use crate::opencode_config::{PluginState, plugin_state};
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(plugin_state(d), PluginState::NotInstalled);
        std::fs::write(d.join("tui.json"), "{\"plugin\": [\"other\"]}").unwrap();
        assert_eq!(plugin_state(d), PluginState::NotInstalled);
        std::fs::write(
            d.join("tui.json"),
            "{\"plugin\": [\"./plugins/ocbar.tsx\"]}",
        )
        .unwrap();
        assert_eq!(
            plugin_state(d),
            PluginState::FileMissing(d.join("tui.json"))
        );
        install(d).unwrap();
        assert_eq!(plugin_state(d), PluginState::Installed(d.join("tui.json")));
        std::fs::write(d.join("tui.json"), "{\"plugin\": [").unwrap();
        assert!(matches!(plugin_state(d), PluginState::Unreadable(e) if e.contains("tui.json")));
    }
}
