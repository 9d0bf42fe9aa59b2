//! `ocbar install opencode-plugin [--v1|--v2] [--uninstall]`: put the TUI plugin (embedded in
//! the binary from `integrations/opencode/`) into OpenCode's global config directory,
//! `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`, where it loads.
//!
//! - Which OpenCode: `--v1` or `--v2`, else the major version `opencode --version` prints (the
//!   `opencode` on PATH), else `cli.json` (which OpenCode 2 creates) means 2, else 1, whose
//!   install serves both.
//! - The files, the same for both (one core, two thin shells): `plugins/ocbar/core.tsx` (what
//!   both do), `plugins/ocbar/tui.tsx` (the OpenCode 2 plugin, which OpenCode 2 discovers by
//!   itself: one directory per plugin) and, for OpenCode 1, `plugins/ocbar.tsx` (its plugin,
//!   listed in `tui.json`). Each is rewritten when it differs: that is the upgrade. OpenCode 1
//!   loads only `plugins/*.{ts,js}` by itself, so it never loads the OpenCode 2 files.
//! - OpenCode 1: `"./plugins/ocbar.tsx"` is added to `tui.json`'s `"plugin"` list (`tui.jsonc`
//!   if that is the one there; a new `tui.json` if neither is).
//! - OpenCode 2: nothing is added anywhere (never `tui.json`, which OpenCode 2 ignores). When
//!   OpenCode 2 migrated a `tui.json` that listed the OpenCode 1 plugin, `cli.json`'s `"plugins"`
//!   lists it too and OpenCode 2 refuses to load it: that entry is removed.
//! - Config files are JSON with comments, edited through `opencode_config`'s tree that keeps
//!   comments, order and spacing: only the list changes. A file that cannot be parsed is an
//!   error naming it, and nothing is written.
//! - Running it twice changes nothing the second time; `--uninstall` removes every file and
//!   every entry, for both versions, and leaves the rest of the config alone.

use std::path::{Path, PathBuf};

use crate::atomic_file;
pub use crate::opencode_config::PLUGIN_SPEC;
use crate::opencode_config::{add_to_list, names_us, remove_from_list};

/// The OpenCode 1 plugin (a shell over the core), installed as `plugins/ocbar.tsx`.
pub const PLUGIN_V1: &str = include_str!("../../integrations/opencode/ocbar.tsx");
/// What both plugins do, installed as `plugins/ocbar/core.tsx`.
pub const PLUGIN_CORE: &str = include_str!("../../integrations/opencode/ocbar/core.tsx");
/// The OpenCode 2 plugin (a shell over the core), installed as `plugins/ocbar/tui.tsx`.
pub const PLUGIN_V2: &str = include_str!("../../integrations/opencode/ocbar/tui.tsx");

/// The files, relative to OpenCode's config directory, with their text.
const V1_FILES: [(&str, &str); 3] = [
    ("plugins/ocbar/core.tsx", PLUGIN_CORE),
    ("plugins/ocbar/tui.tsx", PLUGIN_V2),
    ("plugins/ocbar.tsx", PLUGIN_V1),
];
const V2_FILES: [(&str, &str); 2] = [
    ("plugins/ocbar/core.tsx", PLUGIN_CORE),
    ("plugins/ocbar/tui.tsx", PLUGIN_V2),
];

/// Which OpenCode the plugin is installed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Major {
    /// OpenCode 1 (`tui.json`, `api.slots`).
    V1,
    /// OpenCode 2 (`cli.json`, `Plugin.define`).
    V2,
}

/// The version to install for, and how that was decided (printed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub major: Major,
    pub why: String,
}

/// OpenCode's global config directory: `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`.
pub fn opencode_config_dir() -> Result<PathBuf, String> {
    crate::paths::opencode_config_dir().ok_or_else(|| {
        "neither XDG_CONFIG_HOME nor HOME is set: cannot find OpenCode's config directory"
            .to_string()
    })
}

/// Decide the version: `forced` (`--v1`/`--v2`), else `opencode --version`, else the config
/// files in `dir`.
pub fn detect(dir: &Path, forced: Option<Major>) -> Detected {
    if let Some(major) = forced {
        let flag = if major == Major::V1 { "--v1" } else { "--v2" };
        return Detected {
            major,
            why: format!("OpenCode {} ({flag})", number(major)),
        };
    }
    if let Some((major, version)) = opencode_version() {
        return Detected {
            major,
            why: format!("OpenCode {version} ('opencode --version')"),
        };
    }
    let has = |name: &str| dir.join(name).is_file();
    if has("cli.json") {
        return Detected {
            major: Major::V2,
            why: "OpenCode 2 (cli.json exists)".into(),
        };
    }
    // The OpenCode 1 install carries the OpenCode 2 files too: when nothing tells, it serves
    // both (OpenCode 2 ignores tui.json).
    let why = if has("tui.json") || has("tui.jsonc") {
        "OpenCode 1 (tui.json exists; the OpenCode 2 files are written too)"
    } else {
        "OpenCode 1 and 2 (no opencode on PATH, no cli.json: tui.json for 1, plugins/ocbar/ for 2)"
    };
    Detected {
        major: Major::V1,
        why: why.into(),
    }
}

fn number(m: Major) -> u8 {
    match m {
        Major::V1 => 1,
        Major::V2 => 2,
    }
}

/// The major version of the `opencode` on PATH, from its `--version` (`1.18.33`, `2.0.26`, or
/// `opencode 2.1.0`), and the version text. `None` when there is none, it fails, or it has not
/// answered within 15 s (it is then killed: the installer never hangs on it).
fn opencode_version() -> Option<(Major, String)> {
    use std::io::Read;
    let mut child = std::process::Command::new("opencode")
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let end = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < end => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut text = String::new();
    child.stdout.take()?.read_to_string(&mut text).ok()?;
    if !status.success() {
        return None;
    }
    parse_version(&text)
}

fn parse_version(text: &str) -> Option<(Major, String)> {
    let version = text
        .split_whitespace()
        .map(|w| w.trim_start_matches('v'))
        .find(|w| w.split('.').count() >= 2 && w.split('.').all(|p| !p.is_empty()))?;
    let major: u32 = version.split('.').next()?.parse().ok()?;
    let m = match major {
        0 | 1 => Major::V1,
        _ => Major::V2,
    };
    Some((m, version.to_string()))
}

/// Install into `dir` for `major`; returns one line per thing done (or found already done).
pub fn install(dir: &Path, major: Major) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    // Check the config before writing anything: an unparsable file stops everything.
    let edit = match major {
        Major::V1 => {
            let (config, text) = pick_config(dir)?;
            let new = match &text {
                Some(t) => add_to_list(t, "plugin", PLUGIN_SPEC, names_us)
                    .map_err(|e| unparsable(&config, &e))?,
                None => Some(format!(
                    "{{\n  \"$schema\": \"https://opencode.ai/tui.json\",\n  \"plugin\": [\"{PLUGIN_SPEC}\"]\n}}\n"
                )),
            };
            let line = match (&new, &text) {
                (None, _) => format!("{}: already lists the plugin", config.display()),
                (Some(_), Some(_)) => {
                    format!(
                        "{}: added \"{PLUGIN_SPEC}\" in \"plugin\"",
                        config.display()
                    )
                }
                (Some(_), None) => format!(
                    "{}: created with \"{PLUGIN_SPEC}\" in \"plugin\"",
                    config.display()
                ),
            };
            Some((config, new, line))
        }
        Major::V2 => {
            let config = dir.join("cli.json");
            match read(&config)? {
                Some(text) => {
                    let new = remove_from_list(&text, "plugins", names_us)
                        .map_err(|e| unparsable(&config, &e))?;
                    new.map(|n| {
                        let line = format!(
                            "{}: removed the OpenCode 1 plugin \"{PLUGIN_SPEC}\" from \"plugins\" (OpenCode 2 refuses it)",
                            config.display()
                        );
                        (config, Some(n), line)
                    })
                }
                None => None,
            }
        }
    };
    let files: &[(&str, &str)] = match major {
        Major::V1 => &V1_FILES,
        Major::V2 => &V2_FILES,
    };
    for (name, text) in files {
        let file = dir.join(name);
        let parent = file.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        match std::fs::read_to_string(&file) {
            Ok(old) if old == *text => done.push(format!("{}: up to date", file.display())),
            old => {
                write_file(&file, text)?;
                done.push(format!(
                    "{}: {}",
                    file.display(),
                    if old.is_ok() { "updated" } else { "written" }
                ));
            }
        }
    }
    if let Some((config, new, line)) = edit {
        if let Some(new) = new {
            write_file(&config, &new)?;
        }
        done.push(line);
    }
    done.push(match major {
        Major::V1 => {
            "restart your OpenCode TUIs to load it; the panel shows in the session sidebar".into()
        }
        Major::V2 => "OpenCode 2 loads it from plugins/ocbar/ by itself: restart your OpenCode TUIs; the panel shows in the session sidebar".into(),
    });
    Ok(done)
}

/// Undo [`install`] in `dir`, for both versions.
pub fn uninstall(dir: &Path) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let configs = [
        ("tui.json", "plugin"),
        ("tui.jsonc", "plugin"),
        ("cli.json", "plugins"),
    ];
    // Parse every config before changing anything.
    let mut edits = Vec::new();
    for (name, key) in configs {
        let config = dir.join(name);
        let Some(text) = read(&config)? else {
            continue;
        };
        let new = remove_from_list(&text, key, names_us).map_err(|e| unparsable(&config, &e))?;
        edits.push((config, key, new));
    }
    for (config, key, new) in edits {
        match new {
            Some(new) => {
                write_file(&config, &new)?;
                done.push(format!(
                    "{}: removed \"{PLUGIN_SPEC}\" from \"{key}\"",
                    config.display()
                ));
            }
            None => done.push(format!("{}: does not list the plugin", config.display())),
        }
    }
    for name in [
        "plugins/ocbar.tsx",
        "plugins/ocbar/tui.tsx",
        "plugins/ocbar/core.tsx",
    ] {
        let file = dir.join(name);
        match std::fs::remove_file(&file) {
            Ok(()) => done.push(format!("{}: removed", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                done.push(format!("{}: not there", file.display()))
            }
            Err(e) => return Err(format!("cannot remove {}: {e}", file.display())),
        }
    }
    // The directory goes too when nothing of the user's is left in it.
    let _ = std::fs::remove_dir(dir.join("plugins/ocbar"));
    Ok(done)
}

fn unparsable(config: &Path, e: &str) -> String {
    format!(
        "cannot edit {}: {e}. It was left unchanged, and nothing was installed: fix it, or edit its plugin list yourself",
        config.display()
    )
}

/// A file's text; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The OpenCode 1 config file to edit and its text: one that already lists the plugin, else
/// `tui.json` if it exists, else `tui.jsonc` if it exists, else a new `tui.json`.
fn pick_config(dir: &Path) -> Result<(PathBuf, Option<String>), String> {
    let mut existing = Vec::new();
    for name in ["tui.json", "tui.jsonc"] {
        let p = dir.join(name);
        if let Some(t) = read(&p)? {
            existing.push((p, t));
        }
    }
    for (p, t) in &existing {
        if matches!(add_to_list(t, "plugin", PLUGIN_SPEC, names_us), Ok(None)) {
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
    atomic_file::write(path, text.as_bytes(), atomic_file::Mode::KeepOrDefault)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(t: &str) -> Result<Option<String>, String> {
        add_to_list(t, "plugin", PLUGIN_SPEC, names_us)
    }
    fn remove(t: &str) -> Result<Option<String>, String> {
        remove_from_list(t, "plugin", names_us)
    }

    #[test]
    fn entries_are_added_keeping_everything_else() {
        let cases = [
            (
                "{\n  // my theme\n  \"theme\": \"tokyonight\",\n  \"plugin\": [\"other\", [\"pkg\", {\"a\": 1}],],\n}\n",
                "{\n  // my theme\n  \"theme\": \"tokyonight\",\n  \"plugin\": [\"other\", [\"pkg\", {\"a\": 1}], \"./plugins/ocbar.tsx\"],\n}\n",
            ),
            (
                "{\n\t\"theme\": \"x\" /* keep */\n}",
                "{\n\t\"theme\": \"x\", /* keep */\n\t\"plugin\": [\"./plugins/ocbar.tsx\"]\n}",
            ),
            ("{}", "{\n  \"plugin\": [\"./plugins/ocbar.tsx\"]\n}"),
            // A comment after the last element's trailing comma stays where it was.
            (
                "{\"plugin\": [\"x\", // c\n]}",
                "{\"plugin\": [\"x\", // c\n    \"./plugins/ocbar.tsx\",\n]}",
            ),
        ];
        for (before, after) in cases {
            let got = add(before).unwrap().unwrap();
            assert_eq!(got, after, "from {before:?}");
            assert_eq!(add(&got).unwrap(), None, "idempotent");
            assert!(remove(&got).unwrap().is_some());
        }
        assert!(add("").unwrap().unwrap().contains(PLUGIN_SPEC));
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
                "{\n  \"plugin\": [\n    \"a\", // mine\n    \"./plugins/ocbar.tsx\", // ocbar\n  ],\n}\n",
                "{\n  \"plugin\": [\n    \"a\", // mine\n  ],\n}\n",
            ),
        ];
        for (before, after) in cases {
            assert_eq!(remove(before).unwrap().unwrap(), after);
            assert_eq!(remove(after).unwrap(), None);
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
            assert!(add(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn versions_are_read_from_opencode_version() {
        assert_eq!(
            parse_version("1.18.33\n"),
            Some((Major::V1, "1.18.33".into()))
        );
        assert_eq!(
            parse_version("2.0.26\n"),
            Some((Major::V2, "2.0.26".into()))
        );
        assert_eq!(
            parse_version("opencode v2.1.0-beta.3\n"),
            Some((Major::V2, "2.1.0-beta.3".into()))
        );
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn the_config_decides_when_no_opencode_answers() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let forced = detect(dir, Some(Major::V1));
        assert_eq!(forced.major, Major::V1);
        assert!(forced.why.contains("--v1"));
        // (The test runner's PATH has no `opencode`; the end-to-end tests put one there.)
        if opencode_version().is_none() {
            assert_eq!(detect(dir, None).major, Major::V1);
            std::fs::write(dir.join("tui.json"), "{}").unwrap();
            assert_eq!(detect(dir, None).major, Major::V1);
            std::fs::write(dir.join("cli.json"), "{}").unwrap();
            assert_eq!(detect(dir, None).major, Major::V2);
        }
    }

    #[test]
    fn install_and_uninstall_for_opencode_1() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("opencode");
        let first = install(&d, Major::V1).unwrap();
        assert!(first.iter().any(|l| l.contains("written")), "{first:?}");
        let tui = std::fs::read_to_string(d.join("tui.json")).unwrap();
        assert!(
            tui.contains(PLUGIN_SPEC) && tui.contains("$schema"),
            "{tui}"
        );
        for (name, text) in V1_FILES {
            assert_eq!(std::fs::read_to_string(d.join(name)).unwrap(), text);
        }
        let again = install(&d, Major::V1).unwrap();
        assert!(again.iter().any(|l| l.contains("up to date")), "{again:?}");
        assert!(
            again.iter().any(|l| l.contains("already lists")),
            "{again:?}"
        );
        assert_eq!(std::fs::read_to_string(d.join("tui.json")).unwrap(), tui);

        let out = uninstall(&d).unwrap();
        assert!(out.iter().any(|l| l.contains("removed")), "{out:?}");
        assert!(!d.join("plugins/ocbar.tsx").exists());
        assert!(!d.join("plugins/ocbar").exists());
        assert!(
            !std::fs::read_to_string(d.join("tui.json"))
                .unwrap()
                .contains("ocbar")
        );

        // A file OpenCode could not read either is never overwritten.
        std::fs::write(d.join("tui.json"), "{ \"plugin\": [ }").unwrap();
        let err = install(&d, Major::V1).unwrap_err();
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
        install(&d, Major::V1).unwrap();
        let jsonc = std::fs::read_to_string(d.join("tui.jsonc")).unwrap();
        assert!(
            jsonc.starts_with("// mine\n") && jsonc.contains(PLUGIN_SPEC),
            "{jsonc}"
        );
        assert!(!d.join("tui.json").exists());
    }

    #[test]
    fn install_for_opencode_2_never_touches_tui_json() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let cli = "{\n  // mine\n  \"theme\": {\"name\": \"x\"},\n  \"plugins\": [\"a\", \"./plugins/ocbar.tsx\", /* keep */ {\"package\": \"b\"}],\n}\n";
        std::fs::write(d.join("cli.json"), cli).unwrap();
        let out = install(d, Major::V2).unwrap();
        assert!(!d.join("tui.json").exists(), "{out:?}");
        assert!(!d.join("plugins/ocbar.tsx").exists(), "{out:?}");
        for (name, text) in V2_FILES {
            assert_eq!(std::fs::read_to_string(d.join(name)).unwrap(), text);
        }
        // The OpenCode 1 entry that OpenCode 2's migration copied is gone; the rest stays.
        assert_eq!(
            std::fs::read_to_string(d.join("cli.json")).unwrap(),
            "{\n  // mine\n  \"theme\": {\"name\": \"x\"},\n  \"plugins\": [\"a\", /* keep */ {\"package\": \"b\"}],\n}\n"
        );
        assert!(out.iter().any(|l| l.contains("refuses")), "{out:?}");
        // Twice: nothing changes.
        let again = install(d, Major::V2).unwrap();
        assert!(
            again
                .iter()
                .all(|l| !l.contains("written") && !l.contains("removed")),
            "{again:?}"
        );
        uninstall(d).unwrap();
        assert!(!d.join("plugins/ocbar").exists());
        assert!(
            std::fs::read_to_string(d.join("cli.json"))
                .unwrap()
                .contains("// mine")
        );
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
        install(d, Major::V1).unwrap();
        assert_eq!(plugin_state(d), PluginState::Installed(d.join("tui.json")));
        std::fs::write(d.join("tui.json"), "{\"plugin\": [").unwrap();
        assert!(matches!(plugin_state(d), PluginState::Unreadable(e) if e.contains("tui.json")));
    }
}
