//! HTTP calls to one OpenCode server: health, resync, metadata and outcome fetches, and the
//! two TUI actions ocbar uses (`/tui/show-toast`, `/tui/select-session`).
//!
//! Every call has a request timeout (the shared client has a connect timeout). Credentials
//! come from the environment only (`OPENCODE_SERVER_PASSWORD`, `OPENCODE_SERVER_USERNAME`,
//! default user `opencode`) and are never logged or shown in errors.
//!
//! Facts checked against a real OpenCode 1.18.33 server:
//! - `GET /session/{id}/message?limit=N` returns the **last** N messages, oldest first, each
//!   `{info, parts}`; `limit=0` means "all" (so never send 0).
//! - `GET /experimental/session?start=T&limit=N` lists sessions of every project with
//!   `time.updated >= T`, newest first; `x-next-cursor` is set only when a full page came back.
//! - Session-scoped routes (`/session/{id}`, `/session/{id}/message`) route to the session's own
//!   directory by themselves; a request without `?directory=` for anything else uses (and boots)
//!   the server's working directory. `?directory=D` boots an instance for D if none runs, even
//!   for a path that does not exist — so only known directories are ever queried.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::decode::{MessageWire, RequestWire, SessionWire, StatusWire};
use super::protocol::Protocol;
use crate::model::event::{
    InputKind, PendingInput, ResyncReport, SessionId, SessionInfo, Status, TurnOutcome,
};
use crate::server_url::ServerUrl;

/// How far back `resync` looks for sessions whose directories may be active.
pub const RECENT_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// Page size of `GET /experimental/session`.
const SESSION_PAGE: usize = 100;
/// At most this many pages of recent sessions per resync.
const MAX_SESSION_PAGES: usize = 10;
/// At most this many directories are queried per resync (directories seen in events first).
pub const MAX_RESYNC_DIRS: usize = 64;
/// Directories queried at once during a resync.
const RESYNC_CONCURRENCY: usize = 4;
/// How many trailing messages `last_turn_outcome` reads.
const OUTCOME_MESSAGES: usize = 4;
/// Response bodies larger than this are refused.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Basic-auth credentials for an OpenCode server. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `OPENCODE_SERVER_USERNAME`, default `opencode`.
    pub username: String,
    /// `OPENCODE_SERVER_PASSWORD`.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// From `OPENCODE_SERVER_PASSWORD` (unset or empty: no auth, as OpenCode itself does) and
    /// `OPENCODE_SERVER_USERNAME` (default `opencode`).
    pub fn from_env() -> Option<Credentials> {
        Self::from_vars(
            std::env::var("OPENCODE_SERVER_USERNAME").ok(),
            std::env::var("OPENCODE_SERVER_PASSWORD").ok(),
        )
    }

    /// The value of an `Authorization` header for these credentials (`Basic …`, RFC 7617).
    pub fn basic_auth_header(&self) -> String {
        use base64::Engine;
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    fn from_vars(user: Option<String>, password: Option<String>) -> Option<Credentials> {
        let password = password.filter(|p| !p.is_empty())?;
        let username = user
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "opencode".to_owned());
        Some(Credentials { username, password })
    }
}

/// Why a call failed, precise enough for a helpful log line and for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The server URL cannot be used (not http/https, no host…).
    BadUrl(String),
    /// No connection: refused, DNS failure, reset, TLS failure. The text is the cause.
    Unreachable(String),
    /// Connecting or the whole request took longer than its timeout.
    Timeout,
    /// `401`: a password is required, or the one given was refused.
    Auth {
        /// `OPENCODE_SERVER_PASSWORD` was set (so it is wrong) or not (so it is missing).
        password_set: bool,
    },
    /// Any other non-success status; `message` is OpenCode's `data.message` or a body excerpt.
    Status {
        /// The HTTP status code.
        code: u16,
        /// OpenCode's error message, or the start of the body.
        message: String,
    },
    /// The body was not the JSON expected.
    BadBody(String),
}

impl ApiError {
    /// `401`.
    pub fn is_auth(&self) -> bool {
        matches!(self, ApiError::Auth { .. })
    }

    /// `404` (e.g. the session does not exist).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Status { code: 404, .. })
    }

    /// The server could not be talked to at all (as opposed to answering badly).
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            ApiError::Unreachable(_) | ApiError::Timeout | ApiError::BadUrl(_)
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::BadUrl(why) => write!(f, "invalid server URL: {why}"),
            ApiError::Unreachable(why) => write!(f, "{why}"),
            ApiError::Timeout => write!(f, "timed out"),
            ApiError::Auth { password_set: true } => {
                write!(f, "authentication failed (401): the password was refused")
            }
            ApiError::Auth {
                password_set: false,
            } => write!(f, "authentication required (401)"),
            ApiError::Status { code, message } if message.is_empty() => write!(f, "HTTP {code}"),
            ApiError::Status { code, message } => write!(f, "HTTP {code}: {message}"),
            ApiError::BadBody(why) => write!(f, "unexpected response: {why}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// Describe a reqwest error without its URL (which could carry credentials).
pub(crate) fn classify(err: &reqwest::Error) -> ApiError {
    if err.is_timeout() {
        return ApiError::Timeout;
    }
    if err.is_builder() {
        return ApiError::BadUrl(root_cause(err));
    }
    ApiError::Unreachable(root_cause(err))
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = err;
    let mut io_kind = None;
    while let Some(next) = cur.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        cur = next;
    }
    match io_kind.and_then(io_kind_text) {
        Some(text) => text.to_owned(),
        None => {
            let text = cur.to_string();
            if text.is_empty() {
                "connection failed".to_owned()
            } else {
                text
            }
        }
    }
}

/// The short text ocbar shows for the usual network failures.
fn io_kind_text(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset",
        ConnectionAborted => "connection aborted",
        TimedOut => "timed out",
        UnexpectedEof => "connection closed",
        HostUnreachable => "host unreachable",
        NetworkUnreachable => "network unreachable",
        AddrNotAvailable => "address not available",
        _ => return None,
    })
}

impl ApiError {
    /// A socket error as [`ApiError::Unreachable`] (or [`ApiError::Timeout`]), with the same
    /// short texts as errors coming through reqwest (e.g. `connection refused`).
    pub fn from_io(err: &std::io::Error) -> ApiError {
        if err.kind() == std::io::ErrorKind::TimedOut {
            return ApiError::Timeout;
        }
        ApiError::Unreachable(match io_kind_text(err.kind()) {
            Some(text) => text.to_owned(),
            None => err.to_string(),
        })
    }
}

/// A response status as an error (`Ok` for 2xx): 401 is [`ApiError::Auth`] (`password_set`:
/// the request carried credentials), anything else [`ApiError::Status`].
pub(crate) fn status_error(status: u16, password_set: bool) -> Result<(), ApiError> {
    match status {
        200..=299 => Ok(()),
        401 => Err(ApiError::Auth { password_set }),
        code => Err(ApiError::Status {
            code,
            message: String::new(),
        }),
    }
}

/// A server URL for messages: without any `user:password@` part, without a trailing slash.
/// (A [`ServerUrl`] from a person never carries credentials; this also holds for one built
/// unchecked.)
pub fn display_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host_end = rest.find('/').unwrap_or(rest.len());
            match rest[..host_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// A new HTTP client: connect timeout, keep-alive, no proxy (OpenCode is local or on the LAN;
/// a desktop proxy setting must not capture loopback traffic).
///
/// Make one per server (as [`spawn_server`](super::spawn_server) does) and share it through
/// [`Api`] clones. Do not share one client across tokio runtimes: its pooled connections run
/// on the runtime that opened them.
pub fn http_client(connect_timeout: Duration) -> Result<Client, ApiError> {
    let mut builder = Client::builder();
    // The same trust as the event stream's (see `reader::tls`); an unusable file is reported
    // by the stream of every https server.
    if let Ok(certs) = super::reader::tls::extra_roots() {
        for cert in certs {
            if let Ok(c) = reqwest::Certificate::from_der(cert) {
                builder = builder.add_root_certificate(c);
            }
        }
    }
    builder
        .connect_timeout(connect_timeout)
        .tcp_keepalive(Duration::from_secs(30))
        .no_proxy()
        .user_agent(concat!("ocbar/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ApiError::Unreachable(format!("cannot create the HTTP client: {e}")))
}

/// `GET /global/health`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Health {
    /// Always `true` when the server answers.
    #[serde(default)]
    pub healthy: bool,
    /// e.g. `1.18.33`.
    #[serde(default)]
    pub version: String,
}

/// `variant` of `POST /tui/show-toast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToastVariant {
    /// Neutral.
    Info,
    /// Green: something finished.
    Success,
    /// Yellow: retrying, waiting.
    Warning,
    /// Red: failed.
    Error,
}

/// The body of `POST /tui/show-toast`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Toast {
    /// Optional bold first line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The text.
    pub message: String,
    /// Colour/icon.
    pub variant: ToastVariant,
    /// How long it stays, in ms (> 0; OpenCode's default is 5000).
    #[serde(rename = "duration", skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// The result of [`Api::resync`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resynced {
    /// What the model needs (`Event::Resync`).
    pub report: ResyncReport,
    /// The directories that were queried.
    pub directories: Vec<String>,
    /// Parts that answered with an HTTP error or a bad body and were left out (each is marked
    /// unread in the report, so the model keeps it unknown): one directory's statuses,
    /// permissions or questions, `recent sessions` or `health`.
    pub skipped: Vec<(String, ApiError)>,
    /// OpenCode's version.
    pub version: Option<String>,
}

/// A client for one OpenCode server. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    server: ServerUrl,
    base: Url,
    client: Client,
    credentials: Option<Arc<Credentials>>,
    timeout: Duration,
    /// Which API the server speaks, as last identified ([`Api::identify`]): 0 for OpenCode 1,
    /// 1 for OpenCode 2. Shared by every clone, so the effect fetches of a server follow its
    /// connection's finding.
    protocol: Arc<AtomicU8>,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("server", &self.display_url())
            .field("auth", &self.credentials.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Api {
    /// A client for `server` (`http://host:port`, optionally with a path prefix).
    /// `timeout` bounds every call (connection and body).
    pub fn new(
        server: ServerUrl,
        client: Client,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Result<Api, ApiError> {
        let base = Url::parse(server.trim_end_matches('/'))
            .map_err(|e| ApiError::BadUrl(format!("{e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ApiError::BadUrl(format!(
                "scheme '{}' is not http or https",
                base.scheme()
            )));
        }
        if base.host_str().is_none_or(str::is_empty) || base.cannot_be_a_base() {
            return Err(ApiError::BadUrl("no host".to_owned()));
        }
        Ok(Api {
            server,
            base,
            client,
            credentials: credentials.map(Arc::new),
            timeout,
            protocol: Arc::new(AtomicU8::new(0)),
        })
    }

    /// The server this client talks to (as given).
    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// The server URL without any user:password part, for messages.
    pub fn display_url(&self) -> String {
        display_url(self.base.as_str())
    }

    /// The credentials every call to this server carries.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_deref()
    }

    /// The URL of `path` (e.g. `/global/event`) below the server's URL (which may have a path
    /// prefix of its own).
    pub fn endpoint(&self, path: &str) -> Result<Url, ApiError> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.url(&segments, &[])
    }

    /// Whether a password is configured.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// The API this server speaks (OpenCode 1 until identified otherwise).
    pub fn protocol(&self) -> Protocol {
        match self.protocol.load(Ordering::Relaxed) {
            1 => Protocol::V2,
            _ => Protocol::V1,
        }
    }

    /// Record the API this server speaks (after [`Api::identify`]).
    pub fn set_protocol(&self, protocol: Protocol) {
        let v = match protocol {
            Protocol::V1 => 0,
            Protocol::V2 => 1,
        };
        self.protocol.store(v, Ordering::Relaxed);
    }

    pub(super) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, ApiError> {
        let mut u = self.base.clone();
        {
            let mut path = u
                .path_segments_mut()
                .map_err(|_| ApiError::BadUrl("cannot be a base".to_owned()))?;
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        if !query.is_empty() {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(u)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let rb = self.client.request(method, url);
        match &self.credentials {
            Some(c) => rb.basic_auth(&c.username, Some(&c.password)),
            None => rb,
        }
    }

    /// Map a status to an error (`Ok` for 2xx).
    pub(crate) fn check_status(&self, status: StatusCode) -> Result<(), ApiError> {
        status_error(status.as_u16(), self.credentials.is_some())
    }

    async fn send(&self, rb: RequestBuilder) -> Result<(HeaderMap, Vec<u8>), ApiError> {
        let resp = rb
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(&e))?;
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ApiError::BadBody("response too large".to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        if let Err(mut e) = self.check_status(status) {
            if let ApiError::Status { message, .. } = &mut e {
                *message = error_message(&body);
            }
            return Err(e);
        }
        Ok((headers, body))
    }

    pub(super) async fn get_json<T>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        parse: impl FnOnce(&[u8]) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let url = self.url(segments, query)?;
        let (_, body) = self.send(self.request(Method::GET, url)).await?;
        parse(&body)
    }

    async fn post_true<B: Serialize + ?Sized>(
        &self,
        segments: &[&str],
        dir: Option<&str>,
        body: &B,
    ) -> Result<(), ApiError> {
        let query: Vec<(&str, &str)> = dir.map(|d| ("directory", d)).into_iter().collect();
        let url = self.url(segments, &query)?;
        let (_, body) = self
            .send(self.request(Method::POST, url).json(body))
            .await?;
        match serde_json::from_slice::<bool>(&body) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ApiError::BadBody("the server answered false".to_owned())),
            Err(_) => Err(ApiError::BadBody("expected `true`".to_owned())),
        }
    }

    /// `GET /global/health` (does not boot any instance).
    pub async fn health(&self) -> Result<Health, ApiError> {
        self.get_json(&["global", "health"], &[], |b| json(b, "health"))
            .await
    }

    /// Whether `GET /path` answers like OpenCode (`{"directory": …, "worktree": …}`): how a
    /// server without `/global/health` (OpenCode 1.0.x) is recognised.
    pub async fn answers_path(&self) -> Result<bool, ApiError> {
        #[derive(Deserialize)]
        struct PathWire {
            directory: Option<String>,
            worktree: Option<String>,
        }
        self.get_json(&["path"], &[], |b| {
            Ok(serde_json::from_slice::<PathWire>(b)
                .is_ok_and(|p| p.directory.is_some() && p.worktree.is_some()))
        })
        .await
    }

    /// `GET /session/status?directory=D`: the non-idle sessions of one directory.
    ///
    /// A listed session whose status type this code does not know counts as `Busy`: the
    /// endpoint lists only non-idle sessions, and leaving it out would mean "idle".
    pub async fn session_status(&self, dir: &str) -> Result<Vec<(SessionId, Status)>, ApiError> {
        self.get_json(&["session", "status"], &[("directory", dir)], |b| {
            let map: HashMap<String, &RawValue> = json(b, "session status map")?;
            Ok(non_idle(map))
        })
        .await
    }

    /// Metadata of every session (all directories of the server's database) updated at or
    /// after `since_ms`, newest first, following `x-next-cursor` for at most 10 pages of 100.
    pub async fn sessions_recent(&self, since_ms: i64) -> Result<Vec<SessionInfo>, ApiError> {
        let start = since_ms.to_string();
        let limit = SESSION_PAGE.to_string();
        let mut cursor: Option<String> = None;
        let mut out = Vec::new();
        for _ in 0..MAX_SESSION_PAGES {
            let mut query = vec![("start", start.as_str()), ("limit", limit.as_str())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.as_str()));
            }
            let url = self.url(&["experimental", "session"], &query)?;
            let (headers, body) = self.send(self.request(Method::GET, url)).await?;
            let rows: Vec<&RawValue> = json(&body, "session list")?;
            let full_page = rows.len() >= SESSION_PAGE;
            let mut oldest = i64::MAX;
            for row in rows {
                if let Ok(s) = serde_json::from_str::<SessionWire>(row.get()) {
                    let info = s.to_info();
                    oldest = oldest.min(info.updated_ms);
                    if info.updated_ms >= since_ms && !info.id.is_empty() {
                        out.push(info);
                    }
                }
            }
            let next = headers
                .get("x-next-cursor")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match next {
                Some(n) if full_page && oldest >= since_ms && cursor.as_deref() != Some(&n) => {
                    cursor = Some(n)
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// `GET /session/{id}`: one session's metadata (404 → [`ApiError::is_not_found`]).
    pub async fn session(&self, id: &str) -> Result<SessionInfo, ApiError> {
        if self.protocol() == Protocol::V2 {
            return self.session_v2(id).await.map(|(info, _)| info);
        }
        self.get_json(&["session", id], &[], |b| {
            let s: SessionWire = json(b, "session")?;
            Ok(s.to_info())
        })
        .await
    }

    /// How the last turn of a session ended, from its last assistant message
    /// (`GET /session/{id}/message?limit=4`): completed without error → `Finished`; an error
    /// (aborts included: `MessageAbortedError`) → `Failed`; never completed, or no answer to the
    /// last user message, or no messages → `Interrupted`.
    pub async fn last_turn_outcome(&self, id: &str) -> Result<TurnOutcome, ApiError> {
        if self.protocol() == Protocol::V2 {
            return self.last_turn_outcome_v2(id).await;
        }
        let limit = OUTCOME_MESSAGES.to_string();
        self.get_json(&["session", id, "message"], &[("limit", &limit)], |b| {
            #[derive(Deserialize)]
            struct Entry<'a> {
                #[serde(borrow)]
                info: MessageWire<'a>,
            }
            let rows: Vec<&RawValue> = json(b, "message list")?;
            let infos: Vec<MessageWire> = rows
                .iter()
                .filter_map(|r| serde_json::from_str::<Entry>(r.get()).ok())
                .map(|e| e.info)
                .collect();
            Ok(outcome_of(&infos))
        })
        .await
    }

    /// `GET /permission?directory=D`: pending permission requests.
    pub async fn pending_permissions(&self, dir: &str) -> Result<Vec<PendingInput>, ApiError> {
        self.pending(&["permission"], dir, InputKind::Permission)
            .await
    }

    /// `GET /question?directory=D`: pending questions.
    pub async fn pending_questions(&self, dir: &str) -> Result<Vec<PendingInput>, ApiError> {
        self.pending(&["question"], dir, InputKind::Question).await
    }

    async fn pending(
        &self,
        segments: &[&str],
        dir: &str,
        kind: InputKind,
    ) -> Result<Vec<PendingInput>, ApiError> {
        self.get_json(segments, &[("directory", dir)], |b| {
            let rows: Vec<&RawValue> = json(b, "pending requests")?;
            Ok(rows
                .iter()
                .filter_map(|r| serde_json::from_str::<RequestWire>(r.get()).ok())
                .filter_map(|r| r.to_input(kind))
                .collect())
        })
        .await
    }

    /// `POST /tui/select-session`: every TUI attached to this server switches to the session.
    /// `dir` is the session's directory when known (the event is published there).
    pub async fn select_session(&self, id: &str, dir: Option<&str>) -> Result<(), ApiError> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "sessionID")]
            session_id: &'a str,
        }
        self.post_true(&["tui", "select-session"], dir, &Body { session_id: id })
            .await
    }

    /// `POST /tui/show-toast`: a toast in every TUI attached to this server. OpenCode answers
    /// `true` even when no TUI is attached. `dir` picks the instance the event is published in
    /// (it does not matter to TUIs; pass a known directory to avoid booting the server's cwd).
    pub async fn show_toast(&self, toast: &Toast, dir: Option<&str>) -> Result<(), ApiError> {
        self.post_true(&["tui", "show-toast"], dir, toast).await
    }

    /// Everything the model needs after a (re)connect: metadata of the sessions updated in
    /// the last 24 h, the non-idle sessions and pending inputs of every known directory.
    ///
    /// Known directories are `seen_dirs` (from events) plus the directories of those recent
    /// sessions — never anything else, as querying a directory boots an instance there.
    /// Connection and auth failures fail the whole resync. Any other failure of one piece (one
    /// directory's statuses, permissions or questions, the session listing, the health check)
    /// leaves that piece out: it is listed in [`Resynced::skipped`] and marked unread in the
    /// report, so the model keeps what it covers unknown instead of taking it for "idle" or
    /// "nothing pending". Without `/experimental/session` (OpenCode before 1.2) the sessions
    /// are listed per project ([`Api::sessions_by_project`]).
    pub async fn resync(
        &self,
        seen_dirs: &BTreeSet<String>,
        now_ms: i64,
    ) -> Result<Resynced, ApiError> {
        let fatal = |e: &ApiError| e.is_connection() || e.is_auth();
        let mut skipped = Vec::new();
        let version = match self.health().await {
            Ok(h) => Some(h.version).filter(|v| !v.is_empty()),
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => {
                skipped.push(("health".to_owned(), e));
                None
            }
        };
        let since = now_ms - RECENT_WINDOW_MS;
        let sessions = match self.sessions_recent(since).await {
            Ok(s) => s,
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => {
                // OpenCode before 1.2 has no `/experimental/session`: list the sessions of
                // each project instead.
                match self.sessions_by_project(since).await {
                    Ok(s) => s,
                    Err(e2) if fatal(&e2) => return Err(e2),
                    Err(e2) => {
                        skipped.push(("recent sessions".to_owned(), e));
                        skipped.push(("sessions by project".to_owned(), e2));
                        Vec::new()
                    }
                }
            }
        };
        let mut dirs: Vec<String> = Vec::new();
        let mut over: Vec<Arc<str>> = Vec::new();
        let mut have = BTreeSet::new();
        let candidates = seen_dirs
            .iter()
            .map(String::as_str)
            .chain(sessions.iter().map(|s| &*s.directory));
        for d in candidates {
            if !d.is_empty() && d != "global" && have.insert(d) {
                if dirs.len() >= MAX_RESYNC_DIRS {
                    // Not queried: its sessions' states stay unknown, not "idle".
                    over.push(Arc::from(d));
                } else {
                    dirs.push(d.to_owned());
                }
            }
        }

        let results: Vec<(String, DirState)> = futures_util::stream::iter(dirs.iter().cloned())
            .map(|d| async move {
                let r = self.dir_state(&d).await;
                (d, r)
            })
            .buffer_unordered(RESYNC_CONCURRENCY)
            .collect()
            .await;

        let mut out = Resynced {
            directories: dirs,
            version,
            skipped,
            ..Resynced::default()
        };
        out.report.sessions = sessions;
        out.report.unread_statuses = over;
        // Each piece on its own: a failed one is left unknown, the others still count.
        for (dir, state) in results {
            let name: Arc<str> = Arc::from(dir.as_str());
            match state.active {
                Ok(active) => out.report.active.extend(active),
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => {
                    out.report.unread_statuses.push(name.clone());
                    out.skipped.push((format!("statuses of {dir}"), e));
                }
            }
            for (what, kind, r) in [
                ("permissions", InputKind::Permission, state.permissions),
                ("questions", InputKind::Question, state.questions),
            ] {
                match r {
                    Ok(p) => out.report.pending.extend(p),
                    Err(e) if fatal(&e) => return Err(e),
                    Err(e) => {
                        out.report.unread_pending.push((name.clone(), kind));
                        out.skipped.push((format!("{what} of {dir}"), e));
                    }
                }
            }
        }
        out.report.active.sort_by(|a, b| a.0.cmp(&b.0));
        out.report.active.dedup_by(|a, b| a.0 == b.0);
        out.report
            .pending
            .sort_by(|a, b| (&a.session, &a.request).cmp(&(&b.session, &b.request)));
        out.report.pending.dedup();

        Ok(out)
    }

    async fn dir_state(&self, dir: &str) -> DirState {
        let (active, permissions, questions) = futures_util::future::join3(
            self.session_status(dir),
            self.pending_permissions(dir),
            self.pending_questions(dir),
        )
        .await;
        DirState {
            active,
            permissions,
            questions,
        }
    }

    /// The sessions updated at or after `since_ms`, for servers without
    /// `/experimental/session` (OpenCode before 1.2): `GET /project`, then `GET /session` of
    /// every project (`?directory=` its worktree; projects without one — OpenCode files
    /// plain directories under a project whose worktree is `/` — through the server's own
    /// directory, never by booting an instance at `/`).
    pub async fn sessions_by_project(&self, since_ms: i64) -> Result<Vec<SessionInfo>, ApiError> {
        #[derive(Deserialize)]
        struct ProjectWire {
            #[serde(default)]
            worktree: String,
        }
        let projects: Vec<ProjectWire> = self
            .get_json(&["project"], &[], |b| {
                let rows: Vec<&RawValue> = json(b, "project list")?;
                Ok(rows
                    .iter()
                    .filter_map(|r| serde_json::from_str::<ProjectWire>(r.get()).ok())
                    .collect())
            })
            .await?;
        let mut worktrees: Vec<Option<String>> = vec![None];
        for p in projects {
            let w = p.worktree;
            if !w.is_empty() && w != "/" && !worktrees.contains(&Some(w.clone())) {
                worktrees.push(Some(w));
            }
            if worktrees.len() > MAX_RESYNC_DIRS {
                break;
            }
        }
        let lists: Vec<Result<Vec<SessionInfo>, ApiError>> = futures_util::stream::iter(worktrees)
            .map(|w| async move { self.session_list(w.as_deref()).await })
            .buffered(RESYNC_CONCURRENCY)
            .collect()
            .await;
        let mut out: Vec<SessionInfo> = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for list in lists {
            for info in list? {
                if info.updated_ms >= since_ms && !info.id.is_empty() && ids.insert(info.id.clone())
                {
                    out.push(info);
                }
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.updated_ms));
        out.truncate(SESSION_PAGE * MAX_SESSION_PAGES);
        Ok(out)
    }

    /// `GET /session[?directory=D]`: the sessions of one project.
    async fn session_list(&self, dir: Option<&str>) -> Result<Vec<SessionInfo>, ApiError> {
        let query: Vec<(&str, &str)> = dir.map(|d| ("directory", d)).into_iter().collect();
        self.get_json(&["session"], &query, |b| {
            let rows: Vec<&RawValue> = json(b, "session list")?;
            Ok(rows
                .iter()
                .filter_map(|r| serde_json::from_str::<SessionWire>(r.get()).ok())
                .map(|s| s.to_info())
                .collect())
        })
        .await
    }
}

/// What one directory's resync read, piece by piece.
struct DirState {
    active: Result<Vec<(SessionId, Status)>, ApiError>,
    permissions: Result<Vec<PendingInput>, ApiError>,
    questions: Result<Vec<PendingInput>, ApiError>,
}

/// The sessions of a `{id: status}` map that are not idle, sorted by id. A status this code
/// cannot read (OpenCode 2's `{type: "running"}`, a newer kind) is busy: listed means active.
pub(super) fn non_idle(map: HashMap<String, &RawValue>) -> Vec<(SessionId, Status)> {
    let mut out: Vec<(SessionId, Status)> = map
        .into_iter()
        .filter(|(id, _)| !id.is_empty())
        .filter_map(|(id, raw)| {
            let status = serde_json::from_str::<StatusWire>(raw.get())
                .ok()
                .and_then(|s| s.to_status())
                .unwrap_or(Status::Busy);
            (status != Status::Idle).then(|| (Arc::from(id), status))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub(super) fn json<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadBody(format!("{what}: {e}")))
}

/// OpenCode's `{"name":…,"data":{"message":…}}` error body, or a short excerpt of the body.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Data {
        #[serde(default)]
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Err {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        data: Option<Data>,
        #[serde(default)]
        message: Option<String>,
    }
    if let Ok(e) = serde_json::from_slice::<Err>(body) {
        let msg = e.data.and_then(|d| d.message).or(e.message);
        match (e.name, msg) {
            (_, Some(m)) if !m.is_empty() => return excerpt(&m),
            (Some(n), _) => return excerpt(&n),
            _ => {}
        }
    }
    excerpt(&String::from_utf8_lossy(body))
}

fn excerpt(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The outcome rule of [`Api::last_turn_outcome`], on messages oldest first.
pub(crate) fn outcome_of(messages: &[MessageWire<'_>]) -> TurnOutcome {
    for m in messages.iter().rev() {
        if m.is_assistant() {
            return match (m.error(), m.completed()) {
                (Some(e), _) => TurnOutcome::Failed(e),
                (None, true) => TurnOutcome::Finished,
                (None, false) => TurnOutcome::Interrupted,
            };
        }
        if m.is_user() {
            // The last prompt never got an answer.
            return TurnOutcome::Interrupted;
        }
    }
    TurnOutcome::Interrupted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::ErrorInfo;

    fn outcome(json: &str) -> TurnOutcome {
        let infos: Vec<MessageWire> = serde_json::from_str(json).unwrap_or_default();
        outcome_of(&infos)
    }

    #[test]
    fn outcome_rule() {
        let user = r#"{"id":"m1","role":"user","time":{"created":1}}"#;
        let done =
            r#"{"id":"m2","role":"assistant","time":{"created":2,"completed":3},"finish":"stop"}"#;
        let dangling = r#"{"id":"m3","role":"assistant","time":{"created":4}}"#;
        let failed = r#"{"id":"m4","role":"assistant","time":{"created":5,"completed":6},"error":{"name":"APIError","data":{"message":"bad request (fake fatal)","statusCode":400}}}"#;
        let aborted = r#"{"id":"m5","role":"assistant","time":{"created":7,"completed":8},"error":{"name":"MessageAbortedError","data":{"message":"Aborted"}}}"#;
        assert_eq!(outcome(&format!("[{user},{done}]")), TurnOutcome::Finished);
        assert_eq!(
            outcome(&format!("[{user},{done},{user},{dangling}]")),
            TurnOutcome::Interrupted
        );
        assert_eq!(
            outcome(&format!("[{user},{failed}]")),
            TurnOutcome::Failed(ErrorInfo {
                name: "APIError".into(),
                message: "bad request (fake fatal)".into()
            })
        );
        assert!(matches!(
            outcome(&format!("[{user},{aborted}]")),
            TurnOutcome::Failed(e) if e.is_abort()
        ));
        // A prompt that never got an answer (the previous turn's success does not count).
        assert_eq!(
            outcome(&format!("[{user},{done},{user}]")),
            TurnOutcome::Interrupted
        );
        assert_eq!(outcome("[]"), TurnOutcome::Interrupted);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(
                br#"{"name":"NotFoundError","data":{"message":"Session not found: ses_x"}}"#
            ),
            "Session not found: ses_x"
        );
        assert_eq!(
            error_message(br#"{"_tag":"UnauthorizedError","message":"Authentication required"}"#),
            "Authentication required"
        );
        assert_eq!(error_message(b""), "");
        let long = "x".repeat(1000);
        assert_eq!(error_message(long.as_bytes()).chars().count(), 201);
        assert_eq!(error_message(b"\xff oops"), "\u{fffd} oops");
    }

    fn api(url: &str) -> Result<Api, ApiError> {
        Api::new(
            ServerUrl::from(url),
            Client::new(),
            None,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn urls_are_built_and_encoded() {
        let a = api("http://127.0.0.1:4096/").unwrap_or_else(|e| panic!("{e}"));
        let u = a
            .url(&["session", "ses_1/../x?y", "message"], &[("limit", "4")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:4096/session/ses_1%2F..%2Fx%3Fy/message?limit=4"
        );
        let u = a
            .url(&["session", "status"], &[("directory", "/home/me/a b&c")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:4096/session/status?directory=%2Fhome%2Fme%2Fa+b%26c"
        );
        let prefixed = api("https://example.com/oc").unwrap_or_else(|e| panic!("{e}"));
        let u = prefixed
            .url(&["global", "event"], &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.as_str(), "https://example.com/oc/global/event");
    }

    #[test]
    fn bad_urls_and_redaction() {
        assert!(matches!(api("ftp://x"), Err(ApiError::BadUrl(_))));
        assert!(matches!(api("not a url"), Err(ApiError::BadUrl(_))));
        assert!(matches!(api("unix:/tmp/sock"), Err(ApiError::BadUrl(_))));
        let a = api("http://bob:s3cret@127.0.0.1:4096").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.display_url(), "http://127.0.0.1:4096");
        assert!(!format!("{a:?}").contains("s3cret"));
        // The same for a URL that does not even parse.
        assert_eq!(display_url("http://u:p@ not a url/"), "http:// not a url");
        assert_eq!(display_url("http://h:1/x@y"), "http://h:1/x@y");
        let a = api("http://127.0.0.1:4096/prefix/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            a.endpoint("/api/event").map(|u| u.to_string()),
            Ok("http://127.0.0.1:4096/prefix/api/event".to_owned())
        );
    }

    #[test]
    fn basic_auth_header_is_rfc7617() {
        let c = Credentials {
            username: "opencode".into(),
            password: "s3cret".into(),
        };
        assert_eq!(c.basic_auth_header(), "Basic b3BlbmNvZGU6czNjcmV0");
    }

    #[test]
    fn credentials_from_environment_values() {
        assert_eq!(Credentials::from_vars(None, None), None);
        assert_eq!(
            Credentials::from_vars(Some("bob".into()), Some(String::new())),
            None
        );
        assert_eq!(
            Credentials::from_vars(None, Some("pw".into())),
            Some(Credentials {
                username: "opencode".into(),
                password: "pw".into()
            })
        );
        assert_eq!(
            Credentials::from_vars(Some("bob".into()), Some("pw".into())).map(|c| c.username),
            Some("bob".into())
        );
        let c = Credentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn toast_body_matches_the_openapi_schema() {
        let t = Toast {
            title: None,
            message: "done".into(),
            variant: ToastVariant::Success,
            duration_ms: Some(3000),
        };
        assert_eq!(
            serde_json::to_string(&t).unwrap_or_default(),
            r#"{"message":"done","variant":"success","duration":3000}"#
        );
    }

    #[test]
    fn errors_display_without_secrets_and_classify() {
        assert_eq!(
            ApiError::Status {
                code: 404,
                message: "Session not found: ses_x".into()
            }
            .to_string(),
            "HTTP 404: Session not found: ses_x"
        );
        assert!(
            ApiError::Status {
                code: 404,
                message: String::new()
            }
            .is_not_found()
        );
        assert!(
            ApiError::Auth {
                password_set: false
            }
            .is_auth()
        );
        assert!(ApiError::Timeout.is_connection());
        assert!(!ApiError::BadBody("x".into()).is_connection());
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            ApiError::from_io(&refused),
            ApiError::Unreachable("connection refused".into())
        );
        let other = std::io::Error::other("weird");
        assert_eq!(
            ApiError::from_io(&other),
            ApiError::Unreachable("weird".into())
        );
    }
}
