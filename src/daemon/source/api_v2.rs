//! OpenCode 2's HTTP API (`/api/*`) for one server: which kind of server it is, the resync
//! after a (re)connect, and the reads of one session.
//!
//! From OpenCode 2's protocol (anomalyco/opencode `packages/protocol/src/groups/server.ts`,
//! `session.ts`, `permission.ts`, `form.ts`): every answer is `{data: …}`; an unknown path
//! answers the web app's HTML with status 200, so a body that is not the JSON expected means
//! "not this API", never "nothing there". OpenCode 1.18 serves part of `/api/*` too
//! (`/api/health` without a version, `/api/session`, `/api/session/active`, `/api/event`) but
//! not `/api/info`: it is identified, and followed, as OpenCode 1.

use std::collections::HashMap;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::api::{Api, ApiError, RECENT_WINDOW_MS, Resynced, json, non_idle};
use super::decode::RequestWire;
use super::decode_v2::{FormWire, SessionV2Wire};
use super::protocol::Protocol;
use crate::model::event::{
    ErrorInfo, InputKind, PendingInput, SessionId, SessionInfo, Status, TurnOutcome,
};

/// What [`Api::identify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The API it speaks.
    pub protocol: Protocol,
    /// Its version, when it says.
    pub version: Option<String>,
}

/// At most this many sessions are read per resync (`GET /api/session?limit=`).
const SESSION_LIMIT: usize = 200;
/// Pending-request reads running at once during a resync.
const PENDING_CONCURRENCY: usize = 4;

/// `{data: T}`: every OpenCode 2 answer.
#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

fn fatal(e: &ApiError) -> bool {
    e.is_connection() || e.is_auth()
}

impl Api {
    /// Which kind of server this is: `GET /api/info` (OpenCode 2), then `GET /api/health`
    /// with a version (earlier 2.x builds), then `GET /global/health` (OpenCode 1; 1.0.x has
    /// none and is still OpenCode 1). Connection and auth failures of the `/api/*` steps are
    /// errors; any other answer there (the web app's HTML, a 404) only rules a step out.
    pub async fn identify(&self) -> Result<Identity, ApiError> {
        #[derive(Deserialize)]
        struct Info {
            version: String,
        }
        #[derive(Deserialize)]
        struct Health {
            #[serde(default)]
            version: Option<String>,
        }
        match self
            .get_json(&["api", "info"], &[], |b| json::<Info>(b, "info"))
            .await
        {
            Ok(i) => {
                return Ok(Identity {
                    protocol: Protocol::V2,
                    version: Some(i.version).filter(|v| !v.is_empty()),
                });
            }
            Err(e) if fatal(&e) => return Err(e),
            Err(_) => {}
        }
        match self
            .get_json(&["api", "health"], &[], |b| json::<Health>(b, "health"))
            .await
        {
            // OpenCode 1.18 answers `{"healthy":true}`, without a version.
            Ok(Health {
                version: Some(v), ..
            }) if !v.is_empty() => {
                return Ok(Identity {
                    protocol: Protocol::V2,
                    version: Some(v),
                });
            }
            Err(e) if fatal(&e) => return Err(e),
            _ => {}
        }
        // Past `/api/*`, it is OpenCode 1 whatever `/global/health` says (1.0.x has none):
        // the event stream, opened next, reports its own failures.
        match self.health().await {
            Ok(h) => Ok(Identity {
                protocol: Protocol::V1,
                version: Some(h.version).filter(|v| !v.is_empty()),
            }),
            Err(e) if e.is_auth() => Err(e),
            Err(_) => Ok(Identity {
                protocol: Protocol::V1,
                version: None,
            }),
        }
    }

    /// `GET /api/session/{id}`: the session's metadata and the outcome of its last finished
    /// execution (`succeeded | failed | interrupted`; absent before OpenCode 2 had it).
    pub async fn session_v2(&self, id: &str) -> Result<(SessionInfo, Option<String>), ApiError> {
        self.get_json(&["api", "session", id], &[], |b| {
            let d: Data<SessionV2Wire> = json(b, "session")?;
            let info = d
                .data
                .to_info()
                .ok_or_else(|| ApiError::BadBody("session: no id".to_owned()))?;
            Ok((info, d.data.outcome.as_deref().map(str::to_owned)))
        })
        .await
    }

    /// How the last turn of a session ended, from `outcome` in `GET /api/session/{id}`.
    /// A build without `outcome` cannot say: an error, so the turn stays `unknown`.
    pub async fn last_turn_outcome_v2(&self, id: &str) -> Result<TurnOutcome, ApiError> {
        let (_, outcome) = self.session_v2(id).await?;
        match outcome.as_deref() {
            Some("succeeded") => Ok(TurnOutcome::Finished),
            Some("failed") => Ok(TurnOutcome::Failed(ErrorInfo {
                name: "Error".to_owned(),
                message: "the turn failed while ocbar was not connected".to_owned(),
            })),
            Some("interrupted") => Ok(TurnOutcome::Failed(ErrorInfo::aborted())),
            Some(other) => Err(ApiError::BadBody(format!(
                "session: unknown outcome '{other}'"
            ))),
            None => Err(ApiError::BadBody(
                "session: no `outcome` (an OpenCode 2 build older than it): the last turn's outcome cannot be read".to_owned(),
            )),
        }
    }

    /// `GET /api/session/active` → `{data:{ses_…:{type:"running"}}}`: the sessions running a
    /// turn on the whole server. A session absent from it is inactive.
    pub async fn active_v2(&self) -> Result<Vec<(SessionId, Status)>, ApiError> {
        self.get_json(&["api", "session", "active"], &[], |b| {
            let d: Data<HashMap<String, &RawValue>> = json(b, "active sessions")?;
            Ok(non_idle(d.data))
        })
        .await
    }

    /// `GET /api/session?limit=N&order=desc`: the newest sessions of every directory, kept if
    /// updated at or after `since_ms`.
    pub async fn sessions_v2(&self, since_ms: i64) -> Result<Vec<SessionInfo>, ApiError> {
        let limit = SESSION_LIMIT.to_string();
        self.get_json(
            &["api", "session"],
            &[("limit", &limit), ("order", "desc")],
            |b| {
                let d: Data<Vec<&RawValue>> = json(b, "session list")?;
                Ok(d.data
                    .iter()
                    .filter_map(|r| serde_json::from_str::<SessionV2Wire>(r.get()).ok())
                    .filter_map(|s| s.to_info())
                    .filter(|s| s.updated_ms == 0 || s.updated_ms >= since_ms)
                    .collect())
            },
        )
        .await
    }

    /// The pending permissions (`GET /api/session/{id}/permission`) or forms
    /// (`GET /api/session/{id}/form`) of one session.
    pub async fn pending_v2(
        &self,
        id: &str,
        kind: InputKind,
    ) -> Result<Vec<PendingInput>, ApiError> {
        let what = match kind {
            InputKind::Permission => "permission",
            InputKind::Question => "form",
        };
        self.get_json(&["api", "session", id, what], &[], |b| {
            let d: Data<Vec<&RawValue>> = json(b, "pending requests")?;
            Ok(d.data
                .iter()
                .filter_map(|r| match kind {
                    InputKind::Permission => serde_json::from_str::<RequestWire>(r.get())
                        .ok()
                        .and_then(|w| w.to_input(kind)),
                    InputKind::Question => serde_json::from_str::<FormWire>(r.get())
                        .ok()
                        .and_then(|w| w.to_input()),
                })
                .collect())
        })
        .await
    }

    /// Everything the model needs after a (re)connect to an OpenCode 2 server: the recent
    /// sessions, the running ones, and the pending permissions and forms of those.
    ///
    /// Connection and auth failures fail the whole resync. Any other failure of one piece
    /// leaves that piece out ([`Resynced::skipped`]) and marked unread in the report: without
    /// the running list no session is taken for idle; without a session's pending requests,
    /// what is known of them stays.
    pub async fn resync_v2(&self, now_ms: i64) -> Result<Resynced, ApiError> {
        let mut out = Resynced::default();
        // The version, and a check that the server behind the URL is still an OpenCode 2 one.
        let id = self.identify().await?;
        if id.protocol != Protocol::V2 {
            return Err(ApiError::BadBody(format!(
                "the server is now {} {}, not OpenCode 2",
                id.protocol.name(),
                id.version.as_deref().unwrap_or("")
            )));
        }
        out.version = id.version;
        match self.sessions_v2(now_ms - RECENT_WINDOW_MS).await {
            Ok(s) => out.report.sessions = s,
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => out.skipped.push(("recent sessions".to_owned(), e)),
        }
        match self.active_v2().await {
            Ok(a) => out.report.active = a,
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => {
                out.report.statuses_unread_everywhere = true;
                out.skipped.push(("running sessions".to_owned(), e));
            }
        }
        let asks: Vec<(SessionId, InputKind)> = out
            .report
            .active
            .iter()
            .flat_map(|(id, _)| {
                [
                    (id.clone(), InputKind::Permission),
                    (id.clone(), InputKind::Question),
                ]
            })
            .collect();
        let reads: Vec<(InputKind, Result<Vec<PendingInput>, ApiError>)> =
            futures_util::stream::iter(asks)
                .map(|(id, kind)| async move {
                    let r = self.pending_v2(&id, kind).await;
                    (kind, r)
                })
                .buffer_unordered(PENDING_CONCURRENCY)
                .collect()
                .await;
        for (kind, r) in reads {
            match r {
                Ok(p) => out.report.pending.extend(p),
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => {
                    if !out.report.pending_unread_everywhere.contains(&kind) {
                        out.report.pending_unread_everywhere.push(kind);
                        let what = match kind {
                            InputKind::Permission => "pending permissions",
                            InputKind::Question => "pending forms",
                        };
                        out.skipped.push((what.to_owned(), e));
                    }
                }
            }
        }
        out.report
            .pending
            .sort_by(|a, b| (&a.session, &a.request).cmp(&(&b.session, &b.request)));
        out.report.pending.dedup();
        let mut dirs: Vec<String> = out
            .report
            .sessions
            .iter()
            .map(|s| s.directory.to_string())
            .filter(|d| !d.is_empty())
            .collect();
        dirs.sort();
        dirs.dedup();
        out.directories = dirs;
        Ok(out)
    }
}
