//! `open` on a remote machine's session, on this side: the local terminal that runs an
//! interactive `ssh HOST` (the one the remote TUI is seen through) is brought on screen, as far
//! as this machine can tell which one that is.

use crate::daemon::jump::{tmux, wm};
use crate::daemon::tmux::Server;

/// Local `ssh` processes whose arguments name `host` (the destination as the user gave it),
/// other than this daemon's own links; oldest first.
pub fn ssh_processes(host: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| wm::parent_of(pid) != Some(me))
        .filter(|&pid| {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let mut argv = raw.split(|&b| b == 0).filter(|a| !a.is_empty());
            let is_ssh = argv
                .next()
                .is_some_and(|a0| a0 == b"ssh" || a0.ends_with(b"/ssh"));
            is_ssh && argv.any(|a| a == host.as_bytes())
        })
        .collect();
    found.sort_unstable();
    found
}

/// Bring on screen the local terminal running `ssh HOST`: its tmux pane (on one of
/// `tmux_sockets`) and the window of the tmux client or terminal holding it. The words for
/// `open`'s reply.
pub async fn show(host: &str, tmux_sockets: &[String]) -> String {
    let Some(&pid) = ssh_processes(host).first() else {
        return format!("no terminal here runs 'ssh {host}'");
    };
    let chain = wm::ancestry(pid);
    for sock in tmux_sockets {
        let Ok(panes) = Server::on(Some(sock.as_str()))
            .run(&["list-panes", "-a", "-F", "#{pane_id} #{pane_pid}"])
            .await
        else {
            continue;
        };
        let pane = panes.lines().find_map(|l| {
            let (id, p) = l.split_once(' ')?;
            chain
                .contains(&p.trim().parse().ok()?)
                .then(|| id.to_string())
        });
        if let Some(pane) = pane {
            return match tmux::reveal(sock, &pane).await {
                Ok(r) => {
                    let window = match r.client_pid {
                        Some(client) => wm::focus(client).await,
                        None => Some("no tmux client attached".to_string()),
                    };
                    match window {
                        Some(w) => format!("'ssh {host}' in tmux {}; {w}", r.place),
                        None => format!("'ssh {host}' in tmux {}", r.place),
                    }
                }
                Err(e) => format!("'ssh {host}' is in tmux pane {pane}, not shown: {e}"),
            };
        }
    }
    match wm::focus(pid).await {
        Some(w) => format!("'ssh {host}' (pid {pid}): {w}"),
        None => format!("'ssh {host}' (pid {pid})"),
    }
}
