//! HTTP/1.1 for the event stream (`GET /global/event`, `GET /api/event`), over the stream's
//! socket (plain or TLS, coalesced: see [`coalesce`](super::coalesce)).
//!
//! Why not hyper for this one request? See "The stream reader: hyper or hand-written" in
//! `docs/performance.md`. Every read takes whatever is buffered (many chunks at once) and
//! de-chunks it in one pass, handing out each chunk's data where it lies in the read buffer
//! ([`Http1Body::fill`], [`Http1Body::drain`]): OpenCode writes each event as one chunk, so the
//! SSE framer then takes every frame without a copy.
//!
//! Scope: `GET` with `Basic` auth; the response body may be chunked, `Content-Length`-delimited
//! or close-delimited.

use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{StreamIo, check_content_type, target_and_host};
use crate::daemon::source::api::{ApiError, Credentials, status_error};

/// Most bytes of a response head (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Bytes read from the socket at most per read.
const READ_BUF: usize = 64 * 1024;

/// How the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Chunked(Chunked),
    Length(u64),
    Close,
}

/// State of the chunked-encoding decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunked {
    /// Reading the hex size; `digits` so far.
    Size { size: u64, digits: u8 },
    /// Skipping a chunk extension up to the end of the size line.
    Ext { size: u64 },
    /// Size line read up to CR; LF expected.
    SizeLf { size: u64 },
    /// Inside a chunk's data.
    Data { left: u64 },
    /// After a chunk's data: CR expected.
    DataCr,
    /// After a chunk's data and CR: LF expected.
    DataLf,
    /// After the last (empty) chunk: trailer lines until an empty one. `blank`: at a line start.
    Trailer { blank: bool },
    /// The body is complete.
    Done,
}

/// Decode `input` (the next bytes of a chunked body): each piece of chunk data goes to
/// `on_data` as a slice of `input`. Returns an error for bytes that cannot be chunked encoding.
fn dechunk(
    state: &mut Chunked,
    mut input: &[u8],
    on_data: &mut impl FnMut(&[u8]),
) -> Result<(), &'static str> {
    while !input.is_empty() {
        match *state {
            Chunked::Data { left } => {
                let n = (left.min(input.len() as u64)) as usize;
                on_data(&input[..n]);
                input = &input[n..];
                *state = if left == n as u64 {
                    Chunked::DataCr
                } else {
                    Chunked::Data {
                        left: left - n as u64,
                    }
                };
                continue;
            }
            Chunked::Done => return Ok(()),
            _ => {}
        }
        let b = input[0];
        input = &input[1..];
        *state = match (*state, b) {
            (Chunked::Size { size, digits }, _) if b.is_ascii_hexdigit() => {
                if digits >= 15 {
                    return Err("chunk size too large");
                }
                let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                Chunked::Size {
                    size: size << 4 | d,
                    digits: digits + 1,
                }
            }
            (Chunked::Size { digits: 0, .. }, _) => return Err("bad chunk size"),
            (Chunked::Size { size, .. }, b';' | b' ' | b'\t') => Chunked::Ext { size },
            (Chunked::Size { size, .. } | Chunked::Ext { size }, b'\r') => Chunked::SizeLf { size },
            (
                Chunked::Size { size, .. } | Chunked::Ext { size } | Chunked::SizeLf { size },
                b'\n',
            ) => {
                if size == 0 {
                    Chunked::Trailer { blank: true }
                } else {
                    Chunked::Data { left: size }
                }
            }
            (Chunked::Size { .. } | Chunked::SizeLf { .. }, _) => {
                return Err("bad chunk size line");
            }
            (Chunked::Ext { size }, _) => Chunked::Ext { size },
            (Chunked::DataCr, b'\r') => Chunked::DataLf,
            (Chunked::DataCr | Chunked::DataLf, b'\n') => Chunked::Size { size: 0, digits: 0 },
            (Chunked::DataCr | Chunked::DataLf, _) => return Err("missing CRLF after chunk data"),
            (Chunked::Trailer { blank: true }, b'\n') => Chunked::Done,
            (Chunked::Trailer { blank }, b'\r') => Chunked::Trailer { blank },
            (Chunked::Trailer { .. }, b'\n') => Chunked::Trailer { blank: true },
            (Chunked::Trailer { .. }, _) => Chunked::Trailer { blank: false },
            (Chunked::Data { .. } | Chunked::Done, _) => unreachable!("handled above"),
        };
    }
    Ok(())
}

/// An open event stream: the response head has been read and checked.
pub struct Http1Body {
    io: StreamIo,
    framing: Framing,
    /// The bytes of the last read from the socket (or those that came with the head).
    buf: Vec<u8>,
    /// `buf[..filled]` holds them; `drain` has handed out `buf[..drained]`.
    filled: usize,
    drained: usize,
}

impl Http1Body {
    /// Wait for the next bytes of the body (taken by [`drain`](Self::drain)). `Ok(false)` at
    /// the end of the body. Returns at once while the last bytes are not drained yet.
    /// Cancel-safe: nothing is lost when the wait is dropped.
    pub async fn fill(&mut self) -> std::io::Result<bool> {
        if self.drained < self.filled {
            return Ok(true);
        }
        if self.done() {
            return Ok(false);
        }
        if self.buf.len() < READ_BUF {
            // (After the bytes that came with the head, in a buffer of their size.)
            self.buf.resize(READ_BUF, 0);
        }
        let n = self.io.read(&mut self.buf).await?;
        if n == 0 {
            return match self.framing {
                Framing::Close => Ok(false),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the stream mid-body",
                )),
            };
        }
        (self.filled, self.drained) = (n, 0);
        Ok(true)
    }

    /// Hand the body bytes of the last [`fill`](Self::fill) to `on_data`, in order, as slices
    /// of the read buffer (no copy); a read may hold none (only chunk framing) or many.
    pub fn drain(&mut self, mut on_data: impl FnMut(&[u8])) -> std::io::Result<()> {
        let input = &self.buf[self.drained..self.filled];
        self.drained = self.filled;
        match &mut self.framing {
            Framing::Chunked(state) => dechunk(state, input, &mut on_data)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Framing::Length(left) => {
                let n = (*left).min(input.len() as u64) as usize;
                if n > 0 {
                    on_data(&input[..n]);
                }
                *left -= n as u64;
                Ok(())
            }
            Framing::Close => {
                on_data(input);
                Ok(())
            }
        }
    }

    /// Append the next available body bytes to `out` ([`fill`](Self::fill) and
    /// [`drain`](Self::drain) until some came). `Ok(false)` at the end of the body.
    pub async fn read(&mut self, out: &mut Vec<u8>) -> std::io::Result<bool> {
        let before = out.len();
        while self.fill().await? {
            self.drain(|d| out.extend_from_slice(d))?;
            if out.len() > before {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The socket under the stream (for tests: how often it ran hot).
    pub fn io(&self) -> &StreamIo {
        &self.io
    }

    fn done(&self) -> bool {
        matches!(
            self.framing,
            Framing::Chunked(Chunked::Done) | Framing::Length(0)
        )
    }
}

/// The response head, parsed.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    content_type: String,
    chunked: bool,
    length: Option<u64>,
}

fn parse_head(head: &[u8]) -> Result<Head, String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x response: {:.40}", status_line));
    }
    let status = parts
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line: {:.40}", status_line))?;
    let mut h = Head {
        status,
        content_type: String::new(),
        chunked: false,
        length: None,
    };
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-type") {
            h.content_type = v.to_string();
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            h.chunked = v
                .rsplit(',')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        } else if k.eq_ignore_ascii_case("content-length") {
            h.length = v.parse().ok();
        }
    }
    Ok(h)
}

/// Send `GET {url}` on `io` (with `Basic` auth when `credentials` are set), read and check
/// the response head.
pub(crate) async fn request(
    io: StreamIo,
    url: &Url,
    credentials: Option<&Credentials>,
) -> Result<Http1Body, ApiError> {
    let (target, host) = target_and_host(url)?;
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nUser-Agent: ocbar/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(c) = credentials {
        request.push_str("Authorization: ");
        request.push_str(&c.basic_auth_header());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let (io, head, rest) = exchange(io, request.into_bytes()).await?;
    status_error(head.status, credentials.is_some())?;
    check_content_type(&head.content_type)?;
    let framing = if head.chunked {
        Framing::Chunked(Chunked::Size { size: 0, digits: 0 })
    } else if let Some(n) = head.length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Http1Body {
        io,
        framing,
        filled: rest.len(),
        drained: 0,
        buf: rest,
    })
}

/// Send the request and read the response head; returns the head and the body bytes read
/// with it.
async fn exchange(
    mut sock: StreamIo,
    request: Vec<u8>,
) -> Result<(StreamIo, Head, Vec<u8>), ApiError> {
    sock.write_all(&request)
        .await
        .map_err(|e| ApiError::from_io(&e))?;
    sock.flush().await.map_err(|e| ApiError::from_io(&e))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock
            .read(&mut chunk)
            .await
            .map_err(|e| ApiError::from_io(&e))?;
        if n == 0 {
            return Err(ApiError::Unreachable(
                "the server closed the connection before answering".to_owned(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_head(&buf[..end]).map_err(ApiError::BadBody)?;
            let rest = buf[end + 4..].to_vec();
            return Ok((sock, head, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(ApiError::BadBody("response head too large".to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dechunk_all(pieces: &[&[u8]]) -> Result<(Vec<u8>, Chunked), &'static str> {
        let mut st = Chunked::Size { size: 0, digits: 0 };
        let mut out = Vec::new();
        for p in pieces {
            dechunk(&mut st, p, &mut |d| out.extend_from_slice(d))?;
        }
        Ok((out, st))
    }

    #[test]
    fn dechunks_at_every_split_point() {
        let body: &[u8] =
            b"6\r\ndata: \r\n5;ext=1\r\nhello\r\na\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
        let want = b"data: hello0123456789".to_vec();
        let (out, st) = dechunk_all(&[body]).unwrap();
        assert_eq!((out, st), (want.clone(), Chunked::Done));
        for i in 0..body.len() {
            for j in i..body.len() {
                let (out, st) = dechunk_all(&[&body[..i], &body[i..j], &body[j..]]).unwrap();
                assert_eq!(out, want, "split at {i},{j}");
                assert_eq!(st, Chunked::Done);
            }
        }
    }

    #[test]
    fn uppercase_hex_and_bare_lf_are_accepted() {
        let (out, st) = dechunk_all(&[b"A\n0123456789\n0\n\n"]).unwrap();
        assert_eq!(out, b"0123456789");
        assert_eq!(st, Chunked::Done);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(dechunk_all(&[b"zz\r\n"]).is_err());
        assert!(dechunk_all(&[b"3\r\nabcX"]).is_err());
        assert!(dechunk_all(&[b"ffffffffffffffffff\r\n"]).is_err());
    }

    #[test]
    fn parses_a_head() {
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked",
        )
        .unwrap();
        assert_eq!(
            h,
            Head {
                status: 200,
                content_type: "text/event-stream".into(),
                chunked: true,
                length: None
            }
        );
        let h = parse_head(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0").unwrap();
        assert_eq!((h.status, h.length, h.chunked), (401, Some(0), false));
        assert!(parse_head(b"SSH-2.0-OpenSSH").is_err());
    }
}
