//! OpenCode 2, end to end: a real `ocbar daemon` follows the OpenCode 2 stand-in
//! (`tests/support/opencode2_standin.py`, written from OpenCode 2's published protocol; no
//! OpenCode 2 build can be installed here) and the real client reads what a bar would show.
//!
//! One stand-in and one daemon per test; the lifecycle scenarios run in sequence in one test.

mod common;
mod daemon_harness;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use daemon_harness::Daemon;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(40);

/// A daemon following `oc` with its password, whose notifications are appended to the returned
/// file (one `KIND SESSION` line each, sent at once).
fn daemon_for(oc: &OpenCode2, dir: &Path) -> (Daemon, PathBuf) {
    let notes = dir.join("notifications");
    let config = format!(
        "[notify]\ndesktop = false\ntmux = false\ntoast = false\naborted = true\nsummary_window_ms = 0\ncommand = 'echo \"$OCBAR_KIND $OCBAR_SESSION\" >> {}'\n",
        notes.display()
    );
    let d = Daemon::start_with(
        &[&oc.url],
        &[("OPENCODE_SERVER_PASSWORD", &oc.password)],
        Some(&config),
    );
    (d, notes)
}

fn notes(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn by_id(d: &Daemon, id: &str) -> Option<Value> {
    d.json()["sessions"]
        .as_array()?
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
}

/// `ocbar record FILE --server <oc> --seconds N`, with the stand-in's password in its
/// environment, started (the test waits for it).
fn start_record(oc: &OpenCode2, file: &Path, seconds: u32) -> std::process::Child {
    std::process::Command::new(daemon_harness::ocbar_bin())
        .arg("record")
        .arg(file)
        .args(["--server", &oc.url, "--seconds", &seconds.to_string()])
        .env("OPENCODE_SERVER_PASSWORD", &oc.password)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn ocbar record")
}

/// A TUI channel to `d`, as the plugin opens it (`server`: the server it is attached to; none:
/// bridged): the stream, its reader, and the daemon's `ok` line.
fn open_channel(
    d: &Daemon,
    server: Option<&str>,
) -> (
    std::os::unix::net::UnixStream,
    std::io::Lines<std::io::BufReader<std::os::unix::net::UnixStream>>,
    Value,
) {
    use std::io::{BufRead, Write};
    let mut chan = std::os::unix::net::UnixStream::connect(&d.socket).expect("connect");
    chan.set_read_timeout(Some(T)).expect("timeout");
    let hello = json!({"tui": "v2-tui", "pid": std::process::id(), "tmux_pane": null,
                       "tmux": null, "directory": "/p", "server": server});
    writeln!(chan, "tui {hello}").expect("write");
    let mut lines = std::io::BufReader::new(chan.try_clone().expect("clone")).lines();
    let mut next = || -> Value {
        let l = lines.next().expect("a line from the daemon").expect("read");
        serde_json::from_str(&l).expect("json line")
    };
    assert_eq!(next()["hello"], "ocbar");
    let ok = next();
    (chan, lines, ok)
}

#[test]
fn the_opencode_2_lifecycle_as_a_bar_shows_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("proj");
    let oc = OpenCode2::start("s3cret-pw", &["--heartbeat", "2"]);

    // A turn running when the daemon starts is found through /api/session/active.
    oc.create("ses_early", "early bird", &project, None);
    oc.op(json!({"op": "start", "id": "ses_early"}));
    let (d, notes_file) = daemon_for(&oc, tmp.path());
    let history = d.history();
    let early = d.wait_state("early bird", "busy", T);
    assert_eq!(early["directory"], project.to_string_lossy().as_ref());

    // doctor's version line names the kind and the version.
    let doctor = String::from_utf8_lossy(&d.run(&["doctor"]).stdout).to_string();
    assert!(
        doctor
            .contains("opencode 2.0.20 (supported), followed over the OpenCode 2 API (/api/event)"),
        "{doctor}"
    );
    assert!(!doctor.contains("text/html"), "{doctor}");
    assert!(
        !doctor.contains("s3cret-pw"),
        "doctor shows the password: {doctor}"
    );

    // Done, unvisited, notified once.
    oc.op(json!({"op": "succeed", "id": "ses_early"}));
    let done = d.wait_state("early bird", "done", T);
    assert_eq!(done["unvisited"], true);

    // Retry with its attempt and next time.
    oc.create("ses_retry", "retrying", &project, None);
    oc.op(json!({"op": "start", "id": "ses_retry"}));
    let at = now_ms() + 60_000;
    oc.op(json!({"op": "retry", "id": "ses_retry", "attempt": 2, "at": at, "message": "Too many requests"}));
    let r = d.wait_state("retrying", "retry", T);
    assert_eq!(r["attempt"], 2);
    assert_eq!(r["retry_next_ms"], at);
    assert_eq!(r["message"], "Too many requests");

    // Waiting on a permission, then on a form.
    oc.op(json!({"op": "permission", "id": "ses_retry", "request": "per_1"}));
    d.wait_state("retrying", "waiting", T);
    oc.op(json!({"op": "permission_reply", "id": "ses_retry", "request": "per_1"}));
    d.wait_state("retrying", "retry", T);
    oc.op(json!({"op": "start", "id": "ses_retry"}));
    oc.op(json!({"op": "form", "id": "ses_retry", "request": "frm_1"}));
    d.wait_state("retrying", "waiting", T);
    oc.op(json!({"op": "form_reply", "id": "ses_retry", "request": "frm_1"}));
    d.wait_state("retrying", "busy", T);

    // Renamed while running; an error with its message.
    oc.op(json!({"op": "rename", "id": "ses_retry", "title": "renamed #[fg=red]"}));
    d.wait_state("renamed #[fg=red]", "busy", T);
    oc.op(json!({"op": "fail", "id": "ses_retry", "message": "quota exceeded"}));
    let e = d.wait_state("renamed #[fg=red]", "error", T);
    assert_eq!(e["message"], "quota exceeded");

    // Aborted by the user.
    oc.create("ses_abort", "stopped", &project, None);
    oc.op(json!({"op": "start", "id": "ses_abort"}));
    d.wait_state("stopped", "busy", T);
    oc.op(json!({"op": "interrupt", "id": "ses_abort", "reason": "user"}));
    d.wait_state("stopped", "aborted", T);

    // A sub-agent is folded into its parent.
    oc.create("ses_parent", "parent", &project, None);
    oc.op(json!({"op": "start", "id": "ses_parent"}));
    oc.create("ses_child", "child", &project, Some("ses_parent"));
    oc.op(json!({"op": "start", "id": "ses_child"}));
    wait_or_fail(T, "the parent counts one running child", || {
        by_id(&d, "ses_parent").is_some_and(|p| p["children_active"] == 1)
    });
    let child = by_id(&d, "ses_child").expect("child listed");
    assert_eq!(child["parent_id"], "ses_parent");
    oc.op(json!({"op": "succeed", "id": "ses_child"}));
    oc.op(json!({"op": "succeed", "id": "ses_parent"}));
    d.wait_state("parent", "done", T);

    // A turn interrupted by a shutdown is resumed by the server: never done or aborted
    // before it really finishes.
    oc.create("ses_resume", "resumed", &project, None);
    oc.op(json!({"op": "start", "id": "ses_resume"}));
    d.wait_state("resumed", "busy", T);
    let before = oc.event_connections();
    oc.op(json!({"op": "interrupt", "id": "ses_resume", "reason": "shutdown"}));
    wait_or_fail(T, "the daemon reconnects after the shutdown", || {
        oc.event_connections() > before
    });
    d.wait_state("resumed", "busy", T);
    oc.op(json!({"op": "succeed", "id": "ses_resume"}));
    d.wait_state("resumed", "done", T);
    history.wait_seen("resumed", "done", T);
    assert!(
        history
            .find(|s| s["title"] == "resumed" && (s["state"] == "aborted" || s["state"] == "error"))
            .is_none(),
        "a shutdown-interrupted turn was shown finished"
    );
    let done_seen: Vec<Value> = history
        .snapshots
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    let first_done = done_seen.iter().position(|snap| {
        snap["sessions"].as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["title"] == "resumed" && s["state"] == "done")
        })
    });
    let last_busy = done_seen.iter().rposition(|snap| {
        snap["sessions"].as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["title"] == "resumed" && s["state"] == "busy")
        })
    });
    assert!(
        first_done > last_busy,
        "'resumed' was done before it last ran"
    );

    // An overflow ends the stream: a reconnect and a resync, no false finished state and no
    // notification from the resync itself.
    oc.create("ses_long", "long turn", &project, None);
    oc.op(json!({"op": "start", "id": "ses_long"}));
    d.wait_state("long turn", "busy", T);
    let notified_before = notes(&notes_file);
    let before = oc.event_connections();
    oc.op(json!({"op": "overflow"}));
    wait_or_fail(T, "the daemon reconnects after the overflow", || {
        oc.event_connections() > before
    });
    // The resync after the reconnect (it reads /api/session/active) is what brings it back.
    wait_or_fail(T, "a resync after the overflow", || {
        oc.stats()["requests"]["/api/session/active"]
            .as_u64()
            .unwrap_or(0)
            >= 3
    });
    d.wait_state("long turn", "busy", T);
    assert!(
        history
            .find(|s| s["title"] == "long turn" && s["state"] != "busy" && s["state"] != "unknown")
            .is_none(),
        "the overflow made 'long turn' look finished"
    );
    assert_eq!(
        notes(&notes_file),
        notified_before,
        "the reconnect after the overflow notified"
    );

    // While the stream is down, a turn ends and a permission is asked (events lost): the
    // resync reads the turn's outcome and the pending permission.
    oc.create("ses_gap", "ended away", &project, None);
    oc.op(json!({"op": "start", "id": "ses_gap"}));
    d.wait_state("ended away", "busy", T);
    oc.op(json!({"op": "refuse", "seconds": 2}));
    let before = oc.event_connections();
    oc.op(json!({"op": "overflow"}));
    oc.op(json!({"op": "succeed", "id": "ses_gap", "quiet": true}));
    oc.op(json!({"op": "permission", "id": "ses_long", "request": "per_gap", "quiet": true}));
    wait_or_fail(T, "the daemon reconnects after the gap", || {
        oc.event_connections() > before
    });
    d.wait_state("ended away", "done", T);
    d.wait_state("long turn", "waiting", T);

    // Every finished session above notified exactly once.
    wait_or_fail(T, "the notifications were written", || {
        notes(&notes_file).lines().count() >= 5
    });
    let all = notes(&notes_file);
    for line in [
        "done ses_early",
        "error ses_retry",
        "aborted ses_abort",
        "done ses_parent",
        "done ses_resume",
        "done ses_gap",
    ] {
        assert_eq!(
            all.lines().filter(|l| *l == line).count(),
            1,
            "'{line}' not notified exactly once:\n{all}"
        );
    }
    assert!(
        !all.lines().any(|l| l.starts_with("done ses_long")),
        "a running session was notified done:\n{all}"
    );
    assert!(
        !d.log_text().contains("s3cret-pw"),
        "the daemon logged the password"
    );
}

/// The real daemon defaults against the stand-in's real 15 s heartbeat comments: 45 s of
/// quiet never reopens the stream.
#[test]
fn forty_five_seconds_of_quiet_with_comment_heartbeats_do_not_reconnect() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let oc = OpenCode2::start("pw-quiet", &[]);
    oc.create("ses_q", "quiet turn", &tmp.path().join("p"), None);
    oc.op(json!({"op": "start", "id": "ses_q"}));
    let (d, _) = daemon_for(&oc, tmp.path());
    d.wait_state("quiet turn", "busy", T);
    assert_eq!(oc.event_connections(), 1);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(47) {
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(
            oc.event_connections(),
            1,
            "the stream was reopened after {:?} of quiet; daemon log:\n{}",
            start.elapsed(),
            d.log_text()
        );
    }
    let s = d.session("quiet turn").expect("still listed");
    assert_eq!(s["state"], "busy");
    assert!(
        !d.log_text().contains("lost the event stream"),
        "{}",
        d.log_text()
    );
}

/// OpenCode 2's background service is found through the file it records itself in, with its
/// password, and no configuration: no `--server`, no password in ocbar's environment.
#[test]
fn the_background_service_is_found_through_service_json_with_its_password() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    let file = state.join("opencode/service.json");
    let oc = OpenCode2::start(
        "from-the-service-file",
        &["--service-file", &file.to_string_lossy()],
    );
    oc.create("ses_svc", "service turn", &tmp.path().join("p"), None);
    oc.op(json!({"op": "start", "id": "ses_svc"}));
    let d = Daemon::start_with(
        &[],
        &[
            ("OCBAR_DISCOVERY", "1"),
            ("XDG_STATE_HOME", &state.to_string_lossy()),
        ],
        Some("[discovery]\ninterval_seconds = 1\nprobe = []\n"),
    );
    let s = d.wait_state("service turn", "busy", T);
    assert_eq!(s["server"], oc.url.as_str());
    let doctor = String::from_utf8_lossy(&d.run(&["doctor"]).stdout).to_string();
    assert!(
        doctor.contains("discovered: OpenCode 2 service, service.json pid"),
        "{doctor}"
    );
    assert!(
        doctor.contains("followed over the OpenCode 2 API"),
        "{doctor}"
    );
    assert!(
        !doctor.contains("from-the-service-file"),
        "doctor shows the password"
    );
    assert!(
        !d.log_text().contains("from-the-service-file"),
        "the daemon logged the password"
    );
    assert_eq!(oc.stats()["auth_failures"], 0, "{}", oc.stats());
    oc.op(json!({"op": "succeed", "id": "ses_svc"}));
    d.wait_state("service turn", "done", T);
}

/// OpenCode 2 has no `/tui/*`: toasts for its sessions and `ocbar open` go down the TUI
/// channel of a TUI attached to it (the channel the OpenCode 2 plugin speaks, unchanged).
#[test]
fn toasts_and_open_reach_an_opencode_2_tui_through_its_channel() {
    use std::io::Write;

    let tmp = tempfile::tempdir().expect("tempdir");
    let oc = OpenCode2::start("pw-toast", &[]);
    let config = "[notify]\ndesktop = false\ntmux = false\nsummary_window_ms = 0\n";
    let d = Daemon::start_with(
        &[&oc.url],
        &[("OPENCODE_SERVER_PASSWORD", &oc.password)],
        Some(config),
    );
    let (mut chan, mut lines, ok) = open_channel(&d, Some(&oc.url));
    assert_eq!(ok["ok"], "focus");
    let mut next = || -> Value {
        let l = lines.next().expect("a line from the daemon").expect("read");
        serde_json::from_str(&l).expect("json line")
    };
    writeln!(chan, "focus {}", json!({"session": null, "focused": false})).unwrap();

    oc.create("ses_t", "toasted", &tmp.path().join("p"), None);
    oc.op(json!({"op": "start", "id": "ses_t"}));
    d.wait_state("toasted", "busy", T);
    oc.op(json!({"op": "succeed", "id": "ses_t"}));
    let toast = loop {
        let v = next();
        if v.get("toast").is_some() {
            break v;
        }
    };
    assert!(
        toast["toast"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("toasted")),
        "{toast}"
    );
    assert_eq!(toast["toast"]["variant"], "success");

    let open = std::thread::spawn({
        let socket = d.socket.clone();
        move || daemon_harness::run_client(&socket, &["open", "toasted"])
    });
    let asked = loop {
        let v = next();
        if v.get("open").is_some() {
            break v;
        }
    };
    assert_eq!(asked["open"], "ses_t");
    writeln!(
        chan,
        "focus {}",
        json!({"session": "ses_t", "focused": true})
    )
    .unwrap();
    let _ = open.join();
    let log = d.log_text();
    assert!(!log.contains("/tui/show-toast"), "{log}");
    assert_eq!(
        oc.stats()["requests"].get("/tui/show-toast"),
        None,
        "a toast was POSTed to an OpenCode 2 server"
    );
}

/// `ocbar record`, what the README asks a user to attach to a report, records an OpenCode 2
/// server's `/api/event`.
#[test]
fn ocbar_record_records_the_opencode_2_stream() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let oc = OpenCode2::start("pw-record", &["--heartbeat", "1"]);
    let file = tmp.path().join("opencode2.sse");
    let child = start_record(&oc, &file, 4);
    wait_or_fail(T, "ocbar record opened the stream", || {
        oc.event_connections() == 1
    });
    oc.create("ses_rec", "recorded", &tmp.path().join("p"), None);
    oc.op(json!({"op": "start", "id": "ses_rec"}));
    let out = child.wait_with_output().expect("ocbar record");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("pw-record"), "{stderr}");
    let recorded = std::fs::read_to_string(&file).expect("recorded file");
    assert!(recorded.contains("server.connected"), "{recorded}");
    assert!(recorded.contains("session.execution.started"), "{recorded}");
    assert_eq!(oc.stats()["requests"].get("/global/event"), None);
}

/// Kind detection: `/api/info` (OpenCode 2), else `/api/health` with a version (earlier 2.x
/// builds, which have no `/api/info`: their web app answers it with HTML).
#[test]
fn an_earlier_opencode_2_without_api_info_is_still_opencode_2() {
    use ocbar::daemon::source::{Api, Credentials, Protocol, http_client};
    let newer = OpenCode2::start("pw-kind", &["--version", "2.1.3"]);
    let earlier = OpenCode2::start("pw-kind", &["--no-info", "--version", "2.0.0-beta.4"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (oc, version) in [(&newer, "2.1.3"), (&earlier, "2.0.0-beta.4")] {
        let timeout = Duration::from_secs(10);
        let api = Api::new(
            oc.url.as_str().into(),
            http_client(timeout).expect("client"),
            Some(Credentials {
                username: "opencode".into(),
                password: oc.password.clone(),
            }),
            timeout,
        )
        .expect("api");
        let id = rt.block_on(api.identify()).expect("identify");
        assert_eq!(id.protocol, Protocol::V2, "{version}");
        assert_eq!(id.version.as_deref(), Some(version));
    }
    assert_eq!(earlier.stats()["requests"]["/api/info"], 1);
    assert_eq!(earlier.stats()["requests"]["/api/health"], 1);
}

/// A `--standalone` OpenCode 2 TUI runs a private server nobody reaches: its plugin forwards
/// its events as OpenCode 2 sends them (`{directory, payload: <event>}`), which the daemon
/// decodes as OpenCode 2's (the frames are the stand-in's own, as its `/api/event` wrote them).
#[test]
fn a_bridged_opencode_2_tui_is_followed_through_its_forwarded_events() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    let tmp = tempfile::tempdir().expect("tempdir");
    // The frames a real OpenCode 2 server publishes, taken from the stand-in's stream.
    let oc = OpenCode2::start("pw-bridge", &["--heartbeat", "1"]);
    let file = tmp.path().join("frames.sse");
    let rec = start_record(&oc, &file, 3);
    wait_or_fail(T, "recording", || oc.event_connections() == 1);
    oc.create("ses_br", "bridged v2", &tmp.path().join("p"), None);
    oc.op(json!({"op": "start", "id": "ses_br"}));
    oc.op(json!({"op": "succeed", "id": "ses_br"}));
    rec.wait_with_output().expect("record");
    let frames: Vec<Value> = std::fs::read_to_string(&file)
        .expect("frames")
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .filter(|v: &Value| v["type"] != "server.connected")
        .collect();
    assert_eq!(frames.len(), 3, "{frames:?}");

    let d = Daemon::start(&[], &[]);
    let (mut chan, _lines, ok) = open_channel(&d, None);
    assert!(
        ok["ok"]
            .as_str()
            .is_some_and(|o| o.starts_with("bridge tui://")),
        "{ok}"
    );
    let send = |chan: &mut UnixStream, frame: &Value| {
        writeln!(
            chan,
            "event {}",
            json!({"directory": "/p", "payload": frame})
        )
        .unwrap();
    };
    send(&mut chan, &frames[0]);
    send(&mut chan, &frames[1]);
    d.wait_state("bridged v2", "busy", T);
    send(&mut chan, &frames[2]);
    let s = d.wait_state("bridged v2", "done", T);
    assert_eq!(s["unvisited"], true);
}
