//! A recorder of an OpenCode server's `GET /global/event` stream.

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{OpenCode, secs};

/// Records `GET /global/event` of a server in a background thread: raw lines exactly as
/// received, and every `data:` frame parsed. The thread ends when the stream ends or at the
/// first frame after the log is dropped (heartbeats come every 10 s).
pub struct EventLog {
    inner: Arc<Mutex<EventLogInner>>,
}

#[derive(Default)]
struct EventLogInner {
    raw: String,
    events: Vec<Value>,
    /// When each of `events` was read off the socket.
    arrived: Vec<Instant>,
    closed: bool,
    stop: bool,
}

impl EventLog {
    /// Connect and wait for the first frame (`server.connected`).
    pub fn connect(oc: &OpenCode) -> EventLog {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .build(),
        );
        let mut req = agent
            .get(format!("{}/global/event", oc.url))
            .header("accept", "text/event-stream");
        if let Some(a) = oc.auth_header() {
            req = req.header("authorization", a);
        }
        let resp = req.call().expect("GET /global/event");
        assert_eq!(resp.status().as_u16(), 200, "GET /global/event");
        let inner = Arc::new(Mutex::new(EventLogInner::default()));
        let shared = inner.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(resp.into_body().into_reader());
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let mut g = shared.lock().unwrap();
                if g.stop {
                    break;
                }
                g.raw.push_str(&line);
                if let Some(data) = line.strip_prefix("data:")
                    && let Ok(v) = serde_json::from_str::<Value>(data.trim())
                {
                    g.events.push(v);
                    g.arrived.push(Instant::now());
                }
            }
            shared.lock().unwrap().closed = true;
        });
        let log = EventLog { inner };
        assert!(
            log.wait_for(secs(10), |e| e["payload"]["type"] == "server.connected")
                .is_some(),
            "no server.connected"
        );
        // OpenCode sends `server.connected` BEFORE its bus subscription is live: events published
        // in the next ~50-100 ms are lost (measured: 5 of 10 `session.created` missed when the
        // session was created right after `server.connected`, none after 100 ms). Give it time.
        thread::sleep(Duration::from_millis(500));
        log
    }

    /// Every envelope so far (`{directory, project?, payload: {id, type, properties}}`).
    pub fn events(&self) -> Vec<Value> {
        self.inner.lock().unwrap().events.clone()
    }

    /// The payloads whose `type` is `ty`, in order.
    pub fn of_type(&self, ty: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["payload"]["type"] == ty)
            .map(|e| e["payload"].clone())
            .collect()
    }

    /// Every envelope so far with the moment it was read off the socket.
    pub fn timed_events(&self) -> Vec<(Instant, Value)> {
        let g = self.inner.lock().unwrap();
        g.arrived
            .iter()
            .copied()
            .zip(g.events.iter().cloned())
            .collect()
    }

    /// The raw text received so far (`data: …` lines and blank separators).
    pub fn raw(&self) -> String {
        self.inner.lock().unwrap().raw.clone()
    }

    /// Whether the server closed the stream.
    pub fn closed(&self) -> bool {
        self.inner.lock().unwrap().closed
    }

    /// Wait for an envelope matching `pred` (already received or arriving); returns it.
    pub fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Option<Value> {
        let mut seen = 0;
        let deadline = Instant::now() + timeout;
        loop {
            {
                let g = self.inner.lock().unwrap();
                if let Some(e) = g.events[seen..].iter().find(|e| pred(e)) {
                    return Some(e.clone());
                }
                seen = g.events.len();
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait for a `session.status` of `sid` with status `ty` (`busy`, `retry`, `idle`).
    pub fn wait_status(&self, sid: &str, ty: &str, timeout: Duration) -> Option<Value> {
        self.wait_for(timeout, |e| {
            e["payload"]["type"] == "session.status"
                && e["payload"]["properties"]["sessionID"] == sid
                && e["payload"]["properties"]["status"]["type"] == ty
        })
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.inner.lock().unwrap().stop = true;
    }
}
