//! `ocbar open` focuses the terminal window that holds the TUI's tmux client, in a real headless
//! sway with real `foot` terminals, a real tmux and a real `ocbar daemon`.
//!
//! Everything runs as `nobody` in a private PID namespace (tests/support/jump_sway_session.sh,
//! set up like the waybar test), the daemon included, so the pids it walks are the ones sway
//! reports. Foot window `term` hosts a tmux client showing session `second`; the TUI's pane is
//! in a background window of session `first`; foot window `other` has focus. The TUI is a
//! stand-in speaking the plugin's channel (tests/support/plugin_standin.py): the real plugin in
//! a real OpenCode TUI is tests/jump_tmux.rs; what this test adds is the window manager.
//!
//! After `ocbar open ses_sway`: `swaymsg -t get_tree` shows `term` focused, the client shows the
//! TUI's pane, and the reply names the window it focused. Then on screen follows the focused
//! window (the daemon subscribes to sway's window events): with `other` focused, a turn of
//! `ses_sway` finishes unvisited and is notified; focusing `term` visits it.
//!
//! Needs sway, swaymsg, foot, tmux, dbus-run-session (`scripts/install-test-deps.sh`); a missing
//! tool fails the test.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{require_tool, secs, spawn_owned};
use serde_json::Value;

/// The focused window of a sway tree: (pid, name).
fn focused(tree: &Value) -> Option<(u64, String)> {
    let mut stack = vec![tree];
    while let Some(n) = stack.pop() {
        if n["focused"] == true && n["pid"].is_u64() {
            return Some((
                n["pid"].as_u64().unwrap_or(0),
                n["name"].as_str().unwrap_or_default().to_string(),
            ));
        }
        for k in ["nodes", "floating_nodes"] {
            if let Some(c) = n[k].as_array() {
                stack.extend(c.iter());
            }
        }
    }
    None
}

struct Session {
    out: PathBuf,
    child: std::process::Child,
    _tmp: tempfile::TempDir,
}

impl Drop for Session {
    fn drop(&mut self) {
        common::end_session(&self.out, &mut self.child);
    }
}

impl Session {
    fn logs(&self) -> String {
        let mut s = String::new();
        for f in [
            "failed",
            "tmux.log",
            "session.err",
            "daemon.log",
            "sway.log",
            "foot-term.log",
            "standin.state",
        ] {
            if let Ok(t) = std::fs::read_to_string(self.out.join(f)) {
                s.push_str(&format!(
                    "--- {f} ---\n{}\n",
                    t.lines()
                        .rev()
                        .take(30)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n")
                ));
            }
        }
        s
    }

    fn swaymsg(&self, args: &[&str]) -> Output {
        Command::new(require_tool("swaymsg"))
            .arg("-s")
            .arg(self.out.join("sway.sock"))
            .args(args)
            .output()
            .expect("swaymsg")
    }

    fn tree(&self) -> Value {
        let out = self.swaymsg(&["-t", "get_tree"]);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("tree JSON")
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new(require_tool("tmux"))
            .arg("-S")
            .arg(self.out.join("tmux.sock"))
            .args(args)
            .output()
            .expect("tmux");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn pid(&self, name: &str) -> u64 {
        std::fs::read_to_string(self.out.join(name))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

fn start(out_root: tempfile::TempDir) -> Session {
    for t in [
        "sway",
        "swaymsg",
        "foot",
        "tmux",
        "dbus-run-session",
        "unshare",
        "setpriv",
    ] {
        require_tool(t);
    }
    let out = out_root.path().canonicalize().unwrap();
    std::fs::create_dir_all(out.join("bin")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_ocbar"), out.join("bin/ocbar")).expect("copy ocbar");
    let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
    for f in ["jump_sway_session.sh", "plugin_standin.py"] {
        std::fs::copy(support.join(f), out.join(f)).unwrap();
    }
    let ok = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown nobody {}", out.display());
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = [format!(
        "PATH={}:/usr/local/bin:/usr/bin:/bin",
        out.join("bin").display()
    )];
    let script = out.join("jump_sway_session.sh");
    let mut cmd = common::session_command(&out, &env, true, &script, &[out.as_os_str()]);
    cmd.stdout(Stdio::null());
    let child = spawn_owned(cmd).expect("spawn the sway session");
    let s = Session {
        out: out.clone(),
        child,
        _tmp: out_root,
    };
    let deadline = Instant::now() + secs(60);
    while !out.join("ready").exists() {
        if out.join("failed").exists() || Instant::now() > deadline {
            panic!("the sway session did not come up:\n{}", s.logs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

#[test]
fn open_focuses_the_terminal_window_holding_the_tmux_client() {
    let tmp = tempfile::Builder::new()
        .prefix("ocbar-jump-sway-")
        .tempdir()
        .unwrap();
    let s = start(tmp);
    let term = s.pid("term.pid");
    let other = s.pid("other.pid");
    let before = focused(&s.tree());
    assert_eq!(
        before.as_ref().map(|f| f.0),
        Some(other),
        "window `other` has focus first: {before:?}"
    );
    assert!(
        s.tmux(&["list-clients", "-F", "#{client_session}"]) == "second",
        "the client shows `second`"
    );
    let standin_pane = s.tmux(&["display-message", "-p", "-t", "first:1", "#{pane_id}"]);

    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ocbar"))
        .args(["open", "ses_sway"])
        .env("OCBAR_SOCKET", s.out.join("ocbar.sock"))
        .output()
        .unwrap();
    let reply = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}\n{}", s.logs());
    eprintln!("open: {reply} (answered in {:.0?})", t.elapsed());
    assert!(
        reply.contains(&format!("focused foot (pid {term})")),
        "{reply}\n{}",
        s.logs()
    );
    let after = focused(&s.tree());
    assert_eq!(
        after.as_ref().map(|f| f.0),
        Some(term),
        "the terminal holding the client is focused: {after:?}"
    );
    assert_eq!(
        s.tmux(&[
            "list-clients",
            "-F",
            "#{client_session}:#{window_index}.#{pane_id}"
        ]),
        format!("first:1.{standin_pane}")
    );
    let state = std::fs::read_to_string(s.out.join("standin.state")).unwrap();
    assert!(state.contains("open ses_sway"), "{state}");

    // --- on screen means its terminal window has focus ---------------------------------------
    // The TUI's pane is shown by the client in `term`; `other` gets focus: the session finishes
    // unvisited and is notified. Focusing `term` again visits it.
    let ocbar = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ocbar"))
            .args(args)
            .env("OCBAR_SOCKET", s.out.join("ocbar.sock"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let unvisited = || {
        let snap: Value =
            serde_json::from_str(&ocbar(&["status", "--format", "json"])).unwrap_or(Value::Null);
        snap["sessions"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == "ses_sway"))
            .and_then(|x| x["unvisited"].as_bool())
    };
    let notified = || {
        std::fs::read_to_string(s.out.join("notified.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == "ses_sway")
            .count()
    };
    common::wait_or_fail(secs(10), "on screen in the focused `term`", || {
        ocbar(&["doctor"]).contains(&format!("in the focused window (foot, pid {term})"))
    });
    let before = notified();
    let r = s.swaymsg(&[&format!("[pid={other}] focus")]);
    assert!(r.status.success(), "{r:?}");
    common::wait_or_fail(secs(10), "not on screen once `other` has focus", || {
        ocbar(&["doctor"]).contains(&format!(
            "but its terminal window does not have focus (foot, pid {other}, has)"
        ))
    });
    s.tmux(&["send-keys", "-t", "first:1", "finish ses_sway", "Enter"]);
    common::wait_or_fail(secs(10), "ses_sway notified", || notified() > before);
    assert_eq!(unvisited(), Some(true), "{}", s.logs());
    let t = Instant::now();
    let r = s.swaymsg(&[&format!("[pid={term}] focus")]);
    assert!(r.status.success(), "{r:?}");
    common::wait_or_fail(secs(3), "visited once `term` has focus", || {
        unvisited() == Some(false)
    });
    eprintln!("focus term -> visited in {:?}", t.elapsed());
}
