//! The source against a real OpenCode 1.18.33 server driven by the fake LLM
//! (`tests/support/fake_llm.py`): resync of a session that was busy before ocbar connected,
//! live events of normal, failed, aborted and permission turns, the effect fetches, the TUI
//! calls, a server killed under the stream, and a restart with a password (a real 401).
//!
//! OpenCode comes from `$OCBAR_TOOLS/bin/opencode` (default `.tools/bin/opencode`, installed
//! by `scripts/install-test-deps.sh`). A missing tool fails the test. One server runs at a time.
//! On a timeout, `OCBAR_TEST_DUMP=/path` writes every event received to that file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ocbar::daemon::source::{
    Api, ApiError, ConnectionConfig, Credentials, ServerStats, Toast, ToastVariant, http_client,
    spawn_server,
};
use ocbar::model::effect::Effect;
use ocbar::model::event::{Event, InputKind, Role, SessionId, Status, TurnOutcome};
use ocbar::server_url::ServerUrl;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

fn opencode_bin() -> PathBuf {
    let tools = std::env::var_os("OCBAR_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools"));
    let bin = tools.join("bin/opencode");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        bin.display()
    );
    bin
}

/// Read lines of a child's stdout until one starts with `prefix`; return the rest of it.
async fn read_line_with(child: &mut Child, prefix: &str, what: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(i) = line.find(prefix) {
                return Some(line[i + prefix.len()..].trim().to_owned());
            }
        }
        None
    })
    .await;
    // Keep draining so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    match found {
        Ok(Some(v)) => v,
        _ => panic!("{what} did not print '{prefix}'"),
    }
}

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    project: String,
    _fake_llm: Child,
}

impl World {
    async fn new() -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_path_buf();
        for d in ["home", "cfg", "data", "state", "cache", "proj"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_llm.py");
        let mut fake_llm = Command::new("python3")
            .arg(&script)
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 tests/support/fake_llm.py");
        let port = read_line_with(&mut fake_llm, "FAKE_LLM_PORT=", "fake_llm.py").await;
        let config = serde_json::json!({
            "$schema": "https://opencode.ai/config.json",
            "provider": {"fake": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": format!("http://127.0.0.1:{port}/v1"), "apiKey": "x"},
                "models": {"fake-model": {"name": "Fake Model"}}
            }},
            "model": "fake/fake-model",
            "small_model": "fake/fake-model",
            "permission": {"bash": "ask"},
            "share": "disabled",
            "autoupdate": false
        });
        std::fs::write(root.join("proj/opencode.json"), config.to_string()).expect("config");
        let project = root.join("proj").to_string_lossy().into_owned();
        World {
            _tmp: tmp,
            root,
            project,
            _fake_llm: fake_llm,
        }
    }

    /// `opencode serve` on `port` (0: any), optionally with a password.
    async fn opencode(&self, port: u16, password: Option<&str>) -> (Child, ServerUrl) {
        let r = &self.root;
        let mut cmd = Command::new(opencode_bin());
        cmd.args([
            "serve",
            "--hostname",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .current_dir(r.join("proj"))
        .env("HOME", r.join("home"))
        .env("XDG_CONFIG_HOME", r.join("cfg"))
        .env("XDG_DATA_HOME", r.join("data"))
        .env("XDG_STATE_HOME", r.join("state"))
        .env("XDG_CACHE_HOME", r.join("cache"))
        .env_remove("OPENCODE_SERVER_USERNAME")
        .env_remove("OPENCODE_SERVER_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
        if let Some(p) = password {
            cmd.env("OPENCODE_SERVER_PASSWORD", p);
        }
        let mut child = cmd.spawn().expect("spawn opencode");
        let url = read_line_with(&mut child, "opencode server listening on ", "opencode").await;
        (child, ServerUrl::from(url.trim_end_matches('/')))
    }
}

/// Drive OpenCode like a user would (plain HTTP, no ocbar code).
struct Driver {
    http: reqwest::Client,
    url: ServerUrl,
    dir: String,
}

impl Driver {
    async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .query(&[("directory", &self.dir)])
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    async fn create(&self, title: &str) -> SessionId {
        let v: serde_json::Value = self
            .post("/session", serde_json::json!({ "title": title }))
            .await
            .json()
            .await
            .expect("session json");
        Arc::from(v["id"].as_str().expect("id"))
    }

    async fn prompt(&self, id: &str, text: &str) {
        let r = self
            .post(
                &format!("/session/{id}/prompt_async"),
                serde_json::json!({"parts": [{"type": "text", "text": text}]}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.status());
    }

    /// Wait until the session is busy and its assistant message exists (the LLM stream runs).
    async fn wait_streaming(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let status: serde_json::Value = self
                .http
                .get(format!("{}/session/status", self.url))
                .query(&[("directory", &self.dir)])
                .send()
                .await
                .expect("GET status")
                .json()
                .await
                .expect("status json");
            let last: serde_json::Value = self
                .http
                .get(format!("{}/session/{id}/message", self.url))
                .query(&[("limit", "1")])
                .send()
                .await
                .expect("GET messages")
                .json()
                .await
                .expect("messages json");
            if status[id]["type"] == "busy" && last[0]["info"]["role"] == "assistant" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("session {id} never started streaming");
    }

    async fn abort(&self, id: &str) {
        let r = self
            .post(&format!("/session/{id}/abort"), serde_json::json!({}))
            .await;
        assert!(r.status().is_success());
    }
}

/// Receive events until one matches; everything received is kept for failure messages.
async fn wait_for(
    rx: &mut mpsc::Receiver<Event>,
    seen: &mut Vec<Event>,
    what: &str,
    limit: Duration,
    pred: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(e)) => {
                seen.push(e.clone());
                if pred(&e) {
                    return e;
                }
            }
            _ => {
                let tail: Vec<&Event> = seen
                    .iter()
                    .rev()
                    .filter(|e| !matches!(e, Event::Alive { .. } | Event::Tick))
                    .take(30)
                    .collect();
                if let Ok(path) = std::env::var("OCBAR_TEST_DUMP") {
                    let _ = std::fs::write(path, format!("{seen:#?}"));
                }
                panic!("timed out waiting for {what}; last events (newest first): {tail:#?}")
            }
        }
    }
}

fn status_of<'a>(e: &'a Event, id: &str) -> Option<&'a Status> {
    match e {
        Event::Status {
            session, status, ..
        } if &**session == id => Some(status),
        _ => None,
    }
}

const T: Duration = Duration::from_secs(30);

#[tokio::test]
async fn follows_a_real_opencode_server() {
    let world = World::new().await;
    let (mut server, url) = world.opencode(0, None).await;
    let driver = Driver {
        http: reqwest::Client::new(),
        url: url.clone(),
        dir: world.project.clone(),
    };

    // A session already busy before ocbar connects: only the resync can tell.
    let early = driver.create("early bird").await;
    driver.prompt(&early, "keep going [slow 60]").await;
    driver.wait_streaming(&early).await;

    let (tx, mut rx) = mpsc::channel(4096);
    let stats = Arc::new(ServerStats::new(url.to_string()));
    let config = ConnectionConfig {
        credentials: None,
        // Reconnect quickly while the server restarts below.
        backoff_max: Duration::from_secs(2),
        ..ConnectionConfig::default()
    };
    let handle = spawn_server(url.clone(), tx.clone(), stats.clone(), config.clone());
    let mut seen = Vec::new();

    wait_for(&mut rx, &mut seen, "Connected", T, |e| {
        matches!(e, Event::Connected { .. })
    })
    .await;
    let Event::Resync { report, .. } = wait_for(&mut rx, &mut seen, "Resync", T, |e| {
        matches!(e, Event::Resync { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        report.active,
        vec![(early.clone(), Status::Busy)],
        "{report:#?}"
    );
    let info = report
        .sessions
        .iter()
        .find(|s| s.id == early)
        .expect("the busy session's metadata");
    assert_eq!(&*info.directory, world.project);
    assert_eq!(&*info.title, "early bird");
    assert_eq!(info.model.as_deref(), Some("fake/fake-model"));
    assert!(report.pending.is_empty());

    // The user stops it: the abort error, then idle; the outcome reads as an abort.
    // (Observed on 1.18.33: when the turn is the first one of a fresh server, the abort comes
    // only as the assistant message's error, with no `session.error`; on a warm server both.)
    driver.abort(&early).await;
    let abort = wait_for(&mut rx, &mut seen, "abort error", T, |e| match e {
        Event::SessionError {
            session: Some(s), ..
        } => *s == early,
        Event::Message { session, info, .. } => *session == early && info.error.is_some(),
        _ => false,
    })
    .await;
    let error = match abort {
        Event::SessionError { error, .. } => error,
        Event::Message { info, .. } => info.error.expect("error"),
        _ => unreachable!(),
    };
    assert!(error.is_abort(), "{error:?}");
    wait_for(&mut rx, &mut seen, "idle after abort", T, |e| {
        status_of(e, &early) == Some(&Status::Idle)
    })
    .await;
    assert!(handle.execute(&Effect::FetchOutcome {
        server: url.clone(),
        session: early.clone()
    }));
    let Event::Outcome { outcome, .. } = wait_for(
        &mut rx,
        &mut seen,
        "abort outcome",
        T,
        |e| matches!(e, Event::Outcome { session, .. } if *session == early),
    )
    .await
    else {
        unreachable!()
    };
    assert!(
        matches!(&outcome, TurnOutcome::Failed(e) if e.is_abort()),
        "{outcome:?}"
    );

    // A normal turn: created, busy, assistant message completed, idle; outcome Finished.
    let alpha = driver.create("alpha").await;
    let Event::SessionInfo { info, .. } = wait_for(
        &mut rx,
        &mut seen,
        "alpha created",
        T,
        |e| matches!(e, Event::SessionInfo { info, .. } if info.id == alpha),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(&*info.title, "alpha");
    assert_eq!(&*info.directory, world.project);
    assert_eq!(info.parent_id, None);
    driver.prompt(&alpha, "hello there").await;
    let busy = wait_for(&mut rx, &mut seen, "alpha busy", T, |e| {
        status_of(e, &alpha).is_some()
    })
    .await;
    assert_eq!(status_of(&busy, &alpha), Some(&Status::Busy));
    let Event::Message { info, .. } = wait_for(&mut rx, &mut seen, "alpha answer", T, |e| {
        matches!(e, Event::Message { session, info, .. }
            if *session == alpha && info.role == Role::Assistant && info.completed)
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(info.error, None);
    assert_eq!(info.model.as_deref(), Some("fake/fake-model"));
    assert_eq!(info.agent.as_deref(), Some("build"));
    wait_for(&mut rx, &mut seen, "alpha idle", T, |e| {
        status_of(e, &alpha) == Some(&Status::Idle)
    })
    .await;
    assert!(handle.execute(&Effect::FetchOutcome {
        server: url.clone(),
        session: alpha.clone()
    }));
    assert!(handle.execute(&Effect::FetchSession {
        server: url.clone(),
        session: alpha.clone()
    }));
    let Event::Outcome { outcome, .. } = wait_for(
        &mut rx,
        &mut seen,
        "alpha outcome",
        T,
        |e| matches!(e, Event::Outcome { session, .. } if *session == alpha),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(outcome, TurnOutcome::Finished);
    let Event::SessionInfo { info, .. } =
        wait_for(&mut rx, &mut seen, "alpha metadata", T, |e| {
            matches!(e, Event::SessionInfo { info, .. } if info.id == alpha && info.agent.is_some())
        })
        .await
    else {
        unreachable!()
    };
    assert_eq!(info.model.as_deref(), Some("fake/fake-model"));
    assert_eq!(info.agent.as_deref(), Some("build"));
    assert!(info.updated_ms > 0);

    // A failing turn: session.error APIError; the outcome carries it.
    driver.prompt(&alpha, "this will [fail]").await;
    let Event::SessionError { error, .. } = wait_for(
        &mut rx,
        &mut seen,
        "alpha error",
        T,
        |e| matches!(e, Event::SessionError { session: Some(s), .. } if *s == alpha),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(error.name, "APIError");
    assert!(!error.message.is_empty());
    wait_for(&mut rx, &mut seen, "alpha idle after error", T, |e| {
        status_of(e, &alpha) == Some(&Status::Idle)
    })
    .await;
    assert!(handle.execute(&Effect::FetchOutcome {
        server: url.clone(),
        session: alpha.clone()
    }));
    let Event::Outcome { outcome, .. } = wait_for(
        &mut rx,
        &mut seen,
        "alpha error outcome",
        T,
        |e| matches!(e, Event::Outcome { session, .. } if *session == alpha),
    )
    .await
    else {
        unreachable!()
    };
    assert!(
        matches!(&outcome, TurnOutcome::Failed(e) if e.name == "APIError"),
        "{outcome:?}"
    );

    // A permission prompt: asked live, listed by a resync, answered.
    let beta = driver.create("beta").await;
    driver.prompt(&beta, "run it [bash]").await;
    let Event::InputAsked { input, .. } = wait_for(
        &mut rx,
        &mut seen,
        "permission",
        T,
        |e| matches!(e, Event::InputAsked { input, .. } if input.session == beta),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(input.kind, InputKind::Permission);
    assert!(input.request.starts_with("per_"), "{input:?}");
    let api = handle.api().expect("api").clone();
    let resynced = api
        .resync(&Default::default(), chrono::Utc::now().timestamp_millis())
        .await
        .expect("resync");
    assert_eq!(resynced.directories, vec![world.project.clone()]);
    assert!(resynced.report.pending.contains(&input), "{resynced:#?}");
    assert!(
        resynced
            .report
            .active
            .contains(&(beta.clone(), Status::Busy)),
        "{resynced:#?}"
    );
    assert_eq!(resynced.version.as_deref(), Some("1.18.33"));
    let r = driver
        .post(
            &format!("/permission/{}/reply", input.request),
            serde_json::json!({"reply": "reject"}),
        )
        .await;
    assert!(r.status().is_success());
    wait_for(
        &mut rx,
        &mut seen,
        "permission answered",
        T,
        |e| matches!(e, Event::InputAnswered { request, .. } if *request == input.request),
    )
    .await;
    wait_for(&mut rx, &mut seen, "beta idle", T, |e| {
        status_of(e, &beta) == Some(&Status::Idle)
    })
    .await;

    // TUI calls and not-found handling.
    api.show_toast(
        &Toast {
            title: Some("ocbar".into()),
            message: "test toast".into(),
            variant: ToastVariant::Success,
            duration_ms: Some(1000),
        },
        Some(&world.project),
    )
    .await
    .expect("toast");
    api.select_session(&alpha, Some(&world.project))
        .await
        .expect("select");
    let err = api
        .select_session("ses_doesnotexist", Some(&world.project))
        .await
        .expect_err("unknown session");
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        api.session("ses_doesnotexist")
            .await
            .err()
            .is_some_and(|e| e.is_not_found())
    );
    assert!(handle.execute(&Effect::FetchSession {
        server: url.clone(),
        session: Arc::from("ses_doesnotexist")
    }));
    wait_for(
        &mut rx,
        &mut seen,
        "missing for an unknown id",
        T,
        |e| matches!(e, Event::Missing { session, .. } if &**session == "ses_doesnotexist"),
    )
    .await;

    let v = stats.view();
    assert!(v.connected);
    assert_eq!(v.decode_errors, 0, "{v:#?}");
    assert!(
        v.events > 10 && v.noise > 10 && v.frames >= v.events + v.noise,
        "{v:#?}"
    );
    assert_eq!(v.resyncs, 1);
    assert_eq!(v.version.as_deref(), Some("1.18.33"));
    assert_eq!(v.known_directories, 1);
    assert_eq!(v.auth_failures, 0);

    // The server dies under the stream: a Disconnected, quickly (no watchdog wait).
    let killed = Instant::now();
    server.kill().await.expect("kill opencode");
    let Event::Disconnected { reason, .. } = wait_for(
        &mut rx,
        &mut seen,
        "disconnect",
        Duration::from_secs(10),
        |e| matches!(e, Event::Disconnected { .. }),
    )
    .await
    else {
        unreachable!()
    };
    assert!(killed.elapsed() < Duration::from_secs(5), "{reason}");
    assert!(!stats.view().connected);

    // It comes back on the same port with a password: ocbar without one hears a real 401.
    let port = reqwest::Url::parse(&url)
        .ok()
        .and_then(|u| u.port())
        .expect("port");
    let (_server2, url2) = world.opencode(port, Some("s3cret")).await;
    assert_eq!(url2, url);
    let Event::Disconnected { reason, .. } = wait_for(
        &mut rx,
        &mut seen,
        "401",
        Duration::from_secs(60),
        |e| matches!(e, Event::Disconnected { reason, .. } if reason.contains("401")),
    )
    .await
    else {
        unreachable!()
    };
    assert!(reason.contains("OPENCODE_SERVER_PASSWORD"), "{reason}");
    assert!(stats.view().auth_failures >= 1);
    handle.shutdown().await;

    // The API tells a missing password from a wrong one, and works with the right one.
    let client = http_client(Duration::from_secs(5)).expect("client");
    let mk = |creds: Option<Credentials>| {
        Api::new(url.clone(), client.clone(), creds, Duration::from_secs(10)).expect("api")
    };
    assert_eq!(
        mk(None).health().await,
        Err(ApiError::Auth {
            password_set: false
        })
    );
    let wrong = Credentials {
        username: "opencode".into(),
        password: "nope".into(),
    };
    assert_eq!(
        mk(Some(wrong)).health().await,
        Err(ApiError::Auth { password_set: true })
    );
    let right = Credentials {
        username: "opencode".into(),
        password: "s3cret".into(),
    };
    assert_eq!(
        mk(Some(right.clone())).health().await.map(|h| h.version),
        Ok("1.18.33".to_owned())
    );

    // With the password the stream opens and resyncs; the server restarted, so nothing is
    // active any more (a dropped connection is "unknown", never "finished").
    let stats2 = Arc::new(ServerStats::new(url.to_string()));
    let handle2 = spawn_server(
        url.clone(),
        tx,
        stats2.clone(),
        ConnectionConfig {
            credentials: Some(right),
            ..config
        },
    );
    let Event::Resync { report, .. } = wait_for(&mut rx, &mut seen, "resync with auth", T, |e| {
        matches!(e, Event::Resync { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(report.active.is_empty(), "{report:#?}");
    assert!(report.sessions.iter().any(|s| s.id == alpha));
    assert!(stats2.view().connected);
    handle2.shutdown().await;
}
