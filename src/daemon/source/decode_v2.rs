//! One `data:` payload of OpenCode 2's `GET /api/event` → a typed [`Event`] (or noise).
//!
//! OpenCode 2 frames every event as `{id, created?, type, data, location?, durable?}`
//! (`packages/schema/src/event.ts` in anomalyco/opencode): the payload is in `data`, the
//! directory in `location.directory`. Its session lifecycle
//! (`packages/schema/src/session-event.ts`) says once how a turn ends
//! (`session.execution.succeeded/failed/interrupted`) where OpenCode 1 sent `idle` after an
//! optional `session.error`. The mapping onto the model's events:
//!
//! | OpenCode 2 | model event |
//! |---|---|
//! | `session.execution.started` | `Status::Busy` |
//! | `session.execution.succeeded` | `TurnEnded(Finished)` |
//! | `session.execution.failed` `{error:{type, message}}` | `TurnEnded(Failed)` |
//! | `session.execution.interrupted` `user` / `inactivity` | `TurnEnded(Failed(aborted))` |
//! | `session.execution.interrupted` `shutdown` / `superseded` | nothing: the server resumes the turn, or a new execution follows |
//! | `session.retry.scheduled` `{attempt, at, error}` | `Status::Retry` |
//! | `session.created` / `updated` (flat, or 1.18's `{sessionID, info}`) | `SessionInfo` |
//! | `session.renamed`, `session.agent.selected`, `session.model.selected` | `SessionChanged` |
//! | `session.deleted` | `SessionDeleted` |
//! | `permission.asked` (both shapes), `permission.v2.asked`, `question.asked`, `form.created` | `InputAsked` |
//! | `permission.replied`, `permission.v2.replied`, `question.replied/rejected`, `form.replied/cancelled` | `InputAnswered` |
//! | transitional 1.x-shaped `session.error`, `message.updated`, `session.status` busy/retry | as from OpenCode 1 |
//!
//! `session.status` idle and `session.idle` are noise here: on OpenCode 2 the end of a turn is
//! `session.execution.*`, which carries the outcome; an idle taken for the end could finish a
//! failed turn as done before its `failed` arrives. Token traffic (`session.text.*`,
//! `session.step.*`, `session.tool.*`, …) is recognised from the frame's head without
//! allocating, as for OpenCode 1.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::decode::{
    Decoded, ErrorWire, MAX_FRAME_BYTES, ModelWire, Str, TimeWire, answered, arc, as_text, asked,
    is_known_noise, key_like_value, message, millis, parse, session_deleted, session_error,
    session_id, session_info, skip_to_key, with_props,
};
use crate::model::event::{
    ErrorInfo, Event, InputKind, PendingInput, SessionChange, SessionInfo, Status, TurnOutcome,
};
use crate::server_url::ServerUrl;

/// `{id, type, data, location}` — the `/api/event` frame; `data` stays raw until the type says
/// it is worth reading.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    location: Option<LocationWire<'a>>,
}

/// `location: {directory, workspaceID?}`.
#[derive(Deserialize, Default)]
pub(crate) struct LocationWire<'a> {
    #[serde(borrow, default)]
    pub(crate) directory: Option<Str<'a>>,
}

/// Decode one `data:` payload of `GET /api/event` as the SSE framer hands it out (bytes); like
/// [`decode_frame`](super::decode::decode_frame), only a frame read further is checked for
/// UTF-8.
pub fn decode_v2_frame<'a>(server: &ServerUrl, data: &'a [u8]) -> Decoded<'a> {
    by_head(data).unwrap_or_else(|| as_text(data, |text| decode_envelope(server, text)))
}

/// [`decode_v2_frame`] of a payload that is already text (the TUI channel's lines, tests).
pub fn decode_v2<'a>(server: &ServerUrl, data: &'a str) -> Decoded<'a> {
    by_head(data.as_bytes()).unwrap_or_else(|| decode_envelope(server, data))
}

/// What a frame is when its size or its head decides it (noise or an unknown type); `None`
/// when it must be read whole.
fn by_head(data: &[u8]) -> Option<Decoded<'_>> {
    if data.len() > MAX_FRAME_BYTES {
        return Some(Decoded::Invalid("frame too large"));
    }
    head_type(data)
        .filter(|kind| !is_wanted(kind))
        .map(noise_or_unknown)
}

/// The whole event read with serde.
fn decode_envelope<'a>(server: &ServerUrl, data: &'a str) -> Decoded<'a> {
    let envelope: Envelope<'a> = match serde_json::from_str(data) {
        Ok(e) => e,
        Err(_) => return Decoded::Invalid("malformed JSON or not an OpenCode 2 event"),
    };
    let dir = envelope
        .location
        .as_ref()
        .and_then(|l| l.directory.as_ref())
        .and_then(Str::borrowed)
        .filter(|d| !d.is_empty() && *d != "global");
    let raw = envelope.data;
    let kind = envelope.kind;
    match &*kind {
        "server.connected" => Decoded::Event(
            Event::Connected {
                server: server.clone(),
            },
            None,
        ),
        "session.execution.started" => with_props(raw, |p| {
            let s = sid(p)?;
            Ok(status_event(server, dir, s, Status::Busy))
        }),
        "session.execution.succeeded" => with_props(raw, |p| {
            Ok(ended(server, dir, sid(p)?, TurnOutcome::Finished))
        }),
        "session.execution.failed" => with_props(raw, |p| execution_failed(server, dir, p)),
        "session.execution.interrupted" => {
            with_props(raw, |p| execution_interrupted(server, dir, p))
        }
        "session.retry.scheduled" => with_props(raw, |p| retry_scheduled(server, dir, p)),
        "session.status" => with_props(raw, |p| status(server, dir, p)),
        "session.created" | "session.updated" => with_props(raw, |p| created(server, dir, p)),
        "session.renamed" => with_props(raw, |p| field_changed(server, dir, p, Field::Title)),
        "session.agent.selected" => {
            with_props(raw, |p| field_changed(server, dir, p, Field::Agent))
        }
        "session.model.selected" => {
            with_props(raw, |p| field_changed(server, dir, p, Field::Model))
        }
        "session.deleted" => with_props(raw, |p| session_deleted(server, dir, p)),
        "session.error" => with_props(raw, |p| session_error(server, dir, p)),
        "message.updated" => with_props(raw, |p| message(server, dir, p)),
        "permission.asked" | "permission.v2.asked" | "permission.updated" => {
            with_props(raw, |p| asked(server, dir, p, InputKind::Permission))
        }
        "question.asked" => with_props(raw, |p| asked(server, dir, p, InputKind::Question)),
        "form.created" => with_props(raw, |p| form_created(server, dir, p)),
        "permission.replied"
        | "permission.v2.replied"
        | "question.replied"
        | "question.rejected" => with_props(raw, |p| answered(server, dir, p)),
        "form.replied" | "form.cancelled" => with_props(raw, |p| form_closed(server, dir, p)),
        "server.instance.disposed" => match dir {
            Some(d) => Decoded::InstanceDisposed(d),
            None => Decoded::Noise,
        },
        "global.disposed" => Decoded::GlobalDisposed,
        _ => match kind.borrowed() {
            Some(k) => noise_or_unknown(k),
            None => Decoded::Unknown("(a type name with escapes)"),
        },
    }
}

fn noise_or_unknown(kind: &str) -> Decoded<'_> {
    if is_known_noise(kind) || is_known_noise_v2(kind) {
        Decoded::Noise
    } else {
        Decoded::Unknown(kind)
    }
}

/// Event types of OpenCode 2 the model does not need (token traffic and bookkeeping).
fn is_known_noise_v2(kind: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "session.step.",
        "session.text.",
        "session.reasoning.",
        "session.tool.",
        "session.compaction.",
        "session.input.",
        "session.shell.",
        "session.skill.",
        "session.prompt.",
    ];
    matches!(
        kind,
        "session.usage.updated"
            | "session.synthetic"
            | "session.viewed"
            | "session.moved"
            | "session.idle"
            | "session.diff"
    ) || PREFIXES.iter().any(|p| kind.starts_with(p))
}

/// Types decoded here (everything else is noise or unknown).
fn is_wanted(kind: &str) -> bool {
    matches!(
        kind,
        "server.connected"
            | "session.execution.started"
            | "session.execution.succeeded"
            | "session.execution.failed"
            | "session.execution.interrupted"
            | "session.retry.scheduled"
            | "session.status"
            | "session.created"
            | "session.updated"
            | "session.renamed"
            | "session.agent.selected"
            | "session.model.selected"
            | "session.deleted"
            | "session.error"
            | "message.updated"
            | "permission.asked"
            | "permission.v2.asked"
            | "permission.updated"
            | "question.asked"
            | "form.created"
            | "permission.replied"
            | "permission.v2.replied"
            | "question.replied"
            | "question.rejected"
            | "form.replied"
            | "form.cancelled"
            | "server.instance.disposed"
            | "global.disposed"
    )
}

/// The top-level `type` read from the head of a frame without parsing the rest: OpenCode 2
/// writes `{"id":"evt_…","type":"session.text.delta",…}` (string-valued keys before `type`).
/// `None` for any other layout, which then takes the full serde path.
fn head_type(b: &[u8]) -> Option<&str> {
    if *b.first()? != b'{' {
        return None;
    }
    let after = skip_to_key(b, 1, b"type")?;
    let (v, _) = key_like_value(b, after)?;
    std::str::from_utf8(v).ok()
}

// ---------------------------------------------------------------------------------------------
// Per-type decoders.

/// `{sessionID}` of a payload.
#[derive(Deserialize)]
struct SessionRef<'a> {
    #[serde(rename = "sessionID", borrow)]
    session_id: Str<'a>,
}

fn sid(raw: &str) -> Result<Arc<str>, &'static str> {
    let p: SessionRef = parse(raw, "missing or bad sessionID")?;
    session_id(&p.session_id)
}

fn status_event<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    session: Arc<str>,
    status: Status,
) -> Decoded<'a> {
    Decoded::Event(
        Event::Status {
            server: server.clone(),
            directory: dir.unwrap_or("").to_owned(),
            session,
            status,
        },
        dir,
    )
}

fn ended<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    session: Arc<str>,
    outcome: TurnOutcome,
) -> Decoded<'a> {
    Decoded::Event(
        Event::TurnEnded {
            server: server.clone(),
            session,
            outcome,
        },
        dir,
    )
}

/// An error that may also be a bare string, or absent.
fn error_of(raw: Option<&RawValue>) -> ErrorInfo {
    let Some(raw) = raw else {
        return ErrorInfo {
            name: "UnknownError".to_owned(),
            message: String::new(),
        };
    };
    if let Ok(e) = serde_json::from_str::<ErrorWire>(raw.get()) {
        return e.to_info();
    }
    ErrorInfo {
        name: "UnknownError".to_owned(),
        message: serde_json::from_str::<String>(raw.get()).unwrap_or_default(),
    }
}

fn execution_failed<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow)]
        session_id: Str<'a>,
        #[serde(borrow, default)]
        error: Option<&'a RawValue>,
    }
    let p: Props = parse(raw, "session.execution.failed: missing or bad sessionID")?;
    let mut error = error_of(p.error);
    if error.is_abort() {
        // Never read an error named like an abort as one: only `interrupted` says that.
        error.name = "Error".to_owned();
    }
    Ok(ended(
        server,
        dir,
        session_id(&p.session_id)?,
        TurnOutcome::Failed(error),
    ))
}

fn execution_interrupted<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow)]
        session_id: Str<'a>,
        #[serde(borrow, default)]
        reason: Option<Str<'a>>,
    }
    let p: Props = parse(
        raw,
        "session.execution.interrupted: missing or bad sessionID",
    )?;
    let session = session_id(&p.session_id)?;
    match p.reason.as_deref().unwrap_or("user") {
        // The user stopped it; `inactivity` (the turn was given up) ends it the same way.
        "user" | "inactivity" => Ok(ended(
            server,
            dir,
            session,
            TurnOutcome::Failed(ErrorInfo::aborted()),
        )),
        // `shutdown`: the server restarts and resumes the turn itself (the stream ends, the
        // session shows `unknown`, the resync finds it running again). `superseded`: a new
        // execution follows at once. Neither ends the turn.
        "shutdown" | "superseded" => Ok(Decoded::Noise),
        _ => Err("session.execution.interrupted: unknown reason"),
    }
}

fn retry_scheduled<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow)]
        session_id: Str<'a>,
        #[serde(default)]
        attempt: Option<f64>,
        #[serde(default)]
        at: Option<f64>,
        #[serde(borrow, default)]
        error: Option<&'a RawValue>,
    }
    let p: Props = parse(raw, "session.retry.scheduled: missing or bad sessionID")?;
    let e = error_of(p.error);
    let message = if e.message.is_empty() && e.name != "UnknownError" {
        e.name
    } else {
        e.message
    };
    Ok(status_event(
        server,
        dir,
        session_id(&p.session_id)?,
        Status::Retry {
            attempt: p.attempt.map(|a| a as u32).unwrap_or(0),
            message,
            next_ms: millis(p.at),
        },
    ))
}

/// The transitional `session.status {sessionID, status:{type}}`: busy and retry only.
fn status<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow)]
        session_id: Str<'a>,
        #[serde(borrow)]
        status: super::decode::StatusWire<'a>,
    }
    let p: Props = parse(raw, "session.status: missing or bad sessionID/status")?;
    match p.status.to_status() {
        Some(Status::Idle) => Ok(Decoded::Noise),
        Some(s) => Ok(status_event(server, dir, session_id(&p.session_id)?, s)),
        None => Err("session.status: unknown status type"),
    }
}

/// OpenCode 2's session object: flat in `session.created` (`sessionID`), `{id, …}` from
/// `GET /api/session/{id}` and the session list. `outcome` is how its last finished execution
/// ended (newer builds).
#[derive(Deserialize)]
pub(crate) struct SessionV2Wire<'a> {
    #[serde(borrow, default)]
    id: Option<Str<'a>>,
    #[serde(rename = "sessionID", borrow, default)]
    session_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    location: Option<LocationWire<'a>>,
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
    time: Option<TimeWire>,
    #[serde(borrow, default)]
    pub(crate) outcome: Option<Str<'a>>,
}

impl<'a> SessionV2Wire<'a> {
    /// The session's id (`id`, else `sessionID`); `None` when empty or absent.
    pub(crate) fn id(&self) -> Option<&str> {
        self.id
            .as_deref()
            .or(self.session_id.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// Its directory, borrowed from the frame when it has no escapes.
    fn directory(&self) -> Option<&Str<'a>> {
        self.location
            .as_ref()
            .and_then(|l| l.directory.as_ref())
            .or(self.directory.as_ref())
    }

    /// The model's view of it; `None` without an id.
    pub(crate) fn to_info(&self) -> Option<SessionInfo> {
        let time = self.time.as_ref();
        Some(SessionInfo {
            id: arc(self.id()?),
            directory: self.directory().map(|d| &**d).unwrap_or("").into(),
            title: self.title.as_deref().unwrap_or("").into(),
            parent_id: self.parent_id.as_deref().filter(|p| !p.is_empty()).map(arc),
            agent: self.agent.as_deref().filter(|a| !a.is_empty()).map(arc),
            model: self.model.as_ref().and_then(ModelWire::name).map(Arc::from),
            updated_ms: millis(time.and_then(|t| t.updated.or(t.created))),
        })
    }
}

fn created<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct HasInfo<'a> {
        #[serde(borrow, default)]
        info: Option<&'a RawValue>,
    }
    // OpenCode 1.18's `/api/event` sends the 1.x shape `{sessionID, info:{…}}`.
    if let Ok(HasInfo { info: Some(_) }) = serde_json::from_str::<HasInfo>(raw) {
        return session_info(server, raw).map(|d| match d {
            Decoded::Event(e, own) => Decoded::Event(e, own.or(dir)),
            other => other,
        });
    }
    let s: SessionV2Wire = parse(raw, "session.created/updated: bad session")?;
    let info = s
        .to_info()
        .ok_or("session.created/updated: no session id")?;
    let own = s
        .directory()
        .and_then(Str::borrowed)
        .filter(|d| !d.is_empty());
    Ok(Decoded::Event(
        Event::SessionInfo {
            server: server.clone(),
            info,
        },
        own.or(dir),
    ))
}

/// Which field a `session.renamed` / `session.agent.selected` / `session.model.selected`
/// changes.
#[derive(Clone, Copy)]
enum Field {
    Title,
    Agent,
    Model,
}

/// `session.renamed {sessionID, title}`, `session.agent.selected {sessionID, agent}`,
/// `session.model.selected {sessionID, model:{id, providerID}}`.
fn field_changed<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
    field: Field,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(rename = "sessionID", borrow)]
        session_id: Str<'a>,
        #[serde(borrow, default)]
        title: Option<Str<'a>>,
        #[serde(borrow, default)]
        agent: Option<Str<'a>>,
        #[serde(borrow, default)]
        model: Option<ModelWire<'a>>,
    }
    let p: Props = parse(raw, "session change: missing or bad sessionID")?;
    let change = match field {
        Field::Title => p.title.map(|t| SessionChange::Title(arc(&t))),
        Field::Agent => p
            .agent
            .filter(|a| !a.is_empty())
            .map(|a| SessionChange::Agent(arc(&a))),
        Field::Model => p
            .model
            .as_ref()
            .and_then(ModelWire::name)
            .map(|m| SessionChange::Model(Arc::from(m))),
    }
    .ok_or("session change: missing or empty title, agent or model")?;
    Ok(Decoded::Event(
        Event::SessionChanged {
            server: server.clone(),
            session: session_id(&p.session_id)?,
            change,
        },
        dir,
    ))
}

/// `form.created {form:{id, sessionID, …}}`. A form of session `"global"` (an MCP
/// elicitation) is no session's.
fn form_created<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    #[derive(Deserialize)]
    struct Props<'a> {
        #[serde(borrow)]
        form: FormWire<'a>,
    }
    let p: Props = parse(raw, "form.created: missing or bad form")?;
    match p.form.to_input() {
        Some(input) => Ok(Decoded::Event(
            Event::InputAsked {
                server: server.clone(),
                input,
            },
            dir,
        )),
        None if &*p.form.session_id == "global" => Ok(Decoded::Noise),
        None => Err("form.created: empty id or sessionID"),
    }
}

/// A form (`form.created`'s `form`, `GET /api/form`): a question in OpenCode 2's words.
#[derive(Deserialize)]
pub(crate) struct FormWire<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(rename = "sessionID", borrow)]
    session_id: Str<'a>,
}

impl FormWire<'_> {
    /// The pending input it is; `None` for an empty id or a form of no session (`global`).
    pub(crate) fn to_input(&self) -> Option<PendingInput> {
        if self.id.is_empty() || self.session_id.is_empty() || &*self.session_id == "global" {
            return None;
        }
        Some(PendingInput {
            session: arc(&self.session_id),
            request: self.id.to_string(),
            kind: InputKind::Question,
        })
    }
}

/// `form.replied` / `form.cancelled` `{id, sessionID}`.
fn form_closed<'a>(
    server: &ServerUrl,
    dir: Option<&'a str>,
    raw: &'a str,
) -> Result<Decoded<'a>, &'static str> {
    let f: FormWire = parse(raw, "form.replied/cancelled: missing id or sessionID")?;
    if &*f.session_id == "global" {
        return Ok(Decoded::Noise);
    }
    if f.id.is_empty() {
        return Err("form.replied/cancelled: empty id");
    }
    Ok(Decoded::Event(
        Event::InputAnswered {
            server: server.clone(),
            session: session_id(&f.session_id)?,
            request: f.id.to_string(),
        },
        dir,
    ))
}

#[cfg(test)]
#[path = "decode_v2_tests.rs"]
mod tests;
