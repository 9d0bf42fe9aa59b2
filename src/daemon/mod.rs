//! `ocbar daemon`: wires sources, the state loop, the notifier and the socket server.
//!
//! The state loop owns the model. Sources send it events, the socket server sends it
//! commands, and it publishes snapshots through a `watch` channel that queries read without
//! waiting on anything.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::log;
use crate::model::State;
use crate::model::effect::{Effect, Notification, NotifyKind};
use crate::model::event::{Event, Target};
use crate::paths;
use crate::server_url::{DEFAULT_SERVER, ServerKind, ServerUrl};
use crate::wire::snapshot::SessionState;
use clock::now_ms;
use config::Config;
use published::Published;
use serve::{Command, Shared};
use store::ToSave;

pub mod clock;
pub mod config;
pub mod discovery;
pub mod jump;
pub mod log;
pub mod notify;
pub mod published;
pub mod push;
pub mod replay;
pub mod serve;
pub mod source;
pub mod store;
pub mod tui;

/// Capacity of the event channel from sources to the state loop.
const EVENT_QUEUE: usize = 8192;

/// Longest an action's reply waits for the state file (a slow or failing disk).
const SAVE_WAIT: Duration = Duration::from_secs(2);

/// A client's reply channel and what to tell it.
type Reply = (
    oneshot::Sender<Result<String, String>>,
    Result<String, String>,
);

/// Entry point of `ocbar daemon`; returns the process exit code.
pub fn main(
    server_flags: Vec<String>,
    config_path: Option<PathBuf>,
    replay: Option<PathBuf>,
    socket: PathBuf,
) -> ExitCode {
    let (config, loaded_from) = match config::load(config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => return fatal(&socket, 2, &e, FIX_CONFIG),
    };
    let mut config = config;
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        config.render.no_color = true;
    }
    let env = std::env::var("OCBAR_SERVER").ok();
    let servers = if replay.is_some() && server_flags.is_empty() {
        Vec::new() // a replay alone follows no live server
    } else {
        match config::servers(&server_flags, env.as_deref(), &config) {
            Ok(s) => s,
            Err(e) => return fatal(&socket, 2, &e, FIX_SERVERS),
        }
    };
    // Discovery (src/daemon/discovery.rs). With no server configured, the default URL is only probed:
    // followed while something answers there, not shown as "not connected" otherwise.
    let mut discovery = crate::daemon::discovery::Settings::new(
        &config.discovery,
        std::env::var("OCBAR_DISCOVERY").ok().as_deref(),
    );
    discovery.enabled &= replay.is_none() || !server_flags.is_empty();
    let defaulted = server_flags.is_empty()
        && env.as_deref().is_none_or(|e| e.trim().is_empty())
        && config.servers.is_empty();
    // `[discovery] probe` replaces the default URL as what is probed.
    let probes = match &config.discovery.probe {
        Some(list) => list.clone(),
        None if defaulted => vec![DEFAULT_SERVER.to_string()],
        None => Vec::new(),
    };
    let mut probed = Vec::new();
    for p in &probes {
        match ServerUrl::parse(p) {
            Ok(url) => probed.push(url),
            Err(e) => return fatal(&socket, 2, &format!("[discovery] probe: {e}"), FIX_CONFIG),
        }
    }
    if discovery.enabled {
        discovery.probes = probed;
    }
    let servers = if defaulted && discovery.enabled {
        Vec::new()
    } else {
        servers
    };
    let replayed = match &replay {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => {
                let r = crate::daemon::replay::events_from(&ServerUrl::replay(path), &bytes);
                eprintln!(
                    "ocbar: replaying {}: {} frames, {} model events, {} noise, {} invalid",
                    path.display(),
                    r.frames,
                    r.events.len(),
                    r.noise,
                    r.invalid
                );
                r.events
            }
            Err(e) => {
                let e = format!("cannot read {}: {e}", path.display());
                return fatal(&socket, 2, &e, "give --replay a file 'ocbar record' wrote");
            }
        },
        None => Vec::new(),
    };
    if let Err(e) = paths::prepare_socket_dir(&socket) {
        return fatal(&socket, 1, &e, FIX_SOCKET);
    }
    match claim_socket(&socket) {
        Ok(()) => {}
        // Another daemon serves this socket: nothing to keep, nothing to tell tmux.
        Err(ClaimError::Running(e)) => {
            eprintln!("ocbar: {e}");
            return ExitCode::FAILURE;
        }
        Err(e @ ClaimError::Blocked(_)) => return fatal(&socket, 1, e.message(), FIX_SOCKET),
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let e = format!("cannot start the async runtime: {e}");
            return fatal(&socket, 1, &e, FIX_SYSTEM);
        }
    };
    let ctx = Context {
        started_ms: now_ms(),
        socket: socket.clone(),
        config_path: loaded_from,
        discovery,
    };
    let code = runtime.block_on(run(config, servers, replayed, ctx));
    let _ = std::fs::remove_file(&socket);
    code
}

/// Fixes `doctor` shows with a fatal error (src/last_error.rs).
const FIX_CONFIG: &str = "correct the config file where the error says (every key is checked; the README's Configuration lists them)";
const FIX_SERVERS: &str =
    "correct the server URL (--server, OCBAR_SERVER or servers in the config file)";
const FIX_SOCKET: &str = "do what the error says, or give the daemon another --socket";
const FIX_SYSTEM: &str = "see the error; the daemon's log has the details";

/// Give up starting: say why on stderr, keep it for `ocbar doctor`, and tell tmux when it
/// started this daemon (see src/last_error.rs, `push::tell_failed_start`).
fn fatal(socket: &Path, code: u8, error: &str, fix: &str) -> ExitCode {
    eprintln!("ocbar: {error}");
    keep_error(socket, error, fix);
    push::tell_failed_start();
    ExitCode::from(code)
}

/// Keep a fatal error for `ocbar doctor` (src/last_error.rs).
fn keep_error(socket: &Path, error: &str, fix: &str) {
    if let Err(e) = crate::last_error::record(socket, clock::now_ms(), error, fix) {
        eprintln!("ocbar: {e}");
    }
}

/// Why the socket cannot be claimed.
#[derive(Debug)]
enum ClaimError {
    /// A daemon answers there: nothing is wrong, this one is not needed.
    Running(String),
    /// Something else is in the way (a file that is not a socket, a stale one that stays).
    Blocked(String),
}

impl ClaimError {
    fn message(&self) -> &str {
        match self {
            ClaimError::Running(m) | ClaimError::Blocked(m) => m,
        }
    }
}

/// Refuse to start beside a live daemon; remove a socket file a crashed one left behind.
fn claim_socket(socket: &Path) -> Result<(), ClaimError> {
    let Ok(meta) = std::fs::symlink_metadata(socket) else {
        return Ok(());
    };
    // Only a socket can be left by a crashed daemon: anything else is someone's file.
    if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
        return Err(ClaimError::Blocked(format!(
            "{} exists and is not a socket: refusing to replace it. Remove it yourself, or give the daemon another --socket",
            socket.display()
        )));
    }
    match std::os::unix::net::UnixStream::connect(socket) {
        Ok(_) => Err(ClaimError::Running(format!(
            "another ocbar daemon is already running on {} ('ocbar doctor' shows it). Stop it first, or give this one another --socket",
            socket.display()
        ))),
        Err(_) => {
            std::fs::remove_file(socket).map_err(|e| {
                ClaimError::Blocked(format!(
                    "cannot remove the stale socket {}: {e}",
                    socket.display()
                ))
            })?;
            log!(
                "removed a stale socket left by an earlier daemon: {}",
                socket.display()
            );
            Ok(())
        }
    }
}

/// Facts for `doctor` that do not change.
struct Context {
    started_ms: i64,
    socket: PathBuf,
    config_path: Option<PathBuf>,
    discovery: crate::daemon::discovery::Settings,
}

async fn run(
    config: Config,
    servers: Vec<ServerUrl>,
    replayed: Vec<Event>,
    ctx: Context,
) -> ExitCode {
    let name = match ctx.socket.as_path().to_fs_name::<GenericFilePath>() {
        Ok(n) => n,
        Err(e) => {
            let e = format!("bad socket path {}: {e}", ctx.socket.display());
            return fatal(&ctx.socket, 1, &e, FIX_SOCKET);
        }
    };
    // interprocess creates the socket with mode 0600 from the start; the server then accepts on
    // the bare listener (see `serve::serve`). The socket file is removed when `run` returns.
    let listener = match ListenerOptions::new()
        .name(name)
        .mode(0o600)
        .create_sync_as::<interprocess::os::unix::uds_local_socket::Listener>()
        .map(std::os::unix::net::UnixListener::from)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
    {
        Ok(l) => l,
        Err(e) => {
            let e = format!("cannot listen on {}: {e}", ctx.socket.display());
            return fatal(&ctx.socket, 1, &e, FIX_SOCKET);
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&ctx.socket, std::fs::Permissions::from_mode(0o600));
    }
    // Started: an earlier failed start on this socket is history.
    crate::last_error::clear(&ctx.socket);

    let (events_tx, events_rx) = mpsc::channel::<Event>(EVENT_QUEUE);
    let (commands_tx, commands_rx) = mpsc::channel::<Command>(256);
    let (after_tx, after_rx) = mpsc::channel::<AfterAction>(64);
    // TUI channels (src/daemon/tui.rs) and discovery (src/daemon/discovery.rs) change the followed servers.
    let (updates_tx, updates_rx) = mpsc::channel::<crate::daemon::discovery::Update>(64);
    let hub = Arc::new(crate::daemon::tui::Hub::new(
        events_tx.clone(),
        updates_tx.clone(),
    ));
    let mut state = State::new(config.model.to_model());
    let state_file = paths::state_file();
    let (persist_tx, persist_rx) = watch::channel(ToSave::default());
    let mut saved_rx = None;
    if let Some(path) = &state_file {
        let saved = crate::daemon::store::load(path);
        if !saved.sessions.is_empty() {
            log!(
                "restored {} sessions (finished, running or muted) from {}",
                saved.sessions.len(),
                path.display()
            );
        }
        state.restore(saved);
        persist_tx.send_modify(|p| {
            p.seq += 1;
            p.state = state.persisted();
        });
        let (saved_tx, rx) = watch::channel(0);
        saved_rx = Some(rx);
        tokio::spawn(crate::daemon::store::writer(
            path.clone(),
            persist_rx,
            saved_tx,
        ));
    } else {
        log!("no HOME or XDG_STATE_HOME: unvisited marks and mutes will not survive a restart");
    }
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Published::new(0, state.snapshot())));

    let toast_hub = hub.clone();
    let skip_hub = hub.clone();
    let (notice_tx, notice_rx) = mpsc::unbounded_channel::<notify::tmux::Notice>();
    let mut notifier = notify::Notifier::new(config.notify.clone())
        .tui_toasts(move |server, title, message, variant| {
            toast_hub.toast(server, title, message, variant)
        })
        .tmux_notices(move |notice| {
            let _ = notice_tx.send(notice);
        });
    if !config.notify.beside_opencode {
        // OpenCode's TUI notifies (and plays a sound) by itself when its `attention` is on: one
        // notification and one sound, not two.
        notifier = notifier.leave_to_opencode(move |n| {
            skip_hub.can_show(&n.server) && notify::opencode::Attention::read().covers(n)
        });
    }
    let (notifier, open_rx) = notifier.open_channel();
    let (notifier, _notifier_task) = notifier.spawn();

    let mut sources = HashMap::new();
    for url in servers.iter().cloned() {
        state.apply(
            Event::ServerAdded {
                server: url.clone(),
            },
            now_ms(),
        );
        let stats = Arc::new(source::ServerStats::new(url.to_string()));
        let handle = source::spawn_server(
            url.clone(),
            events_tx.clone(),
            stats,
            source::ConnectionConfig::default(),
        );
        sources.insert(url, handle);
    }

    let mut followed = crate::daemon::discovery::Followed::new(
        &servers,
        events_tx.clone(),
        source::ConnectionConfig::default(),
    );
    if ctx.discovery.enabled {
        let status = Arc::new(crate::daemon::discovery::ScanStatus::default());
        followed.scanning = Some(status.clone());
        tokio::spawn(crate::daemon::discovery::run(
            ctx.discovery.clone(),
            updates_tx.clone(),
            status,
        ));
    }

    if !replayed.is_empty() {
        let tx = events_tx.clone();
        tokio::spawn(async move {
            for ev in replayed {
                if tx.send(ev).await.is_err() {
                    break;
                }
            }
        });
    }
    log!(
        "ocbar {} listening on {} (mode 0600); following {}",
        env!("CARGO_PKG_VERSION"),
        ctx.socket.display(),
        if servers.is_empty() && ctx.discovery.enabled {
            format!(
                "the OpenCode servers it finds (scanning processes every {}s)",
                ctx.discovery.interval.as_secs()
            )
        } else if servers.is_empty() {
            "no live server (replay only)".to_string()
        } else {
            servers.join(", ")
        }
    );
    if servers.is_empty() && ctx.discovery.enabled {
        log!(
            "OpenCode is found when it listens on a port: start it with 'opencode --port 4096', or 'opencode serve --port 4096' and 'opencode attach http://127.0.0.1:4096'; a plain 'opencode' TUI is seen through the plugin ('ocbar install opencode-plugin')"
        );
    }
    log!(
        "bars: 'ocbar status --format tmux|starship|waybar', 'ocbar watch --format waybar'; panel: 'ocbar list'; health: 'ocbar doctor'"
    );

    let shared = Shared {
        snapshots: snap_rx,
        commands: commands_tx,
        render: Arc::new(config.render.clone()),
        tui: Some(hub.clone()),
    };
    tokio::spawn(serve::serve(listener, shared));
    if config.tmux.push {
        // `[tmux] socket`, else the notifier's tmux socket, else $TMUX's server or the default.
        let mut tmux = config.tmux.clone();
        if tmux.socket.is_none() {
            tmux.socket = config.notify.tmux_socket.clone();
        }
        tokio::spawn(crate::daemon::push::tmux_push(
            snap_tx.subscribe(),
            Arc::new(config.render.clone()),
            tmux,
        ));
    }

    let mut looper = StateLoop {
        state,
        sources,
        notifier,
        after_tx,
        snapshots: snap_tx,
        published_generation: 0,
        notice: None,
        notice_seq: 0,
        published_notice_seq: 0,
        persist: persist_tx,
        saved: saved_rx,
        durable_replies: Vec::new(),
        ctx,
        hub,
        followed,
        open_config: config.open.clone(),
        notify_config: config.notify.clone(),
        tmux_socket: config
            .tmux
            .socket
            .clone()
            .or_else(|| config.notify.tmux_socket.clone()),
    };
    looper.publish();
    looper
        .run(
            events_rx,
            commands_rx,
            after_rx,
            open_rx,
            updates_rx,
            notice_rx,
        )
        .await
}

/// The state whose colour a tmux notice of this kind takes.
fn notice_state(kind: NotifyKind) -> SessionState {
    match kind {
        NotifyKind::Done => SessionState::Done,
        NotifyKind::Error => SessionState::Error,
        NotifyKind::Aborted => SessionState::Aborted,
        NotifyKind::Retry => SessionState::Retry,
        NotifyKind::Waiting => SessionState::Waiting,
    }
}

/// Wait until `until` (the shown notice expires); forever without one.
async fn sleep_until_notice_ends(until: Option<Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// An action finished outside the loop (e.g. `open` after its HTTP call): apply its event,
/// publish, and only then answer the client, so its next query sees the change.
struct AfterAction {
    event: Event,
    reply: oneshot::Sender<Result<String, String>>,
    text: String,
}

struct StateLoop {
    state: State,
    sources: HashMap<ServerUrl, source::ServerHandle>,
    notifier: mpsc::UnboundedSender<Notification>,
    after_tx: mpsc::Sender<AfterAction>,
    snapshots: watch::Sender<Arc<Published>>,
    published_generation: u64,
    /// The tmux notice shown now (text, colour, until when); see [`Published::notice`].
    notice: Option<(Arc<str>, SessionState, Instant)>,
    /// Bumped when `notice` changes, so `publish` knows to publish without a model change.
    notice_seq: u64,
    published_notice_seq: u64,
    /// The state file writer's input; written only when the remembered part changes.
    persist: watch::Sender<ToSave>,
    /// The `seq` of the writer's last finished save; `None`: no state file.
    saved: Option<watch::Receiver<u64>>,
    /// Replies to actions that change what the state file keeps (`seen`, `mute`, `open`): sent
    /// once that change is on disk, so a daemon killed right after the reply still has it.
    durable_replies: Vec<Reply>,
    ctx: Context,
    /// Open TUI channels (toasts and `open` for bridged plain TUIs, `doctor`).
    hub: Arc<crate::daemon::tui::Hub>,
    /// Which servers are followed and why (configured, discovered, reported by a TUI).
    followed: crate::daemon::discovery::Followed,
    /// `[open]`: what `open` starts when no TUI can show a session.
    open_config: config::OpenConfig,
    /// `[notify]`, for `doctor`.
    notify_config: notify::NotifyConfig,
    /// The configured tmux server (`[tmux] socket`, else `[notify] tmux_socket`).
    tmux_socket: Option<PathBuf>,
}

impl StateLoop {
    async fn run(
        &mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Command>,
        mut after: mpsc::Receiver<AfterAction>,
        mut opens: mpsc::UnboundedReceiver<notify::OpenRequest>,
        mut updates: mpsc::Receiver<crate::daemon::discovery::Update>,
        mut notices: mpsc::UnboundedReceiver<notify::tmux::Notice>,
    ) -> ExitCode {
        let mut sigterm =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    log!("cannot watch SIGTERM: {e}");
                    return ExitCode::FAILURE;
                }
            };
        // Time passes even with no server to send heartbeats: the model says when a lingering
        // session or a mark is due to drop off, and the loop wakes then (no periodic timer).
        let mut due: Option<i64> = None;
        let mut due_generation = u64::MAX;
        loop {
            if due_generation != self.state.generation() {
                due_generation = self.state.generation();
                due = self.state.next_deadline();
            }
            let wake = async {
                match due {
                    Some(at) => {
                        let ms = at.saturating_sub(now_ms()).clamp(0, 86_400_000) as u64;
                        tokio::time::sleep(Duration::from_millis(ms + 1)).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wake => {
                    self.apply(Event::Tick);
                    self.publish();
                    // Due again (a clock that jumped, a deadline a day away): recomputed.
                    due_generation = u64::MAX;
                }
                Some(ev) = events.recv() => {
                    self.apply(ev);
                    // Drain what is queued before publishing once.
                    for _ in 0..1024 {
                        match events.try_recv() {
                            Ok(ev) => self.apply(ev),
                            Err(_) => break,
                        }
                    }
                    self.publish();
                }
                Some(cmd) = commands.recv() => {
                    self.command(cmd);
                    self.publish();
                    self.send_durable_replies();
                }
                Some(update) = updates.recv() => {
                    self.followed.update(update);
                    for ev in self.followed.reconcile(&mut self.sources) {
                        self.apply(ev);
                    }
                    self.publish();
                }
                Some(done) = after.recv() => {
                    self.apply(done.event);
                    self.publish();
                    self.durable_replies.push((done.reply, Ok(done.text)));
                    self.send_durable_replies();
                }
                Some(n) = notices.recv() => {
                    // The tmux channel's notification: shown in the tmux segment for a while.
                    let until = Instant::now() + Duration::from_millis(n.display_ms.max(1));
                    self.notice = Some((Arc::from(n.text), notice_state(n.kind), until));
                    self.notice_seq += 1;
                    self.publish();
                }
                () = sleep_until_notice_ends(self.notice.as_ref().map(|n| n.2)), if self.notice.is_some() => {
                    self.notice = None;
                    self.notice_seq += 1;
                    self.publish();
                }
                Some(open) = opens.recv() => {
                    // The desktop notification's "Open" action.
                    let (tx, _rx) = oneshot::channel();
                    self.command(Command::Open(open.session.to_string(), tx));
                    self.publish();
                    self.send_durable_replies();
                }
                _ = tokio::signal::ctrl_c() => {
                    log!("interrupted: shutting down");
                    return ExitCode::SUCCESS;
                }
                _ = sigterm.recv() => {
                    log!("terminated: shutting down");
                    return ExitCode::SUCCESS;
                }
            }
        }
    }

    fn apply(&mut self, ev: Event) {
        if self.followed.is_stale(&ev) {
            return; // a late event of a connection stopped because its server went away
        }
        let effects = self.state.apply(ev, now_ms());
        for fx in effects {
            match fx {
                Effect::Notify(n) => {
                    if self.notifier.send(n).is_err() {
                        log!("the notifier has stopped: a notification was dropped");
                    }
                }
                Effect::FetchSession { ref server, .. }
                | Effect::FetchOutcome { ref server, .. } => {
                    if let Some(h) = self.sources.get(server) {
                        h.execute(&fx);
                    }
                }
            }
        }
    }

    fn publish(&mut self) {
        let generation = self.state.generation();
        if generation == self.published_generation && self.notice_seq == self.published_notice_seq {
            return;
        }
        self.published_generation = generation;
        self.published_notice_seq = self.notice_seq;
        let notice = self.notice.as_ref().map(|(t, s, _)| (t.clone(), *s));
        // Subscribers first (their latency is the budget), then the state file.
        let _ = self.snapshots.send(Arc::new(
            Published::new(generation, self.state.snapshot()).with_notice(notice),
        ));
        let remembered = self.state.persisted();
        self.persist.send_if_modified(|old| {
            if old.state == remembered {
                false
            } else {
                old.state = remembered;
                old.seq += 1;
                true
            }
        });
    }

    /// Send the replies waiting in `durable_replies` once the state file holds what was
    /// published (at once when nothing new is to be written, or there is no state file; after
    /// [`SAVE_WAIT`] at the latest, when the disk is slow).
    fn send_durable_replies(&mut self) {
        if self.durable_replies.is_empty() {
            return;
        }
        let replies = std::mem::take(&mut self.durable_replies);
        let wanted = self.persist.borrow().seq;
        match self.saved.clone() {
            Some(mut saved) if *saved.borrow() < wanted => {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(SAVE_WAIT, saved.wait_for(|s| *s >= wanted)).await;
                    for (tx, r) in replies {
                        let _ = tx.send(r);
                    }
                });
            }
            _ => {
                for (tx, r) in replies {
                    let _ = tx.send(r);
                }
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Doctor(reply) => {
                let _ = reply.send(Ok(self.doctor()));
            }
            Command::SeenAll(reply) => {
                let n = self.state.unvisited_count();
                self.apply(Event::Seen {
                    target: Target::All,
                });
                let text = match n {
                    0 => "no unvisited sessions: nothing to mark".to_string(),
                    1 => "marked 1 session visited".to_string(),
                    n => format!("marked {n} sessions visited"),
                };
                self.durable_replies.push((reply, Ok(text)));
            }
            Command::Seen(query, reply) => match self.state.resolve(&query) {
                Ok(session) => {
                    let described = self.state.describe(&session);
                    let title = shown_title(described.map(|d| d.0), &session);
                    let text = match described {
                        Some((_, _, false)) => format!("'{title}' was already visited"),
                        _ => format!("marked '{title}' visited"),
                    };
                    self.apply(Event::Seen {
                        target: Target::One { session },
                    });
                    self.durable_replies.push((reply, Ok(text)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                }
            },
            Command::Mute(query, muted, reply) => match self.state.resolve(&query) {
                Ok(session) => {
                    let described = self.state.describe(&session);
                    let title = shown_title(described.map(|d| d.0), &session);
                    let was = described.map_or(!muted, |d| d.1);
                    let text = match (muted, was == muted) {
                        (true, false) => format!("muted '{title}': no notifications for it"),
                        (true, true) => format!("'{title}' was already muted"),
                        (false, false) => format!("unmuted '{title}': it notifies again"),
                        (false, true) => format!("'{title}' was not muted"),
                    };
                    self.apply(Event::Mute {
                        target: Target::One { session },
                        muted,
                    });
                    self.durable_replies.push((reply, Ok(text)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                }
            },
            Command::Open(query, reply) => match self.state.resolve(&query) {
                Ok(session) => self.open(session, reply),
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                }
            },
        }
    }

    /// `ocbar open` (and every click that means it): choose one TUI, switch it, bring it on
    /// screen, or start one (src/daemon/jump/). The I/O runs outside the loop; the session is marked
    /// visited when something shows it.
    fn open(
        &mut self,
        session: crate::model::event::SessionId,
        reply: oneshot::Sender<Result<String, String>>,
    ) {
        let Some(place) = self.state.place(&session) else {
            let _ = reply.send(Err(format!("no session {session}")));
            return;
        };
        // Its own server when reachable; else (gone) any connected one: every server and TUI
        // of the user shares the sessions. With none, the place it was last seen (open may
        // still start a TUI there, or say why not).
        let server = self
            .open_through(&place)
            .unwrap_or_else(|| place.server.clone());
        let directory = place.directory.to_string();
        let tuis = self.hub.views();
        let tui = jump::choose(&tuis, &server, &session).cloned();
        let mut tmux_sockets: Vec<String> = Vec::new();
        for t in &tuis {
            if let Some((s, _)) = &t.tmux
                && !tmux_sockets.contains(s)
            {
                tmux_sockets.push(s.clone());
            }
        }
        let select: Option<jump::SelectSession> = if tui.is_none() {
            self.sources
                .get(&server)
                .and_then(|h| h.api())
                .cloned()
                .map(|api| {
                    let (id, dir) = (session.to_string(), directory.clone());
                    Box::pin(async move {
                        let dir = (!dir.is_empty()).then_some(dir);
                        api.select_session(&id, dir.as_deref())
                            .await
                            .map_err(|e| e.to_string())
                    }) as jump::SelectSession
                })
        } else {
            None
        };
        let req = jump::Request {
            server: server.to_string(),
            session: session.to_string(),
            directory,
            tui,
            tmux_sockets,
            config: self.open_config.clone(),
            tmux_socket: self.tmux_socket.clone(),
        };
        let hub = self.hub.clone();
        let after = self.after_tx.clone();
        tokio::spawn(async move {
            match jump::run(req, hub, select).await {
                Ok(text) => {
                    log!("open: {text}");
                    let event = Event::Seen {
                        target: Target::One { session },
                    };
                    let _ = after.send(AfterAction { event, reply, text }).await;
                }
                Err(e) => {
                    log!("open {session}: {e}");
                    let _ = reply.send(Err(e));
                }
            }
        });
    }

    /// Where `open` goes for a session at `place`: its own server when reachable; else (its
    /// server is gone) any connected TUI, since every server of the user shares the sessions:
    /// a bridged plain TUI first (certainly a TUI), then a connected HTTP server.
    fn open_through(&self, place: &crate::model::Place) -> Option<ServerUrl> {
        if place.reachable {
            return Some(place.server.clone());
        }
        let snap = self.state.snapshot();
        let connected = || snap.servers.iter().filter(|s| s.connected);
        connected()
            .find(|s| s.url.is_tui() && self.hub.bridges(&s.url))
            .or_else(|| connected().find(|s| self.sources.contains_key(&s.url)))
            .map(|s| s.url.clone())
    }

    fn doctor(&self) -> String {
        let mut out = String::new();
        let now = now_ms();
        let snap = self.state.snapshot();
        let _ = writeln!(
            out,
            "ocbar {} daemon, pid {}",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        );
        let _ = writeln!(out, "socket: {}", self.ctx.socket.display());
        let _ = writeln!(
            out,
            "config: {}",
            self.ctx
                .config_path
                .as_ref()
                .map_or("(none: defaults)".to_string(), |p| p.display().to_string())
        );
        let _ = writeln!(out, "up: {}s", (now - self.ctx.started_ms) / 1000);
        let _ = writeln!(
            out,
            "sessions: {} relevant, {} known; busy {} retry {} waiting {} done {} error {} aborted {} unvisited {}",
            snap.sessions.len(),
            self.state.session_count(),
            snap.counts.busy,
            snap.counts.retry,
            snap.counts.waiting,
            snap.counts.done,
            snap.counts.error,
            snap.counts.aborted,
            snap.counts.unvisited
        );
        for server in &snap.servers {
            let state = match (server.connected, server.stale) {
                (true, false) => "connected",
                (true, true) => "connected, resyncing",
                (false, _) => "NOT CONNECTED",
            };
            let origin = match server.url.kind() {
                ServerKind::Tui => "a plain TUI, bridged by its plugin".to_string(),
                ServerKind::Replay => "replayed".to_string(),
                ServerKind::Http | ServerKind::Https => self.followed.origin(&server.url),
            };
            let _ = writeln!(out, "server {}: {state} ({origin})", server.url);
            if let Some(h) = self.sources.get(&server.url) {
                doctor_server(&mut out, &h.stats().view(), now);
            }
        }
        // Hints follow what is there: is the plugin installed, are TUIs connected?
        use crate::opencode_config::{PluginState, plugin_state};
        let plugin = paths::opencode_config_dir().map_or_else(
            || {
                PluginState::Unreadable(
                    "neither XDG_CONFIG_HOME nor HOME is set: cannot find OpenCode's config directory"
                        .into(),
                )
            },
            |d| plugin_state(&d),
        );
        let none_hint = match &plugin {
            PluginState::Installed(config) => format!(
                "the plugin is installed, {} lists it: restart OpenCode TUIs started before it was, and run them with this daemon's socket ({}: same XDG_RUNTIME_DIR, or OCBAR_SOCKET)",
                config.display(),
                self.ctx.socket.display()
            ),
            PluginState::FileMissing(config) => format!(
                "{} lists the plugin but its file plugins/ocbar.tsx is missing: run 'ocbar install opencode-plugin'",
                config.display()
            ),
            PluginState::NotInstalled => {
                "install the plugin: 'ocbar install opencode-plugin', then restart your OpenCode TUIs"
                    .to_string()
            }
            PluginState::Unreadable(e) => format!("cannot tell whether the plugin is installed: {e}"),
        };
        let installed = matches!(plugin, PluginState::Installed(_));
        let _ = writeln!(
            out,
            "{}",
            self.followed.doctor(now, self.hub.len(), installed)
        );
        let _ = writeln!(out, "{}", self.hub.doctor(now, &none_hint));
        let notify = &self.notify_config;
        let _ = writeln!(
            out,
            "{}",
            notify::opencode::Attention::read()
                .describe(notify.enabled && notify.desktop, notify.beside_opencode)
        );
        out.trim_end().to_string()
    }
}

/// A session's title as a command's reply shows it: one clean line, its id when it has none.
fn shown_title(title: Option<&str>, id: &str) -> String {
    let t: String = crate::text::clean(title.unwrap_or("")).collect();
    if t.is_empty() { id.to_string() } else { t }
}

/// The `opencode …` line of one server: its version and whether ocbar supports it. True when
/// the version is too old (then the "start OpenCode" advice does not apply).
fn doctor_version(out: &mut String, v: &source::ServerStatsView) -> bool {
    use source::version::{OLDEST_SUPPORTED, Support, support, too_old_message};
    // Before the first resync nothing is known; say nothing rather than "not reported".
    if v.version.is_none() && v.resyncs == 0 {
        return false;
    }
    let line = match (support(v.version.as_deref()), &v.version) {
        (Support::Supported, Some(ver)) => format!("opencode {ver} (supported)"),
        (Support::TooOld, Some(ver)) => {
            format!("opencode {ver}: NOT SUPPORTED: {}", too_old_message(ver))
        }
        (Support::Unreadable, Some(ver)) => format!(
            "opencode {ver}: a version ocbar cannot read; followed as if supported (oldest supported: {OLDEST_SUPPORTED})"
        ),
        _ => format!(
            "opencode version not reported (/global/health has none: OpenCode 1.0.x); followed as if supported (oldest supported: {OLDEST_SUPPORTED})"
        ),
    };
    let _ = writeln!(out, "  {line}");
    support(v.version.as_deref()) == Support::TooOld
}

/// The `doctor` lines of one server: what works, what does not, and how to fix it.
fn doctor_server(out: &mut String, v: &source::ServerStatsView, now: i64) {
    let age = |ms: i64| {
        if ms <= 0 {
            "never".to_string()
        } else {
            format!("{:.1}s ago", (now - ms) as f64 / 1000.0)
        }
    };
    let too_old = doctor_version(out, v);
    let _ = writeln!(
        out,
        "  last event: {}; frames {}, events {}, noise dropped {}",
        age(v.last_frame_ms),
        v.frames,
        v.events,
        v.noise
    );
    let _ = writeln!(
        out,
        "  connects {}, reconnects {}, failed attempts {}; resyncs {} (last {}), failed {}; directories {}",
        v.connects,
        v.reconnects,
        v.connect_failures,
        v.resyncs,
        age(v.last_resync_ms),
        v.resync_failures,
        v.known_directories
    );
    let _ = writeln!(
        out,
        "  decode errors: {}{}",
        v.decode_errors,
        v.last_decode_error
            .as_ref()
            .map(|e| format!(" (last: {e})"))
            .unwrap_or_default()
    );
    if v.unknown_events > 0 {
        let _ = writeln!(
            out,
            "  events of unknown types: {} ({}): ignored; a newer OpenCode than this ocbar knows?",
            v.unknown_events,
            v.unknown_types.join(", ")
        );
    }
    if v.auth_failures > 0 {
        let _ = writeln!(
            out,
            "  auth failures: {}: set OPENCODE_SERVER_PASSWORD (and OPENCODE_SERVER_USERNAME if not 'opencode') in the daemon's environment",
            v.auth_failures
        );
    }
    if !v.connected
        && let Some(e) = &v.last_connect_error
    {
        let _ = writeln!(out, "  last error: {e}");
    }
    if !v.connected && !too_old {
        let _ = writeln!(
            out,
            "  fix: start OpenCode with a port ('opencode --port 4096', or 'opencode serve --port 4096' and 'opencode attach http://127.0.0.1:4096'), or point ocbar at the right --server"
        );
    }
    if let Some(e) = &v.last_resync_error {
        let _ = writeln!(out, "  last resync error: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::{ClaimError, claim_socket};

    #[test]
    fn doctor_names_the_version_and_its_support() {
        use super::{doctor_version, source::ServerStatsView};
        let line = |version: Option<&str>, resyncs: u64| {
            let mut out = String::new();
            let too_old = doctor_version(
                &mut out,
                &ServerStatsView {
                    version: version.map(str::to_string),
                    resyncs,
                    ..ServerStatsView::default()
                },
            );
            (out.trim().to_string(), too_old)
        };
        assert_eq!(
            line(Some("1.18.33"), 1),
            ("opencode 1.18.33 (supported)".to_string(), false)
        );
        let (text, too_old) = line(Some("1.0.98"), 0);
        assert!(too_old);
        assert!(
            text.contains("OpenCode 1.0.98 is older than the oldest supported (1.0.185)"),
            "{text}"
        );
        let (text, too_old) = line(None, 1);
        assert!(!too_old);
        assert!(text.starts_with("opencode version not reported"), "{text}");
        // Before anything was read: nothing claimed.
        assert_eq!(line(None, 0), (String::new(), false));
    }

    #[test]
    fn claim_socket_never_deletes_what_is_not_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        // Nothing there: fine.
        assert!(claim_socket(&dir.path().join("none.sock")).is_ok());
        // A regular file given as --socket (found by tests/security.rs: it used to be deleted).
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "keep me").unwrap();
        let err = claim_socket(&file).unwrap_err();
        assert!(
            matches!(&err, ClaimError::Blocked(m) if m.contains("not a socket")),
            "{err:?}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
        // A symlink to it is not a socket either.
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(claim_socket(&link).is_err());
        assert!(file.exists() && link.exists());
        // A socket nobody listens on (a crashed daemon's) is replaced.
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        assert!(claim_socket(&stale).is_ok());
        assert!(!stale.exists());
        // A live one is refused.
        let live = dir.path().join("live.sock");
        let _l = std::os::unix::net::UnixListener::bind(&live).unwrap();
        assert!(matches!(
            claim_socket(&live),
            Err(ClaimError::Running(m)) if m.contains("already running")
        ));
    }
}
