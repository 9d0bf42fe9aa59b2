//! The focused window, followed as it changes: a TUI outside tmux is on screen when its
//! terminal window has focus, a tmux client's terminal likewise.
//!
//! - sway and i3: their IPC (`SUBSCRIBE` to window and workspace events, `GET_TREE`);
//! - Hyprland: its event socket (`.socket2.sock`: `activewindow>>…` lines), then
//!   `hyprctl activewindow -j` for the window's pid.

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
}

impl Manager {
    /// The one in the daemon's environment: `$SWAYSOCK`/`$I3SOCK`, else
    /// `$HYPRLAND_INSTANCE_SIGNATURE` (its socket under `$XDG_RUNTIME_DIR/hypr/`, else
    /// `/tmp/hypr/`).
    pub fn from_env() -> Option<Manager> {
        if let Some(sock) = crate::daemon::jump::wm::i3_socket() {
            return Some(Manager::I3(sock));
        }
        let sig = std::env::var_os("HYPRLAND_INSTANCE_SIGNATURE").filter(|s| !s.is_empty())?;
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
        }
    }
}

/// The window of a `hyprctl activewindow -j` reply (`{}` when none has focus).
pub fn hyprland_active(reply: &str) -> Focused {
    let v: Value = serde_json::from_str(reply).ok()?;
    let pid = u32::try_from(v.get("pid")?.as_u64()?)
        .ok()
        .filter(|&p| p > 0)?;
    let name = v.get("class").and_then(Value::as_str).unwrap_or("window");
    Some(Window {
        pid,
        name: name.chars().filter(|c| !c.is_control()).take(40).collect(),
    })
}

/// One Hyprland event connection: the focus now, then every change, until it fails.
async fn hyprland(sock: &std::path::Path, tx: &watch::Sender<Focused>) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt;
    let stream = tokio::net::UnixStream::connect(sock)
        .await
        .map_err(|e| format!("cannot reach Hyprland's event socket: {e}"))?;
    let active = || async {
        output("hyprctl", &["activewindow", "-j"])
            .await
            .map(|t| hyprland_active(&t))
    };
    tx.send_replace(active().await?);
    let mut lines = tokio::io::BufReader::new(stream).lines();
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        let event = line.split(">>").next().unwrap_or("");
        if matches!(event, "activewindowv2" | "closewindow" | "workspacev2") {
            let now = active().await?;
            tx.send_if_modified(|f| {
                let changed = *f != now;
                *f = now;
                changed
            });
        }
    }
    Err("Hyprland closed its event socket".into())
}

/// What the window manager says has focus: `None` when nothing with a process does (an empty
/// workspace) or while it cannot be asked.
pub type Focused = Option<Window>;

/// The window with focus in a `GET_TREE` reply.
pub fn focused_in(tree: &Value) -> Focused {
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        if node.get("focused").and_then(Value::as_bool) == Some(true) {
            return tree_windows(node).into_iter().next();
        }
        for key in ["nodes", "floating_nodes"] {
            if let Some(children) = node.get(key).and_then(Value::as_array) {
                stack.extend(children.iter());
            }
        }
    }
    None
}

async fn read_focused(sock: &OsString) -> Result<Focused, String> {
    let tree = ipc(sock, GET_TREE, b"").await?;
    let tree: Value =
        serde_json::from_slice(&tree).map_err(|e| format!("the window tree is not JSON: {e}"))?;
    Ok(focused_in(&tree))
}

/// One subscription: the focus now, then every change, until the connection fails.
async fn subscribed(sock: &OsString, tx: &watch::Sender<Focused>) -> Result<(), String> {
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
    tx.send_replace(read_focused(sock).await?);
    loop {
        let (kind, body) = read_message(&mut s).await?;
        if kind & 0x8000_0000 == 0 {
            continue;
        }
        let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let change = event.get("change").and_then(Value::as_str).unwrap_or("");
        let is_window = event.get("container").is_some();
        let now = if is_window && change == "focus" {
            event.get("container").and_then(|c| {
                let mut w = tree_windows(c);
                w.truncate(1);
                w.pop()
            })
        } else if (is_window && matches!(change, "close" | "move" | "floating"))
            || (!is_window && matches!(change, "focus" | "empty" | "init"))
        {
            read_focused(sock).await?
        } else {
            continue;
        };
        tx.send_if_modified(|f| {
            let changed = *f != now;
            *f = now;
            changed
        });
    }
}

/// Follow the focused window of `manager` into `tx`, reconnecting (backing off to 30 s) when
/// the connection fails. Runs until dropped.
pub async fn follow(manager: Manager, tx: watch::Sender<Focused>) {
    let mut delay = Duration::from_secs(1);
    let mut said = false;
    loop {
        let began = tokio::time::Instant::now();
        let result = match &manager {
            Manager::I3(sock) => subscribed(sock, &tx).await,
            Manager::Hyprland(sock) => hyprland(sock, &tx).await,
        };
        if let Err(e) = result
            && !said
        {
            crate::log!(
                "on screen: cannot follow the focused window of {}: {e}; trying again",
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
    fn the_focused_window_is_found_in_the_tree() {
        let tree = serde_json::json!({
            "nodes": [{"type": "workspace", "focused": false, "nodes": [
                {"pid": 4100, "app_id": "foot", "focused": false},
                {"pid": 4200, "app_id": "foot", "focused": true},
            ]}],
        });
        assert_eq!(focused_in(&tree).map(|w| w.pid), Some(4200));
        let empty =
            serde_json::json!({"nodes": [{"type": "workspace", "focused": true, "nodes": []}]});
        assert_eq!(focused_in(&empty), None);
    }

    #[test]
    fn hyprlands_active_window_is_read() {
        let w = hyprland_active(r#"{"address":"0x5","pid":4100,"class":"foot","title":"t"}"#);
        assert_eq!(w.map(|w| (w.pid, w.name)), Some((4100, "foot".into())));
        assert_eq!(hyprland_active("{}"), None);
        assert_eq!(hyprland_active("Invalid"), None);
    }
}
