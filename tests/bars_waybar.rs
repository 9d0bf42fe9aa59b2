//! The waybar module, in real waybar on a headless sway, driven by a real OpenCode server + fake
//! LLM + a real `ocbar daemon` (docs/testing.md).
//!
//! sway and waybar run as `nobody` in a private PID namespace with their own D-Bus session
//! (`tests/support/waybar_session.sh`); waybar gets `integrations/waybar/config.jsonc` and
//! `style.css` unchanged, with a copy of the `ocbar` under test first on its PATH and
//! `OCBAR_SOCKET` pointing at the test's daemon. `tests/support/atspi_watch.py` records the
//! bar's label text through AT-SPI and takes `grim` screenshots on request:
//! 1. busy → the busy glyph; done → the finished title; a busy and an unvisited session at once
//!    (screenshot `tests/artifacts/waybar-bar.png`; with `OCBAR_UPDATE_DOCS=1` also
//!    `docs/waybar.png` for the README);
//! 2. the module's on-click command (`ocbar open --newest-unvisited`) opens that session and the
//!    title leaves the bar;
//! 3. a hostile title: the label shows the literal text (Pango markup and entities escaped).
//!
//! The daemon's socket is made reachable by `nobody` (directory 0711, socket 0666): the bar of a
//! real user runs as the daemon's own user. One OpenCode server; missing tools fail the test.

mod bars_common;
mod common;
mod daemon_harness;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bars_common::*;
use common::{Env, Options, require_tool, secs, spawn_owned};
use daemon_harness::Daemon;
use serde_json::Value;

/// The glyphs of docs/waybar.png (chosen before the default set was plain Unicode, kept so the
/// picture stays the same); the default colours (made for a dark bar such as waybar's default).
const CONFIG: &str = r##"
[render]
title_width = 0
[render.glyphs]
busy = "●"
done = "✓"
error = "✗"
unvisited = "•"
[notify]
enabled = false
"##;
const BUSY: &str = "●";
const DONE: &str = "✓";

/// The bar session: sway + waybar + the AT-SPI recorder, as `nobody`.
struct Bar {
    out: PathBuf,
    child: std::process::Child,
}

impl Bar {
    fn start(out: &Path, socket: &Path) -> Bar {
        for tool in [
            "sway",
            "waybar",
            "grim",
            "dbus-run-session",
            "unshare",
            "setpriv",
        ] {
            require_tool(tool);
        }
        let py = Command::new("/usr/bin/python3")
            .args(["-c", "import gi; gi.require_version('Atspi', '2.0')"])
            .output();
        assert!(
            py.is_ok_and(|o| o.status.success()),
            "missing python3-gi / gir1.2-atspi-2.0: run scripts/install-test-deps.sh"
        );
        let env = [
            format!("PATH={}", path_with(&out.join("bin"))),
            format!("OCBAR_SOCKET={}", socket.display()),
        ];
        let script = out.join("waybar_session.sh");
        let mut cmd = common::session_command(out, &env, true, &script, &[out.as_os_str()]);
        cmd.stdout(Stdio::from(
            std::fs::File::create(out.join("session.log")).unwrap(),
        ));
        let child = spawn_owned(cmd).expect("spawn the waybar session");
        let bar = Bar {
            out: out.to_path_buf(),
            child,
        };
        let ready = poll(secs(40), Duration::from_millis(50), || {
            if out.join("failed").exists() {
                return Some(false);
            }
            out.join("ready").exists().then_some(true)
        });
        if ready != Some(true) {
            panic!("the waybar session did not come up:\n{}", bar.logs());
        }
        bar
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for f in [
            "failed",
            "session.err",
            "session.log",
            "sway.log",
            "waybar.log",
        ] {
            if let Ok(t) = std::fs::read_to_string(self.out.join(f)) {
                s.push_str(&format!("--- {f}\n{t}\n"));
            }
        }
        s
    }

    /// Every label list recorded so far, with its epoch-ms time.
    fn history(&self) -> Vec<(u64, String)> {
        std::fs::read_to_string(self.out.join("labels.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| {
                let labels: Vec<&str> = v["labels"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                (v["t"].as_u64().unwrap_or(0), labels.join(" | "))
            })
            .collect()
    }

    /// The current label text (all labels of waybar, joined).
    fn label(&self) -> String {
        self.history().pop().map(|(_, l)| l).unwrap_or_default()
    }

    fn wait_label(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        poll(timeout, Duration::from_millis(40), || {
            let l = self.label();
            pred(&l).then_some(l)
        })
        .unwrap_or_else(|| {
            panic!(
                "the waybar label never showed {what} in {timeout:?}; labels seen: {:#?}\n{}",
                self.history(),
                self.logs()
            )
        })
    }

    /// A `grim` screenshot of the bar, copied to `tests/artifacts/waybar-NAME.png`.
    fn screenshot(&self, name: &str) -> PathBuf {
        std::fs::write(self.out.join(format!("shot-{name}.req")), "").unwrap();
        let png = self.out.join(format!("{name}.png"));
        poll(secs(10), Duration::from_millis(50), || {
            (png.exists() || self.out.join(format!("{name}.err")).exists()).then_some(())
        });
        assert!(
            png.exists(),
            "grim failed: {}",
            std::fs::read_to_string(self.out.join(format!("{name}.err"))).unwrap_or_default()
        );
        let dest = artifacts_dir().join(format!("waybar-{name}.png"));
        std::fs::copy(&png, &dest).expect("copy the screenshot");
        dest
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        common::end_session(&self.out, &mut self.child);
    }
}

fn chown_nobody(p: &Path) {
    let ok = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(p)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown nobody {}", p.display());
}

#[test]
fn waybar_label_follows_the_sessions() {
    let started = Instant::now();
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();

    // The daemon, its socket reachable by nobody.
    let d = Daemon::start_with(&[&oc.url], &[], Some(CONFIG));
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o666)).unwrap();

    // Everything waybar runs or reads, owned by nobody.
    let tmp = tempfile::Builder::new()
        .prefix("ocbar-bars-waybar-")
        .tempdir()
        .unwrap();
    let out = tmp.path().canonicalize().unwrap();
    std::fs::create_dir_all(out.join("bin")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_ocbar"), out.join("bin/ocbar")).expect("copy ocbar");
    std::fs::copy(integration("waybar/config.jsonc"), out.join("waybar.jsonc")).unwrap();
    std::fs::copy(integration("waybar/style.css"), out.join("style.css")).unwrap();
    for f in ["waybar_session.sh", "atspi_watch.py"] {
        std::fs::copy(repo().join("tests/support").join(f), out.join(f)).unwrap();
    }
    chown_nobody(&out);
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();

    let bar = Bar::start(&out, &d.socket);
    let up = started.elapsed();

    // 1. busy, then done with its title; then a busy and an unvisited session side by side
    let sid = oc.create_session(&dir, Some("waybar alpha"));
    oc.prompt(&dir, &sid, "work a bit [slow 3]");
    bar.wait_label("the busy glyph", secs(30), |l| l.contains(BUSY));
    bar.wait_label("the finished title", secs(30), |l| {
        l.contains("waybar alpha") && l.contains(DONE) && !l.contains(BUSY)
    });
    let sid2 = oc.create_session(&dir, Some("waybar beta"));
    oc.prompt(&dir, &sid2, "work longer [slow 8]");
    let label = bar.wait_label("busy beside the unvisited title", secs(30), |l| {
        l.contains(BUSY) && l.contains("waybar alpha")
    });
    std::thread::sleep(Duration::from_millis(300)); // let waybar paint
    let shot = bar.screenshot("bar");
    if std::env::var("OCBAR_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        let docs = repo().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&shot, docs.join("waybar.png")).unwrap();
    }
    eprintln!(
        "bars_waybar: label {label:?}, screenshot {}",
        shot.display()
    );

    // 2. the on-click command opens the newest unvisited session: the title leaves the bar
    let click = daemon_harness::run_client(&d.socket, &["open", "--newest-unvisited"]);
    assert!(
        click.status.success(),
        "on-click: {}",
        String::from_utf8_lossy(&click.stderr)
    );
    bar.wait_label("the title gone after the click", secs(10), |l| {
        !l.contains("waybar alpha")
    });
    assert_eq!(
        d.session("waybar alpha").unwrap()["unvisited"],
        false,
        "opened"
    );
    d.wait_state("waybar beta", "done", secs(30));
    assert!(d.run(&["seen", "--all"]).status.success());

    // 3. a hostile title: the label shows it literally
    let pwned = out.join("pwned");
    let title = hostile_title(&pwned);
    let want = cleaned(&title);
    let sid3 = oc.create_session(&dir, Some(&title));
    oc.prompt(&dir, &sid3, "quick");
    let label = bar.wait_label("the hostile title, literally", secs(30), |l| {
        l.contains(want.as_str())
    });
    assert!(
        !label.chars().any(char::is_control),
        "a control character in the label: {label:?}"
    );
    bar.screenshot("hostile");
    assert!(!pwned.exists());

    drop(bar);
    eprintln!(
        "bars_waybar: sway + waybar up in {:.1?} (with OpenCode), whole test {:.1?}",
        up,
        started.elapsed()
    );
}
