//! MEASUREMENT ONLY: the event stream's HTTP/1 through hyper's client connection
//! (`hyper::client::conn::http1`), driven in the reader's own task over the same coalescing
//! socket, chosen with `OCBAR_STREAM_HTTP=hyper`. Kept for one commit so that the comparison in
//! `docs/performance.md` can be rerun.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use reqwest::Url;

use super::{StreamIo, check_content_type, target_and_host};
use crate::daemon::source::api::{ApiError, Credentials, status_error};

type Conn = Connection<TokioIo<StreamIo>, Empty<Bytes>>;

/// An open event stream read through hyper.
pub struct HyperBody {
    conn: Option<Pin<Box<Conn>>>,
    _sender: SendRequest<Empty<Bytes>>,
    body: Incoming,
}

fn hyper_err(e: hyper::Error) -> ApiError {
    ApiError::Unreachable(e.to_string())
}

/// Send `GET {url}` on `io` through hyper and check the answer.
pub(crate) async fn request(
    io: StreamIo,
    url: &Url,
    credentials: Option<&Credentials>,
) -> Result<HyperBody, ApiError> {
    let (target, host) = target_and_host(url)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(hyper_err)?;
    let mut conn = Box::pin(conn);
    let mut req = hyper::Request::get(target)
        .header("host", host)
        .header("accept", "text/event-stream")
        .header("user-agent", concat!("ocbar/", env!("CARGO_PKG_VERSION")));
    if let Some(c) = credentials {
        req = req.header("authorization", c.basic_auth_header());
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| ApiError::BadUrl(e.to_string()))?;
    let resp = tokio::select! {
        r = sender.send_request(req) => r.map_err(hyper_err)?,
        r = &mut conn => {
            r.map_err(hyper_err)?;
            return Err(ApiError::Unreachable("the server closed the connection before answering".into()));
        }
    };
    status_error(resp.status().as_u16(), credentials.is_some())?;
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    check_content_type(ctype)?;
    Ok(HyperBody {
        conn: Some(conn),
        _sender: sender,
        body: resp.into_body(),
    })
}

impl HyperBody {
    /// Append every body frame available now (waiting for the first) to `out`. `Ok(false)` at
    /// the end of the body.
    pub async fn read(&mut self, out: &mut Vec<u8>) -> std::io::Result<bool> {
        std::future::poll_fn(|cx| {
            let mut got = false;
            loop {
                match Pin::new(&mut self.body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(f))) => {
                        if let Ok(d) = f.into_data() {
                            out.extend_from_slice(&d);
                            got = true;
                        }
                        continue;
                    }
                    Poll::Ready(Some(Err(e))) => {
                        return Poll::Ready(Err(std::io::Error::other(e)));
                    }
                    Poll::Ready(None) => return Poll::Ready(Ok(got)),
                    Poll::Pending => {}
                }
                // The body waits for the connection: let it read and decode.
                if let Some(conn) = &mut self.conn {
                    match conn.as_mut().poll(cx) {
                        Poll::Ready(r) => {
                            self.conn = None;
                            if let Err(e) = r {
                                return Poll::Ready(Err(std::io::Error::other(e)));
                            }
                            continue;
                        }
                        Poll::Pending => {}
                    }
                    // The connection may have handed the body a frame meanwhile.
                    match Pin::new(&mut self.body).poll_frame(cx) {
                        Poll::Ready(Some(Ok(f))) => {
                            if let Ok(d) = f.into_data() {
                                out.extend_from_slice(&d);
                                got = true;
                            }
                            continue;
                        }
                        Poll::Ready(Some(Err(e))) => {
                            return Poll::Ready(Err(std::io::Error::other(e)));
                        }
                        Poll::Ready(None) => return Poll::Ready(Ok(got)),
                        Poll::Pending => {}
                    }
                }
                return if got {
                    Poll::Ready(Ok(true))
                } else {
                    Poll::Pending
                };
            }
        })
        .await
    }

    /// The socket under the stream (hyper does not lend it out).
    pub fn io(&self) -> Option<&StreamIo> {
        None
    }
}
