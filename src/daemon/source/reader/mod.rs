//! The one reader of an event stream, for every server and every protocol: open
//! `GET {server}{path}` with the server's credentials, check that the answer is an event
//! stream, and hand out its body as it arrives.
//!
//! The path comes from the connection's [`Protocol`](super::protocol::Protocol)
//! (`/global/event` for OpenCode 1, `/api/event` for OpenCode 2). Errors are [`ApiError`]s with
//! the same texts as every other call to the server (see `api::ApiError::from_io`).

pub mod coalesce;
pub mod http1;
pub mod tls;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::Url;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::api::{Api, ApiError, Credentials};
use coalesce::CoalescingSocket;
use http1::Http1Body;

/// An open event stream: the response head was read and checked; the body follows.
pub struct EventBody {
    body: Http1Body,
}

impl EventBody {
    /// Wait for more of the body and append it to `out`. `Ok(false)` at the end of the body;
    /// the error is a text for the log and `doctor`.
    pub async fn read(&mut self, out: &mut Vec<u8>) -> Result<bool, String> {
        self.body.read(out).await.map_err(io_error_text)
    }

    /// Wait for the next bytes of the body, then take them with [`drain`](Self::drain) (the
    /// stream loop's way: no copy). `Ok(false)` at the end of the body. Cancel-safe.
    pub async fn fill(&mut self) -> Result<bool, String> {
        self.body.fill().await.map_err(io_error_text)
    }

    /// The body bytes of the last [`fill`](Self::fill), to `on_data` as slices of the read
    /// buffer, in order.
    pub fn drain(&mut self, on_data: impl FnMut(&[u8])) -> Result<(), String> {
        self.body.drain(on_data).map_err(io_error_text)
    }

    /// The socket under the stream (for tests).
    fn io(&self) -> &StreamIo {
        self.body.io()
    }

    /// How many times the stream's socket started coalescing (for tests).
    pub fn hot_stretches(&self) -> u32 {
        self.io().socket().hot_stretches()
    }
}

/// A read error as the log and `doctor` say it (the same texts as every other call to the
/// server).
fn io_error_text(e: io::Error) -> String {
    ApiError::from_io(&e).to_string()
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
    open_url(&url, api.credentials(), connect_timeout, request_timeout).await
}

/// Open `GET {url}` (`http://` or `https://`): connect, TLS when asked, the request.
pub async fn open_url(
    url: &Url,
    credentials: Option<&Credentials>,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<EventBody, ApiError> {
    open_url_with(url, credentials, connect_timeout, request_timeout, None).await
}

/// [`open_url`] with a TLS configuration of its own (`None`: [`tls::client_config`]).
pub async fn open_url_with(
    url: &Url,
    credentials: Option<&Credentials>,
    connect_timeout: Duration,
    request_timeout: Duration,
    tls_config: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
) -> Result<EventBody, ApiError> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ApiError::BadUrl("no host".to_owned()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| ApiError::BadUrl("no port".to_owned()))?;
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(ApiError::BadUrl(format!(
                "scheme '{other}' is not http or https"
            )));
        }
    };
    let addr = host.trim_start_matches('[').trim_end_matches(']');
    let sock = match tokio::time::timeout(connect_timeout, TcpStream::connect((addr, port))).await {
        Err(_) => return Err(ApiError::Timeout),
        Ok(Err(e)) => return Err(ApiError::from_io(&e)),
        Ok(Ok(s)) => s,
    };
    let _ = sock.set_nodelay(true);
    let sock = CoalescingSocket::new(sock);
    let opened = tokio::time::timeout(request_timeout, async {
        let io = if tls {
            let config = match tls_config {
                Some(c) => c,
                None => tls::client_config()?,
            };
            StreamIo::Tls(Box::new(tls::connect(host, sock, config).await?))
        } else {
            StreamIo::Plain(sock)
        };
        http1::request(io, url, credentials).await
    })
    .await;
    match opened {
        Err(_) => Err(ApiError::Timeout),
        Ok(body) => Ok(EventBody { body: body? }),
    }
}

/// The bytes under the HTTP of a stream: the coalescing socket, plain or through TLS.
pub enum StreamIo {
    /// `http://`.
    Plain(CoalescingSocket),
    /// `https://`.
    Tls(Box<tokio_rustls::client::TlsStream<CoalescingSocket>>),
}

impl StreamIo {
    /// The socket under the stream.
    pub fn socket(&self) -> &CoalescingSocket {
        match self {
            StreamIo::Plain(s) => s,
            StreamIo::Tls(t) => t.get_ref().0,
        }
    }
}

impl AsyncRead for StreamIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            StreamIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            StreamIo::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for StreamIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            StreamIo::Plain(s) => Pin::new(s).poll_write(cx, data),
            StreamIo::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            StreamIo::Plain(s) => Pin::new(s).poll_flush(cx),
            StreamIo::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            StreamIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            StreamIo::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
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

#[cfg(test)]
mod tests;
