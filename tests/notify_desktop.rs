//! The desktop channel against a fake `org.freedesktop.Notifications` server on a private
//! session bus (`dbus-daemon` + tests/support/fake_notifications.py), and the toast channel
//! still working when there is no bus.
//!
//! Needs dbus-daemon and Debian's python3-dbus + python3-gi; a missing tool fails the test.

mod notify_common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use notify_common::{ToastServer, note, require_on_path, wait_for_file};
use ocbar::daemon::notify::{Notifier, NotifyConfig, NotifyEnv, OpenRequest};
use ocbar::daemon::source::Credentials;
use ocbar::model::effect::{Notification, NotifyKind};
use serde_json::Value;

const SERVER: &str = "http://127.0.0.1:4096";
const WAIT: Duration = Duration::from_secs(10);

/// Kills its processes when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A private session bus with the fake notification server on it.
struct FakeDesktop {
    address: String,
    record: PathBuf,
    _procs: Procs,
    _dir: tempfile::TempDir,
}

fn read_line_within(child: &mut Child, what: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{what} printed nothing within {WAIT:?}"));
    assert!(!line.trim().is_empty(), "{what} exited without output");
    line.trim().to_string()
}

/// The Python that has Debian's dbus bindings (the system one, not a pyenv shim).
fn python_with_dbus() -> String {
    for py in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(py)
            .args(["-c", "import dbus, dbus.service, gi.repository.GLib"])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return py.to_string();
        }
    }
    panic!(
        "no python3 can import dbus and gi: install python3-dbus and python3-gi (scripts/install-test-deps.sh)"
    );
}

fn start_fake_desktop() -> FakeDesktop {
    require_on_path("dbus-daemon");
    let python = python_with_dbus();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut procs = Procs(Vec::new());
    let bus_path = dir.path().join("bus");
    let mut daemon = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile", "--print-address"])
        .arg(format!("--address=unix:path={}", bus_path.display()))
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("start dbus-daemon");
    let address = read_line_within(&mut daemon, "dbus-daemon");
    procs.0.push(daemon);

    let record = dir.path().join("calls.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_notifications.py");
    let mut fake = Command::new(python)
        .arg(&script)
        .arg(&record)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("start fake_notifications.py");
    let ready = read_line_within(&mut fake, "fake_notifications.py");
    assert_eq!(ready, "ready");
    procs.0.push(fake);
    FakeDesktop {
        address,
        record,
        _procs: procs,
        _dir: dir,
    }
}

impl FakeDesktop {
    /// Wait for at least `n` recorded calls.
    async fn calls(&self, n: usize) -> Vec<Value> {
        let text = wait_for_file(&self.record, WAIT, |t| t.lines().count() >= n).await;
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    async fn notifies(&self, n: usize) -> Vec<Value> {
        let start = std::time::Instant::now();
        loop {
            let calls = self.calls(0).await;
            let got: Vec<Value> = calls
                .into_iter()
                .filter(|c| c["method"] == "Notify")
                .collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < WAIT,
                "expected {n} Notify calls, got {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Click an action on notification `id`, as the notification server would report it.
    async fn click(&self, id: u64, action: &str) {
        let conn = zbus::connection::Builder::address(self.address.as_str())
            .build()
            .await
            .expect("connect to the private bus");
        let id = u32::try_from(id).expect("id fits u32");
        conn.call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.ocbar.FakeNotifications"),
            "InvokeAction",
            &(id, action),
        )
        .await
        .expect("InvokeAction");
    }
}

fn desktop_only(window_ms: u64) -> NotifyConfig {
    NotifyConfig {
        toast: false,
        tmux: false,
        summary_window_ms: window_ms,
        ..NotifyConfig::default()
    }
}

#[tokio::test]
async fn desktop_names_the_session_maps_urgency_replaces_in_place_and_opens() {
    let fake = start_fake_desktop();
    let env = NotifyEnv {
        dbus_address: Some(fake.address.clone()),
        auth: None,
    };
    let (notifier, mut opens) = Notifier::new(desktop_only(0)).with_env(env).open_channel();
    let (tx, task) = notifier.spawn();

    tx.send(note(NotifyKind::Done, SERVER, "ses_a", "fix login"))
        .unwrap();
    let first = fake.notifies(1).await.remove(0);
    assert_eq!(first["app_name"], "OpenCode");
    assert_eq!(first["replaces_id"], 0);
    assert_eq!(first["summary"], "fix login finished");
    assert!(
        first["body"].as_str().unwrap().contains("/home/me/proj"),
        "{first}"
    );
    assert_eq!(first["urgency"], 1);
    assert_eq!(first["urgency_is_byte"], true);
    // Sound is on by default: the freedesktop sound name for the kind.
    assert_eq!(first["sound_name"], "complete");
    assert_eq!(
        first["actions"],
        serde_json::json!(["default", "Open", "open", "Open"])
    );
    let id_a = first["id"].as_u64().unwrap();

    // The same session again: replaced in place, critical for an error.
    let err = Notification {
        message: Some("rate limit exceeded".into()),
        ..note(NotifyKind::Error, SERVER, "ses_a", "fix login")
    };
    tx.send(err).unwrap();
    let second = fake.notifies(2).await.remove(1);
    assert_eq!(second["replaces_id"].as_u64(), Some(id_a));
    assert_eq!(second["id"].as_u64(), Some(id_a));
    assert_eq!(second["summary"], "fix login failed");
    assert!(
        second["body"]
            .as_str()
            .unwrap()
            .contains("rate limit exceeded"),
        "{second}"
    );
    assert_eq!(second["urgency"], 2);
    assert_eq!(second["sound_name"], "dialog-error");

    // Another session: a notification of its own.
    tx.send(note(NotifyKind::Waiting, SERVER, "ses_b", "research"))
        .unwrap();
    let third = fake.notifies(3).await.remove(2);
    assert_eq!(third["replaces_id"], 0);
    assert_ne!(third["id"].as_u64(), Some(id_a));
    assert_eq!(third["summary"], "research is waiting for you");
    assert_eq!(third["urgency"], 2);
    assert_eq!(third["sound_name"], "dialog-question");

    tx.send(note(NotifyKind::Retry, SERVER, "ses_c", "docs"))
        .unwrap();
    let fourth = fake.notifies(4).await.remove(3);
    assert_eq!(fourth["summary"], "docs is retrying");
    assert_eq!(fourth["urgency"], 1);
    assert_eq!(fourth["sound_name"], "dialog-warning");

    // Clicking "Open" on the first notification asks the daemon to open that session.
    fake.click(id_a, "default").await;
    let req = tokio::time::timeout(WAIT, opens.recv())
        .await
        .expect("an open request within the wait")
        .expect("open channel alive");
    assert_eq!(
        req,
        OpenRequest {
            server: SERVER.into(),
            session: "ses_a".into()
        }
    );
    // Other actions or foreign ids are ignored.
    fake.click(9999, "default").await;
    fake.click(id_a, "dismiss").await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), opens.recv())
            .await
            .is_err()
    );

    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn a_burst_becomes_one_summary_that_supersedes_per_session_notifications() {
    let fake = start_fake_desktop();
    let env = NotifyEnv {
        dbus_address: Some(fake.address.clone()),
        auth: None,
    };
    let (tx, task) = Notifier::new(desktop_only(300)).with_env(env).spawn();

    tx.send(note(NotifyKind::Done, SERVER, "ses_a", "alpha"))
        .unwrap();
    let single = fake.notifies(1).await.remove(0);
    assert_eq!(single["summary"], "alpha finished");
    let id_a = single["id"].as_u64().unwrap();

    for (s, t) in [("ses_a", "alpha"), ("ses_b", "beta"), ("ses_c", "gamma")] {
        tx.send(note(NotifyKind::Done, SERVER, s, t)).unwrap();
    }
    let summary = fake.notifies(2).await.remove(1);
    assert_eq!(summary["summary"], "3 sessions finished");
    assert_eq!(
        summary["body"],
        "alpha finished\nbeta finished\ngamma finished"
    );
    assert_eq!(summary["replaces_id"], 0);
    let calls = fake.calls(3).await;
    assert!(
        calls
            .iter()
            .any(|c| c["method"] == "CloseNotification" && c["id"].as_u64() == Some(id_a)),
        "the stale per-session notification is closed: {calls:?}"
    );
    // Nothing else was sent for the burst.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.notifies(2).await.len(), 2);

    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn sound_off_sends_no_hint_and_the_sound_command_plays_with_sound_on() {
    let fake = start_fake_desktop();
    let dir = tempfile::tempdir().unwrap();
    let played = dir.path().join("played");
    // A string command runs with sh -c; the event only in the environment.
    let sound_command = Some(ocbar::daemon::notify::CommandSpec::Shell(format!(
        "printf '%s|%s\\n' \"$OCBAR_SOUND\" \"$OCBAR_TITLE\" >> '{}'",
        played.display()
    )));
    let env = || NotifyEnv {
        dbus_address: Some(fake.address.clone()),
        auth: None,
    };
    // sound = false: no hint, and the sound command does not run.
    let off = NotifyConfig {
        sound: false,
        sound_command: sound_command.clone(),
        ..desktop_only(0)
    };
    let (tx, task) = Notifier::new(off).with_env(env()).spawn();
    tx.send(note(NotifyKind::Done, SERVER, "ses_a", "quiet"))
        .unwrap();
    let quiet = fake.notifies(1).await.remove(0);
    assert_eq!(quiet["summary"], "quiet finished");
    assert_eq!(quiet["sound_name"], Value::Null);
    drop(tx);
    task.await.unwrap();
    assert!(!played.exists(), "sound off: nothing played");

    // sound on (the default) with a command: the hint, and the command with the sound name.
    let on = NotifyConfig {
        sound_command,
        ..desktop_only(0)
    };
    let (tx, task) = Notifier::new(on).with_env(env()).spawn();
    tx.send(note(NotifyKind::Waiting, SERVER, "ses_b", "$(id) `id`"))
        .unwrap();
    let asked = fake.notifies(2).await.remove(1);
    assert_eq!(asked["sound_name"], "dialog-question");
    let text = wait_for_file(&played, WAIT, |t| t.ends_with('\n')).await;
    assert_eq!(text, "dialog-question|$(id) `id`\n");
    drop(tx);
    task.await.unwrap();
}

async fn toast_without_bus(dbus_address: Option<String>) {
    let toast = ToastServer::start().await;
    let config = NotifyConfig {
        tmux: false,
        summary_window_ms: 0,
        ..NotifyConfig::default()
    };
    let auth = Credentials {
        username: "opencode".into(),
        password: "s3cret".into(),
    };
    let env = NotifyEnv {
        dbus_address,
        auth: Some(auth),
    };
    let (tx, task) = Notifier::new(config).with_env(env).spawn();
    tx.send(note(NotifyKind::Done, &toast.url, "ses_a", "fix login"))
        .unwrap();
    tx.send(note(NotifyKind::Error, &toast.url, "ses_b", "docs"))
        .unwrap();
    let got = toast.wait_for(2, WAIT).await;
    let first = &got[0];
    assert_eq!(first.method, "POST");
    assert_eq!(
        first.target,
        "/tui/show-toast?directory=%2Fhome%2Fme%2Fproj"
    );
    assert_eq!(
        first.authorization.as_deref(),
        Some("Basic b3BlbmNvZGU6czNjcmV0")
    );
    assert_eq!(
        first.body,
        serde_json::json!({"title": "ocbar", "message": "fix login finished", "variant": "success", "duration": 5000})
    );
    assert_eq!(got[1].body["variant"], "error");
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn without_a_session_bus_the_toast_still_works() {
    toast_without_bus(None).await;
}

#[tokio::test]
async fn with_an_unreachable_bus_the_toast_still_works() {
    toast_without_bus(Some("unix:path=/nonexistent/ocbar-test/bus".into())).await;
}
