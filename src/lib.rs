//! ocbar: follow every session of one or more OpenCode servers and serve compact status
//! lines to tmux, waybar, starship and the OpenCode TUI.
//!
//! Shape (see DESIGN.md): `source` turns OpenCode's SSE stream into typed events, `state` is a
//! pure function from events to state and effects, `serve` answers clients from the latest
//! snapshot, `render` turns a snapshot into one bar's line, `client` is the tiny synchronous
//! command-line side.

// The render tests share the fuzz crate's bar checks, which name this crate `ocbar`.
#[cfg(test)]
extern crate self as ocbar;

pub mod bars;
pub mod client;
pub mod config;
pub mod daemon;
pub mod discovery;
pub mod install;
pub mod log;
pub mod notify;
pub mod paths;
pub mod protocol;
pub mod push;
pub mod render;
pub mod replay;
pub mod serve;
pub mod server_url;
pub mod snapshot;
pub mod source;
pub mod state;
pub mod store;
pub mod text;
pub mod tui;
