//! The TUI channel of a real `ocbar daemon`, spoken directly on its socket (what the OpenCode
//! plugin does): a bridged plain TUI's events become sessions under `tui://<pid>`, its toasts
//! and `ocbar open` come back down the channel, the session shown on screen is visited, garbage is
//! answered with error lines, an oversized line closes the channel, and closing it removes the
//! pseudo server. No OpenCode needed: the events are what a plugin forwards.

mod common;
mod daemon_harness;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::wait_or_fail;
use daemon_harness::Daemon;
use serde_json::{Value, json};

struct Tui {
    write: UnixStream,
    read: BufReader<UnixStream>,
}

impl Tui {
    fn open(d: &Daemon, hello: Value) -> (Tui, Value) {
        let s = UnixStream::connect(&d.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut t = Tui {
            write: s.try_clone().unwrap(),
            read: BufReader::new(s),
        };
        t.send(&format!("tui {hello}"));
        let greeting = t.line();
        assert_eq!(greeting["hello"], "ocbar", "{greeting}");
        let reply = t.line();
        (t, reply)
    }

    fn send(&mut self, line: &str) {
        self.write.write_all(line.as_bytes()).unwrap();
        self.write.write_all(b"\n").unwrap();
    }

    fn line(&mut self) -> Value {
        let mut l = String::new();
        self.read.read_line(&mut l).expect("a line from the daemon");
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l:?}"))
    }

    fn event(&mut self, ty: &str, props: Value) {
        let env = json!({"directory": "/p", "payload": {"type": ty, "properties": props}});
        self.send(&format!("event {env}"));
    }
}

fn session<'a>(snap: &'a Value, title: &str) -> Option<&'a Value> {
    snap["sessions"]
        .as_array()?
        .iter()
        .find(|s| s["title"] == title)
}

fn info(id: &str, title: &str) -> Value {
    json!({"sessionID": id, "info": {"id": id, "title": title, "directory": "/p", "projectID": "global",
        "slug": "s", "version": "1.18.33", "time": {"created": 1, "updated": 2}}})
}

#[test]
fn a_plugin_speaking_the_tui_channel() {
    // No window manager to ask, whatever session runs the tests.
    let no_wm = [
        ("SWAYSOCK", ""),
        ("I3SOCK", ""),
        ("HYPRLAND_INSTANCE_SIGNATURE", ""),
        ("DISPLAY", ""),
    ];
    let d = Daemon::start_with(
        &["http://127.0.0.1:9"],
        &no_wm,
        Some("[notify]\ndesktop = false\ntmux = false\nsummary_window_ms = 0\n"),
    );

    // A plain TUI: bridged under tui://<pid>.
    let (mut tui, reply) = Tui::open(
        &d,
        json!({"tui": "4242", "pid": 4242, "tmux_pane": "%7", "directory": "/p", "server": null}),
    );
    assert_eq!(reply, json!({"ok": "bridge tui://4242"}));
    tui.event("session.updated", info("ses_b1", "bridged one"));
    tui.event(
        "session.status",
        json!({"sessionID": "ses_b1", "status": {"type": "busy"}}),
    );
    // A bare bus event (no envelope) is accepted too.
    tui.send(r#"event {"type":"session.updated","properties":{"sessionID":"ses_b2","info":{"id":"ses_b2","title":"bridged two","directory":"/p","time":{"updated":3}}}}"#);
    let snap_has = |title: &str, state: &str| {
        let j = d.json();
        session(&j, title).is_some_and(|s| s["state"] == state && s["server"] == "tui://4242")
    };
    wait_or_fail(Duration::from_secs(10), "the bridged session busy", || {
        snap_has("bridged one", "busy")
    });
    let j = d.json();
    assert!(
        j["servers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["url"] == "tui://4242" && s["connected"] == true && s["stale"] == false),
        "{j:#}"
    );

    // Garbage: one error line each, the channel stays open.
    for bad in [
        "\u{1b}[31mnonsense",
        "event {",
        "event [1,2]",
        "event {\"payload\":{\"type\":\"session.status\",\"properties\":{\"sessionID\":7}}}",
        "focus {\"focused\":\"yes\"}",
        "focus",
    ] {
        tui.send(bad);
        let r = tui.line();
        assert!(r["error"].is_string(), "{bad:?} → {r}");
    }
    tui.write.write_all(b"\xff\xfe\n").unwrap();
    assert!(tui.line()["error"].is_string());

    // The session finishes in the background: the toast comes down the channel.
    tui.event(
        "session.status",
        json!({"sessionID": "ses_b1", "status": {"type": "idle"}}),
    );
    let toast = tui.line();
    assert_eq!(toast["toast"]["variant"], "success", "{toast}");
    assert!(
        toast["toast"]["message"]
            .as_str()
            .unwrap()
            .contains("bridged one finished"),
        "{toast}"
    );
    assert!(snap_has("bridged one", "done"));
    assert_eq!(
        session(&d.json(), "bridged one").unwrap()["unvisited"],
        true
    );

    // `ocbar open` on a bridged session asks the plugin to show it.
    let out = d.run(&["open", "bridged one"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tui.line(), json!({"open": "ses_b1"}));
    assert_eq!(
        session(&d.json(), "bridged one").unwrap()["unvisited"],
        false
    );

    // The session shown in a TUI on screen is visited and not notified (this TUI is in no tmux
    // the daemon can ask, and no window manager runs: counted as on screen).
    tui.event(
        "session.status",
        json!({"sessionID": "ses_b1", "status": {"type": "busy"}}),
    );
    tui.send(r#"focus {"session":"ses_b1","focused":true}"#);
    tui.event(
        "session.status",
        json!({"sessionID": "ses_b1", "status": {"type": "idle"}}),
    );
    wait_or_fail(Duration::from_secs(5), "done again", || {
        snap_has("bridged one", "done")
    });
    assert_eq!(
        session(&d.json(), "bridged one").unwrap()["unvisited"],
        false
    );
    let doctor = String::from_utf8_lossy(&d.run(&["doctor"]).stdout).into_owned();
    assert!(
        doctor.contains("tui 4242 (tmux pane %7): plain TUI, bridged as tui://4242")
            && doctor.contains(
                "shows ses_b1 (on screen: not in tmux, and no window manager says which window has focus: counted as on screen)"
            )
            && doctor.contains("on screen: window manager: none in the daemon's environment"),
        "{doctor}"
    );

    // An attached TUI carries what it shows only; its server is followed over HTTP.
    let (mut att, reply) = Tui::open(
        &d,
        json!({"tui": "77", "pid": 77, "server": "http://127.0.0.1:9/"}),
    );
    assert_eq!(reply, json!({"ok": "focus"}));
    att.event(
        "session.status",
        json!({"sessionID": "ses_x", "status": {"type": "busy"}}),
    );
    // What a real plugin sends: the TUI never hears a blur, so `focused` is always true.
    att.send(r#"focus {"session":null,"focused":true}"#);
    wait_or_fail(Duration::from_secs(5), "the attached TUI in doctor", || {
        String::from_utf8_lossy(&d.run(&["doctor"]).stdout).contains(
            "tui 77: attached to http://127.0.0.1:9; shows no session (on screen: not in tmux",
        )
    });
    assert!(
        d.json()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != "ses_x"),
        "attached TUIs are not bridged"
    );
    drop(att);

    // A line over 1 MiB closes the channel; the pseudo server and its sessions go with it.
    let huge = format!("event {{\"x\":\"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let _ = tui.write.write_all(huge.as_bytes());
    let r = tui.line();
    assert!(
        r["error"].as_str().is_some_and(|e| e.contains("longer")),
        "{r}"
    );
    wait_or_fail(Duration::from_secs(10), "the pseudo server removed", || {
        let j = d.json();
        !j["servers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["url"] == "tui://4242")
            && session(&j, "bridged two").is_none()
    });
    // The daemon is fine.
    let (_again, reply) = Tui::open(&d, json!({"tui": "4242", "pid": 4242}));
    assert_eq!(reply, json!({"ok": "bridge tui://4242"}));
    // A bad hello is refused with a reason.
    let s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    (&s).write_all(b"tui {\"tui\":\"no spaces allowed\"}\n")
        .unwrap();
    let mut r = BufReader::new(&s);
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    l.clear();
    r.read_line(&mut l).unwrap();
    assert!(l.contains("error") && l.contains("tui"), "{l}");
}
