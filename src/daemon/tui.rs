//! TUI channels: the OpenCode plugin (`integrations/opencode/`: `ocbar.tsx` for OpenCode 1,
//! `ocbar/tui.tsx` for OpenCode 2, over one core) inside each TUI keeps one open to the daemon (protocol in [`crate::wire`], "The TUI channel").
//!
//! - **On screen.** Every TUI reports the session it shows. Whether the user can see it is
//!   decided at the edges by `crate::daemon::visibility` (its tmux pane in a window a client
//!   shows, its terminal the focused window) and given to the hub ([`Hub::set_screen`]); the
//!   plugin's own focus reports count only once one has said "blur" (OpenCode's TUI does not
//!   turn on terminal focus reporting, so today they never come). The model gets
//!   `Event::Focus` whenever the session shown or its visibility changes (the session on screen
//!   is visited and never notified). Closing the channel clears it.
//! - **Attached TUIs** (`opencode attach URL`, `opencode --port N`) name their HTTP server. The
//!   daemon follows that server itself (a [`Update::Tui`] to the state loop, which adds it like
//!   a discovered one); the channel then carries what it shows only, so no event is counted twice.
//! - **Plain TUIs** (`opencode`, an in-process server with no port) cannot be reached over
//!   HTTP. Their plugin forwards the bus events, which go through the same decoder as SSE frames
//!   and reach the model under a pseudo server `tui://<pid>`: `ServerAdded`, `Connected` and an
//!   empty `Resync` when the channel opens, `Disconnected` and `ServerRemoved` when it closes.
//!   Toasts for their sessions go down the channel (`{"toast":…}`), as there is no `/tui/*`
//!   endpoint to call.
//! - **`ocbar open`** switches one TUI, attached or plain, through its own channel
//!   (`{"open":…}`, [`Hub::open_in`]); [`Hub::views`] tells `crate::daemon::jump` where each TUI
//!   is (pid, tmux server and pane), what it shows and when it was last on screen.
//!
//! The [`Hub`] holds the open channels; the notifier's toast channel and the state loop reach
//! TUIs through it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::daemon::discovery::Update;
use crate::daemon::source::{Decoded, Protocol};
use crate::model::event::{Event, ResyncReport};
use crate::server_url::ServerUrl;
use crate::wire::{MAX_TUI_LINE, Reply, TUI_LINE_TIMEOUT, TuiHello, TuiLine, TuiOut};

/// Lines queued for one TUI before new ones are refused (the TUI is not reading).
const OUT_QUEUE: usize = 32;

/// How long a write to a TUI may take before the channel is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// One open channel, as the hub sees it.
struct Entry {
    serial: u64,
    hello: TuiHello,
    /// `tui://<pid>` when its events are bridged.
    pseudo: Option<ServerUrl>,
    /// The HTTP server it is attached to (the channel carries what it shows only).
    attached: Option<ServerUrl>,
    out: mpsc::Sender<TuiOut>,
    since_ms: i64,
    session: Option<String>,
    /// What the plugin last said about its terminal's focus.
    plugin_focused: bool,
    /// The plugin has reported a blur once: its focus reports really arrive, and count.
    plugin_blurred: bool,
    /// Whether the user can see it, and why; `None` until decided.
    screen: Option<Screen>,
    /// When it was last on screen (or connected).
    on_screen_ms: i64,
    /// The session and visibility last sent to the model.
    sent: Option<(Option<String>, bool)>,
    events: u64,
    errors: u64,
}

#[derive(Default)]
struct Inner {
    next_serial: u64,
    tuis: BTreeMap<String, Entry>,
    /// How the focused window is known, for `doctor` (from `crate::daemon::visibility`).
    window_manager: Option<String>,
}

/// Whether the user can see a TUI, and why (for `doctor`), as `crate::daemon::visibility`
/// decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// On screen: its session is visited and not notified.
    pub on: bool,
    /// In words, e.g. "tmux window work:1 not shown by any client".
    pub why: String,
}

impl Entry {
    /// On screen as far as everything known says: decided visible, and (once the plugin's
    /// focus reports are known to arrive) focused.
    fn on_screen(&self) -> bool {
        self.screen.as_ref().is_some_and(|s| s.on) && (!self.plugin_blurred || self.plugin_focused)
    }

    /// The `Event::Focus` to send when what the model knows of this TUI is out of date.
    fn focus_event(&mut self, id: &str) -> Option<Event> {
        let now = (self.session.clone(), self.on_screen());
        if self.sent.as_ref() == Some(&now) {
            return None;
        }
        self.sent = Some(now.clone());
        Some(Event::Focus {
            tui: id.to_string(),
            session: now.0.map(|s| Arc::from(s.as_str())),
            focused: now.1,
        })
    }
}

/// What `ocbar open` needs to know about one connected TUI (see [`Hub::views`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuiView {
    /// The channel's id (the plugin sends its pid).
    pub id: String,
    /// The TUI's process id.
    pub pid: Option<u32>,
    /// The server whose sessions it can show: the HTTP server it is attached to, or its own
    /// `tui://<pid>` pseudo server when bridged; `None`: neither is known.
    pub server: Option<String>,
    /// Its tmux server socket (from `$TMUX`) and pane (`$TMUX_PANE`), when it runs in tmux.
    pub tmux: Option<(String, String)>,
    /// The session on its screen.
    pub session: Option<String>,
    /// Whether the user can see it now.
    pub on_screen: bool,
    /// When it was last on screen (ms since the epoch).
    pub on_screen_ms: i64,
    /// When its channel opened.
    pub since_ms: i64,
    /// Its project directory.
    pub directory: Option<String>,
}

/// The open TUI channels. Shared by the socket server (which opens them), the state loop
/// (`ocbar open`, `doctor`) and the notifier (toasts for bridged sessions).
pub struct Hub {
    events: mpsc::Sender<Event>,
    updates: mpsc::Sender<Update>,
    inner: Mutex<Inner>,
    /// Bumped when a channel opens or closes (the visibility watch follows it).
    changed: watch::Sender<u64>,
}

impl Hub {
    /// A hub feeding the state loop's event channel and its server-set updates.
    pub fn new(events: mpsc::Sender<Event>, updates: mpsc::Sender<Update>) -> Hub {
        Hub {
            events,
            updates,
            inner: Mutex::new(Inner::default()),
            changed: watch::Sender::new(0),
        }
    }

    /// Changes whenever a TUI channel opens or closes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Say how the focused window is known (`doctor` prints it under the TUIs).
    pub fn set_window_manager(&self, status: String) {
        self.lock().window_manager = Some(status);
    }

    /// Record whether the user can see TUI `id` (from `crate::daemon::visibility`); the model
    /// hears of it when that changes what it knows.
    pub async fn set_screen(&self, id: &str, screen: Screen) {
        let event = {
            let mut g = self.lock();
            let Some(e) = g.tuis.get_mut(id) else { return };
            if e.screen.as_ref().map(|s| s.on) != Some(screen.on) {
                crate::log!(
                    "TUI {id}: {} ({})",
                    if screen.on {
                        "on screen"
                    } else {
                        "not on screen"
                    },
                    screen.why
                );
            }
            e.screen = Some(screen);
            if e.on_screen() {
                e.on_screen_ms = crate::daemon::clock::now_ms();
            }
            e.focus_event(id)
        };
        if let Some(ev) = event {
            let _ = self.events.send(ev).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Number of open channels.
    pub fn len(&self) -> usize {
        self.lock().tuis.len()
    }

    /// No channel is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `server` is the pseudo server of an open bridged TUI.
    pub fn bridges(&self, server: &str) -> bool {
        self.lock()
            .tuis
            .values()
            .any(|e| e.pseudo.as_deref() == Some(server))
    }

    /// Every connected TUI, for choosing the one `ocbar open` switches.
    pub fn views(&self) -> Vec<TuiView> {
        self.lock()
            .tuis
            .iter()
            .map(|(id, e)| TuiView {
                id: id.clone(),
                pid: e.hello.pid,
                server: e
                    .pseudo
                    .as_ref()
                    .or(e.attached.as_ref())
                    .map(|s| s.to_string()),
                tmux: e
                    .hello
                    .tmux_socket()
                    .zip(e.hello.pane())
                    .map(|(s, p)| (s.to_string(), p.to_string())),
                session: e.session.clone(),
                on_screen: e.on_screen(),
                on_screen_ms: e.on_screen_ms,
                since_ms: e.since_ms,
                directory: e.hello.directory.clone(),
            })
            .collect()
    }

    /// Whether a connected TUI can show the sessions of `server` (attached to it, or bridging it).
    pub fn can_show(&self, server: &str) -> bool {
        let key = crate::server_url::url_key(server);
        self.lock().tuis.values().any(|e| {
            e.pseudo.as_deref() == Some(server)
                || e.attached
                    .as_deref()
                    .is_some_and(|a| crate::server_url::url_key(a) == key)
        })
    }

    /// Ask the TUI whose channel id is `id` to show `session` (only that TUI moves).
    pub fn open_in(&self, id: &str, session: &str) -> Result<(), String> {
        let g = self.lock();
        let Some(e) = g.tuis.get(id) else {
            return Err(format!("the OpenCode TUI {id} is gone"));
        };
        e.out
            .try_send(TuiOut::Open(session.to_string()))
            .map_err(|_| format!("the OpenCode TUI {id} is not reading its ocbar channel"))
    }

    fn send_to(&self, server: &str, line: TuiOut) -> Result<String, String> {
        let g = self.lock();
        let Some((id, e)) = g
            .tuis
            .iter()
            .find(|(_, e)| e.pseudo.as_deref() == Some(server))
        else {
            return Err(format!("no OpenCode TUI is connected for {server}"));
        };
        e.out
            .try_send(line)
            .map(|()| id.clone())
            .map_err(|_| format!("the OpenCode TUI {id} is not reading its ocbar channel"))
    }

    /// A toast in the bridged TUI whose pseudo server is `server`, or in every TUI attached
    /// to the HTTP server `server` (OpenCode 2, which has no `/tui/show-toast`).
    pub fn toast(
        &self,
        server: &str,
        title: &str,
        message: &str,
        variant: &str,
    ) -> Result<(), String> {
        let line = TuiOut::Toast {
            title: title.to_string(),
            message: message.to_string(),
            variant: variant.to_string(),
        };
        if self.bridges(server) {
            return self.send_to(server, line).map(|_| ());
        }
        let key = crate::server_url::url_key(server);
        let g = self.lock();
        let attached: Vec<(&String, &Entry)> = g
            .tuis
            .iter()
            .filter(|(_, e)| {
                e.attached
                    .as_deref()
                    .is_some_and(|a| crate::server_url::url_key(a) == key)
            })
            .collect();
        if attached.is_empty() {
            return Err(format!(
                "no OpenCode TUI with the ocbar plugin is attached to {server} (OpenCode 2 has no /tui/show-toast)"
            ));
        }
        let stuck: Vec<&str> = attached
            .iter()
            .filter(|(_, e)| e.out.try_send(line.clone()).is_err())
            .map(|(id, _)| id.as_str())
            .collect();
        if stuck.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the OpenCode TUI {} is not reading its ocbar channel",
                stuck.join(", ")
            ))
        }
    }

    /// `doctor` lines: one per open channel.
    ///
    /// `none_hint` is what to say when no TUI is connected: it depends on whether the plugin
    /// is installed, which the caller looks up.
    pub fn doctor(&self, now_ms: i64, none_hint: &str) -> String {
        let g = self.lock();
        let mut out = String::new();
        if g.tuis.is_empty() {
            let _ = writeln!(out, "tuis: none connected ({none_hint})");
        }
        for (id, e) in &g.tuis {
            let mut who = format!("tui {id}");
            match (e.hello.pane(), e.hello.tmux_socket()) {
                (Some(p), Some(s)) => {
                    let _ = write!(who, " (tmux pane {p} on {s})");
                }
                (Some(p), None) => {
                    let _ = write!(who, " (tmux pane {p})");
                }
                _ => {}
            }
            let how = match (&e.pseudo, &e.attached) {
                (Some(p), _) => format!("plain TUI, bridged as {p}, {} events", e.events),
                (None, Some(s)) => format!("attached to {s}"),
                (None, None) => "what it shows only".to_string(),
            };
            let screen = match &e.session {
                Some(s) => s.clone(),
                None => "no session".to_string(),
            };
            let seen = match &e.screen {
                None => "on screen: not decided yet".to_string(),
                Some(s) if e.plugin_blurred && !e.plugin_focused => {
                    format!("not on screen: its terminal reported a blur ({})", s.why)
                }
                Some(s) if s.on => format!("on screen: {}", s.why),
                Some(s) => format!("not on screen: {}", s.why),
            };
            let _ = writeln!(
                out,
                "{who}: {how}; shows {screen} ({seen}); connected {}s{}{}",
                (now_ms - e.since_ms).max(0) / 1000,
                e.hello
                    .directory
                    .as_deref()
                    .map(|d| format!(", in {d}"))
                    .unwrap_or_default(),
                if e.errors > 0 {
                    format!("; {} bad lines", e.errors)
                } else {
                    String::new()
                }
            );
        }
        if let Some(wm) = g.window_manager.as_ref().filter(|_| !g.tuis.is_empty()) {
            let _ = writeln!(out, "on screen: window manager: {wm}");
        }
        out.trim_end().to_string()
    }

    /// Register a channel; returns its serial, its pseudo server (if bridged) and its queue.
    /// Replaces a channel with the same id (dropping its queue closes it).
    fn register(
        &self,
        hello: TuiHello,
        now_ms: i64,
    ) -> (
        u64,
        Option<ServerUrl>,
        Option<ServerUrl>,
        mpsc::Receiver<TuiOut>,
        Option<ServerUrl>,
    ) {
        let attached = ServerUrl::attached(hello.server.as_deref());
        let pseudo: Option<ServerUrl> = attached.is_none().then(|| {
            let who = hello
                .pid
                .map(|p| p.to_string())
                .unwrap_or_else(|| hello.tui.clone());
            ServerUrl::tui(who)
        });
        let (tx, rx) = mpsc::channel(OUT_QUEUE);
        let mut g = self.lock();
        g.next_serial += 1;
        let serial = g.next_serial;
        let id = hello.tui.clone();
        let old = g.tuis.insert(
            id,
            Entry {
                serial,
                hello,
                pseudo: pseudo.clone(),
                attached: attached.clone(),
                out: tx,
                since_ms: now_ms,
                session: None,
                plugin_focused: true,
                plugin_blurred: false,
                screen: None,
                on_screen_ms: now_ms,
                sent: None,
                events: 0,
                errors: 0,
            },
        );
        // A replaced bridge under another pseudo server is removed here (its own channel
        // sees it was replaced and cleans nothing up).
        let orphan = old
            .and_then(|o| o.pseudo)
            .filter(|p| Some(p) != pseudo.as_ref());
        drop(g);
        self.bump();
        (serial, pseudo, attached, rx, orphan)
    }

    /// Forget a channel; false if it was replaced meanwhile (then nothing is cleaned up).
    fn unregister(&self, id: &str, serial: u64) -> bool {
        let mut g = self.lock();
        if g.tuis.get(id).is_some_and(|e| e.serial == serial) {
            g.tuis.remove(id);
            drop(g);
            self.bump();
            true
        } else {
            false
        }
    }

    fn with_entry(&self, id: &str, serial: u64, f: impl FnOnce(&mut Entry)) {
        let mut g = self.lock();
        if let Some(e) = g.tuis.get_mut(id).filter(|e| e.serial == serial) {
            f(e);
        }
    }
}

/// How reading one channel line ended.
enum LineRead {
    Line,
    Eof,
    TooLong,
    Stalled,
}

/// Read one line (without its newline) into `buf`: at most `max` bytes; once its first byte
/// has arrived, each further read must come within `stall`. Cancel-safe: bytes read so far stay
/// in `buf`.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    stall: Duration,
) -> std::io::Result<LineRead> {
    loop {
        let (used, done) = {
            let avail = if buf.is_empty() {
                r.fill_buf().await?
            } else {
                match tokio::time::timeout(stall, r.fill_buf()).await {
                    Ok(a) => a?,
                    Err(_) => return Ok(LineRead::Stalled),
                }
            };
            if avail.is_empty() {
                return Ok(LineRead::Eof);
            }
            match avail.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    buf.extend_from_slice(&avail[..i]);
                    (i + 1, true)
                }
                None => {
                    buf.extend_from_slice(avail);
                    (avail.len(), false)
                }
            }
        };
        r.consume(used);
        if buf.len() >= max {
            return Ok(LineRead::TooLong);
        }
        if done {
            return Ok(LineRead::Line);
        }
    }
}

async fn write_line<W: AsyncWrite + Unpin>(w: &mut W, line: &str) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, w.write_all(line.as_bytes())).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TUI too slow",
        )),
    }
}

/// A bus event from a plugin as a frame of its server's stream, with the protocol that reads
/// it: `{"directory","payload"}` (OpenCode 1's `/global/event`) is used as is; OpenCode 2's
/// `{type, data, location?}` (as its `/api/event` frames it) too, alone or as the `payload` of
/// that envelope (as the OpenCode 2 plugin forwards it); a bare
/// `{type, properties, directory?}` is wrapped (`directory` moved to the envelope).
fn as_frame(text: &str) -> Result<(std::borrow::Cow<'_, str>, Protocol), &'static str> {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        payload: Option<&'a RawValue>,
        #[serde(borrow, default, rename = "type")]
        kind: Option<&'a RawValue>,
        #[serde(borrow, default)]
        data: Option<&'a RawValue>,
        #[serde(borrow, default)]
        properties: Option<&'a RawValue>,
    }
    let probe: Probe = serde_json::from_str(text).map_err(|_| "event: not a JSON object")?;
    if let Some(payload) = probe.payload {
        // The OpenCode 2 plugin wraps its events as `{directory, payload: <OpenCode 2 event>}`.
        if let Ok(inner) = serde_json::from_str::<Probe>(payload.get())
            && inner.kind.is_some()
            && inner.data.is_some()
            && inner.properties.is_none()
        {
            return Ok((std::borrow::Cow::Borrowed(payload.get()), Protocol::V2));
        }
        return Ok((std::borrow::Cow::Borrowed(text), Protocol::V1));
    }
    if probe.kind.is_some() && probe.data.is_some() && probe.properties.is_none() {
        return Ok((std::borrow::Cow::Borrowed(text), Protocol::V2));
    }
    if probe.kind.is_none() {
        return Err("event: neither {\"payload\":…} nor {\"type\":…}");
    }
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|_| "event: not a JSON object")?;
    let directory = map.remove("directory");
    let mut env = serde_json::Map::new();
    if let Some(d) = directory {
        env.insert("directory".into(), d);
    }
    env.insert("payload".into(), serde_json::Value::Object(map));
    serde_json::to_string(&env)
        .map(|f| (std::borrow::Cow::Owned(f), Protocol::V1))
        .map_err(|_| "event: cannot re-encode")
}

/// Serve one TUI channel after its `tui` request line: register it, feed the model, relay the
/// daemon's lines to it, and clean up when either side closes.
pub async fn channel<R, W>(
    hub: Arc<Hub>,
    hello: TuiHello,
    mut reader: R,
    mut writer: W,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let id = hello.tui.clone();
    let now = crate::daemon::clock::now_ms();
    let (serial, pseudo, attached, mut out_rx, orphan) = hub.register(hello, now);
    if let Some(old) = orphan {
        let _ = hub.events.send(Event::ServerRemoved { server: old }).await;
    }
    let greeting = match (&pseudo, &attached) {
        (Some(p), _) => {
            crate::log!("TUI {id} connected: plain TUI, bridging its events as {p}");
            for ev in [
                Event::ServerAdded { server: p.clone() },
                Event::Connected { server: p.clone() },
                Event::Resync {
                    server: p.clone(),
                    report: ResyncReport::default(),
                },
            ] {
                let _ = hub.events.send(ev).await;
            }
            format!("bridge {p}")
        }
        (None, Some(s)) => {
            crate::log!("TUI {id} connected: attached to {s} (what it shows only)");
            let _ = hub
                .updates
                .send(Update::Tui {
                    tui: id.clone(),
                    server: Some(s.clone()),
                })
                .await;
            "focus".to_string()
        }
        (None, None) => "focus".to_string(),
    };
    let result = serve_lines(
        &hub,
        &id,
        serial,
        pseudo.as_ref(),
        &mut reader,
        &mut writer,
        &mut out_rx,
        greeting,
    )
    .await;
    if hub.unregister(&id, serial) {
        crate::log!("TUI {id} disconnected");
        let _ = hub
            .events
            .send(Event::Focus {
                tui: id.clone(),
                session: None,
                focused: false,
            })
            .await;
        if let Some(p) = pseudo {
            let _ = hub
                .events
                .send(Event::Disconnected {
                    server: p.clone(),
                    reason: "the TUI closed its ocbar channel".into(),
                })
                .await;
            let _ = hub.events.send(Event::ServerRemoved { server: p }).await;
        }
        if attached.is_some() {
            let _ = hub
                .updates
                .send(Update::Tui {
                    tui: id,
                    server: None,
                })
                .await;
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn serve_lines<R, W>(
    hub: &Hub,
    id: &str,
    serial: u64,
    pseudo: Option<&ServerUrl>,
    reader: &mut R,
    writer: &mut W,
    out_rx: &mut mpsc::Receiver<TuiOut>,
    greeting: String,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    write_line(writer, &Reply::Ok(greeting).to_line()).await?;
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    loop {
        tokio::select! {
            read = read_line(reader, &mut buf, MAX_TUI_LINE, TUI_LINE_TIMEOUT) => {
                match read? {
                    LineRead::Line => {}
                    LineRead::Eof => return Ok(()),
                    LineRead::TooLong => {
                        let _ = write_line(writer, &Reply::Error(format!("line longer than {MAX_TUI_LINE} bytes: closing")).to_line()).await;
                        return Ok(());
                    }
                    LineRead::Stalled => {
                        let _ = write_line(writer, &Reply::Error("line not completed in time: closing".into()).to_line()).await;
                        return Ok(());
                    }
                }
                let problem = match std::str::from_utf8(&buf) {
                    Err(_) => Some("line is not UTF-8".to_string()),
                    Ok(text) if text.trim().is_empty() => None,
                    Ok(text) => handle_line(hub, id, serial, pseudo, text).await.err(),
                };
                buf.clear();
                if let Some(msg) = problem {
                    hub.with_entry(id, serial, |e| e.errors += 1);
                    write_line(writer, &Reply::Error(msg).to_line()).await?;
                }
            }
            out = out_rx.recv() => match out {
                Some(line) => write_line(writer, &line.to_line()).await?,
                // Replaced by a newer channel with the same id.
                None => return Ok(()),
            },
        }
    }
}

async fn handle_line(
    hub: &Hub,
    id: &str,
    serial: u64,
    pseudo: Option<&ServerUrl>,
    text: &str,
) -> Result<(), String> {
    match TuiLine::parse(text)? {
        TuiLine::Focus { session, focused } => {
            let mut event = None;
            hub.with_entry(id, serial, |e| {
                e.session = session;
                e.plugin_focused = focused;
                e.plugin_blurred |= !focused;
                event = e.focus_event(id);
            });
            if let Some(ev) = event {
                let _ = hub.events.send(ev).await;
            }
            Ok(())
        }
        TuiLine::Event(json) => {
            let Some(server) = pseudo else {
                // Attached TUIs: the daemon follows their server over HTTP.
                return Ok(());
            };
            let (frame, protocol) = as_frame(json).map_err(str::to_string)?;
            match protocol.decode_text(server, &frame) {
                // The pseudo server is connected for as long as the channel is open.
                Decoded::Event(Event::Connected { .. }, _) => Ok(()),
                Decoded::Event(ev, _) => {
                    hub.with_entry(id, serial, |e| e.events += 1);
                    let _ = hub.events.send(ev).await;
                    Ok(())
                }
                Decoded::Invalid(why) => Err(format!("event: {why}")),
                Decoded::Noise
                | Decoded::Unknown(_)
                | Decoded::Heartbeat
                | Decoded::InstanceDisposed(_)
                | Decoded::GlobalDisposed => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, BufReader};

    fn hub() -> (Arc<Hub>, mpsc::Receiver<Event>, mpsc::Receiver<Update>) {
        let (etx, erx) = mpsc::channel(64);
        let (utx, urx) = mpsc::channel(64);
        (Arc::new(Hub::new(etx, utx)), erx, urx)
    }

    #[test]
    fn bare_events_are_wrapped() {
        let (f, p) = as_frame(r#"{"directory":"/p","payload":{"type":"x"}}"#).unwrap();
        assert!(matches!(f, std::borrow::Cow::Borrowed(_)));
        assert_eq!(p, Protocol::V1);
        // OpenCode 2's frame, as a plugin of OpenCode 2 sees its events.
        let (f, p) = as_frame(
            r#"{"id":"evt_1","type":"session.execution.started","data":{"sessionID":"ses_1"},"location":{"directory":"/p"}}"#,
        )
        .unwrap();
        assert!(matches!(f, std::borrow::Cow::Borrowed(_)));
        assert_eq!(p, Protocol::V2);
        // ... and as the OpenCode 2 plugin forwards it (`{directory, payload}`).
        let (f, p) = as_frame(
            r#"{"directory":"/p","payload":{"id":"evt_1","type":"session.execution.started","data":{"sessionID":"ses_1"}}}"#,
        )
        .unwrap();
        assert_eq!(p, Protocol::V2);
        assert!(f.starts_with(r#"{"id":"evt_1""#), "{f}");
        let (f, _) =
            as_frame(r#"{"type":"session.status","properties":{},"directory":"/p"}"#).unwrap();
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["directory"], "/p");
        assert_eq!(v["payload"]["type"], "session.status");
        assert!(v["payload"].get("directory").is_none());
        assert!(as_frame("[]").is_err());
        assert!(as_frame("{}").is_err());
        assert!(as_frame("nope").is_err());
    }

    #[tokio::test]
    async fn long_and_stalled_lines_are_bounded() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut r = BufReader::new(rx);
        let mut buf = Vec::new();
        tx.write_all(b"abc\nde").await.unwrap();
        assert!(matches!(
            read_line(&mut r, &mut buf, 100, Duration::from_millis(50))
                .await
                .unwrap(),
            LineRead::Line
        ));
        assert_eq!(buf, b"abc");
        buf.clear();
        assert!(matches!(
            read_line(&mut r, &mut buf, 100, Duration::from_millis(50))
                .await
                .unwrap(),
            LineRead::Stalled
        ));
        buf.clear();
        let (mut tx, rx) = tokio::io::duplex(4096);
        let mut r = BufReader::new(rx);
        tx.write_all(&[b'x'; 300]).await.unwrap();
        assert!(matches!(
            read_line(&mut r, &mut buf, 100, Duration::from_secs(5))
                .await
                .unwrap(),
            LineRead::TooLong
        ));
        drop(tx);
        buf.clear();
        let _ = read_line(&mut r, &mut buf, 1000, Duration::from_secs(5)).await;
    }

    async fn read_reply<R: AsyncBufRead + Unpin>(r: &mut R) -> String {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line))
            .await
            .expect("a line in time")
            .expect("read");
        line
    }

    #[tokio::test]
    async fn a_plain_tui_is_bridged_and_cleaned_up() {
        let (hub, mut events, _updates) = hub();
        let (client, server) = tokio::io::duplex(1 << 16);
        let (sr, sw) = tokio::io::split(server);
        let hello = TuiHello {
            tui: "77".into(),
            pid: Some(77),
            tmux_pane: Some("%1".into()),
            tmux: Some("/tmp/tmux-0/default,10,0".into()),
            directory: Some("/p".into()),
            server: Some("http://opencode.internal".into()),
        };
        let task = tokio::spawn(channel(hub.clone(), hello, BufReader::new(sr), sw));
        let (cr, mut cw) = tokio::io::split(client);
        let mut cr = BufReader::new(cr);
        assert_eq!(read_reply(&mut cr).await, "{\"ok\":\"bridge tui://77\"}\n");
        let pseudo: ServerUrl = ServerUrl::from("tui://77");
        assert_eq!(
            events.recv().await,
            Some(Event::ServerAdded {
                server: pseudo.clone()
            })
        );
        assert!(matches!(events.recv().await, Some(Event::Connected { .. })));
        assert!(matches!(events.recv().await, Some(Event::Resync { .. })));
        assert!(hub.bridges("tui://77"));

        cw.write_all(b"event {\"directory\":\"/p\",\"payload\":{\"type\":\"session.status\",\"properties\":{\"sessionID\":\"ses_1\",\"status\":{\"type\":\"busy\"}}}}\n").await.unwrap();
        match events.recv().await {
            Some(Event::Status {
                server, session, ..
            }) => {
                assert_eq!((&*server, &*session), ("tui://77", "ses_1"));
            }
            other => panic!("{other:?}"),
        }
        cw.write_all(b"focus {\"session\":\"ses_1\",\"focused\":true}\n")
            .await
            .unwrap();
        // Not on screen until decided (a TUI in a hidden tmux window must not mark it visited).
        assert_eq!(
            events.recv().await,
            Some(Event::Focus {
                tui: "77".into(),
                session: Some(Arc::from("ses_1")),
                focused: false
            })
        );
        let shown = Screen {
            on: true,
            why: "tmux work:0 shown by client /dev/pts/2".into(),
        };
        hub.set_screen("77", shown.clone()).await;
        assert_eq!(
            events.recv().await,
            Some(Event::Focus {
                tui: "77".into(),
                session: Some(Arc::from("ses_1")),
                focused: true
            })
        );
        // The same again tells the model nothing new.
        hub.set_screen("77", shown).await;
        // Garbage is answered, and the channel stays usable.
        cw.write_all(b"\xff\xfe\nbogus\nevent {\"payload\":{}}\nevent [1]\n")
            .await
            .unwrap();
        for _ in 0..4 {
            assert!(read_reply(&mut cr).await.starts_with("{\"error\":"));
        }
        // The daemon's lines reach the TUI.
        hub.toast("tui://77", "ocbar", "done", "success").unwrap();
        assert_eq!(
            read_reply(&mut cr).await,
            "{\"toast\":{\"title\":\"ocbar\",\"message\":\"done\",\"variant\":\"success\"}}\n"
        );
        hub.open_in("77", "ses_1").unwrap();
        assert_eq!(read_reply(&mut cr).await, "{\"open\":\"ses_1\"}\n");
        assert!(hub.toast("tui://78", "t", "m", "info").is_err());
        // What `ocbar open` sees: where it is, what it shows, and a line aimed at it alone.
        let views = hub.views();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].server.as_deref(), Some("tui://77"));
        assert_eq!(
            views[0].tmux,
            Some(("/tmp/tmux-0/default".to_string(), "%1".to_string()))
        );
        assert_eq!(views[0].session.as_deref(), Some("ses_1"));
        assert!(views[0].on_screen);
        assert!(
            hub.doctor(0, "x")
                .contains("shows ses_1 (on screen: tmux work:0 shown by client /dev/pts/2)")
        );
        assert!(hub.can_show("tui://77") && !hub.can_show("http://127.0.0.1:4096"));
        hub.open_in("77", "ses_2").unwrap();
        assert_eq!(read_reply(&mut cr).await, "{\"open\":\"ses_2\"}\n");
        assert!(hub.open_in("78", "ses_2").is_err());
        assert!(
            hub.doctor(0, "x")
                .contains("tui 77 (tmux pane %1 on /tmp/tmux-0/default)")
        );
        assert!(hub.doctor(0, "x").contains("bridged as tui://77"));

        drop(cw);
        drop(cr);
        task.await.unwrap().unwrap();
        assert!(matches!(
            events.recv().await,
            Some(Event::Focus {
                session: None,
                focused: false,
                ..
            })
        ));
        assert!(matches!(
            events.recv().await,
            Some(Event::Disconnected { .. })
        ));
        assert_eq!(
            events.recv().await,
            Some(Event::ServerRemoved { server: pseudo })
        );
        assert!(hub.is_empty());
    }

    #[tokio::test]
    async fn an_attached_tui_reports_focus_and_its_server_only() {
        let (hub, mut events, mut updates) = hub();
        let (client, server) = tokio::io::duplex(1 << 16);
        let (sr, sw) = tokio::io::split(server);
        let hello = TuiHello {
            tui: "9".into(),
            pid: Some(9),
            tmux_pane: None,
            tmux: None,
            directory: None,
            server: Some("http://127.0.0.1:5000/".into()),
        };
        let task = tokio::spawn(channel(hub.clone(), hello, BufReader::new(sr), sw));
        let (cr, mut cw) = tokio::io::split(client);
        let mut cr = BufReader::new(cr);
        assert_eq!(read_reply(&mut cr).await, "{\"ok\":\"focus\"}\n");
        assert_eq!(
            updates.recv().await,
            Some(Update::Tui {
                tui: "9".into(),
                server: Some(ServerUrl::from("http://127.0.0.1:5000"))
            })
        );
        // Events are not bridged: the daemon follows the server itself.
        cw.write_all(b"event {\"directory\":\"/p\",\"payload\":{\"type\":\"session.status\",\"properties\":{\"sessionID\":\"ses_1\",\"status\":{\"type\":\"busy\"}}}}\nfocus {\"session\":null,\"focused\":false}\n").await.unwrap();
        assert!(matches!(
            events.recv().await,
            Some(Event::Focus { focused: false, .. })
        ));
        // A blur from the plugin is real: from then on its focus counts beside the screen.
        hub.set_screen(
            "9",
            Screen {
                on: true,
                why: "x".into(),
            },
        )
        .await;
        assert!(!hub.views()[0].on_screen);
        cw.write_all(b"focus {\"session\":null,\"focused\":true}\n")
            .await
            .unwrap();
        assert!(matches!(
            events.recv().await,
            Some(Event::Focus { focused: true, .. })
        ));
        assert!(!hub.bridges("tui://9"));
        cw.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let _ = cr.read_to_end(&mut rest).await;
        task.await.unwrap().unwrap();
        assert!(matches!(events.recv().await, Some(Event::Focus { .. })));
        assert_eq!(
            updates.recv().await,
            Some(Update::Tui {
                tui: "9".into(),
                server: None
            })
        );
    }

    #[tokio::test]
    async fn a_new_channel_with_the_same_id_replaces_the_old_one() {
        let (hub, mut events, _updates) = hub();
        let hello = TuiHello {
            tui: "5".into(),
            pid: Some(5),
            tmux_pane: None,
            tmux: None,
            directory: None,
            server: None,
        };
        let (c1, s1) = tokio::io::duplex(4096);
        let (r1, w1) = tokio::io::split(s1);
        let t1 = tokio::spawn(channel(hub.clone(), hello.clone(), BufReader::new(r1), w1));
        let mut c1 = BufReader::new(c1);
        read_reply(&mut c1).await;
        let (c2, s2) = tokio::io::duplex(4096);
        let (r2, w2) = tokio::io::split(s2);
        let _t2 = tokio::spawn(channel(hub.clone(), hello, BufReader::new(r2), w2));
        let mut c2 = BufReader::new(c2);
        read_reply(&mut c2).await;
        // The old channel ends without removing the new one's server.
        t1.await.unwrap().unwrap();
        assert!(hub.bridges("tui://5"));
        assert_eq!(hub.len(), 1);
        while let Ok(ev) = events.try_recv() {
            assert!(!matches!(ev, Event::ServerRemoved { .. }), "{ev:?}");
        }
    }
}
