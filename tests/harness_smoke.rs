//! Smoke test of the end-to-end harness (tests/common): a real OpenCode 1.18.33 server driven
//! by the fake LLM runs a turn, and what a user of OpenCode would see holds: the session is busy
//! while the model streams, idle afterwards, its last message is the finished assistant answer,
//! the title generator named it, and the event stream told the same story.
//!
//! One #[test] on purpose: nextest runs each test in its own process, and one OpenCode server
//! costs seconds and ~0.5 GB, so the scenarios share one server here.

mod common;

use common::*;

#[test]
fn real_opencode_turn_busy_then_idle() {
    let t0 = std::time::Instant::now();
    let env = shared_env();
    eprintln!("smoke: environment up after {:.1?}", t0.elapsed());
    let oc = &env.oc;
    let dir = oc.dir(0);
    let events = EventLog::connect(oc);

    // 1. A slow turn: busy while streaming, then idle, with the finished answer.
    let sid = oc.create_session(dir, None);
    oc.prompt(dir, &sid, "[title=Smoke test turn] say hello [slow 2]");
    assert!(
        oc.wait_status(dir, &sid, "busy", secs(40)),
        "never busy; server log:\n{}",
        oc.log_tail()
    );
    assert!(
        oc.wait_status(dir, &sid, "idle", secs(60)),
        "never idle again; server log:\n{}",
        oc.log_tail()
    );
    let last = oc.last_message(dir, &sid).expect("a message");
    assert_eq!(last["info"]["role"], "assistant", "{last}");
    assert_eq!(last["info"]["finish"], "stop", "{last}");
    assert!(last["info"]["time"]["completed"].is_u64(), "{last}");
    assert!(last["info"].get("error").is_none(), "{last}");
    let text: String = last["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "text")
        .map(|p| p["text"].as_str().unwrap_or(""))
        .collect();
    assert!(text.contains("All done"), "answer text: {text:?}");

    // The title generator ran on the first prompt.
    assert!(
        wait_until(secs(30), || oc.session(&sid)["title"] == "Smoke test turn"),
        "title: {}",
        oc.session(&sid)["title"]
    );

    // The stream showed busy then idle for this session, in the right directory.
    let busy = events
        .wait_status(&sid, "busy", secs(5))
        .expect("session.status busy on /global/event");
    assert_eq!(busy["directory"], dir.to_str().unwrap());
    assert!(
        events.wait_status(&sid, "idle", secs(5)).is_some(),
        "no session.status idle on /global/event"
    );
    assert!(
        events
            .wait_for(secs(5), |e| e["payload"]["type"] == "session.idle")
            .is_some()
    );

    // 2. The second project directory is a separate instance: its status list is its own.
    let dir_b = oc.dir(1);
    let sid_b = oc.create_session(dir_b, Some("other project"));
    oc.prompt(dir_b, &sid_b, "work in B [slow 30]");
    assert!(oc.wait_status(dir_b, &sid_b, "busy", secs(40)));
    assert!(
        !oc.session_status(dir).contains_key(&sid_b),
        "B's session listed under A"
    );

    // 3. The user aborts it mid-stream (once tokens flow; an abort before the model answered
    // emits no session.error at all, see tests/fixtures/README.md): idle, and the last assistant
    // message carries MessageAbortedError.
    assert!(
        events
            .wait_for(secs(40), |e| e["payload"]["type"] == "message.part.delta"
                && e["payload"]["properties"]["sessionID"] == sid_b.as_str())
            .is_some(),
        "B never streamed"
    );
    assert!(oc.abort(dir_b, &sid_b));
    assert!(oc.wait_status(dir_b, &sid_b, "idle", secs(10)));
    let last = oc.last_message(dir_b, &sid_b).expect("a message");
    assert_eq!(
        last["info"]["error"]["name"], "MessageAbortedError",
        "{last}"
    );
    let err = events
        .wait_for(secs(5), |e| {
            e["payload"]["type"] == "session.error"
                && e["payload"]["properties"]["sessionID"] == sid_b.as_str()
        })
        .unwrap_or_else(|| {
            let mine: Vec<String> = events
                .events()
                .iter()
                .filter(|e| {
                    e.to_string().contains(sid_b.as_str())
                        && e["payload"]["type"] != "message.part.delta"
                })
                .map(|e| {
                    format!(
                        "{} {}",
                        e["payload"]["type"], e["payload"]["properties"]["status"]
                    )
                })
                .collect();
            panic!(
                "no session.error for the abort; events of {sid_b}:\n{}",
                mine.join("\n")
            )
        });
    assert_eq!(
        err["payload"]["properties"]["error"]["name"],
        "MessageAbortedError"
    );

    eprintln!("smoke: scenarios done after {:.1?}", t0.elapsed());
    // The fake LLM saw the title request (no tools) and the turn requests (with tools).
    let reqs = env.llm.requests();
    assert!(
        reqs.iter().any(|r| r.get("tools").is_none()),
        "no title request"
    );
    assert!(
        reqs.iter().any(|r| r.get("tools").is_some()),
        "no turn request"
    );
}

/// A password-protected server: 401 without credentials, 200 with them (HTTP and the event
/// stream), and `restart()` brings it back on the same URL with the sessions kept and every
/// status reset to idle.
#[test]
fn password_and_restart() {
    let mut env = Env::start(Options::default().password("s3cret"));
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let r = oc.call_as(None, "GET", "/global/health", None, None);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(
        r.header("www-authenticate")
            .unwrap_or("")
            .starts_with("Basic"),
        "{r:?}"
    );
    let wrong = format!("Basic {}", base64(b"opencode:nope"));
    assert_eq!(
        oc.call_as(Some(&wrong), "GET", "/global/health", None, None)
            .status,
        401
    );
    assert_eq!(oc.get_json("/global/health", None)["healthy"], true);

    let events = EventLog::connect(oc);
    let sid = oc.create_session(&dir, Some("survives restart"));
    oc.prompt(&dir, &sid, "long work [slow 30]");
    assert!(oc.wait_status(&dir, &sid, "busy", secs(40)));
    assert!(events.wait_status(&sid, "busy", secs(10)).is_some());

    let url = oc.url.clone();
    env.oc.restart();
    let oc = &env.oc;
    assert_eq!(oc.url, url, "restart changed the URL");
    assert!(
        wait_until(secs(5), || events.closed()),
        "the event stream did not end with the server"
    );
    assert_eq!(oc.session(&sid)["title"], "survives restart");
    assert!(
        oc.session_status(&dir).is_empty(),
        "status survived a restart"
    );
    let last = oc.last_message(&dir, &sid).expect("a message");
    assert_eq!(last["info"]["role"], "assistant");
    // SIGTERM mid-turn: the assistant message is left dangling (no completion, no error).
    assert!(last["info"]["time"].get("completed").is_none(), "{last}");
    assert!(last["info"].get("error").is_none(), "{last}");
    assert!(last["info"].get("finish").is_none(), "{last}");
}
