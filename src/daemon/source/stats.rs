//! Per-server counters for `ocbar doctor`: written by the connection task, read by anyone.
//!
//! Hot-path counters are relaxed atomics (one increment per frame); texts sit behind a mutex
//! that is only taken on rare events (errors, resyncs). [`ServerStats::view`] gives a plain,
//! serializable copy.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// The frames of one read, by what they were, for [`ServerStats::frames`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameCounts {
    /// Complete frames and comments.
    pub frames: u64,
    /// Frames that became a model event.
    pub events: u64,
    /// Frames ignored as noise (heartbeats and comments included).
    pub noise: u64,
}

/// Live counters of one server connection. Share it as `Arc<ServerStats>`.
#[derive(Debug, Default)]
pub struct ServerStats {
    url: String,
    connected: AtomicBool,
    connected_since_ms: AtomicI64,
    last_frame_ms: AtomicI64,
    frames: AtomicU64,
    events: AtomicU64,
    noise: AtomicU64,
    decode_errors: AtomicU64,
    unknown_events: AtomicU64,
    auth_failures: AtomicU64,
    connects: AtomicU64,
    reconnects: AtomicU64,
    connect_failures: AtomicU64,
    resyncs: AtomicU64,
    resync_failures: AtomicU64,
    last_resync_ms: AtomicI64,
    known_directories: AtomicU64,
    texts: Mutex<Texts>,
}

#[derive(Debug, Default, Clone)]
struct Texts {
    last_decode_error: Option<String>,
    last_connect_error: Option<String>,
    last_resync_error: Option<String>,
    version: Option<String>,
    protocol: Option<&'static str>,
    unknown_types: Vec<String>,
}

/// At most this many distinct unknown event type names are remembered (the count goes on).
pub const MAX_UNKNOWN_TYPES: usize = 16;
/// Unknown type names longer than this are cut (they come from the network).
const MAX_TYPE_NAME: usize = 80;

/// A consistent-enough copy of [`ServerStats`], as shown by `doctor` (stable field names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatsView {
    /// The server's base URL (without credentials).
    pub url: String,
    /// The event stream is open.
    pub connected: bool,
    /// Epoch ms the current stream opened (0 if not connected).
    pub connected_since_ms: i64,
    /// Epoch ms of the last SSE frame of any kind (0 if none yet).
    pub last_frame_ms: i64,
    /// SSE frames received, all kinds.
    pub frames: u64,
    /// Frames that became model events.
    pub events: u64,
    /// Frames dropped as noise (deltas, parts, sync copies, heartbeats…).
    pub noise: u64,
    /// Frames that could not be understood.
    pub decode_errors: u64,
    /// Why the last bad frame was rejected (never frame content).
    pub last_decode_error: Option<String>,
    /// Frames whose payload type this ocbar does not know (ignored, but counted).
    #[serde(default)]
    pub unknown_events: u64,
    /// The first few distinct unknown payload types seen (at most 16), in order of appearance.
    #[serde(default)]
    pub unknown_types: Vec<String>,
    /// Connection attempts answered with 401.
    pub auth_failures: u64,
    /// Event streams opened successfully.
    pub connects: u64,
    /// Times a stream was lost or a connection attempt failed and a new attempt was scheduled.
    pub reconnects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Why the last connection attempt failed, or why the last stream ended.
    pub last_connect_error: Option<String>,
    /// Successful HTTP resyncs.
    pub resyncs: u64,
    /// Failed HTTP resyncs.
    pub resync_failures: u64,
    /// Epoch ms of the last successful resync (0 if none).
    pub last_resync_ms: i64,
    /// Why the last resync failed.
    pub last_resync_error: Option<String>,
    /// Directories the last resync queried.
    pub known_directories: u64,
    /// OpenCode's version (`/api/info` or `/global/health`), once known.
    pub version: Option<String>,
    /// Which API the server speaks (`OpenCode 1` or `OpenCode 2`), once identified.
    #[serde(default)]
    pub protocol: Option<String>,
}

impl ServerStats {
    /// Fresh counters for the server at `url` (give it without credentials).
    pub fn new(url: impl Into<String>) -> Self {
        ServerStats {
            url: url.into(),
            ..ServerStats::default()
        }
    }

    /// A serializable copy of the counters.
    pub fn view(&self) -> ServerStatsView {
        let texts = self.texts();
        ServerStatsView {
            url: self.url.clone(),
            connected: self.connected.load(Relaxed),
            connected_since_ms: self.connected_since_ms.load(Relaxed),
            last_frame_ms: self.last_frame_ms.load(Relaxed),
            frames: self.frames.load(Relaxed),
            events: self.events.load(Relaxed),
            noise: self.noise.load(Relaxed),
            decode_errors: self.decode_errors.load(Relaxed),
            last_decode_error: texts.last_decode_error,
            unknown_events: self.unknown_events.load(Relaxed),
            unknown_types: texts.unknown_types,
            auth_failures: self.auth_failures.load(Relaxed),
            connects: self.connects.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            last_connect_error: texts.last_connect_error,
            resyncs: self.resyncs.load(Relaxed),
            resync_failures: self.resync_failures.load(Relaxed),
            last_resync_ms: self.last_resync_ms.load(Relaxed),
            last_resync_error: texts.last_resync_error,
            known_directories: self.known_directories.load(Relaxed),
            version: texts.version,
            protocol: texts.protocol.map(str::to_owned),
        }
    }

    /// The stream is open right now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Relaxed)
    }

    fn texts(&self) -> Texts {
        match self.texts.lock() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_text(&self, f: impl FnOnce(&mut Texts)) {
        match self.texts.lock() {
            Ok(mut t) => f(&mut t),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// What one read of the stream brought, counted once per read rather than per frame (a
    /// read of a hot stream holds a hundred frames; each count is an atomic operation).
    pub(crate) fn frames(&self, counts: FrameCounts, now_ms: i64) {
        if counts.frames == 0 {
            return;
        }
        self.frames.fetch_add(counts.frames, Relaxed);
        self.last_frame_ms.store(now_ms, Relaxed);
        if counts.events > 0 {
            self.events.fetch_add(counts.events, Relaxed);
        }
        if counts.noise > 0 {
            self.noise.fetch_add(counts.noise, Relaxed);
        }
    }

    /// A frame of a payload type this code does not know. Allocates only for a new name.
    pub(crate) fn unknown(&self, kind: &str) {
        self.unknown_events.fetch_add(1, Relaxed);
        let name = match kind.char_indices().nth(MAX_TYPE_NAME) {
            Some((i, _)) => &kind[..i],
            None => kind,
        };
        self.set_text(|t| {
            if t.unknown_types.len() < MAX_UNKNOWN_TYPES
                && !t.unknown_types.iter().any(|k| k == name)
            {
                // Shown by `doctor`: no control characters from the network.
                let clean: String = crate::text::clean(name).collect();
                if !t.unknown_types.contains(&clean) {
                    t.unknown_types.push(clean);
                }
            }
        });
    }

    pub(crate) fn decode_error(&self, reason: &str) {
        self.decode_errors.fetch_add(1, Relaxed);
        self.set_text(|t| {
            if t.last_decode_error.as_deref() != Some(reason) {
                t.last_decode_error = Some(reason.to_owned());
            }
        });
    }

    pub(crate) fn opened(&self, now_ms: i64) {
        self.connects.fetch_add(1, Relaxed);
        self.connected_since_ms.store(now_ms, Relaxed);
        self.connected.store(true, Relaxed);
    }

    pub(crate) fn closed(&self, reason: &str) {
        self.connected.store(false, Relaxed);
        self.connected_since_ms.store(0, Relaxed);
        self.set_text(|t| t.last_connect_error = Some(reason.to_owned()));
    }

    pub(crate) fn connect_failed(&self, reason: &str, auth: bool) {
        self.connect_failures.fetch_add(1, Relaxed);
        if auth {
            self.auth_failures.fetch_add(1, Relaxed);
        }
        self.set_text(|t| t.last_connect_error = Some(reason.to_owned()));
    }

    pub(crate) fn reconnect_scheduled(&self) {
        self.reconnects.fetch_add(1, Relaxed);
    }

    pub(crate) fn resynced(&self, now_ms: i64, directories: usize) {
        self.resyncs.fetch_add(1, Relaxed);
        self.last_resync_ms.store(now_ms, Relaxed);
        self.known_directories.store(directories as u64, Relaxed);
        self.set_text(|t| t.last_resync_error = None);
    }

    pub(crate) fn resync_failed(&self, reason: &str) {
        self.resync_failures.fetch_add(1, Relaxed);
        self.set_text(|t| t.last_resync_error = Some(reason.to_owned()));
    }

    pub(crate) fn set_protocol(&self, name: &'static str) {
        self.set_text(|t| t.protocol = Some(name));
    }

    pub(crate) fn set_version(&self, version: &str) {
        self.set_text(|t| {
            if t.version.as_deref() != Some(version) {
                t.version = Some(version.to_owned());
            }
        });
    }
}

impl Serialize for ServerStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_serializes_with_stable_names() {
        let s = ServerStats::new("http://127.0.0.1:4096");
        let one = |noise, events| FrameCounts {
            frames: 1,
            noise,
            events,
        };
        s.frames(one(1, 0), 5);
        s.frames(one(0, 1), 7);
        s.frames(FrameCounts::default(), 9); // an empty read: not a frame
        s.decode_error("malformed JSON");
        s.opened(3);
        s.connect_failed("connection refused", false);
        s.connect_failed("401", true);
        s.resynced(9, 2);
        s.set_version("1.18.33");
        let v = s.view();
        assert_eq!((v.frames, v.noise, v.events), (2, 1, 1));
        assert_eq!(v.last_frame_ms, 7);
        assert_eq!(v.auth_failures, 1);
        assert_eq!(v.connect_failures, 2);
        assert!(v.connected);
        let json = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(json["url"], "http://127.0.0.1:4096");
        assert_eq!(json["last_decode_error"], "malformed JSON");
        assert_eq!(json["version"], "1.18.33");
        assert_eq!(json["known_directories"], 2);
        let back: ServerStatsView = serde_json::from_value(json).unwrap_or_default();
        assert_eq!(back, v);
        s.closed("stream closed by server");
        assert!(!s.is_connected());
        assert_eq!(
            s.view().last_connect_error.as_deref(),
            Some("stream closed by server")
        );
    }
}
