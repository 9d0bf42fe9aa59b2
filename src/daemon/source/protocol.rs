//! The dialect of one server's event stream, chosen at every (re)connect: which path the
//! stream is read from, how a frame is decoded and how a resync reads the server's state.
//!
//! The connection loop ([`connection`](super::connection)) and the stream reader
//! ([`reader`](super::reader)) are the same for every dialect; only what this value names
//! differs. OpenCode 1 streams `GET /global/event`; a dialect for OpenCode 2 (`GET /api/event`,
//! its own lifecycle events and resync) is one more variant here.

use std::collections::BTreeSet;

use super::api::{Api, ApiError, Resynced};
use super::decode::{Decoded, decode};
use crate::server_url::ServerUrl;

/// Which OpenCode API a connection speaks. Chosen before the stream is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenCode 1.x: `GET /global/event`, resync over `/session/status`, `/experimental/session`…
    V1,
}

impl Protocol {
    /// The path of the server's event stream, below the server's URL.
    pub fn event_path(self) -> &'static str {
        match self {
            Protocol::V1 => "/global/event",
        }
    }

    /// One frame's `data` as something for the model (see [`Decoded`]).
    pub fn decode<'a>(self, server: &ServerUrl, data: &'a str) -> Decoded<'a> {
        match self {
            Protocol::V1 => decode(server, data),
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
        }
    }
}
