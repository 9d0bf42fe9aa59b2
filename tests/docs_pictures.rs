//! The README's pictures of tmux and of OpenCode, taken from the real programs: a real OpenCode
//! server (fake LLM), a real `ocbar daemon`, real tmux, the real OpenCode TUI with the ocbar
//! plugin, drawn by a real terminal (`foot`) on a headless sway and captured with `grim`.
//!
//! sway refuses to run as root, so it runs as `nobody` in a private PID namespace
//! (`tests/support/docs_sway_session.sh`, set up like the waybar test); `foot` and `grim` run as
//! the test's user, on sway's Wayland socket. The terminal hosts one tmux client: first on a
//! shell session with tmux's default (green) status line and `#{@ocbar} %H:%M` on its right,
//! the daemon pushing `@ocbar` (push mode, the default); then, in a wider window, on a session
//! running `opencode attach URL` with the plugin installed by `ocbar install opencode-plugin`
//! (tmux's status line off there, so the picture is OpenCode's own screen).
//!
//! The sessions: one busy, one finished and not yet opened, one waiting for an answer; and one
//! finished that the TUI shows. Checked: the pushed segment and `ocbar status --format plain`
//! name them with their states, the TUI's sidebar shows the panel (read with `capture-pane`),
//! and each screenshot is a real, non-empty PNG of the expected size. Screenshots go to
//! `tests/artifacts/docs-tmux.png` and `docs-opencode-panel.png`; with `OCBAR_UPDATE_DOCS=1`
//! also to `docs/tmux.png` and `docs/opencode-panel.png`.
//!
//! Needs sway, foot, grim, tmux, OpenCode (`scripts/install-test-deps.sh`); a missing tool fails.

mod bars_common;
mod common;
mod daemon_harness;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bars_common::{artifacts_dir, poll, repo};
use common::{Env, Options, require_tool, secs, spawn_owned};
use daemon_harness::Daemon;
use serde_json::json;

/// The glyphs of the pictures in docs/ (chosen before the default set was plain Unicode, kept
/// so the pictures stay the same); default colours.
const CONFIG: &str = r##"
[render.glyphs]
busy = "●"
done = "✓"
error = "✗"
waiting = "?"
unvisited = "•"
[notify]
enabled = false
"##;

/// The terminal's font: foot's default face, at a size that reads well once GitHub scales the
/// picture down.
const FONT: &str = "font=monospace:size=10";

/// The window (sway's one output) for the status line: a few rows of 17 px.
const SHELL_WIDTH: u32 = 1000;
const SHELL_HEIGHT: u32 = 102;
/// The window for the TUI: 170 columns of 8 px, more than the 120 the sidebar needs.
const TUI_WIDTH: u32 = 1360;
const TUI_HEIGHT: u32 = 816;

/// A bare headless sway, as `nobody`; foot and grim connect to its socket.
struct Sway {
    out: PathBuf,
    child: Child,
    _tmp: tempfile::TempDir,
}

impl Sway {
    fn start(resolution: &str) -> Sway {
        for t in ["sway", "swaymsg", "foot", "grim", "unshare", "setpriv"] {
            require_tool(t);
        }
        let tmp = tempfile::Builder::new()
            .prefix("ocbar-docs-sway-")
            .tempdir()
            .unwrap();
        let out = tmp.path().canonicalize().unwrap();
        std::fs::copy(
            repo().join("tests/support/docs_sway_session.sh"),
            out.join("docs_sway_session.sh"),
        )
        .unwrap();
        let ok = Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown nobody {}", out.display());
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = ["PATH=/usr/local/bin:/usr/bin:/bin".to_string()];
        let script = out.join("docs_sway_session.sh");
        let args = [out.as_os_str(), std::ffi::OsStr::new(resolution)];
        let mut cmd = common::session_command(&out, &env, false, &script, &args);
        cmd.stdout(Stdio::null());
        let child = spawn_owned(cmd).expect("spawn the sway session");
        let s = Sway {
            out: out.clone(),
            child,
            _tmp: tmp,
        };
        let up = poll(secs(40), Duration::from_millis(50), || {
            if out.join("failed").exists() {
                return Some(false);
            }
            out.join("ready").exists().then_some(true)
        });
        if up != Some(true) {
            panic!("the sway session did not come up:\n{}", s.logs());
        }
        s
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["failed", "session.err", "sway.log", "foot.log"] {
            if let Ok(t) = std::fs::read_to_string(self.out.join(f)) {
                s.push_str(&format!("--- {f}\n{t}\n"));
            }
        }
        s
    }

    /// A Wayland client's environment: sway's socket by absolute path.
    fn wayland(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "C.UTF-8")
            .env("HOME", &self.out) // no foot.ini of the developer's
            .env("XDG_RUNTIME_DIR", self.out.join("xdg"))
            .env("WAYLAND_DISPLAY", self.out.join("xdg/wayland-1"));
    }

    /// `swaymsg output HEADLESS-1 resolution WxH`: the one window follows.
    fn resize(&self, resolution: &str) {
        let out = Command::new(require_tool("swaymsg"))
            .arg("-s")
            .arg(self.out.join("sway.sock"))
            .args(["output", "HEADLESS-1", "resolution", resolution])
            .output()
            .expect("swaymsg");
        assert!(out.status.success(), "swaymsg resize: {out:?}");
    }

    /// `foot` (no padding, [`FONT`]) running `argv`; its log is `foot.log`.
    fn foot(&self, argv: &[&str]) -> Foot {
        let mut cmd = Command::new(require_tool("foot"));
        self.wayland(&mut cmd);
        cmd.args(["-o", FONT, "-o", "pad=0x0"])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(self.out.join("foot.log")).unwrap(),
            ));
        Foot(spawn_owned(cmd).expect("spawn foot"))
    }

    /// The cell height in pixels, as foot logs it (`cell width=8, height=17`).
    fn cell_height(&self) -> u32 {
        poll(secs(20), Duration::from_millis(50), || {
            let log = std::fs::read_to_string(self.out.join("foot.log")).ok()?;
            let at = log.find("cell width=")?;
            let h = log[at..].split("height=").nth(1)?;
            h.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("foot never logged its cell size:\n{}", self.logs()))
    }

    /// `grim [-g GEOMETRY]` into `tests/artifacts/NAME.png`; also `docs/DOC` with
    /// `OCBAR_UPDATE_DOCS=1`. Returns the artifact's path.
    fn screenshot(&self, geometry: Option<&str>, name: &str, doc: &str) -> PathBuf {
        let dest = artifacts_dir().join(format!("{name}.png"));
        let _ = std::fs::remove_file(&dest);
        let mut cmd = Command::new(require_tool("grim"));
        self.wayland(&mut cmd);
        if let Some(g) = geometry {
            cmd.args(["-g", g]);
        }
        let out = cmd.arg(&dest).output().expect("grim");
        assert!(out.status.success(), "grim: {out:?}\n{}", self.logs());
        if std::env::var("OCBAR_UPDATE_DOCS").is_ok_and(|v| v == "1") {
            std::fs::copy(&dest, repo().join("docs").join(doc)).expect("update docs/");
        }
        dest
    }
}

/// A `foot` window, closed on drop.
struct Foot(Child);

impl Drop for Foot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Sway {
    fn drop(&mut self) {
        common::end_session(&self.out, &mut self.child);
    }
}

/// Width and height from a PNG's IHDR, asserting it is a PNG with more than a blank in it.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).expect("read the screenshot");
    assert!(
        b.len() > 24 && b.starts_with(b"\x89PNG\r\n\x1a\n") && &b[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let (w, h) = (be(16), be(20));
    // A uniform picture of this size compresses to a few hundred bytes; text does not.
    assert!(
        b.len() as u64 > 1500,
        "{} ({w}x{h}) is only {} bytes: nothing drawn?",
        path.display(),
        b.len()
    );
    (w, h)
}

/// A private tmux server (`tmux -D`, a child of the test) whose panes get `env`.
struct Tmux {
    sock: PathBuf,
    server: Child,
}

impl Tmux {
    fn start(sock: PathBuf, env: &[(&str, String)]) -> Tmux {
        let mut cmd = Command::new(require_tool("tmux"));
        cmd.arg("-D")
            .arg("-S")
            .arg(&sock)
            .args(["-f", "/dev/null"])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let server = spawn_owned(cmd).expect("start tmux -D");
        let t = Tmux { sock, server };
        assert!(
            common::wait_until(secs(10), || t.sock.exists()
                && t.run(&["list-sessions"]).status.code().is_some()),
            "tmux server did not start"
        );
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(require_tool("tmux"))
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .env("LANG", "C.UTF-8")
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    fn wait_screen(
        &self,
        target: &str,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        common::tmux::wait_for_screen(
            || self.ok(&["capture-pane", "-p", "-t", target]),
            timeout,
            what,
            pred,
        )
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn pictures_of_tmux_and_the_opencode_panel() {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("docs_pictures: {what} at {:.1?}", t0.elapsed());
    require_tool("tmux");
    let opencode = require_tool("opencode");
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();

    // The plugin, installed the way a user does it, into the TUI's isolated config.
    let home = oc.root.join("home");
    common::install_plugin(&home);

    // tmux, with tmux's defaults; the daemon pushes to it ($TMUX names it).
    let tmp = tempfile::Builder::new()
        .prefix("ocbar-docs-pictures-")
        .tempdir()
        .unwrap();
    let t = tmp.path().canonicalize().unwrap();
    let sock = t.join("tmux.sock");
    let d = Daemon::start_with(
        &[&oc.url],
        &[("TMUX", &format!("{},0,0", sock.display()))],
        Some(CONFIG),
    );
    let bin = bars_common::ocbar_bin_dir(&t);
    let x = |p: PathBuf| p.display().to_string();
    let tenv: Vec<(&str, String)> = vec![
        ("PATH", bars_common::path_with(&bin)),
        ("LANG", "C.UTF-8".into()),
        ("SHELL", "/bin/sh".into()),
        ("PS1", "~/src/app $ ".into()),
        ("HOME", x(home.clone())),
        ("XDG_CONFIG_HOME", x(home.join(".config"))),
        ("XDG_DATA_HOME", x(home.join(".local/share"))),
        ("XDG_STATE_HOME", x(home.join(".local/state"))),
        ("XDG_CACHE_HOME", x(home.join(".cache"))),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1".into()),
        ("OCBAR_SOCKET", x(d.socket.clone())),
    ];
    let tmux = Tmux::start(sock.clone(), &tenv);
    tmux.ok(&[
        "new-session",
        "-d",
        "-s",
        "shell",
        "-x",
        "120",
        "-y",
        "6",
        "/bin/sh",
    ]);
    tmux.ok(&["set-option", "-g", "status-right", "#{@ocbar} %H:%M"]);
    tmux.ok(&["set-option", "-g", "status-right-length", "120"]);
    // The TUI starts now (it takes seconds) and waits in its own session, status line off.
    let dir_s = dir.display().to_string();
    let oc_bin = opencode.display().to_string();
    tmux.ok(&[
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        "170",
        "-y",
        "48",
        "-c",
        &dir_s,
        "--",
        &oc_bin,
        "attach",
        &oc.url,
    ]);
    tmux.ok(&["set-option", "-t", "tui", "status", "off"]);
    let sway = Sway::start(&format!("{SHELL_WIDTH}x{SHELL_HEIGHT}"));
    lap("OpenCode, daemon, tmux and sway up");

    // The sessions, in states a user tells apart at a glance.
    let parser = oc.create_session(&dir, Some("Fix the parser"));
    oc.prompt(&dir, &parser, "fix it [slow 1]");
    let auth = oc.create_session(&dir, Some("Refactor auth"));
    oc.prompt(&dir, &auth, "refactor it [slow 600]"); // busy until the server stops
    let rates = oc.create_session(&dir, Some("Research rate limits"));
    oc.prompt(&dir, &rates, "which limits? [question]");
    d.wait_state("Fix the parser", "done", secs(60));
    d.wait_state("Research rate limits", "waiting", secs(60));
    d.wait_state("Refactor auth", "busy", secs(10));
    let plain =
        String::from_utf8_lossy(&d.run(&["status", "--format", "plain"]).stdout).into_owned();
    // One busy, one waiting, and the title of the finished one nobody has opened yet.
    for want in ["●1", "?1", "Fix the parser"] {
        assert!(
            plain.contains(want),
            "status --format plain lacks {want:?}: {plain:?}"
        );
    }
    let pushed = poll(secs(10), Duration::from_millis(100), || {
        let v = tmux.ok(&["show-option", "-gqv", "@ocbar"]);
        (v.contains("Fix the parser") && v.contains("●1") && v.contains("?1")).then_some(v)
    })
    .unwrap_or_else(|| {
        panic!(
            "the daemon never pushed the sessions to @ocbar: {:?}\n{}",
            tmux.run(&["show-option", "-gqv", "@ocbar"]),
            d.log_text()
        )
    });
    lap("sessions in their states, pushed");

    // 1. tmux's status line, drawn by foot: the bottom row of the window.
    let _foot = sway.foot(&[
        &require_tool("tmux").display().to_string(),
        "-S",
        &sock.display().to_string(),
        "attach",
        "-t",
        "shell",
    ]);
    let cell = sway.cell_height();
    // The client fills the window: as many rows as fit (pad=0), the status line the last.
    let rows = SHELL_HEIGHT / cell;
    poll(secs(20), Duration::from_millis(50), || {
        let h = tmux.run(&["list-clients", "-F", "#{client_height}"]).stdout;
        (String::from_utf8_lossy(&h).trim() == rows.to_string()).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "no tmux client of {rows} rows in foot: {:?}\n{}",
            tmux.run(&["list-clients"]),
            sway.logs()
        )
    });
    // What the client draws: the status line with the pushed segment, expanded as tmux does.
    let line = tmux.ok(&[
        "display-message",
        "-p",
        "-c",
        &client(&tmux),
        "#{T:status-right}",
    ]);
    assert!(
        line.contains("Fix the parser") && line.contains("●1") && line.contains("?1"),
        "the client's status-right: {line:?} (pushed {pushed:?})"
    );
    std::thread::sleep(Duration::from_millis(500)); // let foot paint
    let geometry = format!("0,{} {SHELL_WIDTH}x{cell}", (rows - 1) * cell);
    let shot = sway.screenshot(Some(&geometry), "docs-tmux", "tmux.png");
    assert_eq!(png_size(&shot), (SHELL_WIDTH, cell), "{}", shot.display());
    lap("tmux status line captured");

    // 2. The OpenCode TUI with the panel, a finished session on screen.
    let notes = oc.create_session(&dir, Some("Write the changelog"));
    oc.prompt(&dir, &notes, "Write the changelog for the parser fix.");
    d.wait_state("Write the changelog", "done", secs(60));
    sway.resize(&format!("{TUI_WIDTH}x{TUI_HEIGHT}"));
    tmux.ok(&["switch-client", "-c", &client(&tmux), "-t", "tui"]);
    tmux.wait_screen("tui", secs(90), "the attached TUI", |s| {
        s.contains("Ask anything") || s.contains("ocbar")
    });
    let r = oc.call(
        "POST",
        "/tui/select-session",
        None,
        Some(&json!({"sessionID": notes})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let screen = tmux.wait_screen("tui", secs(30), "the ocbar panel in the sidebar", |s| {
        s.lines()
            .any(|l| l.contains("ocbar ") && l.contains("busy"))
            && s.contains("▸ Write the changelog")
            && s.contains("Fix the parser")
            && s.contains("Refactor auth")
            && s.contains("Research rate limits")
            && s.contains("waiting for you")
    });
    eprintln!("--- the TUI ---\n{screen}");
    // Not part of the picture: OpenCode's "Finishing startup…" notice (it goes away by itself).
    poll(secs(20), Duration::from_millis(200), || {
        let s = tmux.ok(&["capture-pane", "-p", "-t", "tui"]);
        (!s.contains("Finishing startup")).then_some(())
    });
    std::thread::sleep(Duration::from_millis(800)); // let foot paint
    let shot = sway.screenshot(None, "docs-opencode-panel", "opencode-panel.png");
    assert_eq!(
        png_size(&shot),
        (TUI_WIDTH, TUI_HEIGHT),
        "{}",
        shot.display()
    );
    lap("OpenCode panel captured");
}

/// The name of the (one) tmux client.
fn client(tmux: &Tmux) -> String {
    tmux.ok(&["list-clients", "-F", "#{client_name}"])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
