//! The reader against a server on a real socket, each case over `http://` and `https://` alike
//! (a TLS server with the test certificate of `tests/fixtures/tls/`, trusted through the same
//! configuration `OCBAR_CA_FILE` builds).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use super::*;

const CA: &[u8] = include_bytes!("../../../../tests/fixtures/tls/ca.pem");
const CERT: &[u8] = include_bytes!("../../../../tests/fixtures/tls/server.pem");
const KEY: &[u8] = include_bytes!("../../../../tests/fixtures/tls/server.key");

/// The server side of one test connection, plain or TLS.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

fn client_tls() -> Arc<tokio_rustls::rustls::ClientConfig> {
    let ca: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(CA)
        .collect::<Result<_, _>>()
        .unwrap();
    Arc::new(tls::client_config_with(&ca).unwrap())
}

fn server_tls() -> tokio_rustls::TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(CERT)
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A server that reads the request, answers with `head`, then runs `body` on the connection
/// and its TCP socket's descriptor (and closes it cleanly: TLS sends its close_notify).
/// Returns the stream's URL and the request as the server read it.
async fn serve_once<F, Fut>(
    tls: bool,
    head: &'static [u8],
    body: F,
) -> (Url, tokio::task::JoinHandle<String>)
where
    F: FnOnce(Box<dyn Conn>, std::os::fd::RawFd) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Box<dyn Conn>> + Send,
{
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if tls { "https" } else { "http" };
    let url = Url::parse(&format!(
        "{scheme}://127.0.0.1:{}/global/event",
        l.local_addr().unwrap().port()
    ))
    .unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        // As OpenCode's server (Bun) does: each write is a segment of its own.
        s.set_nodelay(true).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
        let mut s: Box<dyn Conn> = if tls {
            Box::new(server_tls().accept(s).await.unwrap())
        } else {
            Box::new(s)
        };
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        while !req.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before its request ended");
            req.extend_from_slice(&buf[..n]);
        }
        s.write_all(head).await.unwrap();
        let mut s = body(s, fd).await;
        let _ = s.shutdown().await;
        String::from_utf8_lossy(&req).into_owned()
    });
    (url, server)
}

async fn open(url: &Url, credentials: Option<&Credentials>) -> Result<EventBody, ApiError> {
    let s = Duration::from_secs(5);
    open_url_with(url, credentials, s, s, Some(client_tls())).await
}

/// The body, how it ended, and how many times the reader started coalescing; read as the
/// stream loop reads it (`fill`, then `drain` the pieces).
async fn read_all(url: &Url) -> (Vec<u8>, Result<bool, String>, u32) {
    let mut body = open(url, None).await.unwrap();
    let mut out = Vec::new();
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(20), body.fill()).await {
            Ok(Ok(true)) => {
                if let Err(e) = body.drain(|piece| out.extend_from_slice(piece)) {
                    break Err(e);
                }
            }
            Ok(r) => break r,
            Err(_) => panic!("the body never ended; read so far: {} bytes", out.len()),
        }
    };
    (out, end, body.hot_stretches())
}

fn frame(i: usize) -> String {
    format!("data: {{\"n\":{i}}}\n\n")
}

fn chunk(i: usize) -> String {
    chunk_of(&frame(i))
}

/// `f` as one HTTP chunk.
fn chunk_of(f: &str) -> String {
    format!("{:x}\r\n{f}\r\n", f.len())
}

const CHUNKED: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

/// A token stream (chunks 1 ms apart: coalesced, the socket out of the reactor), a pause
/// (back in the reactor), a burst larger than the read buffer, then the end: every byte
/// arrives, in order, and the end is seen.
async fn nothing_is_lost_across_coalescing_and_back(tls: bool) {
    let (url, _) = serve_once(tls, CHUNKED, |mut s, _| async move {
        for i in 0..60 {
            s.write_all(chunk(i).as_bytes()).await.unwrap();
            s.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(coalesce::QUIET_AFTER * 3).await;
        s.write_all(chunk(60).as_bytes()).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let burst: String = (61..6000).map(chunk).collect();
        s.write_all(burst.as_bytes()).await.unwrap();
        s.write_all(b"0\r\n\r\n").await.unwrap();
        s.flush().await.unwrap();
        s
    })
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

#[tokio::test]
async fn nothing_is_lost_across_coalescing_and_back_http() {
    nothing_is_lost_across_coalescing_and_back(false).await;
}

#[tokio::test]
async fn nothing_is_lost_across_coalescing_and_back_https() {
    nothing_is_lost_across_coalescing_and_back(true).await;
}

/// A close-delimited body that ends while coalescing: the data before the close, then the
/// end; a chunked body cut off while coalescing is an error, not a clean end.
async fn the_end_is_seen_while_coalescing(tls: bool) {
    let (url, _) = serve_once(
        tls,
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
        |mut s, _| async move {
            for i in 0..40 {
                s.write_all(frame(i).as_bytes()).await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            s
        },
    )
    .await;
    let (out, end, hot) = read_all(&url).await;
    assert!(hot >= 1, "the token stream was never coalesced");
    let want: String = (0..40).map(frame).collect();
    assert_eq!(String::from_utf8_lossy(&out), want);
    assert!(matches!(end, Ok(false)), "{end:?}");

    let (url, _) = serve_once(tls, CHUNKED, |mut s, _| async move {
        for i in 0..40 {
            s.write_all(chunk(i).as_bytes()).await.unwrap();
            s.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        s
    })
    .await;
    let (out, end, _) = read_all(&url).await;
    assert_eq!(String::from_utf8_lossy(&out), want);
    assert_eq!(end, Err("connection closed".to_owned()));
}

#[tokio::test]
async fn the_end_is_seen_while_coalescing_http() {
    the_end_is_seen_while_coalescing(false).await;
}

#[tokio::test]
async fn the_end_is_seen_while_coalescing_https() {
    the_end_is_seen_while_coalescing(true).await;
}

/// The request carries the path, `Accept` and `Basic` auth; a chunked body is de-chunked, each
/// chunk's data handed out as a piece of its own (OpenCode writes an event per chunk: the SSE
/// framer then takes each frame whole, without a copy).
async fn sends_the_request_and_reads_a_chunked_body(tls: bool) {
    let (url, server) = serve_once(tls, CHUNKED, |mut s, _| async move {
        s.write_all(b"9\r\ndata: a\n\n\r\n").await.unwrap();
        s.flush().await.unwrap();
        s.write_all(b"9\r\ndata: b\n\n\r\n0\r\n\r\n").await.unwrap();
        s
    })
    .await;
    let creds = Credentials {
        username: "opencode".into(),
        password: "s3cret".into(),
    };
    let mut body = open(&url, Some(&creds)).await.unwrap();
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    while body.fill().await.unwrap() {
        body.drain(|p| pieces.push(p.to_vec())).unwrap();
    }
    assert_eq!(pieces, [&b"data: a\n\n"[..], &b"data: b\n\n"[..]]);
    let req = server.await.unwrap();
    assert!(req.starts_with("GET /global/event HTTP/1.1\r\n"), "{req}");
    assert!(req.contains("Accept: text/event-stream\r\n"), "{req}");
    assert!(
        req.contains("Authorization: Basic b3BlbmNvZGU6czNjcmV0\r\n"),
        "{req}"
    );
}

#[tokio::test]
async fn sends_the_request_and_reads_a_chunked_body_http() {
    sends_the_request_and_reads_a_chunked_body(false).await;
}

#[tokio::test]
async fn sends_the_request_and_reads_a_chunked_body_https() {
    sends_the_request_and_reads_a_chunked_body(true).await;
}

/// Answers that are not an event stream are refused with the errors every call gives; a head
/// that never ends is refused at 64 KiB (bounded memory).
async fn bad_answers_are_refused(tls: bool) {
    for (head, want) in [
        (
            &b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"[..],
            ApiError::Auth {
                password_set: false,
            },
        ),
        (
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            ApiError::Status {
                code: 404,
                message: String::new(),
            },
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 0\r\n\r\n",
            ApiError::BadBody("content-type is 'text/html', not text/event-stream".into()),
        ),
    ] {
        let (url, _) = serve_once(tls, head, |s, _| async move { s }).await;
        assert_eq!(open(&url, None).await.err(), Some(want));
    }
    let (url, _) = serve_once(tls, b"HTTP/1.1 200 OK\r\n", |mut s, _| async move {
        let line = format!("x-filler: {}\r\n", "y".repeat(1000));
        for _ in 0..100 {
            if s.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = s.flush().await;
        s
    })
    .await;
    assert_eq!(
        open(&url, None).await.err(),
        Some(ApiError::BadBody("response head too large".into()))
    );
}

#[tokio::test]
async fn bad_answers_are_refused_http() {
    bad_answers_are_refused(false).await;
}

#[tokio::test]
async fn bad_answers_are_refused_https() {
    bad_answers_are_refused(true).await;
}

/// After a hot stream goes quiet, the socket is back in the reactor and the next event is read
/// as soon as it arrives, not on the next beat.
async fn the_first_event_after_quiet_is_read_at_once(tls: bool) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Instant>(1);
    let (url, _) = serve_once(tls, CHUNKED, move |mut s, _| async move {
        for i in 0..100 {
            s.write_all(chunk(i).as_bytes()).await.unwrap();
            s.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(chunk(100).as_bytes()).await.unwrap();
        s.flush().await.unwrap();
        let _ = tx.send(Instant::now()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        s
    })
    .await;
    let mut body = open(&url, None).await.unwrap();
    let mut out = Vec::new();
    let last = frame(100);
    while !out.ends_with(last.as_bytes()) {
        assert!(body.read(&mut out).await.unwrap(), "the stream ended early");
    }
    let read_at = Instant::now();
    let sent_at = rx.recv().await.unwrap();
    assert!(body.hot_stretches() >= 1, "the stream never ran hot");
    assert!(!body.io().socket().is_hot(), "still coalescing");
    // A beat would add up to 25 ms; the reactor, well under 1 ms. A generous margin for CI.
    let waited = read_at.saturating_duration_since(sent_at);
    assert!(
        waited < Duration::from_millis(20),
        "read {waited:?} after it was sent"
    );
}

#[tokio::test]
async fn the_first_event_after_quiet_is_read_at_once_http() {
    the_first_event_after_quiet_is_read_at_once(false).await;
}

#[tokio::test]
async fn the_first_event_after_quiet_is_read_at_once_https() {
    the_first_event_after_quiet_is_read_at_once(true).await;
}

/// A hot stream (a chunk every millisecond for about a second) is read on the beat: at most
/// about 40 reads a second (25 ms beat, plus the short first ticks and the reads before it runs
/// hot), whatever the rate, and nothing is lost.
async fn a_hot_stream_is_read_on_the_beat(tls: bool) {
    let (url, _) = serve_once(tls, CHUNKED, |mut s, _| async move {
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed() < Duration::from_secs(1) {
            s.write_all(chunk(i).as_bytes()).await.unwrap();
            s.flush().await.unwrap();
            i += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        s.write_all(chunk(usize::MAX).as_bytes()).await.unwrap();
        s.write_all(b"0\r\n\r\n").await.unwrap();
        s
    })
    .await;
    let mut body = open(&url, None).await.unwrap();
    let mut out = Vec::new();
    let mut reads = 0u32;
    let start = Instant::now();
    while body.read(&mut out).await.unwrap() {
        reads += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let last = frame(usize::MAX);
    assert!(out.ends_with(last.as_bytes()), "the stream was cut short");
    let frames = String::from_utf8_lossy(&out).matches("data: ").count();
    assert!(frames > 100, "only {frames} frames came");
    let per_sec = f64::from(reads) / secs;
    assert!(
        per_sec <= 60.0,
        "{reads} reads in {secs:.2} s ({per_sec:.0}/s) for {frames} frames"
    );
}

#[tokio::test]
async fn a_hot_stream_is_read_on_the_beat_http() {
    a_hot_stream_is_read_on_the_beat(false).await;
}

#[tokio::test]
async fn a_hot_stream_is_read_on_the_beat_https() {
    a_hot_stream_is_read_on_the_beat(true).await;
}

/// The sender's smoothed round-trip time (`TCP_INFO`'s `tcpi_rtt`) on socket `fd`.
fn sender_rtt(fd: std::os::fd::RawFd) -> Duration {
    Duration::from_micros(u64::from(tcp_info(fd).tcpi_rtt))
}

/// The kernel's view of the test server's socket (`TCP_INFO`).
fn tcp_info(fd: std::os::fd::RawFd) -> libc::tcp_info {
    // SAFETY: tcp_info is plain integers; all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt on the test server's own live socket into a tcp_info of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    info
}

/// Read the whole stream at `url`, which must have run hot.
async fn read_all_hot(url: &Url) {
    let mut body = open(url, None).await.unwrap();
    let mut out = Vec::new();
    while body.read(&mut out).await.unwrap() {}
    assert!(body.hot_stretches() >= 1, "the stream never ran hot");
}

/// While a stream is read on the beat, the kernel still acknowledges its segments as they
/// arrive, so the sender (OpenCode) is not held to one round trip a beat: its measured round
/// trip stays far under the beat. (Acknowledged only when read, it measures half a beat or
/// more, and a sender with a small congestion window then waits for the next read.) Frames of
/// ~450 bytes, the size of OpenCode's token events, each its own segment, as OpenCode writes.
async fn a_hot_stream_is_acknowledged_as_it_arrives(tls: bool) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Duration>(1);
    let (url, _) = serve_once(tls, CHUNKED, move |mut s, fd| async move {
        let pad = "x".repeat(420);
        for i in 0..500 {
            // Two at a time: Linux acknowledges at once only when more than a segment's worth
            // is unacknowledged, so a lone segment waits for the next one in any case.
            for j in [2 * i, 2 * i + 1] {
                let f = format!("data: {{\"n\":{j},\"pad\":\"{pad}\"}}\n\n");
                s.write_all(chunk_of(&f).as_bytes()).await.unwrap();
                s.flush().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = tx.send(sender_rtt(fd)).await;
        s.write_all(b"0\r\n\r\n").await.unwrap();
        s
    })
    .await;
    read_all_hot(&url).await;
    let rtt = rx.recv().await.unwrap();
    assert!(
        rtt < Duration::from_millis(5),
        "the sender measured a {rtt:?} round trip: acknowledged on the beat, not on arrival"
    );
}

#[tokio::test]
async fn a_hot_stream_is_acknowledged_as_it_arrives_http() {
    a_hot_stream_is_acknowledged_as_it_arrives(false).await;
}

#[tokio::test]
async fn a_hot_stream_is_acknowledged_as_it_arrives_https() {
    a_hot_stream_is_acknowledged_as_it_arrives(true).await;
}

/// A hot stream's reads send no acknowledgements of their own: the sender hears back once per
/// two segments on arrival, as from any reader, and not once more per beat (each of which, on
/// loopback, would run the sender's side of it on the daemon's CPU). One ~450-byte frame every
/// 10 ms for 2 s (two and a half a beat, a slow token stream): 200 segments are acknowledged
/// with ~100 acknowledgements; reads that acknowledge add one in about every other of the ~80
/// beats (measured: 126 without `TCP_QUICKACK` 0, 100-101 with it).
async fn a_hot_stream_is_acknowledged_on_arrival_only(tls: bool) {
    const FRAMES: u32 = 200;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
    let (url, _) = serve_once(tls, CHUNKED, move |mut s, fd| async move {
        let pad = "x".repeat(420);
        let before = tcp_info(fd).tcpi_segs_in;
        let mut next = tokio::time::Instant::now();
        for n in 0..FRAMES {
            let f = format!("data: {{\"n\":{n},\"pad\":\"{pad}\"}}\n\n");
            s.write_all(chunk_of(&f).as_bytes()).await.unwrap();
            s.flush().await.unwrap();
            next += Duration::from_millis(10);
            tokio::time::sleep_until(next).await;
        }
        let _ = tx.send(tcp_info(fd).tcpi_segs_in - before).await;
        s.write_all(b"0\r\n\r\n").await.unwrap();
        s
    })
    .await;
    read_all_hot(&url).await;
    let acks = rx.recv().await.unwrap();
    assert!(
        acks <= FRAMES / 2 + FRAMES / 20,
        "{acks} acknowledgements for {FRAMES} segments: the reads acknowledged too"
    );
}

#[tokio::test]
async fn a_hot_stream_is_acknowledged_on_arrival_only_http() {
    a_hot_stream_is_acknowledged_on_arrival_only(false).await;
}

#[tokio::test]
async fn a_hot_stream_is_acknowledged_on_arrival_only_https() {
    a_hot_stream_is_acknowledged_on_arrival_only(true).await;
}
