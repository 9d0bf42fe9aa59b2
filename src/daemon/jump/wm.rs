//! Window-manager side of `ocbar open`: focus the window that holds a process.
//!
//! From a pid (the tmux client that now shows the TUI, or the TUI itself) the process tree is
//! walked up (`/proc/PID/stat`) to the first process that owns a window: the terminal emulator.
//! - **sway, i3**: their IPC socket (`$SWAYSOCK`, else `$I3SOCK`), spoken directly: `GET_TREE`
//!   lists the windows with their pids, `RUN_COMMAND [pid=N] focus` focuses one.
//! - **Hyprland** (`$HYPRLAND_INSTANCE_SIGNATURE`): `hyprctl clients -j`, then
//!   `hyprctl dispatch focuswindow pid:N`.
//!
//! Anything else: nothing is done. The reply says so only in a graphical session (`$DISPLAY` or
//! `$WAYLAND_DISPLAY` in the daemon's environment: another desktop, where a user expects the
//! window to come forward); on a console or over ssh there is no window to focus, and nothing
//! is said.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{STEP_TIMEOUT, output};

/// The i3 IPC magic string that starts every message.
const MAGIC: &[u8; 6] = b"i3-ipc";
/// i3 IPC message types.
const RUN_COMMAND: u32 = 0;
/// `SUBSCRIBE`: events follow on the same connection.
pub(crate) const SUBSCRIBE: u32 = 2;
/// `GET_TREE`: every window, with its pid and whether it has focus.
pub(crate) const GET_TREE: u32 = 4;
/// Replies larger than this are refused (a tree of many windows is a few hundred KiB).
const MAX_REPLY: usize = 32 << 20;

/// The parent of `pid`, from `/proc/PID/stat` (`None` at the top or when unreadable).
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ppid(&stat).filter(|&p| p != 0 && p != pid)
}

/// The ppid field of a `/proc/PID/stat` line (the command name may hold spaces and parens).
pub fn parse_ppid(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `pid` and its ancestors, nearest first (at most 64).
pub fn ancestry(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut at = pid;
    while out.len() < 64 {
        match parent_of(at) {
            Some(p) if p > 1 && !out.contains(&p) => {
                out.push(p);
                at = p;
            }
            _ => break,
        }
    }
    out
}

/// A window: its process and what to call it in the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub pid: u32,
    pub name: String,
}

/// The windows of a sway/i3 `GET_TREE` reply.
pub fn tree_windows(tree: &Value) -> Vec<Window> {
    let mut out = Vec::new();
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        if let Some(pid) = node
            .get("pid")
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p > 0)
        {
            let name = node
                .get("app_id")
                .and_then(Value::as_str)
                .or_else(|| {
                    node.pointer("/window_properties/class")
                        .and_then(Value::as_str)
                })
                .or_else(|| node.get("name").and_then(Value::as_str))
                .unwrap_or("window");
            out.push(Window {
                pid,
                name: clean(name),
            });
        }
        for key in ["nodes", "floating_nodes"] {
            if let Some(children) = node.get(key).and_then(Value::as_array) {
                stack.extend(children.iter());
            }
        }
    }
    out
}

/// The nearest ancestor (or `pid` itself) that owns one of `windows`.
pub fn window_of<'a>(ancestry: &[u32], windows: &'a [Window]) -> Option<&'a Window> {
    ancestry
        .iter()
        .find_map(|p| windows.iter().find(|w| w.pid == *p))
}

fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect::<String>()
}

/// The IPC socket of sway (`$SWAYSOCK`) or i3 (`$I3SOCK`) in the daemon's environment.
pub(crate) fn i3_socket() -> Option<std::ffi::OsString> {
    std::env::var_os("SWAYSOCK")
        .or_else(|| std::env::var_os("I3SOCK"))
        .filter(|s| !s.is_empty())
}

/// Focus the window holding `pid`; the reply's words for what happened, if any are due.
pub async fn focus(pid: u32) -> Option<String> {
    focus_in(pid, |v| std::env::var_os(v).filter(|s| !s.is_empty())).await
}

/// [`focus`], with the daemon's environment as `env` (set, non-empty variables only).
async fn focus_in(pid: u32, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<String> {
    let chain = ancestry(pid);
    if let Some(sock) = env("SWAYSOCK").or_else(|| env("I3SOCK")) {
        return Some(
            match tokio::time::timeout(STEP_TIMEOUT * 2, focus_i3(&sock, &chain)).await {
                Ok(Ok(w)) => format!("focused {} (pid {})", w.name, w.pid),
                Ok(Err(e)) => format!("window not focused: {e}"),
                Err(_) => "window not focused: the window manager did not answer in time".into(),
            },
        );
    }
    if env("HYPRLAND_INSTANCE_SIGNATURE").is_some() {
        return Some(match focus_hyprland(&chain).await {
            Ok(w) => format!("focused {} (pid {})", w.name, w.pid),
            Err(e) => format!("window not focused: {e}"),
        });
    }
    let graphical = env("WAYLAND_DISPLAY").is_some() || env("DISPLAY").is_some();
    graphical.then(|| {
        "window not focused: ocbar drives sway, i3 and Hyprland, and none is in the daemon's environment ($SWAYSOCK, $I3SOCK, $HYPRLAND_INSTANCE_SIGNATURE)".into()
    })
}

async fn focus_i3(sock: &std::ffi::OsStr, chain: &[u32]) -> Result<Window, String> {
    let tree = ipc(sock, GET_TREE, b"").await?;
    let tree: Value =
        serde_json::from_slice(&tree).map_err(|e| format!("the window tree is not JSON: {e}"))?;
    let windows = tree_windows(&tree);
    let Some(w) = window_of(chain, &windows).cloned() else {
        return Err(format!(
            "no window belongs to pid {} or its parents",
            chain.first().copied().unwrap_or(0)
        ));
    };
    let reply = ipc(
        sock,
        RUN_COMMAND,
        format!("[pid={}] focus", w.pid).as_bytes(),
    )
    .await?;
    let ok = serde_json::from_slice::<Value>(&reply)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .is_some_and(|a| a.iter().all(|r| r["success"] == true));
    if ok {
        Ok(w)
    } else {
        Err(format!(
            "the window manager refused to focus {}: {}",
            w.name,
            String::from_utf8_lossy(&reply)
                .chars()
                .take(200)
                .collect::<String>()
        ))
    }
}

/// One i3 IPC request and its reply payload.
pub(crate) async fn ipc(
    sock: &std::ffi::OsStr,
    kind: u32,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let mut s = tokio::net::UnixStream::connect(sock)
        .await
        .map_err(|e| format!("cannot reach the window manager's IPC socket: {e}"))?;
    write_message(&mut s, kind, payload).await?;
    read_message(&mut s).await.map(|(_, body)| body)
}

/// Send one i3 IPC message.
pub(crate) async fn write_message(
    s: &mut tokio::net::UnixStream,
    kind: u32,
    payload: &[u8],
) -> Result<(), String> {
    let len = u32::try_from(payload.len()).map_err(|_| "request too long".to_string())?;
    let mut msg = Vec::with_capacity(14 + payload.len());
    msg.extend_from_slice(MAGIC);
    msg.extend_from_slice(&len.to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(payload);
    s.write_all(&msg).await.map_err(|e| e.to_string())
}

/// Read one i3 IPC message (a reply, or an event once subscribed): its type and payload.
pub(crate) async fn read_message(s: &mut tokio::net::UnixStream) -> Result<(u32, Vec<u8>), String> {
    let mut head = [0u8; 14];
    s.read_exact(&mut head).await.map_err(|e| e.to_string())?;
    if &head[..6] != MAGIC {
        return Err("the window manager's IPC socket does not speak i3-ipc".into());
    }
    let n = u32::from_ne_bytes([head[6], head[7], head[8], head[9]]) as usize;
    let kind = u32::from_ne_bytes([head[10], head[11], head[12], head[13]]);
    if n > MAX_REPLY {
        return Err("the window manager's reply is too large".into());
    }
    let mut body = vec![0u8; n];
    s.read_exact(&mut body).await.map_err(|e| e.to_string())?;
    Ok((kind, body))
}

async fn focus_hyprland(chain: &[u32]) -> Result<Window, String> {
    let text = output("hyprctl", &["clients", "-j"]).await?;
    let list: Value = serde_json::from_str(&text).map_err(|e| format!("hyprctl clients: {e}"))?;
    let windows: Vec<Window> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some(Window {
                        pid: u32::try_from(c.get("pid")?.as_u64()?).ok()?,
                        name: clean(c.get("class").and_then(Value::as_str).unwrap_or("window")),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(w) = window_of(chain, &windows).cloned() else {
        return Err("no Hyprland window belongs to that process or its parents".into());
    };
    output(
        "hyprctl",
        &["dispatch", "focuswindow", &format!("pid:{}", w.pid)],
    )
    .await?;
    // Give the compositor a moment; nothing to wait on in hyprctl's reply.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A successful `open` on a console or over ssh does not end with a complaint about
    /// windows (it read "no window focused (no sway, i3 or Hyprland…)", like an error); in a
    /// desktop ocbar does not drive, the reply says why the window did not come forward.
    #[tokio::test]
    async fn no_window_is_mentioned_where_none_is_expected() {
        let none = |_: &str| None;
        assert_eq!(focus_in(std::process::id(), none).await, None);
        let x11 = |v: &str| (v == "DISPLAY").then(|| ":0".into());
        let said = focus_in(std::process::id(), x11)
            .await
            .expect("a word on X11");
        assert!(
            said.starts_with("window not focused: ocbar drives sway, i3 and Hyprland"),
            "{said}"
        );
        let wayland = |v: &str| (v == "WAYLAND_DISPLAY").then(|| "wayland-1".into());
        assert!(focus_in(std::process::id(), wayland).await.is_some());
    }

    #[test]
    fn ppid_is_read_past_odd_command_names() {
        assert_eq!(parse_ppid("4100 (foot) S 4000 4100 4100 0"), Some(4000));
        assert_eq!(parse_ppid("4101 (a) b (c) S 17 1 1"), Some(17));
        assert_eq!(parse_ppid("garbage"), None);
        // This process has a parent; the chain starts with itself.
        let me = std::process::id();
        let chain = ancestry(me);
        assert_eq!(chain[0], me);
        assert!(chain.len() >= 2 || parent_of(me).is_none_or(|p| p <= 1));
    }

    #[test]
    fn the_nearest_window_in_the_tree_is_found() {
        let tree = serde_json::json!({
            "nodes": [{"nodes": [
                {"pid": 4100, "app_id": "foot", "name": "tmux"},
                {"pid": 5000, "app_id": null, "window_properties": {"class": "Firefox"}},
            ]}],
            "floating_nodes": []
        });
        let w = tree_windows(&tree);
        assert_eq!(w.len(), 2);
        let found = window_of(&[4300, 4200, 4100, 1], &w).unwrap();
        assert_eq!((found.pid, found.name.as_str()), (4100, "foot"));
        assert_eq!(window_of(&[5000], &w).unwrap().name, "Firefox");
        assert!(window_of(&[9], &w).is_none());
    }
}
