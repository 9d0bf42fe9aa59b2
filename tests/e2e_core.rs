//! The core, end to end: a real OpenCode 1.18.33 server driven by the fake LLM, a real
//! `ocbar daemon`, and the real client. Everything is asserted through what a user runs:
//! `ocbar status --format json`, `ocbar list`, `ocbar seen/open`, `ocbar doctor`.
//!
//! Under nextest every #[test] is its own process, so the scenarios that share one server run
//! concurrently inside one test (each on its own session).

mod common;
mod daemon_harness;

use std::time::Duration;

use common::{Env, Options, secs};
use daemon_harness::Daemon;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(45);

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn err(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn find<'a>(snap: &'a Value, title: &str) -> Option<&'a Value> {
    snap["sessions"]
        .as_array()?
        .iter()
        .find(|s| s["title"] == title)
}

/// Every state of the session model on one server, plus seen/open/list/doctor and a daemon
/// restart that keeps the unvisited marks.
#[test]
fn every_state_on_a_real_server() {
    let env = Env::start(Options::default().dirs(2).bash_ask());
    let oc = &env.oc;
    let (a, b) = (oc.dir(0).to_path_buf(), oc.dir(1).to_path_buf());
    let mut d = Daemon::start(&[&oc.url], &[]);
    // Connected and resynced before anything runs.
    common::wait_or_fail(secs(20), "daemon connected", || {
        let j = d.json();
        j["servers"][0]["connected"] == true && j["servers"][0]["stale"] == false
    });

    let h = d.history();
    let quiet = oc.create_session(&a, Some("quiet one"));
    let busy = oc.create_session(&a, Some("busy one"));
    let done = oc.create_session(&a, Some("done one"));
    let retry = oc.create_session(&a, Some("retry one"));
    let failed = oc.create_session(&a, Some("failing one"));
    let aborted = oc.create_session(&a, Some("aborted one"));
    let perm = oc.create_session(&a, Some("permission one"));
    let question = oc.create_session(&a, Some("question one"));
    let parent = oc.create_session(&a, Some("parent one"));
    let other_dir = oc.create_session(&b, Some("project b one"));

    oc.prompt(&a, &busy, "keep working [slow 20]");
    oc.prompt(&a, &done, "quick answer");
    oc.prompt(&a, &retry, "rate limited [retry 2]");
    oc.prompt(&a, &failed, "break [fail]");
    oc.prompt(&a, &aborted, "long job [slow 30]");
    oc.prompt(&a, &perm, "run it [bash]");
    oc.prompt(&a, &question, "ask me [question]");
    oc.prompt(&a, &parent, "delegate [task]");
    oc.prompt(&b, &other_dir, "other project [slow 3]");

    // a sub-agent folds into its parent: the parent counts it while it runs, the child is
    // listed with parent_id, and counts never include it
    let snap = (|| {
        let deadline = std::time::Instant::now() + T;
        while std::time::Instant::now() < deadline {
            if let Some(j) = h.find_snapshot(|j| {
                find(j, "parent one")
                    .is_some_and(|p| p["children_active"].as_u64().unwrap_or(0) >= 1)
            }) {
                return j;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let seen: Vec<String> = h
            .snapshots
            .lock()
            .unwrap()
            .iter()
            .map(|j| {
                j["sessions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["title"] == "parent one" || s["parent_id"] == parent.as_str())
                    .map(|s| format!("{}:{}:{}", s["title"], s["state"], s["children_active"]))
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect();
        panic!("never saw the parent with a running child; seen: {seen:#?}");
    })();
    let child = snap["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["parent_id"] == parent.as_str())
        .cloned()
        .expect("child listed with parent_id");
    assert_eq!(child["agent"], "general", "{child}");
    let roots_busy = snap["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["parent_id"].is_null() && s["state"] == "busy")
        .count() as u64;
    assert_eq!(
        snap["counts"]["busy"].as_u64().unwrap(),
        roots_busy,
        "{snap}"
    );
    let s = d.wait_state("parent one", "done", T);
    assert_eq!(s["children_active"], 0);

    // busy
    let s = h.wait_seen("busy one", "busy", T);
    assert_eq!(s["model"], "fake/fake-model");
    assert_eq!(s["agent"], "build");
    assert_eq!(s["unvisited"], false);
    assert_eq!(s["attempt"], Value::Null);

    // retry with attempt and next, then done
    let s = h.wait_seen("retry one", "retry", T);
    assert!(s["attempt"].as_u64().unwrap_or(0) >= 1, "{s}");
    assert!(
        s["retry_next_ms"].as_i64().unwrap_or(0) > 1_700_000_000_000,
        "{s}"
    );
    assert!(s["message"].as_str().is_some_and(|m| !m.is_empty()), "{s}");
    d.wait_state("retry one", "done", T);

    // done, unvisited
    let s = d.wait_state("done one", "done", T);
    assert_eq!(s["unvisited"], true);
    assert_eq!(s["message"], Value::Null);

    // error with the provider's message
    let s = d.wait_state("failing one", "error", T);
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.contains("fake fatal")),
        "{s}"
    );
    assert_eq!(s["unvisited"], true);

    // aborted by the user
    h.wait_seen("aborted one", "busy", T);
    assert!(oc.abort(&a, &aborted));
    let s = d.wait_state("aborted one", "aborted", T);
    assert_eq!(s["unvisited"], true);

    // waiting on a permission, cleared by the reply
    d.wait_state("permission one", "waiting", T);
    let pending = oc.pending_permissions(&a);
    let req = pending
        .iter()
        .find(|p| p["sessionID"] == perm.as_str())
        .expect("pending permission");
    oc.reply_permission(&a, req["id"].as_str().unwrap(), "once");
    d.wait_state("permission one", "done", T);

    // waiting on a question, cleared by the answer
    d.wait_state("question one", "waiting", T);
    let pending = oc.pending_questions(&a);
    let req = pending
        .iter()
        .find(|p| p["sessionID"] == question.as_str())
        .expect("pending question");
    oc.reply_question(&a, req["id"].as_str().unwrap(), &[&["A"]]);
    d.wait_state("question one", "done", T);

    // the second project directory of the same server
    let s = d.wait_state("project b one", "done", T);
    assert_eq!(s["directory"], b.to_str().unwrap());
    assert_eq!(s["server"], oc.url.as_str());

    // a session never prompted is not shown
    let j = d.json();
    assert!(find(&j, "quiet one").is_none(), "{j}");
    assert!(
        j["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != quiet.as_str())
    );

    // the busy one is still busy; the panel lists it and the finished ones
    let list = text(&d.run(&["list"]));
    for title in [
        "busy one",
        "done one",
        "failing one",
        "aborted one",
        "parent one",
    ] {
        assert!(list.contains(title), "list lacks {title}:\n{list}");
    }
    assert!(!list.contains("quiet one"), "{list}");

    // counts agree with the sessions
    let j = d.json();
    let unvisited = j["counts"]["unvisited"].as_u64().unwrap();
    assert!(unvisited >= 7, "{j}");

    // seen by title substring, saying what it did
    let out = d.run(&["seen", "done one"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(text(&out), "marked 'done one' visited\n");
    assert_eq!(find(&d.json(), "done one").unwrap()["unvisited"], false);
    let out = d.run(&["seen", "done one"]);
    assert_eq!(text(&out), "'done one' was already visited\n");
    // without a session: which one, or --all
    let out = d.run(&["seen"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("'ocbar seen --all'"), "{}", err(&out));

    // ambiguous: an error that lists the candidates
    let out = d.run(&["seen", "one"]);
    assert!(!out.status.success());
    assert!(
        err(&out).contains("matches") && err(&out).contains("failing one"),
        "{}",
        err(&out)
    );

    // open by id prefix: POST /tui/select-session, then visited
    let prefix = &failed[..failed.len() - 4];
    let out = d.run(&["open", prefix]);
    assert!(out.status.success(), "open failed: {}", err(&out));
    assert_eq!(find(&d.json(), "failing one").unwrap()["unvisited"], false);

    // unknown session: clear error
    let out = d.run(&["open", "no such session anywhere"]);
    assert!(!out.status.success());
    assert!(err(&out).contains("no session matches"), "{}", err(&out));

    // mute shows in the JSON
    let out = d.run(&["mute", "aborted one"]);
    assert!(out.status.success(), "{}", err(&out));
    // The reply comes once the mute is on disk: a daemon killed right after it keeps it.
    let saved = std::fs::read_to_string(d.dir.path().join("state/ocbar/state.json"))
        .expect("the state file exists once mute has answered");
    let saved: serde_json::Value = serde_json::from_str(&saved).expect("state file is JSON");
    assert!(
        saved["sessions"].as_array().is_some_and(|a| a
            .iter()
            .any(|s| s["title"] == "aborted one" && s["muted"] == true)),
        "mute answered but not saved: {saved:#}"
    );
    assert_eq!(find(&d.json(), "aborted one").unwrap()["muted"], true);
    assert_eq!(text(&out), "muted 'aborted one': no notifications for it\n");
    let list = text(&d.run(&["list"]));
    let line = list
        .lines()
        .find(|l| l.contains("aborted one"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.contains("  muted"),
        "list marks muted sessions: {line}"
    );
    let out = d.run(&["mute", "aborted one"]);
    assert_eq!(text(&out), "'aborted one' was already muted\n");

    // doctor
    let doc = text(&d.run(&["doctor"]));
    assert!(
        doc.contains(&format!("server {}: connected", oc.url)),
        "{doc}"
    );
    assert!(doc.contains("opencode 1.18.33"), "{doc}");
    assert!(doc.contains("decode errors: 0"), "{doc}");

    // kill -9 the daemon: unvisited marks and mutes survive the restart
    d.kill9_and_restart();
    common::wait_or_fail(secs(20), "restarted daemon resynced", || {
        d.json()["servers"][0]["stale"] == false
    });
    let j = d.json();
    let s = find(&j, "aborted one").expect("aborted one survives");
    assert_eq!(s["state"], "aborted");
    assert_eq!(s["unvisited"], true);
    assert_eq!(s["muted"], true);
    assert_eq!(find(&j, "parent one").unwrap()["unvisited"], true);
    // Visited, and within its linger: listed again, as it would have been without a restart.
    let s = find(&j, "done one").expect("a visited session lingers across a restart");
    assert_eq!(
        (&s["state"], &s["unvisited"]),
        (&json!("done"), &json!(false))
    );
    // the busy one was active at connect: relevant again
    d.wait_state("busy one", "busy", T);

    // unmute says so
    let out = d.run(&["unmute", "aborted one"]);
    assert_eq!(text(&out), "unmuted 'aborted one': it notifies again\n");
    // seen --all clears every mark, and counts them
    let marked = d.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["unvisited"] == true)
        .count();
    let out = d.run(&["seen", "--all"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(text(&out), format!("marked {marked} sessions visited\n"));
    assert_eq!(d.json()["counts"]["unvisited"], 0);
    let out = d.run(&["seen", "--all"]);
    assert_eq!(text(&out), "no unvisited sessions: nothing to mark\n");
}

/// Two servers at once, one of them password-protected.
#[test]
fn two_servers_one_with_a_password() {
    let open = Env::start(Options::default());
    let locked = Env::start(Options::default().password("s3cret-pw"));
    let d = Daemon::start(
        &[&open.oc.url, &locked.oc.url],
        &[("OPENCODE_SERVER_PASSWORD", "s3cret-pw")],
    );
    common::wait_or_fail(secs(30), "both servers connected", || {
        let j = d.json();
        j["servers"].as_array().is_some_and(|s| {
            s.len() == 2
                && s.iter()
                    .all(|s| s["connected"] == true && s["stale"] == false)
        })
    });
    let s1 = open
        .oc
        .create_session(open.oc.dir(0), Some("on the open server"));
    let s2 = locked
        .oc
        .create_session(locked.oc.dir(0), Some("on the locked server"));
    open.oc.prompt(open.oc.dir(0), &s1, "hello");
    locked.oc.prompt(locked.oc.dir(0), &s2, "hello");
    let a = d.wait_state("on the open server", "done", T);
    let b = d.wait_state("on the locked server", "done", T);
    assert_eq!(a["server"], open.oc.url.as_str());
    assert_eq!(b["server"], locked.oc.url.as_str());
    let j = d.json();
    assert_eq!(j["counts"]["done"], 2, "{j}");
    let log = d.log_text();
    assert!(
        !log.contains("s3cret-pw"),
        "the password leaked into the log"
    );
    assert!(!text(&d.run(&["doctor"])).contains("s3cret-pw"));
}

/// No OpenCode at all: the daemon starts, explains itself, bars stay quiet, JSON says so.
#[test]
fn daemon_without_opencode_explains_itself() {
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let d = Daemon::start(&[&url], &[]);
    common::wait_or_fail(secs(10), "an explanation in the log", || {
        d.log_text().contains("opencode --port")
    });
    let out = d.run(&["status", "--format", "tmux"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out).trim(),
        "#[fg=white,bg=black] #[fg=brightblack]\u{2298}#[fg=white] #[default]",
        "no server reachable: the offline marker, not an error"
    );
    let j = d.json();
    assert_eq!(j["servers"][0]["url"], url.as_str());
    assert_eq!(j["servers"][0]["connected"], false);
    assert_eq!(j["servers"][0]["stale"], true);
    let doc = text(&d.run(&["doctor"]));
    assert!(
        doc.contains("NOT CONNECTED")
            && doc.contains(&format!(
                "fix: start OpenCode on port {port} ('opencode --port {port}'"
            )),
        "the fix names the configured server's own port: {doc}"
    );

    // A second daemon on the same socket refuses, with a message.
    let out = std::process::Command::new(daemon_harness::ocbar_bin())
        .env_remove("TMUX")
        .env("OCBAR_DISCOVERY", "0")
        .args(["daemon", "--socket"])
        .arg(&d.socket)
        .args(["--server", &url])
        .env("XDG_CONFIG_HOME", d.dir.path())
        .env("XDG_STATE_HOME", d.dir.path().join("state2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(err(&out).contains("already running"), "{}", err(&out));

    // The daemon down: bar formats print nothing and exit 0; json and actions fail loudly.
    let gone = d.dir.path().join("nothing-here.sock");
    let bar = daemon_harness::run_client(&gone, &["status", "--format", "tmux"]);
    assert!(bar.status.success());
    assert!(bar.stdout.is_empty());
    let marker =
        daemon_harness::run_client(&gone, &["status", "--format", "plain", "--offline", "?"]);
    assert_eq!(text(&marker), "?\n");
    let json = daemon_harness::run_client(&gone, &["status", "--format", "json"]);
    assert!(!json.status.success());
    assert!(err(&json).contains("ocbar daemon"), "{}", err(&json));
    let list = daemon_harness::run_client(&gone, &["list"]);
    assert!(!list.status.success());
}

/// A socket file left by a crashed daemon is replaced; a bad URL and a bad config are clear errors.
#[test]
fn stale_socket_bad_url_and_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ocbar.sock");
    // A socket file with nobody listening, as a crashed daemon leaves it.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let mut child = std::process::Command::new(daemon_harness::ocbar_bin())
        .env("OCBAR_DISCOVERY", "0")
        .args(["daemon", "--socket"])
        .arg(&socket)
        .args([
            "--server",
            &format!("http://127.0.0.1:{}", common::free_port()),
        ])
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_or_fail(secs(10), "daemon answers on the reclaimed socket", || {
        daemon_harness::run_client(&socket, &["status", "--format", "json"])
            .status
            .success()
    });
    let _ = child.kill();
    let _ = child.wait();

    let out = std::process::Command::new(daemon_harness::ocbar_bin())
        .env_remove("TMUX")
        .env("OCBAR_DISCOVERY", "0")
        .args(["daemon", "--socket"])
        .arg(dir.path().join("x.sock"))
        .args(["--server", "localhost:4096"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("http://HOST:PORT"), "{}", err(&out));

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[model]\nlinger_minutes = \"soon\"\n").unwrap();
    let out = std::process::Command::new(daemon_harness::ocbar_bin())
        .env_remove("TMUX")
        .env("OCBAR_DISCOVERY", "0")
        .args(["daemon", "--socket"])
        .arg(dir.path().join("y.sock"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("line 2"), "{}", err(&out));
}
