//! The focused window of sway or i3, followed through their IPC (`SUBSCRIBE` to window and
//! workspace events): a TUI outside tmux is on screen when its terminal window has focus, a
//! tmux client's terminal likewise.

use std::ffi::OsString;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::daemon::jump::wm::{
    GET_TREE, SUBSCRIBE, Window, ipc, read_message, tree_windows, write_message,
};

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

/// Follow the focused window of the sway or i3 on `sock` into `tx`, reconnecting (backing off
/// to 30 s) when the connection fails. Runs until dropped.
pub async fn follow(sock: OsString, tx: watch::Sender<Focused>) {
    let mut delay = Duration::from_secs(1);
    let mut said = false;
    loop {
        let began = tokio::time::Instant::now();
        match subscribed(&sock, &tx).await {
            Ok(()) => {}
            Err(e) if !said => {
                crate::log!(
                    "on screen: cannot follow the window manager's focus on {}: {e}; trying again",
                    sock.to_string_lossy()
                );
                said = true;
            }
            Err(_) => {}
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
}
