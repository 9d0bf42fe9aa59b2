//! The focused window, followed as it changes: a TUI outside tmux is on screen when its
//! terminal window has focus, a tmux client's terminal likewise.
//!
//! - sway and i3: their IPC (`SUBSCRIBE` to window and workspace events, `GET_TREE`);
//! - Hyprland: its event socket (`.socket2.sock`: `activewindowv2>>…` lines), then
//!   `hyprctl activewindow -j` and `hyprctl clients -j` for the windows and their pids;
//! - X11 (no Wayland session): `_NET_ACTIVE_WINDOW` and `_NET_CLIENT_LIST` of the root window,
//!   followed with `xprop -root -spy`, each window's `_NET_WM_PID` read once.

use std::ffi::OsString;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::daemon::jump::output;
use crate::daemon::jump::wm::{
    GET_TREE, SUBSCRIBE, Window, ipc, read_message, tree_windows, write_message,
};

/// A window manager whose focus can be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// sway or i3, on this IPC socket.
    I3(OsString),
    /// Hyprland, on this event socket (`.socket2.sock`).
    Hyprland(std::path::PathBuf),
    /// An X11 window manager that keeps `_NET_ACTIVE_WINDOW` (EWMH), on this display, read
    /// with `xprop`.
    X11(String),
}

impl Manager {
    /// The one in the daemon's environment: `$SWAYSOCK`/`$I3SOCK`, else
    /// `$HYPRLAND_INSTANCE_SIGNATURE` (its socket under `$XDG_RUNTIME_DIR/hypr/`, else
    /// `/tmp/hypr/`).
    pub fn from_env() -> Option<Manager> {
        if let Some(sock) = crate::daemon::jump::wm::i3_socket() {
            return Some(Manager::I3(sock));
        }
        let set = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        let Some(sig) = std::env::var_os("HYPRLAND_INSTANCE_SIGNATURE").filter(|s| !s.is_empty())
        else {
            // X11 only when no Wayland session: there `_NET_ACTIVE_WINDOW` knows only
            // XWayland's windows.
            return set("DISPLAY")
                .filter(|_| set("WAYLAND_DISPLAY").is_none())
                .map(Manager::X11);
        };
        let under = |root: std::path::PathBuf| root.join("hypr").join(&sig).join(".socket2.sock");
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|s| !s.is_empty())
            .map(|r| under(r.into()));
        Some(Manager::Hyprland(
            runtime
                .filter(|p| p.exists())
                .unwrap_or_else(|| under("/tmp".into())),
        ))
    }

    /// For log lines.
    pub fn describe(&self) -> String {
        match self {
            Manager::I3(s) => format!("sway/i3 on {}", s.to_string_lossy()),
            Manager::Hyprland(p) => format!("Hyprland on {}", p.display()),
            Manager::X11(d) => format!("the X11 window manager on display {d}"),
        }
    }
}

/// The window manager's windows, as far as "on screen" needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Windows {
    /// The window with focus (`None`: none with a process, e.g. an empty workspace).
    pub focused: Option<Window>,
    /// The pid of every window (a terminal that is none of them, e.g. an ssh session or a
    /// console, is not this window manager's to judge).
    pub pids: Vec<u32>,
}

/// Tell the decision when the windows changed.
fn publish(tx: &watch::Sender<Option<Windows>>, now: Windows) {
    tx.send_if_modified(|w| {
        let changed = w.as_ref() != Some(&now);
        *w = Some(now);
        changed
    });
}

/// The windows of a sway/i3 `GET_TREE` reply, and the one with focus.
pub fn windows_in(tree: &Value) -> Windows {
    let mut focused = None;
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        if node.get("focused").and_then(Value::as_bool) == Some(true) {
            focused = tree_windows(node).into_iter().next();
            break;
        }
        for key in ["nodes", "floating_nodes"] {
            if let Some(children) = node.get(key).and_then(Value::as_array) {
                stack.extend(children.iter());
            }
        }
    }
    Windows {
        focused,
        pids: tree_windows(tree).iter().map(|w| w.pid).collect(),
    }
}

async fn read_windows(sock: &OsString) -> Result<Windows, String> {
    let tree = ipc(sock, GET_TREE, b"").await?;
    let tree: Value =
        serde_json::from_slice(&tree).map_err(|e| format!("the window tree is not JSON: {e}"))?;
    Ok(windows_in(&tree))
}

/// One sway/i3 subscription: the windows now, then again at every change of focus or of the
/// set of windows (title changes are ignored), until the connection fails.
async fn subscribed(sock: &OsString, tx: &watch::Sender<Option<Windows>>) -> Result<(), String> {
    let mut s = tokio::net::UnixStream::connect(sock)
        .await
        .map_err(|e| format!("cannot reach the window manager's IPC socket: {e}"))?;
    write_message(&mut s, SUBSCRIBE, br#"["window","workspace"]"#).await?;
    let (_, reply) = read_message(&mut s).await?;
    if !String::from_utf8_lossy(&reply).contains("true") {
        return Err(format!(
            "the window manager refused the subscription: {}",
            String::from_utf8_lossy(&reply)
        ));
    }
    publish(tx, read_windows(sock).await?);
    loop {
        let (kind, body) = read_message(&mut s).await?;
        if kind & 0x8000_0000 == 0 {
            continue;
        }
        let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let change = event.get("change").and_then(Value::as_str).unwrap_or("");
        let relevant = if event.get("container").is_some() {
            matches!(change, "focus" | "new" | "close" | "move" | "floating")
        } else {
            matches!(change, "focus" | "empty" | "init")
        };
        if relevant {
            publish(tx, read_windows(sock).await?);
        }
    }
}

/// The window of a `hyprctl activewindow -j` reply (`{}` when none has focus).
pub fn hyprland_active(reply: &str) -> Option<Window> {
    let v: Value = serde_json::from_str(reply).ok()?;
    hyprland_window(&v)
}

fn hyprland_window(v: &Value) -> Option<Window> {
    let pid = u32::try_from(v.get("pid")?.as_u64()?)
        .ok()
        .filter(|&p| p > 0)?;
    let name = v.get("class").and_then(Value::as_str).unwrap_or("window");
    Some(Window {
        pid,
        name: name.chars().filter(|c| !c.is_control()).take(40).collect(),
    })
}

/// The pids of the windows of a `hyprctl clients -j` reply.
pub fn hyprland_pids(reply: &str) -> Vec<u32> {
    serde_json::from_str::<Value>(reply)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| hyprland_window(c).map(|w| w.pid))
        .collect()
}

async fn hyprland_windows() -> Result<Windows, String> {
    let active = output("hyprctl", &["activewindow", "-j"]).await?;
    let clients = output("hyprctl", &["clients", "-j"]).await?;
    Ok(Windows {
        focused: hyprland_active(&active),
        pids: hyprland_pids(&clients),
    })
}

/// One Hyprland event connection: the windows now, then again at every change of focus or of
/// the set of windows, until it fails.
async fn hyprland(
    sock: &std::path::Path,
    tx: &watch::Sender<Option<Windows>>,
) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt;
    let stream = tokio::net::UnixStream::connect(sock)
        .await
        .map_err(|e| format!("cannot reach Hyprland's event socket: {e}"))?;
    publish(tx, hyprland_windows().await?);
    let mut lines = tokio::io::BufReader::new(stream).lines();
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        let event = line.split(">>").next().unwrap_or("");
        if matches!(
            event,
            "activewindowv2" | "openwindow" | "closewindow" | "workspacev2"
        ) {
            publish(tx, hyprland_windows().await?);
        }
    }
    Err("Hyprland closed its event socket".into())
}

/// The window ids of an `xprop` line for `property` (`None`: a line about another property;
/// empty: not set, or no window).
pub fn x11_ids(line: &str, property: &str) -> Option<Vec<String>> {
    let rest = line.strip_prefix(property)?;
    if !rest.starts_with('(') && !rest.starts_with(':') {
        return None;
    }
    Some(match rest.split_once('#') {
        Some((_, ids)) => ids
            .split(',')
            .map(str::trim)
            .filter(|id| id.starts_with("0x") && *id != "0x0")
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    })
}

/// The window of `xprop -id ID _NET_WM_PID WM_CLASS` output.
pub fn x11_window(props: &str) -> Option<Window> {
    let mut pid = None;
    let mut name = "window".to_string();
    for line in props.lines() {
        if let Some(v) = line.strip_prefix("_NET_WM_PID(CARDINAL) = ") {
            pid = v.trim().parse::<u32>().ok().filter(|&p| p > 0);
        } else if let Some(v) = line.strip_prefix("WM_CLASS(STRING) = ")
            && let Some(class) = v.rsplit(", ").next()
        {
            name = class
                .trim_matches('"')
                .chars()
                .filter(|c| !c.is_control())
                .take(40)
                .collect();
        }
    }
    Some(Window { pid: pid?, name })
}

/// One `xprop -root -spy`: the windows now, then again whenever the active window or the list
/// of windows changes, until it ends. Each window's pid is asked once (`xprop -id`).
async fn x11(display: &str, tx: &watch::Sender<Option<Windows>>) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt;
    let mut spy = tokio::process::Command::new("xprop")
        .args([
            "-display",
            display,
            "-root",
            "-spy",
            "_NET_ACTIVE_WINDOW",
            "_NET_CLIENT_LIST",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run xprop: {e}"))?;
    let stdout = spy.stdout.take().ok_or("xprop has no output")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut active: Option<String> = None;
    let mut clients: Vec<String> = Vec::new();
    let mut known: std::collections::HashMap<String, Option<Window>> = Default::default();
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        if let Some(ids) = x11_ids(&line, "_NET_ACTIVE_WINDOW") {
            active = ids.into_iter().next();
        } else if let Some(ids) = x11_ids(&line, "_NET_CLIENT_LIST") {
            clients = ids;
        } else {
            continue;
        }
        for id in clients.iter().chain(active.iter()) {
            if !known.contains_key(id) {
                let props = output(
                    "xprop",
                    &["-display", display, "-id", id, "_NET_WM_PID", "WM_CLASS"],
                )
                .await
                .unwrap_or_default();
                known.insert(id.clone(), x11_window(&props));
            }
        }
        known.retain(|id, _| clients.contains(id) || active.as_ref() == Some(id));
        publish(
            tx,
            Windows {
                focused: active
                    .as_ref()
                    .and_then(|a| known.get(a).cloned().flatten()),
                pids: clients
                    .iter()
                    .filter_map(|id| known.get(id).cloned().flatten().map(|w| w.pid))
                    .collect(),
            },
        );
    }
    Err("xprop -spy ended (the X server went away?)".into())
}

/// Follow the windows of `manager` into `tx` (`None` while it cannot be asked), reconnecting
/// (backing off to 30 s) when the connection fails. Runs until dropped.
pub async fn follow(manager: Manager, tx: watch::Sender<Option<Windows>>) {
    let mut delay = Duration::from_secs(1);
    let mut said = false;
    loop {
        let began = tokio::time::Instant::now();
        let result = match &manager {
            Manager::I3(sock) => subscribed(sock, &tx).await,
            Manager::Hyprland(sock) => hyprland(sock, &tx).await,
            Manager::X11(display) => x11(display, &tx).await,
        };
        if let Err(e) = result
            && !said
        {
            crate::log!(
                "on screen: cannot follow the windows of {}: {e}; trying again",
                manager.describe()
            );
            said = true;
        }
        tx.send_replace(None);
        if began.elapsed() > Duration::from_secs(60) {
            delay = Duration::from_secs(1);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_and_the_focused_one_are_found_in_the_tree() {
        let tree = serde_json::json!({
            "nodes": [{"type": "workspace", "focused": false, "nodes": [
                {"pid": 4100, "app_id": "foot", "focused": false},
                {"pid": 4200, "app_id": "foot", "focused": true},
            ]}],
        });
        let w = windows_in(&tree);
        assert_eq!(w.focused.map(|w| w.pid), Some(4200));
        let mut pids = w.pids;
        pids.sort();
        assert_eq!(pids, [4100, 4200]);
        let empty =
            serde_json::json!({"nodes": [{"type": "workspace", "focused": true, "nodes": []}]});
        assert_eq!(windows_in(&empty), Windows::default());
    }

    #[test]
    fn x11s_windows_are_read_from_xprop() {
        assert_eq!(
            x11_ids(
                "_NET_ACTIVE_WINDOW(WINDOW): window id # 0x40000c",
                "_NET_ACTIVE_WINDOW"
            ),
            Some(vec!["0x40000c".to_string()])
        );
        assert_eq!(
            x11_ids(
                "_NET_CLIENT_LIST(WINDOW): window id # 0x60000c, 0x40000c",
                "_NET_CLIENT_LIST"
            ),
            Some(vec!["0x60000c".to_string(), "0x40000c".to_string()])
        );
        assert_eq!(
            x11_ids(
                "_NET_ACTIVE_WINDOW(WINDOW): window id # 0x0",
                "_NET_ACTIVE_WINDOW"
            ),
            Some(vec![])
        );
        assert_eq!(
            x11_ids("_NET_CLIENT_LIST:  not found.", "_NET_CLIENT_LIST"),
            Some(vec![])
        );
        assert_eq!(
            x11_ids(
                "_NET_CLIENT_LIST_STACKING(WINDOW): window id # 0x1",
                "_NET_CLIENT_LIST"
            ),
            None
        );
        let w =
            x11_window("_NET_WM_PID(CARDINAL) = 3775\nWM_CLASS(STRING) = \"xterm\", \"XTerm\"\n");
        assert_eq!(w.map(|w| (w.pid, w.name)), Some((3775, "XTerm".into())));
        assert_eq!(x11_window("_NET_WM_PID:  not found.\n"), None);
    }

    #[test]
    fn hyprlands_windows_are_read() {
        let w = hyprland_active(r#"{"address":"0x5","pid":4100,"class":"foot","title":"t"}"#);
        assert_eq!(w.map(|w| (w.pid, w.name)), Some((4100, "foot".into())));
        assert_eq!(hyprland_active("{}"), None);
        assert_eq!(hyprland_active("Invalid"), None);
        assert_eq!(
            hyprland_pids(r#"[{"pid":4100,"class":"foot"},{"pid":-1},{"class":"x"}]"#),
            [4100]
        );
    }
}
