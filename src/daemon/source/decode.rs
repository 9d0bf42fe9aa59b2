//! One SSE `data:` payload of `GET /global/event` → one typed [`Event`] (or noise).
//!
//! The stream is dominated by token deltas (`message.part.delta`) and their friends, so the
//! decoder reads the envelope once with every sub-object borrowed as raw JSON
//! ([`RawValue`]): noise is recognised by its `type` without allocating anything, and only the
//! few interesting types have their `properties` decoded.
//!
//! Nothing here panics on hostile input: malformed JSON, missing fields, wrong types, unknown
//! status kinds and oversized frames all come back as [`Decoded::Invalid`].

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::event::{
    ErrorInfo, Event, InputKind, MessageInfo, PendingInput, Role, SessionId, SessionInfo, Status,
};
use crate::server_url::ServerUrl;

/// Frames larger than this are rejected before any parsing.
///
/// Generous on purpose: a `permission.asked` for an edit carries the whole diff in its
/// metadata, and dropping it would lose a "waiting" state. Real frames are a few hundred bytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// What one frame of the global event stream means to ocbar.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded<'a> {
    /// Nothing the model needs (token deltas, parts, `sync` copies, plugin chatter, the
    /// deprecated `session.idle`…): a type this code knows and ignores. Dropped without
    /// allocating.
    Noise,
    /// A payload type this code has never heard of (a newer OpenCode?). Ignored like noise, but
    /// the connection counts it and `doctor` lists its name, so an incompatible OpenCode shows
    /// itself instead of failing silently.
    Unknown(&'a str),
    /// `server.heartbeat` (every 10 s): the connection is alive, nothing else.
    Heartbeat,
    /// A typed event for the model. `server.connected` comes out as [`Event::Connected`].
    ///
    /// The second field is the instance directory the event belongs to (from the envelope or
    /// the session info), when there is one: the connection remembers it for the next resync.
    Event(Event, Option<&'a str>),
    /// `server.instance.disposed`: that directory's instance is gone (its sessions were aborted,
    /// with their own `session.error`/idle events before this one).
    InstanceDisposed(&'a str),
    /// `global.disposed`: every instance of the server is gone.
    GlobalDisposed,
    /// The frame could not be understood; the reason is fit for a log line and `doctor`
    /// (it never contains frame content).
    Invalid(&'static str),
}

/// A JSON string borrowed from the frame when it has no escapes (the usual case), owned
/// otherwise. (A bare `Option<Cow<str>>` field would always allocate: serde only borrows a
/// `Cow` that is the direct target of `#[serde(borrow)]`.)
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(transparent)]
pub(crate) struct Str<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'a> Str<'a> {
    /// The string if it was borrowed from the frame (no allocation to keep it).
    pub(super) fn borrowed(&self) -> Option<&'a str> {
        match self.0 {
            Cow::Borrowed(s) => Some(s),
            Cow::Owned(_) => None,
        }
    }
}

/// `{directory?, project?, workspace?, payload}` — the `/global/event` wrapper.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    directory: Option<Str<'a>>,
    #[serde(borrow)]
    payload: Option<Payload<'a>>,
}

/// `{id, type, properties}`; `properties` stays raw until the type says it is worth reading.
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
}

/// Decode one `data:` payload of `GET /global/event` as the SSE framer hands it out (bytes).
///
/// `server` is attached to the resulting event. Noise costs a scan of the frame's first few
/// dozen bytes and no allocation (see [`head_type`]); only a frame read further is checked for
/// UTF-8 (a token delta's text is never looked at, so it is not scanned for that either).
pub fn decode_frame<'a>(server: &ServerUrl, data: &'a [u8]) -> Decoded<'a> {
    by_head(data).unwrap_or_else(|| as_text(data, |text| decode_envelope(server, text)))
}

/// A frame read whole by `full`, once it is known to be text (both protocols' frames).
pub(super) fn as_text<'a>(
    data: &'a [u8],
    full: impl FnOnce(&'a str) -> Decoded<'a>,
) -> Decoded<'a> {
    match std::str::from_utf8(data) {
        Ok(text) => full(text),
        Err(_) => Decoded::Invalid("frame is not UTF-8"),
    }
}

/// [`decode_frame`] of a payload that is already text (the TUI channel's lines, tests).
pub fn decode<'a>(server: &ServerUrl, data: &'a str) -> Decoded<'a> {
    by_head(data.as_bytes()).unwrap_or_else(|| decode_envelope(server, data))
}

/// What a frame is when its size or its head decides it: too large, a heartbeat, noise or an
/// unknown type; `None` when it must be read whole.
fn by_head(data: &[u8]) -> Option<Decoded<'_>> {
    if data.len() > MAX_FRAME_BYTES {
        return Some(Decoded::Invalid("frame too large"));
    }
    let kind = head_type(data)?;
    if kind == "server.heartbeat" {
        Some(Decoded::Heartbeat)
    } else if !is_wanted(kind) {
        Some(if is_known_noise(kind) {
            Decoded::Noise
        } else {
            Decoded::Unknown(kind)
        })
    } else {
        None
    }
}

/// The whole envelope read with serde: the types the model wants, and frames whose head did
/// not match the fast path.
fn decode_envelope<'a>(server: &ServerUrl, data: &'a str) -> Decoded<'a> {
    let envelope: Envelope<'a> = match serde_json::from_str(data) {
        Ok(e) => e,
        Err(_) => return Decoded::Invalid("malformed JSON or not an event envelope"),
    };
    let Some(payload) = envelope.payload else {
        return Decoded::Invalid("frame without payload");
    };
    let Some(kind) = payload.kind else {
        return Decoded::Invalid("payload without type");
    };
    let dir = match &envelope.directory {
        // `directory` is borrowed unless it contained JSON escapes (then it is dropped: it is
        // only a hint for the next resync, and paths with quotes or backslashes are rare).
        Some(d) => d.borrowed().filter(|d| !d.is_empty() && *d != "global"),
        None => None,
    };
    let props = payload.properties;
    match &*kind {
        "server.heartbeat" => Decoded::Heartbeat,
        "server.connected" => Decoded::Event(
            Event::Connected {
                server: server.clone(),
            },
            None,
        ),
        "session.status" => with_props(props, |p| status(server, dir, &envelope.directory, p)),
        "session.error" => with_props(props, |p| session_error(server, dir, p)),
        "session.created" | "session.updated" => with_props(props, |p| session_info(server, p)),
        "session.deleted" => with_props(props, |p| session_deleted(server, dir, p)),
        "message.updated" => with_props(props, |p| message(server, dir, p)),
        "permission.asked" | "permission.updated" => {
            with_props(props, |p| asked(server, dir, p, InputKind::Permission))
        }
        "question.asked" => with_props(props, |p| asked(server, dir, p, InputKind::Question)),
        "permission.replied" | "question.replied" | "question.rejected" => {
            with_props(props, |p| answered(server, dir, p))
        }
        "server.instance.disposed" => instance_disposed(props, dir),
        "global.disposed" => Decoded::GlobalDisposed,
        // Everything else: `sync`, `message.part.delta`, `message.part.updated`, `session.diff`,
        // `session.idle` (deprecated duplicate of status idle), `plugin.added`, `tui.*`… and
        // types newer than this code. Only frames that missed the fast path get here.
        _ => {
            if is_known_noise(&kind) {
                Decoded::Noise
            } else {
                match kind.borrowed() {
                    Some(k) => Decoded::Unknown(k),
                    None => Decoded::Unknown("(a type name with escapes)"),
                }
            }
        }
    }
}

/// Payload types OpenCode 1.0 – 1.18 sends that the model does not need. Anything neither
/// wanted nor listed here is [`Decoded::Unknown`].
pub(super) fn is_known_noise(kind: &str) -> bool {
    const PREFIXES: [&str; 13] = [
        "message.part.",
        "session.next.",
        "tui.",
        "pty.",
        "mcp.",
        "lsp.",
        "file.",
        "installation.",
        "workspace.",
        "worktree.",
        "vcs.",
        "command.",
        "project.",
    ];
    matches!(
        kind,
        "sync"
            | "session.idle"
            | "session.diff"
            | "session.compacted"
            | "message.removed"
            | "todo.updated"
            | "plugin.added"
            | "catalog.updated"
            | "reference.updated"
            | "integration.updated"
    ) || PREFIXES.iter().any(|p| kind.starts_with(p))
}

/// Payload types the model consumes (everything else is noise).
fn is_wanted(kind: &str) -> bool {
    matches!(
        kind,
        "server.heartbeat"
            | "server.connected"
            | "session.status"
            | "session.error"
            | "session.created"
            | "session.updated"
            | "session.deleted"
            | "message.updated"
            | "permission.asked"
            | "permission.updated"
            | "question.asked"
            | "permission.replied"
            | "question.replied"
            | "question.rejected"
            | "server.instance.disposed"
            | "global.disposed"
    )
}

/// The payload `type` read from the head of a frame, without parsing the rest.
///
/// OpenCode writes frames with `JSON.stringify`: `{"directory":"…","project":"…","payload":
/// {"id":"evt_…","type":"message.part.delta","properties":{…}}}` — string-valued keys, then
/// `payload`, whose string-valued keys come before `type`. This accepts exactly that layout
/// (no whitespace, no escapes in keys or in the type) and returns `None` for anything else,
/// which then takes the full serde path. Since an unescaped `"` cannot occur inside a JSON
/// string, a match is real structure, not string content. A frame whose head matches but whose
/// tail is malformed is reported as noise rather than invalid when its type is noise.
fn head_type(b: &[u8]) -> Option<&str> {
    if *b.first()? != b'{' {
        return None;
    }
    // Envelope: string-valued keys, then "payload":{
    let after = skip_to_key(b, 1, b"payload")?;
    if *b.get(after)? != b'{' {
        return None;
    }
    // Payload: string-valued keys, then "type":"…"
    let after = skip_to_key(b, after + 1, b"type")?;
    let (v, _) = key_like_value(b, after)?;
    std::str::from_utf8(v).ok()
}

/// From `i`, the start of an object member, skip string- and number-valued members up to the
/// key `wanted` and return the index after its colon; `None` when anything else comes first
/// (an object or array value, whitespace, escapes in a key). The allocation-free head scan of both event
/// framings (OpenCode 1's `payload.type`, OpenCode 2's top-level `type`).
pub(super) fn skip_to_key(b: &[u8], mut i: usize, wanted: &[u8]) -> Option<usize> {
    /// `"key":` at `i` (no escapes): returns the key and the index after the colon.
    fn key(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
        if *b.get(i)? != b'"' {
            return None;
        }
        let start = i + 1;
        let len = memchr::memchr2(b'"', b'\\', b.get(start..)?)?;
        let end = start + len;
        if b[end] != b'"' || *b.get(end + 1)? != b':' {
            return None;
        }
        Some((&b[start..end], end + 2))
    }
    /// A string value at `i`, skipping escapes: returns the index after its closing quote.
    fn skip_str(b: &[u8], i: usize) -> Option<usize> {
        if *b.get(i)? != b'"' {
            return None;
        }
        let mut j = i + 1;
        loop {
            j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
            if b[j] == b'"' {
                return Some(j + 1);
            }
            j += 2; // a backslash and the character it escapes
        }
    }
    loop {
        let (k, after) = key(b, i)?;
        if k == wanted {
            return Some(after);
        }
        i = match *b.get(after)? {
            b'"' => skip_str(b, after)?,
            // A number (OpenCode 2's `created` comes before `type`).
            b'-' | b'0'..=b'9' => {
                after
                    + b.get(after..)?.iter().position(|c| {
                        !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    })?
            }
            _ => return None,
        };
        if *b.get(i)? != b',' {
            return None;
        }
        i += 1;
    }
}

/// A string value without escapes at `i`: its bytes and the index after it.
pub(super) fn key_like_value(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
    if *b.get(i)? != b'"' {
        return None;
    }
    let start = i + 1;
    let len = memchr::memchr2(b'"', b'\\', b.get(start..)?)?;
    let end = start + len;
    if b[end] != b'"' {
        return None;
    }
    Some((&b[start..end], end + 1))
}

pub(super) fn with_props<'a>(
    props: Option<&'a RawValue>,
    f: impl FnOnce(&'a str) -> Result<Decoded<'a>, &'static str>,
) -> Decoded<'a> {
    match props {
        Some(p) => f(p.get()).unwrap_or_else(Decoded::Invalid),
        None => Decoded::Invalid("event without properties"),
    }
}

pub(super) fn parse<'a, T: Deserialize<'a>>(
    raw: &'a str,
    what: &'static str,
) -> Result<T, &'static str> {
    serde_json::from_str(raw).map_err(|_| what)
}

pub(super) fn arc(s: &str) -> Arc<str> {
    Arc::from(s)
}

/// Whole milliseconds from a JSON number that may be written as a float.
pub(super) fn millis(v: Option<f64>) -> i64 {
    // `as` saturates; JSON cannot carry NaN or infinities.
    v.map(|v| v as i64).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Wire shapes (only the fields ocbar reads; everything else is skipped by serde).

/// `SessionStatus`: `{type: "idle"|"busy"|"retry", attempt?, message?, next?}`.
#[derive(Deserialize)]
pub(crate) struct StatusWire<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(default)]
    attempt: Option<f64>,
    #[serde(borrow, default)]
    message: Option<Str<'a>>,
    #[serde(default)]
    next: Option<f64>,
}

impl StatusWire<'_> {
    /// `None` for a status type this code does not know (never guess a state).
    pub(crate) fn to_status(&self) -> Option<Status> {
        match &*self.kind {
            "idle" => Some(Status::Idle),
            "busy" => Some(Status::Busy),
            "retry" => Some(Status::Retry {
                attempt: self.attempt.map(|a| a as u32).unwrap_or(0),
                message: self.message.as_deref().unwrap_or("").to_owned(),
                next_ms: millis(self.next),
            }),
            _ => None,
        }
    }
}

/// `{name, data?: {message?}}` — every OpenCode 1 error; OpenCode 2's are
/// `{type, message, status?}`. Both are read.
#[derive(Deserialize)]
pub(crate) struct ErrorWire<'a> {
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(borrow, default)]
    data: Option<ErrorData<'a>>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<Str<'a>>,
    #[serde(borrow, default)]
    message: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct ErrorData<'a> {
    #[serde(borrow, default)]
    message: Option<Str<'a>>,
}

impl ErrorWire<'_> {
    pub(crate) fn to_info(&self) -> ErrorInfo {
        ErrorInfo {
            name: self
                .name
                .as_deref()
                .or(self.kind.as_deref())
                .filter(|n| !n.is_empty())
                .unwrap_or("UnknownError")
                .to_owned(),
            message: self
                .data
                .as_ref()
                .and_then(|d| d.message.as_deref())
                .or(self.message.as_deref())
                .unwrap_or("")
                .to_owned(),
        }
    }
}

/// Session or message `time`.
#[derive(Deserialize, Default)]
pub(super) struct TimeWire {
    #[serde(default)]
    pub(super) created: Option<f64>,
    #[serde(default)]
    pub(super) updated: Option<f64>,
    #[serde(default)]
    completed: Option<f64>,
}

/// `model` of a session (`{id, providerID}`) or a user message (`{providerID, modelID}`).
#[derive(Deserialize)]
pub(super) struct ModelWire<'a> {
    #[serde(rename = "providerID", borrow, default)]
    provider_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    id: Option<Str<'a>>,
    #[serde(rename = "modelID", borrow, default)]
    model_id: Option<Str<'a>>,
}

fn model_name(provider: Option<&str>, model: Option<&str>) -> Option<String> {
    match (provider, model) {
        (Some(p), Some(m)) if !p.is_empty() && !m.is_empty() => {
            // (Not `format!`: this runs for every `message.updated` of a stream, and the
            // formatting machinery was a visible share of the daemon's profile.)
            let mut name = String::with_capacity(p.len() + 1 + m.len());
            name.push_str(p);
            name.push('/');
            name.push_str(m);
            Some(name)
        }
        (None | Some(""), Some(m)) if !m.is_empty() => Some(m.to_owned()),
        _ => None,
    }
}

impl ModelWire<'_> {
    pub(super) fn name(&self) -> Option<String> {
        model_name(
            self.provider_id.as_deref(),
            self.id.as_deref().or(self.model_id.as_deref()),
        )
    }
}

/// The `Session` object (events, `GET /session/{id}`, `GET /experimental/session`).
#[derive(Deserialize)]
pub(crate) struct SessionWire<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow, default)]
    directory: Option<Str<'a>>,
    #[serde(borrow, default)]
    title: Option<Str<'a>>,
    #[serde(rename = "parentID", borrow, default)]
    parent_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    agent: Option<Str<'a>>,
    #[serde(borrow, default)]
    model: Option<ModelWire<'a>>,
    #[serde(default)]
    time: TimeWire,
}

impl SessionWire<'_> {
    pub(crate) fn to_info(&self) -> SessionInfo {
        SessionInfo {
            id: arc(&self.id),
            directory: self.directory.as_deref().unwrap_or("").into(),
            title: self.title.as_deref().unwrap_or("").into(),
            parent_id: self.parent_id.as_deref().filter(|p| !p.is_empty()).map(arc),
            agent: self
                .agent
                .as_deref()
                .filter(|a| !a.is_empty())
                .map(Arc::from),
            model: self.model.as_ref().and_then(ModelWire::name).map(Arc::from),
            updated_ms: millis(self.time.updated.or(self.time.created)),
        }
    }
}

/// The `Message` object (`message.updated`, `GET /session/{id}/message`).
#[derive(Deserialize)]
pub(crate) struct MessageWire<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(rename = "sessionID", borrow, default)]
    session_id: Option<Str<'a>>,
    #[serde(borrow)]
    role: Str<'a>,
    #[serde(borrow, default)]
    agent: Option<Str<'a>>,
    #[serde(borrow, default)]
    mode: Option<Str<'a>>,
    #[serde(borrow, default)]
    model: Option<ModelWire<'a>>,
    #[serde(rename = "providerID", borrow, default)]
    provider_id: Option<Str<'a>>,
    #[serde(rename = "modelID", borrow, default)]
    model_id: Option<Str<'a>>,
    #[serde(default)]
    time: TimeWire,
    #[serde(borrow, default)]
    error: Option<ErrorWire<'a>>,
}

impl MessageWire<'_> {
    /// `None` for a role this code does not know.
    pub(crate) fn to_info(&self) -> Option<MessageInfo> {
        let role = match &*self.role {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => return None,
        };
        let model = model_name(self.provider_id.as_deref(), self.model_id.as_deref())
            .or_else(|| self.model.as_ref().and_then(ModelWire::name));
        Some(MessageInfo {
            id: self.id.to_string(),
            role,
            agent: self
                .agent
                .as_deref()
                .or(self.mode.as_deref())
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
            model,
            completed: self.time.completed.is_some(),
            error: self.error.as_ref().map(ErrorWire::to_info),
            created_ms: millis(self.time.created),
        })
    }

    pub(crate) fn is_assistant(&self) -> bool {
        &*self.role == "assistant"
    }

    pub(crate) fn is_user(&self) -> bool {
        &*self.role == "user"
    }

    pub(crate) fn completed(&self) -> bool {
        self.time.completed.is_some()
    }

    pub(crate) fn error(&self) -> Option<ErrorInfo> {
        self.error.as_ref().map(ErrorWire::to_info)
    }
}

/// A pending permission or question (`*.asked`, `GET /permission`, `GET /question`).
#[derive(Deserialize)]
pub(crate) struct RequestWire<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(rename = "sessionID", borrow)]
    session_id: Str<'a>,
}

impl RequestWire<'_> {
    pub(crate) fn to_input(&self, kind: InputKind) -> Option<PendingInput> {
        if self.id.is_empty() || self.session_id.is_empty() {
            return None;
        }
        Some(PendingInput {
            session: arc(&self.session_id),
            request: self.id.to_string(),
            kind,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Per-type decoders.

pub(super) fn session_id(raw: &str) -> Result<SessionId, &'static str> {
    if raw.is_empty() {
        Err("empty sessionID")
    } else {
        Ok(arc(raw))
    }
}

fn status<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    envelope_dir: &Option<Str<'a>>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow)]
        session_id: Str<'a>,
        #[serde(borrow)]
        status: StatusWire<'a>,
    }
    let p: Props = parse(raw, "session.status: missing or bad sessionID/status")?;
    let status = p
        .status
        .to_status()
        .ok_or("session.status: unknown status type")?;
    Ok(Decoded::Event(
        Event::Status {
            server: server.clone(),
            directory: envelope_dir.as_deref().unwrap_or("").to_owned(),
            session: session_id(&p.session_id)?,
            status,
        },
        dir,
    ))
}

pub(super) fn session_error<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow, default)]
        session_id: Option<Str<'a>>,
        #[serde(borrow, default)]
        error: Option<ErrorWire<'a>>,
    }
    let p: Props = parse(raw, "session.error: bad properties")?;
    let error = p
        .error
        .as_ref()
        .map(ErrorWire::to_info)
        .unwrap_or(ErrorInfo {
            name: "UnknownError".to_owned(),
            message: String::new(),
        });
    Ok(Decoded::Event(
        Event::SessionError {
            server: server.clone(),
            session: p.session_id.as_deref().filter(|s| !s.is_empty()).map(arc),
            error,
        },
        dir,
    ))
}

pub(super) fn session_info<'a>(
    server: &ServerUrl,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(borrow)]
        info: SessionWire<'a>,
    }
    let p: Props = parse(raw, "session.created/updated: missing or bad info")?;
    if p.info.id.is_empty() {
        return Err("session.created/updated: empty id");
    }
    let dir = p
        .info
        .directory
        .as_ref()
        .and_then(Str::borrowed)
        .filter(|d| !d.is_empty());
    Ok(Decoded::Event(
        Event::SessionInfo {
            server: server.clone(),
            info: p.info.to_info(),
        },
        dir,
    ))
}

pub(super) fn session_deleted<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Info<'a> {
        #[serde(borrow)]
        id: Str<'a>,
    }
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow, default)]
        session_id: Option<Str<'a>>,
        #[serde(borrow, default)]
        info: Option<Info<'a>>,
    }
    let p: Props = parse(raw, "session.deleted: bad properties")?;
    let id = p
        .session_id
        .or(p.info.map(|i| i.id))
        .ok_or("session.deleted: no session id")?;
    Ok(Decoded::Event(
        Event::SessionDeleted {
            server: server.clone(),
            session: session_id(&id)?,
        },
        dir,
    ))
}

pub(super) fn message<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow, default)]
        session_id: Option<Str<'a>>,
        #[serde(borrow)]
        info: MessageWire<'a>,
    }
    let p: Props = parse(raw, "message.updated: missing or bad info")?;
    let session = p
        .session_id
        .as_ref()
        .or(p.info.session_id.as_ref())
        .ok_or("message.updated: no sessionID")?;
    let session = session_id(session)?;
    let info = p.info.to_info().ok_or("message.updated: unknown role")?;
    Ok(Decoded::Event(
        Event::Message {
            server: server.clone(),
            session,
            info,
        },
        dir,
    ))
}

pub(super) fn asked<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
    kind: InputKind,
) -> Result<Decoded<'a>, &'static str> {
    let p: RequestWire = parse(raw, "permission/question.asked: missing id or sessionID")?;
    let input = p
        .to_input(kind)
        .ok_or("permission/question.asked: empty id or sessionID")?;
    Ok(Decoded::Event(
        Event::InputAsked {
            server: server.clone(),
            input,
        },
        dir,
    ))
}

pub(super) fn answered<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    // `requestID` from 1.1 on; OpenCode 1.0.x says `permissionID`.
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow)]
        session_id: Str<'a>,
        #[serde(rename = "requestID", alias = "permissionID", borrow)]
        request_id: Str<'a>,
    }
    let p: Props = parse(
        raw,
        "permission/question reply: missing sessionID or requestID",
    )?;
    if p.request_id.is_empty() {
        return Err("permission/question reply: empty requestID");
    }
    Ok(Decoded::Event(
        Event::InputAnswered {
            server: server.clone(),
            session: session_id(&p.session_id)?,
            request: p.request_id.0.into_owned(),
        },
        dir,
    ))
}

fn instance_disposed<'a>(props: Option<&'a RawValue>, dir: Option<&'a str>) -> Decoded<'a> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(borrow, default)]
        directory: Option<Str<'a>>,
    }
    let from_props = props
        .and_then(|p| serde_json::from_str::<Props>(p.get()).ok())
        .and_then(|p| p.directory.as_ref().and_then(Str::borrowed))
        .filter(|d| !d.is_empty());
    match from_props.or(dir) {
        Some(d) => Decoded::InstanceDisposed(d),
        None => Decoded::Invalid("server.instance.disposed: no directory"),
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
