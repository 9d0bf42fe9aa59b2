//! What a new user meets in the first hour, tested where it happens:
//!
//! - a server on the default URL that exits is dropped, and when it returns `doctor` names the
//!   live process (a real OpenCode; the default URL is injected with `[discovery] probe`, so
//!   the test never binds port 4096, which parallel tests and the user may use);
//! - a daemon that failed to start is explained by `ocbar doctor` and in the tmux segment of
//!   the tmux server that started it (the command line, a real tmux);
//! - the tmux integrations find `ocbar` in ~/.cargo/bin when tmux's PATH lacks it, and say in
//!   the segment when there is none (a real tmux);
//! - `doctor`'s hints follow what is installed and connected (the command line);
//! - the sound command plays for a finished session and not for a muted one (a real OpenCode).
//! - the README's Quick start, typed line by line into a shell in tmux with a fresh HOME,
//!   against the real OpenCode TUI (the fake LLM), prints what the README says at each step.

mod common;
mod daemon_harness;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output};

use common::{FakeLlm, OpenCode, Options, require_tool, secs, wait_or_fail};
use daemon_harness::{Daemon, run_client};

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `server URL: …` line of `doctor`, if there is one.
fn server_line(d: &Daemon, url: &str) -> Option<String> {
    let doc = out(&d.run(&["doctor"]));
    doc.lines()
        .find(|l| l.starts_with(&format!("server {url}: ")))
        .map(str::to_string)
}

#[test]
fn the_default_server_is_dropped_when_it_exits_and_named_anew_when_it_returns() {
    let llm = FakeLlm::start();
    let mut oc = OpenCode::start(&llm, Options::default());
    let url = oc.url.clone();
    // What the daemon does for http://127.0.0.1:4096 when nothing is configured, on this URL.
    let config = format!(
        "[discovery]\ninterval_seconds = 1\nprobe = [\"{url}\"]\n[notify]\nenabled = false\n"
    );
    let d = Daemon::start_with(&[], &[("OCBAR_DISCOVERY", "1")], Some(&config));
    let first = oc.pid().expect("running");
    let connected =
        |pid: u32| format!("server {url}: connected (discovered: opencode serve, pid {pid})");
    wait_or_fail(secs(30), "the server discovered, with its pid", || {
        server_line(&d, &url).as_deref() == Some(connected(first).as_str())
    });

    // It exits: dropped within a few scans, no longer "NOT CONNECTED" with a dead pid.
    oc.stop();
    let stopped = std::time::Instant::now();
    wait_or_fail(secs(20), "the exited server dropped", || {
        server_line(&d, &url).is_none()
            && d.json()["servers"]
                .as_array()
                .is_some_and(|s| s.iter().all(|s| s["url"] != url.as_str()))
    });
    eprintln!("dropped {:.1?} after the server exited", stopped.elapsed());

    // It returns on the same URL: doctor names the new process.
    oc.start_again();
    let second = oc.pid().expect("running again");
    assert_ne!(first, second);
    wait_or_fail(secs(30), "the returned server named by its new pid", || {
        server_line(&d, &url).as_deref() == Some(connected(second).as_str())
    });
}

#[test]
fn a_probed_server_no_process_names_is_followed_while_it_answers() {
    let llm = FakeLlm::start();
    // Under another name no scan sees it: only the probe can find it (a server in a container).
    let opts = Options {
        argv0: Some("oc-hidden".into()),
        ..Options::default()
    };
    let mut oc = OpenCode::start(&llm, opts);
    let url = oc.url.clone();
    let config = format!(
        "[discovery]\ninterval_seconds = 1\nprobe = [\"{url}\"]\n[notify]\nenabled = false\n"
    );
    let d = Daemon::start_with(&[], &[("OCBAR_DISCOVERY", "1")], Some(&config));
    let probed = format!("server {url}: connected (discovered: probed, no process names it)");
    wait_or_fail(secs(30), "the probed server followed", || {
        server_line(&d, &url).as_deref() == Some(probed.as_str())
    });
    oc.stop();
    let stopped = std::time::Instant::now();
    wait_or_fail(secs(20), "the probed server dropped", || {
        server_line(&d, &url).is_none()
    });
    eprintln!(
        "probed server dropped {:.1?} after it exited",
        stopped.elapsed()
    );
}

/// A tmux server of the test's own, killed on drop.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn start(dir: &Path) -> Tmux {
        let socket = dir.join("tmux.sock");
        let ok = Command::new(require_tool("tmux"))
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .env_remove("TMUX")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "tmux new-session");
        Tmux { socket }
    }

    fn option(&self, name: &str) -> String {
        let o = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["show-option", "-gqv", name])
            .env_remove("TMUX")
            .output()
            .expect("tmux show-option");
        out(&o).trim_end().to_string()
    }

    /// `$TMUX` as tmux sets it for what it starts.
    fn env(&self) -> String {
        format!("{},0,0", self.socket.display())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .env_remove("TMUX")
            .status();
    }
}

fn daemon_cmd(dir: &Path, socket: &Path, config: &Path, tmux: &Tmux) -> Command {
    let mut cmd = Command::new(daemon_harness::ocbar_bin());
    cmd.args(["daemon", "--socket"])
        .arg(socket)
        .arg("--config")
        .arg(config)
        .env("OCBAR_DISCOVERY", "0")
        .env_remove("OCBAR_SERVER")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir)
        .env("TMUX", tmux.env());
    cmd
}

#[test]
fn a_daemon_that_failed_to_start_is_explained_by_doctor_and_in_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ocbar.sock");
    let config = dir.path().join("config.toml");
    let tmux = Tmux::start(dir.path());
    // A typo, as a user makes it.
    std::fs::write(&config, "[notify]\ntmux_sockt = \"/tmp/x\"\n").unwrap();
    let failed = daemon_cmd(dir.path(), &socket, &config, &tmux)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(2), "{}", err(&failed));
    assert!(
        err(&failed).contains("line 2, column 1"),
        "{}",
        err(&failed)
    );

    let doc = run_client(&socket, &["doctor"]);
    assert_eq!(doc.status.code(), Some(1));
    let doc = out(&doc);
    assert!(doc.contains("daemon: NOT REACHABLE"), "{doc}");
    assert!(doc.contains("FAILED TO START"), "{doc}");
    assert!(
        doc.contains(&format!(
            "config file {}: line 2, column 1: unknown field `tmux_sockt`",
            config.display()
        )),
        "{doc}"
    );
    assert!(doc.contains("fix: correct the config file"), "{doc}");
    assert!(
        doc.contains("start it again: 'ocbar daemon --background'"),
        "{doc}"
    );
    let kept = dir.path().join("ocbar.sock.last-error");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The tmux server that started it shows it where the segment is.
    let notice = tmux.option("@ocbar");
    assert!(
        notice.contains("ocbar: not running, see 'ocbar doctor'"),
        "{notice:?}"
    );

    // Fixed and started again: doctor is the daemon's own, the error is forgotten, and the
    // segment is the daemon's line again.
    std::fs::write(&config, "[notify]\nenabled = false\n").unwrap();
    let mut cmd = daemon_cmd(dir.path(), &socket, &config, &tmux);
    cmd.arg("--server")
        .arg(format!("http://127.0.0.1:{}", common::free_port()))
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_or_fail(secs(10), "the daemon answers", || {
        run_client(&socket, &["doctor"]).status.success()
    });
    let doc = out(&run_client(&socket, &["doctor"]));
    assert!(!doc.contains("FAILED"), "{doc}");
    assert!(!kept.exists());
    wait_or_fail(secs(10), "the notice replaced by the daemon's line", || {
        !tmux.option("@ocbar").contains("not running")
    });
    let _ = child.kill();
    let _ = child.wait();
    // Killed, not failed: doctor says start it, with no stale error.
    let doc = out(&run_client(&socket, &["doctor"]));
    assert!(
        doc.contains("Start the daemon with 'ocbar daemon --background'"),
        "{doc}"
    );
}

/// The two ways to load ocbar into tmux, unchanged: the plugin and the plain snippet, as the
/// tmux command that loads each.
fn tmux_loaders() -> [(&'static str, [String; 2]); 2] {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/tmux");
    [
        (
            "plugin",
            [
                "run-shell".into(),
                repo.join("ocbar.tmux").display().to_string(),
            ],
        ),
        (
            "snippet",
            [
                "source-file".into(),
                repo.join("ocbar.conf").display().to_string(),
            ],
        ),
    ]
}

/// A home of the test's own under `t` (config, state, a private runtime dir for the socket),
/// and a tmux server at `t/tmux.sock` started there with `path` for its PATH, killed on drop.
fn tmux_at_home(t: &Path, path: &str) -> Tmux {
    std::fs::create_dir_all(t.join("run")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let tmux = Tmux {
        socket: t.join("tmux.sock"),
    };
    tmux_in(
        t,
        path,
        &["-f", "/dev/null", "new-session", "-d", "-s", "t"],
    );
    tmux
}

/// Run tmux on `t/tmux.sock` with the environment of [`tmux_at_home`]; it must succeed.
fn tmux_in(t: &Path, path: &str, args: &[&str]) {
    let ok = Command::new(require_tool("tmux"))
        .arg("-S")
        .arg(t.join("tmux.sock"))
        .args(args)
        .env_remove("TMUX")
        .env_remove("OCBAR_SOCKET")
        .env("PATH", path)
        .env("HOME", t)
        .env("XDG_CONFIG_HOME", t.join("cfg"))
        .env("XDG_RUNTIME_DIR", t.join("run"))
        .env("XDG_STATE_HOME", t.join("state"))
        .env("OCBAR_DISCOVERY", "0")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "tmux {args:?}");
}

/// The tmux integrations unchanged, in a real tmux whose environment has a config with a
/// typo: the daemon they start fails, and the segment says so instead of going blank.
#[test]
fn the_tmux_autostart_shows_a_failed_start_in_the_segment() {
    require_tool("bash");
    let bin_dir = Path::new(daemon_harness::ocbar_bin()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (name, load) in tmux_loaders() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        std::fs::create_dir_all(t.join("cfg/ocbar")).unwrap();
        std::fs::write(
            t.join("cfg/ocbar/config.toml"),
            "[render]
title_widht = 30
",
        )
        .unwrap();
        let socket = t.join("run/ocbar.sock");
        let tmux = tmux_at_home(t, &path);
        tmux_in(t, &path, &[&load[0], &load[1]]);
        wait_or_fail(secs(20), "the notice in @ocbar", || {
            tmux.option("@ocbar")
                .contains("ocbar: not running, see 'ocbar doctor'")
        });
        let doc = out(&run_client(&socket, &["doctor"]));
        assert!(doc.contains("FAILED TO START"), "{name}: {doc}");
        assert!(doc.contains("unknown field `title_widht`"), "{name}: {doc}");
    }
}

/// The PATH of the machine without any directory that holds an `ocbar` (a developer's
/// ~/.cargo/bin may).
fn path_without_ocbar() -> String {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty() && !Path::new(d).join("ocbar").exists())
        .collect::<Vec<_>>()
        .join(":")
}

/// `cargo install` puts ocbar in ~/.cargo/bin, which a tmux started from a desktop session
/// often does not have on its PATH. Both integrations, in a real tmux whose PATH has no ocbar:
/// they find ~/.cargo/bin/ocbar and start the daemon; with no ocbar there either, the segment
/// says so (the snippet used to fail silently).
#[test]
fn tmux_finds_ocbar_in_cargo_bin_and_says_when_there_is_none() {
    require_tool("bash");
    require_tool("tmux");
    let path = path_without_ocbar();
    for (name, load) in tmux_loaders() {
        // No ocbar anywhere: the segment says so.
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        let tmux = tmux_at_home(t, &path);
        tmux_in(t, &path, &[&load[0], &load[1]]);
        wait_or_fail(secs(20), "the not-found notice in @ocbar", || {
            tmux.option("@ocbar").contains("ocbar: program not found")
        });
        let notice = tmux.option("@ocbar");
        assert!(
            notice.starts_with("#[fg=white,bg=red] ocbar: program not found (not on the PATH of tmux, not in ~/.cargo/bin): set -g @ocbar-bin /path/to/ocbar"),
            "{name}: {notice:?}"
        );
        drop(tmux);

        // ~/.cargo/bin/ocbar: found there, and the daemon it starts answers.
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        std::fs::create_dir_all(t.join(".cargo/bin")).unwrap();
        std::os::unix::fs::symlink(daemon_harness::ocbar_bin(), t.join(".cargo/bin/ocbar"))
            .unwrap();
        let socket = t.join("run/ocbar.sock");
        let tmux = tmux_at_home(t, &path);
        tmux_in(t, &path, &[&load[0], &load[1]]);
        wait_or_fail(secs(20), "the daemon started from ~/.cargo/bin", || {
            run_client(&socket, &["doctor"]).status.success()
        });
        assert!(!tmux.option("@ocbar").contains("not found"), "{name}");
        let doc = out(&run_client(&socket, &["doctor"]));
        let pid: i32 = doc
            .lines()
            .next()
            .and_then(|l| l.rsplit_once("pid "))
            .and_then(|(_, p)| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}: the daemon's pid in {doc}"));
        // SAFETY: a plain kill of the daemon this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        wait_or_fail(secs(10), "the daemon stopped", || {
            !run_client(&socket, &["doctor"]).status.success()
        });
    }
}

/// `ocbar install opencode-plugin` the way a user runs it, into the daemon's config home.
fn install_plugin(d: &Daemon) {
    let o = Command::new(daemon_harness::ocbar_bin())
        .args(["install", "opencode-plugin"])
        .env("XDG_CONFIG_HOME", d.dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
}

#[test]
fn doctor_hints_follow_the_plugin_and_the_tuis() {
    let url = format!("http://127.0.0.1:{}", common::free_port());
    let d = Daemon::start(&[&url], &[]);
    let doctor = || out(&d.run(&["doctor"]));

    let doc = doctor();
    assert!(
        doc.contains("tuis: none connected (install the plugin: 'ocbar install opencode-plugin', then restart your OpenCode TUIs)"),
        "{doc}"
    );

    install_plugin(&d);
    let doc = doctor();
    assert!(
        !doc.contains("ocbar install"),
        "installed: no install hint\n{doc}"
    );
    assert!(
        doc.contains(&format!(
            "the plugin is installed, {} lists it: restart OpenCode TUIs",
            d.dir.path().join("opencode/tui.json").display()
        )),
        "{doc}"
    );

    std::fs::remove_file(d.dir.path().join("opencode/plugins/ocbar.tsx")).unwrap();
    let doc = doctor();
    assert!(
        doc.contains("lists the plugin but its file plugins/ocbar.tsx (or plugins/ocbar/core.tsx) is missing: run 'ocbar install opencode-plugin'"),
        "{doc}"
    );
    install_plugin(&d);

    // A plain TUI's plugin connects (its first line, as integrations/opencode/ocbar.tsx sends
    // it): no hint at all, the TUI is listed.
    let mut tui = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    tui.write_all(
        b"tui {\"tui\":\"t1\",\"pid\":4242,\"tmux_pane\":null,\"directory\":\"/p\",\"server\":null}\n",
    )
    .unwrap();
    let mut lines = BufReader::new(tui.try_clone().unwrap()).lines();
    let _hello = lines.next().unwrap().unwrap();
    let ok = lines.next().unwrap().unwrap();
    assert!(ok.contains("bridge tui://4242"), "{ok}");
    wait_or_fail(secs(5), "the TUI in doctor", || {
        doctor().contains("tui t1: plain TUI, bridged as tui://4242")
    });
    let doc = doctor();
    assert!(!doc.contains("install"), "{doc}");
    assert!(!doc.contains("none connected"), "{doc}");
    drop(tui);
}

#[test]
fn the_sound_command_plays_for_a_finished_session_and_not_for_a_muted_one() {
    let llm = FakeLlm::start();
    let oc = OpenCode::start(&llm, Options::default());
    let dir = tempfile::tempdir().unwrap();
    let played = dir.path().join("played.log");
    let script = dir.path().join("play.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s|%s|%s\\n' \"$OCBAR_SOUND\" \"$OCBAR_TITLE\" \"$#\" >> '{}'\n",
            played.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = format!(
        "[notify]\ntoast = false\ndesktop = false\ntmux = false\nsummary_window_ms = 0\nsound_command = [\"{}\"]\n",
        script.display()
    );
    let d = Daemon::start_with(&[&oc.url], &[], Some(&config));
    wait_or_fail(secs(20), "connected", || {
        d.json()["servers"][0]["stale"] == false
    });
    let plays = || std::fs::read_to_string(&played).unwrap_or_default();
    let dir0 = oc.dir(0).to_path_buf();

    let quiet = oc.create_session(&dir0, Some("quiet one"));
    oc.prompt(&dir0, &quiet, "first");
    d.wait_state("quiet one", "done", secs(45));
    wait_or_fail(secs(10), "a sound for the finished session", || {
        plays().contains("complete|quiet one|0")
    });

    let m = d.run(&["mute", "quiet one"]);
    assert_eq!(out(&m).trim(), "muted 'quiet one': no notifications for it");
    oc.prompt(&dir0, &quiet, "again [slow 2]");
    d.wait_state("quiet one", "busy", secs(45));
    d.wait_state("quiet one", "done", secs(45));

    // A later session's sound comes after any the muted one would have made (one queue).
    let loud = oc.create_session(&dir0, Some("loud one"));
    oc.prompt(&dir0, &loud, "go");
    wait_or_fail(secs(45), "a sound for the other session", || {
        plays().contains("complete|loud one|0")
    });
    assert_eq!(
        plays().matches("quiet one").count(),
        1,
        "the muted session played nothing: {}",
        plays()
    );
}

/// The commands of the README's Quick start, in order: every line of its `sh` blocks, without
/// comments and output lines (so this test follows the README, and fails when they part).
fn quick_start_commands() -> Vec<String> {
    let readme = include_str!("../README.md");
    let start = readme.find("\n## Quick start\n").expect("a Quick start");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && !l.is_empty() && !l.starts_with('#') => {
                out.push(l.split(" # ").next().unwrap_or(l).trim().to_string());
            }
            _ => {}
        }
    }
    out
}

/// The README's Quick start as a new user follows it, line by line, in a fresh HOME: ocbar
/// where `cargo install` puts it, a shell in a real tmux, the daemon started in the
/// background, the real OpenCode TUI with a port in another tmux window (the fake LLM behind
/// it), a prompt, what `ocbar status`, `list` and `doctor` print at each step, then the tmux
/// plugin and the OpenCode plugin. The tmux server runs in a PID namespace of its own, so the
/// daemon discovers only this OpenCode, as on a user's machine.
#[test]
fn the_quick_start_works_as_written_in_a_fresh_home() {
    let t0 = std::time::Instant::now();
    let lap = |what: &str| eprintln!("quick start: {what} at {:.1?}", t0.elapsed());
    assert_eq!(
        quick_start_commands(),
        [
            "cargo install --path .",
            "ocbar daemon --background",
            "opencode --port 4096",
            "ocbar status",
            "ocbar list",
            "ocbar doctor",
        ],
        "the README's Quick start changed: walk the new one here"
    );
    require_tool("unshare");
    require_tool("bash");
    let opencode = require_tool("opencode");
    let llm = FakeLlm::start();
    // A project with the fake model and a home with OpenCode's config seed (what OpenCode's own
    // first start leaves there); the server it starts is stopped at once: the user's OpenCode
    // is the TUI below.
    let mut oc = OpenCode::start(
        &llm,
        Options {
            warm: false,
            ..Options::default()
        },
    );
    oc.stop();
    let home = oc.root.join("home");
    let project = oc.dir(0).to_path_buf();

    // 1. `cargo install --path .`: the binary in ~/.cargo/bin (building it again here would
    //    only cost minutes).
    std::fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    std::os::unix::fs::symlink(daemon_harness::ocbar_bin(), home.join(".cargo/bin/ocbar")).unwrap();
    let run = home.join("run");
    std::fs::create_dir_all(&run).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let socket = run.join("ocbar.sock");
    // The user's PATH: ~/.cargo/bin, OpenCode, the system; no other ocbar.
    let system = path_without_ocbar();
    let path = format!(
        "{}:{}:{system}",
        home.join(".cargo/bin").display(),
        opencode.parent().unwrap().display()
    );
    let env = [
        ("PATH", path.clone()),
        ("HOME", home.display().to_string()),
        ("XDG_RUNTIME_DIR", run.display().to_string()),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1".into()),
    ];
    let tmux = common::tmux::Tmux::start_isolated(&env);
    // (A new session or window takes the PATH of the tmux client that makes it, whatever `-e`
    // says: its shell gets the user's through `env`.)
    let path_env = format!("PATH={path}");
    let project_dir = project.display().to_string();
    let user_shell = [
        "-c",
        &project_dir,
        "--",
        "env",
        &path_env,
        "bash",
        "--norc",
        "--noprofile",
    ];
    let with_shell = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&user_shell);
        tmux.ok(&all);
    };
    with_shell(&["new-session", "-d", "-s", "me", "-x", "160", "-y", "45"]);
    // The screen with wrapped lines joined (paths are long).
    let screen = |target: &str| tmux.ok(&["capture-pane", "-pJ", "-t", target]);
    let wait = |target: &str, secs_: u64, what: &str, pred: &dyn Fn(&str) -> bool| {
        common::tmux::wait_for_screen(|| screen(target), secs(secs_), what, pred)
    };
    let type_line = |target: &str, line: &str| {
        tmux.keys(target, &["-l", line]);
        tmux.keys(target, &["Enter"]);
    };

    // 2. The daemon in the background, its log in a file.
    type_line("me", "ocbar daemon --background");
    let log = home.join(".local/state/ocbar/daemon.log");
    let shown = wait("me", 20, "the daemon started", &|s| {
        s.contains("ocbar: daemon running (pid")
    });
    assert!(
        shown.contains(&format!("on {}; log: {}", socket.display(), log.display())),
        "{shown}"
    );
    let logged = std::fs::read_to_string(&log).expect("the daemon's log file");
    assert!(logged.contains("listening on"), "{logged}");
    lap("daemon started");

    // 4, before anything runs: an empty line from `status` (right for a bar), words from `list`.
    let status = run_client(&socket, &["status"]);
    assert!(status.status.success());
    assert_eq!(out(&status), "\n", "nothing runs: an empty line");
    type_line("me", "ocbar list");
    wait("me", 10, "the list says it in words", &|s| {
        s.contains("No active or recently finished sessions.")
    });

    // 3. OpenCode with a port, in another tmux window (its TUI takes that window). Not 4096:
    //    other tests and the user may use it.
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}");
    with_shell(&["new-window", "-t", "me", "-n", "opencode"]);
    type_line("me:opencode", &format!("opencode --port {port}"));
    wait("me:opencode", 120, "the OpenCode TUI", &|s| {
        s.contains("Ask anything")
    });
    lap("TUI up");
    tmux.ok(&["select-window", "-t", "me:0"]);
    let connected = format!("server {url}: connected (discovered:");
    wait_or_fail(secs(30), "the TUI's server discovered", || {
        out(&run_client(&socket, &["doctor"])).contains(&connected)
    });
    type_line("me", "clear; ocbar doctor");
    wait("me", 10, "doctor names the server", &|s| {
        s.contains(&connected)
    });
    lap("discovered");

    // A prompt in the TUI: busy, then finished and unvisited, in `status` and `list`.
    type_line(
        "me:opencode",
        "fix the parser [slow 3] [title=Fix the parser]",
    );
    wait_or_fail(secs(30), "one session busy: ◔1", || {
        out(&run_client(&socket, &["status"])).starts_with("◔1")
    });
    wait_or_fail(secs(60), "finished, unvisited, titled", || {
        out(&run_client(&socket, &["status"])) == "✓1 ✓ Fix the parser\n"
    });
    type_line("me", "clear; ocbar status; ocbar list");
    let shown = wait("me", 10, "status and list", &|s| {
        s.contains("✓1 ✓ Fix the parser") && s.matches("Fix the parser").count() >= 2
    });
    eprintln!("{shown}");
    lap("session finished");

    // 5. The bar: the tmux plugin from the clone, as the README's tmux section says.
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/tmux/ocbar.tmux");
    tmux.ok(&["set-option", "-g", "status-right", "#{ocbar} %H:%M"]);
    tmux.ok(&["run-shell", &plugin.display().to_string()]);
    assert_eq!(
        tmux.ok(&["show-option", "-gv", "status-right"]).trim_end(),
        "#{@ocbar} %H:%M"
    );
    wait_or_fail(secs(10), "the segment in tmux", || {
        tmux.ok(&["show-option", "-gqv", "@ocbar"])
            .contains("Fix the parser")
    });
    // And the OpenCode plugin.
    type_line("me", "clear; ocbar install opencode-plugin");
    wait("me", 10, "the plugin installed", &|s| {
        s.contains("tui.json") && s.contains("ocbar.tsx")
    });
    assert!(home.join(".config/opencode/plugins/ocbar.tsx").is_file());

    // "then restart your OpenCode TUIs": quit this one. Its server goes with it, and the
    // finished session stays, unvisited and unreachable.
    tmux.keys("me:opencode", &["C-c"]);
    wait_or_fail(
        secs(30),
        "the session unreachable once the TUI quit",
        || {
            let j: serde_json::Value =
                serde_json::from_str(&out(&run_client(&socket, &["status", "--format", "json"])))
                    .unwrap_or_default();
            j["sessions"][0]["title"] == "Fix the parser"
                && j["sessions"][0]["reachable"] == false
                && j["sessions"][0]["unvisited"] == true
        },
    );
    type_line("me", "clear; ocbar list");
    wait("me", 10, "the list says unreachable", &|s| {
        s.lines()
            .any(|l| l.contains("Fix the parser") && l.contains("unreachable"))
    });
    // A plain `opencode` this time (no port: the plugin bridges it). In a session, its sidebar
    // lists the other one, unreachable, as the README promises.
    type_line("me:opencode", "clear; opencode");
    wait("me:opencode", 120, "the plain TUI", &|s| {
        s.contains("Ask anything")
    });
    type_line("me:opencode", "second job [title=Second job]");
    let sidebar = tmux.wait_screen(
        "me:opencode",
        secs(60),
        "the sidebar: the first session, unreachable",
        |s| {
            s.contains("● Fix the parser")
                && s.lines()
                    .any(|l| l.contains("done") && l.contains("unreachable"))
        },
    );
    eprintln!("{sidebar}");
    lap("sidebar");

    // Starting it again, as a login script would: already running, nothing breaks.
    type_line("me", "clear; ocbar daemon --background; echo \"exit $?\"");
    wait("me", 10, "already running", &|s| {
        s.contains("ocbar: a daemon is already running on") && s.contains("exit 0")
    });
    lap("done");
}

/// `ocbar daemon --background` does not leave a failed start to a log nobody reads: the
/// daemon's own error is printed and the exit status is 1; `--log` is where its lines go.
#[test]
fn a_background_start_that_fails_says_why_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ocbar.sock");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[render]\noffline_marker = off\n").unwrap();
    let log = dir.path().join("logs/ocbar.log");
    let failed = Command::new(daemon_harness::ocbar_bin())
        .args(["daemon", "--background", "--socket"])
        .arg(&socket)
        .arg("--config")
        .arg(&config)
        .arg("--log")
        .arg(&log)
        .env("OCBAR_DISCOVERY", "0")
        .env_remove("TMUX")
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let why = format!(
        "config file {}: line 2, column 18: render.offline_marker takes text in quotes: quote it, offline_marker = \"off\"",
        config.display()
    );
    assert!(
        err(&failed).starts_with(&format!(
            "ocbar: the daemon exited at start (exit status: 2); from its log {}:\nocbar: {why}\n",
            log.display()
        )),
        "{}",
        err(&failed)
    );
    assert!(std::fs::read_to_string(&log).unwrap().contains(&why));
    assert!(!run_client(&socket, &["doctor"]).status.success());
}

/// `ocbar doctor | head -1`: the reader closes the pipe early, and the rest of the output ends
/// quietly. It used to panic (SIGPIPE is ignored, so `println!` fails) and dump a trace.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::os::fd::FromRawFd;
    let dir = tempfile::tempdir().unwrap();
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two fds; the read end is closed at once, so every write to
    // the other fails with EPIPE, as when `head` has exited.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    // SAFETY: fds[1] is an open fd this test owns from here on.
    let write_end = unsafe { std::fs::File::from_raw_fd(fds[1]) };
    let o = Command::new(daemon_harness::ocbar_bin())
        .args(["doctor", "--socket"])
        .arg(dir.path().join("none.sock"))
        .stdout(write_end)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "no daemon: doctor exits 1");
    assert_eq!(err(&o), "", "nothing on stderr");
}
