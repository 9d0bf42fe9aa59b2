//! One task per OpenCode server: follow its event stream, keep it alive, resync over HTTP.
//!
//! Life of a connection:
//! 1. Choose the [`Protocol`] (the event path, decoder and resync) and open the stream through
//!    the one reader ([`reader`](super::reader); Basic auth from the environment). On failure,
//!    log one clear line per failure streak (a new line only when the reason changes), send
//!    `Event::Disconnected` with that reason, and retry with backoff 1 s, 2 s, 4 s … 30 s.
//! 2. On `server.connected`: send `Event::Connected`, start the HTTP resync in the background
//!    and hold back the model events that arrive meanwhile. When the resync is done, send
//!    `Event::Resync`, then the held-back events in order — so a status change that raced
//!    the resync is applied after the snapshot, never overwritten by it. A failed resync
//!    drops the connection (the next connect resyncs again).
//! 3. Every frame (and every SSE comment) resets the watchdog; more than 2.5 heartbeat
//!    intervals spent waiting without a complete frame ends the stream. The interval comes from the server's version (10 s from
//!    OpenCode 1.2, 30 s before and when the version is not reported: 25 s or 75 s) and grows
//!    to the longest gap seen between two heartbeats, so a healthy stream is never dropped.
//!    Heartbeats (and comments) produce `Event::Tick`; any frame produces `Event::Alive`, at
//!    most about once per second. The loop is in `follow.rs`, its steps in `steps.rs`.
//! 4. When a stream ends: `Event::Disconnected{reason}`, and back to 1 (the backoff restarts
//!    at 1 s if the stream had been up for a while).
//!
//! The handle also runs `Effect::FetchSession` / `Effect::FetchOutcome` for its server.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

mod follow;
mod steps;

use super::api::{Api, ApiError, Credentials, display_url, http_client};
use super::decode::MAX_FRAME_BYTES;
use super::protocol::{Protocol, Protocols};
use super::reader::tls;
use super::stats::ServerStats;
use crate::model::effect::Effect;
use crate::model::event::{Event, SessionId};
use crate::server_url::ServerUrl;

/// Timings and limits of a server connection. `Default` gives the production values and reads
/// the credentials from the environment.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// First reconnect delay (1 s).
    pub backoff_initial: Duration,
    /// Longest reconnect delay (30 s).
    pub backoff_max: Duration,
    /// A stream with no complete frame for this long is dead, for a server that sends a
    /// heartbeat every 10 s (25 s). Scaled to the server's heartbeat interval: a server with
    /// 30 s heartbeats (OpenCode before 1.2) gets three times this.
    pub watchdog: Duration,
    /// A stream that stayed up this long resets the backoff to `backoff_initial` (10 s).
    pub healthy_after: Duration,
    /// Minimum time between two `Event::Alive` (1 s).
    pub alive_interval: Duration,
    /// TCP/TLS connect timeout of every request (5 s).
    pub connect_timeout: Duration,
    /// Timeout of each HTTP call, and of opening the event stream (10 s).
    pub request_timeout: Duration,
    /// Timeout of a whole resync (60 s).
    pub resync_timeout: Duration,
    /// How long after `server.connected` the resync reads the server's state (250 ms):
    /// OpenCode 1.18.33 may drop the events of the first ~100 ms of a stream.
    pub resync_settle: Duration,
    /// Timeout of one effect fetch (15 s).
    pub fetch_timeout: Duration,
    /// Frames larger than this are skipped (16 MiB).
    pub max_frame_bytes: usize,
    /// Events held back during a resync before the connection is given up (100 000).
    pub max_held_events: usize,
    /// Basic-auth credentials; `Default` reads `OPENCODE_SERVER_PASSWORD` /
    /// `OPENCODE_SERVER_USERNAME`.
    pub credentials: Option<Credentials>,
    /// Where the connection records which protocol its server speaks (shared by every server
    /// of a daemon; `Default` gives a registry of its own).
    pub protocols: Arc<Protocols>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            watchdog: Duration::from_secs(25),
            healthy_after: Duration::from_secs(10),
            alive_interval: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            resync_timeout: Duration::from_secs(60),
            resync_settle: Duration::from_millis(250),
            fetch_timeout: Duration::from_secs(15),
            max_frame_bytes: MAX_FRAME_BYTES,
            max_held_events: 100_000,
            credentials: Credentials::from_env(),
            protocols: Arc::default(),
        }
    }
}

/// Effect fetches running at once per server.
const FETCH_CONCURRENCY: usize = 4;

/// A running server task. Dropping it stops the task (like [`ServerHandle::stop`]).
#[must_use = "dropping the handle stops the connection"]
pub struct ServerHandle {
    server: ServerUrl,
    api: Option<Api>,
    stats: Arc<ServerStats>,
    events: mpsc::Sender<Event>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    fetch: Arc<FetchState>,
    config: ConnectionConfig,
}

struct FetchState {
    permits: Semaphore,
    in_flight: Mutex<HashSet<(bool, SessionId)>>,
}

/// Start following `server`: connect, reconnect, resync, and send everything to `events`.
///
/// Must be called inside a tokio runtime. The daemon sends `Event::ServerAdded` itself before
/// calling this (and `Event::ServerRemoved` after stopping it). `stats` is updated live.
/// A URL that cannot work (not http/https) is reported once (log line, `Disconnected` event,
/// `stats.last_connect_error`) and the task then idles until stopped.
pub fn spawn_server(
    server: ServerUrl,
    events: mpsc::Sender<Event>,
    stats: Arc<ServerStats>,
    config: ConnectionConfig,
) -> ServerHandle {
    let api = http_client(config.connect_timeout).and_then(|client| {
        Api::new(
            server.clone(),
            client,
            config.credentials.clone(),
            config.request_timeout,
        )
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = {
        let api = api.clone();
        let server = server.clone();
        let events = events.clone();
        let stats = stats.clone();
        let config = config.clone();
        tokio::spawn(async move {
            match api {
                Ok(api) => run(api, events, stats, config, stop_rx).await,
                Err(e) => bad_url(server, e, events, stats, stop_rx).await,
            }
        })
    };
    ServerHandle {
        server,
        api: api.ok(),
        stats,
        events,
        stop: stop_tx,
        task: Some(task),
        fetch: Arc::new(FetchState {
            permits: Semaphore::new(FETCH_CONCURRENCY),
            in_flight: Mutex::new(HashSet::new()),
        }),
        config,
    }
}

impl ServerHandle {
    /// The server this handle follows.
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// The HTTP client of this server (for toasts and `select-session`); `None` if the URL is
    /// unusable.
    pub fn api(&self) -> Option<&Api> {
        self.api.as_ref()
    }

    /// The live counters of this server.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

    /// Run an effect meant for this server in the background, feeding the answer back to the
    /// events channel: `FetchSession` → `Event::SessionInfo`; `FetchOutcome` → `Event::Outcome`;
    /// either → `Event::Missing` if the server says 404. On failure (after one retry
    /// for connection errors) nothing is sent and a line is logged.
    ///
    /// Returns `false` (and does nothing) for other effects, effects of another server, or a
    /// stopped handle. A fetch already running for the same session is not repeated.
    pub fn execute(&self, effect: &Effect) -> bool {
        let (outcome, server, session) = match effect {
            Effect::FetchSession { server, session } => (false, server, session),
            Effect::FetchOutcome { server, session } => (true, server, session),
            _ => return false,
        };
        let Some(api) = self.api.clone() else {
            return false;
        };
        if **server != *self.server || *self.stop.borrow() {
            return false;
        }
        let session = session.clone();
        let key = (outcome, session.clone());
        {
            let mut set = match self.fetch.in_flight.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            if !set.insert(key.clone()) {
                return true;
            }
        }
        let fetch = self.fetch.clone();
        let events = self.events.clone();
        let stop = self.stop.subscribe();
        let timeout = self.config.fetch_timeout;
        let retry_delay = self.config.backoff_initial;
        tokio::spawn(async move {
            let _guard = InFlightGuard {
                fetch: fetch.clone(),
                key,
            };
            let Ok(_permit) = fetch.permits.acquire().await else {
                return;
            };
            let mut attempt = 0;
            let event = loop {
                attempt += 1;
                let result = if outcome {
                    tokio::time::timeout(timeout, api.last_turn_outcome(&session))
                        .await
                        .unwrap_or(Err(ApiError::Timeout))
                        .map(|outcome| Event::Outcome {
                            server: api.server().clone(),
                            session: session.clone(),
                            outcome,
                        })
                } else {
                    tokio::time::timeout(timeout, api.session(&session))
                        .await
                        .unwrap_or(Err(ApiError::Timeout))
                        .map(|info| Event::SessionInfo {
                            server: api.server().clone(),
                            info,
                        })
                };
                match result {
                    Ok(ev) => break ev,
                    // Not in this server's database (deleted, or another user's database).
                    Err(e) if e.is_not_found() => {
                        break Event::Missing {
                            server: api.server().clone(),
                            session: session.clone(),
                        };
                    }
                    Err(e) if e.is_connection() && attempt < 2 => {
                        tokio::time::sleep(retry_delay).await;
                    }
                    Err(e) => {
                        let what = if outcome {
                            "last turn of"
                        } else {
                            "metadata of"
                        };
                        crate::log!(
                            "cannot fetch the {what} session {session} from {}: {e}",
                            api.display_url()
                        );
                        return;
                    }
                }
            };
            if !*stop.borrow() {
                let _ = events.send(event).await;
            }
        });
        true
    }

    /// Ask the task to stop (idempotent, returns at once). No further events are sent.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stop the task and wait until it has ended.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// The task has ended (stopped, or the events channel closed).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

struct InFlightGuard {
    fetch: Arc<FetchState>,
    key: (bool, SessionId),
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut set = match self.fetch.in_flight.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        set.remove(&self.key);
    }
}

/// Aborts a spawned task when dropped (a resync must not outlive its stream).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) && d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d >= Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means every handle is gone: stop as well.
    let _ = stop.wait_for(|s| *s).await;
}

async fn bad_url(
    server: ServerUrl,
    err: ApiError,
    events: mpsc::Sender<Event>,
    stats: Arc<ServerStats>,
    mut stop: watch::Receiver<bool>,
) {
    let reason = err.to_string();
    crate::log!(
        "cannot use OpenCode server URL '{}': {reason}. Give a URL like http://127.0.0.1:4096 (--server or OCBAR_SERVER).",
        display_url(&server)
    );
    stats.connect_failed(&reason, false);
    let _ = events
        .send(Event::Disconnected {
            server: server.clone(),
            reason,
        })
        .await;
    stopped(&mut stop).await;
}

/// How one connection attempt ended.
enum End {
    /// The stream never opened.
    Failed(ApiError),
    /// The stream was open and ended.
    Lost {
        reason: String,
        /// It had resynced and stayed up long enough to reset the backoff.
        healthy: bool,
        /// `Event::Connected` was sent for it (so `Event::Disconnected` must follow).
        announced: bool,
    },
    /// The events channel is closed: the daemon is gone.
    ChannelClosed,
}

async fn run(
    api: Api,
    events: mpsc::Sender<Event>,
    stats: Arc<ServerStats>,
    config: ConnectionConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = Conn {
        api,
        events,
        stats,
        config,
        seen_dirs: BTreeSet::new(),
        protocol: Protocol::V1,
    };
    let mut backoff = conn.config.backoff_initial;
    // The reason of the current failure streak, already logged and sent.
    let mut streak: Option<String> = None;
    loop {
        let end = tokio::select! {
            _ = stopped(&mut stop) => return,
            end = conn.follow(&mut streak) => end,
        };
        // What to tell the model (the log line is decided separately).
        let (delay, notify) = match end {
            End::ChannelClosed => return,
            End::Lost {
                reason,
                healthy,
                announced,
            } => {
                if healthy {
                    backoff = conn.config.backoff_initial;
                }
                conn.stats.closed(&reason);
                // A healthy stream was lost: a new story. A stream that never got healthy is
                // part of the current failure streak: log it only if the reason is new.
                if healthy || streak.as_deref() != Some(reason.as_str()) {
                    crate::log!(
                        "lost the event stream of OpenCode at {} ({reason}); reconnecting in {}.",
                        conn.api.display_url(),
                        human(backoff)
                    );
                    streak = Some(reason.clone());
                }
                (backoff, announced.then_some(reason))
            }
            End::Failed(err) => {
                let reason = short_reason(&err);
                conn.stats.connect_failed(&reason, err.is_auth());
                if streak.as_deref() == Some(reason.as_str()) {
                    (backoff, None)
                } else {
                    crate::log!("{}", conn.failure_message(&err, backoff));
                    streak = Some(reason.clone());
                    (backoff, Some(reason))
                }
            }
        };
        if let Some(reason) = notify {
            tokio::select! {
                _ = stopped(&mut stop) => return,
                sent = conn.disconnected(reason) => if !sent { return },
            }
        }
        backoff = (backoff * 2).min(conn.config.backoff_max);
        conn.stats.reconnect_scheduled();
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// The `reason` of `Event::Disconnected` for a failed connection attempt.
fn short_reason(err: &ApiError) -> String {
    match err {
        ApiError::Auth {
            password_set: false,
        } => "authentication required (401): set OPENCODE_SERVER_PASSWORD".to_owned(),
        ApiError::Auth { password_set: true } => {
            "authentication failed (401): check OPENCODE_SERVER_PASSWORD and OPENCODE_SERVER_USERNAME"
                .to_owned()
        }
        e => e.to_string(),
    }
}

struct Conn {
    api: Api,
    /// The protocol of the current (or last) connection attempt.
    protocol: Protocol,
    events: mpsc::Sender<Event>,
    stats: Arc<ServerStats>,
    config: ConnectionConfig,
    /// Directories seen in events since the task started (minus disposed ones).
    seen_dirs: BTreeSet<String>,
}

impl Conn {
    async fn send(&self, e: Event) -> bool {
        self.events.send(e).await.is_ok()
    }

    async fn disconnected(&self, reason: String) -> bool {
        self.send(Event::Disconnected {
            server: self.api.server().clone(),
            reason,
        })
        .await
    }

    fn failure_message(&self, err: &ApiError, delay: Duration) -> String {
        let url = self.api.display_url();
        let path = self.protocol.event_path();
        let retry = format!("Retrying in {}.", human(delay));
        match err {
            ApiError::Unreachable(_) | ApiError::Timeout => {
                let port = reqwest::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.port_or_known_default())
                    .unwrap_or(4096);
                format!(
                    "cannot reach OpenCode at {url} ({err}). Start OpenCode with a port: 'opencode --port {port}', or 'opencode serve --port {port}' and 'opencode attach {url}'. {retry}"
                )
            }
            ApiError::Auth {
                password_set: false,
            } => format!(
                "OpenCode at {url} requires a password (HTTP 401). Set OPENCODE_SERVER_PASSWORD (and OPENCODE_SERVER_USERNAME if the user is not 'opencode') in ocbar's environment. {retry}"
            ),
            ApiError::Auth { password_set: true } => {
                let user = self
                    .config
                    .credentials
                    .as_ref()
                    .map(|c| c.username.as_str())
                    .unwrap_or("opencode");
                format!(
                    "OpenCode at {url} refused the credentials of user '{user}' (HTTP 401). Check OPENCODE_SERVER_PASSWORD and OPENCODE_SERVER_USERNAME. {retry}"
                )
            }
            ApiError::Status { code: 404, .. } => {
                format!("{url}{path} answered HTTP 404: is this an OpenCode server (1.x)? {retry}")
            }
            ApiError::Status { .. } => {
                format!("OpenCode at {url} answered {path} with {err}. {retry}")
            }
            ApiError::BadUrl(why) if why.contains(tls::CA_FILE_VAR) => format!(
                "cannot check the certificate of OpenCode at {url}: {why}. Point {} at a PEM file of the server's CA. {retry}",
                tls::CA_FILE_VAR
            ),
            ApiError::BadBody(_) | ApiError::BadUrl(_) => {
                format!("{url}{path} is not an OpenCode event stream ({err}). {retry}")
            }
        }
    }
}
