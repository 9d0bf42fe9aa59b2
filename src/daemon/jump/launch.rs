//! `ocbar open S` when no OpenCode TUI can show S: start one.
//!
//! `[open] command` in the config file decides:
//! - not set (the default): in a reachable tmux server, a new window in S's directory running
//!   `opencode attach <server> --session S`, in the tmux session of the user's most recently
//!   active client, which is switched to it (and its terminal window focused);
//! - a command (a string run by `sh -c`, or an argv list): run in S's directory with
//!   `OCBAR_SERVER`, `OCBAR_SESSION`, `OCBAR_DIRECTORY` and `OCBAR_ATTACH` (the `opencode
//!   attach …` command line, shell-quoted) in its environment; it may keep running (a terminal
//!   emulator it starts);
//! - `""`: off; `open` then asks the server's TUIs over HTTP (`POST /tui/select-session`).

use std::path::Path;
use std::process::Stdio;

use super::{Request, STEP_TIMEOUT, tmux, wm};
use crate::daemon::tmux::Server;

/// What [`launch`] did.
pub enum Launched {
    /// A TUI was started; the reply.
    Done(String),
    /// Starting one failed: the error for the user.
    Failed(String),
    /// Nothing to run (why, or "" when off).
    Nothing(String),
}

/// Quote for a POSIX shell: safe to paste, whatever the text holds.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The `opencode attach` argv for `req`.
pub fn attach_argv(req: &Request) -> Vec<String> {
    vec![
        req.config
            .opencode
            .clone()
            .filter(|o| !o.trim().is_empty())
            .unwrap_or_else(|| "opencode".into()),
        "attach".into(),
        req.server.clone(),
        "--session".into(),
        req.session.clone(),
    ]
}

/// Start a TUI for `req` as `[open] command` says.
pub async fn launch(req: &Request) -> Launched {
    match &req.config.command {
        Some(spec) => match spec.argv() {
            Some(argv) => user_command(req, &argv).await,
            None => Launched::Nothing(String::new()),
        },
        None => new_tmux_window(req).await,
    }
}

async fn user_command(req: &Request, argv: &[String]) -> Launched {
    let attach = attach_argv(req)
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env("OCBAR_SERVER", &req.server)
        .env("OCBAR_SESSION", &req.session)
        .env("OCBAR_DIRECTORY", &req.directory)
        .env("OCBAR_ATTACH", &attach)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if !req.directory.is_empty() && Path::new(&req.directory).is_dir() {
        cmd.current_dir(&req.directory);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Launched::Failed(format!("[open] command {:?}: {e}", argv[0])),
    };
    let stderr = child.stderr.take();
    match tokio::time::timeout(STEP_TIMEOUT, child.wait()).await {
        Ok(Ok(status)) if status.success() => Launched::Done(format!(
            "no OpenCode TUI could show {}; ran [open] command {}",
            req.session, argv[0]
        )),
        Ok(Ok(status)) => {
            let mut err = String::new();
            if let Some(mut e) = stderr {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; 2000];
                if let Ok(Ok(n)) = tokio::time::timeout(STEP_TIMEOUT, e.read(&mut buf)).await {
                    err = String::from_utf8_lossy(&buf[..n]).trim().to_string();
                }
            }
            Launched::Failed(format!(
                "[open] command {} failed ({status}){}",
                argv[0],
                if err.is_empty() {
                    String::new()
                } else {
                    format!(": {err}")
                }
            ))
        }
        Ok(Err(e)) => Launched::Failed(format!("[open] command {}: {e}", argv[0])),
        // Still running (a terminal it opened): leave it, and reap it when it ends.
        Err(_) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
            Launched::Done(format!(
                "no OpenCode TUI could show {}; started [open] command {}",
                req.session, argv[0]
            ))
        }
    }
}

/// The default: a new window in a reachable tmux server.
async fn new_tmux_window(req: &Request) -> Launched {
    // Where TUIs run, then the configured server, then $TMUX's / tmux's default.
    let mut candidates: Vec<Option<String>> = req.tmux_sockets.iter().cloned().map(Some).collect();
    if let Some(s) = &req.tmux_socket {
        candidates.push(Some(s.to_string_lossy().into_owned()));
    }
    candidates.push(None);
    let mut found = None;
    for c in candidates {
        if let Ok(clients) = tmux::clients(&Server::on(c.as_deref())).await {
            found = Some((c, clients));
            break;
        }
    }
    let Some((socket, clients)) = found else {
        return Launched::Nothing(
            "no tmux server to open a new window in (set [open] command to start a terminal)"
                .into(),
        );
    };
    let server = Server::on(socket.as_deref());
    let client = clients.into_iter().next();
    let target = client.as_ref().map(|c| format!("={}:", c.session));
    let mut args: Vec<String> = vec!["new-window".into()];
    if let Some(t) = &target {
        args.extend(["-t".into(), t.clone()]);
    }
    if !req.directory.is_empty() && Path::new(&req.directory).is_dir() {
        args.extend(["-c".into(), req.directory.clone()]);
    }
    args.extend([
        "-P".into(),
        "-F".into(),
        "#{session_name}:#{window_index}.#{pane_id}".into(),
        "--".into(),
    ]);
    args.extend(attach_argv(req));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut made = server.run(&refs).await;
    if made.is_err() && target.is_none() {
        // No session at all on that server: a new one.
        let mut args = refs.clone();
        args[0] = "new-session";
        args.insert(1, "-d");
        made = server.run(&args).await;
    }
    let place = match made {
        Ok(p) => p.trim().to_string(),
        Err(e) => return Launched::Failed(format!("could not open a tmux window: {e}")),
    };
    let mut steps = vec![format!(
        "no OpenCode TUI could show {}; new tmux window {place} running opencode attach {} --session {}",
        req.session, req.server, req.session
    )];
    if let Some(c) = client {
        let pane = place.rsplit('.').next().unwrap_or(&place).to_string();
        match server
            .run(&["switch-client", "-c", &c.name, "-t", &pane])
            .await
        {
            Ok(_) => steps.push(format!("client {} switched there", c.name)),
            Err(e) => steps.push(format!("tmux: {e}")),
        }
        steps.extend(wm::focus(c.pid).await);
    }
    Launched::Done(steps.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_anything() {
        assert_eq!(shell_quote("ses_1"), "ses_1");
        assert_eq!(
            shell_quote("http://127.0.0.1:4096"),
            "http://127.0.0.1:4096"
        );
        assert_eq!(shell_quote("/a b"), "'/a b'");
        assert_eq!(shell_quote("it's; rm -rf"), "'it'\\''s; rm -rf'");
        assert_eq!(shell_quote(""), "''");
    }
}
