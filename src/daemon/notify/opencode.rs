//! OpenCode's own notifications, so that one event is not notified twice.
//!
//! OpenCode 1.18's TUI notifies by itself when `attention` is on in its `tui.json`
//! (`"attention": {"enabled": true}`; `notifications` defaults to true): a terminal
//! notification when a session finishes, fails, or asks a question or a permission, while the
//! TUI's terminal does not have focus (sub-agent sessions only play a sound). When that is on,
//! ocbar's desktop channel leaves those events to OpenCode for the sessions a TUI with the
//! ocbar plugin can show ([`Attention::leaves_to_opencode`]); `[notify] beside_opencode = true`
//! sends both. Read from OpenCode's global config directory (`tui.json`, then `tui.jsonc`, then
//! `$OPENCODE_TUI_CONFIG`, later files overriding earlier ones, as OpenCode merges them).

use std::path::PathBuf;

use serde_json::Value;

use crate::opencode_config::read_jsonc;

use crate::model::effect::{Notification, NotifyKind};

/// Whether OpenCode's TUI sends its own notifications, and where that was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attention {
    /// `attention.enabled` and `attention.notifications` are both on.
    pub notifies: bool,
    /// `attention.enabled` is true (so when `notifies` is false, `notifications` is off).
    pub enabled: bool,
    /// The files read (that exist).
    pub from: Vec<PathBuf>,
}

impl Attention {
    /// Read OpenCode's global TUI config (missing or unreadable files count as "off").
    pub fn read() -> Attention {
        let mut files: Vec<PathBuf> = Vec::new();
        if let Some(dir) = crate::paths::opencode_config_dir() {
            files.push(dir.join("tui.json"));
            files.push(dir.join("tui.jsonc"));
        }
        if let Some(p) = std::env::var_os("OPENCODE_TUI_CONFIG").filter(|p| !p.is_empty()) {
            files.push(PathBuf::from(p));
        }
        Self::from_files(&files)
    }

    /// As [`Attention::read`], from these files in order.
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
            enabled: enabled.unwrap_or(false),
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
        // Why OpenCode does not notify, as a clause.
        let off = if self.from.is_empty() {
            "there is no tui.json, and its attention setting is off by default".to_string()
        } else if self.enabled {
            format!("attention.notifications is false in {files}")
        } else {
            format!("attention.enabled is not true in {files}")
        };
        match (self.notifies, desktop_on, beside) {
            (false, true, _) => {
                format!("desktop notifications: ocbar (OpenCode's own are off: {off})")
            }
            (false, false, _) => format!(
                "desktop notifications: none (ocbar's desktop channel is off; OpenCode's own are off: {off})"
            ),
            (true, _, false) | (true, false, true) => format!(
                "desktop notifications: OpenCode for finished, failed and waiting sessions a TUI shows (attention on in {files}); ocbar for the rest{}",
                if desktop_on {
                    " (set [notify] beside_opencode = true for both)"
                } else {
                    " (its desktop channel is off)"
                }
            ),
            (true, true, true) => format!(
                "desktop notifications: both OpenCode (attention on in {files}) and ocbar ([notify] beside_opencode = true)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let n = Notification {
            kind: NotifyKind::Done,
            server: "http://s".into(),
            session: "ses_1".into(),
            directory: "/p".into(),
            title: "t".into(),
            message: None,
            child: false,
            busy_ms: 1,
        };
        assert!(on.covers(&n));
        assert!(!on.covers(&Notification {
            kind: NotifyKind::Retry,
            ..n.clone()
        }));
        assert!(!on.covers(&Notification { child: true, ..n }));
    }
}
