//! The receive floor: what any program pays on this machine to receive the steady phase's
//! stream on the daemon's beat, doing nothing with it.
//!
//! A writer thread sends the same frames as the steady phase (the same mix, one HTTP chunk and
//! one write each, `TCP_NODELAY`, paced at the same rate and tick) over loopback; this thread is
//! woken by a periodic `timerfd` at the daemon's longest beat and takes everything queued with
//! non-blocking `recv`s into a 64 KiB buffer, with the receive low-water mark of the daemon's
//! parked socket (so the kernel acknowledges on arrival, not at the read) and acknowledgements
//! delayed (`TCP_QUICKACK` 0 before the first read and after a beat that brought nothing, so
//! the read sends none), as the daemon's coalescing socket does. Its CPU (its own schedstat) is
//! the kernel's part of a coalesced stream: the wake-up, the copy, the socket buffers freed (on
//! a VM, an inter-processor interrupt per 32 of them). What the daemon spends above it is the
//! daemon's own work.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fake;
use crate::timer::{Timer, thread_cpu_ns};
use crate::windows::{WindowClock, Windows};
use ocbar_load::frames;

/// What the bare reader cost.
#[derive(Serialize, Default, Debug)]
pub struct RecvFloor {
    pub rate: u64,
    pub period_us: u64,
    pub secs: f64,
    pub events: u64,
    /// Bytes received (the chunks with their framing).
    pub bytes: u64,
    pub wakes: u64,
    /// CPU of the reader thread, % of one core.
    pub cpu_percent: f64,
    /// The same per event received, µs.
    pub us_per_event: f64,
    /// The reader's CPU per second of the measurement: how steady this machine was.
    pub cpu_windows: Option<Windows>,
}

/// Receive `rate` events/s of the steady mix for `secs`, woken every `period_us`.
pub fn measure(
    rate: u64,
    sessions: usize,
    tick_us: u64,
    period_us: u64,
    secs: f64,
) -> Result<RecvFloor, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut reader = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let (mut writer, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    writer.set_nodelay(true).map_err(|e| e.to_string())?;
    reader.set_nonblocking(true).map_err(|e| e.to_string())?;
    // ocbar's `reader::coalesce::HOT_LOW_WATER` (this tool does not link ocbar).
    set_int_option(&reader, libc::SOL_SOCKET, libc::SO_RCVLOWAT, 256 * 1024)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop_w = stop.clone();
    let tick = Duration::from_micros(tick_us.max(50));
    let sender = std::thread::spawn(move || -> u64 {
        let mut mixer = frames::Mixer::new(sessions.max(1), 7);
        let mut buf = Vec::with_capacity(4096);
        let start = Instant::now();
        let mut sent = 0u64;
        while !stop_w.load(Ordering::Relaxed) {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            while sent < due {
                let (_, f) = mixer.next();
                buf.clear();
                fake::push_chunk(&mut buf, &f);
                if writer.write_all(&buf).is_err() {
                    return sent;
                }
                sent += 1;
            }
            std::thread::sleep(tick);
        }
        sent
    });

    let timer = Timer::every(Duration::from_micros(period_us.max(100)))?;
    // Half a second to settle (the connection's first segments, the writer's start).
    let mut buf = vec![0u8; 64 * 1024];
    let reader_fd = std::os::fd::AsRawFd::as_raw_fd(&reader);
    let mut drain = |buf: &mut [u8]| -> Result<u64, String> {
        let mut got = 0u64;
        loop {
            match reader.read(buf) {
                Ok(0) => return Err("the floor's writer closed the stream".into()),
                Ok(n) => got += n as u64,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(got),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("recv: {e}")),
            }
        }
    };
    // As the daemon: acknowledgements delayed before a read, again after an empty beat.
    let mut acks_delayed = false;
    let mut beat = |buf: &mut [u8]| -> Result<u64, String> {
        timer.wait()?;
        if !acks_delayed {
            set_int_option(&reader_fd, libc::IPPROTO_TCP, libc::TCP_QUICKACK, 0)?;
            acks_delayed = true;
        }
        let got = drain(buf)?;
        acks_delayed = got > 0;
        Ok(got)
    };
    let settle = Instant::now() + Duration::from_millis(500);
    while Instant::now() < settle {
        beat(&mut buf)?;
    }
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut wakes = 0u64;
    let mut bytes = 0u64;
    let mut windows = WindowClock::new(cpu0);
    loop {
        let since = start.elapsed().as_secs_f64();
        if since >= secs.min(60.0) {
            break;
        }
        if windows.due(since) {
            windows.mark(since, thread_cpu_ns());
        }
        wakes += 1;
        bytes += beat(&mut buf)?;
    }
    let cpu = thread_cpu_ns().saturating_sub(cpu0);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    let events = (elapsed * rate as f64) as u64;
    Ok(RecvFloor {
        rate,
        period_us,
        secs: elapsed,
        events,
        bytes,
        wakes,
        cpu_percent: cpu as f64 / 1e9 / elapsed * 100.0,
        us_per_event: cpu as f64 / 1e3 / events.max(1) as f64,
        cpu_windows: windows.finish(),
    })
}

/// An integer socket option on the reader (`SO_RCVLOWAT`, `TCP_QUICKACK`), as `ocbar`'s
/// coalescing socket sets them while parked.
fn set_int_option(
    sock: &impl std::os::fd::AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> Result<(), String> {
    // SAFETY: setsockopt on our own socket with a pointer to a live c_int and its size.
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
        return Err(format!(
            "setsockopt {level}/{name}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
