//! Regenerates the recorded real event streams in `tests/fixtures/*.sse` and the HTTP
//! responses in `tests/fixtures/http/*.json`, from a real OpenCode 1.18.33 driven by the fake
//! LLM. Ignored by default (it rewrites files); run it with `scripts/capture-fixtures.sh`.
//!
//! Each scenario opens its own `GET /global/event` connection (so each file starts with
//! `server.connected`), drives one or two sessions, waits for the final idle plus a short tail
//! (OpenCode sends `session.updated`/`message.updated` after idle), and saves the raw text.
//! The scenario table in `tests/fixtures/README.md` (between the `scenarios` markers) is
//! rewritten with the session ids, titles and directories of the run.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use common::*;
use serde_json::Value;

const TAIL: Duration = Duration::from_millis(1500);
const TURN: Duration = Duration::from_secs(60);

struct Capture<'a> {
    oc: &'a OpenCode,
    out: PathBuf,
    table: String,
}

struct Scenario {
    name: &'static str,
    what: &'static str,
    sessions: Vec<String>,
}

fn is_type(e: &Value, ty: &str, sid: &str) -> bool {
    e["payload"]["type"] == ty && e["payload"]["properties"]["sessionID"] == sid
}

impl Capture<'_> {
    fn dir(&self, i: usize) -> &Path {
        self.oc.dir(i)
    }

    /// Run `drive` with a fresh event connection, then save the stream as `<name>.sse`.
    fn record(
        &mut self,
        name: &'static str,
        what: &'static str,
        drive: impl FnOnce(&OpenCode, &EventLog) -> Vec<String>,
    ) {
        eprintln!("capture: {name}");
        let log = EventLog::connect(self.oc);
        let sessions = drive(self.oc, &log);
        sleep(TAIL);
        let raw = log.raw();
        fs::write(self.out.join(format!("{name}.sse")), &raw).expect("write fixture");
        eprintln!("capture: {name}: {} bytes", raw.len());
        self.add_row(&Scenario {
            name,
            what,
            sessions,
        });
    }

    fn add_row(&mut self, s: &Scenario) {
        let mut cells = Vec::new();
        for sid in &s.sessions {
            let info = self.oc.session(sid);
            let dir = info["directory"].as_str().unwrap_or("");
            let dir = Path::new(dir)
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            let parent = match info["parentID"].as_str() {
                Some(p) => format!(", child of `{p}`"),
                None => String::new(),
            };
            cells.push(format!(
                "`{sid}` “{}” ({dir}{parent})",
                info["title"].as_str().unwrap_or("")
            ));
        }
        writeln!(
            self.table,
            "| `{}.sse` | {} | {} |",
            s.name,
            s.what,
            cells.join("<br>")
        )
        .unwrap();
    }
}

/// Save one HTTP exchange as `http/<file>.json`: `{request, status, headers, body}`.
fn save_http(oc: &OpenCode, file: &str, path: &str, dir: Option<&Path>) -> Value {
    let r = oc.call("GET", path, dir, None);
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    let mut request = format!("GET {path}");
    if let Some(d) = dir {
        request.push_str(if path.contains('?') { "&" } else { "?" });
        request.push_str(&format!("directory={}", d.display()));
    }
    let mut headers = serde_json::Map::new();
    for (k, v) in &r.headers {
        if k.eq_ignore_ascii_case("date") {
            continue; // noise
        }
        headers.insert(k.to_ascii_lowercase(), Value::String(v.clone()));
    }
    // The body is kept byte for byte (key order as served); only the wrapper is ours.
    let body = r.json();
    let doc = format!(
        "{{\n  \"request\": {},\n  \"status\": {},\n  \"headers\": {},\n  \"body\": {}\n}}\n",
        Value::String(request),
        r.status,
        serde_json::to_string(&Value::Object(headers)).unwrap(),
        r.body.trim()
    );
    fs::write(
        repo_dir()
            .join("tests/fixtures/http")
            .join(format!("{file}.json")),
        doc,
    )
    .expect("write http fixture");
    body
}

fn wait_idle(log: &EventLog, sid: &str) {
    assert!(
        log.wait_status(sid, "idle", TURN).is_some(),
        "{sid} never went idle"
    );
}

fn wait_event(log: &EventLog, ty: &str, sid: &str) -> Value {
    log.wait_for(TURN, |e| is_type(e, ty, sid))
        .unwrap_or_else(|| panic!("no {ty} for {sid}"))
}

#[test]
#[ignore = "rewrites tests/fixtures; run scripts/capture-fixtures.sh"]
fn capture_fixtures() {
    let llm = FakeLlm::start();
    let oc = OpenCode::start(&llm, Options::default().dirs(2).bash_ask().git());
    let out = repo_dir().join("tests/fixtures");
    fs::create_dir_all(out.join("http")).unwrap();
    let mut cap = Capture {
        oc: &oc,
        out,
        table: String::new(),
    };
    let (a, b) = (cap.dir(0).to_path_buf(), cap.dir(1).to_path_buf());

    let mut done_sid = String::new();
    cap.record(
        "normal_turn",
        "one short turn; the title generator names the session",
        |oc, log| {
            let sid = oc.create_session(&a, None);
            oc.prompt(&a, &sid, "[title=Normal turn] say hello");
            wait_idle(log, &sid);
            done_sid = sid.clone();
            vec![sid]
        },
    );

    cap.record(
        "slow_turn",
        "a 4 s streamed turn (busy repeated, deltas, a heartbeat may fall in)",
        |oc, log| {
            let sid = oc.create_session(&a, Some("Slow turn"));
            oc.prompt(&a, &sid, "think for a while [slow 4]");
            wait_event(log, "message.part.delta", &sid);
            cap_status(oc, &a, "session_status_busy");
            wait_idle(log, &sid);
            vec![sid]
        },
    );

    cap.record(
        "retry",
        "HTTP 429 (retry-after: 1) twice, then success: retry attempt 1, 2, then idle",
        |oc, log| {
            let sid = oc.create_session(&a, Some("Retry twice"));
            oc.prompt(&a, &sid, "hello [retry 2]");
            log.wait_for(TURN, |e| {
                is_type(e, "session.status", &sid)
                    && e["payload"]["properties"]["status"]["type"] == "retry"
            })
            .expect("retry status");
            cap_status(oc, &a, "session_status_retry");
            wait_idle(log, &sid);
            vec![sid]
        },
    );

    let mut error_sid = String::new();
    cap.record(
        "fatal_error",
        "HTTP 400: session.error APIError, then a double idle",
        |oc, log| {
            let sid = oc.create_session(&a, Some("Fatal error"));
            oc.prompt(&a, &sid, "hello [fail]");
            wait_event(log, "session.error", &sid);
            wait_idle(log, &sid);
            error_sid = sid.clone();
            vec![sid]
        },
    );

    let mut abort_sid = String::new();
    cap.record(
        "user_abort",
        "POST /session/{id}/abort while the model streams: MessageAbortedError",
        |oc, log| {
            let sid = oc.create_session(&a, Some("User abort"));
            oc.prompt(&a, &sid, "long job [slow 30]");
            wait_event(log, "message.part.delta", &sid);
            sleep(Duration::from_millis(600));
            assert!(oc.abort(&a, &sid));
            wait_idle(log, &sid);
            abort_sid = sid.clone();
            vec![sid]
        },
    );

    let mut early_abort_sid = String::new();
    cap.record(
        "abort_before_stream",
        "abort right after busy, before the model answered: NO session.error",
        |oc, log| {
            let sid = oc.create_session(&a, Some("Early abort"));
            oc.prompt(&a, &sid, "long job [slow 30]");
            log.wait_status(&sid, "busy", TURN).expect("busy");
            assert!(oc.abort(&a, &sid));
            wait_idle(log, &sid);
            early_abort_sid = sid.clone();
            vec![sid]
        },
    );

    cap.record(
        "permission_replied",
        "bash tool with permission bash=ask: permission.asked, replied once",
        |oc, log| {
            let sid = oc.create_session(&b, Some("Permission asked"));
            oc.prompt(&b, &sid, "run the command [bash]");
            let asked = wait_event(log, "permission.asked", &sid);
            let id = asked["payload"]["properties"]["id"]
                .as_str()
                .unwrap()
                .to_string();
            save_http(oc, "permission_pending", "/permission", Some(&b));
            oc.reply_permission(&b, &id, "once");
            wait_idle(log, &sid);
            vec![sid]
        },
    );

    cap.record(
        "question_replied",
        "question tool: question.asked, replied with option A",
        |oc, log| {
            let sid = oc.create_session(&b, Some("Question replied"));
            oc.prompt(&b, &sid, "ask me something [question]");
            let asked = wait_event(log, "question.asked", &sid);
            let id = asked["payload"]["properties"]["id"]
                .as_str()
                .unwrap()
                .to_string();
            save_http(oc, "question_pending", "/question", Some(&b));
            oc.reply_question(&b, &id, &[&["A"]]);
            wait_idle(log, &sid);
            vec![sid]
        },
    );

    cap.record(
        "question_rejected",
        "question tool: question.asked, then rejected (dismissed)",
        |oc, log| {
            let sid = oc.create_session(&b, Some("Question rejected"));
            oc.prompt(&b, &sid, "ask me something [question]");
            let asked = wait_event(log, "question.asked", &sid);
            let id = asked["payload"]["properties"]["id"]
                .as_str()
                .unwrap()
                .to_string();
            oc.reject_question(&b, &id);
            wait_idle(log, &sid);
            vec![sid]
        },
    );

    cap.record(
        "subagent",
        "task tool: a child session (parentID) runs a 2 s turn inside the parent's turn",
        |oc, log| {
            let sid = oc.create_session(&a, Some("Sub agent parent"));
            oc.prompt(&a, &sid, "delegate this [task]");
            let created = log
                .wait_for(TURN, |e| {
                    e["payload"]["type"] == "session.created"
                        && e["payload"]["properties"]["info"]["parentID"] == sid.as_str()
                })
                .expect("child session.created");
            let child = created["payload"]["properties"]["info"]["id"]
                .as_str()
                .unwrap()
                .to_string();
            wait_idle(log, &sid);
            vec![sid, child]
        },
    );

    cap.record(
        "two_directories",
        "two project dirs at once (A git, B plain) on one stream; B fails, A finishes",
        |oc, log| {
            let sa = oc.create_session(&a, Some("Dir A work"));
            let sb = oc.create_session(&b, Some("Dir B work"));
            oc.prompt(&a, &sa, "work in A [slow 3]");
            oc.prompt(&b, &sb, "work in B [fail]");
            wait_idle(log, &sa);
            wait_idle(log, &sb);
            vec![sa, sb]
        },
    );

    // HTTP responses after the scenarios.
    save_http(
        &oc,
        "experimental_session_limit5",
        "/experimental/session?limit=5",
        None,
    );
    save_http(&oc, "session_get", &format!("/session/{done_sid}"), None);
    save_http(
        &oc,
        "session_message_limit2",
        &format!("/session/{done_sid}/message?limit=2"),
        Some(&a),
    );
    save_http(
        &oc,
        "session_message_last_done",
        &format!("/session/{done_sid}/message?limit=1"),
        Some(&a),
    );
    save_http(
        &oc,
        "session_message_last_error",
        &format!("/session/{error_sid}/message?limit=1"),
        Some(&a),
    );
    save_http(
        &oc,
        "session_message_last_aborted",
        &format!("/session/{abort_sid}/message?limit=1"),
        Some(&a),
    );
    save_http(
        &oc,
        "session_message_last_aborted_early",
        &format!("/session/{early_abort_sid}/message?limit=1"),
        Some(&a),
    );
    save_http(&oc, "session_status_idle", "/session/status", Some(&a));

    write_table(&cap.out.join("README.md"), &cap.table, &oc);
}

/// Save `GET /session/status?directory=` as `http/<file>.json` (while something is active).
fn cap_status(oc: &OpenCode, dir: &Path, file: &str) {
    save_http(oc, file, "/session/status", Some(dir));
}

fn write_table(readme: &Path, table: &str, oc: &OpenCode) {
    const BEGIN: &str = "<!-- scenarios:begin (generated by scripts/capture-fixtures.sh) -->";
    const END: &str = "<!-- scenarios:end -->";
    let generated = format!(
        "{BEGIN}\nRecorded with OpenCode 1.18.33; project dirs `{}` (git) and `{}` (plain).\n\n\
         | file | scenario | sessions: id “title” (dir) |\n|---|---|---|\n{table}{END}",
        oc.dir(0).display(),
        oc.dir(1).display()
    );
    let text = fs::read_to_string(readme).unwrap_or_default();
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) => format!("{}{generated}{}", &text[..b], &text[e + END.len()..]),
        _ => format!("{text}\n{generated}\n"),
    };
    fs::write(readme, new).unwrap();
}
