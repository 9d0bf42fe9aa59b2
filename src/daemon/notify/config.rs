//! The `[notify]` table of the config file, and the filter it implies.

use std::path::PathBuf;

use serde::Deserialize;

use crate::model::effect::{Notification, NotifyKind};

/// A user command: either one string run by `sh -c`, or an argv list run directly.
///
/// Event data never appears in the command line: it is passed in `OCBAR_*` environment
/// variables only, so a session title cannot inject anything.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CommandSpec {
    /// `command = "notify-send \"$OCBAR_TITLE\""`: run with `sh -c`.
    Shell(String),
    /// `command = ["paplay", "/usr/share/sounds/done.oga"]`: run directly.
    Argv(Vec<String>),
}

impl CommandSpec {
    /// The argv to execute, or `None` when the command is empty.
    pub fn argv(&self) -> Option<Vec<String>> {
        match self {
            CommandSpec::Shell(line) if line.trim().is_empty() => None,
            CommandSpec::Shell(line) => Some(vec!["sh".into(), "-c".into(), line.clone()]),
            CommandSpec::Argv(argv) if argv.first().is_none_or(|p| p.is_empty()) => None,
            CommandSpec::Argv(argv) => Some(argv.clone()),
        }
    }
}

/// How the tmux channel shows a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TmuxDisplay {
    /// In ocbar's own segment (`#{@ocbar}`, `ocbar status --format tmux`) for `display_ms`:
    /// the screen keeps redrawing.
    #[default]
    Segment,
    /// `tmux display-message` on every attached client. In tmux 3.3a a client does not redraw
    /// its panes while a message is shown, so the screen stands still for `display_ms`.
    Message,
}

/// Notification settings (`[notify]` in the config file). Every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Global switch: false turns every channel off.
    pub enabled: bool,

    /// OpenCode TUI toast (`POST /tui/show-toast` on the session's server).
    pub toast: bool,
    /// Desktop notification (`org.freedesktop.Notifications` on the D-Bus session bus).
    pub desktop: bool,
    /// tmux: the notification in ocbar's segment, or a `display-message` ([`TmuxDisplay`]).
    pub tmux: bool,
    /// A user command, run once per notification with the event in `OCBAR_*` variables.
    pub command: Option<CommandSpec>,
    /// Sound: the freedesktop `sound-name` hint on desktop notifications, and `sound_command`.
    pub sound: bool,
    /// A command that plays a sound, run once per notification (when `sound` is on) with the
    /// event in `OCBAR_*` variables (`OCBAR_SOUND`: the sound name): for notification daemons
    /// that play nothing.
    pub sound_command: Option<CommandSpec>,

    /// Notify when a turn finishes cleanly.
    pub done: bool,
    /// Notify when a turn ends with an error.
    pub error: bool,
    /// Notify when the user stopped a turn.
    pub aborted: bool,
    /// Notify on the first retry of a turn.
    pub retry: bool,
    /// Notify when a permission or question waits for the user.
    pub waiting: bool,
    /// Also notify for sub-agent sessions.
    pub subagents: bool,
    /// A "done" for a turn shorter than this many seconds is not notified.
    pub min_busy_secs: u64,

    /// Notifications arriving within this many ms of the first one are sent as one summary
    /// ("3 sessions finished: a, b, c"). 0 sends each one at once.
    pub summary_window_ms: u64,
    /// Upper bound for one channel call (HTTP request, D-Bus call, tmux, the user command,
    /// which is killed when it runs longer).
    pub timeout_ms: u64,
    /// How long the TUI toast and the tmux notification stay on screen.
    pub display_ms: u64,
    /// Where tmux shows a notification: `segment` (default) or `message`.
    pub tmux_display: TmuxDisplay,
    /// The tmux server socket (`tmux -S`). Default: `$TMUX`'s server, else tmux's default.
    pub tmux_socket: Option<PathBuf>,
    /// Send desktop notifications even for events OpenCode's TUI notifies itself (its
    /// `attention` settings in `tui.json`, or OpenCode 2's `opencode.notifications` in
    /// `cli.json`); by default those are left to OpenCode.
    pub beside_opencode: bool,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            enabled: true,
            toast: true,
            desktop: true,
            tmux: true,
            command: None,
            sound: true,
            sound_command: None,
            done: true,
            error: true,
            aborted: false,
            retry: true,
            waiting: true,
            subagents: false,
            min_busy_secs: 0,
            summary_window_ms: 1500,
            timeout_ms: 3000,
            display_ms: 5000,
            tmux_display: TmuxDisplay::Segment,
            tmux_socket: None,
            beside_opencode: false,
        }
    }
}

impl NotifyConfig {
    /// Whether notifications of this kind are wanted at all.
    pub fn kind_enabled(&self, kind: NotifyKind) -> bool {
        match kind {
            NotifyKind::Done => self.done,
            NotifyKind::Error => self.error,
            NotifyKind::Aborted => self.aborted,
            NotifyKind::Retry => self.retry,
            NotifyKind::Waiting => self.waiting,
        }
    }

    /// True when at least one channel is switched on.
    pub fn any_channel(&self) -> bool {
        self.toast
            || self.desktop
            || self.tmux
            || self.command.as_ref().is_some_and(|c| c.argv().is_some())
            || self.sound_argv().is_some()
    }

    /// The sound command's argv, when sound is on and a command is set.
    pub fn sound_argv(&self) -> Option<Vec<String>> {
        self.sound_command
            .as_ref()
            .filter(|_| self.sound)
            .and_then(CommandSpec::argv)
    }

    /// Whether this notification passes the switches (global, kind, sub-agents, minimum turn length).
    pub fn wants(&self, n: &Notification) -> bool {
        if !self.enabled || !self.any_channel() || !self.kind_enabled(n.kind) {
            return false;
        }
        if n.child && !self.subagents {
            return false;
        }
        if n.kind == NotifyKind::Done {
            let min_ms = i64::try_from(self.min_busy_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            if n.busy_ms < min_ms {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: NotifyKind) -> Notification {
        Notification {
            kind,
            server: "http://127.0.0.1:4096".into(),
            session: "ses_1".into(),
            directory: "/p".into(),
            title: "t".into(),
            message: None,
            child: false,
            busy_ms: 10_000,
            host: None,
        }
    }

    #[test]
    fn defaults() {
        let c = NotifyConfig::default();
        assert!(c.enabled && c.toast && c.desktop && c.tmux && c.command.is_none());
        assert!(c.done && c.error && c.retry && c.waiting && !c.aborted && !c.subagents);
        assert_eq!(
            (c.min_busy_secs, c.summary_window_ms, c.timeout_ms),
            (0, 1500, 3000)
        );
    }

    #[test]
    fn deserializes_partial_table_and_both_command_forms() {
        let c: NotifyConfig =
            toml::from_str("desktop = false\ncommand = \"echo hi\"\nmin_busy_secs = 30").unwrap();
        assert!(!c.desktop && c.toast);
        assert_eq!(c.command, Some(CommandSpec::Shell("echo hi".into())));
        assert_eq!(c.min_busy_secs, 30);
        let c: NotifyConfig = toml::from_str("command = [\"paplay\", \"x.oga\"]").unwrap();
        assert_eq!(
            c.command.and_then(|c| c.argv()),
            Some(vec!["paplay".to_string(), "x.oga".to_string()])
        );
        let c: NotifyConfig = toml::from_str("sound_command = \"paplay x\"").unwrap();
        assert!(c.sound && c.sound_argv().is_some());
        let c: NotifyConfig =
            toml::from_str("sound = false\nsound_command = [\"paplay\"]").unwrap();
        assert_eq!(c.sound_argv(), None);
        let empty: NotifyConfig = toml::from_str("").unwrap();
        assert_eq!(empty, NotifyConfig::default());
        assert_eq!(empty.tmux_display, TmuxDisplay::Segment);
        let c: NotifyConfig = toml::from_str("tmux_display = \"message\"").unwrap();
        assert_eq!(c.tmux_display, TmuxDisplay::Message);
        assert!(toml::from_str::<NotifyConfig>("tmux_display = \"popup\"").is_err());
    }

    #[test]
    fn rejects_unknown_keys() {
        assert!(toml::from_str::<NotifyConfig>("toasts = true").is_err());
    }

    #[test]
    fn empty_commands_are_no_command() {
        assert_eq!(CommandSpec::Shell("  ".into()).argv(), None);
        assert_eq!(CommandSpec::Argv(vec![]).argv(), None);
        assert_eq!(CommandSpec::Argv(vec![String::new()]).argv(), None);
        assert_eq!(
            CommandSpec::Shell("x".into()).argv(),
            Some(vec!["sh".into(), "-c".into(), "x".into()])
        );
    }

    #[test]
    fn filters_by_kind() {
        let c = NotifyConfig::default();
        for kind in [
            NotifyKind::Done,
            NotifyKind::Error,
            NotifyKind::Retry,
            NotifyKind::Waiting,
        ] {
            assert!(c.wants(&note(kind)), "{kind:?}");
        }
        assert!(!c.wants(&note(NotifyKind::Aborted)));
        let c = NotifyConfig {
            aborted: true,
            error: false,
            ..NotifyConfig::default()
        };
        assert!(c.wants(&note(NotifyKind::Aborted)));
        assert!(!c.wants(&note(NotifyKind::Error)));
    }

    #[test]
    fn filters_subagents() {
        let child = Notification {
            child: true,
            ..note(NotifyKind::Done)
        };
        assert!(!NotifyConfig::default().wants(&child));
        assert!(
            NotifyConfig {
                subagents: true,
                ..NotifyConfig::default()
            }
            .wants(&child)
        );
    }

    #[test]
    fn min_busy_applies_to_done_only() {
        let c = NotifyConfig {
            min_busy_secs: 30,
            ..NotifyConfig::default()
        };
        let short = |kind| Notification {
            busy_ms: 29_999,
            ..note(kind)
        };
        assert!(!c.wants(&short(NotifyKind::Done)));
        assert!(c.wants(&Notification {
            busy_ms: 30_000,
            ..note(NotifyKind::Done)
        }));
        assert!(c.wants(&short(NotifyKind::Error)));
        assert!(c.wants(&short(NotifyKind::Waiting)));
    }

    #[test]
    fn disabled_globally_or_without_channels() {
        let off = NotifyConfig {
            enabled: false,
            ..NotifyConfig::default()
        };
        assert!(!off.wants(&note(NotifyKind::Error)));
        let none = NotifyConfig {
            toast: false,
            desktop: false,
            tmux: false,
            ..NotifyConfig::default()
        };
        assert!(!none.wants(&note(NotifyKind::Error)));
        let cmd = NotifyConfig {
            command: Some(CommandSpec::Shell("true".into())),
            ..none
        };
        assert!(cmd.wants(&note(NotifyKind::Error)));
    }
}
