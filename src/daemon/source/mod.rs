//! The OpenCode side: SSE connection, decoding, resync over HTTP.
//!
//! - [`decode`](mod@decode): one `data:` payload of `GET /global/event` → a typed
//!   [`Event`](crate::model::event::Event), with noise dropped before anything is allocated.
//! - [`protocol`]: the dialect of a server's stream (event path, decoder, resync), chosen at
//!   every (re)connect.
//! - [`reader`]: the one reader of an event stream, for every server and protocol: request,
//!   credentials, checks, and the body read with coalescing.
//! - [`sse`]: the event-stream framer (linear time, bounded memory).
//! - [`api`]: HTTP calls to one server (health, resync, metadata, last-turn outcome, toasts,
//!   session selection), credentials from the environment.
//! - [`connection`]: one task per server — connect, backoff, watchdog, resync after every
//!   `server.connected`, and the fetches the model asks for (`Effect::FetchSession`,
//!   `Effect::FetchOutcome`).
//! - [`stats`]: live counters per server for `ocbar doctor`.
//! - [`version`]: the supported OpenCode versions and their heartbeat intervals.
//!
//! Typical use by the daemon:
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use ocbar::daemon::source::{ConnectionConfig, ServerStats, spawn_server};
//! use ocbar::model::event::Event;
//! use ocbar::server_url::ServerUrl;
//!
//! let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(1024);
//! let server = ServerUrl::from("http://127.0.0.1:4096");
//! let stats = Arc::new(ServerStats::new(server.to_string()));
//! tx.send(Event::ServerAdded { server: server.clone() }).await.ok();
//! let handle = spawn_server(server, tx, stats, ConnectionConfig::default());
//! while let Some(event) = rx.recv().await {
//!     // feed the model; run each `Effect::FetchSession`/`FetchOutcome` with
//!     // `handle.execute(&effect)`; toasts go through `handle.api()`.
//! #   let _ = (&event, &handle);
//! }
//! # }
//! ```

pub mod api;
pub mod api_v2;
pub mod connection;
pub mod decode;
pub mod decode_v2;
pub mod protocol;
pub mod reader;
pub mod sse;
pub mod stats;
pub mod version;

pub use api::{Api, ApiError, Credentials, Health, Resynced, Toast, ToastVariant, http_client};
pub use api_v2::Identity;
pub use connection::{ConnectionConfig, ServerHandle, spawn_server};
pub use decode::{Decoded, decode, decode_frame};
pub use decode_v2::{decode_v2, decode_v2_frame};
pub use protocol::{Protocol, Protocols};
pub use reader::{EventBody, open_event_stream};
pub use stats::{ServerStats, ServerStatsView};
