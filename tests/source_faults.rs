//! Connection faults a real OpenCode server will not produce on demand: a stream that goes
//! silent, garbage frames, 401, a server that keeps failing, a resync that is slow while
//! events keep coming. A tiny HTTP server on 127.0.0.1 plays the server; timings are short.
//!
//! The normal paths run against a real OpenCode in `source_real_opencode.rs`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ocbar::daemon::source::{ConnectionConfig, Credentials, ServerStats, spawn_server};
use ocbar::model::event::{Event, Status};
use ocbar::server_url::ServerUrl;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the fake server answers to one request.
#[derive(Clone)]
enum Reply {
    /// An event stream: each step waits, then writes raw bytes; then the stream hangs
    /// (`hang: true`) or closes.
    Sse {
        steps: Vec<(u64, Vec<u8>)>,
        hang: bool,
    },
    /// A JSON body after a delay.
    Json { delay_ms: u64, body: String },
    /// A bare status.
    Status(u16),
}

type Handler = dyn Fn(&str, usize) -> Reply + Send + Sync;

struct Fake {
    url: ServerUrl,
    /// (when, path with query) of every request.
    log: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Fake {
    fn requests(&self, prefix: &str) -> Vec<(Instant, String)> {
        self.log
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|(_, p)| p.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Start a fake server; `handler(path, n)` gets the path and how many requests to that path
/// (without query) came before this one.
async fn fake(handler: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let handler: Arc<Handler> = Arc::new(handler);
    let log2 = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            let log = log2.clone();
            tokio::spawn(async move {
                let _ = serve(sock, handler, log).await;
            });
        }
    });
    Fake {
        url: ServerUrl::from(format!("http://{addr}")),
        log,
    }
}

async fn serve(
    mut sock: TcpStream,
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let target = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let path = target.split('?').next().unwrap_or("").to_owned();
    let n = {
        let mut l = log.lock().expect("log");
        let n = l
            .iter()
            .filter(|(_, p)| p.split('?').next() == Some(path.as_str()))
            .count();
        l.push((Instant::now(), target.clone()));
        n
    };
    // These fakes are OpenCode 1 servers: the kind probe's `/api/*` is not there.
    let reply = match handler(&path, n) {
        r @ Reply::Status(401) => r,
        _ if path.starts_with("/api/") => Reply::Status(404),
        r => r,
    };
    match reply {
        Reply::Status(code) => {
            let extra = if code == 401 {
                "www-authenticate: Basic realm=\"Secure Area\"\r\n"
            } else {
                ""
            };
            sock.write_all(
                format!(
                    "HTTP/1.1 {code} X\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await?;
        }
        Reply::Json { delay_ms, body } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            sock.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await?;
        }
        Reply::Sse { steps, hang } => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
            )
            .await?;
            for (delay, bytes) in steps {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                sock.write_all(&bytes).await?;
                sock.flush().await?;
            }
            if hang {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        }
    }
    sock.shutdown().await
}

/// The HTTP side of a resync against an empty server.
fn resync_reply(path: &str) -> Option<Reply> {
    let body = match path {
        "/global/health" => r#"{"healthy":true,"version":"1.18.33"}"#,
        "/experimental/session" => "[]",
        "/session/status" => "{}",
        "/permission" | "/question" | "/project" | "/session" => "[]",
        _ => return None,
    };
    Some(Reply::Json {
        delay_ms: 0,
        body: body.to_owned(),
    })
}

fn frame(json: &str) -> Vec<u8> {
    format!("data: {json}\n\n").into_bytes()
}

const CONNECTED: &str = r#"{"payload":{"id":"evt_1","type":"server.connected","properties":{}}}"#;
const HEARTBEAT: &str = r#"{"payload":{"id":"evt_2","type":"server.heartbeat","properties":{}}}"#;

fn busy(session: &str) -> String {
    format!(
        r#"{{"directory":"/p","project":"global","payload":{{"id":"evt_3","type":"session.status","properties":{{"sessionID":"{session}","status":{{"type":"busy"}}}}}}}}"#
    )
}

fn fast() -> ConnectionConfig {
    ConnectionConfig {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        watchdog: Duration::from_millis(400),
        healthy_after: Duration::from_millis(150),
        alive_interval: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        resync_timeout: Duration::from_secs(5),
        resync_settle: Duration::ZERO,
        fetch_timeout: Duration::from_secs(2),
        max_frame_bytes: 4096,
        max_held_events: 1000,
        credentials: None,
        protocols: Default::default(),
    }
}

/// Collect events until `done` says so, or panic after `limit`.
async fn collect_until(
    rx: &mut mpsc::Receiver<Event>,
    limit: Duration,
    mut done: impl FnMut(&[Event]) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while !done(&out) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(e)) => out.push(e),
            Ok(None) => panic!("channel closed; got {out:#?}"),
            Err(_) => panic!("timed out; got {out:#?}"),
        }
    }
    out
}

fn count(events: &[Event], f: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

fn is_disconnected(e: &Event) -> bool {
    matches!(e, Event::Disconnected { .. })
}

#[tokio::test]
async fn silent_stream_trips_the_watchdog_and_reconnects() {
    let fake = fake(|path, _| {
        resync_reply(path).unwrap_or(Reply::Sse {
            steps: vec![(0, frame(CONNECTED))],
            hang: true,
        })
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        count(ev, |e| matches!(e, Event::Connected { .. })) >= 2
    })
    .await;
    let reason = events
        .iter()
        .find_map(|e| match e {
            Event::Disconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("a Disconnected event");
    assert!(reason.contains("no data"), "{reason}");
    let state: Vec<&Event> = events
        .iter()
        .filter(|e| !matches!(e, Event::Alive { .. } | Event::Tick))
        .collect();
    assert!(matches!(state[0], Event::Connected { .. }), "{events:#?}");
    assert!(
        matches!(state[1], Event::Resync { .. }),
        "resync comes right after connect: {events:#?}"
    );
    // The stream was quiet for the watchdog period before being dropped.
    let streams = fake.requests("/global/event");
    assert!(streams.len() >= 2);
    let gap = streams[1].0 - streams[0].0;
    assert!(gap >= Duration::from_millis(400), "{gap:?}");
    assert!(stats.view().reconnects >= 1);
    handle.shutdown().await;
}

/// A stream that sends `server.connected`, then `beat` every 150 ms (watchdog 400 ms): never
/// tripped, and every beat is a heartbeat. Returns the events, the stats and the fake.
async fn beating_stream(beat: Vec<u8>) -> (Vec<Event>, Arc<ServerStats>, Fake) {
    let fake = fake(move |path, _| {
        resync_reply(path).unwrap_or_else(|| {
            let mut steps = vec![(0, frame(CONNECTED))];
            steps.extend((0..8).map(|_| (150, beat.clone())));
            Reply::Sse { steps, hang: true }
        })
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        count(ev, |e| matches!(e, Event::Tick)) >= 6
    })
    .await;
    assert_eq!(count(&events, is_disconnected), 0, "{events:#?}");
    assert!(
        count(&events, |e| matches!(e, Event::Tick)) >= 6,
        "{events:#?}"
    );
    assert_eq!(fake.requests("/global/event").len(), 1);
    assert!(stats.view().connected);
    handle.shutdown().await;
    (events, stats, fake)
}

#[tokio::test]
async fn heartbeats_keep_a_stream_alive_and_tick() {
    let (events, stats, _fake) = beating_stream(frame(HEARTBEAT)).await;
    let alive = count(&events, |e| matches!(e, Event::Alive { .. }));
    assert!(alive >= 3, "{events:#?}");
    assert_eq!(stats.view().version.as_deref(), Some("1.18.33"));
}

#[tokio::test]
async fn sse_comments_keep_a_stream_alive() {
    // OpenCode 2 proves its stream alive with `: heartbeat` comments, not events.
    let (_, stats, _fake) = beating_stream(b": heartbeat\n\n".to_vec()).await;
    assert_eq!(stats.view().decode_errors, 0);
}

#[tokio::test]
async fn alive_is_rate_limited_under_a_flood() {
    let delta = r#"{"directory":"/p","payload":{"id":"e","type":"message.part.delta","properties":{"sessionID":"ses_1","messageID":"m","partID":"p","field":"text","delta":"x"}}}"#;
    let fake = fake(move |path, _| {
        resync_reply(path).unwrap_or_else(|| {
            let mut steps = vec![(0, frame(CONNECTED))];
            // 2000 frames over ~400 ms, in small chunks.
            steps.extend((0..200).map(|_| (2, frame(delta).repeat(10))));
            Reply::Sse { steps, hang: true }
        })
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    let start = Instant::now();
    let mut events = Vec::new();
    while stats.view().noise < 2000 && start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
            events.push(e);
        }
    }
    let elapsed = start.elapsed();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(stats.view().noise, 2000);
    let alive = count(&events, |e| matches!(e, Event::Alive { .. }));
    // One per 100 ms at most (plus one at the start).
    let max = (elapsed.as_millis() / 100) as usize + 2;
    assert!(alive >= 1 && alive <= max, "{alive} Alive in {elapsed:?}");
    handle.shutdown().await;
}

#[tokio::test]
async fn garbage_frames_are_counted_and_the_stream_goes_on() {
    let fake = fake(|path, _| {
        resync_reply(path).unwrap_or_else(|| {
            let mut garbage = Vec::new();
            garbage.extend(frame("this is not json"));
            garbage.extend(b"data: \xff\xfe\xfd\n\n");
            garbage.extend(frame(&format!(r#"{{"x":"{}"}}"#, "a".repeat(10_000))));
            garbage.extend(frame(r#"{"payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"teleporting"}}}}"#));
            garbage.extend(b": a comment\nevent: odd\nid: 7\nretry: 1\n\n");
            Reply::Sse {
                steps: vec![
                    (0, frame(CONNECTED)),
                    (20, garbage),
                    (20, frame(&busy("ses_after_garbage"))),
                ],
                hang: true,
            }
        })
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| matches!(e, Event::Status { .. }))
    })
    .await;
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Status { session, status: Status::Busy, .. } if &**session == "ses_after_garbage"
    )));
    assert_eq!(count(&events, is_disconnected), 0, "{events:#?}");
    let v = stats.view();
    assert_eq!(v.decode_errors, 4, "{v:#?}");
    assert_eq!(
        v.last_decode_error.as_deref(),
        Some("session.status: unknown status type")
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn unauthorized_is_reported_once_and_retried_with_backoff() {
    let fake = fake(|_, _| Reply::Status(401)).await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    tokio::time::sleep(Duration::from_millis(900)).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    assert_eq!(events.len(), 1, "one event per failure streak: {events:#?}");
    let Event::Disconnected { reason, .. } = &events[0] else {
        panic!("{events:#?}")
    };
    assert!(reason.contains("OPENCODE_SERVER_PASSWORD"), "{reason}");
    let v = stats.view();
    assert!(v.auth_failures >= 4, "{v:#?}");
    assert_eq!(v.auth_failures, v.connect_failures);
    // 50, 100, 200, 200… ms apart (each attempt starts with the kind probe).
    let times: Vec<Instant> = fake
        .requests("/api/info")
        .into_iter()
        .map(|r| r.0)
        .collect();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 3, "{gaps:?}");
    assert!(gaps[0] >= Duration::from_millis(45), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(95), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(190), "{gaps:?}");
    assert!(
        gaps.iter().all(|g| *g < Duration::from_millis(400)),
        "capped at 200 ms: {gaps:?}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn credentials_are_sent_as_basic_auth() {
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url: ServerUrl =
        ServerUrl::from(format!("http://{}", listener.local_addr().expect("addr")));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        if let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            *seen2.lock().expect("lock") = Some(String::from_utf8_lossy(&buf[..n]).to_string());
            let _ = sock
                .write_all(b"HTTP/1.1 401 X\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let (tx, mut rx) = mpsc::channel(10);
    let mut cfg = fast();
    cfg.credentials = Some(Credentials {
        username: "bob".into(),
        password: "s3cret".into(),
    });
    let handle = spawn_server(url, tx, Arc::new(ServerStats::new("x")), cfg.clone());
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event")
        .expect("open channel");
    let Event::Disconnected { reason, .. } = ev else {
        panic!("{ev:?}")
    };
    assert!(reason.contains("authentication failed"), "{reason}");
    let req = seen.lock().expect("lock").clone().unwrap_or_default();
    // base64("bob:s3cret")
    assert!(
        req.lines()
            .any(|l| l.eq_ignore_ascii_case("authorization: Basic Ym9iOnMzY3JldA==")),
        "{req}"
    );
    // The first request, the kind probe at every connect, already carries them.
    assert!(req.starts_with("GET /api/info "), "{req}");
    // The password never shows in Debug output.
    assert!(!format!("{cfg:?}").contains("s3cret"));
    handle.shutdown().await;
}

#[tokio::test]
async fn unreachable_server_is_reported_and_retried() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url: ServerUrl = ServerUrl::from(format!("http://127.0.0.1:{port}"));
    let (tx, mut rx) = mpsc::channel(10);
    let stats = Arc::new(ServerStats::new(url.to_string()));
    let handle = spawn_server(url, tx, stats.clone(), fast());
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event")
        .expect("open channel");
    let Event::Disconnected { reason, .. } = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(reason, "connection refused");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(stats.view().connect_failures >= 3, "{:#?}", stats.view());
    assert!(rx.try_recv().is_err(), "no repeated Disconnected");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_bad_url_is_reported_and_the_task_idles() {
    let (tx, mut rx) = mpsc::channel(10);
    let stats = Arc::new(ServerStats::new("ftp://example"));
    let handle = spawn_server(ServerUrl::from("ftp://example"), tx, stats.clone(), fast());
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event")
        .expect("open channel");
    assert!(
        matches!(&ev, Event::Disconnected { reason, .. } if reason.contains("invalid server URL")),
        "{ev:?}"
    );
    assert!(handle.api().is_none());
    assert!(!handle.is_finished());
    handle.shutdown().await;
}

#[tokio::test]
async fn non_opencode_endpoint_is_rejected() {
    let fake = fake(|path, _| {
        if path == "/global/event" {
            Reply::Json {
                delay_ms: 0,
                body: "{}".into(),
            }
        } else {
            Reply::Status(404)
        }
    })
    .await;
    let (tx, mut rx) = mpsc::channel(10);
    let handle = spawn_server(
        fake.url.clone(),
        tx,
        Arc::new(ServerStats::new("x")),
        fast(),
    );
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event")
        .expect("open channel");
    assert!(
        matches!(&ev, Event::Disconnected { reason, .. } if reason.contains("text/event-stream")),
        "{ev:?}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn events_racing_a_slow_resync_come_after_the_report() {
    // /session/status takes 300 ms; meanwhile the stream reports the session busy then idle.
    let fake = fake(|path, _| match path {
        "/experimental/session" => Reply::Json {
            delay_ms: 0,
            body: r#"[{"id":"ses_r","directory":"/p","title":"r","time":{"created":1,"updated":99999999999999}}]"#
                .into(),
        },
        "/session/status" => Reply::Json {
            delay_ms: 300,
            body: r#"{"ses_r":{"type":"busy"}}"#.into(),
        },
        "/global/event" => Reply::Sse {
            steps: vec![
                (0, frame(CONNECTED)),
                (50, frame(&busy("ses_r"))),
                (
                    50,
                    frame(r#"{"directory":"/p","payload":{"type":"session.status","properties":{"sessionID":"ses_r","status":{"type":"idle"}}}}"#),
                ),
            ],
            hang: true,
        },
        p => resync_reply(p).unwrap_or(Reply::Status(404)),
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let handle = spawn_server(
        fake.url.clone(),
        tx,
        Arc::new(ServerStats::new("x")),
        fast(),
    );
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        count(ev, |e| matches!(e, Event::Status { .. })) >= 2
    })
    .await;
    let order: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Connected { .. } => Some("connected"),
            Event::Resync { .. } => Some("resync"),
            Event::Status {
                status: Status::Busy,
                ..
            } => Some("busy"),
            Event::Status {
                status: Status::Idle,
                ..
            } => Some("idle"),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        ["connected", "resync", "busy", "idle"],
        "{events:#?}"
    );
    let report = events
        .iter()
        .find_map(|e| match e {
            Event::Resync { report, .. } => Some(report.clone()),
            _ => None,
        })
        .expect("resync");
    assert_eq!(report.active, vec![(Arc::from("ses_r"), Status::Busy)]);
    assert_eq!(report.sessions.len(), 1);
    // The resync asked only about the directory it knew.
    let dirs: Vec<String> = fake
        .requests("/session/status")
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(dirs, vec!["/session/status?directory=%2Fp".to_owned()]);
    handle.shutdown().await;
}

#[tokio::test]
async fn odd_answers_degrade_the_resync_but_do_not_block_it() {
    // Health and the session list fail with HTTP errors: the resync still happens, with the
    // directory seen in the stream.
    let fake = fake(|path, _| match path {
        "/global/health" => Reply::Status(404),
        "/experimental/session" => Reply::Status(500),
        "/session/status" => Reply::Json {
            delay_ms: 0,
            body: r#"{"ses_1":{"type":"busy"}}"#.into(),
        },
        p => resync_reply(p).unwrap_or(Reply::Sse {
            steps: vec![(0, frame(&busy("ses_1"))), (0, frame(CONNECTED))],
            hang: true,
        }),
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new("x"));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| matches!(e, Event::Resync { .. }))
    })
    .await;
    let Some(Event::Resync { report, .. }) = events.last() else {
        panic!("{events:#?}")
    };
    assert!(report.sessions.is_empty());
    assert_eq!(report.active, vec![(Arc::from("ses_1"), Status::Busy)]);
    let v = stats.view();
    assert_eq!((v.resyncs, v.resync_failures), (1, 0));
    assert_eq!(v.version, None);
    handle.shutdown().await;
}

#[tokio::test]
async fn failed_resync_drops_the_connection() {
    // The health check hangs past the resync timeout.
    let fake = fake(|path, _| match path {
        "/global/health" => Reply::Json {
            delay_ms: 60_000,
            body: "{}".into(),
        },
        p => resync_reply(p).unwrap_or_else(|| {
            // Heartbeats keep the watchdog quiet: only the resync can fail here.
            let mut steps = vec![(0, frame(CONNECTED))];
            steps.extend((0..50).map(|_| (100, frame(HEARTBEAT))));
            Reply::Sse { steps, hang: true }
        }),
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new("x"));
    let cfg = ConnectionConfig {
        resync_timeout: Duration::from_millis(300),
        ..fast()
    };
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), cfg);
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        ev.iter().any(is_disconnected)
    })
    .await;
    assert!(matches!(&events[0], Event::Connected { .. }));
    assert!(
        matches!(events.last(), Some(Event::Disconnected { reason, .. }) if reason.contains("resync failed")),
        "{events:#?}"
    );
    assert!(stats.view().resync_failures >= 1);
    assert_eq!(count(&events, |e| matches!(e, Event::Resync { .. })), 0);
    // It keeps failing the same way: every Connected is still paired with a Disconnected, so
    // the model never believes in a connection that is gone.
    let more = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        count(ev, |e| matches!(e, Event::Connected { .. })) >= 2
            && ev.last().is_some_and(is_disconnected)
    })
    .await;
    let mut open = false;
    for e in events.iter().chain(&more) {
        match e {
            Event::Connected { .. } => {
                assert!(!open, "two Connected in a row");
                open = true;
            }
            Event::Disconnected { .. } => {
                assert!(open, "Disconnected without Connected");
                open = false;
            }
            _ => {}
        }
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn backoff_resets_after_a_healthy_stream() {
    // Requests 0-2 fail (backoff grows to 200 ms), request 3 is a stream that lives 300 ms
    // (> healthy_after) then closes, request 4 should come ~50 ms later, not 200 ms.
    let fake = fake(|path, n| match path {
        "/global/event" if n < 3 => Reply::Status(500),
        "/global/event" if n == 3 => {
            let mut steps = vec![(0, frame(CONNECTED))];
            steps.extend((0..3).map(|_| (100, frame(HEARTBEAT))));
            Reply::Sse { steps, hang: false }
        }
        "/global/event" => Reply::Status(500),
        p => resync_reply(p).unwrap_or(Reply::Status(404)),
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let handle = spawn_server(
        fake.url.clone(),
        tx,
        Arc::new(ServerStats::new("x")),
        fast(),
    );
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        ev.iter()
            .any(|e| matches!(e, Event::Disconnected { reason, .. } if reason.contains("closed")))
    })
    .await;
    assert!(events.iter().any(|e| matches!(e, Event::Resync { .. })));
    let closed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let streams = fake.requests("/global/event");
    assert!(streams.len() >= 5, "{}", streams.len());
    let after = streams[4].0.saturating_duration_since(closed_at);
    assert!(after < Duration::from_millis(150), "{after:?}");
    handle.shutdown().await;
}

#[tokio::test]
async fn stop_ends_the_task_and_no_more_requests_are_made() {
    let fake = fake(|_, _| Reply::Status(500)).await;
    let (tx, mut rx) = mpsc::channel(100);
    let handle = spawn_server(
        fake.url.clone(),
        tx,
        Arc::new(ServerStats::new("x")),
        fast(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    handle.shutdown().await;
    let before = fake.requests("/").len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fake.requests("/").len(), before);
    // Only the first failure was reported; the channel is closed once the task is gone.
    let mut n = 0;
    while let Some(e) = rx.recv().await {
        assert!(is_disconnected(&e));
        n += 1;
    }
    assert_eq!(n, 1);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_task() {
    let fake = fake(|_, _| Reply::Status(500)).await;
    let (tx, mut rx) = mpsc::channel(100);
    let handle = spawn_server(
        fake.url.clone(),
        tx,
        Arc::new(ServerStats::new("x")),
        fast(),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(handle);
    // The task ends and drops its sender: the channel closes.
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        while rx.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok());
}

/// OpenCode 1.0.x answers `/permission` (and `/question`, `/global/health`,
/// `/experimental/session`) with HTTP 500. A reconnect during a long turn must not read that
/// as "the directory has nothing running": the session stays busy, nothing is notified, and
/// no outcome is fetched (which would have found the unfinished message and called it an
/// error).
#[tokio::test]
async fn a_resync_whose_permissions_fail_keeps_a_busy_session_busy() {
    use ocbar::model::effect::Effect;
    use ocbar::model::{ModelConfig, State};
    use ocbar::wire::snapshot::SessionState;

    let fake = fake(|path, n| match path {
        "/global/health" | "/experimental/session" | "/permission" | "/question" => {
            Reply::Status(500)
        }
        "/session/status" => Reply::Json {
            delay_ms: 0,
            body: r#"{"ses_1":{"type":"busy"}}"#.into(),
        },
        "/global/event" if n == 0 => Reply::Sse {
            // The turn starts, then the stream breaks.
            steps: vec![
                (0, frame(CONNECTED)),
                (50, frame(&busy("ses_1"))),
                (300, vec![]),
            ],
            hang: false,
        },
        p => resync_reply(p).unwrap_or_else(|| {
            let mut steps = vec![(0, frame(CONNECTED))];
            steps.extend((0..20).map(|_| (100, frame(HEARTBEAT))));
            Reply::Sse { steps, hang: true }
        }),
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        count(ev, |e| matches!(e, Event::Resync { .. })) >= 2
    })
    .await;
    assert_eq!(count(&events, is_disconnected), 1, "{events:#?}");

    let mut state = State::new(ModelConfig::default());
    let mut effects = Vec::new();
    effects.extend(state.apply(
        Event::ServerAdded {
            server: fake.url.clone(),
        },
        1,
    ));
    for (i, e) in events.into_iter().enumerate() {
        effects.extend(state.apply(e, 1000 + i as i64));
    }
    let snap = state.snapshot();
    let s = snap
        .sessions
        .iter()
        .find(|s| &*s.id == "ses_1")
        .expect("ses_1 listed");
    assert_eq!(s.state, SessionState::Busy, "{snap:#?}");
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Notify(_) | Effect::FetchOutcome { .. })),
        "{effects:#?}"
    );
    // What could not be read is said, not hidden.
    let v = stats.view();
    assert_eq!(v.resyncs, 2);
    assert_eq!(v.version, None);
    handle.shutdown().await;
}

/// OpenCode before 1.2 sends a heartbeat every 30 s, more than the 25 s watchdog of a 10 s
/// server: the watchdog follows the version. Scaled down here: the 400 ms watchdog stands for
/// 25 s, heartbeats every 480 ms for 30 s. Also for a server that reports no version (1.0.x).
#[tokio::test]
async fn slow_heartbeats_of_older_versions_never_drop_the_stream() {
    for health in [Some(r#"{"healthy":true,"version":"1.1.65"}"#), None] {
        let fake = fake(move |path, _| match (path, health) {
            ("/global/health", Some(body)) => Reply::Json {
                delay_ms: 0,
                body: body.into(),
            },
            ("/global/health", None) => Reply::Status(500),
            (p, _) => resync_reply(p).unwrap_or_else(|| {
                let mut steps = vec![(0, frame(CONNECTED))];
                steps.extend((0..6).map(|_| (480, frame(HEARTBEAT))));
                Reply::Sse { steps, hang: true }
            }),
        })
        .await;
        let (tx, mut rx) = mpsc::channel(100);
        let stats = Arc::new(ServerStats::new(fake.url.to_string()));
        let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
        let events = collect_until(&mut rx, Duration::from_secs(6), |ev| {
            count(ev, |e| matches!(e, Event::Tick)) >= 6
        })
        .await;
        assert_eq!(
            count(&events, is_disconnected),
            0,
            "{health:?}: {events:#?}"
        );
        assert_eq!(fake.requests("/global/event").len(), 1, "{health:?}");
        // After the last heartbeat the stream goes silent: the (longer) watchdog still ends it.
        let more = collect_until(&mut rx, Duration::from_secs(6), |ev| {
            ev.iter().any(is_disconnected)
        })
        .await;
        assert!(
            more.iter().any(
                |e| matches!(e, Event::Disconnected { reason, .. } if reason.contains("no data"))
            ),
            "{more:#?}"
        );
        handle.shutdown().await;
    }
}

/// A server that reports a version older than the oldest supported is not followed: its
/// sessions would show wrong states. The reason names both versions.
#[tokio::test]
async fn a_too_old_version_is_not_followed() {
    let fake = fake(|path, _| match path {
        "/global/health" => Reply::Json {
            delay_ms: 0,
            body: r#"{"healthy":true,"version":"1.0.98"}"#.into(),
        },
        p => resync_reply(p).unwrap_or(Reply::Sse {
            steps: vec![(0, frame(CONNECTED)), (0, frame(&busy("ses_1")))],
            hang: true,
        }),
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    let events = collect_until(&mut rx, Duration::from_secs(5), |ev| {
        ev.iter().any(is_disconnected)
    })
    .await;
    assert_eq!(
        count(&events, |e| matches!(e, Event::Resync { .. })),
        0,
        "{events:#?}"
    );
    let reason = events
        .iter()
        .find_map(|e| match e {
            Event::Disconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert_eq!(
        reason,
        "OpenCode 1.0.98 is older than the oldest supported (1.0.185): upgrade OpenCode"
    );
    assert_eq!(stats.view().version.as_deref(), Some("1.0.98"));
    handle.shutdown().await;
}

/// OpenCode 1.0.98 opens the stream and never writes to it: the reason says it is too old.
#[tokio::test]
async fn a_stream_without_server_connected_is_named_too_old() {
    let fake = fake(|path, _| {
        resync_reply(path).unwrap_or(Reply::Sse {
            steps: vec![],
            hang: true,
        })
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    let deadline = Instant::now() + Duration::from_secs(5);
    let reason = loop {
        if let Some(e) = stats.view().last_connect_error {
            break e;
        }
        assert!(Instant::now() < deadline, "{:#?}", stats.view());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        reason.contains("not even server.connected") && reason.contains("1.0.185"),
        "{reason}"
    );
    // Never connected: the model is told nothing (its server stays offline).
    assert!(rx.try_recv().is_err());
    handle.shutdown().await;
}

/// Unknown payload types are counted and named for doctor; known noise is not.
#[tokio::test]
async fn unknown_event_types_are_counted_and_named() {
    let fake = fake(|path, _| {
        resync_reply(path).unwrap_or_else(|| {
            let mut steps = vec![(0, frame(CONNECTED))];
            for t in [
                "session.execution.started",
                "message.part.delta",
                "session.execution.started",
                "x.\u{1b}[31mred",
            ] {
                steps.push((
                    10,
                    frame(&format!(
                        r#"{{"payload":{{"type":"{t}","properties":{{}}}}}}"#
                    )),
                ));
            }
            steps.push((10, frame(&busy("ses_1"))));
            Reply::Sse { steps, hang: true }
        })
    })
    .await;
    let (tx, mut rx) = mpsc::channel(100);
    let stats = Arc::new(ServerStats::new(fake.url.to_string()));
    let handle = spawn_server(fake.url.clone(), tx, stats.clone(), fast());
    collect_until(&mut rx, Duration::from_secs(5), |ev| {
        ev.iter().any(|e| matches!(e, Event::Status { .. }))
    })
    .await;
    let v = stats.view();
    assert_eq!(v.unknown_events, 3, "{v:#?}");
    assert_eq!(
        v.unknown_types,
        vec![
            "session.execution.started".to_string(),
            "x. [31mred".to_string()
        ]
    );
    assert_eq!(v.decode_errors, 0);
    handle.shutdown().await;
}
