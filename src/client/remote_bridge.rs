//! `ocbar remote-bridge`: the far end of a laptop's ssh link to this machine (a dev box).
//!
//! The laptop's daemon runs `ssh HOST ocbar remote-bridge`; this process connects to this
//! machine's own daemon socket and carries its JSON snapshot down ssh's stdout (at once and after
//! every change, pushed by the daemon's `watch`) and the laptop's actions (`seen`, `mute`,
//! `unmute`, `open`) up from ssh's stdin, as in `wire::remote`. It listens on nothing: ssh's
//! authentication is the only one. It ends when ssh closes its stdin or the daemon goes away.

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use super::{ACTION_TIMEOUT, ClientError, Connection, request_within};
use crate::wire::remote::{
    MAX_REMOTE_LINE, RemoteAction, RemoteHello, RemoteLine, RemoteReply, RemoteRequest,
};
use crate::wire::{Format, OPEN_REPLY_TIMEOUT, Request};

/// Where lines go down the link: one writer at a time, whole lines only.
type Down = Arc<Mutex<std::io::Stdout>>;

/// Write one whole line; false when the link is gone.
fn send(down: &Down, line: &str) -> bool {
    let Ok(mut out) = down.lock() else {
        return false;
    };
    out.write_all(line.as_bytes()).is_ok() && out.flush().is_ok()
}

/// Run the bridge against the daemon at `socket`; returns when either side is gone.
pub fn run(socket: &Path) -> ExitCode {
    let down: Down = Arc::new(Mutex::new(std::io::stdout()));
    let hello = serde_json::to_string(&RemoteHello::current()).unwrap_or_default();
    if !send(&down, &format!("{hello}\n")) {
        return ExitCode::FAILURE;
    }
    let mut watch = match Connection::open(socket, &Request::Watch(Format::Json.into()), None) {
        Ok(c) => c,
        Err(e) => {
            send(&down, &RemoteLine::Error(e.to_string()).to_line());
            return ExitCode::FAILURE;
        }
    };
    let snapshots = down.clone();
    std::thread::spawn(move || {
        loop {
            let why = match watch.next_reply() {
                Ok(Some(json)) => {
                    // The daemon's own JSON, passed on as it is: `{"snapshot":<json>}`.
                    if !send(&snapshots, &format!("{{\"snapshot\":{json}}}\n")) {
                        std::process::exit(1);
                    }
                    continue;
                }
                Ok(None) => "the dev box's ocbar daemon stopped".to_string(),
                Err(e) => format!("the dev box's ocbar daemon: {e}"),
            };
            send(&snapshots, &RemoteLine::Error(why).to_line());
            std::process::exit(1);
        }
    });
    let stdin = std::io::stdin();
    let mut up = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut up)
            .take(MAX_REMOTE_LINE as u64)
            .read_until(b'\n', &mut line);
        match read {
            Ok(0) | Err(_) => return ExitCode::SUCCESS, // ssh closed the link
            Ok(_) if !line.ends_with(b"\n") => {
                send(
                    &down,
                    &RemoteLine::Error("a line from the laptop was too long".into()).to_line(),
                );
                return ExitCode::FAILURE;
            }
            Ok(_) => {}
        }
        let request: RemoteRequest = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                let e = format!("a line from the laptop is not a request: {e}");
                send(&down, &RemoteLine::Error(e).to_line());
                continue;
            }
        };
        // Each action on its own thread: a slow `open` holds up no `seen`.
        let (down, socket) = (down.clone(), socket.to_path_buf());
        std::thread::spawn(move || {
            let reply = answer(&socket, &request);
            send(&down, &RemoteLine::Reply(reply).to_line());
        });
    }
}

/// Ask this machine's daemon to do what the laptop asked; its answer, as the reply to `request`.
fn answer(socket: &Path, request: &RemoteRequest) -> RemoteReply {
    let result = match request.to_action() {
        Some(action) => {
            let timeout = match request.action {
                RemoteAction::Open => OPEN_REPLY_TIMEOUT,
                _ => ACTION_TIMEOUT,
            };
            request_within(socket, &Request::Action(action), timeout).map_err(|e| match e {
                ClientError::Refused(m) | ClientError::DaemonDown(m) | ClientError::Protocol(m) => {
                    m
                }
            })
        }
        None => Err("this action needs a session".to_string()),
    };
    match result {
        Ok(text) => RemoteReply {
            id: request.id,
            ok: Some(text),
            error: None,
        },
        Err(e) => RemoteReply {
            id: request.id,
            ok: None,
            error: Some(e),
        },
    }
}
