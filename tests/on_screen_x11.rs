//! On screen outside tmux, on X11: a real X server (`Xvfb`), a real EWMH window manager
//! (`openbox`, which keeps `_NET_ACTIVE_WINDOW`), two real `xterm` windows and a real
//! `ocbar daemon` with `$DISPLAY` (and no Wayland) in its environment.
//!
//! xterm `tui` runs the plugin's stand-in (tests/support/plugin_standin.py, a bridged plain TUI
//! that is in no tmux), switched to its session by `ocbar open`; xterm `other` runs nothing. With `other` active, a turn of the stand-in's
//! session finishes unvisited and notified; activating `tui` (`xdotool windowactivate`, as a
//! click does) visits it. The real TUI and plugin in tmux are tests/on_screen.rs; what this test
//! adds is the X11 window manager.
//!
//! Needs Xvfb, openbox, xterm, xprop, xdotool (`scripts/install-test-deps.sh`); a missing tool
//! fails the test.

mod common;
mod daemon_harness;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::{require_tool, secs, spawn_owned};
use daemon_harness::Daemon;

/// Children stopped (and reaped) when the test ends, last started first: SIGTERM, so that Xvfb
/// removes its lock file and socket, then SIGKILL after 2 s.
struct Owned(Vec<Child>);

impl Drop for Owned {
    fn drop(&mut self) {
        for c in self.0.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + secs(2);
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn quiet(mut cmd: Command) -> Command {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[test]
fn on_screen_follows_the_active_x11_window() {
    for t in ["Xvfb", "openbox", "xterm", "xprop", "xdotool"] {
        require_tool(t);
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut owned = Owned(Vec::new());
    // Xvfb picks a free display itself and says which once it accepts connections.
    let mut x = Command::new(require_tool("Xvfb"));
    x.args([
        "-displayfd",
        "1",
        "-screen",
        "0",
        "800x600x24",
        "-nolisten",
        "tcp",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut server = spawn_owned(x).expect("start Xvfb");
    let stdout = server.stdout.take().expect("Xvfb's stdout");
    owned.0.push(server);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("Xvfb's display number");
    let display = format!(":{}", line.trim());
    assert!(display.len() > 1, "Xvfb said no display number");
    let on_x = |program: &str| {
        let mut c = Command::new(require_tool(program));
        c.env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("TMUX")
            .env_remove("TMUX_PANE");
        c
    };
    // openbox's complaints, for the failure message (a loaded machine can be slow to start it).
    let wm_log = tmp.path().join("openbox.log");
    let mut wm = quiet(on_x("openbox"));
    wm.stderr(std::fs::File::create(&wm_log).unwrap());
    owned.0.push(spawn_owned(wm).expect("start openbox"));
    let managed = || {
        let out = on_x("xprop")
            .args(["-root", "_NET_SUPPORTING_WM_CHECK"])
            .output();
        out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("window id"))
    };
    if !common::wait_until(secs(60), managed) {
        panic!(
            "openbox does not manage {display} after 60 s: {}",
            std::fs::read_to_string(&wm_log).unwrap_or_default()
        );
    }

    let notes = common::NotifyLog::new();
    let d = Daemon::start_with(
        &[],
        &[
            ("DISPLAY", display.as_str()),
            ("WAYLAND_DISPLAY", ""),
            ("SWAYSOCK", ""),
            ("I3SOCK", ""),
            ("HYPRLAND_INSTANCE_SIGNATURE", ""),
        ],
        Some(&notes.config("")),
    );
    let trigger = tmp.path().join("trigger");
    let state = tmp.path().join("standin.state");
    std::fs::write(&trigger, "").unwrap();
    let standin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/plugin_standin.py");
    let script = format!(
        "tail -f '{}' | python3 '{}' '{}' ses_x11 '{}'",
        trigger.display(),
        standin.display(),
        d.socket.display(),
        state.display()
    );
    let mut tui = on_x("xterm");
    tui.args(["-T", "tui", "-e", "sh", "-c", &script]);
    owned
        .0
        .push(spawn_owned(quiet(tui)).expect("start xterm tui"));
    let mut other = on_x("xterm");
    other.args(["-T", "other", "-e", "sleep", "100000"]);
    owned
        .0
        .push(spawn_owned(quiet(other)).expect("start xterm other"));
    common::wait_or_fail(secs(20), "the stand-in connected", || {
        std::fs::read_to_string(&state).is_ok_and(|s| s.contains("ready"))
    });
    let window = |title: &str| {
        let out = on_x("xdotool")
            .args(["search", "--name", &format!("^{title}$")])
            .output()
            .expect("xdotool search");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    common::wait_or_fail(secs(20), "both xterm windows mapped", || {
        !window("tui").is_empty() && !window("other").is_empty()
    });
    let activate = |title: &str| {
        let id = window(title);
        let out = on_x("xdotool")
            .args(["windowactivate", "--sync", &id])
            .output()
            .expect("xdotool windowactivate");
        assert!(out.status.success(), "windowactivate {title}: {out:?}");
    };
    let doctor = || String::from_utf8_lossy(&d.run(&["doctor"]).stdout).into_owned();
    let unvisited = || {
        d.json()["sessions"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["id"] == "ses_x11").cloned())
            .and_then(|s| s["unvisited"].as_bool())
    };

    // The stand-in shows its session (as after `ocbar open`, which switches it).
    let out = d.run(&["open", "ses_x11"]);
    assert!(out.status.success(), "{out:?}");
    common::wait_or_fail(secs(10), "the stand-in shows ses_x11", || {
        std::fs::read_to_string(&state).is_ok_and(|s| s.contains("open ses_x11"))
    });
    activate("tui");
    common::wait_or_fail(secs(10), "on screen in the active xterm", || {
        doctor().contains("(on screen: not in tmux, in the focused window (XTerm, pid")
    });
    assert!(
        doctor().contains(&format!(
            "on screen: window manager: the X11 window manager on display {display}, followed"
        )),
        "{}",
        doctor()
    );
    activate("other");
    common::wait_or_fail(secs(10), "not on screen once `other` is active", || {
        doctor().contains(
            "(not on screen: not in tmux, but its terminal window does not have focus (XTerm, pid",
        )
    });
    let notified = || notes.text().lines().count();
    let before = notified();
    std::fs::write(&trigger, "finish ses_x11\n").unwrap();
    common::wait_or_fail(secs(10), "ses_x11 notified", || notified() > before);
    assert_eq!(unvisited(), Some(true), "{}", doctor());
    let t = Instant::now();
    activate("tui");
    common::wait_or_fail(secs(3), "visited once `tui` is active", || {
        unvisited() == Some(false)
    });
    eprintln!(
        "on_screen_x11: windowactivate tui -> visited in {:?}",
        t.elapsed()
    );
    assert!(
        d.log_text().contains(&format!(
            "on screen: following the focused window of the X11 window manager on display {display}"
        )),
        "{}",
        d.log_text()
    );
}
