//! `ocbar open` lands the user in the terminal that shows the session, end to end with the real
//! programs: an OpenCode 1.18.33 server driven by the fake LLM, a real OpenCode TUI with the
//! plugin (installed by `ocbar install opencode-plugin`), a real tmux server holding it, a real
//! tmux client of that server hosted in an outer tmux (what the user looks at), and a real
//! `ocbar daemon`.
//!
//! The set-up a user has: the TUI runs in a background window (1) of tmux session `first`; the
//! user's client shows another tmux session, `second`. One `#[test]`, one OpenCode server:
//! 1. `ocbar open target` run outside tmux (as a waybar click or a notification action runs it):
//!    the client now shows `first`, window 1, the TUI's pane, and the TUI shows `target`;
//! 2. the same from the tmux picker (prefix + O, typing part of the title);
//! 3. a desktop notification's "Open" action (a fake `org.freedesktop.Notifications` server on
//!    a private bus, tests/support/fake_notifications.py): the same landing;
//! 4. with OpenCode's own notifications on (`attention` in `tui.json`), ocbar sends no second
//!    desktop notification for a finished session, and `doctor` says who notifies;
//! 5. no TUI at all: a new tmux window running `opencode attach … --session S` appears, the
//!    client is switched to it, and that new TUI shows S.
//!
//! Needs tmux, OpenCode, dbus-daemon and python3-dbus (`scripts/install-test-deps.sh`); a
//! missing tool fails the test.

mod common;
mod daemon_harness;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{FakeLlm, OpenCode, Options, require_tool, secs};
use daemon_harness::Daemon;

/// A tmux server on a private socket; killed on drop.
struct Tmux {
    bin: PathBuf,
    sock: PathBuf,
}

impl Tmux {
    fn new(sock: PathBuf) -> Tmux {
        Tmux {
            bin: require_tool("tmux"),
            sock,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("-S")
            .arg(&self.sock)
            .args(args)
            .env("LANG", "C.UTF-8");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run tmux")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn capture(&self, target: &str) -> String {
        self.ok(&["capture-pane", "-p", "-t", target])
    }

    /// Where the (only) client is: `session:window.pane`.
    fn client_place(&self) -> String {
        self.ok(&[
            "list-clients",
            "-F",
            "#{client_session}:#{window_index}.#{pane_id}",
        ])
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_screen(
    t: &Tmux,
    target: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    common::tmux::wait_for_screen(|| t.capture(target), timeout, what, pred)
}

/// A private session bus with the fake notification server on it; killed on drop.
struct FakeDesktop {
    address: String,
    record: PathBuf,
    procs: Vec<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl Drop for FakeDesktop {
    fn drop(&mut self) {
        for c in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn first_line(child: &mut std::process::Child, what: &str) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(secs(10))
        .unwrap_or_else(|_| panic!("{what} printed nothing"))
        .trim()
        .to_string()
}

impl FakeDesktop {
    fn start() -> FakeDesktop {
        use std::process::Stdio;
        let dbus = require_tool("dbus-daemon");
        let dir = tempfile::tempdir().unwrap();
        let mut daemon = Command::new(dbus)
            .args(["--session", "--nofork", "--nopidfile", "--print-address"])
            .arg(format!(
                "--address=unix:path={}",
                dir.path().join("bus").display()
            ))
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        let address = first_line(&mut daemon, "dbus-daemon");
        let record = dir.path().join("calls.jsonl");
        let mut fake = Command::new("/usr/bin/python3")
            .arg(common::repo_dir().join("tests/support/fake_notifications.py"))
            .arg(&record)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("fake_notifications.py (python3-dbus)");
        assert_eq!(first_line(&mut fake, "fake_notifications.py"), "ready");
        FakeDesktop {
            address,
            record,
            procs: vec![daemon, fake],
            _dir: dir,
        }
    }

    /// The `Notify` calls so far.
    fn notifies(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|c| c["method"] == "Notify")
            .collect()
    }

    /// Click an action on notification `id`, as the notification server reports it.
    fn click(&self, id: u64, action: &str) {
        let out = Command::new(require_tool("dbus-send"))
            .arg(format!("--bus={}", self.address))
            .args([
                "--type=method_call",
                "--print-reply",
                "--dest=org.freedesktop.Notifications",
                "/org/freedesktop/Notifications",
                "org.ocbar.FakeNotifications.InvokeAction",
            ])
            .arg(format!("uint32:{id}"))
            .arg(format!("string:{action}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

fn doctor(d: &Daemon) -> String {
    text(&d.run(&["doctor"]))
}

fn session_id(d: &Daemon, title: &str) -> String {
    let snap: Value = d.json();
    snap["sessions"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["title"] == title))
        .and_then(|s| s["id"].as_str())
        .unwrap_or_else(|| panic!("{title} in {snap:#}"))
        .to_string()
}

#[test]
fn open_lands_in_the_terminal_that_shows_the_session() {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("jump_tmux: {what} at {:.1?}", t0.elapsed());
    let opencode = require_tool("opencode");
    let llm = FakeLlm::start();
    let a = OpenCode::start(&llm, Options::default());
    let dir = a.dir(0).to_path_buf();

    // The plugin, installed the way a user does it.
    let home = a.root.join("home");
    common::install_plugin(&home);

    let tmp = tempfile::Builder::new()
        .prefix("ocbar-jump-")
        .tempdir()
        .unwrap();
    let inner = Tmux::new(tmp.path().join("in"));
    let outer = Tmux::new(tmp.path().join("out"));

    // The daemon, as the tmux plugin starts it: $TMUX names the user's tmux server. The default
    // `[open] command` runs this OpenCode.
    let tmux_env = format!("{},0,0", inner.sock.display());
    // Desktop notifications only, to a fake notification server; OpenCode's config directory
    // is the TUIs' (its `tui.json` says whether OpenCode notifies by itself).
    let desktop = FakeDesktop::start();
    let config = format!(
        "[notify]\ntoast = false\ntmux = false\nsummary_window_ms = 0\n[open]\nopencode = \"{}\"\n",
        opencode.display()
    );
    let xdg = home.join(".config").display().to_string();
    let d = Daemon::start_with(
        &[&a.url],
        &[
            ("TMUX", &tmux_env),
            ("DBUS_SESSION_BUS_ADDRESS", &desktop.address),
            ("XDG_CONFIG_HOME", &xdg),
        ],
        Some(&config),
    );

    // The user's tmux server: session `first` (a shell in window 0, the TUI in window 1, in
    // the background) and session `second`, which the user's client shows.
    let mut env = common::tui_env(&home, &d.socket);
    env.push(("PATH", std::env::var("PATH").unwrap_or_default()));
    env.push(("LANG", "C.UTF-8".into()));
    let mut start = inner.cmd(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "first",
        "-x",
        "160",
        "-y",
        "45",
        "sh",
    ]);
    start.env_clear();
    for (k, v) in &env {
        start.env(k, v);
    }
    let st = start.status().expect("start the inner tmux");
    assert!(st.success());
    inner.ok(&["set-option", "-g", "remain-on-exit", "on"]);
    let oc = opencode.to_str().unwrap();
    let dir_s = dir.to_str().unwrap();
    let tui_pane = inner.ok(&[
        "new-window",
        "-t",
        "first:1",
        "-c",
        dir_s,
        "-P",
        "-F",
        "#{pane_id}",
        "--",
        oc,
        "attach",
        &a.url,
    ]);
    inner.ok(&["select-window", "-t", "first:0"]);
    inner.ok(&[
        "new-session",
        "-d",
        "-s",
        "second",
        "-x",
        "160",
        "-y",
        "45",
        "sh",
    ]);
    // The picker, bound as integrations/tmux/ocbar.tmux binds it.
    let pick = common::repo_dir().join("integrations/tmux/scripts/pick.sh");
    inner.ok(&[
        "bind-key",
        "O",
        "display-popup",
        "-E",
        "-w",
        "90%",
        "-h",
        "50%",
        &format!(
            "env OCBAR_BIN={} OCBAR_PICKER=prompt {}",
            daemon_harness::ocbar_bin(),
            pick.display()
        ),
    ]);
    // The user's terminal: a client of the inner server, showing `second`.
    let attach = format!(
        "env -u TMUX {} -S {} attach -t second",
        inner.bin.display(),
        inner.sock.display()
    );
    let st = outer
        .cmd(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "user",
            "-x",
            "160",
            "-y",
            "46",
            &attach,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(
        common::wait_until(secs(10), || inner.run(&["list-clients"]).stdout.len() > 1),
        "the user's client attached"
    );
    assert_eq!(inner.client_place().split(':').next(), Some("second"));

    wait_screen(&inner, &tui_pane, secs(90), "the TUI", |s| {
        s.contains("Ask anything")
    });
    common::wait_or_fail(secs(30), "the plugin connected", || {
        doctor(&d).contains(&format!("attached to {}", a.url))
    });
    let doc = doctor(&d);
    assert!(
        doc.contains(&format!(
            "(tmux pane {tui_pane} on {})",
            inner.sock.display()
        )),
        "doctor lists the TUI with its tmux place:\n{doc}"
    );
    lap("TUI up");

    // Two finished sessions, neither on screen.
    let target = a.create_session(&dir, Some("target"));
    a.prompt(&dir, &target, "hello [slow 1]");
    let other = a.create_session(&dir, Some("other"));
    a.prompt(&dir, &other, "hello");
    common::wait_or_fail(secs(40), "both done", || {
        let s = d.json();
        s["sessions"]
            .as_array()
            .is_some_and(|a| a.iter().filter(|x| x["state"] == "done").count() == 2)
    });
    assert_eq!(session_id(&d, "target"), target);

    // --- 1. `ocbar open` from outside tmux ----------------------------------------------------
    let t = Instant::now();
    let out = d.run(&["open", "target"]);
    eprintln!("jump_tmux: ocbar open answered in {:.0?}", t.elapsed());
    let reply = text(&out);
    assert!(out.status.success(), "{out:?}");
    eprintln!("open: {reply}");
    assert!(reply.contains(&format!("→ {target}")), "{reply}");
    assert!(
        reply.contains(&format!("tmux first:1.{tui_pane}")),
        "{reply}"
    );
    // Without a display (CI, a console) nothing is said about windows: it read like an error
    // after a success. In a desktop ocbar does not drive, it says why none came forward.
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    let (display, driven) = (
        set("DISPLAY") || set("WAYLAND_DISPLAY"),
        set("SWAYSOCK") || set("I3SOCK") || set("HYPRLAND_INSTANCE_SIGNATURE"),
    );
    if !display && !driven {
        assert!(!reply.contains("window"), "{reply}");
    } else if !driven {
        assert!(
            reply.contains("window not focused: ocbar drives"),
            "{reply}"
        );
    }
    assert_eq!(inner.client_place(), format!("first:1.{tui_pane}"));
    common::wait_or_fail(secs(15), "the TUI reports target on screen", || {
        doctor(&d).contains(&format!("shows {target}"))
    });
    // What the user sees: the outer terminal shows the TUI with target.
    let seen = wait_screen(
        &outer,
        "user",
        secs(15),
        "target in the user's terminal",
        |s| s.contains("▸ target"),
    );
    eprintln!("--- the user's terminal after ocbar open ---\n{seen}");
    lap("open from outside tmux");

    // --- 2. the picker: back on `second`, the TUI on `other`; prefix + O, "target" -------------
    let r = a.call(
        "POST",
        "/tui/select-session",
        None,
        Some(&serde_json::json!({"sessionID": other})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    common::wait_or_fail(secs(15), "the TUI shows other", || {
        doctor(&d).contains(&format!("shows {other}"))
    });
    inner.ok(&["switch-client", "-t", "second"]);
    assert_eq!(inner.client_place().split(':').next(), Some("second"));
    outer.ok(&["send-keys", "-t", "user", "C-b", "O"]);
    wait_screen(&outer, "user", secs(10), "the picker", |s| {
        s.contains("choose a session")
    });
    outer.ok(&["send-keys", "-t", "user", "-l", "target"]);
    outer.ok(&["send-keys", "-t", "user", "Enter"]);
    common::wait_or_fail(secs(15), "the picker moved the client to the TUI", || {
        inner.client_place() == format!("first:1.{tui_pane}")
    });
    common::wait_or_fail(secs(15), "the TUI shows target again", || {
        doctor(&d).contains(&format!("shows {target}"))
    });
    wait_screen(
        &outer,
        "user",
        secs(15),
        "target in the user's terminal",
        |s| s.contains("▸ target") && !s.contains("choose a session"),
    );
    lap("open from the picker");

    // --- 3. the desktop notification's "Open" action ------------------------------------------
    inner.ok(&["switch-client", "-t", "second"]);
    let third = a.create_session(&dir, Some("third"));
    a.prompt(&dir, &third, "hello");
    let wait_notify = |title: &str| {
        let deadline = Instant::now() + secs(40);
        loop {
            if let Some(n) = desktop
                .notifies()
                .into_iter()
                .find(|n| n["summary"].as_str().is_some_and(|s| s.contains(title)))
            {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "no notification for {title}: {:?}",
                desktop.notifies()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let note = wait_notify("third");
    desktop.click(note["id"].as_u64().unwrap(), "default");
    common::wait_or_fail(secs(15), "Open moved the client to the TUI", || {
        inner.client_place() == format!("first:1.{tui_pane}")
    });
    common::wait_or_fail(secs(15), "the TUI shows third", || {
        doctor(&d).contains(&format!("shows {third}"))
    });
    lap("open from the desktop notification");

    // --- 4. OpenCode notifies by itself: no second desktop notification ------------------------
    let doc = doctor(&d);
    assert!(
        doc.contains("desktop notifications: ocbar (OpenCode's own are off"),
        "{doc}"
    );
    let tui_json = home.join(".config/opencode/tui.json");
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(&tui_json).unwrap()).unwrap();
    cfg["attention"] = serde_json::json!({"enabled": true});
    std::fs::write(&tui_json, cfg.to_string()).unwrap();
    let doc = doctor(&d);
    assert!(
        doc.contains("desktop notifications: OpenCode for finished"),
        "{doc}"
    );
    let fourth = a.create_session(&dir, Some("fourth"));
    a.prompt(&dir, &fourth, "hello");
    common::wait_or_fail(secs(40), "fourth done", || {
        d.session("fourth").is_some_and(|s| s["state"] == "done")
    });
    std::thread::sleep(Duration::from_secs(2));
    let sent: Vec<String> = desktop
        .notifies()
        .iter()
        .map(|n| n["summary"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !sent.iter().any(|s| s.contains("fourth")),
        "left to OpenCode: {sent:?}"
    );
    lap("one notification path");

    // --- 5. no TUI: a new window runs `opencode attach … --session S` -------------------------
    inner.ok(&["kill-pane", "-t", &tui_pane]);
    common::wait_or_fail(secs(15), "the TUI's channel closed", || {
        doctor(&d).contains("tuis: none connected")
    });
    inner.ok(&["switch-client", "-t", "second"]);
    let out = d.run(&["open", "target"]);
    let reply = text(&out);
    assert!(out.status.success(), "{out:?}");
    eprintln!("open with no TUI: {reply}");
    assert!(reply.contains("new tmux window second:"), "{reply}");
    let panes = inner.ok(&[
        "list-panes",
        "-a",
        "-F",
        "#{pane_id}\t#{pane_start_command}",
    ]);
    let new_pane = panes
        .lines()
        .find(|l| l.contains("attach") && l.contains(&format!("--session {target}")))
        .unwrap_or_else(|| panic!("a pane running opencode attach --session: {panes}"))
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    assert!(new_pane.starts_with('%') && new_pane != tui_pane, "{panes}");
    assert!(
        inner.client_place().ends_with(&format!(".{new_pane}")),
        "the client shows the new window: {}",
        inner.client_place()
    );
    wait_screen(&inner, &new_pane, secs(90), "the new TUI", |s| {
        s.contains("target")
    });
    common::wait_or_fail(secs(30), "the new TUI shows target", || {
        doctor(&d).contains(&format!("shows {target}"))
    });
    lap("no TUI: opencode attach --session in a new window");
}
