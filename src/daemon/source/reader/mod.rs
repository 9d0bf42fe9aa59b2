//! The one reader of an event stream, for every server and every protocol: open
//! `GET {server}{path}` with the server's credentials, check that the answer is an event
//! stream, and hand out its body as it arrives.
//!
//! The path comes from the connection's [`Protocol`](super::protocol::Protocol)
//! (`/global/event` for OpenCode 1, `/api/event` for OpenCode 2). Errors are [`ApiError`]s with
//! the same texts as every other call to the server (see `api::ApiError::from_io`).

pub mod http1;

use std::time::Duration;

use reqwest::Url;

use super::api::{Api, ApiError};
use http1::Http1Body;

pub use http1::COALESCE;

/// An open event stream: the response head was read and checked; the body follows.
pub struct EventBody {
    inner: Inner,
}

enum Inner {
    /// Plain HTTP, read straight from the socket by [`Http1Body`].
    Raw(Http1Body),
    /// Through reqwest (TLS).
    Reqwest(reqwest::Response),
}

impl EventBody {
    /// Wait for more of the body and append it to `out`. `Ok(false)` at the end of the body;
    /// the error is a text for the log and `doctor`.
    pub async fn read(&mut self, out: &mut Vec<u8>) -> Result<bool, String> {
        match &mut self.inner {
            Inner::Raw(b) => b
                .read(out)
                .await
                .map_err(|e| ApiError::from_io(&e).to_string()),
            Inner::Reqwest(resp) => match resp.chunk().await {
                Ok(None) => Ok(false),
                Ok(Some(bytes)) => {
                    out.extend_from_slice(&bytes);
                    Ok(true)
                }
                Err(e) => Err(super::api::classify(&e).to_string()),
            },
        }
    }
}

/// Open `GET {server}{path}` (e.g. `/global/event`) on `api`'s server with its credentials.
///
/// Errors: cannot connect → `Unreachable`, too slow → `Timeout`, 401 → `Auth`, other non-2xx →
/// `Status`, not an event stream → `BadBody`.
pub async fn open_event_stream(
    api: &Api,
    path: &str,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<EventBody, ApiError> {
    let url = api.endpoint(path)?;
    if url.scheme() == "http" {
        let body = http1::open(&url, api.credentials(), connect_timeout, request_timeout).await?;
        return Ok(EventBody {
            inner: Inner::Raw(body),
        });
    }
    let rb = api.event_stream_request(url);
    let resp = match tokio::time::timeout(request_timeout, rb.send()).await {
        Err(_) => return Err(ApiError::Timeout),
        Ok(Err(e)) => return Err(super::api::classify(&e)),
        Ok(Ok(r)) => r,
    };
    api.check_status(resp.status())?;
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    check_content_type(ctype)?;
    Ok(EventBody {
        inner: Inner::Reqwest(resp),
    })
}

/// `Ok` if a response's `Content-Type` is an event stream.
pub(crate) fn check_content_type(content_type: &str) -> Result<(), ApiError> {
    if content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("text/event-stream")
    {
        Ok(())
    } else {
        Err(ApiError::BadBody(format!(
            "content-type is '{content_type}', not text/event-stream"
        )))
    }
}

/// The request target (`/path?query`) and `Host` header value of `url`.
pub(crate) fn target_and_host(url: &Url) -> Result<(String, String), ApiError> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ApiError::BadUrl("no host".to_owned()))?;
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    Ok((target, host))
}
