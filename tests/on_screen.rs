//! "On screen" means on screen, with the real programs: an OpenCode 1.18.33 server driven by
//! the fake LLM, the real OpenCode TUI (`opencode attach`) with ocbar's plugin in window 1 of a
//! tmux session, a real tmux client attached to that session (`tmux attach` in a terminal of
//! its own: a pane of a second tmux server), and a real `ocbar daemon` whose notifications go
//! to a log.
//!
//! - OpenCode's TUI never asks its terminal for focus reports: its start-up output (captured
//!   with `pipe-pane`) turns on the alternate screen and mouse modes but never `?1004` (it only
//!   asks whether the terminal supports it, `?1004$p`). So focus cannot come from the TUI, and
//!   this test sends none by hand.
//! - The client shows window 1: a turn of S finishes visited, and nothing is notified.
//! - The client shows window 0: S finishes unvisited and notified; selecting window 1 marks it
//!   visited within a second.
//! - The client detached: S finishes unvisited and notified; attaching shows it and visits it.
//! - `focus-events on` and the client's terminal reports focus out: the TUI is not on screen,
//!   S finishes unvisited and notified; focus in marks it visited.
//! - `doctor` says, for the TUI, whether it is on screen and why.
//!
//! Needs tmux and OpenCode (`scripts/install-test-deps.sh`); a missing tool fails the test.

mod common;
mod daemon_harness;

use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{FakeLlm, OpenCode, Options, require_tool, secs};
use daemon_harness::Daemon;

/// How soon a change on screen must reach the marks (the promise), and the margin a loaded CI
/// machine gets on top before the test fails.
const PROMISE: Duration = Duration::from_secs(1);
const CI_MARGIN: Duration = Duration::from_secs(2);

fn doctor_line(d: &Daemon, tui: &str) -> String {
    let out = String::from_utf8_lossy(&d.run(&["doctor"]).stdout).into_owned();
    out.lines()
        .find(|l| l.starts_with(&format!("tui {tui} ")))
        .unwrap_or("")
        .to_string()
}

fn unvisited(d: &Daemon, title: &str) -> Option<bool> {
    d.session(title).and_then(|s| s["unvisited"].as_bool())
}

#[test]
fn on_screen_means_on_screen() {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("on_screen: {what} at {:.1?}", t0.elapsed());
    require_tool("tmux");
    let llm = FakeLlm::start();
    let a = OpenCode::start(&llm, Options::default());
    let home = a.root.join("home");
    common::install_plugin(&home);

    let dir = a.dir(0).to_path_buf();
    let s = a.create_session(&dir, Some("watched"));
    let notes = common::NotifyLog::new();
    let d = Daemon::start_with(&[&a.url], &[], Some(&notes.config("")));
    let notified = |n: usize| notes.count("watched") >= n;
    let notes_dir = tempfile::tempdir().unwrap();
    // One turn of S, waited for until it is done.
    let turn = |text: &str| {
        a.prompt(&dir, &s, &format!("{text} [slow 3]"));
        d.wait_state("watched", "busy", secs(30));
        d.wait_state("watched", "done", secs(60));
    };

    // S, titled "watched", in the TUI of window 1; window 0 holds a shell.
    let tmux = Tmux::start(&common::tui_env(&home, &d.socket));
    tmux.spawn("work", &dir, &["sh"]);
    let capture = notes_dir.path().join("tui-output");
    let opencode = require_tool("opencode");
    let start_tui = format!(
        "read go; exec '{}' attach '{}' --session '{s}'",
        opencode.display(),
        a.url
    );
    tmux.ok(&[
        "new-window",
        "-d",
        "-t",
        "work:1",
        "-c",
        &dir.to_string_lossy(),
        "--",
        "sh",
        "-c",
        &start_tui,
    ]);
    tmux.ok(&[
        "pipe-pane",
        "-O",
        "-t",
        "work:1",
        &format!("cat >> '{}'", capture.display()),
    ]);
    tmux.keys("work:1", &["Enter"]);
    tmux.wait_screen("work:1", secs(90), "the TUI", |t| t.contains("watched"));
    let tui_pid = tmux
        .ok(&["display-message", "-p", "-t", "work:1", "#{pane_pid}"])
        .trim()
        .to_string();

    // The TUI's own output: the alternate screen, mouse reporting, never focus reporting.
    let out = std::fs::read(&capture).unwrap_or_default();
    let has = |mode: &str| {
        let seq = format!("\x1b[?{mode}");
        out.windows(seq.len()).any(|w| w == seq.as_bytes())
    };
    assert!(
        has("1049h"),
        "the capture holds the TUI's start-up output: {} bytes: {:?}",
        out.len(),
        String::from_utf8_lossy(&out[..out.len().min(300)])
    );
    assert!(
        !has("1004h"),
        "OpenCode's TUI turned on focus reporting: its own focus reports could be used"
    );
    lap("TUI up");

    // No client at all yet: not on screen, and doctor says why.
    common::wait_or_fail(secs(20), "the TUI in doctor, not on screen", || {
        let l = doctor_line(&d, &tui_pid);
        l.contains(&format!("shows {s} (not on screen: tmux window work:1"))
    });

    // --- the client shows window 1: S finishes there, visited, not notified -----------------
    tmux.ok(&["select-window", "-t", "work:1"]);
    let client = tmux.attach_client("work");
    common::wait_or_fail(secs(10), "on screen in window 1", || {
        doctor_line(&d, &tui_pid).contains("(on screen: tmux work:1 shown by client")
    });
    turn("hello");
    assert_eq!(unvisited(&d, "watched"), Some(false));
    lap("finished on screen");

    // --- the client shows window 0: S finishes unvisited and notified ------------------------
    tmux.ok(&["select-window", "-t", "work:0"]);
    common::wait_or_fail(secs(10), "off screen in window 0", || {
        doctor_line(&d, &tui_pid).contains("(not on screen: tmux window work:1 is not the current")
    });
    turn("again");
    assert_eq!(unvisited(&d, "watched"), Some(true));
    common::wait_or_fail(secs(10), "S notified", || notified(1));
    assert!(!notified(2), "the turn on screen was notified too");
    // Selecting window 1 visits it within a second.
    let at = Instant::now();
    tmux.ok(&["select-window", "-t", "work:1"]);
    common::wait_or_fail(PROMISE + CI_MARGIN, "visited after select-window", || {
        unvisited(&d, "watched") == Some(false)
    });
    eprintln!("on_screen: select-window -> visited in {:?}", at.elapsed());
    lap("window switch");

    // --- the client detaches: the session shown in window 1 is on no screen ------------------
    drop(client);
    common::wait_or_fail(secs(10), "off screen, detached", || {
        doctor_line(&d, &tui_pid)
            .contains("(not on screen: tmux window work:1 not shown by any client)")
    });
    turn("detached");
    assert_eq!(unvisited(&d, "watched"), Some(true));
    common::wait_or_fail(secs(10), "S notified while detached", || notified(2));
    let at = Instant::now();
    let client = tmux.attach_client("work");
    common::wait_or_fail(PROMISE + CI_MARGIN, "visited after attaching", || {
        unvisited(&d, "watched") == Some(false)
    });
    eprintln!("on_screen: attach -> visited in {:?}", at.elapsed());
    lap("detached");

    // --- focus-events on, the client's terminal loses focus ----------------------------------
    tmux.ok(&["set-option", "-g", "focus-events", "on"]);
    client.focus_out();
    common::wait_or_fail(secs(10), "off screen, unfocused", || {
        doctor_line(&d, &tui_pid).contains("which has no focus)")
    });
    turn("unfocused");
    assert_eq!(unvisited(&d, "watched"), Some(true));
    common::wait_or_fail(secs(10), "S notified while unfocused", || notified(3));
    let at = Instant::now();
    client.focus_in();
    common::wait_or_fail(PROMISE + CI_MARGIN, "visited after focus in", || {
        unvisited(&d, "watched") == Some(false)
    });
    eprintln!("on_screen: focus in -> visited in {:?}", at.elapsed());
    lap("focus");

    // --- `ocbar open` without the plugin reuses an `opencode --port` TUI in tmux -------------
    // Its config directory has no plugin; its data (the sessions) is the user's one database.
    let plain_config = notes_dir.path().join("config");
    std::fs::create_dir_all(plain_config.join("opencode")).unwrap();
    common::seed_config_dir(&plain_config.join("opencode"), None);
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let d2 = Daemon::start_with(&[&url], &[], Some("[notify]\nenabled = false\n"));
    tmux.ok(&[
        "new-window",
        "-d",
        "-t",
        "work:2",
        "-e",
        &format!("XDG_CONFIG_HOME={}", plain_config.display()),
        "-c",
        &dir.to_string_lossy(),
        "--",
        &opencode.to_string_lossy(),
        "--port",
        &port.to_string(),
    ]);
    tmux.wait_screen("work:2", secs(90), "the --port TUI", |t| {
        t.contains("Ask anything")
    });
    common::wait_or_fail(
        secs(30),
        "the second daemon connected to the TUI's server",
        || {
            d2.json()["servers"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["connected"] == true))
        },
    );
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .proxy(None)
            .timeout_global(Some(secs(30)))
            .build(),
    );
    let r = agent
        .post(format!(
            "{url}/session/{s}/prompt_async?directory={}",
            dir.display()
        ))
        .send_json(serde_json::json!({"parts": [{"type": "text", "text": "through the TUI's own server [slow 1]"}]}))
        .expect("prompt through the --port TUI's server");
    assert_eq!(r.status().as_u16(), 204);
    d2.wait_state("watched", "done", secs(60));
    tmux.ok(&["select-window", "-t", "work:0"]);
    let windows = || {
        tmux.ok(&[
            "list-windows",
            "-a",
            "-F",
            "#{session_name}:#{window_index}",
        ])
    };
    let before = windows();
    let out = d2.run(&["open", "watched"]);
    let reply = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert!(
        reply.contains("(no ocbar plugin)") && reply.contains("tmux work:2."),
        "{reply}"
    );
    assert_eq!(windows(), before, "no new window: {reply}");
    assert_eq!(
        tmux.ok(&["list-clients", "-F", "#{session_name}:#{window_index}"])
            .trim(),
        "work:2",
        "the client shows the reused TUI"
    );
    tmux.wait_screen("work:2", secs(20), "the session in the reused TUI", |t| {
        t.contains("watched")
    });
    lap("open reused the --port TUI");
    let log = d.log_text();
    assert!(
        log.contains("on screen: following the tmux server on"),
        "the daemon says what it follows:\n{log}"
    );
}
