//! The socket server: answers clients from the latest published snapshot.
//!
//! It never waits on OpenCode. A query reads the newest [`Published`] snapshot (rendered
//! lines are cached per format and generation); commands that need the model (`seen`,
//! `open`, `mute`, `doctor`) go to the state loop as [`Command`]s. Every client is bounded in
//! request size and time, so a slow or garbage client never delays anyone else.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use interprocess::local_socket::tokio::{Listener, Stream, prelude::*};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::log;
use crate::protocol::{Hello, MAX_REQUEST, REQUEST_TIMEOUT, Reply, Request};
use crate::render::{self, Format, RenderConfig};
use crate::snapshot::Snapshot;

/// Most clients served at once; past this, new connections are closed at once.
pub const MAX_CLIENTS: usize = 4096;

/// Least time between two lines to one `watch` client (at most ~10 lines/s).
pub const WATCH_MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How long a reply write may take before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an action (`open`, `seen`, …) may take inside the daemon.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(8);

/// A snapshot as published by the state loop, with its rendered lines cached.
pub struct Published {
    /// The model generation this snapshot was taken at.
    pub generation: u64,
    pub snapshot: Snapshot,
    /// (format, second it was rendered in, line). Renders with a retry countdown depend on the
    /// clock, so they are reused only within the same second.
    cache: Mutex<Vec<(Style, i64, Arc<str>)>>,
    /// A countdown is shown: renders go stale every second.
    has_countdown: bool,
}

impl Published {
    /// Wrap a fresh snapshot.
    pub fn new(generation: u64, snapshot: Snapshot) -> Self {
        let has_countdown = render::time_sensitive(&snapshot);
        Published {
            generation,
            snapshot,
            cache: Mutex::new(Vec::new()),
            has_countdown,
        }
    }

    /// This snapshot in `format`, rendered at most once per format (per second while a retry
    /// countdown is shown).
    pub fn render(&self, format: impl Into<Style>, now_ms: i64, cfg: &RenderConfig) -> Arc<str> {
        let format: Style = format.into();
        let second = if self.has_countdown { now_ms / 1000 } else { 0 };
        if let Ok(cache) = self.cache.lock()
            && let Some((_, _, line)) = cache.iter().find(|(f, s, _)| *f == format && *s == second)
        {
            return line.clone();
        }
        let line: Arc<str> = if format.no_color && !cfg.no_color {
            let mut plain = cfg.clone();
            plain.no_color = true;
            Arc::from(render::render(
                format.format,
                &self.snapshot,
                now_ms,
                &plain,
            ))
        } else {
            Arc::from(render::render(format.format, &self.snapshot, now_ms, cfg))
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(f, _, _)| *f != format);
            cache.push((format, second, line.clone()));
        }
        line
    }
}

/// A format as a client asked for it: `tmux`, or `starship no-color` from a client whose
/// environment has `NO_COLOR` (the daemon renders, so the client says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub format: Format,
    pub no_color: bool,
}

impl From<Format> for Style {
    fn from(format: Format) -> Style {
        Style {
            format,
            no_color: false,
        }
    }
}

impl std::str::FromStr for Style {
    type Err = String;
    fn from_str(s: &str) -> Result<Style, String> {
        let mut words = s.split_whitespace();
        let format = words
            .next()
            .unwrap_or("")
            .parse::<Format>()
            .map_err(|e| e.to_string())?;
        let no_color = match words.next() {
            None => false,
            Some("no-color") => true,
            Some(other) => {
                return Err(format!(
                    "unknown option '{}' after the format (only 'no-color')",
                    other.chars().take(32).collect::<String>()
                ));
            }
        };
        if words.next().is_some() {
            return Err("too many words after the format".into());
        }
        Ok(Style { format, no_color })
    }
}

/// A request that needs the model; answered through the oneshot.
#[derive(Debug)]
pub enum Command {
    Seen(String, oneshot::Sender<Result<String, String>>),
    SeenAll(oneshot::Sender<Result<String, String>>),
    Open(String, oneshot::Sender<Result<String, String>>),
    Mute(String, bool, oneshot::Sender<Result<String, String>>),
    Doctor(oneshot::Sender<Result<String, String>>),
}

/// What every connection task shares.
#[derive(Clone)]
pub struct Shared {
    pub snapshots: watch::Receiver<Arc<Published>>,
    pub commands: mpsc::Sender<Command>,
    pub render: Arc<RenderConfig>,
    /// The TUI channels (`tui` requests); `None`: refused.
    pub tui: Option<Arc<crate::tui::Hub>>,
}

/// Accept clients forever.
pub async fn serve(listener: Listener, shared: Shared) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let conn = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                log!("accepting a client failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(conn); // over the limit: the client sees the connection close
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = handle(conn, shared).await;
        });
    }
}

async fn handle(conn: Stream, shared: Shared) -> std::io::Result<()> {
    // `&Stream` reads and writes: no split needed.
    let mut send = &conn;
    let mut hello = serde_json::to_string(&Hello::current()).unwrap_or_default();
    hello.push('\n');
    write_timed(&mut send, hello.as_bytes()).await?;
    let mut reader = BufReader::new(&conn).take(MAX_REQUEST as u64);
    let mut line = Vec::with_capacity(64);
    match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => {
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
        Request::Status(format) => match format.parse::<Style>() {
            Ok(f) => {
                let published = shared.snapshots.borrow().clone();
                Reply::Ok(published.render(f, now_ms(), &shared.render).to_string())
            }
            Err(e) => Reply::Error(e.to_string()),
        },
        Request::List => {
            let published = shared.snapshots.borrow().clone();
            Reply::Ok(render::panel(&published.snapshot, now_ms(), &shared.render))
        }
        Request::Watch(format) => {
            return match format.parse::<Style>() {
                Ok(f) => watch_loop(send, shared, f).await,
                Err(e) => {
                    write_timed(&mut send, Reply::Error(e.to_string()).to_line().as_bytes()).await
                }
            };
        }
        Request::Doctor => command(&shared, Command::Doctor).await,
        Request::Seen(q) => command(&shared, |tx| Command::Seen(q, tx)).await,
        Request::SeenAll => command(&shared, Command::SeenAll).await,
        Request::Open(q) => command(&shared, |tx| Command::Open(q, tx)).await,
        Request::Mute(q, on) => command(&shared, |tx| Command::Mute(q, on, tx)).await,
        Request::Tui(hello) => match &shared.tui {
            Some(hub) => {
                let mut reader = reader;
                reader.set_limit(u64::MAX); // the channel bounds its own lines
                return crate::tui::channel(hub.clone(), hello, reader, send).await;
            }
            None => Reply::Error("this daemon has no TUI channel".into()),
        },
    };
    write_timed(&mut send, reply.to_line().as_bytes()).await
}

async fn command(
    shared: &Shared,
    make: impl FnOnce(oneshot::Sender<Result<String, String>>) -> Command,
) -> Reply {
    let (tx, rx) = oneshot::channel();
    if shared.commands.send(make(tx)).await.is_err() {
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
    loop {
        let published = rx.borrow_and_update().clone();
        let line = published.render(format, now_ms(), &shared.render);
        if last.as_ref() != Some(&line) {
            write_timed(&mut send, Reply::Ok(line.to_string()).to_line().as_bytes()).await?;
            last = Some(line);
        }
        tokio::time::sleep(WATCH_MIN_INTERVAL).await;
        if published.has_countdown {
            // Re-render every second while a countdown is shown, or sooner on a change.
            let _ = tokio::time::timeout(Duration::from_millis(900), rx.changed()).await;
        } else if rx.changed().await.is_err() {
            return Ok(());
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

/// Wall-clock epoch milliseconds (the shell's clock; the model gets it passed in).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
