//! Recorded event streams: `ocbar record FILE` writes one, `ocbar daemon --replay FILE` and the
//! replay tests read one back through the same SSE parser and decoder a live server goes through.
//!
//! The file is the raw event stream (`data: {…}` frames separated by blank lines): OpenCode 1's
//! `/global/event` or OpenCode 2's `/api/event`, told apart by the framing of the first frame
//! ([`protocol_of`]), so a capture made with `curl -N` works too. `record` strips secrets first.

use serde_json::Value;

use crate::daemon::source::Decoded;
use crate::daemon::source::protocol::Protocol;
use crate::daemon::source::sse::{Frame, SseParser};
use crate::model::event::{Event, ResyncReport};
use crate::server_url::ServerUrl;

/// Largest frame accepted from a file (as from a live server).
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// What a replay produced: the model events, in order, and how many frames were skipped.
#[derive(Debug, Default)]
pub struct Replayed {
    pub events: Vec<Event>,
    pub frames: usize,
    pub noise: usize,
    pub invalid: usize,
}

/// Decode a recorded stream as if `server` had sent it. The result starts with `Connected`
/// and an empty `Resync`, as a live connection would before its first event.
pub fn events_from(server: &ServerUrl, bytes: &[u8]) -> Replayed {
    let mut out = Replayed {
        events: vec![
            Event::ServerAdded {
                server: server.clone(),
            },
            Event::Connected {
                server: server.clone(),
            },
            Event::Resync {
                server: server.clone(),
                report: ResyncReport::default(),
            },
        ],
        ..Replayed::default()
    };
    let mut parser = SseParser::new(MAX_FRAME);
    // Decided by the first data frame, then kept: one recording is one server's stream.
    let mut protocol: Option<Protocol> = None;
    let mut on_frame = |frame: Frame<'_>| {
        out.frames += 1;
        let data = match frame {
            Frame::Data(d) => d,
            Frame::TooLarge => {
                out.invalid += 1;
                return;
            }
            Frame::Comment => {
                out.noise += 1;
                return;
            }
        };
        let protocol = *protocol.get_or_insert_with(|| protocol_of(data));
        match protocol.decode(server, data) {
            Decoded::Event(Event::Connected { .. }, _) => {}
            Decoded::Event(e, _) => out.events.push(e),
            Decoded::Invalid(_) => out.invalid += 1,
            _ => out.noise += 1,
        }
    };
    parser.push(bytes, &mut on_frame);
    // A file may end without the final blank line.
    parser.push(b"\n\n", &mut on_frame);
    out
}

/// Key names whose values are replaced by `"<redacted>"` when recording.
/// Which dialect a recorded frame is in: OpenCode 1 wraps each event in an envelope
/// (`{"directory":…,"payload":{"type":…,"properties":…}}`), OpenCode 2 does not (`{"id":…,
/// "type":…,"data":…}`). A frame that is not a JSON object is read as OpenCode 1, whose decoder
/// counts it invalid.
pub fn protocol_of(data: &[u8]) -> Protocol {
    match serde_json::from_slice::<serde_json::Map<String, Value>>(data) {
        Ok(obj) if !obj.contains_key("payload") && obj.contains_key("type") => Protocol::V2,
        _ => Protocol::V1,
    }
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "authorization",
        "api-key",
        "api_key",
        "apikey",
        "x-api-key",
        "token",
        "password",
        "secret",
        "cookie",
        "set-cookie",
        "auth_token",
    ]
    .iter()
    .any(|s| k == *s || k.ends_with(s))
}

fn scrub(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_key(k) {
                    *val = Value::String("<redacted>".into());
                } else {
                    scrub(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::String(s) => {
            if let Some(cleaned) = scrub_url(s) {
                *s = cleaned;
            }
        }
        _ => {}
    }
}

/// Drop `user:pass@` and `auth_token=`/`key=` query values from URLs inside strings.
fn scrub_url(s: &str) -> Option<String> {
    let mut changed = false;
    let mut out = s.to_string();
    if let Some(scheme) = out.find("://") {
        let rest = &out[scheme + 3..];
        if let Some(at) = rest.find('@')
            && !rest[..at].contains('/')
        {
            out = format!("{}<redacted>@{}", &out[..scheme + 3], &rest[at + 1..]);
            changed = true;
        }
    }
    for key in ["auth_token=", "key=", "token="] {
        if let Some(i) = out.find(key) {
            let start = i + key.len();
            let end = out[start..].find('&').map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "<redacted>");
            changed = true;
        }
    }
    changed.then_some(out)
}

/// One frame's data as it is written to a recording: secrets replaced. A frame that is not
/// JSON is kept as it is (the replay counts it as invalid, as the daemon did).
pub fn scrub_frame(data: &str) -> String {
    match serde_json::from_str::<Value>(data) {
        Ok(mut v) => {
            scrub(&mut v);
            serde_json::to_string(&v).unwrap_or_default()
        }
        Err(_) => data.replace(['\r', '\n'], " "),
    }
}

/// `ocbar record FILE`: capture `server`'s raw event stream into `path`, secrets stripped,
/// for `seconds` (or until interrupted). Returns a message for the user.
pub fn record(
    server: &str,
    path: &std::path::Path,
    seconds: Option<u64>,
) -> Result<String, String> {
    use crate::daemon::source::open_event_stream;
    use std::io::Write;

    let server = ServerUrl::parse(server)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let mut file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    runtime.block_on(async {
        let client = crate::daemon::source::api::http_client(std::time::Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let api = crate::daemon::source::Api::new(
            server.clone(),
            client,
            crate::daemon::source::Credentials::from_env(),
            std::time::Duration::from_secs(10),
        )
        .map_err(|e| e.to_string())?;
        // OpenCode 2 streams on another path: ask the server what it is, as the daemon does.
        let path_of = match api.identify().await {
            Ok(id) => id.protocol.event_path(),
            Err(e) => return Err(format!("cannot follow {}: {e}", api.display_url())),
        };
        let mut body = open_event_stream(
            &api,
            path_of,
            std::time::Duration::from_secs(5),
            std::time::Duration::from_secs(10),
        )
        .await
        .map_err(|e| format!("cannot follow {}{path_of}: {e}", api.display_url()))?;
        eprintln!(
            "ocbar: recording {server} into {} (secrets stripped){}",
            path.display(),
            seconds.map_or(", until Ctrl-C".to_string(), |s| format!(" for {s}s"))
        );
        let mut parser = SseParser::new(MAX_FRAME);
        let mut chunk = Vec::with_capacity(64 * 1024);
        let mut frames = 0usize;
        let mut error: Option<String> = None;
        let deadline =
            seconds.map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs(s));
        loop {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, body.read(&mut chunk))
                        .await
                        .unwrap_or(Ok(false)),
                    None => body.read(&mut chunk).await,
                }
            };
            let more = tokio::select! {
                r = next => r,
                _ = tokio::signal::ctrl_c() => Ok(false),
            };
            match more {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    error = Some(format!("the stream broke: {e}"));
                    break;
                }
            }
            parser.push(&chunk, |frame| {
                // (A frame that is not UTF-8 is left out: it is not JSON.)
                if let Frame::Data(d) = frame
                    && let Ok(d) = std::str::from_utf8(d)
                {
                    frames += 1;
                    if let Err(e) = writeln!(file, "data: {}\n", scrub_frame(d)) {
                        error.get_or_insert(format!("cannot write {}: {e}", path.display()));
                    }
                }
            });
            chunk.clear();
            if error.is_some() {
                break;
            }
        }
        let _ = file.flush();
        match error {
            Some(e) => Err(format!("{e} (after {frames} frames)")),
            None => Ok(format!(
                "recorded {frames} frames into {}; replay with 'ocbar daemon --replay {}'",
                path.display(),
                path.display()
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_stripped() {
        let frame = r#"{"directory":"/p","payload":{"type":"session.error","properties":{"sessionID":"ses_1","error":{"name":"APIError","data":{"message":"m","responseHeaders":{"authorization":"Bearer sk-123","x-api-key":"k"},"metadata":{"url":"http://u:pw@h/v1?key=abc&x=1"}}}}}}"#;
        let out = scrub_frame(frame);
        assert!(
            !out.contains("sk-123")
                && !out.contains("\"k\"")
                && !out.contains("pw@")
                && !out.contains("abc"),
            "{out}"
        );
        assert!(out.contains("<redacted>"));
        assert!(out.contains("\"message\":\"m\""));
    }

    #[test]
    fn a_recording_replays_into_model_events() {
        let server = ServerUrl::from("replay://t");
        let text = "data: {\"payload\":{\"id\":\"e0\",\"type\":\"server.connected\",\"properties\":{}}}\n\n\
data: {\"directory\":\"/p\",\"payload\":{\"id\":\"e1\",\"type\":\"session.status\",\"properties\":{\"sessionID\":\"ses_1\",\"status\":{\"type\":\"busy\"}}}}\n\n\
data: {\"directory\":\"/p\",\"payload\":{\"id\":\"e2\",\"type\":\"message.part.delta\",\"properties\":{\"sessionID\":\"ses_1\",\"delta\":\"hi\"}}}\n\n\
data: not json\n\n\
data: {\"directory\":\"/p\",\"payload\":{\"id\":\"e3\",\"type\":\"session.status\",\"properties\":{\"sessionID\":\"ses_1\",\"status\":{\"type\":\"idle\"}}}}";
        let r = events_from(&server, text.as_bytes());
        assert_eq!(r.frames, 5);
        assert_eq!(r.noise, 1);
        assert_eq!(r.invalid, 1);
        let statuses = r
            .events
            .iter()
            .filter(|e| matches!(e, Event::Status { .. }))
            .count();
        assert_eq!(statuses, 2);
    }

    /// An `ocbar record` of an OpenCode 2 server (`/api/event` framing) replays through its
    /// own decoder: the turn starts and ends, the token delta and the heartbeat are noise.
    #[test]
    fn an_opencode_2_recording_replays_into_model_events() {
        let server = ServerUrl::from("replay://t2");
        let text = "data: {\"id\":\"evt_0\",\"type\":\"server.connected\",\"data\":{}}\n\n\
: heartbeat\n\n\
data: {\"id\":\"evt_1\",\"type\":\"session.execution.started\",\"location\":{\"directory\":\"/p\"},\"data\":{\"sessionID\":\"ses_1\"}}\n\n\
data: {\"id\":\"evt_2\",\"type\":\"session.text.delta\",\"location\":{\"directory\":\"/p\"},\"data\":{\"sessionID\":\"ses_1\",\"delta\":\"hi\"}}\n\n\
data: {\"id\":\"evt_3\",\"type\":\"session.execution.succeeded\",\"location\":{\"directory\":\"/p\"},\"data\":{\"sessionID\":\"ses_1\"}}\n\n";
        assert_eq!(
            protocol_of(br#"{"id":"evt_0","type":"server.connected","data":{}}"#),
            Protocol::V2
        );
        let r = events_from(&server, text.as_bytes());
        assert_eq!(r.invalid, 0, "{r:?}");
        assert_eq!(r.noise, 2, "the heartbeat and the token delta: {r:?}");
        assert!(
            r.events.iter().any(|e| matches!(
                e,
                Event::Status {
                    status: crate::model::event::Status::Busy,
                    ..
                }
            )),
            "{:?}",
            r.events
        );
        assert!(
            r.events
                .iter()
                .any(|e| matches!(e, Event::TurnEnded { .. })),
            "{:?}",
            r.events
        );
    }
}
