//! The body of an event stream (`GET /global/event`, `GET /api/event`) read straight from a TCP
//! socket (plain `http://` servers).
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
//! (see [`EventBody`](super::EventBody)).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use reqwest::Url;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::{check_content_type, target_and_host};
use crate::daemon::source::api::{ApiError, Credentials, status_error};

/// Most bytes of a response head (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Bytes read from the socket at most per read.
const READ_BUF: usize = 64 * 1024;

/// While a token stream flows, the socket is read once per this interval, on a timer.
///
/// Every wake-up of the daemon costs far more than the event it brings (measured with
/// `ocbar-load` in this VM: ~30 µs per wake-up, most of it the kernel switching to the daemon
/// even for a bare timer with no work, against ~0.4 µs per event), and OpenCode sends every token
/// as its own chunk: 20 sessions streaming would wake the daemon thousands of times a second.
/// So once reads come less than [`HOT_GAP`] apart, the socket leaves tokio's reactor (the kernel
/// no longer wakes the daemon for each packet) and a periodic `timerfd` wakes the reader every
/// `COALESCE` instead, which takes everything that arrived. A status change in the middle of a
/// token stream waits at most this much longer; when a tick finds nothing (the stream went
/// quiet) the socket goes back to the reactor and the next event is read as soon as it arrives.
///
/// The interval bounds the latency it adds: 3 ms, what the earlier 2 ms tokio timer (rounded
/// up to whole milliseconds, 2–3 ms) gave. `OCBAR_COALESCE_US` overrides it, for measuring the
/// trade-off (`ocbar-load`: CPU against event → `watch` latency).
///
/// Not the socket's receive low-water mark (`SO_RCVLOWAT`) with the socket left in the reactor,
/// as before: whether the kernel then holds back a wake-up depends on its own conditions
/// (memory pressure, the receive window), and every wake-up it lets through is a full one. Out
/// of the reactor the socket wakes nobody, on any kernel. And a precise kernel timer, not
/// tokio's: each new, earlier tokio timer wakes tokio's driver once more through an `eventfd`
/// (a `write` and a second `epoll_wait` per read). The `timerfd` is armed once per hot stretch;
/// each tick is one `epoll_wait`, one 8-byte `read` and the socket reads. A tick that fills the
/// read buffer is followed by another read at once, so a burst is read at full speed.
pub const COALESCE: Duration = Duration::from_millis(3);
/// Reads closer together than this switch coalescing on.
const HOT_GAP: Duration = Duration::from_millis(5);

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

/// Where the socket of an open stream is (see [`COALESCE`]).
enum Sock {
    /// In tokio's reactor: every arriving packet wakes the reader.
    Reactor(TcpStream),
    /// Out of the reactor (non-blocking): read on the ticker's beat only.
    Parked(std::net::TcpStream),
    /// Between the two, only while moving (a failed move ends the stream).
    Moving,
}

/// A periodic kernel timer (`timerfd`) in tokio's reactor: the beat of a coalesced stream.
struct Ticker {
    fd: AsyncFd<OwnedFd>,
}

impl Ticker {
    fn new() -> std::io::Result<Ticker> {
        // SAFETY: timerfd_create has no memory preconditions; a non-negative result is a new
        // descriptor that nothing else owns.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by timerfd_create and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the OwnedFd keeps the timerfd open, unchanged, for as long as the AsyncFd
        // that owns it lives.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
        Ok(Ticker { fd })
    }

    /// Tick every `period` from now on (`None`: stop ticking).
    fn set(&self, period: Option<Duration>) -> std::io::Result<()> {
        let ts = |d: Duration| libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        let p = period.unwrap_or(Duration::ZERO);
        let spec = libc::itimerspec {
            it_interval: ts(p),
            it_value: ts(p),
        };
        // SAFETY: timerfd_settime on our own timerfd with a pointer to a live itimerspec; no
        // old value is asked for.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Wait for the next tick (ticks missed meanwhile count as one).
    async fn tick(&self) -> std::io::Result<()> {
        loop {
            let mut ready = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: read into our own 8-byte buffer from our own timerfd.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            if n == 8 {
                // The read took every expiration: the timer is not readable again before its
                // next expiration, which epoll reports as a new edge. Saying so here saves the
                // read that would only return `EAGAIN` at the next tick.
                ready.clear_ready();
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::WouldBlock => ready.clear_ready(),
                std::io::ErrorKind::Interrupted => {}
                _ => return Err(e),
            }
        }
    }
}

/// An open event stream: the response head has been read and checked.
pub struct Http1Body {
    sock: Sock,
    framing: Framing,
    buf: Vec<u8>,
    /// Body bytes that came in with the head, handed out by the first read.
    pending: Vec<u8>,
    /// The beat of a coalesced stream; made the first time the stream runs hot. `None` also
    /// when the kernel refused a timer (the stream is then read as it arrives).
    ticker: Option<Ticker>,
    /// The kernel refused a timer once: do not try again.
    no_ticker: bool,
    /// The last coalesced read filled the buffer (or saw the end): read again without waiting.
    more: bool,
    /// When the last read returned data.
    last_data: Option<std::time::Instant>,
    /// The coalescing interval ([`COALESCE`]).
    period: Duration,
    /// How many times the stream started coalescing (for tests).
    hot_stretches: u32,
}

impl Http1Body {
    fn new(sock: TcpStream, framing: Framing, pending: Vec<u8>) -> Http1Body {
        Http1Body {
            sock: Sock::Reactor(sock),
            framing,
            buf: vec![0; READ_BUF],
            pending,
            ticker: None,
            no_ticker: false,
            more: false,
            last_data: None,
            period: std::env::var("OCBAR_COALESCE_US")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_micros)
                .unwrap_or(COALESCE),
            hot_stretches: 0,
        }
    }

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
            let (n, eof) = match &mut self.sock {
                Sock::Parked(_) => {
                    if !self.more
                        && let Some(t) = &self.ticker
                    {
                        t.tick().await?;
                    }
                    let (n, eof) = self.drain()?;
                    if n == 0 && !eof {
                        // A whole interval without data: the stream went quiet.
                        self.set_hot(false)?;
                        continue;
                    }
                    self.more = eof || n == self.buf.len();
                    (n, eof)
                }
                Sock::Reactor(sock) => {
                    let n = sock.read(&mut self.buf).await?;
                    let now = std::time::Instant::now();
                    if n > 0 && self.last_data.is_some_and(|t| now - t < HOT_GAP) {
                        self.set_hot(true)?;
                    }
                    (n, n == 0)
                }
                Sock::Moving => {
                    return Err(std::io::Error::other("the event stream's socket was lost"));
                }
            };
            if n > 0 {
                self.last_data = Some(std::time::Instant::now());
                let buf = std::mem::take(&mut self.buf);
                let r = self.feed(&buf[..n], out);
                self.buf = buf;
                r?;
                if !out.is_empty() {
                    return Ok(true);
                }
            } else if eof {
                return match self.framing {
                    Framing::Close => Ok(false),
                    _ => Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the server closed the stream mid-body",
                    )),
                };
            }
        }
    }

    /// Read what the parked socket holds into the buffer, without waiting:
    /// `(bytes, end of stream)`. At the end of the stream, data read before it is returned
    /// first (with `true`); the next call reads the end again.
    fn drain(&mut self) -> std::io::Result<(usize, bool)> {
        use std::io::Read;
        let Sock::Parked(sock) = &mut self.sock else {
            return Ok((0, false));
        };
        let mut n = 0;
        while n < self.buf.len() {
            let rest = &mut self.buf[n..];
            match sock.read(rest) {
                Ok(0) => return Ok((n, true)),
                // A short read took everything queued: skip the call that would say so.
                Ok(k) if k < rest.len() => {
                    n += k;
                    break;
                }
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((n, false))
    }

    /// Start or stop coalescing (see [`COALESCE`]): move the socket out of tokio's reactor and
    /// start the ticker, or the reverse. Without a ticker the stream stays in the reactor.
    fn set_hot(&mut self, hot: bool) -> std::io::Result<()> {
        match (&self.sock, hot) {
            (Sock::Reactor(_), true) => {
                if self.ticker.is_none() && !self.no_ticker {
                    match Ticker::new() {
                        Ok(t) => self.ticker = Some(t),
                        Err(_) => self.no_ticker = true,
                    }
                }
                let Some(ticker) = &self.ticker else {
                    return Ok(());
                };
                if ticker.set(Some(self.period)).is_err() {
                    return Ok(());
                }
                let Sock::Reactor(sock) = std::mem::replace(&mut self.sock, Sock::Moving) else {
                    return Ok(());
                };
                self.sock = Sock::Parked(sock.into_std()?);
                self.more = false;
                self.hot_stretches += 1;
            }
            (Sock::Parked(_), false) => {
                if let Some(t) = &self.ticker {
                    let _ = t.set(None);
                }
                let Sock::Parked(sock) = std::mem::replace(&mut self.sock, Sock::Moving) else {
                    return Ok(());
                };
                self.sock = Sock::Reactor(TcpStream::from_std(sock)?);
            }
            _ => {}
        }
        Ok(())
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

/// Open `GET {url}` on a plain `http://` server: connect, send the request (with `Basic`
/// auth when `credentials` are set), read and check the response head.
pub(crate) async fn open(
    url: &Url,
    credentials: Option<&Credentials>,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<Http1Body, ApiError> {
    let (target, host_header) = target_and_host(url)?;
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nAccept: text/event-stream\r\nUser-Agent: ocbar/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(c) = credentials {
        request.push_str("Authorization: ");
        request.push_str(&c.basic_auth_header());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");

    let sock = match tokio::time::timeout(connect_timeout, TcpStream::connect((host, port))).await {
        Err(_) => return Err(ApiError::Timeout),
        Ok(Err(e)) => return Err(ApiError::from_io(&e)),
        Ok(Ok(s)) => s,
    };
    let _ = sock.set_nodelay(true);
    let opened = tokio::time::timeout(request_timeout, exchange(sock, request.into_bytes())).await;
    let (sock, head, rest) = match opened {
        Err(_) => return Err(ApiError::Timeout),
        Ok(r) => r?,
    };
    status_error(head.status, credentials.is_some())?;
    check_content_type(&head.content_type)?;
    let framing = if head.chunked {
        Framing::Chunked(Chunked::Size { size: 0, digits: 0 })
    } else if let Some(n) = head.length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Http1Body::new(sock, framing, rest))
}

/// Send the request and read the response head; returns the head and the body bytes read
/// with it.
async fn exchange(
    mut sock: TcpStream,
    request: Vec<u8>,
) -> Result<(TcpStream, Head, Vec<u8>), ApiError> {
    sock.write_all(&request)
        .await
        .map_err(|e| ApiError::from_io(&e))?;
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

    /// A server that answers the event stream request with `head`, then runs `body` on the
    /// socket; returns the stream's URL.
    async fn serve_once<F, Fut>(head: &'static [u8], body: F) -> String
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = vec![0u8; 4096];
            let _ = s.read(&mut req).await.unwrap();
            s.write_all(head).await.unwrap();
            body(s).await;
        });
        url
    }

    /// The body, how it ended, and how many times the reader started coalescing.
    async fn read_all(url: &str) -> (Vec<u8>, std::io::Result<bool>, u32) {
        let url = Url::parse(&format!("{url}/global/event")).unwrap();
        let mut body = open(&url, None, Duration::from_secs(5), Duration::from_secs(5))
            .await
            .unwrap();
        let mut out = Vec::new();
        let end = loop {
            match tokio::time::timeout(Duration::from_secs(20), body.read(&mut out)).await {
                Ok(Ok(true)) => {}
                Ok(r) => break r,
                Err(_) => panic!("the body never ended; read so far: {} bytes", out.len()),
            }
        };
        (out, end, body.hot_stretches)
    }

    fn frame(i: usize) -> String {
        format!("data: {{\"n\":{i}}}\n\n")
    }

    /// A token stream (chunks 1 ms apart: coalesced, the socket out of the reactor), a pause
    /// (back in the reactor), a burst larger than the read buffer, then the end: every byte
    /// arrives, in order, and the end is seen.
    #[tokio::test]
    async fn nothing_is_lost_across_coalescing_and_back() {
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
            |mut s| async move {
                let chunk = |i: usize| {
                    let f = frame(i);
                    format!("{:x}\r\n{f}\r\n", f.len())
                };
                for i in 0..60 {
                    s.write_all(chunk(i).as_bytes()).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                s.write_all(chunk(60).as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
                let burst: String = (61..6000).map(chunk).collect();
                s.write_all(burst.as_bytes()).await.unwrap();
                s.write_all(b"0\r\n\r\n").await.unwrap();
            },
        )
        .await;
        let (out, end, hot) = read_all(&url).await;
        assert!(hot >= 1, "the token stream was never coalesced");
        let want: String = (0..6000).map(frame).collect();
        assert!(
            out == want.as_bytes(),
            "{} bytes, want {}",
            out.len(),
            want.len()
        );
        assert!(matches!(end, Ok(false)), "{end:?}");
    }

    /// A close-delimited body that ends while coalescing: the data before the close, then the
    /// end; a chunked body cut off while coalescing is an error, not a clean end.
    #[tokio::test]
    async fn the_end_is_seen_while_coalescing() {
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
            |mut s| async move {
                for i in 0..40 {
                    s.write_all(frame(i).as_bytes()).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            },
        )
        .await;
        let (out, end, hot) = read_all(&url).await;
        assert!(hot >= 1, "the token stream was never coalesced");
        let want: String = (0..40).map(frame).collect();
        assert_eq!(String::from_utf8_lossy(&out), want);
        assert!(matches!(end, Ok(false)), "{end:?}");

        let url = serve_once(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
            |mut s| async move {
                for i in 0..40 {
                    let f = frame(i);
                    s.write_all(format!("{:x}\r\n{f}\r\n", f.len()).as_bytes())
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            },
        )
        .await;
        let (out, end, _) = read_all(&url).await;
        assert_eq!(String::from_utf8_lossy(&out), want);
        let err = end.expect_err("a chunked body cut short must be an error");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
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
        let url = Url::parse(&format!("{url}/global/event")).unwrap();
        let mut body = open(
            &url,
            Some(&creds),
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
        .await
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
    }
}
