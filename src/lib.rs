//! ocbar: follow every session of one or more OpenCode servers and serve compact status lines
//! to tmux, waybar, starship and the OpenCode TUI.
//!
//! The layout follows the data, which flows one way (see `docs/architecture.md`):
//!
//! ```text
//! OpenCode ──SSE──▶ daemon::source ──Event──▶ model (pure) ──Snapshot──▶ daemon::serve ──▶ client
//!                                                   │                    daemon::push  ──▶ tmux
//!                                                   └──Effect──▶ daemon::notify
//! ```
//!
//! - Shared by both ends, no I/O: [`wire`] (the socket protocol and the JSON snapshot),
//!   [`server_url`] (what a server address is), [`text`] (the one cleaner for text shown to a
//!   person), [`paths`] (where the socket, config and state live). Also shared, with file I/O:
//!   [`last_error`] (the error a daemon that failed to start leaves for `doctor`).
//! - Pure: [`model`] (events in, state and effects out; no clock, no I/O) and [`render`] (a
//!   snapshot to one bar's line).
//! - [`client`]: the synchronous command-line side (no async runtime).
//! - [`daemon`]: everything that runs in `ocbar daemon` (tokio): sources, discovery, the state
//!   loop, the socket server, notifications, the tmux push, the state file, and `open`'s landing
//!   in the terminal that shows a session (`daemon::jump`).

// The render tests share the fuzz crate's bar checks, which name this crate `ocbar`.
#[cfg(test)]
extern crate self as ocbar;

pub mod atomic_file;
pub mod client;
pub mod daemon;
pub mod last_error;
pub mod model;
pub mod opencode_config;
pub mod paths;
pub mod render;
pub mod server_url;
pub mod text;
pub mod wire;
