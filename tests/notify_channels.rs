//! The toast, command and tmux channels through the whole `Notifier`, and that a hanging or
//! failing channel never delays the others. The tmux test drives a real tmux (a missing tmux
//! fails it).

mod notify_common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use notify_common::{ToastServer, note, require_on_path, wait_for_file};
use ocbar::daemon::notify::{CommandSpec, Notifier, NotifyConfig, NotifyEnv, TmuxDisplay};
use ocbar::model::effect::{Notification, NotifyKind};

const WAIT: Duration = Duration::from_secs(10);

fn no_bus() -> NotifyEnv {
    NotifyEnv {
        dbus_address: None,
        auth: None,
    }
}

fn only(toast: bool, command: Option<CommandSpec>) -> NotifyConfig {
    NotifyConfig {
        toast,
        desktop: false,
        tmux: false,
        command,
        summary_window_ms: 0,
        ..NotifyConfig::default()
    }
}

fn parse_env(text: &str) -> HashMap<String, String> {
    // `env -0` output: NUL-separated, so multi-line values survive.
    text.split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Alive and not a zombie.
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

#[tokio::test]
async fn command_gets_the_event_in_env_vars_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let cmd = CommandSpec::Argv(vec![
        "/bin/sh".into(),
        "-c".into(),
        "env -0 > \"$0.tmp\" && mv \"$0.tmp\" \"$0\"".into(),
        out.display().to_string(),
    ]);
    let (tx, task) = Notifier::new(only(false, Some(cmd)))
        .with_env(no_bus())
        .spawn();
    let pwned = dir.path().join("pwned");
    let title = format!(
        "x$(touch {}); `touch {}` 'q\"",
        pwned.display(),
        pwned.display()
    );
    let n = Notification {
        message: Some("API error: 429".into()),
        busy_ms: 1234,
        ..note(
            NotifyKind::Error,
            "http://127.0.0.1:4096",
            "ses_abc",
            &title,
        )
    };
    tx.send(n).unwrap();
    let env = parse_env(&wait_for_file(&out, WAIT, |t| !t.is_empty()).await);
    assert_eq!(env["OCBAR_KIND"], "error");
    assert_eq!(env["OCBAR_SESSION"], "ses_abc");
    assert_eq!(env["OCBAR_TITLE"], title);
    assert_eq!(env["OCBAR_SERVER"], "http://127.0.0.1:4096");
    assert_eq!(env["OCBAR_DIRECTORY"], "/home/me/proj");
    assert_eq!(env["OCBAR_MESSAGE"], "API error: 429");
    assert_eq!(env["OCBAR_BUSY_MS"], "1234");
    assert_eq!(env["OCBAR_COUNT"], "1");
    assert!(
        env["OCBAR_TEXT"].starts_with("x$(touch "),
        "{}",
        env["OCBAR_TEXT"]
    );
    assert!(
        env["OCBAR_TEXT"].ends_with(" failed: API error: 429"),
        "{}",
        env["OCBAR_TEXT"]
    );
    assert!(!pwned.exists(), "data must never be interpreted by a shell");
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn command_as_a_string_runs_through_sh_with_data_in_env() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let line = format!(
        "printf '%s|%s' \"$OCBAR_KIND\" \"$OCBAR_TITLE\" > {0}.tmp && mv {0}.tmp {0}",
        out.display()
    );
    let (tx, task) = Notifier::new(only(false, Some(CommandSpec::Shell(line))))
        .with_env(no_bus())
        .spawn();
    tx.send(note(NotifyKind::Done, "http://h", "ses_1", "a;b $(echo c)"))
        .unwrap();
    let text = wait_for_file(&out, WAIT, |t| !t.is_empty()).await;
    assert_eq!(text, "done|a;b $(echo c)");
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn a_hanging_command_does_not_delay_the_toast_and_is_killed_on_timeout() {
    let toast = ToastServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // The command and a grandchild of it both hang; both must die at the timeout.
    let script = format!(
        "sleep 100 & echo $$ $! > {0}.tmp; mv {0}.tmp {0}; wait",
        pids.display()
    );
    let config = NotifyConfig {
        timeout_ms: 1500,
        ..only(true, Some(CommandSpec::Shell(script)))
    };
    let (tx, task) = Notifier::new(config).with_env(no_bus()).spawn();

    let sent = Instant::now();
    tx.send(note(NotifyKind::Done, &toast.url, "ses_1", "one"))
        .unwrap();
    let got = toast.wait_for(1, WAIT).await;
    assert!(
        got[0].at.duration_since(sent) < Duration::from_millis(1000),
        "the toast waited for the hanging command: {:?}",
        got[0].at.duration_since(sent)
    );
    // While the command still hangs, the next toast goes out at once too.
    let sent2 = Instant::now();
    tx.send(note(NotifyKind::Error, &toast.url, "ses_2", "two"))
        .unwrap();
    let got = toast.wait_for(2, WAIT).await;
    assert!(got[1].at.duration_since(sent2) < Duration::from_millis(1000));
    assert_eq!(got[1].body["message"], "two failed");

    let text = wait_for_file(&pids, WAIT, |t| t.split_whitespace().count() == 2).await;
    let ids: Vec<u32> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        ids.iter().all(|p| running(*p)),
        "the command runs until the timeout"
    );
    let deadline = Instant::now() + WAIT;
    while ids.iter().any(|p| running(*p)) {
        assert!(
            Instant::now() < deadline,
            "the command and its children are killed after the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        sent.elapsed() >= Duration::from_millis(1400),
        "killed too early: {:?}",
        sent.elapsed()
    );
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn a_hanging_toast_server_does_not_delay_the_command() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ran");
    let cmd = CommandSpec::Argv(vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo ok > \"$0\"".into(),
        out.display().to_string(),
    ]);
    let config = NotifyConfig {
        timeout_ms: 5000,
        ..only(true, Some(cmd))
    };
    let (tx, task) = Notifier::new(config).with_env(no_bus()).spawn();
    let sent = Instant::now();
    tx.send(note(NotifyKind::Done, &url, "ses_1", "one"))
        .unwrap();
    wait_for_file(&out, WAIT, |t| t.trim() == "ok").await;
    assert!(
        sent.elapsed() < Duration::from_millis(2500),
        "{:?}",
        sent.elapsed()
    );
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn a_summary_spanning_two_servers_toasts_each_its_own_sessions() {
    let a = ToastServer::start().await;
    let b = ToastServer::start().await;
    let config = NotifyConfig {
        summary_window_ms: 300,
        ..only(true, None)
    };
    let (tx, task) = Notifier::new(config).with_env(no_bus()).spawn();
    tx.send(note(NotifyKind::Done, &a.url, "ses_1", "alpha"))
        .unwrap();
    tx.send(note(NotifyKind::Done, &a.url, "ses_2", "beta"))
        .unwrap();
    tx.send(note(NotifyKind::Retry, &b.url, "ses_3", "gamma"))
        .unwrap();
    let on_a = a.wait_for(1, WAIT).await;
    let on_b = b.wait_for(1, WAIT).await;
    assert_eq!(on_a[0].body["message"], "2 sessions finished: alpha, beta");
    assert_eq!(on_a[0].body["variant"], "success");
    assert_eq!(on_b[0].body["message"], "gamma is retrying");
    assert_eq!(on_b[0].body["variant"], "warning");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(a.recorded().len(), 1, "one toast for the burst");
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn filtered_notifications_reach_no_channel() {
    let toast = ToastServer::start().await;
    let config = NotifyConfig {
        min_busy_secs: 10,
        ..only(true, None)
    };
    let (tx, task) = Notifier::new(config).with_env(no_bus()).spawn();
    let short = Notification {
        busy_ms: 2000,
        ..note(NotifyKind::Done, &toast.url, "ses_1", "quick")
    };
    let child = Notification {
        child: true,
        ..note(NotifyKind::Done, &toast.url, "ses_2", "explore")
    };
    let aborted = note(NotifyKind::Aborted, &toast.url, "ses_3", "stopped");
    for n in [short, child, aborted] {
        tx.send(n).unwrap();
    }
    tx.send(note(NotifyKind::Waiting, &toast.url, "ses_4", "asks"))
        .unwrap();
    let got = toast.wait_for(1, WAIT).await;
    assert_eq!(got[0].body["message"], "asks is waiting for you");
    drop(tx);
    task.await.unwrap();
    assert_eq!(toast.recorded().len(), 1);
}

/// Runs tmux commands against one socket; kills that server when dropped.
struct TmuxServer(std::path::PathBuf);

impl TmuxServer {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .arg("kill-server")
            .output();
    }
}

fn tmux_socket(dir: &Path, name: &str) -> TmuxServer {
    TmuxServer(dir.join(name))
}

/// The default tmux display: the notice goes to the daemon's segment (the sink), with its kind
/// and how long to show it; no tmux is run for it.
#[tokio::test]
async fn tmux_segment_notices_go_to_the_sink() {
    let (sink_tx, mut sink_rx) = tokio::sync::mpsc::unbounded_channel();
    let config = NotifyConfig {
        tmux: true,
        display_ms: 1234,
        tmux_socket: Some("/nonexistent/tmux".into()),
        ..only(false, None)
    };
    assert_eq!(config.tmux_display, TmuxDisplay::Segment);
    let (tx, task) = Notifier::new(config)
        .with_env(no_bus())
        .tmux_notices(move |n| {
            let _ = sink_tx.send(n);
        })
        .spawn();
    tx.send(note(NotifyKind::Error, "http://h", "ses_1", "fix #12"))
        .unwrap();
    let got = tokio::time::timeout(WAIT, sink_rx.recv())
        .await
        .expect("a notice within 10 s")
        .expect("the sink is alive");
    assert_eq!(got.kind, NotifyKind::Error);
    assert_eq!(got.display_ms, 1234);
    assert!(got.text.starts_with("fix #12 failed"), "{got:?}");
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn tmux_shows_the_message_on_attached_clients() {
    require_on_path("tmux");
    let dir = tempfile::tempdir().unwrap();
    let inner = tmux_socket(dir.path(), "in");
    inner.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "150",
        "-y",
        "10",
    ]);
    let outer = tmux_socket(dir.path(), "out");
    let attach = format!("env -u TMUX tmux -S {} attach", inner.0.display());
    outer.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "150",
        "-y",
        "11",
        &attach,
    ]);
    let start = Instant::now();
    while inner
        .run(&["list-clients", "-F", "#{client_name}"])
        .trim()
        .is_empty()
    {
        assert!(start.elapsed() < WAIT, "the client never attached");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let config = NotifyConfig {
        tmux: true,
        tmux_display: TmuxDisplay::Message,
        tmux_socket: Some(inner.0.clone()),
        ..only(false, None)
    };
    let (tx, task) = Notifier::new(config).with_env(no_bus()).spawn();
    tx.send(note(
        NotifyKind::Done,
        "http://h",
        "ses_1",
        "fix #12 at 100% #{host}",
    ))
    .unwrap();
    let start = Instant::now();
    loop {
        let screen = outer.run(&["capture-pane", "-p", "-t", "0"]);
        if screen.contains("ocbar: fix #12 at 100% #{host} finished") {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "message not shown; screen:\n{screen}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn tmux_without_a_server_is_quietly_nothing() {
    require_on_path("tmux");
    let dir = tempfile::tempdir().unwrap();
    let toast = ToastServer::start().await;
    let config = NotifyConfig {
        tmux: true,
        tmux_display: TmuxDisplay::Message,
        tmux_socket: Some(dir.path().join("none")),
        ..only(true, None)
    };
    let (tx, task) = Notifier::new(config).with_env(no_bus()).spawn();
    tx.send(note(NotifyKind::Done, &toast.url, "ses_1", "a"))
        .unwrap();
    toast.wait_for(1, WAIT).await;
    drop(tx);
    task.await.unwrap();
}
