//! Start a real `ocbar daemon` process for a test and talk to it through the real client.
//!
//! Uses the test kit (`tests/common`): a test file declares `mod common;` beside
//! `mod daemon_harness;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::wait_or_fail;

/// The `ocbar` binary under test.
pub fn ocbar_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ocbar")
}

/// A running daemon with its own private socket directory; killed on drop.
pub struct Daemon {
    pub child: Child,
    /// How it was started, to restart it the same way.
    servers: Vec<String>,
    env: Vec<(String, String)>,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    /// Everything the daemon wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl Daemon {
    /// `ocbar daemon --server URL…` with extra environment (e.g. a password).
    pub fn start(servers: &[&str], env: &[(&str, &str)]) -> Daemon {
        Self::start_with(servers, env, None)
    }

    /// As [`Daemon::start`], with a config file body.
    pub fn start_with(servers: &[&str], env: &[(&str, &str)], config: Option<&str>) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.toml"), config.unwrap_or("")).expect("write config");
        let servers: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (child, log) = spawn(dir.path(), &servers, &env);
        let d = Daemon {
            child,
            servers,
            env,
            socket: dir.path().join("ocbar.sock"),
            dir,
            log,
        };
        // The socket file exists from bind(2) on, before the daemon listens: a query in between
        // is refused. Wait until one is answered.
        wait_or_fail(
            Duration::from_secs(10),
            "daemon answers on its socket",
            || {
                d.socket.exists()
                    && run_client(&d.socket, &["status", "--format", "json"])
                        .status
                        .success()
            },
        );
        d
    }

    /// `kill -9` the daemon and start it again on the same socket, config and state dir.
    pub fn kill9_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, log) = spawn(self.dir.path(), &self.servers, &self.env);
        self.child = child;
        self.log = log;
        let socket = self.socket.clone();
        wait_or_fail(Duration::from_secs(10), "restarted daemon answers", || {
            run_client(&socket, &["status", "--format", "json"])
                .status
                .success()
        });
    }
}

fn spawn(dir: &Path, servers: &[String], env: &[(String, String)]) -> (Child, Arc<Mutex<String>>) {
    {
        let socket = dir.join("ocbar.sock");
        let mut cmd = Command::new(ocbar_bin());
        cmd.arg("daemon").arg("--socket").arg(&socket);
        for s in servers {
            cmd.arg("--server").arg(s);
        }
        cmd.arg("--config").arg(dir.join("config.toml"));
        cmd.env_remove("OCBAR_SERVER")
            .env_remove("OPENCODE_SERVER_PASSWORD")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("TMUX")
            // tmux push and the tmux channel must not reach a developer's own tmux server.
            .env("TMUX_TMPDIR", dir.join("tmux"))
            // No process discovery: it would pick up the OpenCode servers of concurrent tests
            // (a test that wants it passes OCBAR_DISCOVERY=1 in `env`).
            .env("OCBAR_DISCOVERY", "0")
            .env("XDG_CONFIG_HOME", dir)
            .env("XDG_STATE_HOME", dir.join("state"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn ocbar daemon");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[daemon] {line}");
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        (child, log)
    }
}

impl Daemon {
    /// Run `ocbar ARGS` against this daemon.
    pub fn run(&self, args: &[&str]) -> Output {
        run_client(&self.socket, args)
    }

    /// `ocbar status --format json`, parsed.
    pub fn json(&self) -> Value {
        let out = self.run(&["status", "--format", "json"]);
        assert!(
            out.status.success(),
            "status --format json failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status json parses")
    }

    /// The session whose title is `title` in the JSON snapshot.
    pub fn session(&self, title: &str) -> Option<Value> {
        self.json()["sessions"]
            .as_array()?
            .iter()
            .find(|s| s["title"] == title)
            .cloned()
    }

    /// Wait until the session titled `title` shows `state`; returns it.
    pub fn wait_state(&self, title: &str, state: &str, timeout: Duration) -> Value {
        let mut last = Value::Null;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            last = self.json();
            if let Some(s) = last["sessions"].as_array().and_then(|a| {
                a.iter()
                    .find(|s| s["title"] == title && s["state"] == state)
            }) {
                return s.clone();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "session '{title}' never reached state '{state}' in {timeout:?}; last snapshot: {last:#}\ndaemon log:\n{}",
            self.log.lock().map(|l| l.clone()).unwrap_or_default()
        );
    }

    /// The daemon log so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run the client binary against a socket.
pub fn run_client(socket: &Path, args: &[&str]) -> Output {
    Command::new(ocbar_bin())
        .args(args)
        .env("OCBAR_SOCKET", socket)
        .env_remove("NO_COLOR")
        .output()
        .expect("run ocbar client")
}

/// Every snapshot an `ocbar watch --format json` subscriber saw, in order.
pub struct History {
    child: Child,
    pub snapshots: Arc<Mutex<Vec<Value>>>,
    /// When each of `snapshots` was read (same order).
    pub arrived: Arc<Mutex<Vec<Instant>>>,
}

impl Daemon {
    /// Start following the daemon with a real `ocbar watch --format json`.
    pub fn history(&self) -> History {
        let mut child = Command::new(ocbar_bin())
            .args(["watch", "--format", "json"])
            .env("OCBAR_SOCKET", &self.socket)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ocbar watch");
        let stdout = child.stdout.take().expect("watch stdout");
        let snapshots = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Mutex::new(Vec::new()));
        let (sink, times) = (snapshots.clone(), arrived.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let at = Instant::now();
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && let (Ok(mut t), Ok(mut s)) = (times.lock(), sink.lock())
                {
                    t.push(at);
                    s.push(v);
                }
            }
        });
        History {
            child,
            snapshots,
            arrived,
        }
    }
}

impl History {
    /// The first time the session titled `title` was seen in `state`, waiting up to `timeout`.
    pub fn wait_seen(&self, title: &str, state: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.find(|s| s["title"] == title && s["state"] == state) {
                return s;
            }
            if Instant::now() > deadline {
                let states: Vec<String> = self
                    .snapshots
                    .lock()
                    .map(|v| {
                        v.iter()
                            .filter_map(|snap| {
                                snap["sessions"]
                                    .as_array()?
                                    .iter()
                                    .find(|s| s["title"] == title)
                                    .map(|s| s["state"].as_str().unwrap_or("?").to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                panic!(
                    "session '{title}' was never seen '{state}' in {timeout:?}; its states seen: {states:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// When the subscriber first read a line with the session titled `title` in `state`,
    /// waiting up to `timeout`.
    pub fn wait_seen_at(&self, title: &str, state: &str, timeout: Duration) -> Instant {
        self.wait_seen(title, state, timeout);
        let (times, snaps) = (self.arrived.lock().unwrap(), self.snapshots.lock().unwrap());
        times
            .iter()
            .zip(snaps.iter())
            .find(|(_, snap)| {
                snap["sessions"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|s| s["title"] == title && s["state"] == state))
            })
            .map(|(at, _)| *at)
            .expect("seen above")
    }

    /// The first session entry (in any snapshot so far) matching `pred`.
    pub fn find(&self, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let snaps = self.snapshots.lock().ok()?;
        snaps.iter().find_map(|snap| {
            snap["sessions"]
                .as_array()?
                .iter()
                .find(|s| pred(s))
                .cloned()
        })
    }

    /// The first whole snapshot matching `pred`.
    pub fn find_snapshot(&self, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let snaps = self.snapshots.lock().ok()?;
        snaps.iter().find(|s| pred(s)).cloned()
    }
}

impl Drop for History {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
