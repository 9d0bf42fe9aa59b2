//! OpenCode `/global/event` frames, as a 1.18.33 server writes them (shapes copied from captured
//! streams; see `src/daemon/source/decode_tests.rs` and tests/fixtures/), and a deterministic
//! realistic mix of them.
//!
//! Shared by the load tool (`ocbar-load`) and the criterion benchmarks (`benches/`, through
//! its dev-dependency on this package's library), so both measure the same traffic.

use std::fmt::Write as _;

/// What a frame is, for per-type reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `message.part.delta`: one streamed token (noise).
    Delta,
    /// `message.part.updated`: a text/tool part changed (noise).
    PartUpdated,
    /// `sync`: the durable copy of another event (noise).
    Sync,
    /// `session.diff` (noise).
    Diff,
    /// `message.updated` (decoded; usually no visible change).
    MessageUpdated,
    /// `session.updated` (decoded; usually no visible change).
    SessionUpdated,
    /// `session.status` busy, repeated while busy (decoded; no change).
    StatusBusy,
    /// `server.heartbeat`.
    Heartbeat,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Delta,
        Kind::PartUpdated,
        Kind::Sync,
        Kind::Diff,
        Kind::MessageUpdated,
        Kind::SessionUpdated,
        Kind::StatusBusy,
        Kind::Heartbeat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Delta => "message.part.delta",
            Kind::PartUpdated => "message.part.updated",
            Kind::Sync => "sync",
            Kind::Diff => "session.diff",
            Kind::MessageUpdated => "message.updated",
            Kind::SessionUpdated => "session.updated",
            Kind::StatusBusy => "session.status busy",
            Kind::Heartbeat => "server.heartbeat",
        }
    }
}

/// Weights of the realistic mix, per 1000 frames: a streaming turn is mostly token deltas, with
/// part updates (tool state, text snapshots), their `sync` copies, message/session updates and
/// the odd diff. (Ratios taken from a captured turn of a tool-using agent: ~85 % deltas.)
pub const MIX: [(Kind, u32); 7] = [
    (Kind::Delta, 850),
    (Kind::PartUpdated, 50),
    (Kind::Sync, 50),
    (Kind::MessageUpdated, 20),
    (Kind::SessionUpdated, 10),
    (Kind::Diff, 10),
    (Kind::StatusBusy, 10),
];

/// A small deterministic PRNG (xorshift64*), so every run sends the same traffic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An OpenCode-looking id: `prefix_` + 12 hex-ish digits of `n` + 14 pseudo-random characters.
pub fn id(prefix: &str, n: u64) -> String {
    let mut s = String::with_capacity(prefix.len() + 27);
    s.push_str(prefix);
    s.push('_');
    let _ = write!(s, "{:012x}", 0x20a0_0000_0000u64 + n);
    let mut r = Rng::new(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xABCD);
    for _ in 0..14 {
        s.push(ALNUM[r.below(ALNUM.len() as u64) as usize] as char);
    }
    s
}

/// The session id used for session number `i` (stable across the tool and the benches).
pub fn session_id(i: usize) -> String {
    id("ses", 1_000_000 + i as u64)
}

/// The project directory of session `i`: sessions spread over 16 directories (a resync
/// queries at most 64 directories, so every session is found however many there are).
pub fn directory(i: usize) -> String {
    format!("/home/me/proj{}", i % 16)
}

/// The title of session `i`.
pub fn title(i: usize) -> String {
    format!("Refactor the parser module {i}")
}

const PROJECT: &str = "10f0bc4bc326734f69a68e6501290774779f5585";

/// Token-ish texts of deltas (some with characters that need JSON escapes, as real ones do).
const TOKENS: [&str; 8] = [
    " the",
    " function",
    "(&mut self",
    ") -> Result<",
    "\\n    ",
    " \\\"quoted\\\"",
    " parser",
    ".unwrap_or_default()",
];

fn envelope(out: &mut String, dir: &str, event: u64, kind: &str) {
    let _ = write!(
        out,
        r#"{{"directory":"{dir}","project":"{PROJECT}","payload":{{"id":"{}","type":"{kind}","properties":"#,
        id("evt", event)
    );
}

/// `message.part.delta` of session `s`.
pub fn delta(s: usize, event: u64) -> String {
    let mut out = String::with_capacity(320);
    envelope(&mut out, &directory(s), event, "message.part.delta");
    let _ = write!(
        out,
        r#"{{"sessionID":"{}","messageID":"{}","partID":"{}","field":"text","delta":"{}"}}}}}}"#,
        session_id(s),
        id("msg", s as u64 * 7),
        id("prt", s as u64 * 11),
        TOKENS[(event % TOKENS.len() as u64) as usize]
    );
    out
}

/// `message.part.updated` of a running bash tool of session `s` (a mid-sized frame).
pub fn part_updated(s: usize, event: u64) -> String {
    let mut out = String::with_capacity(1200);
    envelope(&mut out, &directory(s), event, "message.part.updated");
    let _ = write!(
        out,
        r#"{{"sessionID":"{sid}","part":{{"id":"{prt}","sessionID":"{sid}","messageID":"{msg}","type":"tool","callID":"call_{event}","tool":"bash","state":{{"status":"running","input":{{"command":"cargo test --lib","description":"Run the unit tests"}},"title":"Run the unit tests","metadata":{{"output":"   Compiling ocbar v0.1.0 (/home/me/proj)\n    Finished `test` profile [unoptimized + debuginfo] target(s) in 4.21s\n     Running unittests src/lib.rs\n\nrunning 212 tests\ntest render::tests::tmux_escapes_hash ... ok\ntest state::tests::idle_twice_is_one_done ... ok\n","description":"Run the unit tests"}},"time":{{"start":1795463644941}}}}}},"time":1795463645001}}}}}}"#,
        sid = session_id(s),
        prt = id("prt", event),
        msg = id("msg", s as u64 * 7),
    );
    out
}

/// The `sync` copy of a `message.updated` of session `s`.
pub fn sync(s: usize, event: u64) -> String {
    let e = id("evt", event);
    format!(
        r#"{{"directory":"{dir}","project":"{PROJECT}","payload":{{"type":"sync","syncEvent":{{"id":"{e}","type":"message.updated.1","seq":{event},"aggregateID":"{sid}","data":{{"sessionID":"{sid}","info":{{"id":"{msg}","role":"assistant","mode":"build","agent":"build","modelID":"claude-sonnet-4-5","providerID":"anthropic","time":{{"created":1795463644941}},"sessionID":"{sid}"}}}}}},"id":"{e}"}}}}"#,
        dir = directory(s),
        sid = session_id(s),
        msg = id("msg", s as u64 * 7),
    )
}

/// `session.diff` of session `s`.
pub fn diff(s: usize, event: u64) -> String {
    let mut out = String::with_capacity(400);
    envelope(&mut out, &directory(s), event, "session.diff");
    let _ = write!(
        out,
        r#"{{"sessionID":"{}","diff":[{{"file":"src/parser.rs","before":"","after":"","additions":12,"deletions":3}}]}}}}}}"#,
        session_id(s)
    );
    out
}

/// `message.updated` of the running assistant message of session `s` (same model and agent as
/// before: no visible change).
pub fn message_updated(s: usize, event: u64) -> String {
    let mut out = String::with_capacity(700);
    envelope(&mut out, &directory(s), event, "message.updated");
    let _ = write!(
        out,
        r#"{{"sessionID":"{sid}","info":{{"id":"{msg}","parentID":"{parent}","role":"assistant","mode":"build","agent":"build","path":{{"cwd":"{dir}","root":"{dir}"}},"cost":0.0123,"tokens":{{"total":15210,"input":14000,"output":1210,"reasoning":0,"cache":{{"write":0,"read":12000}}}},"modelID":"claude-sonnet-4-5","providerID":"anthropic","time":{{"created":1795463644941}},"sessionID":"{sid}"}}}}}}}}"#,
        sid = session_id(s),
        msg = id("msg", s as u64 * 7),
        parent = id("msg", s as u64 * 7 + 1),
        dir = directory(s),
    );
    out
}

/// `session.updated` of session `s` with its title (no visible change once known).
pub fn session_updated(s: usize, event: u64, title: &str) -> String {
    let mut out = String::with_capacity(800);
    envelope(&mut out, &directory(s), event, "session.updated");
    let _ = write!(
        out,
        r#"{{"sessionID":"{sid}","info":{{"id":"{sid}","slug":"brave-tiger","projectID":"{PROJECT}","directory":"{dir}","path":"","summary":{{"additions":12,"deletions":3,"files":1}},"cost":0.0123,"tokens":{{"input":14000,"output":1210,"reasoning":0,"cache":{{"read":12000,"write":0}}}},"title":"{title}","agent":"build","model":{{"id":"claude-sonnet-4-5","providerID":"anthropic","variant":"default"}},"version":"1.18.33","time":{{"created":1795463618436,"updated":{updated}}}}}}}}}}}"#,
        sid = session_id(s),
        dir = directory(s),
        updated = 1_795_463_618_436u64 + event,
    );
    out
}

/// `session.status` of session `s`: `busy`, `idle`, or `retry` (attempt 1).
pub fn status(s: usize, event: u64, kind: &str) -> String {
    let mut out = String::with_capacity(300);
    envelope(&mut out, &directory(s), event, "session.status");
    let status = match kind {
        "retry" => r#"{"type":"retry","attempt":1,"message":"rate limited","next":1795463687871}"#
            .to_string(),
        k => format!(r#"{{"type":"{k}"}}"#),
    };
    let _ = write!(
        out,
        r#"{{"sessionID":"{}","status":{status}}}}}}}"#,
        session_id(s)
    );
    out
}

/// `session.error` of session `s`.
pub fn session_error(s: usize, event: u64) -> String {
    let mut out = String::with_capacity(600);
    envelope(&mut out, &directory(s), event, "session.error");
    let _ = write!(
        out,
        r#"{{"sessionID":"{}","error":{{"name":"APIError","data":{{"message":"bad request","statusCode":400,"isRetryable":false,"responseBody":"{{\"error\": {{\"message\": \"bad request\"}}}}"}}}}}}}}}}"#,
        session_id(s)
    );
    out
}

/// `permission.asked` of session `s`.
pub fn permission_asked(s: usize, event: u64) -> String {
    let mut out = String::with_capacity(500);
    envelope(&mut out, &directory(s), event, "permission.asked");
    let _ = write!(
        out,
        r#"{{"id":"{}","sessionID":"{}","permission":"bash","patterns":["rm -rf target"],"metadata":{{"command":"rm -rf target"}},"always":["rm *"],"tool":{{"messageID":"{}","callID":"call_bash1"}}}}}}}}"#,
        id("per", event),
        session_id(s),
        id("msg", s as u64 * 7),
    );
    out
}

/// `server.connected` (the first frame of a stream).
pub fn connected() -> String {
    format!(
        r#"{{"payload":{{"id":"{}","type":"server.connected","properties":{{}}}}}}"#,
        id("evt", 0)
    )
}

/// `server.heartbeat`.
pub fn heartbeat(event: u64) -> String {
    format!(
        r#"{{"payload":{{"id":"{}","type":"server.heartbeat","properties":{{}}}}}}"#,
        id("evt", event)
    )
}

/// One frame of `kind` for session `s`.
pub fn frame(kind: Kind, s: usize, event: u64) -> String {
    match kind {
        Kind::Delta => delta(s, event),
        Kind::PartUpdated => part_updated(s, event),
        Kind::Sync => sync(s, event),
        Kind::Diff => diff(s, event),
        Kind::MessageUpdated => message_updated(s, event),
        Kind::SessionUpdated => session_updated(s, event, &title(s)),
        Kind::StatusBusy => status(s, event, "busy"),
        Kind::Heartbeat => heartbeat(event),
    }
}

/// Deterministic realistic traffic over `sessions` busy sessions.
pub struct Mixer {
    rng: Rng,
    sessions: usize,
    next_event: u64,
}

impl Mixer {
    pub fn new(sessions: usize, seed: u64) -> Self {
        Mixer {
            rng: Rng::new(seed),
            sessions: sessions.max(1),
            next_event: 1,
        }
    }

    /// The next event number (for frames built outside the mix, e.g. probes).
    pub fn take_event(&mut self) -> u64 {
        let e = self.next_event;
        self.next_event += 1;
        e
    }

    /// The kind of the next frame of the mix.
    pub fn next_kind(&mut self) -> Kind {
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.below(total as u64) as u32;
        for (k, w) in MIX {
            if x < w {
                return k;
            }
            x -= w;
        }
        Kind::Delta
    }

    /// The next frame of the mix, and its kind. Not `Iterator::next`: the mix never ends, and an
    /// iterator would invite `collect()`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> (Kind, String) {
        let kind = self.next_kind();
        let s = self.rng.below(self.sessions as u64) as usize;
        let e = self.take_event();
        (kind, frame(kind, s, e))
    }
}

/// `n` frames of the realistic mix over `sessions` sessions.
pub fn realistic(n: usize, sessions: usize) -> Vec<String> {
    let mut m = Mixer::new(sessions, 42);
    (0..n).map(|_| m.next().1).collect()
}

/// Frames as an SSE body (`data: …\n\n` each).
pub fn sse_body<S: AsRef<str>>(frames: &[S]) -> String {
    let mut out = String::new();
    for f in frames {
        out.push_str("data: ");
        out.push_str(f.as_ref());
        out.push_str("\n\n");
    }
    out
}

/// The `data:` payloads of a captured `.sse` file (`tests/fixtures/*.sse`), in order.
pub fn payloads_of_sse(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if let Some(d) = cur.take() {
                out.push(d);
            }
        } else if let Some(v) = line.strip_prefix("data:") {
            let v = v.strip_prefix(' ').unwrap_or(v);
            match &mut cur {
                Some(d) => {
                    d.push('\n');
                    d.push_str(v);
                }
                None => cur = Some(v.to_string()),
            }
        }
    }
    if let Some(d) = cur {
        out.push(d);
    }
    out
}

/// Payloads of every `tests/fixtures/*.sse` file under `root`, if any.
pub fn fixture_payloads(root: &std::path::Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/fixtures"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sse"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| payloads_of_sse(&t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_json() {
        for k in Kind::ALL {
            let f = frame(k, 3, 17);
            let v: serde_json::Value =
                serde_json::from_str(&f).unwrap_or_else(|e| panic!("{k:?}: {e}: {f}"));
            assert!(v.get("payload").is_some());
        }
        for f in [
            status(1, 2, "retry"),
            status(1, 2, "idle"),
            session_error(1, 2),
            permission_asked(1, 2),
            connected(),
        ] {
            serde_json::from_str::<serde_json::Value>(&f).unwrap_or_else(|e| panic!("{e}: {f}"));
        }
    }

    #[test]
    fn mix_is_mostly_deltas() {
        let mut m = Mixer::new(20, 1);
        let deltas = (0..10_000).filter(|_| m.next_kind() == Kind::Delta).count();
        assert!((8000..9000).contains(&deltas), "{deltas}");
    }
}
