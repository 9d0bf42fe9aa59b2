//! The socket server: answers clients from the latest published snapshot.
//!
//! It never waits on OpenCode. A query reads the newest [`Published`] snapshot (rendered
//! lines are cached per format and generation); commands that need the model (`seen`,
//! `open`, `mute`, `doctor`) go to the state loop as [`Command`]s. Every client is bounded in
//! request size and time, so a slow or garbage client never delays anyone else.

use std::sync::Arc;
use std::time::Duration;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Interest};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::daemon::clock::now_ms;
use crate::daemon::published::Published;
use crate::log;
use crate::render::{self, RenderConfig};
use crate::wire::Style;
use crate::wire::{Action, Hello, MAX_REQUEST, REQUEST_TIMEOUT, Reply, Request};

/// Most clients served at once; past this, new connections are closed at once.
pub const MAX_CLIENTS: usize = 4096;

/// Least time between two lines to one `watch` client (at most ~10 lines/s).
pub const WATCH_MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How long a reply write may take before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an action (`open`, `seen`, …) may take inside the daemon.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(8);

/// An action for the state loop, with where its answer goes.
#[derive(Debug)]
pub struct Command {
    /// What the client asked, as it came off the wire.
    pub action: Action,
    /// The answer: the `ok` text or the `error` message.
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// What every connection task shares.
#[derive(Clone)]
pub struct Shared {
    pub snapshots: watch::Receiver<Arc<Published>>,
    pub commands: mpsc::Sender<Command>,
    pub render: Arc<RenderConfig>,
    /// The TUI channels (`tui` requests); `None`: refused.
    pub tui: Option<Arc<crate::daemon::tui::Hub>>,
}

/// Most clients accepted in one wake-up before the accept loop lets other tasks run.
const ACCEPT_BATCH: usize = 64;

/// Accept clients forever on `listener` (already non-blocking).
///
/// Most clients are bars asking `status <format>`: they write the request right after
/// connecting, so it is usually in the socket by the time the daemon accepts. Those are answered
/// on the spot ([`answer_at_once`]): accept, one read, one write (greeting and reply together),
/// close; the connection never enters the reactor and costs no task, timer or buffer. Every other
/// client (a request not there yet, `watch`, actions, the TUI channel) gets a task ([`handle`]).
/// One wake-up accepts every waiting client, up to [`ACCEPT_BATCH`] at a time.
pub async fn serve(listener: std::os::unix::net::UnixListener, shared: Shared) {
    // SAFETY: the UnixListener owns its descriptor and keeps it open, unchanged, for as long
    // as the AsyncFd that owns the listener lives.
    let listener = match unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) } {
        Ok(l) => l,
        Err(e) => {
            log!("cannot watch the socket for clients: {e}; no client will be answered");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    let hello: Arc<str> =
        Arc::from(serde_json::to_string(&Hello::current()).unwrap_or_default() + "\n");
    loop {
        let mut ready = match listener.readable().await {
            Ok(r) => r,
            Err(e) => {
                log!("waiting for clients failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let mut accepted = 0;
        while accepted < ACCEPT_BATCH {
            let fd = match accept_nonblocking(listener.get_ref()) {
                Ok(fd) => fd,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    ready.clear_ready();
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors, mostly: let clients finish, then try again.
                    log!("accepting a client failed: {e}");
                    drop(ready);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    break;
                }
            };
            accepted += 1;
            let prefix = match answer_at_once(&fd, &shared, &hello) {
                AtOnce::Answered => continue,
                AtOnce::Unfinished(rest) => {
                    finish_write(fd, rest);
                    continue;
                }
                AtOnce::NotYet(prefix) => prefix,
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue; // over the limit: the client sees the connection close
            };
            let conn =
                match tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd)) {
                    Ok(c) => c,
                    Err(e) => {
                        log!("cannot serve a client: {e}");
                        continue;
                    }
                };
            let shared = shared.clone();
            let hello = hello.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let _ = handle(conn, prefix, &hello, shared).await;
            });
        }
        if accepted == ACCEPT_BATCH {
            tokio::task::yield_now().await;
        }
    }
}

/// `accept4` with the new socket non-blocking and close-on-exec (one system call; std's
/// `accept` would need another to make it non-blocking).
fn accept_nonblocking(listener: &std::os::unix::net::UnixListener) -> std::io::Result<OwnedFd> {
    // SAFETY: accept4 on a listening socket we own, with no address buffer; a non-negative
    // result is a new descriptor that nothing else owns.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor returned by accept4 above, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What [`answer_at_once`] managed.
enum AtOnce {
    /// Replied in full; dropping the descriptor closes the connection.
    Answered,
    /// Replied, but the socket took only part of it: these bytes are still to be written.
    Unfinished(Vec<u8>),
    /// Not a request answered on the spot (or not all of it there yet): the bytes read so far,
    /// for [`handle`] to continue from.
    NotYet(Vec<u8>),
}

/// Answer a `status`/`list` request that is already in the socket, without waiting.
fn answer_at_once(fd: &OwnedFd, shared: &Shared, hello: &str) -> AtOnce {
    let mut buf = [0u8; 512];
    // SAFETY: recv into our own stack buffer, at most its length, on a socket we own.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n <= 0 {
        // Nothing yet (or the client closed early, or an error): the task path says what it
        // has to say about it.
        return AtOnce::NotYet(Vec::new());
    }
    let got = &buf[..n as usize];
    let Some(end) = got.iter().position(|&b| b == b'\n') else {
        return AtOnce::NotYet(got.to_vec());
    };
    let request = match std::str::from_utf8(&got[..end]).map(Request::parse) {
        Ok(Ok(r @ (Request::Status(_) | Request::List))) => r,
        _ => return AtOnce::NotYet(got.to_vec()),
    };
    let reply = quick_reply(request, shared);
    let mut out = Vec::with_capacity(hello.len() + reply.len());
    out.extend_from_slice(hello.as_bytes());
    out.extend_from_slice(reply.as_bytes());
    // SAFETY: send from our own live buffer, at most its length, on a socket we own.
    let sent = unsafe {
        libc::send(
            fd.as_raw_fd(),
            out.as_ptr().cast(),
            out.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    match sent {
        k if k >= 0 && k as usize == out.len() => AtOnce::Answered,
        k if k >= 0 => AtOnce::Unfinished(out.split_off(k as usize)),
        _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock => {
            AtOnce::Unfinished(out)
        }
        _ => AtOnce::Answered, // the client went away; nobody to tell
    }
}

/// The reply line (newline included) to a request answered from the snapshot alone; a
/// `status` line comes from the snapshot's cache.
fn quick_reply(request: Request, shared: &Shared) -> Arc<str> {
    let published = shared.snapshots.borrow().clone();
    match request {
        Request::Status(style) => published.reply(style, now_ms(), &shared.render),
        _ => Arc::from(
            Reply::Ok(render::panel(&published.snapshot, now_ms(), &shared.render)).to_line(),
        ),
    }
}

/// Say in the log that a client connected and sent no whole request in time: no bar does that,
/// and a plugin that does (its event loop stalled) never gets its channel. The first ten, then
/// every hundredth, so a misbehaving script cannot flood the log.
fn log_silent_client(pid: Option<i32>, read: &[u8]) {
    static SILENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SILENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if n > 10 && !n.is_multiple_of(100) {
        return;
    }
    let who = match pid {
        Some(pid) => {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            format!("pid {pid} ({})", crate::text::one_line(comm.trim(), 32))
        }
        None => "unknown pid".to_string(),
    };
    log!(
        "a client ({who}) sent no whole request within {} s ({} bytes of it); closed it ({n} so far)",
        REQUEST_TIMEOUT.as_secs(),
        read.len()
    );
}

/// Write what [`answer_at_once`] could not, in a task, bounded in time like any reply.
fn finish_write(fd: OwnedFd, rest: Vec<u8>) {
    let Ok(mut conn) = tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))
    else {
        return;
    };
    tokio::spawn(async move {
        let _ = write_timed(&mut conn, &rest).await;
    });
}

/// Serve one client that was not answered on the spot. `prefix`: what was already read of it.
async fn handle(
    mut conn: tokio::net::UnixStream,
    prefix: Vec<u8>,
    hello: &str,
    shared: Shared,
) -> std::io::Result<()> {
    let (read_half, mut send) = conn.split();
    write_timed(&mut send, hello.as_bytes()).await?;
    // Requests are short: a small buffer (the TUI channel's lines are bounded by the channel).
    let mut reader =
        BufReader::with_capacity(1024, prefix.as_slice().chain(read_half)).take(MAX_REQUEST as u64);
    let mut line = Vec::with_capacity(64);
    match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            let peer = AsRef::<tokio::net::UnixStream>::as_ref(&send)
                .peer_cred()
                .ok()
                .and_then(|c| c.pid());
            log_silent_client(peer, &line);
            let _ = write_timed(
                &mut send,
                Reply::Error("no request received in time".into())
                    .to_line()
                    .as_bytes(),
            )
            .await;
            return Ok(());
        }
    }
    if !line.ends_with(b"\n") {
        let msg = if line.len() >= MAX_REQUEST {
            "request too long"
        } else {
            "incomplete request (no newline)"
        };
        let _ = write_timed(&mut send, Reply::Error(msg.into()).to_line().as_bytes()).await;
        return Ok(());
    }
    line.pop();
    let request = match std::str::from_utf8(&line) {
        Ok(text) => Request::parse(text),
        Err(_) => Err("request is not UTF-8".into()),
    };
    let request = match request {
        Ok(r) => r,
        Err(msg) => {
            write_timed(&mut send, Reply::Error(msg).to_line().as_bytes()).await?;
            return Ok(());
        }
    };
    let reply = match request {
        r @ (Request::Status(_) | Request::List) => {
            return write_timed(&mut send, quick_reply(r, &shared).as_bytes()).await;
        }
        Request::Watch(style) => return watch_loop(send, shared, style).await,
        Request::Action(action) => command(&shared, action).await,
        Request::Tui(hello) => match &shared.tui {
            Some(hub) => {
                let mut reader = reader;
                reader.set_limit(u64::MAX); // the channel bounds its own lines
                return crate::daemon::tui::channel(hub.clone(), hello, reader, send).await;
            }
            None => Reply::Error("this daemon has no TUI channel".into()),
        },
    };
    write_timed(&mut send, reply.to_line().as_bytes()).await
}

async fn command(shared: &Shared, action: Action) -> Reply {
    let (reply, rx) = oneshot::channel();
    if shared
        .commands
        .send(Command { action, reply })
        .await
        .is_err()
    {
        return Reply::Error("the daemon is shutting down".into());
    }
    match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
        Ok(Ok(Ok(text))) => Reply::Ok(text),
        Ok(Ok(Err(msg))) => Reply::Error(msg),
        Ok(Err(_)) => Reply::Error("the daemon dropped the request".into()),
        Err(_) => Reply::Error("the daemon did not finish the request in time".into()),
    }
}

/// Send the current line, then a line per change (coalesced), until the client goes away.
async fn watch_loop<W: AsyncWriteExt + Unpin>(
    mut send: W,
    shared: Shared,
    format: Style,
) -> std::io::Result<()> {
    let mut rx = shared.snapshots.clone();
    let mut last: Option<Arc<str>> = None;
    // No line before this (at most one per `WATCH_MIN_INTERVAL`).
    let mut next_line = tokio::time::Instant::now();
    loop {
        let published = rx.borrow_and_update().clone();
        let now = now_ms();
        let line = published.render(format, now, &shared.render);
        if last.as_ref() != Some(&line) {
            // The reply line is serialised once per snapshot and format, for every subscriber.
            let reply = published.reply(format, now, &shared.render);
            write_timed(&mut send, reply.as_bytes()).await?;
            last = Some(line);
            next_line = tokio::time::Instant::now() + WATCH_MIN_INTERVAL;
        }
        if published.has_countdown() {
            // Re-render every second while a countdown is shown, or sooner on a change.
            let _ = tokio::time::timeout(Duration::from_millis(1000), rx.changed()).await;
        } else if rx.changed().await.is_err() {
            return Ok(());
        }
        // A change that comes within the interval after a line waits out the rest of it (the
        // changes meanwhile fold into one line). A timer only then: snapshots published while
        // the line stays the same (a token stream) cost this subscriber no wake-up of its own.
        if tokio::time::Instant::now() < next_line {
            tokio::time::sleep_until(next_line).await;
        }
    }
}

async fn write_timed<W: AsyncWriteExt + Unpin>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, w.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "client too slow",
        )),
    }
}
