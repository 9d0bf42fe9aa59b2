//! Whether the user can see each TUI: "on screen" decided from where the TUI is, since
//! OpenCode's TUI never turns on terminal focus reporting (`?1004`), so no focus report ever
//! comes from it.
//!
//! - **In tmux** (the plugin's hello names `$TMUX` and `$TMUX_PANE`): on screen when its pane is
//!   in the current window of a session that an attached client shows (not behind a zoomed
//!   pane) and, when tmux knows client focus (`focus-events on`), that client has focus
//!   ([`tmux`]). Followed through hooks, not polled.
//! - **Its terminal window** (sway, i3, Hyprland, or X11 without Wayland, in the daemon's
//!   environment): the TUI's terminal, or the terminal of the tmux client that shows it, must
//!   be the focused window (found by pid ancestry, [`wm`]); a terminal that is no window of it
//!   (ssh, a console) is left to tmux.
//! - **Nothing to ask** (no tmux, no window manager to ask, or tmux not answering): counted as
//!   on screen, as before: a lone TUI in a plain terminal does not notify about the session the
//!   user is looking at. `doctor` says so for each TUI.
//!
//! The decision ([`decide`]) is pure; [`run`] gathers the facts and hands each TUI's
//! [`Screen`] to the hub, which tells the model (`Event::Focus`).

pub mod tmux;
pub mod wm;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::daemon::jump::wm::{Window, ancestry};
use crate::daemon::tmux::Server;
use crate::daemon::tui::{Hub, Screen, TuiView};

/// Whether the user can see `tui`, and why.
///
/// `tmux`: what its tmux server said (when it runs in tmux); `windows`: the window manager's
/// windows (`None`: none to ask); `ancestry`: a process and its parents (where a window's pid is
/// looked for).
pub fn decide(
    tui: &TuiView,
    tmux: Option<&Result<tmux::Facts, String>>,
    windows: Option<&wm::Windows>,
    ancestry: &dyn Fn(u32) -> Vec<u32>,
) -> Screen {
    let on = |why: String| Screen { on: true, why };
    let off = |why: String| Screen { on: false, why };
    // The processes whose terminal window must have focus, and what shows the TUI.
    let (holders, shown): (Vec<(String, u32)>, String) = match (&tui.tmux, tmux) {
        (Some((socket, pane)), Some(Ok(facts))) => match tmux::sight(facts, pane) {
            Some(tmux::Sight::Shown { place, clients }) => {
                let names: Vec<&str> = clients.iter().map(|c| c.0.as_str()).collect();
                let shown = format!("tmux {place} shown by client {}", names.join(", "));
                (clients, shown)
            }
            Some(tmux::Sight::Hidden(why)) => return off(why),
            None => {
                return on(format!(
                    "tmux pane {pane} is unknown to the tmux server on {socket}: counted as on screen"
                ));
            }
        },
        (Some((socket, _)), Some(Err(e))) => {
            return on(format!(
                "the tmux server on {socket} does not answer ({e}): counted as on screen"
            ));
        }
        (Some((socket, _)), None) => {
            return on(format!(
                "the tmux server on {socket} was not asked yet: counted as on screen"
            ));
        }
        (None, _) => match tui.pid {
            Some(pid) => (vec![(format!("pid {pid}"), pid)], "not in tmux".to_string()),
            None => {
                return on("no pid and not in tmux: counted as on screen".to_string());
            }
        },
    };
    let Some(windows) = windows else {
        return on(if tui.tmux.is_some() {
            shown
        } else {
            "not in tmux, and no window manager says which window has focus: counted as on screen"
                .to_string()
        });
    };
    // The holders whose terminal is one of the window manager's windows.
    let chains: Vec<Vec<u32>> = holders
        .iter()
        .map(|(_, pid)| ancestry(*pid))
        .filter(|chain| chain.iter().any(|p| windows.pids.contains(p)))
        .collect();
    if chains.is_empty() {
        return on(format!(
            "{shown}; its terminal is no window of the window manager (ssh, a console?): counted as on screen"
        ));
    }
    let Some(Window { pid: wpid, name }) = &windows.focused else {
        return off(format!("{shown}; no window has focus"));
    };
    if chains.iter().any(|chain| chain.contains(wpid)) {
        on(format!(
            "{shown}, in the focused window ({name}, pid {wpid})"
        ))
    } else {
        off(format!(
            "{shown}, but its terminal window does not have focus ({name}, pid {wpid}, has)"
        ))
    }
}

/// Decide, for as long as the daemon runs, whether each connected TUI is on screen, and hand
/// it to `hub`: again whenever a TUI comes or goes, a followed tmux server signals a change,
/// or the focused window changes.
pub async fn run(hub: Arc<Hub>) {
    let mut tuis = hub.subscribe();
    let (wake_tx, mut wake_rx) = mpsc::channel::<()>(16);
    let mut followers: BTreeMap<String, JoinHandle<()>> = BTreeMap::new();
    let (window_tx, mut window_rx) = watch::channel::<Option<wm::Windows>>(None);
    let manager = wm::Manager::from_env();
    let describe = manager.as_ref().map(wm::Manager::describe);
    let window_follower = manager.map(|manager| {
        crate::log!(
            "on screen: following the focused window of {}",
            manager.describe()
        );
        tokio::spawn(wm::follow(manager, window_tx))
    });
    let has_window = window_follower.is_some();
    let _stop_window = AbortOnDrop(window_follower);
    loop {
        let views = hub.views();
        let sockets: BTreeSet<String> = views
            .iter()
            .filter_map(|v| v.tmux.as_ref().map(|(s, _)| s.clone()))
            .collect();
        followers.retain(|s, task| {
            let keep = sockets.contains(s);
            if !keep {
                task.abort();
            }
            keep
        });
        for s in &sockets {
            if !followers.contains_key(s) {
                let server = Server::on(Some(s.as_str()));
                followers.insert(
                    s.clone(),
                    tokio::spawn(tmux::follow(server, wake_tx.clone())),
                );
            }
        }
        let mut facts: BTreeMap<&str, Result<tmux::Facts, String>> = BTreeMap::new();
        for s in &sockets {
            facts.insert(s, tmux::query(&Server::on(Some(s.as_str()))).await);
        }
        let windows = window_rx.borrow_and_update().clone();
        hub.set_window_manager(match (&describe, &windows) {
            (None, _) => "none in the daemon's environment ($SWAYSOCK, $I3SOCK, $HYPRLAND_INSTANCE_SIGNATURE, or $DISPLAY without Wayland): a TUI outside tmux counts as on screen".into(),
            (Some(m), Some(_)) => format!("{m}, followed"),
            (Some(m), None) => format!("{m}, not answering (the daemon's log says why): TUIs count as on screen until it does"),
        });
        for v in &views {
            let t = v.tmux.as_ref().and_then(|(s, _)| facts.get(s.as_str()));
            let screen = decide(v, t, windows.as_ref(), &ancestry);
            hub.set_screen(&v.id, screen).await;
        }
        tokio::select! {
            changed = tuis.changed() => if changed.is_err() { break },
            Some(()) = wake_rx.recv() => while wake_rx.try_recv().is_ok() {},
            _ = window_rx.changed(), if has_window => {}
        }
    }
    for (_, task) in followers {
        task.abort();
    }
}

/// Stops the window follower with the loop.
struct AbortOnDrop(Option<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(pid: u32, tmux: Option<(&str, &str)>) -> TuiView {
        TuiView {
            id: pid.to_string(),
            pid: Some(pid),
            server: None,
            tmux: tmux.map(|(s, p)| (s.to_string(), p.to_string())),
            session: Some("ses_1".into()),
            on_screen: false,
            on_screen_ms: 0,
            since_ms: 0,
            directory: None,
        }
    }

    /// 300 runs in 200 (the terminal), which runs in 100; a tmux client 400 in 500.
    fn family(pid: u32) -> Vec<u32> {
        match pid {
            300 => vec![300, 200, 100],
            400 => vec![400, 500],
            p => vec![p],
        }
    }

    /// Windows 200 (the TUI's terminal), 500 (the tmux client's) and 900; `focused` has focus.
    fn windows(focused: Option<u32>) -> wm::Windows {
        wm::Windows {
            focused: focused.map(|pid| Window {
                pid,
                name: "foot".into(),
            }),
            pids: vec![200, 500, 900],
        }
    }

    #[test]
    fn nothing_to_ask_counts_as_on_screen() {
        let s = decide(&view(300, None), None, None, &family);
        assert!(s.on, "{s:?}");
        assert!(s.why.contains("counted as on screen"), "{s:?}");
        let s = decide(
            &view(300, Some(("/t/s", "%1"))),
            Some(&Err("no server running".into())),
            None,
            &family,
        );
        assert!(s.on && s.why.contains("does not answer"), "{s:?}");
    }

    #[test]
    fn outside_tmux_the_terminal_window_must_have_focus() {
        let tui = view(300, None);
        assert!(decide(&tui, None, Some(&windows(Some(200))), &family).on);
        let s = decide(&tui, None, Some(&windows(Some(900))), &family);
        assert!(!s.on && s.why.contains("does not have focus"), "{s:?}");
        assert!(!decide(&tui, None, Some(&windows(None)), &family).on);
        // A terminal that is no window of the window manager (ssh): not its to judge.
        let s = decide(&view(77, None), None, Some(&windows(Some(900))), &family);
        assert!(
            s.on && s.why.contains("no window of the window manager"),
            "{s:?}"
        );
    }

    #[test]
    fn in_tmux_the_client_shows_it_and_its_window_has_focus() {
        let facts = tmux::parse(
            "off\nC\t/dev/pts/2\t400\twork\t0\tattached,focused\nP\t%0\twork\t0\t1\t0\t1\nP\t%1\twork\t1\t0\t0\t1\n",
        );
        let facts = Ok(facts);
        let shown = view(300, Some(("/t/s", "%0")));
        let hidden = view(301, Some(("/t/s", "%1")));
        let s = decide(&shown, Some(&facts), None, &family);
        assert!(
            s.on && s.why == "tmux work:0 shown by client /dev/pts/2",
            "{s:?}"
        );
        let s = decide(&hidden, Some(&facts), None, &family);
        assert!(!s.on && s.why.contains("work:1"), "{s:?}");
        // The client's terminal (500) must be the focused window, not the TUI's own parents.
        assert!(decide(&shown, Some(&facts), Some(&windows(Some(500))), &family).on);
        assert!(!decide(&shown, Some(&facts), Some(&windows(Some(200))), &family).on);
        let s = decide(
            &view(302, Some(("/t/s", "%7"))),
            Some(&facts),
            None,
            &family,
        );
        assert!(s.on && s.why.contains("unknown"), "{s:?}");
    }
}
