//! The OpenCode 2 code paths against a REAL server: OpenCode 1.18.33 serves part of OpenCode 2's
//! API beside its own (`/api/event` in OpenCode 2's framing with `server.connected` and
//! `: heartbeat` comments, `/api/health`, `/api/session`, `/api/session/active`,
//! `/api/session/{id}`, Basic auth through `OPENCODE_SERVER_PASSWORD`). What it serves is read
//! here with the daemon's own OpenCode 2 calls, reader and decoder, so that they are seen
//! talking to a real server and not only to the stand-in; and the kind probe must still call
//! it OpenCode 1 (it has no `/api/info`, and its `/api/health` has no version).
//!
//! 1.18.33 sends no `session.execution.*` (not even with `OPENCODE_EXPERIMENTAL_EVENT_SYSTEM=1`,
//! which runs its next session runtime and sends `session.next.*`), so the lifecycle is shown
//! against the stand-in (`tests/opencode2.rs`).

mod common;

use std::time::{Duration, Instant};

use common::*;
use ocbar::daemon::source::sse::{Frame, SseParser};
use ocbar::daemon::source::{
    Api, Credentials, Decoded, Protocol, decode_v2_frame, http_client, open_event_stream,
};
use ocbar::model::event::Event;
use ocbar::server_url::ServerUrl;

const PASSWORD: &str = "real-1-18-pw";

fn client_for(url: &str, password: Option<&str>) -> Api {
    let timeout = Duration::from_secs(20);
    Api::new(
        ServerUrl::from(url),
        http_client(timeout).expect("client"),
        password.map(|p| Credentials {
            username: "opencode".into(),
            password: p.into(),
        }),
        timeout,
    )
    .expect("api")
}

#[tokio::test]
async fn opencode_1_18_33_over_its_opencode_2_routes() {
    let (llm, oc) = tokio::task::spawn_blocking(|| {
        let llm = FakeLlm::start();
        let oc = OpenCode::start(&llm, Options::default().password(PASSWORD));
        (llm, oc)
    })
    .await
    .expect("start");
    let api = client_for(&oc.url, Some(PASSWORD));

    // Kind detection: a 1.18 server answers some /api/* routes and is still OpenCode 1.
    let id = api.identify().await.expect("identify");
    assert_eq!(id.protocol, Protocol::V1, "{id:?}");
    assert_eq!(id.version.as_deref(), Some("1.18.33"));
    // Without the password: a 401, on the very first probe.
    let err = client_for(&oc.url, None).identify().await.expect_err("401");
    assert!(err.is_auth(), "{err:?}");

    // The stream, through the one reader, in OpenCode 2's framing: server.connected first.
    let mut body = open_event_stream(
        &api,
        Protocol::V2.event_path(),
        Duration::from_secs(5),
        Duration::from_secs(20),
    )
    .await
    .expect("open /api/event");
    let server = api.server().clone();
    let mut parser = SseParser::new(1 << 24);
    let mut chunk = Vec::new();
    let mut connected = false;
    let mut comments = 0;
    let mut created: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut invalid: Vec<&'static str> = Vec::new();
    let dir = oc.dir(0).to_path_buf();
    let mut sid: Option<String> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    // Until: connected, the session created below decoded, and a heartbeat comment seen.
    while !(connected && comments > 0 && sid.as_ref().is_some_and(|s| created.contains(s))) {
        assert!(
            Instant::now() < deadline,
            "connected {connected}, comments {comments}, created {created:?}, unknown {unknown:?}, invalid {invalid:?}"
        );
        let read = tokio::time::timeout(Duration::from_secs(30), body.read(&mut chunk))
            .await
            .expect("the stream stalled")
            .expect("read");
        assert!(read, "the stream ended");
        parser.push(&chunk, |f| match f {
            Frame::Comment => comments += 1,
            Frame::Data(d) => match decode_v2_frame(&server, d) {
                Decoded::Event(Event::Connected { .. }, _) => connected = true,
                Decoded::Event(Event::SessionInfo { info, .. }, _) => {
                    created.push(info.id.to_string())
                }
                Decoded::Unknown(k) => unknown.push(k.to_owned()),
                Decoded::Invalid(r) => invalid.push(r),
                _ => {}
            },
            _ => {}
        });
        chunk.clear();
        if connected && sid.is_none() {
            // (A short blocking call: the stream waits in the socket meanwhile.)
            sid = Some(oc.create_session(&dir, Some("over api")));
        }
    }
    assert!(invalid.is_empty(), "{invalid:?}");
    assert!(
        unknown.is_empty(),
        "types this code does not know: {unknown:?}"
    );
    let sid = sid.expect("session");

    // The session list, one session, and the running list.
    let listed = api.sessions_v2(0).await.expect("GET /api/session");
    let mine = listed
        .iter()
        .find(|s| *s.id == *sid)
        .unwrap_or_else(|| panic!("{sid} not in {listed:?}"));
    assert_eq!(&*mine.title, "over api");
    assert_eq!(&*mine.directory, dir.to_string_lossy());
    let (info, outcome) = api.session_v2(&sid).await.expect("GET /api/session/{id}");
    assert_eq!(&*info.title, "over api");
    assert_eq!(&*info.directory, dir.to_string_lossy());
    // 1.18 has no `outcome`: the turn's outcome cannot be read this way, and says so.
    assert_eq!(outcome, None);
    assert!(api.last_turn_outcome_v2(&sid).await.is_err());
    let active = api.active_v2().await.expect("GET /api/session/active");
    assert!(active.is_empty(), "{active:?}");
    // 1.18.33's running list covers its next runtime only: a turn of its OpenCode 1 runtime,
    // busy on `/session/status`, is not in it. Following 1.18 as OpenCode 2 would miss every
    // running turn: one more reason the kind probe must call it OpenCode 1.
    oc.prompt(&dir, &sid, "hello [slow 6]");
    assert!(
        oc.wait_status(&dir, &sid, "busy", Duration::from_secs(40)),
        "the turn never ran"
    );
    let active = api.active_v2().await.expect("GET /api/session/active");
    assert!(
        !active.iter().any(|(s, _)| **s == *sid),
        "1.18.33 now lists OpenCode 1 turns as running: {active:?}"
    );
    drop((llm, oc));
}
