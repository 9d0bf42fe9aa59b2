//! `ocbar daemon`: this file resolves the settings (flags, environment, config file) and wires
//! sources, the state loop, the notifier and the socket server together.
//!
//! The state loop (`state_loop.rs`) owns the model. Sources send it events, the socket server
//! sends it commands (`actions.rs`, `doctor.rs`), and it publishes snapshots through a `watch`
//! channel that queries read without waiting on anything. `start.rs` claims the socket and keeps
//! a fatal start error for `doctor`.

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
use crate::model::remote::{RemoteEvent, Remotes};
use crate::paths;
use crate::server_url::{DEFAULT_SERVER, ServerKind, ServerUrl};
use crate::wire::snapshot::SessionState;
use clock::now_ms;
use config::Config;
use published::Published;
use serve::{Command, Shared};
use start::{ClaimError, FIX_CONFIG, FIX_SERVERS, FIX_SOCKET, FIX_SYSTEM, claim_socket, fatal};
use store::SaveSlot;

mod actions;
mod after_save;
pub mod clock;
pub mod config;
pub mod discovery;
mod doctor;
pub mod heap;
pub mod i3blocks;
pub mod jump;
pub mod log;
pub mod notify;
pub mod published;
pub mod push;
pub mod remote;
pub mod replay;
pub mod serve;
pub mod source;
mod start;
mod state_loop;
pub mod store;
pub mod tmux;
pub mod tui;
pub mod visibility;

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
    remote_flags: Vec<String>,
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
    let remotes = match config::remotes(
        &remote_flags,
        std::env::var("OCBAR_REMOTE").ok().as_deref(),
        &config,
    ) {
        Ok(r) => r,
        Err(e) => return fatal(&socket, 2, &e, FIX_CONFIG),
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
    heap::one_arena();
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
        remotes,
    };
    let code = runtime.block_on(run(config, servers, replayed, ctx));
    let _ = std::fs::remove_file(&socket);
    code
}

/// Facts for `doctor` that do not change.
struct Context {
    started_ms: i64,
    socket: PathBuf,
    config_path: Option<PathBuf>,
    discovery: crate::daemon::discovery::Settings,
    /// The remote machines followed over ssh (`--remote`, `OCBAR_REMOTE`, `remotes`).
    remotes: Vec<String>,
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
    let mut save_slot = None;
    let mut persisted_seq = 0;
    let mut persisted_fingerprint = None;
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
        // Written again at once: an older version's file is saved in this version's form.
        let slot = Arc::new(SaveSlot::default());
        persisted_fingerprint = Some(state.persisted_fingerprint());
        persisted_seq = 1;
        slot.put(persisted_seq, state.persisted());
        let (saved_tx, rx) = watch::channel(0);
        saved_rx = Some(rx);
        tokio::spawn(crate::daemon::store::writer(
            path.clone(),
            slot.clone(),
            saved_tx,
        ));
        save_slot = Some(slot);
    } else {
        log!("no HOME or XDG_STATE_HOME: unvisited marks and mutes will not survive a restart");
    }
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Published::new(0, state.snapshot())));

    // Which protocol each server speaks, as its connection found: OpenCode 2 servers have no
    // `/tui/*`, so their toasts go down the TUI channels of the TUIs attached to them.
    let connection = source::ConnectionConfig::default();
    let protocols = connection.protocols.clone();
    let toast_hub = hub.clone();
    let skip_hub = hub.clone();
    let (notice_tx, notice_rx) = mpsc::unbounded_channel::<notify::tmux::Notice>();
    let mut notifier = notify::Notifier::new(config.notify.clone())
        .tui_toasts(move |server, title, message, variant| {
            toast_hub.toast(server, title, message, variant)
        })
        .without_tui_endpoint(move |server| protocols.get(server) == Some(source::Protocol::V2))
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
    let notifier = match &saved_rx {
        Some(saved) => {
            let (held_tx, held_rx) = mpsc::unbounded_channel();
            tokio::spawn(after_save::release_after_save(
                held_rx,
                saved.clone(),
                notifier,
            ));
            NotifyOut::AfterSave(held_tx)
        }
        None => NotifyOut::Direct(notifier),
    };

    let mut sources = HashMap::new();
    for url in servers.iter().cloned() {
        state.apply(
            Event::ServerAdded {
                server: url.clone(),
            },
            now_ms(),
        );
        let stats = Arc::new(source::ServerStats::new(url.to_string()));
        let handle =
            source::spawn_server(url.clone(), events_tx.clone(), stats, connection.clone());
        sources.insert(url, handle);
    }

    let mut followed =
        crate::daemon::discovery::Followed::new(&servers, events_tx.clone(), connection);
    if ctx.discovery.enabled {
        let status = Arc::new(crate::daemon::discovery::ScanStatus::default());
        followed.scanning = Some(status.clone());
        tokio::spawn(crate::daemon::discovery::run(
            ctx.discovery.clone(),
            updates_tx.clone(),
            status,
        ));
    }

    // Remote machines (src/daemon/remote/): one ssh link each, feeding model::remote.
    let (remote_tx, remote_rx) = mpsc::channel::<RemoteEvent>(256);
    let mut remotes = Remotes::default();
    let mut links = HashMap::new();
    let remote_settings = remote::Settings::new(&config.remote);
    for host in &ctx.remotes {
        let host: Arc<str> = Arc::from(host.as_str());
        remotes.apply(RemoteEvent::Added { host: host.clone() }, now_ms());
        let link = remote::Link::spawn(host.clone(), remote_settings.clone(), remote_tx.clone());
        links.insert(host, link);
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
    if !ctx.remotes.is_empty() {
        log!(
            "also following the ocbar daemons of {} over ssh ({} ... {} remote-bridge)",
            ctx.remotes.join(", "),
            remote_settings.ssh.join(" "),
            remote_settings.ocbar_command
        );
    }
    log!(
        "bars: 'ocbar status --format tmux|starship|waybar|polybar|i3blocks|bash|zsh|fish', 'ocbar watch --format waybar|polybar'; panel: 'ocbar list'; health: 'ocbar doctor'"
    );

    let shared = Shared {
        snapshots: snap_rx,
        commands: commands_tx,
        render: Arc::new(config.render.clone()),
        tui: Some(hub.clone()),
    };
    tokio::spawn(serve::serve(listener, shared));
    tokio::spawn(crate::daemon::visibility::run(hub.clone()));
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

    tokio::spawn(crate::daemon::i3blocks::signal_on_change(
        snap_tx.subscribe(),
        Arc::new(config.render.clone()),
        config.i3blocks,
    ));

    let mut looper = StateLoop {
        state,
        remotes,
        links,
        sources,
        notifier,
        due_notifications: Vec::new(),
        after_tx,
        snapshots: snap_tx,
        published_generation: 0,
        notice: None,
        notice_seq: 0,
        published_notice_seq: 0,
        save_slot,
        persisted_seq,
        persisted_fingerprint,
        persist_due: false,
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
        heap: heap::Trimmer::new(),
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
            remote_rx,
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

/// Where the state loop sends notifications.
enum NotifyOut {
    /// Straight to the notifier: there is no state file to wait for.
    Direct(mpsc::UnboundedSender<Notification>),
    /// Through [`after_save::release_after_save`]: each once its state is on disk.
    AfterSave(mpsc::UnboundedSender<after_save::Held>),
}

struct StateLoop {
    state: State,
    /// The sessions of remote machines, as their daemons last reported them.
    remotes: Remotes,
    /// One ssh link per remote machine, by host.
    links: HashMap<Arc<str>, remote::Link>,
    sources: HashMap<ServerUrl, source::ServerHandle>,
    notifier: NotifyOut,
    /// Notifications due since the loop last handed the state to the writer.
    due_notifications: Vec<Notification>,
    after_tx: mpsc::Sender<AfterAction>,
    snapshots: watch::Sender<Arc<Published>>,
    published_generation: u64,
    /// The tmux notice shown now (text, colour, until when); see [`Published::notice`].
    notice: Option<(Arc<str>, SessionState, Instant)>,
    /// Bumped when `notice` changes, so `publish` knows to publish without a model change.
    notice_seq: u64,
    published_notice_seq: u64,
    /// The state file writer's input; `None`: no state file.
    save_slot: Option<Arc<SaveSlot>>,
    /// How many states were handed to the writer (the number a durable reply waits for).
    persisted_seq: u64,
    /// The hash of the last state handed over: a new one is handed over only when it differs.
    persisted_fingerprint: Option<u64>,
    /// Published since the state file's part was last handed over (see `StateLoop::persist`).
    persist_due: bool,
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
    /// When to give freed heap pages back (after a resync; now and then on a heartbeat).
    heap: heap::Trimmer,
}
