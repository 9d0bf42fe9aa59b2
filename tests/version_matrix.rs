//! The same user-visible scenario against every tested OpenCode release: the oldest supported,
//! one in the middle and the pinned newest (`ocbar::daemon::source::version::TESTED`), each a real
//! server driven by the fake LLM and followed by a real `ocbar daemon`.
//!
//! Each version is its own `#[test]` (so nextest runs them in parallel processes) with one
//! server shared by all of its scenarios: a turn already running when the daemon starts, busy,
//! retry with its attempt, done, error, waiting on a permission, then a quiet 45 s in which the
//! server stays connected (no reconnect, not even with the 30 s heartbeats of OpenCode before
//! 1.2) and no state changes.

mod common;
mod daemon_harness;

use std::time::{Duration, Instant};

use common::{Env, Options, secs};
use daemon_harness::Daemon;
use serde_json::Value;

const T: Duration = Duration::from_secs(60);
/// The quiet period: longer than one 30 s heartbeat interval plus the old 25 s watchdog.
const QUIET: Duration = Duration::from_secs(45);

fn doctor(d: &Daemon) -> String {
    String::from_utf8_lossy(&d.run(&["doctor"]).stdout).to_string()
}

/// `reconnects N` of the server's doctor lines.
fn reconnects(doctor: &str) -> u64 {
    doctor
        .split("reconnects ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no reconnect count in doctor:\n{doctor}"))
}

/// The state of every session, by title.
fn states(snap: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = snap["sessions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["title"].as_str().unwrap_or("").to_string(),
                        s["state"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `version`: `None` runs the pinned newest (`.tools/bin/opencode`); `label` is the version the
/// server must report.
fn scenario(version: Option<&str>, label: &str) {
    let mut opts = Options::default().bash_ask();
    opts.version = version.map(str::to_string);
    let env = Env::start(opts);
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let is_1_0 = label.starts_with("1.0.");
    let log = is_1_0.then(|| common::EventLog::connect(oc));

    // A turn already running when the daemon starts.
    let early = oc.create_session(&dir, Some("already running"));
    oc.prompt(&dir, &early, "started before ocbar [slow 20]");
    assert!(
        oc.wait_status(&dir, &early, "busy", T),
        "{label}: the early turn never became busy"
    );

    let d = Daemon::start(&[&oc.url], &[]);
    common::wait_or_fail(secs(30), "daemon connected and resynced", || {
        let j = d.json();
        j["servers"][0]["connected"] == true && j["servers"][0]["stale"] == false
    });
    let s = d.wait_state("already running", "busy", secs(20));
    assert_eq!(s["unvisited"], false, "{label}: {s}");

    // doctor names the version and whether it is supported, and the kind probe found an
    // OpenCode 1 server (1.18.33 answers some of OpenCode 2's /api/* routes too).
    let doc = doctor(&d);
    assert!(
        doc.contains("followed over the OpenCode 1 API (/global/event)"),
        "{label}:\n{doc}"
    );
    if is_1_0 {
        assert!(
            doc.contains("opencode version not reported"),
            "{label}:\n{doc}"
        );
    } else {
        assert!(
            doc.contains(&format!("opencode {label} (supported)")),
            "{label}:\n{doc}"
        );
    }

    let h = d.history();
    let done = oc.create_session(&dir, Some("done one"));
    let retry = oc.create_session(&dir, Some("retry one"));
    let failed = oc.create_session(&dir, Some("failing one"));
    let perm = oc.create_session(&dir, Some("permission one"));
    oc.prompt(&dir, &done, "quick answer [slow 2]");
    oc.prompt(&dir, &retry, "rate limited [retry 2]");
    oc.prompt(&dir, &failed, "break [fail]");
    oc.prompt(&dir, &perm, "run it [bash]");

    // busy, then done
    h.wait_seen("done one", "busy", T);
    let s = d.wait_state("done one", "done", T);
    assert_eq!(s["unvisited"], true, "{label}: {s}");

    // retry with its attempt, then done
    let s = h.wait_seen("retry one", "retry", T);
    assert!(s["attempt"].as_u64().unwrap_or(0) >= 1, "{label}: {s}");
    assert!(
        s["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{label}: {s}"
    );
    d.wait_state("retry one", "done", T);

    // error with the provider's message
    let s = d.wait_state("failing one", "error", T);
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.contains("fake fatal")),
        "{label}: {s}"
    );

    // waiting on a permission, then done once it is granted
    d.wait_state("permission one", "waiting", T);
    let req = h
        .find(|s| s["title"] == "permission one" && s["state"] == "waiting")
        .expect("seen waiting");
    assert_eq!(req["id"], perm.as_str());
    reply_permission(oc, &dir, &perm, log.as_ref());
    d.wait_state("permission one", "done", T);

    // the turn that was running at start ends as done, not as an error
    d.wait_state("already running", "done", T);

    // Quiet: connected the whole time, nothing changes, no reconnect.
    let before = d.json();
    let reconnects_before = reconnects(&doctor(&d));
    let seen_before = h.snapshots.lock().map(|s| s.len()).unwrap_or(0);
    let start = Instant::now();
    while start.elapsed() < QUIET {
        let j = d.json();
        assert!(
            j["servers"][0]["connected"] == true && j["servers"][0]["stale"] == false,
            "{label}: dropped after {:?} of quiet: {j:#}\n{}",
            start.elapsed(),
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let after = d.json();
    assert_eq!(states(&before), states(&after), "{label}");
    let doc = doctor(&d);
    assert_eq!(reconnects(&doc), reconnects_before, "{label}:\n{doc}");
    let pushed: Vec<Value> = h
        .snapshots
        .lock()
        .map(|s| s[seen_before..].to_vec())
        .unwrap_or_default();
    for snap in &pushed {
        assert_eq!(states(snap), states(&before), "{label}: a state changed");
        assert_eq!(snap["servers"][0]["connected"], true, "{label}: {snap}");
    }
    // Every frame of these releases is understood.
    assert!(!doc.contains("events of unknown types"), "{label}:\n{doc}");
}

fn reply_permission(
    oc: &common::OpenCode,
    dir: &std::path::Path,
    sid: &str,
    log: Option<&common::EventLog>,
) {
    match log {
        // 1.0.x cannot list pending permissions (no `GET /permission`): take the id from the
        // recorded stream, and answer on its own route.
        Some(log) => {
            let ev = log
                .wait_for(T, |e| {
                    e["payload"]["type"] == "permission.updated"
                        && e["payload"]["properties"]["sessionID"] == sid
                })
                .expect("permission.updated on the stream");
            let id = ev["payload"]["properties"]["id"]
                .as_str()
                .expect("permission id");
            oc.reply_permission_1_0(dir, sid, id, "once");
        }
        None => {
            let pending = oc.pending_permissions(dir);
            let req = pending
                .iter()
                .find(|p| p["sessionID"] == sid)
                .expect("pending permission");
            oc.reply_permission(dir, req["id"].as_str().unwrap(), "once");
        }
    }
}

#[test]
fn opencode_1_0_185_oldest_supported() {
    assert_eq!(ocbar::daemon::source::version::OLDEST_SUPPORTED, "1.0.185");
    scenario(Some("1.0.185"), "1.0.185");
}

#[test]
fn opencode_1_14_41() {
    scenario(Some("1.14.41"), "1.14.41");
}

#[test]
fn opencode_1_18_33_pinned_newest() {
    let newest =
        ocbar::daemon::source::version::TESTED[ocbar::daemon::source::version::TESTED.len() - 1];
    assert_eq!(newest, "1.18.33");
    scenario(None, newest);
}
