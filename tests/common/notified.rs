//! A log of every notification a test's daemon sends, through its `[notify] command` (the
//! channel a user scripts): one line `KIND|TITLE|SERVER` per notification.

use std::path::PathBuf;

/// A notification log and the executable script that writes it.
pub struct NotifyLog {
    log: PathBuf,
    script: PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifyLog {
    pub fn new() -> NotifyLog {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("notified.log");
        let script = dir.path().join("notify.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s|%s|%s\\n' \"$OCBAR_KIND\" \"$OCBAR_TITLE\" \"$OCBAR_SERVER\" >> '{}'\n",
                log.display()
            ),
        )
        .unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        NotifyLog {
            log,
            script,
            _dir: dir,
        }
    }

    /// A `config.toml` whose only notification channel is this log (`summary_window_ms = 0`:
    /// each one at once), then `extra` lines of the `[notify]` table.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[notify]\ndesktop = false\ntmux = false\nsummary_window_ms = 0\ncommand = [\"{}\"]\n{extra}",
            self.script.display()
        )
    }

    /// Everything notified so far.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many notifications named `title`.
    pub fn count(&self, title: &str) -> usize {
        self.text()
            .lines()
            .filter(|l| l.split('|').nth(1) == Some(title))
            .count()
    }
}
