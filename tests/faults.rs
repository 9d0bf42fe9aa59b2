//! Faults of the OpenCode side, seen through a real `ocbar daemon` and its JSON/doctor output:
//!
//! - `server_killed_mid_turn_then_restarted`: a real OpenCode is `kill -9`ed while a session
//!   streams a slow turn, and restarted on the same port. The daemon must report the server
//!   disconnected within seconds and the session `unknown` (never `done`), reconnect by itself,
//!   resync, end the interrupted session as `error` once it has read the dangling last message,
//!   and track new work on the restarted server (busy → done).
//! - `hanging_servers_are_reported_not_connected`: two servers that hang (a real OpenCode will
//!   not on demand, so tiny local TCP servers play them): one accepts and never writes a byte,
//!   the other answers the stream's headers and `server.connected`, answers the resync, then
//!   goes silent. The daemon must show both as not connected within 30 s (production timings:
//!   10 s to open a stream, a 25 s watchdog), say why in `doctor`, and keep serving.

mod common;
mod daemon_harness;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Env, Options, secs, wait_or_fail};
use daemon_harness::Daemon;
use serde_json::Value;

fn server_view(j: &Value, url: &str) -> Value {
    j["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["url"] == url))
        .cloned()
        .unwrap_or(Value::Null)
}

fn state_of(j: &Value, title: &str) -> Option<String> {
    j["sessions"]
        .as_array()?
        .iter()
        .find(|s| s["title"] == title)
        .and_then(|s| s["state"].as_str())
        .map(str::to_owned)
}

fn doctor(d: &Daemon) -> String {
    String::from_utf8_lossy(&d.run(&["doctor"]).stdout).to_string()
}

/// Poll the daemon's JSON until `done(json)`; every snapshot seen is checked by `each`.
fn watch_until(
    d: &Daemon,
    timeout: Duration,
    what: &str,
    mut each: impl FnMut(&Value),
    mut done: impl FnMut(&Value) -> bool,
) -> Duration {
    let t0 = Instant::now();
    let mut last = Value::Null;
    while t0.elapsed() < timeout {
        last = d.json();
        each(&last);
        if done(&last) {
            return t0.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "timed out after {timeout:?} waiting for {what}; last snapshot: {last:#}\ndaemon log:\n{}",
        d.log_text()
    );
}

#[test]
fn server_killed_mid_turn_then_restarted() {
    let mut env = Env::start(Options::default());
    let url = env.oc.url.clone();
    let dir = env.oc.dir(0).to_path_buf();
    let d = Daemon::start(&[&url], &[]);
    wait_or_fail(secs(20), "daemon connected and resynced", || {
        let s = server_view(&d.json(), &url);
        s["connected"] == true && s["stale"] == false
    });

    const VICTIM: &str = "killed mid turn";
    let victim = env.oc.create_session(&dir, Some(VICTIM));
    env.oc
        .prompt(&dir, &victim, "think for a long time [slow 30]");
    d.wait_state(VICTIM, "busy", secs(45));
    // Let the model stream for a moment: the assistant message exists, not completed.
    std::thread::sleep(Duration::from_millis(1500));

    // The victim must never look finished cleanly, whatever happens from here on.
    let never_done = |j: &Value| {
        let st = state_of(j, VICTIM);
        assert_ne!(
            st.as_deref(),
            Some("done"),
            "the killed turn shows done: {j:#}"
        );
        assert_ne!(st.as_deref(), Some("aborted"), "{j:#}");
    };

    env.oc.kill();
    let took = watch_until(
        &d,
        secs(10),
        "the daemon to see the server gone",
        never_done,
        |j| server_view(j, &url)["connected"] == false,
    );
    eprintln!("faults: disconnect seen {took:?} after kill -9");
    assert!(took <= secs(5), "disconnect noticed only after {took:?}");
    let j = d.json();
    assert_eq!(server_view(&j, &url)["stale"], true, "{j:#}");
    assert_eq!(state_of(&j, VICTIM).as_deref(), Some("unknown"), "{j:#}");
    assert_eq!(j["counts"]["done"], 0, "{j:#}");
    // Bars show it as unknown, not finished.
    let plain =
        String::from_utf8_lossy(&d.run(&["status", "--format", "plain"]).stdout).to_string();
    assert!(
        !plain.contains(VICTIM),
        "a stale session shown as unvisited: {plain:?}"
    );
    // While the server is down, doctor says so.
    let doc = doctor(&d);
    assert!(doc.contains("NOT CONNECTED"), "{doc}");

    // Down for a few seconds: the daemon keeps retrying (backoff) and stays "unknown".
    let down = Instant::now();
    while down.elapsed() < secs(3) {
        never_done(&d.json());
        std::thread::sleep(Duration::from_millis(100));
    }
    env.oc.start_again();
    let back = Instant::now();
    watch_until(&d, secs(45), "reconnect and resync", never_done, |j| {
        let s = server_view(j, &url);
        s["connected"] == true && s["stale"] == false
    });
    eprintln!(
        "faults: reconnected and resynced {:?} after the restart",
        back.elapsed()
    );

    // The dangling turn is read back: an error, with a message saying why, and unvisited.
    let v = watch_until(
        &d,
        secs(30),
        "the interrupted session to end as error",
        never_done,
        |j| state_of(j, VICTIM).as_deref() == Some("error"),
    );
    let _ = v;
    let s = d.session(VICTIM).unwrap();
    assert_eq!(s["unvisited"], true, "{s:#}");
    assert!(
        s["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error without a message: {s:#}"
    );
    let doc = doctor(&d);
    assert!(doc.contains(&format!("server {url}: connected")), "{doc}");
    assert!(!doc.contains("connects 1,"), "no reconnect counted:\n{doc}");

    // New work on the restarted server is tracked from busy to done.
    const AFTER: &str = "after the restart";
    let sid = env.oc.create_session(&dir, Some(AFTER));
    env.oc.prompt(&dir, &sid, "again please [slow 3]");
    d.wait_state(AFTER, "busy", secs(45));
    d.wait_state(AFTER, "done", secs(45));
    let j = d.json();
    assert_eq!(state_of(&j, VICTIM).as_deref(), Some("error"), "{j:#}");
    assert_eq!(j["counts"]["done"], 1, "{j:#}");
    assert_eq!(j["counts"]["error"], 1, "{j:#}");
}

/// What the stalling fake answers: enough of OpenCode's API for a resync.
fn fake_reply(path: &str) -> (u16, &'static str) {
    let p = path.split('?').next().unwrap_or("");
    match p {
        "/global/health" => (200, r#"{"healthy":true,"version":"0.0.0-fake"}"#),
        "/experimental/session" | "/permission" | "/question" => (200, "[]"),
        "/session/status" => (200, "{}"),
        _ => (404, r#"{"name":"NotFound","data":{"message":"not here"}}"#),
    }
}

/// Read one HTTP request head; returns its path.
fn read_head(conn: &TcpStream) -> Option<String> {
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).ok()? == 0 || l == "\r\n" || l == "\n" {
            break;
        }
    }
    first.split_whitespace().nth(1).map(str::to_owned)
}

/// A server that accepts every connection and never writes a byte.
fn silent_server(held: Arc<Mutex<Vec<TcpStream>>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for c in l.incoming().map_while(Result::ok) {
            held.lock().unwrap().push(c); // kept open, never answered
        }
    });
    url
}

/// A server whose first event stream sends `server.connected` and then nothing, ever; later
/// streams never answer; the resync endpoints answer at once.
fn stalling_server(held: Arc<Mutex<Vec<TcpStream>>>, streams: Arc<AtomicUsize>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for c in l.incoming().map_while(Result::ok) {
            let held = held.clone();
            let streams = streams.clone();
            std::thread::spawn(move || {
                let Some(path) = read_head(&c) else { return };
                let mut c = c;
                if path.starts_with("/global/event") {
                    if streams.fetch_add(1, Ordering::SeqCst) == 0 {
                        let _ = c.write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n\
                              data: {\"payload\":{\"id\":\"evt_1\",\"type\":\"server.connected\",\"properties\":{}}}\n\n",
                        );
                        let _ = c.flush();
                    }
                    held.lock().unwrap().push(c); // open, silent
                    return;
                }
                let (code, body) = fake_reply(&path);
                let _ = write!(
                    c,
                    "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

#[test]
fn hanging_servers_are_reported_not_connected() {
    let held = Arc::new(Mutex::new(Vec::new()));
    let streams = Arc::new(AtomicUsize::new(0));
    let silent = silent_server(held.clone());
    let stalling = stalling_server(held.clone(), streams.clone());
    let d = Daemon::start(&[&silent, &stalling], &[]);

    // The stalling one connects (stream open, resynced)…
    watch_until(
        &d,
        secs(15),
        "the stalling server to connect",
        |_| {},
        |j| {
            let s = server_view(j, &stalling);
            s["connected"] == true && s["stale"] == false
        },
    );
    let since = Instant::now();
    // …and the silent one never does.
    assert_eq!(server_view(&d.json(), &silent)["connected"], false);

    // Nothing more comes: the watchdog gives the stream up within 30 s of the last frame.
    let took = watch_until(
        &d,
        secs(35),
        "the silent stream to be given up",
        |j| {
            assert_eq!(server_view(j, &silent)["connected"], false, "{j:#}");
        },
        |j| server_view(j, &stalling)["connected"] == false,
    );
    let took = took.max(since.elapsed());
    eprintln!("faults: silent stream given up after {took:?}");
    assert!(took <= secs(30), "a silent stream was trusted for {took:?}");
    assert!(
        took >= secs(20),
        "given up too early ({took:?}): heartbeats come every 10 s"
    );
    let j = d.json();
    assert_eq!(server_view(&j, &stalling)["stale"], true, "{j:#}");

    let doc = doctor(&d);
    eprintln!("{doc}");
    let section = |url: &str| -> String {
        doc.lines()
            .skip_while(|l| !l.starts_with(&format!("server {url}:")))
            .take_while(|l| l.starts_with(&format!("server {url}:")) || l.starts_with("  "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let stall_doc = section(&stalling);
    assert!(stall_doc.contains("NOT CONNECTED"), "{doc}");
    assert!(
        stall_doc.contains("no data from the server for 25s") || stall_doc.contains("timed out"),
        "{doc}"
    );
    let silent_doc = section(&silent);
    assert!(silent_doc.contains("NOT CONNECTED"), "{doc}");
    assert!(silent_doc.contains("last error: timed out"), "{doc}");
    // The daemon logged the reason, and still answers bars.
    assert!(
        d.log_text().contains("no data from the server"),
        "{}",
        d.log_text()
    );
    assert!(d.run(&["status", "--format", "waybar"]).status.success());
    assert_eq!(d.json()["servers"].as_array().map(Vec::len), Some(2));
}
