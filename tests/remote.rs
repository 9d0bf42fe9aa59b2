//! Sessions on another machine over ssh, end to end with real programs: a real OpenSSH server
//! on loopback (`common::sshd`) is the way into a "dev box", where a real OpenCode 1.18.33
//! driven by the fake LLM runs with its own `ocbar daemon` and socket. The "laptop" is a second
//! `ocbar daemon` that follows it with `--remote devbox` (`OCBAR_REMOTE`, an ssh client config
//! via `[remote] ssh_command`), as a user's would. Everything is asserted through the real
//! client (`status --format json|tmux|waybar|starship`, `seen`, `open`, `doctor`), the
//! laptop's notification command and a real tmux.
//!
//! One #[test] runs the phases in sequence, so they share one OpenCode server and one sshd.

mod bars_common;
mod common;
mod daemon_harness;

use std::path::Path;
use std::time::Duration;

use common::sshd::Sshd;
use common::{Env, Options, secs, wait_or_fail};
use daemon_harness::{Daemon, ocbar_bin};
use serde_json::Value;

const T: Duration = Duration::from_secs(60);

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Every session titled `title` in the laptop's JSON.
fn all_titled(d: &Daemon, title: &str) -> Vec<Value> {
    d.json()["sessions"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["title"] == title).cloned().collect())
        .unwrap_or_default()
}

/// Wait until the one session titled `title` satisfies `pred`; fails with the snapshot.
fn wait_session(d: &Daemon, what: &str, title: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Vec::new();
    let ok = common::wait_until(T, || {
        last = all_titled(d, title);
        last.len() == 1 && pred(&last[0])
    });
    assert!(
        ok,
        "{what}: '{title}' never did; last: {last:#?}\nlaptop log:\n{}",
        d.log_text()
    );
    last.remove(0)
}

fn doctor(d: &Daemon) -> String {
    stdout(&d.run(&["doctor"]))
}

fn laptop_config(sshd: &Sshd, ocbar_command: &str, notified: &Path) -> String {
    format!(
        "[remote]\nssh_command = [\"ssh\", \"-F\", \"{cfg}\"]\nocbar_command = \"{ocbar_command}\"\n\
         [notify]\ntoast = false\ndesktop = false\ntmux = false\nsound = false\n\
         command = \"env | grep ^OCBAR_ | sort >> '{out}'; echo --- >> '{out}'\"\n",
        cfg = sshd.client_config.display(),
        out = notified.display()
    )
}

#[test]
fn a_dev_box_over_ssh() {
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let work = tempfile::tempdir().expect("tempdir");
    // The dev box: its own daemon, following its OpenCode, and a real OpenCode TUI with the
    // plugin in a tmux there (started now: it takes a while).
    let devbox = Daemon::start(&[&oc.url], &[]);
    let home = work.path().join("home");
    common::install_plugin(&home);
    let tui = common::tmux::Tmux::start(&common::tui_env(&home, &devbox.socket));
    let opencode = common::opencode_bin(None);
    tui.spawn(
        "tui",
        &dir,
        &[opencode.to_str().unwrap(), "attach", &oc.url],
    );
    let mut sshd = Sshd::start(&devbox.socket);
    let notified = work.path().join("notified");
    // The laptop's tmux, where the user keeps an interactive `ssh devbox` (in window 1).
    let here = common::tmux::Tmux::start(&[]);
    here.spawn("laptop", &dir, &["sh"]);
    let here_sock = here.ok(&["display-message", "-p", "-t", "laptop", "#{socket_path}"]);
    let cfg = sshd.client_config.display().to_string();
    here.ok(&[
        "new-window",
        "-d",
        "-t",
        "laptop:1",
        "ssh",
        "-F",
        &cfg,
        "devbox",
    ]);
    let laptop = Daemon::start_with(
        &[],
        &[
            ("OCBAR_REMOTE", "devbox"),
            ("TMUX", &format!("{},0,0", here_sock.trim())),
        ],
        Some(&laptop_config(&sshd, ocbar_bin(), &notified)),
    );

    // ---- the link comes up: doctor names it and the far version --------------------------
    wait_or_fail(T, "laptop linked to devbox", || {
        laptop.json()["remotes"][0]["connected"] == true
    });
    let doc = doctor(&laptop);
    assert!(
        doc.contains(&format!(
            "remote devbox: connected over ssh (ocbar {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{doc}"
    );

    // ---- a remote turn: busy with its host, then done and unvisited -----------------------
    let sid = oc.create_session(&dir, Some("remote turn"));
    oc.prompt(&dir, &sid, "work a little [slow 3]");
    let busy = wait_session(&laptop, "busy on the laptop", "remote turn", |s| {
        s["state"] == "busy"
    });
    assert_eq!(busy["host"], "devbox", "{busy}");
    assert_eq!(busy["id"], sid.as_str());
    let done = wait_session(&laptop, "done on the laptop", "remote turn", |s| {
        s["state"] == "done"
    });
    assert_eq!(
        (&done["unvisited"], &done["reachable"], &done["host"]),
        (
            &Value::Bool(true),
            &Value::Bool(true),
            &Value::from("devbox")
        ),
        "{done}"
    );
    assert_eq!(laptop.json()["counts"]["unvisited"], 1);

    // ---- the laptop's notification command ran for it, naming the host --------------------
    let mut note = String::new();
    wait_or_fail(T, "the laptop's notification command", || {
        note = std::fs::read_to_string(&notified).unwrap_or_default();
        // The command's second write (its `---`) ends a notification: read it whole.
        note.contains("OCBAR_TITLE=remote turn") && note.contains("---")
    });
    assert!(note.contains("OCBAR_HOST=devbox"), "{note}");
    assert!(note.contains("OCBAR_KIND=done"), "{note}");
    assert!(
        note.contains("OCBAR_TEXT=remote turn on devbox finished"),
        "{note}"
    );
    assert_eq!(note.matches("---").count(), 1, "notified once: {note}");

    // ---- `seen` on the laptop clears the mark on the dev box -------------------------------
    let t = std::time::Instant::now();
    let out = laptop.run(&["seen", "remote turn"]);
    eprintln!(
        "remote: 'ocbar seen' over ssh answered in {:.0?}",
        t.elapsed()
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("on devbox: marked 'remote turn' visited"),
        "{out:?}"
    );
    let far = devbox
        .session("remote turn")
        .expect("listed on the dev box");
    assert_eq!(far["unvisited"], false, "{far}");
    wait_session(&laptop, "visited on the laptop", "remote turn", |s| {
        s["unvisited"] == false
    });

    // ---- `mute` and `unmute` act on the dev box too ------------------------------------------
    let out = laptop.run(&["mute", &format!("devbox:{sid}")]);
    assert!(
        stdout(&out).contains("on devbox: muted 'remote turn'"),
        "{out:?}"
    );
    assert_eq!(devbox.session("remote turn").unwrap()["muted"], true);
    wait_session(&laptop, "muted on the laptop", "remote turn", |s| {
        s["muted"] == true
    });
    let out = laptop.run(&["unmute", "remote turn"]);
    assert!(
        stdout(&out).contains("on devbox: unmuted 'remote turn'"),
        "{out:?}"
    );
    assert_eq!(devbox.session("remote turn").unwrap()["muted"], false);

    // ---- `open` on the laptop switches the dev box's TUI ------------------------------------
    tui.wait_screen("tui", secs(90), "the dev box's TUI", |s| {
        s.contains("Ask anything")
    });
    wait_or_fail(secs(30), "the dev box's TUI plugin connected", || {
        doctor(&devbox).contains(&format!("attached to {}", oc.url))
    });
    wait_or_fail(secs(30), "the user's interactive ssh devbox", || {
        here.ok(&[
            "display-message",
            "-p",
            "-t",
            "laptop:1",
            "#{pane_current_command}",
        ])
        .trim()
            == "ssh"
    });
    let active = || here.ok(&["display-message", "-p", "-t", "laptop", "#{window_index}"]);
    assert_eq!(active().trim(), "0");
    let out = laptop.run(&["open", &format!("devbox:{sid}")]);
    assert!(out.status.success(), "{out:?}");
    let reply = stdout(&out);
    eprintln!("remote: open replied: {reply}");
    assert!(reply.starts_with("on devbox: "), "{reply}");
    assert!(reply.contains(&format!("→ {sid}")), "{reply}");
    wait_or_fail(secs(15), "the dev box's TUI shows the session", || {
        doctor(&devbox).contains(&format!("shows {sid}"))
    });
    tui.wait_screen(
        "tui",
        secs(15),
        "the session on the dev box's screen",
        |s| s.contains("remote turn"),
    );
    // … and on the laptop, the tmux window running `ssh devbox` is brought forward.
    assert!(
        reply.contains("here: 'ssh devbox' in tmux laptop:1."),
        "{reply}"
    );
    assert_eq!(active().trim(), "1", "the window with ssh devbox is shown");

    // ---- the link drops: finished stays done, running turns unknown, each listed once -----
    let run = oc.create_session(&dir, Some("running turn"));
    oc.prompt(&dir, &run, "a long one [slow 60]");
    wait_session(&laptop, "running on the laptop", "running turn", |s| {
        s["state"] == "busy"
    });
    let history = laptop.history();
    sshd.kill_all();
    wait_session(
        &laptop,
        "unknown once the link is gone",
        "running turn",
        |s| s["state"] == "unknown" && s["reachable"] == false,
    );
    let kept = wait_session(&laptop, "done kept", "remote turn", |s| {
        s["reachable"] == false
    });
    assert_eq!(kept["state"], "done", "{kept}");
    let snap = laptop.json();
    assert_eq!(snap["remotes"][0]["connected"], false, "{snap}");
    let mut doc = String::new();
    wait_or_fail(T, "doctor explains the dropped link", || {
        doc = doctor(&laptop);
        doc.contains("remote devbox: NOT CONNECTED: cannot reach devbox")
    });
    assert!(doc.contains("Connection refused"), "{doc}");

    // ---- sshd back: everything back, listed once --------------------------------------------
    sshd.start_again();
    wait_session(&laptop, "running again once linked", "running turn", |s| {
        s["state"] == "busy" && s["reachable"] == true
    });
    wait_session(&laptop, "done and reachable", "remote turn", |s| {
        s["state"] == "done" && s["reachable"] == true
    });
    let h = history.snapshots.lock().unwrap().clone();
    for j in &h {
        for s in j["sessions"].as_array().into_iter().flatten() {
            if s["title"] == "running turn" {
                assert!(
                    s["state"] != "done",
                    "a lost link never finishes a turn: {j}"
                );
            }
        }
        let n = |t: &str| {
            j["sessions"]
                .as_array()
                .map_or(0, |a| a.iter().filter(|s| s["title"] == t).count())
        };
        assert!(
            n("remote turn") <= 1 && n("running turn") <= 1,
            "listed twice: {j}"
        );
    }
    oc.abort(&dir, &run);
    let note = std::fs::read_to_string(&notified).unwrap_or_default();
    assert_eq!(
        note.matches("OCBAR_TITLE=remote turn").count(),
        1,
        "a reconnect notifies nothing by itself: {note}"
    );

    // ---- a hostile title from the dev box stays harmless in the laptop's bars --------------
    hostile_title_stays_harmless(&laptop, oc, &dir, work.path());

    // ---- faults: each remote a clear doctor line, local sessions untouched -----------------
    faults(&sshd, oc, &dir, work.path());
    drop(laptop);
    drop(sshd);
}

fn hostile_title_stays_harmless(laptop: &Daemon, oc: &common::OpenCode, dir: &Path, work: &Path) {
    let pwned = work.join("pwned");
    // The bars' hostile title (tests/bars_common), its tricks first: the segments cut a title
    // to their width.
    let title = format!(
        "<b>&amp;</b>#[fg=red]\u{202e}\u{1b}[31m #(touch {}) {}",
        pwned.display(),
        bars_common::hostile_title(&pwned)
    );
    let sid = oc.create_session(dir, Some(&title));
    oc.prompt(dir, &sid, "quick");
    // The laptop's JSON carries the title as received (JSON-escaped); the bars clean it.
    wait_or_fail(T, "the hostile session done on the laptop", || {
        laptop.json()["sessions"].as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["id"] == sid.as_str() && s["state"] == "done")
        })
    });
    let tmux_line = stdout(&laptop.run(&["status", "--format", "tmux"]));
    let waybar = stdout(&laptop.run(&["status", "--format", "waybar"]));
    let starship = stdout(&laptop.run(&["status", "--format", "starship"]));
    for (bar, line) in [
        ("tmux", &tmux_line),
        ("waybar", &waybar),
        ("starship", &starship),
    ] {
        let visible = bars_common::strip_sgr(line.trim_end_matches('\n'));
        assert!(
            !visible.chars().any(|c| c.is_control()
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)),
            "{bar}: a control character from the title reached the bar: {line:?}"
        );
    }
    // tmux: every `#` of the title is doubled, so no style of it applies; a real tmux
    // expanding the line as its status line runs nothing. (Segments cut a title to their width.)
    let line = tmux_line.trim_end();
    assert!(line.contains("<b>&amp;</b>##[fg=red]"), "{line:?}");
    assert!(!line.replace("##", "").contains("#[fg=red]"), "{line:?}");
    let tmux = common::tmux::Tmux::start(&[]);
    tmux.ok(&["set-option", "-g", "status-right", line]);
    let shown = tmux.ok(&["display-message", "-p", "#{T:status-right}"]);
    assert!(shown.contains("&amp;</b>"), "{shown:?}");
    assert!(!pwned.exists(), "tmux ran #(touch …) from a remote title");
    // waybar: Pango markup and entities escaped, in the label and the tooltip.
    let w: Value = serde_json::from_str(waybar.trim()).expect("waybar JSON");
    for part in ["text", "tooltip"] {
        let t = w[part].as_str().unwrap_or("");
        assert!(
            t.contains("&lt;b&gt;&amp;amp;&lt;/b&gt;#[fg=red]"),
            "{part}: {t}"
        );
    }
    // starship: nothing a shell would run, the title's words there.
    assert!(starship.contains("<b>&amp;</b>#[fg=red]"), "{starship:?}");
    assert!(!pwned.exists());
    // `seen --all` on the laptop marks the dev box's sessions there too (this one and the
    // aborted running turn).
    let out = laptop.run(&["seen", "--all"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("on devbox: marked 2 sessions visited"),
        "{out:?}"
    );
    assert!(
        wait_until_visited(laptop, &sid),
        "the hostile session still unvisited"
    );
}

/// The laptop shows session `sid` visited (the dev box's pushed snapshot after `seen`).
fn wait_until_visited(laptop: &Daemon, sid: &str) -> bool {
    common::wait_until(T, || {
        laptop.json()["sessions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["id"] == sid && s["unvisited"] == false))
    })
}

fn faults(sshd: &Sshd, oc: &common::OpenCode, dir: &Path, work: &Path) {
    // `ocbar` is not on the far side's PATH (the dev box above ran it by its full path).
    let on_path = std::process::Command::new("sh")
        .args(["-c", "command -v ocbar"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        !on_path,
        "an 'ocbar' on this machine's PATH: the no-ocbar case needs none"
    );
    let laptop = Daemon::start_with(
        &[&oc.url],
        &[("OCBAR_REMOTE", "nohost,badkey,garbage,devbox")],
        Some(&laptop_config(sshd, "ocbar", &work.join("notified2"))),
    );
    let sid = oc.create_session(dir, Some("local turn"));
    oc.prompt(dir, &sid, "quick");
    let local = laptop.wait_state("local turn", "done", T);
    assert_eq!(local["host"], Value::Null, "{local}");
    assert_eq!(local["reachable"], true, "{local}");
    let mut doc = String::new();
    let lines = |doc: &str, host: &str| -> String {
        doc.lines()
            .find(|l| l.starts_with(&format!("remote {host}: ")))
            .unwrap_or("")
            .to_string()
    };
    wait_or_fail(T, "doctor explains every broken remote", || {
        doc = doctor(&laptop);
        ["nohost", "badkey", "garbage", "devbox"]
            .iter()
            .all(|h| lines(&doc, h).contains("NOT CONNECTED: "))
    });
    let nohost = lines(&doc, "nohost");
    assert!(
        nohost.contains("ssh cannot find the host") && nohost.contains("nohost.invalid"),
        "{doc}"
    );
    let badkey = lines(&doc, "badkey");
    assert!(
        badkey.contains("refused the login") && badkey.contains("Permission denied"),
        "{doc}"
    );
    let garbage = lines(&doc, "garbage");
    assert!(
        garbage.contains("did not start the ocbar bridge")
            && garbage.contains("Welcome to the dev box!"),
        "{doc}"
    );
    let noocbar = lines(&doc, "devbox");
    assert!(
        noocbar.contains("ocbar is not installed on devbox")
            && noocbar.contains("command not found")
            && noocbar.contains("[remote] ocbar_command"),
        "{doc}"
    );
    // Local sessions are untouched: the local turn still listed once, done, reachable.
    let snap = laptop.json();
    let all: Vec<&Value> = snap["sessions"].as_array().unwrap().iter().collect();
    assert!(all.iter().all(|s| s["host"].is_null()), "{snap}");
    assert_eq!(all.iter().filter(|s| s["title"] == "local turn").count(), 1);
    assert_eq!(snap["servers"][0]["connected"], true, "{snap}");
    assert!(
        !stdout(&laptop.run(&["status", "--format", "tmux"])).is_empty(),
        "the bar still shows the local session"
    );
    eprintln!("remote faults, doctor:\n{doc}");
}
