//! The socket under every event stream: while a token stream flows it is read on a beat, not
//! for every packet, so a stream costs a bounded number of wake-ups a second at any rate.
//!
//! Every wake-up of the daemon costs far more than the events it brings (measured with
//! `ocbar-load` on the project's VM: 16–25 µs for a bare timer wake-up with no work at all,
//! against ~0.4 µs per event), and OpenCode writes every token as its own HTTP chunk: 20
//! sessions streaming would wake the daemon thousands of times a second. So:
//!
//! - **Quiet** (the socket in tokio's reactor): every arriving packet is read at once. The first
//!   event after a quiet spell (a turn starting, a permission asked) reaches the bar without
//!   delay.
//! - **Hot**: once two wake-ups with data come less than [`HOT_GAP`] apart, the socket leaves the
//!   reactor (the kernel no longer wakes the daemon for each packet) and a periodic `timerfd`
//!   wakes the reader instead, which then takes everything that arrived. The beat starts at
//!   [`MIN_PERIOD`] (a short burst keeps a short delay) and doubles at every tick up to
//!   [`MAX_PERIOD`]: at most ~40 ticks a second, whatever the rate. A tick that fills the
//!   reader's buffer is followed by another read at once, so a burst is read at full speed.
//! - After [`QUIET_AFTER`] without data the socket goes back to the reactor.
//! - While parked, the socket's receive low-water mark (`SO_RCVLOWAT`) is [`HOT_LOW_WATER`],
//!   set back to 1 byte before the socket returns to the reactor. Out of the reactor it wakes
//!   nobody; what it changes is when the kernel acknowledges. Linux holds the acknowledgement
//!   of data that sits unread in a shrinking receive window until the reader reads, so a sender
//!   facing a reader on a beat hears back once a beat. A sender with a small congestion window
//!   (BBR, the default on some systems, sizes it from loopback's microsecond round trip) then
//!   stops after a few frames: a status change written after them reached the daemon a beat
//!   later (p99 ~47 ms instead of ~24 ms in `ocbar-load` with 1,000 sessions), and the read
//!   that acknowledged sent the held frames on the daemon's CPU. Below the mark the kernel
//!   acknowledges at once, as for a reader that reads as data arrives.
//! - And the kernel is told to delay acknowledgements (`TCP_QUICKACK` 0, its "interactive"
//!   mode) before the first read of a hot stretch and again after a beat that brought nothing.
//!   Without it, the read itself sends one: the last small segment before a read waits for a
//!   delayed acknowledgement, and a read that empties the queue sends it at once, which on
//!   loopback also runs the sender's side of it (freeing what it acknowledged) on the daemon's
//!   CPU (`perf`, `ocbar-load` at 400 events/s: 18 % of the daemon's samples, ~12 µs a beat).
//!   Told, the kernel leaves that one to its delayed-acknowledgement timer (40 ms at most) or
//!   the next segment: the sender still hears back on arrival for every segment but a last
//!   small one, which it does not wait for. The kernel leaves that mode by itself when the timer
//!   fires, which only a gap in the stream lets happen (hence again after an empty beat); by
//!   the time the socket returns to the reactor ([`QUIET_AFTER`]), it has.
//!
//! And not that mark with the socket left in the reactor, to save the wake-ups: whether the
//! kernel then holds back a wake-up depends on its own conditions (memory pressure, the receive
//! window), and every wake-up it lets through is a full one. Out of the reactor the socket
//! wakes nobody, on any kernel. And a kernel timer, not tokio's: each new, earlier tokio
//! timer wakes tokio's driver once more through an `eventfd`. The `timerfd` is set once per
//! period change; each tick is one `epoll_wait`, one 8-byte `read` and the socket reads.
//!
//! This is an ordinary `AsyncRead + AsyncWrite`, so TLS and HTTP/1 sit on top of it unchanged:
//! `http://` and `https://` streams are coalesced alike.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The first period of a hot stream.
pub const MIN_PERIOD: Duration = Duration::from_millis(3);
/// The longest period: the most a status change inside a token stream waits to be read, and
/// 40 wake-ups a second at most while a stream is hot.
pub const MAX_PERIOD: Duration = Duration::from_millis(25);
/// Two wake-ups with data closer together than this switch coalescing on (so a quiet socket
/// wakes the daemon at most 1 / `HOT_GAP` = 40 times a second).
pub const HOT_GAP: Duration = Duration::from_millis(25);
/// A hot stream without data for this long goes back to the reactor (well under the 200 ms of
/// quiet after which the next event must be read at once).
pub const QUIET_AFTER: Duration = Duration::from_millis(100);

/// The receive low-water mark of a parked socket: more than a beat of the fastest stream
/// measured (4,000 events/s bring ~45 KB a beat), so the kernel acknowledges every segment of a
/// hot stream on arrival (module documentation). Linux also raises the socket's receive buffer
/// to hold twice this if it is smaller.
pub const HOT_LOW_WATER: usize = 256 * 1024;

/// Where the socket is.
enum Sock {
    /// In tokio's reactor: every arriving packet wakes the reader.
    Reactor(TcpStream),
    /// Out of the reactor (non-blocking): read on the ticker's beat only.
    Parked(std::net::TcpStream),
    /// Between the two, only while moving (a failed move ends the stream).
    Moving,
}

/// A TCP socket read on a beat while data streams in (see the module's documentation).
pub struct CoalescingSocket {
    sock: Sock,
    /// The beat of a hot stream; made the first time the stream runs hot. `None` also when the
    /// kernel refused a timer (the stream is then read as it arrives).
    ticker: Option<Ticker>,
    /// The kernel refused a timer once: do not try again.
    no_ticker: bool,
    /// Parked: read without waiting for a tick (a tick came, or the last read filled the
    /// caller's buffer and more may be queued).
    ready: bool,
    /// In the reactor: the last read waited, so the next read with data is a new wake-up.
    waited: bool,
    /// When the last wake-up with data came.
    last_wake: Option<Instant>,
    /// When the last read returned data.
    last_data: Instant,
    /// The current beat.
    period: Duration,
    min_period: Duration,
    max_period: Duration,
    /// How many times the stream started coalescing (for tests).
    hot_stretches: u32,
    /// The kernel was told to delay acknowledgements, and no beat without data came since
    /// (after which it may have left that mode: module documentation).
    acks_delayed: bool,
}

impl CoalescingSocket {
    /// Wrap a connected socket. `OCBAR_COALESCE_US` sets the longest period instead of
    /// [`MAX_PERIOD`], for measuring the trade-off (`ocbar-load`: wake-ups against latency).
    pub fn new(sock: TcpStream) -> CoalescingSocket {
        let max_period = std::env::var("OCBAR_COALESCE_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_micros)
            .unwrap_or(MAX_PERIOD);
        CoalescingSocket {
            sock: Sock::Reactor(sock),
            ticker: None,
            no_ticker: false,
            ready: false,
            waited: true,
            last_wake: None,
            last_data: Instant::now(),
            period: MIN_PERIOD.min(max_period),
            min_period: MIN_PERIOD.min(max_period),
            max_period,
            hot_stretches: 0,
            acks_delayed: false,
        }
    }

    /// How many times the stream started coalescing.
    pub fn hot_stretches(&self) -> u32 {
        self.hot_stretches
    }

    /// The socket is out of the reactor, read on the beat.
    pub fn is_hot(&self) -> bool {
        matches!(self.sock, Sock::Parked(_))
    }

    /// Move the socket out of the reactor and start the beat at the shortest period. Without a
    /// timer the socket stays in the reactor.
    fn go_hot(&mut self) -> io::Result<()> {
        if self.ticker.is_none() && !self.no_ticker {
            match Ticker::new() {
                Ok(t) => self.ticker = Some(t),
                Err(_) => self.no_ticker = true,
            }
        }
        let Some(ticker) = &self.ticker else {
            return Ok(());
        };
        self.period = self.min_period;
        if ticker.set(Some(self.period)).is_err() {
            return Ok(());
        }
        let Sock::Reactor(sock) = std::mem::replace(&mut self.sock, Sock::Moving) else {
            return Ok(());
        };
        let sock = sock.into_std()?;
        // Best effort: without the mark the stream is still read, only acknowledged on the beat.
        let _ = set_int_option(&sock, libc::SOL_SOCKET, libc::SO_RCVLOWAT, HOT_LOW_WATER);
        self.sock = Sock::Parked(sock);
        self.ready = false;
        self.acks_delayed = false;
        self.hot_stretches += 1;
        Ok(())
    }

    /// Stop the beat and put the socket back into the reactor.
    fn go_quiet(&mut self) -> io::Result<()> {
        if let Some(t) = &self.ticker {
            let _ = t.set(None);
        }
        if let Sock::Parked(sock) = std::mem::replace(&mut self.sock, Sock::Moving) {
            // Not best effort: in the reactor, a mark above 1 byte would hold back the wake-up
            // for a lone event after the quiet spell. Failing ends the stream (it reconnects).
            set_int_option(&sock, libc::SOL_SOCKET, libc::SO_RCVLOWAT, 1)?;
            self.sock = Sock::Reactor(TcpStream::from_std(sock)?);
        }
        self.waited = true;
        self.last_wake = None;
        Ok(())
    }

    /// In the reactor, a read brought data: if it is a new wake-up, close to the last one, the
    /// stream runs hot.
    fn read_data_after_wait(&mut self) -> io::Result<()> {
        let now = Instant::now();
        self.last_data = now;
        if std::mem::replace(&mut self.waited, false) {
            let hot = self.last_wake.is_some_and(|t| now - t < HOT_GAP);
            self.last_wake = Some(now);
            if hot {
                self.go_hot()?;
            }
        }
        Ok(())
    }

    /// A tick came: lengthen the beat towards the longest period.
    fn ticked(&mut self) {
        if self.period < self.max_period {
            self.period = (self.period * 2).min(self.max_period);
            if let Some(t) = &self.ticker {
                let _ = t.set(Some(self.period));
            }
        }
    }
}

impl AsyncRead for CoalescingSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.sock {
                Sock::Reactor(sock) => {
                    let before = buf.filled().len();
                    match Pin::new(sock).poll_read(cx, buf) {
                        Poll::Pending => {
                            this.waited = true;
                            return Poll::Pending;
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(())) => {}
                    }
                    if buf.filled().len() > before {
                        this.read_data_after_wait()?;
                    }
                    return Poll::Ready(Ok(()));
                }
                Sock::Parked(_) if !this.ready => {
                    let Some(ticker) = &this.ticker else {
                        return Poll::Ready(Err(io::Error::other("the stream's timer is gone")));
                    };
                    ready!(ticker.poll_tick(cx))?;
                    this.ready = true;
                    this.ticked();
                    if !this.acks_delayed
                        && let Sock::Parked(sock) = &this.sock
                    {
                        // Best effort, as the mark: without it the read acknowledges.
                        let _ = set_int_option(sock, libc::IPPROTO_TCP, libc::TCP_QUICKACK, 0);
                        this.acks_delayed = true;
                    }
                }
                Sock::Parked(sock) => {
                    let want = buf.remaining();
                    match sock.read(buf.initialize_unfilled()) {
                        Ok(n) => {
                            buf.advance(n);
                            if n > 0 {
                                this.last_data = Instant::now();
                            }
                            // A short read took everything queued: wait for the next tick.
                            // (0 bytes: the end of the stream, which every read then returns.)
                            this.ready = n == 0 || n == want;
                            return Poll::Ready(Ok(()));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            this.ready = false;
                            // A beat without data: the kernel may leave the delaying mode.
                            this.acks_delayed = false;
                            if this.last_data.elapsed() >= QUIET_AFTER {
                                this.go_quiet()?;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                Sock::Moving => {
                    return Poll::Ready(Err(io::Error::other(
                        "the event stream's socket was lost",
                    )));
                }
            }
        }
    }
}

impl AsyncWrite for CoalescingSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Writes are rare (the request, TLS records): a parked socket is written without
        // waiting, and only if the kernel's buffer is full goes back to the reactor to wait.
        if let Sock::Parked(sock) = &mut this.sock {
            match sock.write(data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => this.go_quiet()?,
                r => return Poll::Ready(r),
            }
        }
        match &mut this.sock {
            Sock::Reactor(sock) => Pin::new(sock).poll_write(cx, data),
            _ => Poll::Ready(Err(io::Error::other("the event stream's socket was lost"))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.sock {
            Sock::Reactor(sock) => Pin::new(sock).poll_shutdown(cx),
            Sock::Parked(sock) => Poll::Ready(sock.shutdown(std::net::Shutdown::Write)),
            Sock::Moving => Poll::Ready(Ok(())),
        }
    }
}

/// Set an integer socket option (`SO_RCVLOWAT`, `TCP_QUICKACK`) to `value`.
fn set_int_option(
    sock: &std::net::TcpStream,
    level: libc::c_int,
    name: libc::c_int,
    value: usize,
) -> io::Result<()> {
    let value = libc::c_int::try_from(value).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt on a socket this value owns, with a pointer to a live c_int and its
    // size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A periodic kernel timer (`timerfd`) in tokio's reactor: the beat of a hot stream.
struct Ticker {
    fd: AsyncFd<OwnedFd>,
}

impl Ticker {
    fn new() -> io::Result<Ticker> {
        // SAFETY: timerfd_create has no memory preconditions; a non-negative result is a new
        // descriptor that nothing else owns.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by timerfd_create and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the OwnedFd keeps the timerfd open, unchanged, for as long as the AsyncFd
        // that owns it lives.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
        Ok(Ticker { fd })
    }

    /// Tick every `period` from now on (`None`: stop ticking).
    fn set(&self, period: Option<Duration>) -> io::Result<()> {
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
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Ready at the next tick (ticks missed meanwhile count as one).
    fn poll_tick(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut ready = ready!(self.fd.poll_read_ready(cx))?;
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
                return Poll::Ready(Ok(()));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => ready.clear_ready(),
                io::ErrorKind::Interrupted => {}
                _ => return Poll::Ready(Err(e)),
            }
        }
    }
}
