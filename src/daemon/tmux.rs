//! The one way the daemon runs `tmux`: which server ([`Server`]: `-S socket`, else `$TMUX`'s,
//! else tmux's default), every call bounded by [`TIMEOUT`] and killed after it, its errors in
//! words, and the escaping of what the daemon hands to tmux ([`arg`], [`message`]).
//!
//! Used by the `@ocbar` push (`daemon::push`), the tmux notification channel
//! (`daemon::notify::tmux`), `ocbar open` (`daemon::jump`) and the on-screen watch
//! (`daemon::visibility`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Longest one `tmux` call may take before it is killed and counted as a failure.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// A tmux server, as `tmux` finds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Server {
    /// `-S socket`; `None`: tmux's own choice (`$TMUX`'s server, else its default).
    pub socket: Option<PathBuf>,
}

impl Server {
    /// The server on `socket` (`None`: tmux's own choice).
    pub fn on(socket: Option<impl Into<PathBuf>>) -> Server {
        Server {
            socket: socket.map(Into::into),
        }
    }

    /// `tmux [-S socket]` with no stdin, its output captured; blocking (for the few calls made
    /// while the daemon starts or stops).
    pub fn blocking_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new("tmux");
        if let Some(s) = &self.socket {
            cmd.arg("-S").arg(s);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `tmux [-S socket]` for the async runtime, killed when dropped.
    pub fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::from(self.blocking_command());
        cmd.kill_on_drop(true);
        cmd
    }

    /// `tmux [-S socket] ARGS`, bounded by [`TIMEOUT`]: its stdout, else what went wrong.
    pub async fn run(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = self.command();
        cmd.args(args);
        let first = args.first().copied().unwrap_or("");
        match tokio::time::timeout(TIMEOUT, cmd.output()).await {
            Err(_) => Err(format!(
                "tmux {first} did not answer within {} s",
                TIMEOUT.as_secs()
            )),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Err("tmux is not installed (not found on PATH)".to_string())
            }
            Ok(Err(e)) => Err(format!("cannot run tmux: {e}")),
            Ok(Ok(out)) if out.status.success() => {
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
            Ok(Ok(out)) => {
                let err = String::from_utf8_lossy(&out.stderr);
                let err = err.trim();
                Err(if err.is_empty() {
                    format!("tmux {first} failed ({})", out.status)
                } else {
                    format!("tmux {first}: {err}")
                })
            }
        }
    }

    /// Which server, for log lines and `doctor`.
    pub fn describe(&self) -> String {
        if let Some(s) = &self.socket {
            return format!("the tmux server on {}", s.display());
        }
        match std::env::var("TMUX") {
            Ok(t) if !t.is_empty() => format!(
                "the tmux server on {} ($TMUX)",
                t.split(',').next().unwrap_or_default()
            ),
            _ => "tmux's default server".to_string(),
        }
    }

    /// The socket of the server `tmux` talks to, as tmux finds it: `-S`, else `$TMUX`'s, else
    /// `$TMUX_TMPDIR` (or `/tmp`) `/tmux-UID/default`.
    pub fn socket_path(&self) -> PathBuf {
        socket_path(
            self.socket.as_deref(),
            std::env::var_os("TMUX"),
            std::env::var_os("TMUX_TMPDIR"),
            crate::paths::uid(),
        )
    }
}

/// The socket of tmux's server as `tmux` finds it: `-S socket`, else the path in `$TMUX` (up to
/// the first comma), else `$TMUX_TMPDIR` (default `/tmp`) `/tmux-UID/default`.
pub fn socket_path(
    socket: Option<&Path>,
    tmux: Option<std::ffi::OsString>,
    tmpdir: Option<std::ffi::OsString>,
    uid: u32,
) -> PathBuf {
    if let Some(s) = socket {
        return s.to_path_buf();
    }
    if let Some(t) = tmux {
        let t = t.to_string_lossy();
        let path = t.split(',').next().unwrap_or_default();
        if !path.is_empty() {
            return PathBuf::from(path);
        }
    }
    tmpdir
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join(format!("tmux-{uid}"))
        .join("default")
}

/// `line` as one argument of a `tmux` command line: tmux's parser takes an argument that ends
/// in `;` for a command separator (and `\;` for a literal `;`), so a trailing `;` is escaped.
pub fn arg(line: &str) -> String {
    match line.strip_suffix(';') {
        Some(rest) => format!("{rest}\\;"),
        None => line.to_string(),
    }
}

/// Text made safe for `display-message`: its argument is a tmux format that is then passed
/// through strftime, so `#` and `%` are doubled; control characters never reach the terminal.
pub fn message(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '#' => out.push_str("##"),
            '%' => out.push_str("%%"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    arg(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_semicolon_is_escaped_for_tmux() {
        assert_eq!(arg("plain"), "plain");
        assert_eq!(arg("a;"), "a\\;");
        assert_eq!(arg(";"), "\\;");
        assert_eq!(arg("a\\;"), "a\\\\;");
        assert_eq!(arg("a ; b"), "a ; b");
        assert_eq!(arg(""), "");
    }

    #[test]
    fn messages_double_hashes_and_percents_and_drop_controls() {
        assert_eq!(message("fix #12 #[fg=red]x"), "fix ##12 ##[fg=red]x");
        assert_eq!(message("a\nb\x1b[0m"), "a b [0m");
        assert_eq!(message("#{pane_title}"), "##{pane_title}");
        assert_eq!(message("100% %H"), "100%% %%H");
        assert_eq!(message("end;"), "end\\;");
    }

    #[test]
    fn the_server_socket_is_found_where_tmux_looks() {
        use std::ffi::OsString;
        let os = |s: &str| Some(OsString::from(s));
        let given = Path::new("/run/t/s");
        assert_eq!(
            socket_path(Some(given), os("/tmp/tmux-1/x,1,2"), None, 1),
            given
        );
        assert_eq!(
            socket_path(None, os("/tmp/tmux-1/x,123,0"), os("/t"), 1),
            PathBuf::from("/tmp/tmux-1/x")
        );
        assert_eq!(
            socket_path(None, os(""), os("/run/user/7"), 7),
            PathBuf::from("/run/user/7/tmux-7/default")
        );
        assert_eq!(
            socket_path(None, None, os(""), 1000),
            PathBuf::from("/tmp/tmux-1000/default")
        );
    }
}
