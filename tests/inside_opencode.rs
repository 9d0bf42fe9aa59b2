//! ocbar inside OpenCode, end to end with the real programs: OpenCode 1.18.33 servers driven by
//! the fake LLM, real OpenCode TUIs in tmux with the plugin installed by
//! `ocbar install opencode-plugin`, and real `ocbar daemon`s.
//!
//! One `#[test]` (under nextest every test is its own process, and the servers and TUIs are
//! what costs): the scenarios run in sequence on shared servers.
//!
//! - discovery: a daemon with no server configured finds servers started after it, and drops
//!   one that goes away;
//! - an `opencode attach` TUI: the sidebar panel lists the sessions of every server with their
//!   states (one running on another server, one in a plain TUI); `POST /tui/select-session`
//!   puts a finished session on screen and its unvisited mark clears; the session on screen
//!   gets no notification, a background one gets a toast (captured);
//! - a plain `opencode` TUI (no port): its sessions appear in the daemon's JSON under
//!   `tui://<pid>`, and its background session's toast is delivered through the plugin
//!   (captured).
//!
//! Needs tmux and OpenCode (`scripts/install-test-deps.sh`); a missing tool fails the test.

mod common;
mod daemon_harness;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::tmux::Tmux;
use common::{FakeLlm, OpenCode, Options, require_tool, secs};
use daemon_harness::Daemon;

/// The part of a screen right of column `from` (the sidebar), trimmed.
fn sidebar(screen: &str, from: usize) -> String {
    screen
        .lines()
        .map(|l| {
            l.chars()
                .skip(from)
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn session_by<'a>(snap: &'a Value, title: &str) -> Option<&'a Value> {
    snap["sessions"]
        .as_array()?
        .iter()
        .find(|s| s["title"] == title)
}

fn wait_json(d: &Daemon, timeout: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_json_showing(d, timeout, what, pred, String::new)
}

/// [`wait_json`], and on failure also what `show` returns (a TUI's screen, say).
fn wait_json_showing(
    d: &Daemon,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
    show: impl Fn() -> String,
) -> Value {
    let deadline = Instant::now() + timeout;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        last = d.json();
        if pred(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    panic!(
        "{what}: not seen within {timeout:?}; last snapshot: {last:#}\ndaemon log:\n{}\n{}",
        d.log_text(),
        show()
    );
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn inside_opencode() {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("inside_opencode: {what} at {:.1?}", t0.elapsed());
    require_tool("tmux");
    let llm = FakeLlm::start();

    // --- discovery: a daemon with nothing configured, started before the servers ------------
    // (Notifications off: it follows every OpenCode server of the machine, other tests' too.)
    let finder = Daemon::start_with(
        &[],
        &[("OCBAR_DISCOVERY", "1")],
        Some("[discovery]\ninterval_seconds = 1\n[notify]\nenabled = false\n"),
    );
    let a = OpenCode::start(&llm, Options::default().dirs(2));
    let mut b = OpenCode::start(&llm, Options::default());
    lap("servers up");
    let has_server = |snap: &Value, url: &str| {
        snap["servers"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["url"] == url && s["connected"] == true))
    };
    wait_json(&finder, secs(30), "both servers discovered", |s| {
        has_server(s, &a.url) && has_server(s, &b.url)
    });
    let doctor = text(&finder.run(&["doctor"]));
    let b_pid = b.pid().expect("b runs");
    let line = doctor
        .lines()
        .find(|l| l.starts_with(&format!("server {}: connected", b.url)))
        .unwrap_or_else(|| panic!("B in doctor:\n{doctor}"));
    assert!(
        line.ends_with(&format!("(discovered: opencode serve, pid {b_pid})")),
        "{line}"
    );
    assert!(doctor.contains("discovery: on, every 1s"), "{doctor}");
    lap("discovered");

    // --- the plugin, installed the way a user does it -----------------------------------------
    let home = a.root.join("home");
    common::install_plugin(&home);
    let tui_json = std::fs::read_to_string(home.join(".config/opencode/tui.json")).unwrap();
    assert!(tui_json.contains("./plugins/ocbar.tsx"), "{tui_json}");
    assert!(home.join(".config/opencode/plugins/ocbar.tsx").is_file());
    let again = Command::new(daemon_harness::ocbar_bin())
        .args(["install", "opencode-plugin"])
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .output()
        .unwrap();
    assert!(
        text(&again).contains("already lists the plugin"),
        "{again:?}"
    );

    // --- the daemon the TUIs talk to: servers A and B, a log of every notification -----------
    let notes = common::NotifyLog::new();
    let config = notes.config("display_ms = 10000\n");
    let mut d = Daemon::start_with(&[&a.url, &b.url], &[], Some(&config));
    let notified = || notes.text();

    // --- two TUIs with the plugin: attached to A, and a plain one (no port) ------------------
    let env = common::tui_env(&home, &d.socket);
    let tmux = Tmux::start(&env);
    let opencode = require_tool("opencode");
    let oc = opencode.to_str().unwrap();
    tmux.spawn("att", a.dir(0), &[oc, "attach", &a.url]);
    tmux.spawn("plain", a.dir(1), &[oc]);
    let ready = |s: &str| s.contains("Ask anything");
    tmux.wait_screen("att", secs(90), "the attached TUI", ready);
    tmux.wait_screen("plain", secs(90), "the plain TUI", ready);
    let plain_pid = tmux.pane_pid("plain");
    let pseudo = format!("tui://{plain_pid}");
    common::wait_or_fail(secs(30), "both plugins connected", || {
        let doc = text(&d.run(&["doctor"]));
        doc.contains(&format!("attached to {}", a.url))
            && doc.contains(&format!("bridged as {pseudo}"))
    });
    // The user looks at the attached TUI: a real tmux client shows its session (a TUI in a
    // session no client shows is not on screen).
    let _client = tmux.attach_client("att");
    lap("TUIs up, plugins connected");
    let doc = text(&d.run(&["doctor"]));
    assert!(
        !doc.contains("ocbar install opencode-plugin"),
        "TUIs with the plugin are connected: no hint to install it\n{doc}"
    );

    // --- sessions: one finished unseen (alpha), one running on B (gamma), one in the plain TUI -
    let dir_a = a.dir(0).to_path_buf();
    let alpha = a.create_session(&dir_a, Some("alpha"));
    a.prompt(&dir_a, &alpha, "hello [slow 1]");
    let gamma = b.create_session(b.dir(0), Some("gamma elsewhere"));
    // Long enough to be still running at every check below, however slow the machine (it is
    // never waited for; the server is stopped at the end).
    b.prompt(b.dir(0), &gamma, "hello [slow 600]");
    let beta = a.create_session(&dir_a, Some("beta"));
    // Must still run after the daemon's restart below (reached ~15 s after this prompt usually;
    // 50 s leaves room for a loaded machine), then finish: its toast is waited for.
    tmux.keys("plain", &["-l", "plain job [slow 50] [title=plain job]"]);
    tmux.keys("plain", &["Enter"]);
    let snap = wait_json(&d, secs(40), "plain job busy, bridged", |s| {
        session_by(s, "plain job").is_some_and(|x| x["state"] == "busy")
    });
    let plain = session_by(&snap, "plain job").unwrap().clone();
    assert_eq!(
        plain["server"],
        json!(pseudo),
        "the plain TUI's session is bridged: {plain:#}"
    );
    // The plain TUI's panel: every server's sessions, its own marked as on screen.
    let screen = tmux.wait_screen("plain", secs(20), "the panel in the plain TUI", |s| {
        s.contains("▸ plain job") && s.contains("gamma elsewhere") && s.contains("alpha")
    });
    eprintln!("--- plain TUI, its session on screen ---\n{screen}");
    // It leaves the session (new session: home screen); the job finishes in the background.
    tmux.keys("plain", &["C-x"]);
    tmux.keys("plain", &["n"]);
    common::wait_or_fail(secs(10), "the plain TUI reports the home screen", || {
        text(&d.run(&["doctor"]))
            .lines()
            .any(|l| l.contains(&format!("bridged as {pseudo}")) && l.contains("shows no session"))
    });
    wait_json(&d, secs(40), "alpha done (unseen)", |s| {
        session_by(s, "alpha").is_some_and(|x| x["state"] == "done")
    });
    // The daemon dies and comes back: the plugins reconnect, and the plain TUI's running
    // session is resynced from the TUI (its server has no HTTP port to ask).
    d.kill9_and_restart();
    // On failure, the plain TUI's screen: its panel (the plugin's `watch` channel) says whether
    // the plugin reconnected at all, or only its TUI channel did not.
    wait_json_showing(
        &d,
        secs(30),
        "the plain job resynced after a daemon restart",
        |s| {
            session_by(s, "plain job")
                .is_some_and(|x| x["state"] == "busy" && x["server"] == json!(pseudo))
        },
        || format!("--- the plain TUI ---\n{}", tmux.screen("plain")),
    );
    lap("daemon restarted, plain TUI resynced");
    let snap = wait_json(&d, secs(40), "alpha done and unvisited, gamma busy", |s| {
        session_by(s, "alpha").is_some_and(|x| x["state"] == "done" && x["unvisited"] == true)
            && session_by(s, "gamma elsewhere").is_some_and(|x| x["state"] == "busy")
    });
    assert_eq!(
        session_by(&snap, "gamma elsewhere").unwrap()["server"],
        json!(b.url)
    );
    lap("sessions running");

    // --- beta on screen in the attached TUI, then it runs and finishes there ------------------
    let r = a.call(
        "POST",
        "/tui/select-session",
        None,
        Some(&json!({"sessionID": beta})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    common::wait_or_fail(secs(15), "the attached TUI reports beta on screen", || {
        text(&d.run(&["doctor"])).lines().any(|l| {
            l.contains(&format!("attached to {}", a.url))
                && l.contains(&format!(
                    "shows {beta} (on screen: tmux att:0 shown by client"
                ))
        })
    });
    a.prompt(&dir_a, &beta, "hello [slow 6]");
    let screen = tmux.wait_screen("att", secs(30), "the ocbar panel with every session", |s| {
        s.contains("● alpha")
            && s.contains("▸ beta")
            && s.contains("gamma elsewhere")
            && s.contains("plain job")
            && s.contains("busy")
            && s.contains("done")
    });
    eprintln!("--- attached TUI, beta on screen ---\n{screen}");
    eprintln!("--- its sidebar ---\n{}", sidebar(&screen, 118));
    lap("panels captured");

    // --- beta finishes on screen: visited, no notification ---------------------------------------
    let snap = wait_json(&d, secs(40), "beta done", |s| {
        session_by(s, "beta").is_some_and(|x| x["state"] == "done")
    });
    assert_eq!(session_by(&snap, "beta").unwrap()["unvisited"], false);
    lap("beta done on screen");

    // --- select-session puts alpha on screen: its unvisited mark clears ------------------------
    let r = a.call(
        "POST",
        "/tui/select-session",
        None,
        Some(&json!({"sessionID": alpha})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    wait_json(&d, secs(15), "alpha visited", |s| {
        session_by(s, "alpha").is_some_and(|x| x["unvisited"] == false)
    });
    let screen = tmux.wait_screen("att", secs(10), "alpha on screen, no mark", |s| {
        s.contains("▸ alpha") && !s.contains("● alpha")
    });
    eprintln!("--- attached TUI after select-session alpha ---\n{screen}");

    // --- a background session of A finishes: a toast in the attached TUI --------------------------
    let delta = a.create_session(&dir_a, Some("delta"));
    a.prompt(&dir_a, &delta, "hello [slow 2]");
    let screen = tmux.wait_screen("att", secs(40), "the toast for delta", |s| {
        s.contains("delta finished")
    });
    eprintln!("--- attached TUI, toast for a background session ---\n{screen}");
    let snap = d.json();
    assert_eq!(session_by(&snap, "delta").unwrap()["unvisited"], true);
    lap("toast in the attached TUI");

    // --- the plain job finishes in the background: the toast comes through the plugin ----------
    let screen = tmux.wait_screen("plain", secs(90), "the toast for the plain job", |s| {
        s.contains("plain job finished")
    });
    eprintln!("--- plain TUI, toast delivered through the ocbar channel ---\n{screen}");
    let snap = d.json();
    let plain = session_by(&snap, "plain job").unwrap();
    assert_eq!(
        (plain["state"].as_str(), plain["unvisited"].as_bool()),
        (Some("done"), Some(true))
    );
    lap("toast in the plain TUI");

    // --- what was notified: the background sessions only ---------------------------------------
    let log = notified();
    eprintln!("--- notifications ---\n{log}");
    assert!(log.contains("done|delta|"), "{log}");
    assert!(log.contains(&format!("done|plain job|{pseudo}")), "{log}");
    assert!(
        !log.contains("|beta|"),
        "beta finished on screen: no notification\n{log}"
    );
    assert_eq!(
        log.matches("|alpha|").count(),
        1,
        "alpha finished unseen: notified once\n{log}"
    );

    // --- `ocbar open` on a bridged session: the plugin navigates there --------------------------
    let out = d.run(&["open", "plain job"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out).contains(&format!("TUI pid {plain_pid} → ")),
        "{out:?}"
    );
    tmux.wait_screen("plain", secs(15), "the plain job back on screen", |s| {
        s.contains("▸ plain job")
    });
    wait_json(&d, secs(10), "plain job visited", |s| {
        session_by(s, "plain job").is_some_and(|x| x["unvisited"] == false)
    });

    // --- a TUI that closes takes its bridged server with it, not its finished sessions ------------
    tmux.ok(&["kill-session", "-t", "plain"]);
    wait_json(&d, secs(15), "the plain TUI's server removed", |s| {
        !s["servers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["url"] == json!(pseudo))
            && session_by(s, "plain job").is_some_and(|x| {
                x["state"] == "done" && (x["reachable"] == false || x["server"] != json!(pseudo))
            })
    });

    // --- discovery drops a server that went away --------------------------------------------------
    b.kill();
    wait_json(&finder, secs(20), "B dropped by discovery", |s| {
        !has_server(s, &b.url) && has_server(s, &a.url)
    });
    lap("done");
}
