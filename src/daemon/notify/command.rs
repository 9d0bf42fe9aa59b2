//! The user command: run once per delivery, with the event in `OCBAR_*` environment variables.
//!
//! Data never goes into argv: a session title cannot inject anything. The command runs in its
//! own process group, which is killed when the call is dropped before it exits (the notifier's
//! timeout drops it).

use std::process::Stdio;

use tokio::process::Command;

use super::delivery::Delivery;
use crate::text::one_line;

/// Longest title or message passed in the environment, in characters.
const MAX_ENV_TEXT: usize = 2000;

/// The environment a delivery is described by.
///
/// For a summary, `OCBAR_KIND`, `OCBAR_SESSION`, `OCBAR_TITLE`, `OCBAR_SERVER`,
/// `OCBAR_DIRECTORY`, `OCBAR_MESSAGE` and `OCBAR_BUSY_MS` describe its most urgent session,
/// `OCBAR_TEXT` the whole summary (the sentence ocbar shows elsewhere), `OCBAR_COUNT` the number of sessions and `OCBAR_SESSIONS`
/// their ids, one per line. `OCBAR_SOUND` is the freedesktop sound name of the most urgent kind
/// (`complete`, `dialog-error`, `dialog-warning`, `dialog-question`). `OCBAR_HOST` is the remote
/// machine the lead session lives on (`--remote HOST`), empty for this machine.
pub fn env_vars(d: &Delivery) -> Vec<(&'static str, String)> {
    let n = d.lead();
    let sessions: Vec<&str> = d.items().iter().map(|n| &*n.session).collect();
    vec![
        ("OCBAR_KIND", n.kind.as_str().to_string()),
        ("OCBAR_SESSION", n.session.to_string()),
        ("OCBAR_TITLE", one_line(&n.title, MAX_ENV_TEXT)),
        ("OCBAR_SERVER", n.server.to_string()),
        (
            "OCBAR_HOST",
            one_line(n.host.as_deref().unwrap_or(""), MAX_ENV_TEXT),
        ),
        ("OCBAR_DIRECTORY", n.directory.clone()),
        (
            "OCBAR_MESSAGE",
            one_line(n.message.as_deref().unwrap_or(""), MAX_ENV_TEXT),
        ),
        ("OCBAR_BUSY_MS", n.busy_ms.to_string()),
        ("OCBAR_SOUND", d.sound_name().to_string()),
        ("OCBAR_TEXT", d.text()),
        ("OCBAR_COUNT", d.items().len().to_string()),
        ("OCBAR_SESSIONS", sessions.join("\n")),
    ]
}

/// Kills a process group when dropped, unless disarmed.
struct GroupKiller(Option<i32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take()
            && pgid > 0
        {
            // SAFETY: killpg has no memory-safety preconditions; the group is the one the
            // child leads (process_group(0)), and the child has not been reaped yet.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

/// The command channel.
pub struct UserCommand {
    argv: Vec<String>,
}

impl UserCommand {
    /// `argv` must not be empty (see `CommandSpec::argv`).
    pub fn new(argv: Vec<String>) -> Option<UserCommand> {
        (!argv.is_empty()).then_some(UserCommand { argv })
    }

    /// Run the command and wait for it. Dropping the future kills its process group.
    pub async fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let (program, args) = self.argv.split_first().ok_or("empty command")?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env_vars(d))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("command {program}: cannot start: {e}"))?;
        let mut killer = GroupKiller(child.id().and_then(|id| i32::try_from(id).ok()));
        let status = child.wait().await;
        // It exited by itself: whatever it left running in the background is its business.
        killer.0 = None;
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("command {program}: {s}")),
            Err(e) => Err(format!("command {program}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::effect::{Notification, NotifyKind};

    fn note(kind: NotifyKind, session: &str, title: &str) -> Notification {
        Notification {
            message: Some("boom".into()),
            busy_ms: 42,
            ..Notification::sample(kind, session, title)
        }
    }

    #[test]
    fn summary_env_describes_the_most_urgent_session() {
        let d = Delivery::new(vec![
            note(NotifyKind::Done, "s1", "a"),
            note(NotifyKind::Error, "s2", "b"),
        ])
        .unwrap();
        let env: std::collections::HashMap<_, _> = env_vars(&d).into_iter().collect();
        assert_eq!(env["OCBAR_KIND"], "error");
        assert_eq!(env["OCBAR_SESSION"], "s2");
        assert_eq!(env["OCBAR_TITLE"], "b");
        assert_eq!(env["OCBAR_MESSAGE"], "boom");
        assert_eq!(env["OCBAR_COUNT"], "2");
        assert_eq!(env["OCBAR_SOUND"], "dialog-error");
        assert_eq!(env["OCBAR_SESSIONS"], "s2\ns1");
        assert_eq!(
            env["OCBAR_TEXT"],
            "2 sessions: 1 failed (b), 1 finished (a)"
        );
    }
}
