//! OpenCode's own notifications, so that one event is not notified twice.
//!
//! - **OpenCode 1.18** notifies by itself when `attention` is on in its `tui.json`
//!   (`"attention": {"enabled": true}`; `notifications` defaults to true): a terminal
//!   notification when a session finishes, fails, or asks a question or a permission, while the
//!   TUI's terminal does not have focus (sub-agent sessions only play a sound). Read from
//!   `tui.json`, then `tui.jsonc`, then `$OPENCODE_TUI_CONFIG`, later files overriding earlier
//!   ones, as OpenCode merges them.
//! - **OpenCode 2** has the same in its built-in plugin `opencode.notifications`
//!   (`packages/tui/src/feature-plugins/system/notifications.ts` in anomalyco/opencode): a
//!   desktop notification, while the terminal is blurred and never for a sub-agent, for a
//!   finished, interrupted or failed execution, a permission and a form. It is on when
//!   `attention.notifications` is `true` in `cli.json` (default false,
//!   `packages/tui/src/config/index.tsx`) and the plugin is not disabled in its `plugins` list
//!   (`"-opencode.notifications"`; a later directive overrides an earlier one; `*` matches
//!   anything).
//!
//! `cli.json` exists once OpenCode 2 has run (it creates it from `tui.json`), so when it is
//! there OpenCode 2's rules apply, else OpenCode 1's. When OpenCode notifies, ocbar's desktop
//! channel leaves those events to it for the sessions a TUI with the ocbar plugin can show
//! ([`Attention::covers`]); `[notify] beside_opencode = true` sends both.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::opencode_config::read_jsonc;

use crate::model::effect::{Notification, NotifyKind};

/// The OpenCode 2 built-in plugin that notifies.
const NOTIFIER: &str = "opencode.notifications";

/// Which OpenCode's settings were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Which {
    /// `tui.json` (OpenCode 1).
    #[default]
    V1,
    /// `cli.json` (OpenCode 2).
    V2,
}

/// Whether OpenCode's TUI sends its own notifications, and where that was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attention {
    /// OpenCode 1: `attention.enabled` and `attention.notifications` are both on. OpenCode 2:
    /// `attention.notifications` is on and `opencode.notifications` is not disabled.
    pub notifies: bool,
    /// Which OpenCode's settings these are.
    pub which: Which,
    /// OpenCode 1: `attention.enabled` is true (so when `notifies` is false, `notifications`
    /// is off).
    pub enabled: bool,
    /// OpenCode 2: `opencode.notifications` is disabled in `plugins`.
    pub plugin_disabled: bool,
    /// The files read (that exist).
    pub from: Vec<PathBuf>,
}

impl Attention {
    /// Read OpenCode's global TUI config (missing or unreadable files count as "off").
    pub fn read() -> Attention {
        let Some(dir) = crate::paths::opencode_config_dir() else {
            return Attention::default();
        };
        let cli = dir.join("cli.json");
        if cli.is_file() {
            return Self::from_cli_json(&cli);
        }
        let mut files = vec![dir.join("tui.json"), dir.join("tui.jsonc")];
        if let Some(p) = std::env::var_os("OPENCODE_TUI_CONFIG").filter(|p| !p.is_empty()) {
            files.push(PathBuf::from(p));
        }
        Self::from_files(&files)
    }

    /// OpenCode 2's settings, from its `cli.json`.
    pub fn from_cli_json(path: &Path) -> Attention {
        let mut a = Attention {
            which: Which::V2,
            ..Attention::default()
        };
        let Ok(Some(v)) = read_jsonc(path) else {
            return a;
        };
        a.from.push(path.to_path_buf());
        let on = v
            .pointer("/attention/notifications")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        a.plugin_disabled = !plugin_enabled(v.get("plugins"), NOTIFIER);
        a.notifies = on && !a.plugin_disabled;
        a
    }

    /// As [`Attention::read`] for OpenCode 1, from these files in order.
    pub fn from_files(files: &[PathBuf]) -> Attention {
        let mut enabled = None;
        let mut notifications = None;
        let mut from = Vec::new();
        for f in files {
            let Ok(Some(v)) = read_jsonc(f) else {
                continue;
            };
            from.push(f.clone());
            if let Some(a) = v.get("attention") {
                if let Some(e) = a.get("enabled").and_then(Value::as_bool) {
                    enabled = Some(e);
                }
                if let Some(n) = a.get("notifications").and_then(Value::as_bool) {
                    notifications = Some(n);
                }
            }
        }
        Attention {
            notifies: enabled.unwrap_or(false) && notifications.unwrap_or(true),
            which: Which::V1,
            enabled: enabled.unwrap_or(false),
            plugin_disabled: false,
            from,
        }
    }

    /// Whether OpenCode itself notifies `n` (given that a TUI can show its session).
    pub fn covers(&self, n: &Notification) -> bool {
        self.notifies
            && !n.child
            && matches!(
                n.kind,
                NotifyKind::Done | NotifyKind::Error | NotifyKind::Aborted | NotifyKind::Waiting
            )
    }

    /// For `doctor`: who sends desktop notifications.
    pub fn describe(&self, desktop_on: bool, beside: bool) -> String {
        let files = self
            .from
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        // Why OpenCode does not notify, as a clause, and where it was turned on, in the words
        // of the file that says it.
        let (off, on) = match self.which {
            Which::V1 => (
                if self.from.is_empty() {
                    "there is no tui.json, and its attention setting is off by default".to_string()
                } else if self.enabled {
                    format!("attention.notifications is false in {files}")
                } else {
                    format!("attention.enabled is not true in {files}")
                },
                format!("attention on in {files}"),
            ),
            Which::V2 if self.from.is_empty() => (
                "cli.json cannot be read, and OpenCode 2's notifications are off by default"
                    .to_string(),
                String::new(),
            ),
            Which::V2 if self.plugin_disabled => (
                format!("its {NOTIFIER} plugin is disabled in the \"plugins\" of {files}"),
                String::new(),
            ),
            Which::V2 => (
                format!("attention.notifications is not true in {files}"),
                format!("OpenCode 2's {NOTIFIER}, attention.notifications on in {files}"),
            ),
        };
        match (self.notifies, desktop_on, beside) {
            (false, true, _) => {
                format!("desktop notifications: ocbar (OpenCode's own are off: {off})")
            }
            (false, false, _) => format!(
                "desktop notifications: none (ocbar's desktop channel is off; OpenCode's own are off: {off})"
            ),
            (true, _, false) | (true, false, true) => format!(
                "desktop notifications: OpenCode for finished, failed and waiting sessions a TUI shows ({on}); ocbar for the rest{}",
                if desktop_on {
                    " (set [notify] beside_opencode = true for both)"
                } else {
                    " (its desktop channel is off)"
                }
            ),
            (true, true, true) => format!(
                "desktop notifications: both OpenCode ({on}) and ocbar ([notify] beside_opencode = true)"
            ),
        }
    }
}

/// Whether OpenCode 2 enables the built-in plugin `id`, given `cli.json`'s `plugins`: built-ins
/// are on unless a directive `-<pattern>` matching it disables them; the last directive that
/// matches wins (`<pattern>` re-enables).
fn plugin_enabled(plugins: Option<&Value>, id: &str) -> bool {
    let mut enabled = true;
    for entry in plugins.and_then(Value::as_array).into_iter().flatten() {
        let Some(spec) = entry.as_str() else {
            continue;
        };
        let (on, pattern) = match spec.strip_prefix('-') {
            Some(p) => (false, p),
            None => (true, spec),
        };
        if glob(pattern, id) {
            enabled = on;
        }
    }
    enabled
}

/// `pattern` with `*` for any run of characters, against `text`.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notification of `kind` for a top-level session.
    fn notification(kind: NotifyKind) -> Notification {
        Notification {
            kind,
            server: "http://s".into(),
            session: "ses_1".into(),
            directory: "/p".into(),
            title: "t".into(),
            message: None,
            child: false,
            busy_ms: 1,
            host: None,
        }
    }

    #[test]
    fn attention_is_on_only_when_enabled() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("tui.json");
        let b = d.path().join("tui.jsonc");
        std::fs::write(&a, r#"{"plugin": ["./plugins/ocbar.tsx"]}"#).unwrap();
        assert!(!Attention::from_files(&[a.clone(), b.clone()]).notifies);
        std::fs::write(&a, r#"{"attention": {"enabled": true}}"#).unwrap();
        let on = Attention::from_files(&[a.clone(), b.clone()]);
        assert!(on.notifies && on.from == vec![a.clone()]);
        std::fs::write(
            &b,
            "{ // mine\n \"attention\": {\"notifications\": false,},\n}",
        )
        .unwrap();
        let off = Attention::from_files(&[a.clone(), b.clone()]);
        assert!(!off.notifies);
        assert_eq!(
            off.describe(true, false),
            format!(
                "desktop notifications: ocbar (OpenCode's own are off: attention.notifications is false in {}, {})",
                a.display(),
                b.display()
            )
        );
        // With no tui.json at all, a sentence (it read "… is not true in no tui.json").
        assert_eq!(
            Attention::from_files(&[d.path().join("none.json")]).describe(true, false),
            "desktop notifications: ocbar (OpenCode's own are off: there is no tui.json, and its attention setting is off by default)"
        );
        std::fs::write(&a, r#"{"plugin": []}"#).unwrap();
        std::fs::remove_file(&b).unwrap();
        assert_eq!(
            Attention::from_files(&[a.clone(), b.clone()]).describe(false, false),
            format!(
                "desktop notifications: none (ocbar's desktop channel is off; OpenCode's own are off: attention.enabled is not true in {})",
                a.display()
            )
        );
        std::fs::write(
            &b,
            "{ // mine\n \"attention\": {\"notifications\": false,},\n}",
        )
        .unwrap();
        let n = notification(NotifyKind::Done);
        assert!(on.covers(&n));
        assert!(!on.covers(&Notification {
            kind: NotifyKind::Retry,
            ..n.clone()
        }));
        assert!(!on.covers(&Notification { child: true, ..n }));
    }

    #[test]
    fn opencode_2_notifies_when_cli_json_says_so() {
        let d = tempfile::tempdir().unwrap();
        let cli = d.path().join("cli.json");
        let read = |text: &str| {
            std::fs::write(&cli, text).unwrap();
            Attention::from_cli_json(&cli)
        };
        // Off by default (OpenCode 2's default is notifications: false), even with a migrated
        // OpenCode 1 `enabled`.
        assert!(!read("{\"attention\": {\"enabled\": true}}").notifies);
        let on = read("{ // mine\n \"attention\": {\"notifications\": true,},\n}");
        assert!(on.notifies && on.which == Which::V2 && on.from == vec![cli.clone()]);
        let off = read(
            "{\"attention\": {\"notifications\": true}, \"plugins\": [\"x\", \"-opencode.notifications\"]}",
        );
        assert!(!off.notifies && off.plugin_disabled);
        assert!(
            off.describe(true, false)
                .contains("opencode.notifications plugin is disabled"),
            "{}",
            off.describe(true, false)
        );
        assert!(
            !read("{\"attention\": {\"notifications\": true}, \"plugins\": [\"-opencode.*\"]}")
                .notifies
        );
        assert!(
            read("{\"attention\": {\"notifications\": true}, \"plugins\": [\"-*\", \"opencode.notifications\"]}")
                .notifies
        );
        assert!(
            on.describe(true, false)
                .contains("attention.notifications on in")
        );
        assert!(
            read("{}")
                .describe(true, false)
                .contains("attention.notifications is not true in")
        );
        let n = notification(NotifyKind::Waiting);
        assert!(on.covers(&n));
        assert!(!on.covers(&Notification { child: true, ..n }));
    }
}
