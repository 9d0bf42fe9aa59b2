//! The body of `GET /global/event` read straight from a TCP socket (plain `http://` servers).
//!
//! Why not reqwest/hyper for this one request? Token deltas arrive as one HTTP chunk each
//! (OpenCode writes every event separately), and hyper hands a body over chunk by chunk through
//! a channel between its connection task and the reader: two task wake-ups and a timer
//! registration per event. Measured with `ocbar-load` at 4000 events/s: 4.4 % of a core for the
//! daemon, against a 2 % budget. Reading the socket directly, every read takes whatever is
//! buffered (many chunks at once) and de-chunks it in one pass.
//!
//! Scope: HTTP/1.1 `GET` over plain TCP, with `Basic` auth; the response body may be chunked,
//! `Content-Length`-delimited or close-delimited. `https://` servers keep going through reqwest
//! (see [`EventBody`]).

use std::time::Duration;

use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::api::{ApiError, Credentials};

/// Most bytes of a response head (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Bytes read from the socket at most per read.
const READ_BUF: usize = 64 * 1024;

/// While a token stream flows, the socket is read at most once per this interval.
///
/// Every wake-up of the daemon costs far more than the event it brings (measured with
/// `ocbar-load` in this VM: ~30 µs per wake-up against ~1 µs per event), and OpenCode sends
/// every token as its own chunk: 20 sessions streaming would wake the daemon thousands of times
/// a second. So once reads come less than [`HOT_GAP`] apart, the socket's receive low-water mark
/// is raised ([`HOT_LOWAT`]): the kernel stops waking the daemon for each small packet, and the
/// reader wakes on a timer every `COALESCE` instead, taking everything that arrived. A status
/// change in the middle of a token stream waits at most this much longer; when the stream goes
/// quiet (a whole interval without data) the mark goes back to one byte and the next event is
/// read as soon as it arrives.
pub const COALESCE: Duration = Duration::from_millis(2);
/// Reads closer together than this switch coalescing on.
const HOT_GAP: Duration = Duration::from_millis(5);
/// `SO_RCVLOWAT` while coalescing: a burst this large is read without waiting for the timer.
const HOT_LOWAT: libc::c_int = 32 * 1024;

/// A response body being read, whichever client opened it.
pub enum EventBody {
    /// Plain HTTP, read by [`Http1Body`].
    Raw(Http1Body),
    /// Through reqwest (TLS).
    Reqwest(reqwest::Response),
}

impl EventBody {
    /// Wait for more of the body and append it to `out`. `Ok(false)` at the end of the body.
    pub async fn read(&mut self, out: &mut Vec<u8>) -> Result<bool, String> {
        match self {
            EventBody::Raw(b) => b.read(out).await.map_err(|e| io_text(&e)),
            EventBody::Reqwest(resp) => match resp.chunk().await {
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

/// Decode `input` (the next bytes of a chunked body) into `out`. Returns an error for bytes
/// that cannot be chunked encoding.
fn dechunk(state: &mut Chunked, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    while !input.is_empty() {
        match *state {
            Chunked::Data { left } => {
                let n = (left.min(input.len() as u64)) as usize;
                out.extend_from_slice(&input[..n]);
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
    sock: TcpStream,
    framing: Framing,
    buf: Vec<u8>,
    /// Body bytes that came in with the head, handed out by the first read.
    pending: Vec<u8>,
    /// Coalescing (see [`COALESCE`]): the low-water mark is raised.
    hot: bool,
    /// When the last read returned data.
    last_data: Option<std::time::Instant>,
}

impl Http1Body {
    /// Append the next available body bytes to `out`. `Ok(false)` at the end of the body.
    pub async fn read(&mut self, out: &mut Vec<u8>) -> std::io::Result<bool> {
        if !self.pending.is_empty() {
            let first = std::mem::take(&mut self.pending);
            self.feed(&first, out)?;
            if !out.is_empty() {
                return Ok(true);
            }
        }
        loop {
            if self.done() {
                return Ok(false);
            }
            let n = if self.hot {
                match self.read_coalesced().await? {
                    Some(n) => n,
                    None => {
                        // A whole interval without data: the stream went quiet.
                        self.set_hot(false);
                        continue;
                    }
                }
            } else {
                let n = self.sock.read(&mut self.buf).await?;
                let now = std::time::Instant::now();
                if n > 0 && self.last_data.is_some_and(|t| now - t < HOT_GAP) {
                    self.set_hot(true);
                }
                n
            };
            if n > 0 {
                self.last_data = Some(std::time::Instant::now());
            }
            if n == 0 {
                return match self.framing {
                    Framing::Close => Ok(false),
                    _ => Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the server closed the stream mid-body",
                    )),
                };
            }
            let buf = std::mem::take(&mut self.buf);
            let r = self.feed(&buf[..n], out);
            self.buf = buf;
            r?;
            if !out.is_empty() {
                return Ok(true);
            }
        }
    }

    /// Wait until [`COALESCE`] after the last data (or until [`HOT_LOWAT`] bytes are
    /// buffered), then read everything available. `None` when nothing came in that time.
    async fn read_coalesced(&mut self) -> std::io::Result<Option<usize>> {
        let deadline = self.last_data.unwrap_or_else(std::time::Instant::now) + COALESCE;
        loop {
            let timer = tokio::select! {
                biased;
                r = self.sock.readable() => {
                    r?;
                    false
                }
                _ = tokio::time::sleep_until(deadline.into()) => true,
            };
            let (n, eof) = self.drain(timer)?;
            if n > 0 || eof {
                // At the end of the stream, data read before it is returned first; the next
                // call reads the end again.
                return Ok(Some(n));
            }
            if timer {
                return Ok(None);
            }
            // Readiness without data (a stale wake-up): wait again.
        }
    }

    /// Read what the socket holds into the buffer, without waiting: `(bytes, end of stream)`.
    ///
    /// Tokio's `try_read` first (it keeps tokio's readiness right). Below the low-water mark
    /// the kernel never reports the socket readable, so tokio believes there is nothing to
    /// read and `try_read` does not even ask; after the timer (`raw`), ask the kernel directly.
    fn drain(&mut self, raw: bool) -> std::io::Result<(usize, bool)> {
        use std::os::fd::AsRawFd;
        let mut n = 0;
        while n < self.buf.len() {
            match self.sock.try_read(&mut self.buf[n..]) {
                Ok(0) => return Ok((n, true)),
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while raw && n < self.buf.len() {
            let rest = &mut self.buf[n..];
            // SAFETY: recv into our own live buffer, at most its length; the socket is ours.
            let k = unsafe {
                libc::recv(
                    self.sock.as_raw_fd(),
                    rest.as_mut_ptr().cast(),
                    rest.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            match k {
                0 => return Ok((n, true)),
                // A short read took everything queued: skip the call that would say so.
                k if k > 0 && (k as usize) < rest.len() => {
                    n += k as usize;
                    break;
                }
                k if k > 0 => n += k as usize,
                _ => {
                    let e = std::io::Error::last_os_error();
                    match e.kind() {
                        std::io::ErrorKind::WouldBlock => break,
                        std::io::ErrorKind::Interrupted => {}
                        _ => return Err(e),
                    }
                }
            }
        }
        Ok((n, false))
    }

    /// Raise or lower the receive low-water mark (see [`COALESCE`]).
    fn set_hot(&mut self, hot: bool) {
        use std::os::fd::AsRawFd;
        if self.hot == hot {
            return;
        }
        self.hot = hot;
        let lowat: libc::c_int = if hot { HOT_LOWAT } else { 1 };
        // SAFETY: setsockopt on our own socket with a pointer to a live c_int of that size.
        let rc = unsafe {
            libc::setsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                (&lowat as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            // Not supported: plain reads, one wake-up per packet.
            self.hot = false;
        }
    }

    fn done(&self) -> bool {
        matches!(
            self.framing,
            Framing::Chunked(Chunked::Done) | Framing::Length(0)
        )
    }

    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        match &mut self.framing {
            Framing::Chunked(state) => dechunk(state, input, out)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Framing::Length(left) => {
                let n = (*left).min(input.len() as u64) as usize;
                out.extend_from_slice(&input[..n]);
                *left -= n as u64;
                Ok(())
            }
            Framing::Close => {
                out.extend_from_slice(input);
                Ok(())
            }
        }
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

/// A connection error in the words reqwest's errors get (see `api::classify`), so `doctor`
/// and the log say the same whichever client failed.
fn io_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".to_owned(),
        ConnectionReset => "connection reset".to_owned(),
        ConnectionAborted => "connection aborted".to_owned(),
        TimedOut => "timed out".to_owned(),
        UnexpectedEof => "connection closed".to_owned(),
        HostUnreachable => "host unreachable".to_owned(),
        NetworkUnreachable => "network unreachable".to_owned(),
        AddrNotAvailable => "address not available".to_owned(),
        _ => e.to_string(),
    }
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Open `GET {base}/global/event` on a plain `http://` server. `Ok(None)` for URLs this reader
/// does not handle (`https://`): use reqwest for those.
///
/// Errors are classified like reqwest's: cannot connect → `Unreachable`, too slow → `Timeout`,
/// 401 → `Auth`, other non-2xx → `Status`, not an event stream → `BadBody`.
pub async fn open_event_stream(
    server: &str,
    credentials: Option<&Credentials>,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<Option<Http1Body>, ApiError> {
    let base =
        Url::parse(server.trim_end_matches('/')).map_err(|e| ApiError::BadUrl(e.to_string()))?;
    if base.scheme() != "http" {
        return Ok(None);
    }
    let host = base
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ApiError::BadUrl("no host".to_owned()))?
        .to_owned();
    let port = base.port_or_known_default().unwrap_or(80);
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|_| ApiError::BadUrl("cannot be a base".to_owned()))?;
        path.pop_if_empty();
        path.push("global");
        path.push("event");
    }
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let auth = match credentials {
        Some(c) => Some((c.username.clone(), c.password.clone())),
        None if !base.username().is_empty() => Some((
            percent_decoded(base.username()),
            percent_decoded(base.password().unwrap_or("")),
        )),
        None => None,
    };
    let host_header = match base.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nAccept: text/event-stream\r\nUser-Agent: ocbar/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some((u, p)) = &auth {
        request.push_str("Authorization: Basic ");
        request.push_str(&base64(format!("{u}:{p}").as_bytes()));
        request.push_str("\r\n");
    }
    request.push_str("\r\n");

    let addr = format!("{host}:{port}");
    let sock = match tokio::time::timeout(connect_timeout, TcpStream::connect(&addr)).await {
        Err(_) => return Err(ApiError::Timeout),
        Ok(Err(e)) => return Err(ApiError::Unreachable(io_text(&e))),
        Ok(Ok(s)) => s,
    };
    let _ = sock.set_nodelay(true);
    let opened = tokio::time::timeout(request_timeout, exchange(sock, request.into_bytes())).await;
    let (sock, head, rest) = match opened {
        Err(_) => return Err(ApiError::Timeout),
        Ok(r) => r?,
    };
    if head.status == 401 {
        return Err(ApiError::Auth {
            password_set: auth.is_some(),
        });
    }
    if !(200..300).contains(&head.status) {
        return Err(ApiError::Status {
            code: head.status,
            message: String::new(),
        });
    }
    if !head
        .content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("text/event-stream")
    {
        return Err(ApiError::BadBody(format!(
            "content-type is '{}', not text/event-stream",
            head.content_type
        )));
    }
    let framing = if head.chunked {
        Framing::Chunked(Chunked::Size { size: 0, digits: 0 })
    } else if let Some(n) = head.length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Some(Http1Body {
        sock,
        framing,
        buf: vec![0; READ_BUF],
        pending: rest,
        hot: false,
        last_data: None,
    }))
}

/// Send the request and read the response head; returns the head and the body bytes read
/// with it.
async fn exchange(
    mut sock: TcpStream,
    request: Vec<u8>,
) -> Result<(TcpStream, Head, Vec<u8>), ApiError> {
    sock.write_all(&request)
        .await
        .map_err(|e| ApiError::Unreachable(io_text(&e)))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock
            .read(&mut chunk)
            .await
            .map_err(|e| ApiError::Unreachable(io_text(&e)))?;
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
            dechunk(&mut st, p, &mut out)?;
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

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("opencode:s3cret", "b3BlbmNvZGU6czNjcmV0"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[tokio::test]
    async fn reads_a_chunked_event_stream_from_a_socket() {
        use tokio::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = vec![0u8; 4096];
            let n = s.read(&mut req).await.unwrap();
            let req = String::from_utf8_lossy(&req[..n]).to_string();
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n")
                .await
                .unwrap();
            s.write_all(b"9\r\ndata: b\n\n\r\n0\r\n\r\n").await.unwrap();
            req
        });
        let creds = Credentials {
            username: "opencode".into(),
            password: "s3cret".into(),
        };
        let mut body = open_event_stream(
            &url,
            Some(&creds),
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
        .await
        .unwrap()
        .unwrap();
        let mut out = Vec::new();
        while body.read(&mut out).await.unwrap() {}
        assert_eq!(out, b"data: a\n\ndata: b\n\n");
        let req = server.await.unwrap();
        assert!(req.starts_with("GET /global/event HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains("Authorization: Basic b3BlbmNvZGU6czNjcmV0\r\n"),
            "{req}"
        );
        assert!(
            open_event_stream(
                "https://127.0.0.1:1",
                None,
                Duration::from_secs(1),
                Duration::from_secs(1)
            )
            .await
            .unwrap()
            .is_none()
        );
    }
}
