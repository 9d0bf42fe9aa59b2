//! Where a TUI's tmux pane is, as the user sees it: which clients show the current window of
//! which session, and which of them has focus.
//!
//! Followed as it happens, with no polling: [`follow`] sets hooks on the TUI's tmux server
//! (`client-focus-in[4242]`, `session-window-changed[4242]`, … each running
//! `wait-for -S ocbar-visibility`, under an index of their own so the user's hooks stay) and
//! keeps one `tmux wait-for ocbar-visibility` waiting; every time it returns, [`query`] reads
//! the clients and panes again in one `tmux` call. A signal while nobody waits is kept by tmux
//! and wakes the next wait at once, so nothing is missed between two waits. Once ocbar stops,
//! the hooks signal a channel nobody waits on, which does nothing.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::daemon::tmux::Server;

/// The `wait-for` channel the hooks signal.
pub const CHANNEL: &str = "ocbar-visibility";

/// The index in each hook's array that is ocbar's (the user's hooks keep theirs).
pub const HOOK_INDEX: u32 = 4242;

/// The tmux events after which what a client shows, or its focus, may have changed.
pub const HOOKS: &[&str] = &[
    "client-attached",
    "client-detached",
    "client-session-changed",
    "client-focus-in",
    "client-focus-out",
    "session-window-changed",
    "session-closed",
    "window-linked",
    "window-unlinked",
    "window-layout-changed",
    "after-resize-pane",
];

/// The longest wait before a tmux server that stopped answering is tried again.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// One attached client of a tmux server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub name: String,
    pub pid: u32,
    pub session: String,
    /// A control-mode client (`tmux -C`): shows nothing on a screen of its own.
    pub control: bool,
    /// Its terminal has focus (tmux knows only with `focus-events on`).
    pub focused: bool,
}

/// One pane in one window of one session (a window linked into two sessions is listed twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    pub pane: String,
    pub session: String,
    pub window: String,
    /// The window is its session's current window.
    pub window_active: bool,
    /// The window is zoomed (only its active pane is visible).
    pub zoomed: bool,
    pub pane_active: bool,
}

/// What one tmux server says about its clients and panes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `focus-events` is on: tmux knows which clients have focus.
    pub focus_known: bool,
    pub clients: Vec<Client>,
    pub panes: Vec<Pane>,
}

/// Whether a pane can be seen, from [`sight`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sight {
    /// `place` (`session:window`) is shown by these clients (name, pid).
    Shown {
        place: String,
        clients: Vec<(String, u32)>,
    },
    /// Not on any screen, and why.
    Hidden(String),
}

/// The `tmux` arguments of [`query`]: the focus setting, the clients, the panes, in one call.
const QUERY: &[&str] = &[
    "show-options",
    "-sv",
    "focus-events",
    ";",
    "list-clients",
    "-F",
    "C\t#{client_name}\t#{client_pid}\t#{client_session}\t#{client_control_mode}\t#{client_flags}",
    ";",
    "list-panes",
    "-a",
    "-F",
    "P\t#{pane_id}\t#{session_name}\t#{window_index}\t#{window_active}\t#{window_zoomed_flag}\t#{pane_active}",
];

/// Read what `server` shows where.
pub async fn query(server: &Server) -> Result<Facts, String> {
    server.run(QUERY).await.map(|t| parse(&t))
}

/// Parse [`QUERY`]'s output.
pub fn parse(text: &str) -> Facts {
    let mut facts = Facts::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["on"] => facts.focus_known = true,
            ["C", name, pid, session, control, flags] => {
                let Ok(pid) = pid.parse() else { continue };
                facts.clients.push(Client {
                    name: name.to_string(),
                    pid,
                    session: session.to_string(),
                    control: *control == "1",
                    focused: flags.split(',').any(|f| f == "focused"),
                });
            }
            ["P", pane, session, window, active, zoomed, pane_active] => facts.panes.push(Pane {
                pane: pane.to_string(),
                session: session.to_string(),
                window: window.to_string(),
                window_active: *active == "1",
                zoomed: *zoomed == "1",
                pane_active: *pane_active == "1",
            }),
            _ => {}
        }
    }
    facts
}

/// Whether `pane` is on a screen: in the current window of a session that a client (not a
/// control-mode one) shows, not behind a zoomed pane, and, when tmux knows focus, that client
/// has focus. `None` when tmux does not know the pane.
pub fn sight(facts: &Facts, pane: &str) -> Option<Sight> {
    let rows: Vec<&Pane> = facts.panes.iter().filter(|p| p.pane == pane).collect();
    if rows.is_empty() {
        return None;
    }
    let mut why = String::new();
    for row in rows {
        let place = format!("{}:{}", row.session, row.window);
        if !row.window_active {
            if why.is_empty() {
                why = format!(
                    "tmux window {place} is not the current window of session {}",
                    row.session
                );
            }
            continue;
        }
        if row.zoomed && !row.pane_active {
            why = format!("tmux pane {pane} is hidden behind a zoomed pane in {place}");
            continue;
        }
        let viewers: Vec<&Client> = facts
            .clients
            .iter()
            .filter(|c| !c.control && c.session == row.session)
            .collect();
        if viewers.is_empty() {
            why = format!("tmux window {place} not shown by any client");
            continue;
        }
        let seeing: Vec<&Client> = viewers
            .iter()
            .copied()
            .filter(|c| !facts.focus_known || c.focused)
            .collect();
        if seeing.is_empty() {
            let names: Vec<&str> = viewers.iter().map(|c| c.name.as_str()).collect();
            why = format!(
                "tmux window {place} is shown by client {}, which has no focus",
                names.join(", ")
            );
            continue;
        }
        return Some(Sight::Shown {
            place,
            clients: seeing.iter().map(|c| (c.name.clone(), c.pid)).collect(),
        });
    }
    Some(Sight::Hidden(why))
}

/// `set-hook -g NAME[4242] 'wait-for -S ocbar-visibility'` for every one of [`HOOKS`], in one
/// call.
async fn install_hooks(server: &Server) -> Result<(), String> {
    let signal = format!("wait-for -S {CHANNEL}");
    let names: Vec<String> = HOOKS.iter().map(|h| format!("{h}[{HOOK_INDEX}]")).collect();
    let mut args: Vec<&str> = Vec::new();
    for name in &names {
        if !args.is_empty() {
            args.push(";");
        }
        args.extend(["set-hook", "-g", name, &signal]);
    }
    server.run(&args).await.map(|_| ())
}

/// Follow `server`: hooks set, then one `tmux wait-for` at a time; a message on `wake` each
/// time something may have changed. A server that stops answering is tried again, backing
/// off to [`RETRY_MAX`] (its hooks are set again when it answers: a new server has none).
/// Runs until dropped (the waiting `tmux` is killed with it).
pub async fn follow(server: Server, wake: mpsc::Sender<()>) {
    let mut delay = Duration::from_secs(1);
    let mut hooked = false;
    let mut said_failure = false;
    loop {
        if !hooked {
            match install_hooks(&server).await {
                Ok(()) => {
                    crate::log!(
                        "on screen: following {} (hooks at index {HOOK_INDEX} signal '{CHANNEL}')",
                        server.describe()
                    );
                    hooked = true;
                    said_failure = false;
                    if wake.send(()).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    if !said_failure {
                        crate::log!(
                            "on screen: cannot follow {}: {e}; trying again",
                            server.describe()
                        );
                        said_failure = true;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX);
                    continue;
                }
            }
        }
        let mut wait = server.command();
        wait.args(["wait-for", CHANNEL]);
        let ok = matches!(wait.output().await, Ok(out) if out.status.success());
        if wake.send(()).await.is_err() {
            return;
        }
        if ok {
            delay = Duration::from_secs(1);
        } else {
            // The server went away (or cannot wait): try again later, hooks first.
            hooked = false;
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(focus_known: bool, clients: &[(&str, &str, bool, bool)], panes: &str) -> Facts {
        let mut text = String::new();
        if focus_known {
            text.push_str("on\n");
        } else {
            text.push_str("off\n");
        }
        for (i, (name, session, control, focused)) in clients.iter().enumerate() {
            text.push_str(&format!(
                "C\t{name}\t{}\t{session}\t{}\tattached{}\n",
                100 + i,
                u8::from(*control),
                if *focused { ",focused" } else { "" }
            ));
        }
        text.push_str(panes);
        parse(&text)
    }

    const TWO_WINDOWS: &str = "P\t%0\twork\t0\t1\t0\t1\nP\t%1\twork\t1\t0\t0\t1\n";

    #[test]
    fn a_pane_in_a_window_the_client_does_not_show_is_hidden() {
        let f = facts(false, &[("/dev/pts/2", "work", false, true)], TWO_WINDOWS);
        assert_eq!(
            sight(&f, "%0"),
            Some(Sight::Shown {
                place: "work:0".into(),
                clients: vec![("/dev/pts/2".into(), 100)]
            })
        );
        assert_eq!(
            sight(&f, "%1"),
            Some(Sight::Hidden(
                "tmux window work:1 is not the current window of session work".into()
            ))
        );
        assert_eq!(sight(&f, "%9"), None);
    }

    #[test]
    fn a_detached_session_or_a_control_client_shows_nothing() {
        let f = facts(false, &[("client-7", "work", true, true)], TWO_WINDOWS);
        assert_eq!(
            sight(&f, "%0"),
            Some(Sight::Hidden(
                "tmux window work:0 not shown by any client".into()
            ))
        );
        let f = facts(false, &[("/dev/pts/2", "other", false, true)], TWO_WINDOWS);
        assert!(matches!(sight(&f, "%0"), Some(Sight::Hidden(_))));
    }

    #[test]
    fn focus_counts_only_when_tmux_knows_it() {
        let clients = [("/dev/pts/2", "work", false, false)];
        assert!(matches!(
            sight(&facts(false, &clients, TWO_WINDOWS), "%0"),
            Some(Sight::Shown { .. })
        ));
        assert_eq!(
            sight(&facts(true, &clients, TWO_WINDOWS), "%0"),
            Some(Sight::Hidden(
                "tmux window work:0 is shown by client /dev/pts/2, which has no focus".into()
            ))
        );
        let both = [
            ("/dev/pts/2", "work", false, false),
            ("/dev/pts/3", "work", false, true),
        ];
        assert_eq!(
            sight(&facts(true, &both, TWO_WINDOWS), "%0"),
            Some(Sight::Shown {
                place: "work:0".into(),
                clients: vec![("/dev/pts/3".into(), 101)]
            })
        );
    }

    #[test]
    fn a_zoomed_window_hides_its_other_panes_and_a_linked_window_counts_anywhere() {
        let zoomed = "P\t%0\twork\t0\t1\t1\t1\nP\t%1\twork\t0\t1\t1\t0\n";
        let f = facts(false, &[("/dev/pts/2", "work", false, true)], zoomed);
        assert!(matches!(sight(&f, "%0"), Some(Sight::Shown { .. })));
        assert!(matches!(sight(&f, "%1"), Some(Sight::Hidden(w)) if w.contains("zoomed")));
        let linked = "P\t%4\twork\t2\t0\t0\t1\nP\t%4\tplay\t0\t1\t0\t1\n";
        let f = facts(false, &[("/dev/pts/2", "play", false, true)], linked);
        assert!(matches!(sight(&f, "%4"), Some(Sight::Shown { place, .. }) if place == "play:0"));
    }

    #[test]
    fn odd_lines_are_skipped() {
        let f = parse("garbage\nC\tx\tnot-a-pid\ts\t0\tattached\nP\t%1\n");
        assert_eq!(f, Facts::default());
    }
}
