//! A fake OpenCode server on loopback: `GET /global/event` (the stream is handed to the load
//! driver, which writes the frames) and the HTTP endpoints the daemon's resync and fetches call
//! (see `src/daemon/source/api.rs`): `/global/health`, `/experimental/session`, `/session/status`,
//! `/permission`, `/question`, `/session/{id}`, `/session/{id}/message`, and the two TUI
//! actions. HTTP/1.1 with keep-alive, one thread per connection, answers with
//! `Content-Length`; the event stream uses chunked encoding, one chunk per frame, as OpenCode
//! (Bun) does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ocbar_load::frames;

/// Sessions the fake server knows, all busy (so the daemon lists every one after its resync).
pub struct World {
    /// (id, directory, title), index = session number.
    pub sessions: Vec<(String, String, String)>,
    /// Epoch ms used as `time.updated` (recent: the resync looks back 24 h).
    pub now_ms: i64,
}

impl World {
    fn session_json(&self, i: usize) -> String {
        let (id, dir, title) = &self.sessions[i];
        format!(
            r#"{{"id":"{id}","slug":"brave-tiger","projectID":"global","directory":"{dir}","title":"{title}","version":"1.18.33","agent":"build","model":{{"id":"claude-sonnet-4-5","providerID":"anthropic"}},"time":{{"created":{c},"updated":{u}}}}}"#,
            c = self.now_ms - 60_000,
            u = self.now_ms - i as i64,
        )
    }
}

/// Counters of what the daemon asked for.
#[derive(Default)]
pub struct Hits {
    pub requests: AtomicU64,
    pub streams: AtomicU64,
    pub toasts: AtomicU64,
    pub by_path: Mutex<HashMap<String, u64>>,
}

/// The running fake server.
pub struct Fake {
    pub port: u16,
    pub hits: Arc<Hits>,
    /// New `/global/event` streams, headers already written.
    pub streams: mpsc::Receiver<TcpStream>,
    stop: Arc<AtomicBool>,
}

impl Fake {
    pub fn start(world: World) -> std::io::Result<Fake> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let hits = Arc::new(Hits::default());
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let world = Arc::new(world);
        {
            let hits = hits.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("fake-accept".into())
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let Ok(conn) = conn else { continue };
                        let (hits, world, tx) = (hits.clone(), world.clone(), tx.clone());
                        let _ =
                            std::thread::Builder::new()
                                .name("fake-conn".into())
                                .spawn(move || {
                                    let _ = serve(conn, &world, &hits, &tx);
                                });
                    }
                })?;
        }
        Ok(Fake {
            port,
            hits,
            streams: rx,
            stop,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn percent_decode(s: &str) -> String {
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

/// Serve one keep-alive connection until it closes (or becomes the event stream).
fn serve(
    conn: TcpStream,
    world: &World,
    hits: &Hits,
    streams: &mpsc::Sender<TcpStream>,
) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut content_length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length.min(1 << 20)];
        reader.read_exact(&mut body)?;
        hits.requests.fetch_add(1, Ordering::Relaxed);
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        {
            let key = if path.starts_with("/session/") && path != "/session/status" {
                if path.ends_with("/message") {
                    "/session/{id}/message".to_string()
                } else {
                    "/session/{id}".to_string()
                }
            } else {
                path.to_string()
            };
            if let Ok(mut m) = hits.by_path.lock() {
                *m.entry(format!("{method} {key}")).or_default() += 1;
            }
        }
        if method == "GET" && path == "/global/event" {
            hits.streams.fetch_add(1, Ordering::Relaxed);
            out.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache, no-transform\r\nx-accel-buffering: no\r\ntransfer-encoding: chunked\r\n\r\n",
            )?;
            write_chunk(&mut out, &frames::connected())?;
            let _ = streams.send(out);
            return Ok(());
        }
        let (code, json) = route(&method, path, query, world, hits);
        let head = format!(
            "HTTP/1.1 {code}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            json.len()
        );
        out.write_all(head.as_bytes())?;
        out.write_all(json.as_bytes())?;
    }
}

fn route(
    method: &str,
    path: &str,
    query: &str,
    world: &World,
    hits: &Hits,
) -> (&'static str, String) {
    const OK: &str = "200 OK";
    match (method, path) {
        ("GET", "/global/health") => (OK, r#"{"healthy":true,"version":"1.18.33"}"#.into()),
        ("GET", "/experimental/session") => {
            let rows: Vec<String> = (0..world.sessions.len())
                .map(|i| world.session_json(i))
                .collect();
            (OK, format!("[{}]", rows.join(",")))
        }
        ("GET", "/session/status") => {
            let dir = query_param(query, "directory").unwrap_or_default();
            let rows: Vec<String> = world
                .sessions
                .iter()
                .filter(|(_, d, _)| *d == dir)
                .map(|(id, _, _)| format!(r#""{id}":{{"type":"busy"}}"#))
                .collect();
            (OK, format!("{{{}}}", rows.join(",")))
        }
        ("GET", "/permission") | ("GET", "/question") => (OK, "[]".into()),
        ("POST", "/tui/show-toast") => {
            hits.toasts.fetch_add(1, Ordering::Relaxed);
            (OK, "true".into())
        }
        ("POST", "/tui/select-session") => (OK, "true".into()),
        ("GET", p) if p.starts_with("/session/") => {
            let rest = &p["/session/".len()..];
            let (id, sub) = rest.split_once('/').unwrap_or((rest, ""));
            let Some(i) = world.sessions.iter().position(|(s, _, _)| s == id) else {
                return (
                    "404 Not Found",
                    r#"{"name":"NotFoundError","data":{"message":"not found"}}"#.into(),
                );
            };
            match sub {
                "" => (OK, world.session_json(i)),
                "message" => (
                    OK,
                    format!(
                        r#"[{{"info":{{"id":"msg_{i}","sessionID":"{id}","role":"assistant","mode":"build","agent":"build","modelID":"claude-sonnet-4-5","providerID":"anthropic","time":{{"created":{c},"completed":{d}}}}},"parts":[]}}]"#,
                        c = world.now_ms - 10_000,
                        d = world.now_ms - 5_000,
                    ),
                ),
                _ => ("404 Not Found", "{}".into()),
            }
        }
        _ => ("404 Not Found", "{}".into()),
    }
}

/// One SSE frame as one HTTP chunk: `<len>\r\ndata: <frame>\n\n\r\n`.
pub fn push_chunk(out: &mut Vec<u8>, frame: &str) {
    let len = frame.len() + "data: ".len() + 2;
    let _ = write!(out, "{len:x}\r\ndata: ");
    out.extend_from_slice(frame.as_bytes());
    out.extend_from_slice(b"\n\n\r\n");
}

/// Write one frame as its own chunk.
pub fn write_chunk(w: &mut impl Write, frame: &str) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(frame.len() + 16);
    push_chunk(&mut buf, frame);
    w.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("%2Fhome%2Fme%2Fproj3"), "/home/me/proj3");
        assert_eq!(percent_decode("a+b%"), "a b%");
        assert_eq!(
            query_param("start=1&directory=%2Fp", "directory").as_deref(),
            Some("/p")
        );
    }
}
