//! Socket abuse while real work is tracked: a real OpenCode streams a slow turn into a real
//! `ocbar daemon` while its socket gets garbage lines, 1 MiB lines, clients that say nothing,
//! clients that dribble a byte at a time, and 1,000 connections at once. Meanwhile another
//! thread keeps asking `status` through the library client (`ocbar::client::request`) and
//! records each latency.
//!
//! Asserted: every abusive client gets its one error line (or its answer) and is closed;
//! the measuring client is never refused and its p99 stays under a bound; the daemon's RSS
//! stays bounded (/proc/PID/status VmRSS before/after, VmHWM for the peak); afterwards the
//! daemon still answers and the tracked session still ends `done`. The measured numbers are
//! printed (`cargo nextest run --test socket_abuse --no-capture`).

mod common;
mod daemon_harness;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Env, Options, secs, wait_or_fail};
use daemon_harness::Daemon;
use ocbar::wire::Request;

/// The p99 the measuring client must stay under while garbage, 1 MiB lines, silent and
/// dribbling clients hit the socket. The target is 10 ms, met on a quiet machine; but the
/// machine (2 cores) also runs OpenCode, the fake LLM, the abusive clients and, in CI, the
/// rest of the suite (p99 50 ms measured at a load average of 13), so the assertion is looser
/// and the real figures are printed.
const P99_BOUND: Duration = Duration::from_millis(200);

/// The p99 while 1,000 connections arrive at once: the daemon answers them in order (one
/// thread), so a query that lands behind a burst waits for it (~1 s for 1,000 on a loaded
/// machine). It must still be answered before the client's own timeout (1.5 s).
const P99_BURST_BOUND: Duration = ocbar::client::REPLY_TIMEOUT;

/// Growth of the daemon's resident memory allowed across the abuse.
const RSS_GROWTH_KB: u64 = 32 * 1024;

fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} missing in /proc/{pid}/status"))
}

fn raise_nofile(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn connect(socket: &Path) -> UnixStream {
    let s = UnixStream::connect(socket).expect("connect to the daemon");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Read the greeting and the next line; then the daemon must close the connection.
fn hello_reply_then_eof(s: UnixStream) -> String {
    let mut r = BufReader::new(s);
    let mut hello = String::new();
    r.read_line(&mut hello).expect("greeting");
    assert!(hello.starts_with("{\"hello\":\"ocbar\""), "{hello:?}");
    let mut reply = String::new();
    r.read_line(&mut reply).expect("reply line");
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(rest.is_empty(), "more than one reply: {rest:?}");
    reply
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() & 0xff) as u8).collect()
    }
}

fn garbage(socket: PathBuf) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let fixed: [&[u8]; 10] = [
        b"\n",
        b"\r\n",
        b"STATUS tmux\n",
        b"status\n",
        b"status nonsense\n",
        b"watch\n",
        b"\xff\xfe\xfd\n",
        b"seen \x00\x01\x1b[31m\n",
        b"tui {not json\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for i in 0..300 {
        let line: Vec<u8> = if i < fixed.len() {
            fixed[i].to_vec()
        } else {
            let n = (rng.next() % 3000) as usize;
            let mut b: Vec<u8> = rng.bytes(n).into_iter().filter(|&c| c != b'\n').collect();
            b.push(b'\n');
            b
        };
        let mut s = connect(&socket);
        s.write_all(&line).unwrap();
        let reply = hello_reply_then_eof(s);
        assert!(
            reply.starts_with("{\"error\":") || reply.starts_with("{\"ok\":"),
            "garbage {line:?} got {reply:?}"
        );
        assert!(reply.ends_with('\n') && reply.matches('\n').count() == 1);
    }
}

fn megabyte_lines(socket: PathBuf) {
    for newline in [false, true, false, true] {
        let mut s = connect(&socket);
        let mut line = vec![b'x'; 1 << 20];
        if newline {
            line.push(b'\n');
        }
        // The daemon stops reading after 4096 bytes and hangs up: the write may fail.
        let _ = s.write_all(&line);
        let reply = hello_reply_then_eof(s);
        assert!(reply.contains("request too long"), "{reply:?}");
    }
}

fn silent_clients(socket: PathBuf, n: usize) {
    let t0 = Instant::now();
    let conns: Vec<UnixStream> = (0..n).map(|_| connect(&socket)).collect();
    for s in conns {
        let reply = hello_reply_then_eof(s);
        assert!(reply.contains("no request received in time"), "{reply:?}");
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < secs(6),
        "silent clients dropped after {took:?} (the limit is 2 s)"
    );
}

fn dribblers(socket: PathBuf, n: usize) {
    let mut conns: Vec<UnixStream> = (0..n).map(|_| connect(&socket)).collect();
    let t0 = Instant::now();
    // One byte every 250 ms, never a newline: cut off at 2 s like a silent client.
    while t0.elapsed() < Duration::from_millis(3000) {
        for s in &mut conns {
            let _ = s.write_all(b"s");
        }
        thread::sleep(Duration::from_millis(250));
    }
    for s in conns {
        let reply = hello_reply_then_eof(s);
        assert!(
            reply.contains("no request received in time") || reply.contains("incomplete"),
            "{reply:?}"
        );
    }
}

fn thousand_at_once(socket: PathBuf) -> Duration {
    let t0 = Instant::now();
    let mut conns: Vec<UnixStream> = (0..1000).map(|_| connect(&socket)).collect();
    for (i, s) in conns.iter_mut().enumerate() {
        let req: &[u8] = match i % 4 {
            0 => b"status tmux\n",
            1 => b"status json\n",
            2 => b"list\n",
            _ => b"status waybar\n",
        };
        s.write_all(req).unwrap();
    }
    for s in conns {
        let reply = hello_reply_then_eof(s);
        assert!(reply.starts_with("{\"ok\":"), "{reply:?}");
    }
    t0.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn abuse_does_not_hurt_other_clients() {
    raise_nofile(8192);
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let d = Daemon::start(&[&oc.url], &[]);
    wait_or_fail(secs(20), "daemon connected", || {
        let j = d.json();
        j["servers"][0]["connected"] == true && j["servers"][0]["stale"] == false
    });
    const TRACKED: &str = "tracked during the abuse";
    let sid = oc.create_session(oc.dir(0), Some(TRACKED));
    oc.prompt(oc.dir(0), &sid, "stream for a while [slow 12]");
    d.wait_state(TRACKED, "busy", secs(45));

    let pid = d.child.id();
    let socket = d.socket.clone();
    // Warm up the paths used below, then take the baseline.
    for _ in 0..50 {
        ocbar::client::request(&socket, &Request::Status(ocbar::wire::Format::Json.into()))
            .unwrap();
    }
    let rss_before = proc_kb(pid, "VmRSS:");

    // The well-behaved client, measuring; each latency is filed under the phase it began in
    // (0: abusive clients, 1: bursts of 1,000 connections).
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicU8::new(0));
    let measurer = {
        let stop = stop.clone();
        let phase = phase.clone();
        let socket = socket.clone();
        thread::spawn(move || {
            let mut lat: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let p = usize::from(phase.load(Ordering::Relaxed));
                let t = Instant::now();
                match ocbar::client::request(
                    &socket,
                    &Request::Status(ocbar::wire::Format::Json.into()),
                ) {
                    Ok(line) => {
                        lat[p].push(t.elapsed());
                        assert!(line.starts_with("{\"version\":1"), "{line}");
                    }
                    Err(e) => errors.push(e.to_string()),
                }
                thread::sleep(Duration::from_millis(2));
            }
            (lat, errors)
        })
    };

    let t0 = Instant::now();
    let abusers = vec![
        thread::spawn({
            let s = socket.clone();
            move || garbage(s)
        }),
        thread::spawn({
            let s = socket.clone();
            move || megabyte_lines(s)
        }),
        thread::spawn({
            let s = socket.clone();
            move || silent_clients(s, 200)
        }),
        thread::spawn({
            let s = socket.clone();
            move || dribblers(s, 20)
        }),
    ];
    for a in abusers {
        a.join().expect("an abusive client saw something wrong");
    }
    let abuse = t0.elapsed();
    let rss_mid = proc_kb(pid, "VmRSS:");
    // Two waves of 1,000 connections at once (the second shows memory coming back).
    phase.store(1, Ordering::Relaxed);
    let thousand = thousand_at_once(socket.clone());
    let thousand2 = thousand_at_once(socket.clone());
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let ([mut lat, mut burst], errors) = measurer.join().unwrap();

    let rss_after = proc_kb(pid, "VmRSS:");
    let peak = proc_kb(pid, "VmHWM:");
    lat.sort();
    burst.sort();
    let stats = |l: &[Duration]| (percentile(l, 0.50), percentile(l, 0.99), *l.last().unwrap());
    let (p50, p99, max) = stats(&lat);
    let (b50, b99, bmax) = stats(&burst);
    eprintln!(
        "socket_abuse: {} status queries during {abuse:.1?} of abusive clients: p50 {p50:?}, p99 {p99:?}, max {max:?}; \
         {} during two bursts of 1000 connections (answered in {thousand:?} and {thousand2:?}): p50 {b50:?}, p99 {b99:?}, max {bmax:?}; \
         errors {}; RSS {rss_before} kB -> {rss_mid} kB -> {rss_after} kB (peak {peak} kB)",
        lat.len(),
        burst.len(),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "the measuring client was refused: {errors:?}"
    );
    assert!(lat.len() >= 100, "too few measurements: {}", lat.len());
    assert!(p99 <= P99_BOUND, "p99 {p99:?} over {P99_BOUND:?}");
    assert!(
        b99 <= P99_BURST_BOUND,
        "burst p99 {b99:?} over {P99_BURST_BOUND:?}"
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_KB,
        "RSS grew from {rss_before} kB to {rss_after} kB"
    );

    // The silent clients are named in the log (a plugin that never sends its request is
    // otherwise invisible), but ~220 of them make a dozen lines, not hundreds.
    let log = d.log_text();
    let silent = log.matches("sent no whole request within 2 s").count();
    assert!(
        (10..=15).contains(&silent),
        "{silent} log lines for silent clients:\n{log}"
    );
    assert!(
        log.contains(&format!("a client (pid {} (", std::process::id())),
        "the silent client's pid is not in the log:\n{log}"
    );

    // Still answering, still following OpenCode.
    let out = d.run(&["status", "--format", "tmux"]);
    assert!(out.status.success());
    assert!(d.run(&["doctor"]).status.success());
    d.wait_state(TRACKED, "done", secs(60));
}
