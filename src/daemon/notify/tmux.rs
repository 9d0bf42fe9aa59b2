//! `tmux display-message` on every attached client of a reachable tmux server.
//!
//! The server is the configured socket (`tmux -S`), else the one `$TMUX` names (tmux itself
//! reads it), else tmux's default. No reachable server, or no attached client: nothing to do.

use std::path::PathBuf;
use std::process::Stdio;

use futures_util::future::join_all;
use tokio::process::Command;

use super::delivery::Delivery;
use super::log;

/// Make text safe to show through `display-message`: its argument is a tmux format that is
/// then passed through strftime, so `#` and `%` are doubled; control characters never reach
/// the terminal.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '#' => out.push_str("##"),
            '%' => out.push_str("%%"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The tmux channel.
pub struct Tmux {
    socket: Option<PathBuf>,
    display_ms: u64,
}

impl Tmux {
    pub fn new(socket: Option<PathBuf>, display_ms: u64) -> Tmux {
        Tmux { socket, display_ms }
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        if let Some(s) = &self.socket {
            cmd.arg("-S").arg(s);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// The names of the attached clients, or `None` when no tmux server answers.
    async fn clients(&self) -> Option<Vec<String>> {
        let out = self
            .tmux()
            .args(["list-clients", "-F", "#{client_name}"])
            .output()
            .await;
        match out {
            Ok(out) if out.status.success() => Some(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
            ),
            Ok(out) => {
                log::debug(&format!(
                    "tmux: no server reachable ({})",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
                None
            }
            Err(e) => {
                log::debug(&format!("tmux: cannot run tmux: {e}"));
                None
            }
        }
    }

    /// Show the delivery's text on every attached client.
    pub async fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let Some(clients) = self.clients().await else {
            return Ok(());
        };
        let message = escape(&format!("ocbar: {}", d.text()));
        let delay = self.display_ms.max(1).to_string();
        let shows = clients.iter().map(|client| {
            let mut cmd = self.tmux();
            cmd.args([
                "display-message",
                "-c",
                client,
                "-d",
                &delay,
                "--",
                &message,
            ]);
            async move {
                match cmd.output().await {
                    Ok(out) if out.status.success() => Ok(()),
                    Ok(out) => Err(format!(
                        "tmux display-message on {client}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )),
                    Err(e) => Err(format!("tmux display-message on {client}: {e}")),
                }
            }
        });
        let errors: Vec<String> = join_all(shows)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_hashes_and_drops_controls() {
        assert_eq!(escape("fix #12 #[fg=red]x"), "fix ##12 ##[fg=red]x");
        assert_eq!(escape("a\nb\x1b[0m"), "a b [0m");
        assert_eq!(escape("#{pane_title}"), "##{pane_title}");
        assert_eq!(escape("100% %H"), "100%% %%H");
    }
}
