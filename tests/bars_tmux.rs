//! The tmux bar, in real tmux, driven by a real OpenCode server + fake LLM + a real `ocbar daemon`.
//!
//! A real client is attached to the tmux server under test ("inner") from inside a second tmux
//! ("outer"); the inner client's status line is the last row of the outer pane, read with
//! `capture-pane` (docs/testing.md). The inner server is set up only
//! through the TPM plugin `integrations/tmux/ocbar.tmux`, run unchanged with `run-shell`:
//!
//! 1. push mode (`#{ocbar}` → `#{@ocbar}`, `status-interval 0`, so only a push can redraw):
//!    busy glyph, then the finished session's title (unvisited, bold), then gone after
//!    `ocbar seen`; every change on screen within 1 s of the daemon publishing it;
//! 2. poll mode (`@ocbar-mode poll`: `#(ocbar status --format tmux)`, `status-interval 1`): same;
//! 3. a hostile title through both at once: shown literally, not styled, nothing run;
//! 4. the picker popup (prefix + O): lists the sessions, a key opens one (`ocbar open`);
//! 5. autostart: with no daemon, the plugin starts one, which pushes `@ocbar` and unsets it
//!    when it stops.
//!
//! One OpenCode server for all of it (one #[test]); missing tools fail the test.

mod bars_common;
mod common;
mod daemon_harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bars_common::*;
use common::{Env, Options, require_tool, secs, spawn_owned};
use daemon_harness::Daemon;

const STEP: Duration = Duration::from_millis(10);

/// One tmux server on a private socket, run with `-D` as a child of the test (it dies with it).
struct TmuxServer {
    sock: PathBuf,
    env: Vec<(String, String)>,
    child: std::process::Child,
}

impl TmuxServer {
    fn start(sock: PathBuf, env: Vec<(String, String)>) -> TmuxServer {
        let mut cmd = Command::new(require_tool("tmux"));
        cmd.args(["-u", "-D", "-f", "/dev/null", "-S"])
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        apply_env(&mut cmd, &env);
        let child = spawn_owned(cmd).expect("spawn tmux -D");
        let server = TmuxServer { sock, env, child };
        poll(secs(10), STEP, || {
            server.try_run(&["list-sessions"]).map(|_| ())
        })
        .or_else(|| {
            // "no sessions" is an error, but it means the server answers
            poll(secs(1), STEP, || server.sock.exists().then_some(()))
        });
        server
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(require_tool("tmux"));
        cmd.arg("-u").arg("-S").arg(&self.sock).args(args);
        apply_env(&mut cmd, &self.env);
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run tmux")
    }

    fn try_run(&self, args: &[&str]) -> Option<String> {
        let out = self.output(args);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run a tmux command; panic with its stderr when it fails.
    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn show(&self, option: &str) -> String {
        self.run(&["show-option", "-gqv", option])
            .trim_end_matches('\n')
            .to_string()
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = self.output(&["kill-server"]);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn apply_env(cmd: &mut Command, env: &[(String, String)]) {
    cmd.env_remove("TMUX").env_remove("TMUX_PANE");
    for (k, v) in env {
        cmd.env(k, v);
    }
}

/// The inner server (under test) and the outer one hosting an attached client of it.
struct Screen {
    inner: TmuxServer,
    outer: TmuxServer,
}

impl Screen {
    /// The inner client's status line (the last row of the outer pane), as text.
    fn status(&self) -> String {
        self.capture(false)
    }

    /// The same with SGR colours (`capture-pane -e`).
    fn status_sgr(&self) -> String {
        self.capture(true)
    }

    fn capture(&self, sgr: bool) -> String {
        let args: &[&str] = if sgr {
            &["capture-pane", "-p", "-e", "-t", "0"]
        } else {
            &["capture-pane", "-p", "-t", "0"]
        };
        let text = self.outer.try_run(args).unwrap_or_default();
        text.trim_end_matches('\n')
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// The whole outer pane (e.g. with a popup on it).
    fn pane(&self) -> String {
        self.outer
            .try_run(&["capture-pane", "-p", "-t", "0"])
            .unwrap_or_default()
    }

    /// Wait until the status line satisfies `pred`; the moment it first did, or a panic.
    fn wait_status(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> Instant {
        let start = Instant::now();
        let mut seen: Vec<(Duration, String)> = Vec::new();
        let found = poll(timeout, STEP, || {
            let line = self.status();
            if seen.last().is_none_or(|(_, l)| *l != line) {
                seen.push((start.elapsed(), line.clone()));
            }
            pred(&line).then(Instant::now)
        });
        match found {
            Some(t) => t,
            None => panic!(
                "tmux status line never showed {what} in {timeout:?}; lines seen: {seen:#?}\nstatus-right: {:?}\n@ocbar: {:?}",
                self.inner.show("status-right"),
                self.inner.show("@ocbar")
            ),
        }
    }

    /// Run the TPM plugin on the inner server, as TPM does (`run-shell`).
    fn run_plugin(&self) {
        let plugin = integration("tmux/ocbar.tmux");
        self.inner.run(&["run-shell", plugin.to_str().unwrap()]);
    }
}

/// The lines an `ocbar watch --format tmux` subscriber got, with when it got them: the moment
/// the daemon published a change, to measure how long the screen takes to follow.
struct Watch {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Watch {
    fn start(socket: &Path) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ocbar"))
            .args(["watch", "--format", "tmux"])
            .env("OCBAR_SOCKET", socket)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ocbar watch");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push((Instant::now(), line));
            }
        });
        Watch { child, lines }
    }

    /// When the daemon first published a line satisfying `pred`.
    /// When the reference `watch` subscriber first printed a matching line. The screen may show
    /// a pushed line before this separate process has printed it (both race on a loaded
    /// machine), so wait up to 3 s for it to turn up.
    fn published(&self, pred: impl Fn(&str) -> bool) -> Option<Instant> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|(_, l)| pred(l))
                .map(|(t, _)| *t);
            if found.is_some() || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills an `ocbar daemon` the plugin started (it is not our child) if the test fails early.
struct KillPid(Option<i32>);

impl Drop for KillPid {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Whether `pid` runs (a zombie does not: nobody may reap a daemon the plugin detached).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().chars().next()))
        .flatten()
        .is_some_and(|state| state != 'Z')
}

fn has_glyph(line: &str, c: char) -> bool {
    line.contains(c)
}

#[test]
fn tmux_status_line_push_poll_hostile_picker_autostart() {
    let started = Instant::now();
    require_tool("tmux");
    require_tool("bash");
    require_tool("awk");
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let tmp = tempfile::Builder::new()
        .prefix("ocbar-bars-tmux-")
        .tempdir()
        .unwrap();
    let t = tmp.path().canonicalize().unwrap();
    let bin = ocbar_bin_dir(&t);
    let pwned = t.join("pwned");
    std::fs::create_dir_all(t.join("home")).unwrap();

    let tenv: Vec<(String, String)> = vec![
        ("PATH".into(), path_with(&bin)),
        ("LANG".into(), "C.UTF-8".into()),
        ("LC_ALL".into(), "C.UTF-8".into()),
        ("HOME".into(), t.join("home").display().to_string()),
        ("TERM".into(), "xterm-256color".into()),
        ("OCBAR_DISCOVERY".into(), "0".into()),
    ];
    let inner = TmuxServer::start(t.join("in"), tenv.clone());
    inner.run(&["new-session", "-d", "-x", "400", "-y", "24", "sleep 86400"]);
    let outer = TmuxServer::start(t.join("out"), tenv.clone());
    outer.run(&["set-option", "-g", "status", "off"]);
    let attach = format!(
        "env -u TMUX {} -u -S {} attach",
        require_tool("tmux").display(),
        t.join("in").display()
    );
    outer.run(&["new-session", "-d", "-x", "400", "-y", "25", &attach]);
    let screen = Screen { inner, outer };

    // The daemon pushes to the inner server ($TMUX names it); titles are never cut here.
    let tmux_env = format!("{},0,0", t.join("in").display());
    let d = Daemon::start_with(
        &[&oc.url],
        &[("TMUX", &tmux_env)],
        Some("[render]\ntitle_width = 0\n[notify]\nenabled = false\n"),
    );
    common::wait_or_fail(secs(20), "daemon connected", || {
        let j = d.json();
        j["servers"][0]["connected"] == true && j["servers"][0]["stale"] == false
    });
    let socket = d.socket.to_str().unwrap().to_string();
    screen
        .inner
        .run(&["set-environment", "-g", "OCBAR_SOCKET", &socket]);
    let watch = Watch::start(&d.socket);

    eprintln!("bars_tmux: phase 1 at {:.1?}", started.elapsed());
    // ---- 1. push mode, through the plugin --------------------------------------------------
    let i = &screen.inner;
    i.run(&["set-option", "-g", "status-left", ""]);
    i.run(&["set-option", "-g", "status-right-length", "400"]);
    i.run(&["set-option", "-g", "status-interval", "0"]);
    i.run(&["set-option", "-g", "status-right", "<#{ocbar}>"]);
    i.run(&["set-option", "-g", "@ocbar-autostart", "off"]);
    i.run(&["set-option", "-g", "@ocbar-picker", "prompt"]);
    screen.run_plugin();
    assert_eq!(
        i.show("status-right"),
        "<#{@ocbar}>",
        "plugin: push placeholder"
    );
    let keys = i.run(&["list-keys", "-T", "prefix", "O"]);
    assert!(keys.contains("display-popup"), "plugin binds O: {keys}");

    let mut latencies: Vec<(String, Duration)> = Vec::new();
    let mut measure = |what: &str, shown: Instant, published: Option<Instant>| {
        let published = published.unwrap_or_else(|| panic!("the daemon never published {what}"));
        let lag = shown.saturating_duration_since(published);
        latencies.push((what.to_string(), lag));
        lag
    };

    let sid = oc.create_session(&dir, Some("push alpha"));
    oc.prompt(&dir, &sid, "work a bit [slow 3]");
    let busy = |l: &str| has_glyph(l, DEFAULT_BUSY);
    let shown = screen.wait_status("the busy glyph (push)", secs(30), busy);
    let lag = measure("push: busy", shown, watch.published(busy));
    assert!(
        lag < Duration::from_secs(1),
        "push took {lag:?} to show busy"
    );

    let titled = |l: &str| l.contains("push alpha") && !l.contains(DEFAULT_BUSY);
    let shown = screen.wait_status("the unvisited title (push)", secs(30), titled);
    let lag = measure(
        "push: done, unvisited title",
        shown,
        watch.published(titled),
    );
    assert!(
        lag < Duration::from_secs(1),
        "push took {lag:?} to show done"
    );
    let sgr = screen.status_sgr();
    let at = sgr.find("push alpha").unwrap();
    assert!(
        sgr[..at].rfind("\u{1b}[1m").is_some(),
        "the unvisited title is bold: {sgr:?}"
    );
    let json = d.json();
    assert_eq!(json["counts"]["unvisited"], 1, "{json}");

    let asked = Instant::now();
    let out = d.run(&["seen", "push alpha"]);
    assert!(out.status.success());
    let gone = |l: &str| !l.contains("push alpha");
    let shown = screen.wait_status("the title gone after seen (push)", secs(5), gone);
    // The reference subscriber's first line after `seen` (it may print after the screen shows
    // it: both race on a loaded machine; an older line without the title would fake a lag).
    let seen_at = poll(secs(3), Duration::from_millis(20), || {
        watch
            .lines
            .lock()
            .unwrap()
            .iter()
            .find(|(t, l)| *t >= asked && gone(l))
            .map(|(t, _)| *t)
    });
    let lag = measure("push: seen, mark gone", shown, seen_at);
    assert!(lag < Duration::from_secs(1), "push took {lag:?} after seen");

    eprintln!("bars_tmux: phase 2 at {:.1?}", started.elapsed());
    // ---- 2. poll mode, through the plugin --------------------------------------------------
    i.run(&["set-option", "-g", "@ocbar-mode", "poll"]);
    i.run(&["set-option", "-g", "status-interval", "1"]);
    i.run(&["set-option", "-g", "status-right", "<#{ocbar}>"]);
    screen.run_plugin();
    let sr = i.show("status-right");
    assert!(
        sr.starts_with("<#(") && sr.contains("status --format tmux)") && !sr.contains("@ocbar"),
        "plugin: poll placeholder: {sr}"
    );
    let sid = oc.create_session(&dir, Some("poll beta"));
    oc.prompt(&dir, &sid, "work a bit [slow 4]");
    let t0 = Instant::now();
    screen.wait_status("the busy glyph (poll)", secs(30), busy);
    let poll_busy = t0.elapsed();
    screen.wait_status("the unvisited title (poll)", secs(30), |l| {
        l.contains("poll beta") && !l.contains(DEFAULT_BUSY)
    });
    d.run(&["seen", "--all"]);
    screen.wait_status("the title gone after seen (poll)", secs(5), |l| {
        !l.contains("poll beta")
    });

    eprintln!("bars_tmux: phase 3 at {:.1?}", started.elapsed());
    // ---- 3. a hostile title, through push and poll at once --------------------------------
    //
    // Push mode shows the title exactly. The `#()` output of poll mode goes through one more
    // format expansion than an option value does, so there a run of two or more `#` from data
    // (`##{pane_title}`) is drawn with fewer `#`: a display-only loss (nothing is expanded or
    // run, no style applies), checked here so that a change in it is noticed.
    let title = hostile_title(&pwned);
    let want = cleaned(&title);
    let want_poll = want.replace("##{pane_title}", "#{pane_title}");
    i.run(&[
        "set-option",
        "-g",
        "status-right",
        "[#{@ocbar}][#(ocbar status --format tmux)]",
    ]);
    let sid = oc.create_session(&dir, Some(&title));
    let stored = oc.session(&sid)["title"].as_str().unwrap_or("").to_string();
    assert_eq!(stored, title, "OpenCode keeps the hostile title as sent");
    oc.prompt(&dir, &sid, "quick");
    let both = |l: &str| {
        l.find(want.as_str())
            .is_some_and(|at| l[at + want.len()..].contains(want_poll.as_str()))
    };
    screen.wait_status(
        "the hostile title, literally, pushed and polled",
        secs(30),
        both,
    );
    std::thread::sleep(Duration::from_millis(2500)); // two more status-interval rounds
    let line = screen.status();
    assert!(both(&line), "{line:?}");
    let sgr = screen.status_sgr();
    assert!(
        !sgr.contains("\u{1b}[31m") && !sgr.contains("\u{1b}[91m"),
        "nothing is red (#[fg=red] from the title must not apply): {sgr:?}"
    );
    assert!(!pwned.exists(), "tmux ran #(touch …) from a title");
    assert!(!line.contains('\u{1b}') && !line.contains('\u{7}'));

    eprintln!("bars_tmux: phase 4 at {:.1?}", started.elapsed());
    // ---- 4. the picker popup: prefix + O, then 1 opens the newest session ------------------
    assert_eq!(
        d.session(&title).expect("hostile session listed")["unvisited"],
        true
    );
    screen.outer.run(&["send-keys", "-t", "0", "C-b", "O"]);
    let popup = poll(secs(10), Duration::from_millis(50), || {
        let p = screen.pane();
        p.contains("Key 1-").then_some(p)
    })
    .unwrap_or_else(|| panic!("no picker popup; pane:\n{}", screen.pane()));
    assert!(popup.contains("choose a session"), "{popup}");
    assert!(
        popup.contains(" 1  ") && popup.contains("#[fg=red]x"),
        "numbered, hostile title listed literally: {popup}"
    );
    screen.outer.run(&["send-keys", "-t", "0", "1"]);
    common::wait_or_fail(secs(10), "the picked session visited", || {
        d.session(&title).is_some_and(|s| s["unvisited"] == false)
    });
    poll(secs(5), Duration::from_millis(50), || {
        (!screen.pane().contains("Key 1-")).then_some(())
    })
    .expect("the popup closes after a pick");

    eprintln!("bars_tmux: phase 5 at {:.1?}", started.elapsed());
    // ---- 5. autostart: no daemon; the plugin starts one, which pushes ---------------------
    drop(watch);
    drop(d);
    let auto = t.join("auto");
    std::fs::create_dir_all(&auto).unwrap();
    std::fs::set_permissions(&auto, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let auto_sock = auto.join("ocbar.sock");
    let log = t.join("autostart.log");
    for (k, v) in [
        ("OCBAR_SOCKET", auto_sock.to_str().unwrap()),
        ("OCBAR_SERVER", oc.url.as_str()),
        ("XDG_STATE_HOME", auto.to_str().unwrap()),
        ("XDG_CONFIG_HOME", auto.to_str().unwrap()),
    ] {
        i.run(&["set-environment", "-g", k, v]);
    }
    i.run(&["set-option", "-gu", "@ocbar"]);
    i.run(&["set-option", "-g", "@ocbar-autostart", "on"]);
    i.run(&["set-option", "-g", "@ocbar-mode", "push"]);
    i.run(&["set-option", "-g", "@ocbar-log", log.to_str().unwrap()]);
    i.run(&["set-option", "-g", "status-right", "<#{ocbar}>"]);
    screen.run_plugin();
    eprintln!("bars_tmux: plugin ran at {:.1?}", started.elapsed());
    let doctor = poll(secs(10), Duration::from_millis(50), || {
        let out = daemon_harness::run_client(&auto_sock, &["doctor"]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .unwrap_or_else(|| {
        panic!(
            "the plugin started no daemon; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    let pid: i32 = doctor
        .split("pid ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no pid in doctor: {doctor}"));
    let mut guard = KillPid(Some(pid));
    poll(secs(10), Duration::from_millis(50), || {
        i.try_run(&["show-option", "-gv", "@ocbar"]).map(|_| ())
    })
    .unwrap_or_else(|| {
        panic!(
            "the started daemon never pushed @ocbar; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    i.run(&["set-option", "-g", "status-interval", "0"]);
    let sid = oc.create_session(&dir, Some("auto gamma"));
    oc.prompt(&dir, &sid, "work a bit [slow 2]");
    screen.wait_status("busy, pushed by the autostarted daemon", secs(30), busy);
    // A clean stop unsets @ocbar: a stopped daemon leaves no stale line behind.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    eprintln!("bars_tmux: SIGTERM at {:.1?}", started.elapsed());
    poll(secs(10), Duration::from_millis(50), || {
        i.try_run(&["show-option", "-gv", "@ocbar"])
            .is_none()
            .then_some(())
    })
    .expect("@ocbar unset after the daemon stopped");
    poll(secs(5), Duration::from_millis(50), || {
        (!alive(pid)).then_some(())
    })
    .expect("the autostarted daemon exits on SIGTERM");
    guard.0 = None;
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log_text.contains("tmux push: @ocbar is set"), "{log_text}");

    eprintln!("bars_tmux: push latency (daemon publishes → tmux client shows it):");
    for (what, lag) in &latencies {
        eprintln!("  {what}: {} ms", ms(*lag));
    }
    eprintln!(
        "bars_tmux: poll mode showed busy {} ms after the prompt; whole test {:.1?}",
        ms(poll_busy),
        started.elapsed()
    );
}

/// xterm's default palette for the 16 named colours (what the SGR codes of a terminal mean
/// before a theme changes them).
const XTERM16: [(u8, u8, u8); 16] = [
    (0x00, 0x00, 0x00),
    (0xcd, 0x00, 0x00),
    (0x00, 0xcd, 0x00),
    (0xcd, 0xcd, 0x00),
    (0x00, 0x00, 0xee),
    (0xcd, 0x00, 0xcd),
    (0x00, 0xcd, 0xcd),
    (0xe5, 0xe5, 0xe5),
    (0x7f, 0x7f, 0x7f),
    (0xff, 0x00, 0x00),
    (0x00, 0xff, 0x00),
    (0xff, 0xff, 0x00),
    (0x5c, 0x5c, 0xff),
    (0xff, 0x00, 0xff),
    (0x00, 0xff, 0xff),
    (0xff, 0xff, 0xff),
];

/// The least contrast asked of every character of the default status line: above WCAG's 3:1
/// for large text and symbols, a little under its 4.5:1 for body text (xterm's bright blue,
/// ocbar's busy colour, is 4.4:1 on black).
const MIN_CONTRAST: f64 = 4.0;

fn xterm256(n: u8) -> (u8, u8, u8) {
    match n {
        0..=15 => XTERM16[n as usize],
        16..=231 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let n = n - 16;
            (level(n / 36), level(n / 6 % 6), level(n % 6))
        }
        _ => {
            let v = 8 + 10 * (n - 232);
            (v, v, v)
        }
    }
}

type Rgb = (u8, u8, u8);

/// WCAG 2 contrast ratio of two sRGB colours (1 to 21).
fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    fn lum((r, g, b): (u8, u8, u8)) -> f64 {
        let c = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b)
    }
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// Each visible character of an SGR line (`capture-pane -e`) with its foreground and
/// background as xterm draws them (reverse applied; the outer terminal's defaults taken as
/// light grey on black).
fn cells(sgr: &str) -> Vec<(char, Rgb, Rgb)> {
    const FG: (u8, u8, u8) = (0xe5, 0xe5, 0xe5);
    const BG: (u8, u8, u8) = (0, 0, 0);
    let (mut fg, mut bg, mut reverse) = (FG, BG, false);
    let mut out = Vec::new();
    let mut rest = sgr;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}' && rest[1..].starts_with('[') {
            let end = rest.find('m').expect("SGR ends in m");
            let params: Vec<u32> = rest[2..end]
                .split(';')
                .map(|p| p.parse().unwrap_or(0))
                .collect();
            let mut i = 0;
            while i < params.len() {
                match params[i] {
                    0 => (fg, bg, reverse) = (FG, BG, false),
                    7 => reverse = true,
                    27 => reverse = false,
                    p @ 30..=37 => fg = XTERM16[(p - 30) as usize],
                    p @ 90..=97 => fg = XTERM16[(p - 90 + 8) as usize],
                    p @ 40..=47 => bg = XTERM16[(p - 40) as usize],
                    p @ 100..=107 => bg = XTERM16[(p - 100 + 8) as usize],
                    39 => fg = FG,
                    49 => bg = BG,
                    p @ (38 | 48) if params.get(i + 1) == Some(&5) => {
                        let c = xterm256(params.get(i + 2).copied().unwrap_or(0) as u8);
                        if p == 38 {
                            fg = c
                        } else {
                            bg = c
                        }
                        i += 2;
                    }
                    p @ (38 | 48) if params.get(i + 1) == Some(&2) => {
                        let v = |k: usize| params.get(i + k).copied().unwrap_or(0) as u8;
                        let c = (v(2), v(3), v(4));
                        if p == 38 {
                            fg = c
                        } else {
                            bg = c
                        }
                        i += 4;
                    }
                    _ => {}
                }
                i += 1;
            }
            rest = &rest[end + 1..];
        } else {
            let (f, b) = if reverse { (bg, fg) } else { (fg, bg) };
            out.push((c, f, b));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Every visible character of the status line reads on its background.
fn assert_readable(what: &str, sgr: &str) {
    let cells = cells(sgr);
    assert!(!cells.is_empty(), "{what}: empty status line");
    for (c, fg, bg) in cells.iter().filter(|(c, _, _)| !c.is_whitespace()) {
        let ratio = contrast(*fg, *bg);
        assert!(
            ratio >= MIN_CONTRAST,
            "{what}: {c:?} drawn {fg:02x?} on {bg:02x?}, contrast {ratio:.2} < {MIN_CONTRAST}; line: {sgr:?}"
        );
    }
}

/// What a new user meets in tmux with tmux's DEFAULT look and the plain snippet
/// (`integrations/tmux/ocbar.conf`):
///
/// 1. sourcing the snippet (and running the TPM plugin) twice leaves one segment;
/// 2. every piece of the segment reads on tmux's default green status line, checked from the
///    client's own escape codes (an outer tmux's `capture-pane -e`);
/// 3. a notification (the default `tmux` channel) shows in the segment while a clock pane
///    keeps redrawing (tmux's `display-message` would stop it), pushed and polled alike;
/// 4. the snippet's picker (prefix + O) numbers its rows; two sessions titled alike: typing
///    the title lists both, numbered, and asks again; choosing the second opens that one.
#[test]
fn tmux_default_look_notice_reload_and_picker() {
    let started = Instant::now();
    require_tool("tmux");
    require_tool("bash");
    require_tool("awk");
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let tmp = tempfile::Builder::new()
        .prefix("ocbar-tmux-first-hour-")
        .tempdir()
        .unwrap();
    let t = tmp.path().canonicalize().unwrap();
    let bin = ocbar_bin_dir(&t);
    std::fs::create_dir_all(t.join("home")).unwrap();
    let tenv: Vec<(String, String)> = vec![
        ("PATH".into(), path_with(&bin)),
        ("LANG".into(), "C.UTF-8".into()),
        ("LC_ALL".into(), "C.UTF-8".into()),
        ("HOME".into(), t.join("home").display().to_string()),
        ("TERM".into(), "xterm-256color".into()),
        ("OCBAR_DISCOVERY".into(), "0".into()),
    ];

    let tmux_env = format!("{},0,0", t.join("in").display());
    let d = Daemon::start_with(
        &[&oc.url],
        &[("TMUX", &tmux_env)],
        Some(
            "[notify]\ntoast = false\ndesktop = false\nsummary_window_ms = 0\ndisplay_ms = 5000\n",
        ),
    );
    common::wait_or_fail(secs(20), "daemon connected", || {
        let j = d.json();
        j["servers"][0]["connected"] == true && j["servers"][0]["stale"] == false
    });
    let socket = d.socket.to_str().unwrap().to_string();

    // The inner server: tmux's defaults (no status-style), a pane showing a clock.
    let mut ienv = tenv.clone();
    ienv.push(("OCBAR_SOCKET".into(), socket.clone()));
    let inner = TmuxServer::start(t.join("in"), ienv);
    let clock =
        "while :; do printf '\\r%s ' \"$(date +%H:%M:%S.%N | cut -c1-10)\"; sleep 0.1; done";
    inner.run(&[
        "new-session",
        "-d",
        "-x",
        "200",
        "-y",
        "30",
        "sh",
        "-c",
        clock,
    ]);
    inner.run(&["set-environment", "-g", "OCBAR_SOCKET", &socket]);
    let outer = TmuxServer::start(t.join("out"), tenv.clone());
    outer.run(&["set-option", "-g", "status", "off"]);
    let attach = format!(
        "env -u TMUX {} -u -S {} attach",
        require_tool("tmux").display(),
        t.join("in").display()
    );
    outer.run(&["new-session", "-d", "-x", "200", "-y", "31", &attach]);
    let screen = Screen { inner, outer };
    let i = &screen.inner;

    eprintln!("first hour: reload at {:.1?}", started.elapsed());
    // ---- 1. loading twice adds one segment -------------------------------------------------
    i.run(&["set-option", "-g", "status-right", "#{ocbar} %H:%M"]);
    i.run(&["set-option", "-g", "@ocbar-autostart", "off"]);
    screen.run_plugin();
    screen.run_plugin();
    assert_eq!(
        i.show("status-right"),
        "#{@ocbar} %H:%M",
        "TPM plugin twice"
    );
    i.run(&["set-option", "-gu", "status-right"]); // back to tmux's default
    i.run(&["unbind-key", "O"]);
    let conf = integration("tmux/ocbar.conf");
    let conf = conf.to_str().unwrap();
    i.run(&["source-file", conf]);
    i.run(&["source-file", conf]);
    let sr = i.show("status-right");
    assert_eq!(sr.matches("#{@ocbar}").count(), 1, "ocbar.conf twice: {sr}");
    assert!(sr.ends_with(" #{@ocbar}"), "{sr}");
    let keys = i.run(&["list-keys", "-T", "prefix", "O"]);
    assert!(keys.contains("display-popup"), "ocbar.conf binds O: {keys}");

    eprintln!("first hour: colours at {:.1?}", started.elapsed());
    // ---- 2. readable on tmux's default green status line -----------------------------------
    let sid = oc.create_session(&dir, Some("slow colour"));
    oc.prompt(&dir, &sid, "work a bit [slow 6]");
    screen.wait_status("the busy glyph", secs(30), |l| has_glyph(l, DEFAULT_BUSY));
    assert_readable("busy", &screen.status_sgr());
    screen.wait_status("the done title", secs(30), |l| l.contains("slow colour"));
    let done_line = screen.status_sgr();
    assert_readable("done, unvisited", &done_line);
    // The title in the segment (the last one: a notice saying it finished may come first).
    let done_cells = cells(&done_line);
    let text: Vec<char> = done_cells.iter().map(|(c, _, _)| *c).collect();
    let at = (0..text.len())
        .rev()
        .find(|&k| text[k..].starts_with(&"slow colour".chars().collect::<Vec<_>>()))
        .expect("the title in the cells");
    let (_, fg, bg) = done_cells[at];
    assert_ne!(
        bg, XTERM16[2],
        "the title has its own background: {done_line:?}"
    );
    assert_ne!(fg, bg);

    eprintln!("first hour: notice at {:.1?}", started.elapsed());
    // ---- 3. a notification in the segment; the clock keeps running ---------------------------
    let clock_row = |s: &Screen| -> String {
        s.pane()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let sid = oc.create_session(&dir, Some("notice me"));
    oc.prompt(&dir, &sid, "quick");
    let notice = |l: &str| l.contains("notice me finished");
    let shown = screen.wait_status("the notice in the status line", secs(30), notice);
    let polled = d.run(&["status", "--format", "tmux"]);
    assert!(
        String::from_utf8_lossy(&polled.stdout).contains("notice me finished"),
        "poll mode shows the notice too: {polled:?}"
    );
    let before = clock_row(&screen);
    std::thread::sleep(Duration::from_millis(1300));
    let after = clock_row(&screen);
    let still = screen.status();
    assert!(
        notice(&still),
        "the notice is still shown 1.3 s later: {still:?}"
    );
    assert_ne!(
        before, after,
        "the clock pane froze while the notice was shown"
    );
    assert_readable("notice", &screen.status_sgr());
    screen.wait_status("the notice gone after display_ms", secs(10), |l| !notice(l));
    eprintln!("first hour: notice shown for {:.1?}", shown.elapsed());

    eprintln!("first hour: picker at {:.1?}", started.elapsed());
    // ---- 4. the snippet's picker: two sessions titled alike -----------------------------------
    d.run(&["seen", "--all"]);
    let mut twins = Vec::new();
    for _ in 0..2 {
        let sid = oc.create_session(&dir, Some("twin job"));
        oc.prompt(&dir, &sid, "quick");
        twins.push(sid);
    }
    common::wait_or_fail(secs(30), "both twins done and unvisited", || {
        let j = d.json();
        j["sessions"].as_array().is_some_and(|a| {
            a.iter()
                .filter(|s| s["title"] == "twin job" && s["unvisited"] == true)
                .count()
                == 2
        })
    });
    let roots: Vec<String> = d.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["parent_id"].is_null())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    screen.outer.run(&["send-keys", "-t", "0", "C-b", "O"]);
    let popup = poll(secs(10), Duration::from_millis(50), || {
        let p = screen.pane();
        p.contains("Key 1-").then_some(p)
    })
    .unwrap_or_else(|| panic!("no picker popup; pane:\n{}", screen.pane()));
    assert!(
        popup.contains(" 1  ") && popup.contains(" 2  "),
        "numbered: {popup}"
    );
    screen
        .outer
        .run(&["send-keys", "-t", "0", "-l", "twin job"]);
    screen.outer.run(&["send-keys", "-t", "0", "Enter"]);
    let listed = poll(secs(10), Duration::from_millis(50), || {
        let p = screen.pane();
        // The list whole, not a pane captured while tmux was still drawing it.
        let drawn = p
            .find("matches 2 sessions")
            .is_some_and(|at| p[at..].lines().filter(|l| l.contains("twin job")).count() >= 2);
        drawn.then_some(p)
    })
    .unwrap_or_else(|| panic!("no list of the matches; pane:\n{}", screen.pane()));
    // The numbers of the two matching rows, in the order shown.
    let after_match = &listed[listed.find("matches 2 sessions").unwrap()..];
    let numbers: Vec<usize> = after_match
        .lines()
        .skip(1)
        .filter(|l| l.contains("twin job"))
        .filter_map(|l| {
            l.trim()
                .trim_start_matches('│')
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(numbers.len(), 2, "two numbered matches: {listed}");
    let second = numbers[1];
    screen
        .outer
        .run(&["send-keys", "-t", "0", "-l", &second.to_string()]);
    screen.outer.run(&["send-keys", "-t", "0", "Enter"]);
    let chosen = roots[second - 1].clone();
    assert!(twins.contains(&chosen), "row {second} is a twin: {roots:?}");
    let other = twins.iter().find(|s| **s != chosen).unwrap().clone();
    common::wait_or_fail(secs(10), "the chosen twin visited", || {
        d.json()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == chosen.as_str() && s["unvisited"] == false)
    });
    assert!(
        d.json()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == other.as_str() && s["unvisited"] == true),
        "the other twin is untouched"
    );
    poll(secs(5), Duration::from_millis(50), || {
        (!screen.pane().contains("matches 2 sessions")).then_some(())
    })
    .expect("the popup closes after the choice");
    eprintln!("first hour: whole test {:.1?}", started.elapsed());
}
