//! A private tmux server for tests that drive real TUIs (OpenCode's) in panes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{require_tool, secs};

/// A private tmux server (`tmux -D`, a child of this test: it dies with it) whose panes run
/// with `env` only.
pub struct Tmux {
    bin: PathBuf,
    sock: PathBuf,
    server: Child,
    _dir: tempfile::TempDir,
}

impl Tmux {
    pub fn start(env: &[(&str, String)]) -> Tmux {
        Self::launch(env, false)
    }

    /// The same in a PID namespace of its own (`unshare --pid --fork --kill-child
    /// --mount-proc`): what runs in its panes sees only each other in `/proc`, so a daemon
    /// started there discovers only the OpenCode started there, not other tests'. Killing the
    /// server (on drop) ends the namespace and everything in it.
    pub fn start_isolated(env: &[(&str, String)]) -> Tmux {
        Self::launch(env, true)
    }

    fn launch(env: &[(&str, String)], isolated: bool) -> Tmux {
        let bin = require_tool("tmux");
        let dir = tempfile::Builder::new()
            .prefix("ocbar-tmux-")
            .tempdir()
            .unwrap();
        let sock = dir.path().join("sock");
        let mut cmd = if isolated {
            let mut c = Command::new(require_tool("unshare"));
            c.args(["--pid", "--fork", "--kill-child", "--mount-proc"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.arg("-D")
            .arg("-S")
            .arg(&sock)
            .args(["-f", "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let server = super::spawn_owned(cmd).expect("start tmux -D");
        let t = Tmux {
            bin,
            sock,
            server,
            _dir: dir,
        };
        assert!(
            super::wait_until(secs(10), || t.sock.exists()
                && t.run(&["list-sessions"]).status.code().is_some()),
            "tmux server did not start"
        );
        t.ok(&["set-option", "-g", "remain-on-exit", "on"]);
        t.ok(&["set-option", "-g", "history-limit", "100"]);
        t
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .env("LANG", "C.UTF-8")
            .output()
            .expect("run tmux")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A 160x45 window running `argv` in `cwd` (wide enough for OpenCode's sidebar).
    pub fn spawn(&self, name: &str, cwd: &Path, argv: &[&str]) {
        let cwd = cwd.to_string_lossy();
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "160",
            "-y",
            "45",
            "-c",
            &cwd,
            "--",
        ];
        args.extend_from_slice(argv);
        self.ok(&args);
    }

    pub fn screen(&self, name: &str) -> String {
        self.ok(&["capture-pane", "-p", "-t", name])
    }

    pub fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        self.ok(&args);
    }

    /// Wait until the screen of `name` satisfies `pred`; returns it (or panics showing it).
    pub fn wait_screen(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        wait_for_screen(
            || self.screen(name),
            timeout,
            &format!("{name}: {what}"),
            pred,
        )
    }

    pub fn pane_pid(&self, name: &str) -> u32 {
        self.ok(&["display-message", "-p", "-t", name, "#{pane_pid}"])
            .trim()
            .parse()
            .expect("pane pid")
    }
}

/// A real tmux client of a [`Tmux`] server, attached to one of its sessions: `tmux attach` run
/// in a pane of a second private tmux server, which is its terminal. tmux counts it as a client
/// that shows a window; what its terminal sends it (focus in and out) is typed into that pane.
pub struct Client {
    terminal: Tmux,
}

impl Client {
    /// Its terminal reports that it lost focus (`ESC [ O`, what a terminal sends with focus
    /// reporting on, which tmux turns on with `focus-events on`).
    pub fn focus_out(&self) {
        self.terminal
            .ok(&["send-keys", "-t", "term", "-l", "\x1b[O"]);
    }

    /// Its terminal reports that it has focus again (`ESC [ I`).
    pub fn focus_in(&self) {
        self.terminal
            .ok(&["send-keys", "-t", "term", "-l", "\x1b[I"]);
    }
}

impl Tmux {
    /// Attach a real client (see [`Client`]) to `session`, 160x46 (45 rows under its status
    /// line, as [`Tmux::spawn`] sizes windows); it detaches when dropped.
    pub fn attach_client(&self, session: &str) -> Client {
        let terminal = Tmux::start(&[]);
        let before = self
            .ok(&["list-clients", "-F", "#{client_name}"])
            .lines()
            .count();
        let sock = self.sock.to_string_lossy().into_owned();
        let bin = self.bin.to_string_lossy().into_owned();
        terminal.ok(&[
            "new-session",
            "-d",
            "-s",
            "term",
            "-x",
            "160",
            "-y",
            "46",
            "--",
            "env",
            "-u",
            "TMUX",
            &bin,
            "-S",
            &sock,
            "attach",
            "-t",
            session,
        ]);
        assert!(
            super::wait_until(secs(10), || self
                .ok(&["list-clients", "-F", "#{client_name}"])
                .lines()
                .count()
                > before),
            "the tmux client did not attach to {session}"
        );
        Client { terminal }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Capture a screen every 200 ms until it satisfies `pred`, and return it; past `timeout`, fail
/// the test naming `what` and showing the last screen. For any tmux a test drives (this
/// module's [`Tmux`], or a test's own servers).
pub fn wait_for_screen(
    mut capture: impl FnMut() -> String,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        last = capture();
        if pred(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what}: not on screen within {timeout:?}; the screen:\n{last}");
}
