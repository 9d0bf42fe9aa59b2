//! The dialect of one server's event stream, chosen at every (re)connect: which path the
//! stream is read from, how a frame is decoded and how a resync reads the server's state.
//!
//! The connection loop ([`connection`](super::connection)) and the stream reader
//! ([`reader`](super::reader)) are the same for every dialect; only what this value names
//! differs. OpenCode 1 streams `GET /global/event`; OpenCode 2 streams `GET /api/event` with its
//! own framing, lifecycle events and resync ([`decode_v2`](super::decode_v2),
//! [`api_v2`](super::api_v2)). Which one a server speaks is found by
//! [`Api::identify`](super::api::Api::identify) at every (re)connect.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::api::{Api, ApiError, Resynced};
use super::decode::{Decoded, decode, decode_frame};
use super::decode_v2::{decode_v2, decode_v2_frame};
use super::version;
use crate::server_url::ServerUrl;

/// Which OpenCode API a connection speaks. Chosen before the stream is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenCode 1.x: `GET /global/event`, resync over `/session/status`, `/experimental/session`…
    V1,
    /// OpenCode 2.x: `GET /api/event` (`{id, type, data, location}` frames, `: heartbeat`
    /// comments every 15 s), resync over `/api/session/active`, `/api/session`… No `/tui/*`.
    V2,
}

impl Protocol {
    /// The path of the server's event stream, below the server's URL.
    pub fn event_path(self) -> &'static str {
        match self {
            Protocol::V1 => "/global/event",
            Protocol::V2 => "/api/event",
        }
    }

    /// `OpenCode 1` or `OpenCode 2`, for the log and `doctor`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V1 => "OpenCode 1",
            Protocol::V2 => "OpenCode 2",
        }
    }

    /// How often a server of this protocol and `version` proves its stream alive: OpenCode 1's
    /// `server.heartbeat` by version ([`version::heartbeat_interval`]); OpenCode 2's
    /// `: heartbeat` comment every 15 s (`packages/server/src/handlers/event.ts`).
    pub fn heartbeat_interval(self, version: Option<&str>) -> Duration {
        match self {
            Protocol::V1 => version::heartbeat_interval(version),
            Protocol::V2 => Duration::from_secs(15),
        }
    }

    /// One frame's `data`, as the SSE framer hands it out, as something for the model (see
    /// [`Decoded`]).
    pub fn decode<'a>(self, server: &ServerUrl, data: &'a [u8]) -> Decoded<'a> {
        match self {
            Protocol::V1 => decode_frame(server, data),
            Protocol::V2 => decode_v2_frame(server, data),
        }
    }

    /// [`decode`](Self::decode) of a frame that is already text (the TUI channel's event
    /// lines): not checked for UTF-8 a second time.
    pub fn decode_text<'a>(self, server: &ServerUrl, data: &'a str) -> Decoded<'a> {
        match self {
            Protocol::V1 => decode(server, data),
            Protocol::V2 => decode_v2(server, data),
        }
    }

    /// Read the server's whole state after a (re)connect: running and waiting sessions, their
    /// metadata, the version. `seen_dirs`: the directories events named since the task started.
    pub async fn resync(
        self,
        api: &Api,
        seen_dirs: &BTreeSet<String>,
        now_ms: i64,
    ) -> Result<Resynced, ApiError> {
        match self {
            Protocol::V1 => api.resync(seen_dirs, now_ms).await,
            Protocol::V2 => api.resync_v2(now_ms).await,
        }
    }
}

/// The protocol each followed server was last identified as, by URL: what the parts of the
/// daemon that reach a server without its connection (the toast channel) need to know. Each
/// connection records its finding here at every (re)connect.
#[derive(Debug, Default)]
pub struct Protocols(Mutex<HashMap<String, Protocol>>);

impl Protocols {
    /// Record what `server` speaks.
    pub fn set(&self, server: &str, protocol: Protocol) {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.insert(crate::server_url::url_key(server), protocol);
    }

    /// What `server` speaks, if it was identified.
    pub fn get(&self, server: &str) -> Option<Protocol> {
        let g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(&crate::server_url::url_key(server)).copied()
    }
}
