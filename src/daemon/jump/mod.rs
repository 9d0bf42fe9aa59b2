//! `ocbar open S`: land in the terminal that shows session S.
//!
//! Every way of opening a session (`ocbar open`, `open --newest-unvisited`, a bar's on-click,
//! the tmux picker, the plugin's picker, a desktop notification's "Open" action) ends here:
//!
//! 1. **Choose one TUI** ([`choose`], pure): one already showing S, else the most recently
//!    on-screen TUI that can show S (attached to S's server, or the bridged TUI that runs S).
//! 2. **Switch only that TUI**, through its plugin channel (`{"open":…}`).
//! 3. **Bring it on screen**, best effort: its tmux window and pane are selected and the user's
//!    most recently active tmux client is switched there ([`tmux`]); the window-manager window
//!    holding that client (or the TUI) gets focus ([`wm`]).
//! 4. **A TUI without the plugin** (`opencode attach`, `opencode --port`, found in `/proc` with
//!    its `$TMUX_PANE`): switched over HTTP (`POST /tui/select-session`) and brought on screen
//!    the same way.
//! 5. **No TUI can show S:** the `[open] command` runs, by default a new tmux window running
//!    `opencode attach <server> --session S` ([`launch`]); a session of a bridged TUI that is
//!    gone is answered with what to run.
//!
//! The daemon's state loop resolves the session and collects the facts ([`Request`]); the I/O
//! runs in [`run`], outside the loop, every step bounded by [`STEP_TIMEOUT`].

pub mod launch;
pub mod tmux;
pub mod wm;

use std::process::Stdio;
use std::time::Duration;

use crate::daemon::tui::TuiView;

pub use crate::daemon::config::OpenConfig;

/// Longest one external program (tmux, swaymsg-style IPC, hyprctl, the open command) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// The TUI `ocbar open` switches to `session` of `server`: one already showing it, else the most
/// recently on-screen one that can show it; `None` when no TUI is on that server.
pub fn choose<'a>(tuis: &'a [TuiView], server: &str, session: &str) -> Option<&'a TuiView> {
    let key = crate::server_url::url_key(server);
    let rank = |t: &&&TuiView| (t.on_screen, t.on_screen_ms, t.since_ms);
    let on_server: Vec<&TuiView> = tuis
        .iter()
        .filter(|t| {
            t.server
                .as_deref()
                .is_some_and(|s| crate::server_url::url_key(s) == key)
        })
        .collect();
    on_server
        .iter()
        .filter(|t| t.session.as_deref() == Some(session))
        .max_by_key(rank)
        .or_else(|| on_server.iter().max_by_key(rank))
        .copied()
}

/// Everything `open` needs, gathered by the state loop.
pub struct Request {
    pub server: String,
    pub session: String,
    /// The session's project directory ("" when unknown).
    pub directory: String,
    /// The TUI chosen by [`choose`].
    pub tui: Option<TuiView>,
    /// Every TUI's tmux server (to open a new window in when no TUI can show the session).
    pub tmux_sockets: Vec<String>,
    /// `[open]` of the config file.
    pub config: OpenConfig,
    /// The fallback tmux server: `[tmux] socket`, else `[notify] tmux_socket`.
    pub tmux_socket: Option<std::path::PathBuf>,
}

/// How `open` switches a TUI that has no plugin channel: `POST /tui/select-session` on the
/// session's server (moves every TUI of that server).
pub type SelectSession =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;

/// What `open` did, for the reply; `Err` when nothing could show the session.
pub async fn run(
    req: Request,
    hub: std::sync::Arc<crate::daemon::tui::Hub>,
    mut select: Option<SelectSession>,
) -> Result<String, String> {
    let session = req.session.as_str();
    if let Some(tui) = &req.tui {
        hub.open_in(&tui.id, session)?;
        let mut steps = vec![match tui.pid {
            Some(pid) => format!("TUI pid {pid} → {session}"),
            None => format!("TUI {} → {session}", tui.id),
        }];
        bring_on_screen(tui.pid, tui.tmux.as_ref(), &mut steps).await;
        return Ok(steps.join("; "));
    }
    if req.server.starts_with(crate::server_url::TUI_SCHEME) {
        let pid = req.server.trim_start_matches(crate::server_url::TUI_SCHEME);
        let cd = if req.directory.is_empty() {
            String::new()
        } else {
            format!("cd {} && ", launch::shell_quote(&req.directory))
        };
        return Err(format!(
            "the OpenCode TUI that ran {session} (pid {pid}) is gone; to open it again, run: {cd}opencode --session {}",
            launch::shell_quote(session)
        ));
    }
    // A TUI without the plugin (`opencode attach`, `opencode --port`): switched over HTTP and
    // brought on screen where it runs; a new one only when there is none.
    if select.is_some() {
        let server = req.server.clone();
        let found = tokio::task::spawn_blocking(move || {
            crate::daemon::discovery::tuis_of(std::path::Path::new("/proc"), &server)
        })
        .await
        .unwrap_or_default();
        let tui = found
            .iter()
            .find(|t| t.tmux.is_some())
            .or_else(|| found.first());
        if let Some(tui) = tui
            && let Some(call) = select.take()
        {
            select_session(call, &req.server, session).await?;
            let mut steps = vec![format!(
                "OpenCode TUI pid {} (no ocbar plugin) → {session} (POST /tui/select-session on {})",
                tui.pid, req.server
            )];
            bring_on_screen(Some(tui.pid), tui.tmux.as_ref(), &mut steps).await;
            return Ok(steps.join("; "));
        }
    }
    match launch::launch(&req).await {
        launch::Launched::Done(text) => Ok(text),
        launch::Launched::Failed(e) => Err(e),
        launch::Launched::Nothing(why) => match select {
            Some(call) => {
                select_session(call, &req.server, session).await?;
                Ok(format!(
                    "no OpenCode TUI with the ocbar plugin is on {}; asked every TUI there to show {session} (POST /tui/select-session){}",
                    req.server,
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!("; no new TUI: {why}")
                    }
                ))
            }
            None => Err(format!(
                "no OpenCode TUI can show {session}, and {}",
                if why.is_empty() {
                    format!("{} is not followed", req.server)
                } else {
                    why
                }
            )),
        },
    }
}

/// `POST /tui/select-session` on `server`, bounded; the error in words.
async fn select_session(call: SelectSession, server: &str, session: &str) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "could not switch the OpenCode TUI to {session}: {e}"
        )),
        Err(_) => Err(format!(
            "{server} did not answer /tui/select-session in time"
        )),
    }
}

/// Put a TUI on the user's screen, best effort: its tmux pane selected and shown by the most
/// recently active client, then the window holding that client (or the TUI) focused. What was
/// done goes to `steps`.
async fn bring_on_screen(
    pid: Option<u32>,
    tmux: Option<&(String, String)>,
    steps: &mut Vec<String>,
) {
    let mut window_pid = pid;
    if let Some((socket, pane)) = tmux {
        match tmux::reveal(socket, pane).await {
            Ok(shown) => {
                steps.push(shown.describe());
                if let Some(c) = shown.client_pid {
                    window_pid = Some(c);
                }
            }
            Err(e) => steps.push(format!("tmux: {e}")),
        }
    }
    if let Some(pid) = window_pid
        && let Some(focused) = wm::focus(pid).await
    {
        steps.push(focused);
    }
}

/// Run a program, bounded by [`STEP_TIMEOUT`]; its stdout on success, else why not.
pub(crate) async fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match tokio::time::timeout(STEP_TIMEOUT, cmd.output()).await {
        Err(_) => Err(format!(
            "{program} did not finish within {}s",
            STEP_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("cannot run {program}: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = err.trim();
            Err(if err.is_empty() {
                format!("{program} {}: {}", args.first().unwrap_or(&""), out.status)
            } else {
                format!("{program} {}: {err}", args.first().unwrap_or(&""))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tui(id: &str, server: &str, session: Option<&str>, focused: bool, at: i64) -> TuiView {
        TuiView {
            id: id.into(),
            pid: id.parse().ok(),
            server: Some(server.into()),
            tmux: None,
            session: session.map(str::to_string),
            on_screen: focused,
            on_screen_ms: at,
            since_ms: 0,
            directory: None,
        }
    }

    fn request(server: &str, config: OpenConfig) -> Request {
        Request {
            server: server.into(),
            session: "ses_1".into(),
            directory: "/tmp".into(),
            tui: None,
            tmux_sockets: Vec::new(),
            config,
            tmux_socket: None,
        }
    }

    fn hub() -> std::sync::Arc<crate::daemon::tui::Hub> {
        let (etx, _erx) = tokio::sync::mpsc::channel(4);
        let (utx, _urx) = tokio::sync::mpsc::channel(4);
        std::sync::Arc::new(crate::daemon::tui::Hub::new(etx, utx))
    }

    #[tokio::test]
    async fn a_bridged_session_whose_tui_is_gone_says_what_to_run() {
        let e = run(request("tui://4242", OpenConfig::default()), hub(), None)
            .await
            .unwrap_err();
        assert!(e.contains("(pid 4242) is gone"), "{e}");
        assert!(e.contains("cd /tmp && opencode --session ses_1"), "{e}");
    }

    #[tokio::test]
    async fn the_open_command_gets_the_attach_line_in_its_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let config = OpenConfig {
            command: Some(crate::daemon::notify::config::CommandSpec::Shell(format!(
                "printf '%s|%s|%s' \"$OCBAR_ATTACH\" \"$OCBAR_SESSION\" \"$PWD\" > '{}'",
                out.display()
            ))),
            opencode: Some("/opt/my opencode".into()),
        };
        let text = run(request("http://127.0.0.1:4096", config), hub(), None)
            .await
            .unwrap();
        assert!(text.contains("ran [open] command"), "{text}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "'/opt/my opencode' attach http://127.0.0.1:4096 --session ses_1|ses_1|/tmp"
        );
        // A command that fails is reported, with what it said.
        let config = OpenConfig {
            command: Some(crate::daemon::notify::config::CommandSpec::Shell(
                "echo no terminal here >&2; exit 3".into(),
            )),
            opencode: None,
        };
        let e = run(request("http://127.0.0.1:4096", config), hub(), None)
            .await
            .unwrap_err();
        assert!(e.contains("no terminal here"), "{e}");
        // Off, and no server to ask: a clear error.
        let config = OpenConfig {
            command: Some(crate::daemon::notify::config::CommandSpec::Shell(
                String::new(),
            )),
            opencode: None,
        };
        let e = run(request("http://127.0.0.1:4096", config), hub(), None)
            .await
            .unwrap_err();
        assert!(e.contains("no OpenCode TUI can show ses_1"), "{e}");
    }

    #[test]
    fn a_tui_showing_the_session_wins() {
        let tuis = [
            tui("1", "http://127.0.0.1:4096", Some("ses_b"), true, 900),
            tui("2", "http://localhost:4096/", Some("ses_a"), false, 100),
        ];
        assert_eq!(
            choose(&tuis, "http://127.0.0.1:4096", "ses_a").map(|t| &*t.id),
            Some("2")
        );
    }

    #[test]
    fn else_the_most_recently_focused_tui_of_that_server() {
        let tuis = [
            tui("1", "http://127.0.0.1:4096", None, false, 500),
            tui("2", "http://127.0.0.1:4096", None, false, 700),
            tui("3", "http://127.0.0.1:5000", None, true, 900),
            tui("4", "tui://4", None, true, 990),
        ];
        assert_eq!(
            choose(&tuis, "http://127.0.0.1:4096", "ses_x").map(|t| &*t.id),
            Some("2")
        );
        // Focused now beats focused a moment ago.
        let mut tuis = tuis.to_vec();
        tuis[0].on_screen = true;
        assert_eq!(
            choose(&tuis, "http://127.0.0.1:4096", "ses_x").map(|t| &*t.id),
            Some("1")
        );
        // A bridged session: only the TUI that runs it.
        assert_eq!(choose(&tuis, "tui://4", "ses_y").map(|t| &*t.id), Some("4"));
        assert!(choose(&tuis, "http://127.0.0.1:6000", "ses_x").is_none());
        assert!(choose(&tuis, "tui://9", "ses_x").is_none());
    }
}
