//! A day in the life of one user, end to end with the real programs: OpenCode 1.18.33 (driven by
//! the fake LLM) restarted on NEW ports again and again, a plain `opencode` TUI with the plugin
//! that exits and starts again, and a real `ocbar daemon` that finds the servers by itself
//! (discovery, as a user runs it) and is `kill -9`ed and restarted on the way. One HOME, so one
//! OpenCode database: a session is the same session on every server.
//!
//! After every step: no session id twice (JSON, `ocbar list`, the waybar tooltip); no finished
//! session shown `unknown`, in any snapshot a `watch` subscriber saw; counts that match the
//! list; unvisited marks where the user left them; and `seen`/`open` working on the session's
//! new address.
//!
//! Needs tmux and OpenCode (`scripts/install-test-deps.sh`); a missing tool fails the test.

mod common;
mod daemon_harness;

use std::collections::{HashMap, HashSet};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::tmux::Tmux;
use common::{FakeLlm, OpenCode, Options, require_tool, secs};
use daemon_harness::{Daemon, History};

/// What a session of ours must look like at a step: its title, the states it may show, and
/// its unvisited mark.
struct Want<'a> {
    title: &'a str,
    states: &'a [&'a str],
    unvisited: bool,
}

fn want<'a>(title: &'a str, states: &'a [&'a str], unvisited: bool) -> Want<'a> {
    Want {
        title,
        states,
        unvisited,
    }
}

const DONE: &[&str] = &["done"];
const FAILED: &[&str] = &["error", "aborted"];
const FINISHED: &[&str] = &["done", "error", "aborted"];

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sessions(snap: &Value) -> &[Value] {
    snap["sessions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The invariants of one snapshot that hold whatever the step: every id once, counts that
/// match the list. Returns what is wrong, if anything.
fn snapshot_problem(snap: &Value) -> Option<String> {
    let mut ids = HashSet::new();
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for s in sessions(snap) {
        let id = s["id"].as_str().unwrap_or("?");
        if !ids.insert(id) {
            return Some(format!("session {id} listed twice"));
        }
        if s["parent_id"].is_null() {
            *counts
                .entry(s["state"].as_str().unwrap_or("?"))
                .or_default() += 1;
            if s["unvisited"] == true {
                *counts.entry("unvisited").or_default() += 1;
            }
        }
    }
    for k in [
        "busy",
        "retry",
        "waiting",
        "done",
        "error",
        "aborted",
        "unvisited",
    ] {
        let shown = snap["counts"][k].as_u64().unwrap_or(u64::MAX);
        let listed = counts.get(k).copied().unwrap_or(0);
        if shown != listed {
            return Some(format!("counts.{k} is {shown}, the list has {listed}"));
        }
    }
    None
}

/// What is wrong with our sessions in `snap`, if anything.
fn wanted_problem(snap: &Value, wants: &[Want]) -> Option<String> {
    if let Some(p) = snapshot_problem(snap) {
        return Some(p);
    }
    for w in wants {
        let found: Vec<&Value> = sessions(snap)
            .iter()
            .filter(|s| s["title"] == w.title)
            .collect();
        let [s] = found.as_slice() else {
            return Some(format!("'{}' listed {} times", w.title, found.len()));
        };
        let state = s["state"].as_str().unwrap_or("?");
        if !w.states.contains(&state) {
            return Some(format!("'{}' is {state}, want {:?}", w.title, w.states));
        }
        if s["unvisited"] != w.unvisited {
            return Some(format!(
                "'{}' unvisited is {}, want {}",
                w.title, s["unvisited"], w.unvisited
            ));
        }
    }
    None
}

/// Wait until our sessions look as wanted (and the snapshot is consistent), then check every
/// other output: `ocbar list`, the waybar tooltip, a bar line. Returns the snapshot.
fn step(d: &Daemon, h: &History, what: &str, timeout: Duration, wants: &[Want]) -> Value {
    let deadline = Instant::now() + timeout;
    let (snap, problem) = loop {
        let snap = d.json();
        let problem = wanted_problem(&snap, wants);
        if problem.is_none() || Instant::now() > deadline {
            break (snap, problem);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if let Some(p) = problem {
        let traces: Vec<String> = wants.iter().map(|w| trace(h, w.title)).collect();
        panic!(
            "{what}: {p}\nsnapshot: {snap:#}\nas watch saw them:\n{}\ndaemon log:\n{}",
            traces.join("\n"),
            d.log_text()
        );
    }
    let list = text(&d.run(&["list"]));
    let waybar: Value = serde_json::from_str(&text(&d.run(&["status", "--format", "waybar"])))
        .unwrap_or_else(|e| panic!("{what}: waybar output is not JSON: {e}"));
    let tooltip = waybar["tooltip"].as_str().unwrap_or_default();
    for w in wants {
        assert_eq!(
            list.matches(w.title).count(),
            1,
            "{what}: '{}' in ocbar list:\n{list}",
            w.title
        );
        assert_eq!(
            tooltip.matches(w.title).count(),
            1,
            "{what}: '{}' in the waybar tooltip:\n{tooltip}",
            w.title
        );
    }
    let bar = d.run(&["status", "--format", "plain"]);
    assert!(bar.status.success(), "{what}: {bar:?}");
    eprintln!(
        "day_in_the_life: {what}: ok ({:.1?} into the run)\n{list}",
        started().elapsed()
    );
    snap
}

/// When the test started (for the progress lines).
fn started() -> Instant {
    static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T0.get_or_init(Instant::now)
}

/// How the session titled `title` changed in the snapshots `watch` saw (for failure messages).
fn trace(h: &History, title: &str) -> String {
    let snaps = h.snapshots.lock().map(|s| s.clone()).unwrap_or_default();
    let mut out = format!("{title}:");
    let mut last = String::new();
    for snap in &snaps {
        let now = match sessions(snap).iter().find(|s| s["title"] == title) {
            Some(s) => format!(
                "{} {} unvisited={} reachable={}",
                s["state"], s["server"], s["unvisited"], s["reachable"]
            ),
            None => "(not listed)".into(),
        };
        if now != last {
            out.push_str("\n  ");
            out.push_str(&now);
            last = now;
        }
    }
    out
}

/// Every snapshot the subscriber saw: consistent, and no session shown `unknown` after it was
/// seen finished, unless a new turn (busy, retry, waiting) came in between.
fn check_history(h: &History, what: &str) {
    let snaps = h.snapshots.lock().map(|s| s.clone()).unwrap_or_default();
    let mut last: HashMap<String, String> = HashMap::new();
    for (i, snap) in snaps.iter().enumerate() {
        if let Some(p) = snapshot_problem(snap) {
            panic!("{what}: snapshot {i} seen by watch: {p}\n{snap:#}");
        }
        for s in sessions(snap) {
            let id = s["id"].as_str().unwrap_or("?").to_string();
            let state = s["state"].as_str().unwrap_or("?").to_string();
            if state == "unknown" {
                let before = last.get(&id).map(String::as_str).unwrap_or("");
                assert!(
                    !FINISHED.contains(&before),
                    "{what}: '{}' shown unknown after it was {before} (snapshot {i})",
                    s["title"]
                );
            } else {
                last.insert(id, state);
            }
        }
    }
    eprintln!(
        "day_in_the_life: {what}: {} snapshots seen by watch, all consistent",
        snaps.len()
    );
}

fn server_followed(snap: &Value, url: &str) -> bool {
    snap["servers"].as_array().is_some_and(|s| {
        s.iter()
            .any(|s| s["url"] == url && s["connected"] == true && s["stale"] == false)
    })
}

fn server_listed(snap: &Value, url: &str) -> bool {
    snap["servers"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["url"] == url))
}

fn session_by<'a>(snap: &'a Value, title: &str) -> &'a Value {
    sessions(snap)
        .iter()
        .find(|s| s["title"] == title)
        .unwrap_or_else(|| panic!("'{title}' not listed: {snap:#}"))
}

/// OpenCode comes back on a new port; the daemon drops the old address and follows the new one.
fn wait_moved(d: &Daemon, old: &str, new: &str) {
    let deadline = Instant::now() + secs(60);
    loop {
        let snap = d.json();
        if server_followed(&snap, new) && !server_listed(&snap, old) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not move from {old} to {new}: {snap:#}\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last activity of the session titled `title` now.
fn activity(d: &Daemon, title: &str) -> i64 {
    session_by(&d.json(), title)["last_activity_ms"]
        .as_i64()
        .unwrap_or(0)
}

/// Wait until a new turn of `title` (activity after `before`) has finished.
fn wait_turn(d: &Daemon, title: &str, before: i64) {
    common::wait_or_fail(secs(40), &format!("a new turn of {title} finished"), || {
        let snap = d.json();
        sessions(&snap).iter().any(|s| {
            s["title"] == title
                && s["last_activity_ms"].as_i64().unwrap_or(0) > before
                && matches!(s["state"].as_str(), Some("done" | "error" | "aborted"))
        })
    });
}

/// `ocbar seen` / `ocbar open` for `title`, which must succeed.
fn ocbar_ok(d: &Daemon, args: &[&str]) -> String {
    let out = d.run(args);
    assert!(
        out.status.success(),
        "ocbar {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log_text()
    );
    text(&out)
}

#[test]
fn day_in_the_life() {
    let t0 = started();
    require_tool("tmux");
    let opencode = require_tool("opencode");
    let oc = opencode.to_str().unwrap();
    let llm = FakeLlm::start();
    let mut server = OpenCode::start(&llm, Options::default());
    let dir = server.dir(0).to_path_buf();
    let home = server.root.join("home");
    common::install_plugin(&home);

    // The daemon as a user runs it: nothing configured, discovery on. (It may find other
    // tests' servers too: their sessions are not ours, and the checks hold for them as well.)
    let mut d = Daemon::start_with(
        &[],
        &[("OCBAR_DISCOVERY", "1")],
        Some("[discovery]\ninterval_seconds = 1\n[notify]\nenabled = false\n"),
    );
    let mut history = d.history();
    common::wait_or_fail(secs(30), "the first server discovered", || {
        server_followed(&d.json(), &server.url)
    });

    // --- 08:00 a session finishes while the user is elsewhere ------------------------------
    let one = server.create_session(&dir, Some("ditl one"));
    server.prompt(&dir, &one, "hello [slow 1]");
    step(
        &d,
        &history,
        "one done, unvisited",
        secs(40),
        &[want("ditl one", DONE, true)],
    );

    // --- 09:00 OpenCode restarted on a new port ----------------------------------------------
    let old = server.url.clone();
    server.stop();
    server.start_on_new_port();
    wait_moved(&d, &old, &server.url);
    let snap = step(
        &d,
        &history,
        "restart 1: one still done and unvisited, once",
        secs(30),
        &[want("ditl one", DONE, true)],
    );
    let s = session_by(&snap, "ditl one");
    assert!(
        s["server"] == server.url.as_str() || s["reachable"] == false,
        "{s:#}"
    );
    // Found on the new server (same database): reachable there.
    step(
        &d,
        &history,
        "one reachable on the new server",
        secs(30),
        &[want("ditl one", DONE, true)],
    );
    common::wait_or_fail(secs(30), "one re-attached to the new server", || {
        let snap = d.json();
        let s = session_by(&snap, "ditl one");
        s["server"] == server.url.as_str() && s["reachable"] == true
    });

    // --- 10:00 a long turn; OpenCode dies while it runs, and comes back elsewhere ------------
    let two = server.create_session(&dir, Some("ditl two"));
    server.prompt(&dir, &two, "think long [slow 600]");
    step(
        &d,
        &history,
        "two busy",
        secs(40),
        &[
            want("ditl one", DONE, true),
            want("ditl two", &["busy"], false),
        ],
    );
    let old = server.url.clone();
    server.kill();
    server.start_on_new_port();
    wait_moved(&d, &old, &server.url);
    // The turn died with its server: read through the new server, it ended in an error.
    let snap = step(
        &d,
        &history,
        "restart 2 (mid-turn): two finished with an error, unvisited",
        secs(40),
        &[want("ditl one", DONE, true), want("ditl two", FAILED, true)],
    );
    assert_eq!(session_by(&snap, "ditl two")["server"], server.url.as_str());

    // --- 11:00 the daemon is killed, and comes back with its state file ----------------------
    d.kill9_and_restart();
    check_history(&history, "before the daemon's kill -9");
    history = d.history();
    step(
        &d,
        &history,
        "daemon restarted: both finished, both unvisited",
        secs(30),
        &[want("ditl one", DONE, true), want("ditl two", FAILED, true)],
    );
    common::wait_or_fail(secs(30), "both found on the current server", || {
        let snap = d.json();
        ["ditl one", "ditl two"].iter().all(|t| {
            let s = session_by(&snap, t);
            s["server"] == server.url.as_str() && s["reachable"] == true
        })
    });

    // --- 11:30 work continues in the old session on the new server; seen and open there -------
    let before = activity(&d, "ditl one");
    server.prompt(&dir, &one, "and now the tests [slow 1]");
    wait_turn(&d, "ditl one", before);
    step(
        &d,
        &history,
        "one continued on the new server: done again",
        secs(40),
        &[want("ditl one", DONE, true), want("ditl two", FAILED, true)],
    );
    ocbar_ok(&d, &["seen", "ditl one"]);
    step(
        &d,
        &history,
        "one seen",
        secs(5),
        &[
            want("ditl one", DONE, false),
            want("ditl two", FAILED, true),
        ],
    );
    let opened = ocbar_ok(&d, &["open", &two]);
    assert!(
        opened.contains(&server.url),
        "open goes through the new address: {opened}"
    );
    step(
        &d,
        &history,
        "two opened",
        secs(5),
        &[
            want("ditl one", DONE, false),
            want("ditl two", FAILED, false),
        ],
    );

    // --- 13:00 a plain TUI with the plugin: a job finishes in the background, the TUI exits ---
    let tmux = Tmux::start(&common::tui_env(&home, &d.socket));
    tmux.spawn("plain", &dir, &[oc]);
    tmux.wait_screen("plain", secs(90), "the plain TUI", |s| {
        s.contains("Ask anything")
    });
    let pseudo = format!("tui://{}", tmux.pane_pid("plain"));
    tmux.keys(
        "plain",
        &["-l", "plain job [slow 8] [title=ditl plain job]"],
    );
    tmux.keys("plain", &["Enter"]);
    common::wait_or_fail(secs(40), "the plain job busy, bridged", || {
        sessions(&d.json()).iter().any(|s| {
            s["title"] == "ditl plain job" && s["state"] == "busy" && s["server"] == pseudo.as_str()
        })
    });
    // Away from it (a new session: the home screen), so it finishes in the background.
    tmux.keys("plain", &["C-x"]);
    tmux.keys("plain", &["n"]);
    step(
        &d,
        &history,
        "plain job done, unvisited",
        secs(40),
        &[
            want("ditl one", DONE, false),
            want("ditl two", FAILED, false),
            want("ditl plain job", DONE, true),
        ],
    );
    tmux.ok(&["kill-session", "-t", "plain"]);
    common::wait_or_fail(secs(20), "the plain TUI's bridge removed", || {
        !server_listed(&d.json(), &pseudo)
    });
    step(
        &d,
        &history,
        "plain TUI exited: its job keeps its outcome and mark",
        secs(5),
        &[
            want("ditl one", DONE, false),
            want("ditl two", FAILED, false),
            want("ditl plain job", DONE, true),
        ],
    );
    // The TUI starts again (another pid, another bridge).
    tmux.spawn("plain2", &dir, &[oc]);
    tmux.wait_screen("plain2", secs(90), "the plain TUI again", |s| {
        s.contains("Ask anything")
    });
    let pseudo2 = format!("tui://{}", tmux.pane_pid("plain2"));
    common::wait_or_fail(secs(30), "the new bridge", || {
        server_followed(&d.json(), &pseudo2)
    });
    step(
        &d,
        &history,
        "plain TUI back: still one plain job, done, unvisited",
        secs(5),
        &[
            want("ditl one", DONE, false),
            want("ditl two", FAILED, false),
            want("ditl plain job", DONE, true),
        ],
    );
    // Opened: through its current address (the HTTP server that found it, or a TUI).
    let opened = ocbar_ok(&d, &["open", "ditl plain job"]);
    let tui2_pid = &pseudo2["tui://".len()..];
    assert!(
        opened.contains(&server.url) || opened.contains(&format!("TUI pid {tui2_pid}")),
        "open goes through a live address: {opened}\n{}",
        trace(&history, "ditl plain job")
    );
    step(
        &d,
        &history,
        "plain job opened",
        secs(5),
        &[
            want("ditl one", DONE, false),
            want("ditl two", FAILED, false),
            want("ditl plain job", DONE, false),
        ],
    );

    // --- 15:00 OpenCode restarted a third time; the failed session is taken up again ----------
    let old = server.url.clone();
    server.stop();
    server.start_on_new_port();
    wait_moved(&d, &old, &server.url);
    step(
        &d,
        &history,
        "restart 3: nothing changed for the user",
        secs(30),
        &[
            want("ditl one", DONE, false),
            want("ditl two", FAILED, false),
            want("ditl plain job", DONE, false),
        ],
    );
    let before = activity(&d, "ditl two");
    server.prompt(&dir, &two, "try again [slow 1]");
    wait_turn(&d, "ditl two", before);
    let snap = step(
        &d,
        &history,
        "two continued on the third new server: done, unvisited",
        secs(40),
        &[
            want("ditl one", DONE, false),
            want("ditl two", DONE, true),
            want("ditl plain job", DONE, false),
        ],
    );
    assert_eq!(session_by(&snap, "ditl two")["server"], server.url.as_str());
    let opened = ocbar_ok(&d, &["open", "ditl two"]);
    assert!(opened.contains(&server.url), "{opened}");
    ocbar_ok(&d, &["seen", "--all"]);
    let snap = step(
        &d,
        &history,
        "end of the day: everything seen",
        secs(5),
        &[
            want("ditl one", DONE, false),
            want("ditl two", DONE, false),
            want("ditl plain job", DONE, false),
        ],
    );
    assert_eq!(snap["counts"]["unvisited"], 0, "{snap:#}");
    check_history(&history, "after the daemon's restart");
    eprintln!("{}", trace(&history, "ditl plain job"));
    eprintln!("day_in_the_life: done in {:.1?}", t0.elapsed());
}
