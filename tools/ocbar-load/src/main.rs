//! `ocbar-load`: drive a real `ocbar daemon` with a fake OpenCode server and measure it.
//!
//! ```text
//! cargo build --release --workspace --bins     # this tool and the ocbar it drives
//! target/release/ocbar-load --rate 4000 --sessions 20 --secs 20
//! ```
//! Starts a fake OpenCode server on loopback (`/global/event` plus the resync endpoints), starts
//! the `ocbar` binary next to this one (or `--ocbar PATH`) as `ocbar daemon` against it, with
//! private XDG dirs and notifications off, waits for the resync, then runs these phases:
//!
//! 1. **idle**: no events (heartbeats only): the daemon's context switches per second.
//! 2. **steady**: a realistic token stream (mostly `message.part.delta`, one HTTP chunk per
//!    frame) at `--rate` over `--sessions` busy sessions: the daemon's CPU share.
//! 3. **latency**: the same stream, plus a status change of one probe session every
//!    `--probe-ms`: time from writing the frame to a `watch` subscriber reading the changed line.
//!    **quiet**: `--quiet-probes` status changes, each after `--quiet-ms` of silence: the
//!    first event after a quiet spell -> `watch` line.
//! 4. **queries**: the same stream, plus `--rounds` rounds of `--clients` concurrent one-shot
//!    `status <format>` queries (exactly what `ocbar status` sends): latency percentiles.
//! 5. **burst**: `--burst` frames written as fast as the daemon reads them, then a status
//!    change: end-to-end ingest throughput and events per daemon CPU-second.
//!
//! Then the daemon's RSS (with `--watchers` subscribers connected), the daemon's CPU per event in
//! the steady phase against the burst phase (wake-ups are what a steady stream adds), and, measured
//! first, the machine's floors: the CPU a bare thread spends per wake-up of a periodic timer, and
//! the CPU a bare thread spends receiving the steady stream on the daemon's beat (`recv_floor`:
//! the kernel's part of the daemon's steady CPU). Loopback only; every loop
//! is bounded in count and time; the daemon is stopped and the temp dir removed at the end.

mod fake;
mod recv_floor;
mod timer;
mod windows;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use ocbar_load::frames;
use serde::Serialize;

/// Drive a real `ocbar daemon` with a fake OpenCode server and report its performance.
#[derive(Parser, Debug, Clone)]
#[command(name = "ocbar-load")]
struct Args {
    /// Events per second of the steady token stream.
    #[arg(long, default_value_t = 4000)]
    rate: u64,
    /// Busy sessions on the fake server (all streaming).
    #[arg(long, default_value_t = 20)]
    sessions: usize,
    /// Length of the steady phase (CPU measurement), in seconds.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Pacing of the stream: frames due are written every this many microseconds (each frame
    /// still its own HTTP chunk and write). 1000 = bursts of rate/1000 frames every ms.
    #[arg(long, default_value_t = 1000)]
    tick_us: u64,
    /// Length of the idle phase (wake-up count), in seconds.
    #[arg(long, default_value_t = 2.0)]
    idle_secs: f64,
    /// Status changes to time in the latency phase.
    #[arg(long, default_value_t = 40)]
    probes: usize,
    /// Time between two probes, ms (above the 100 ms `watch` coalescing interval).
    #[arg(long, default_value_t = 150)]
    probe_ms: u64,
    /// Status changes to time after the stream has been silent for `--quiet-ms` (0: skip):
    /// the first event after a quiet spell, a turn starting or a permission asked.
    #[arg(long, default_value_t = 40)]
    quiet_probes: usize,
    /// Silence before each quiet probe, ms (heartbeats only).
    #[arg(long, default_value_t = 250)]
    quiet_ms: u64,
    /// `watch` subscribers connected during the whole run (the first one is timed).
    #[arg(long, default_value_t = 1)]
    watchers: usize,
    /// Concurrent one-shot queries per round in the queries phase.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Rounds of concurrent queries.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Back-to-back one-shot queries from one client (0: skip): round trip and daemon CPU
    /// per query.
    #[arg(long, default_value_t = 2000)]
    seq_queries: usize,
    /// Client process runs, interleaved: /bin/true, `ocbar status --format <format>` with the
    /// daemon up, the same with no daemon, and curl of `--curl-url` if given (0: skip).
    #[arg(long, default_value_t = 0)]
    spawn_runs: usize,
    /// A real OpenCode server for the client comparison: `curl -s URL/session/status`.
    #[arg(long, value_name = "URL")]
    curl_url: Option<String>,
    /// Frames of the burst phase (0: skip it).
    #[arg(long, default_value_t = 100_000)]
    burst: usize,
    /// Seconds of the wake-up floor measurement (0: skip): a bare thread woken by a periodic
    /// kernel timer, doing nothing else, to show what one wake-up costs on this machine.
    #[arg(long, default_value_t = 2.0)]
    floor_secs: f64,
    /// Period of the wake-up floor timer, in microseconds (the daemon's coalescing interval).
    #[arg(long, default_value_t = 3000)]
    floor_period_us: u64,
    /// Seconds of the receive floor (0: skip): a bare thread receiving the steady phase's stream
    /// (same mix, rate and writes) on a `timerfd` beat and doing nothing with it, to show what
    /// the kernel alone charges a reader of that stream on this machine.
    #[arg(long, default_value_t = 5.0)]
    recv_floor_secs: f64,
    /// Beat of the receive floor's reader, in microseconds (the daemon's longest beat).
    #[arg(long, default_value_t = 25_000)]
    recv_floor_period_us: u64,
    /// Bar format of the watch subscribers and queries: tmux, plain or starship.
    #[arg(long, default_value = "tmux")]
    format: String,
    /// The ocbar binary [default: `ocbar` next to this program].
    #[arg(long, value_name = "PATH")]
    ocbar: Option<PathBuf>,
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Title of the probe session: unique, short enough to show whole in a segment.
const PROBE_TITLE: &str = "PROBE-7f3a";

#[derive(Serialize, Default, Debug)]
struct Report {
    ocbar: String,
    sessions: usize,
    watchers: usize,
    format: String,
    rate_target: u64,
    idle: Option<Idle>,
    steady: Option<Steady>,
    latency: Option<Latency>,
    /// Probes sent after the stream was silent for `--quiet-ms`.
    quiet_latency: Option<Latency>,
    queries: Option<Queries>,
    /// The same rounds with the daemon pinned to a core of its own and this tool to the others.
    queries_own_core: Option<Queries>,
    sequential: Option<Sequential>,
    spawn: Vec<Spawned>,
    burst: Option<Burst>,
    /// Cost of a steady-stream event against a burst event (both phases run).
    per_event: Option<PerEvent>,
    /// What a bare wake-up costs on this machine.
    wake_floor: Option<WakeFloor>,
    /// What a bare reader of the steady stream costs on this machine.
    recv_floor: Option<recv_floor::RecvFloor>,
    memory: Memory,
    daemon_log_lines: usize,
    http_requests: u64,
    event_streams: u64,
}

#[derive(Serialize, Default, Debug)]
struct Idle {
    secs: f64,
    context_switches_per_sec: f64,
    cpu_ms: f64,
}

#[derive(Serialize, Default, Debug)]
struct Steady {
    secs: f64,
    events: u64,
    rate: f64,
    /// utime+stime from /proc/<pid>/stat, in % of one core.
    cpu_percent: f64,
    cpu_ticks: u64,
    /// Sum of /proc/<pid>/task/*/schedstat run time, in % of one core.
    cpu_percent_schedstat: f64,
    /// The same per second of the phase: how steady this machine was.
    cpu_windows: Option<windows::Windows>,
    context_switches_per_sec: f64,
}

#[derive(Serialize, Default, Debug)]
struct Latency {
    probes: usize,
    lost: usize,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Latency {
    /// The percentiles of `lat` (ms, any order).
    fn of(mut lat: Vec<f64>, lost: usize) -> Latency {
        lat.sort_by(f64::total_cmp);
        Latency {
            probes: lat.len(),
            lost,
            p50_ms: percentile(&lat, 0.50),
            p90_ms: percentile(&lat, 0.90),
            p99_ms: percentile(&lat, 0.99),
            max_ms: lat.last().copied().unwrap_or(f64::NAN),
        }
    }
}

#[derive(Serialize, Default, Debug)]
struct Queries {
    clients: usize,
    rounds: usize,
    ok: usize,
    failed: usize,
    first_error: Option<String>,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// The daemon's CPU time over the rounds, per query answered.
    daemon_cpu_us_per_query: f64,
}

#[derive(Serialize, Default, Debug)]
struct Sequential {
    queries: usize,
    p50_us: f64,
    p99_us: f64,
    daemon_cpu_us_per_query: f64,
}

#[derive(Serialize, Default, Debug)]
struct Spawned {
    command: String,
    runs: usize,
    p10_ms: f64,
    median_ms: f64,
    p90_ms: f64,
    /// Median over the median of `/bin/true`.
    ratio: f64,
}

#[derive(Serialize, Default, Debug)]
struct Burst {
    events: usize,
    bytes: usize,
    secs: f64,
    events_per_sec: f64,
    cpu_ms: f64,
    events_per_cpu_sec: f64,
}

#[derive(Serialize, Default, Debug)]
struct PerEvent {
    /// Daemon CPU per event of the steady phase, µs.
    steady_us: f64,
    /// Daemon CPU per event of the burst phase, µs.
    burst_us: f64,
    /// `steady_us / burst_us`.
    ratio: f64,
}

#[derive(Serialize, Default, Debug)]
struct WakeFloor {
    period_us: u64,
    wakes: u64,
    /// CPU time (schedstat) of the woken thread per wake-up, µs: the kernel's share of a
    /// wake-up, the same for any program.
    us_per_wake: f64,
}

#[derive(Serialize, Default, Debug)]
struct Memory {
    vm_rss_kb: u64,
    vm_hwm_kb: u64,
    threads: u64,
    tracked_sessions: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !matches!(args.format.as_str(), "tmux" | "plain" | "starship") {
        eprintln!("ocbar-load: --format must be tmux, plain or starship");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print_table(&args, &report);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocbar-load: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res<T> = Result<T, String>;

fn ocbar_path(args: &Args) -> Res<PathBuf> {
    if let Some(p) = &args.ocbar {
        return Ok(p.clone());
    }
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let p = me.with_file_name("ocbar");
    if !p.exists() {
        return Err(format!(
            "{} not found: build it first ('cargo build --release --workspace --bins') or pass --ocbar PATH",
            p.display()
        ));
    }
    let age = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(a), Some(b)) = (age(&p), age(&me))
        && a + Duration::from_secs(60) < b
    {
        eprintln!(
            "ocbar-load: warning: {} is older than this tool; 'cargo build --release --workspace --bins' rebuilds both",
            p.display()
        );
    }
    Ok(p)
}

/// A private directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Res<TempDir> {
        let base = std::env::temp_dir();
        for i in 0..100u32 {
            let p = base.join(format!("ocbar-load-{}-{i}", std::process::id()));
            if std::fs::create_dir(&p).is_ok() {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700));
                return Ok(TempDir(p));
            }
        }
        Err("cannot create a temp dir".into())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The daemon process; stopped (SIGTERM, then SIGKILL) on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of our own child.
        unsafe {
            libc::kill(self.pid(), libc::SIGTERM);
        }
        for _ in 0..100 {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(ocbar: &Path, dir: &Path, url: &str) -> Res<Daemon> {
    for d in ["home", "config", "state", "run"] {
        std::fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
    }
    let config = dir.join("config.toml");
    // Notifications off; no discovery of other OpenCode servers on this machine.
    std::fs::write(
        &config,
        "[notify]\nenabled = false\n\n[discovery]\nenabled = false\n",
    )
    .map_err(|e| e.to_string())?;
    let log = dir.join("daemon.log");
    let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let child = Command::new(ocbar)
        .args(["daemon", "--server", url, "--config"])
        .arg(&config)
        .env("HOME", dir.join("home"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .env("OCBAR_SOCKET", dir.join("run/ocbar.sock"))
        .env("OCBAR_DISCOVERY", "0")
        // The tmux push mode looks for tmux's default server: give it a private, empty one.
        .env("TMUX_TMPDIR", dir.join("run"))
        .env_remove("OCBAR_SERVER")
        .env_remove("OPENCODE_SERVER_PASSWORD")
        .env_remove("OPENCODE_SERVER_USERNAME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("TMUX")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", ocbar.display()))?;
    Ok(Daemon { child, log })
}

/// A thread that only waits for a periodic `timerfd` for `secs`, and its CPU time per wake-up
/// (from its own schedstat): the floor under any wake-up on this machine.
fn wake_floor(secs: f64, period_us: u64) -> Res<WakeFloor> {
    let handle = std::thread::spawn(move || -> Res<WakeFloor> {
        let timer = timer::Timer::every(Duration::from_micros(period_us.max(100)))?;
        let start = Instant::now();
        let cpu0 = timer::thread_cpu_ns();
        let mut wakes = 0u64;
        while start.elapsed().as_secs_f64() < secs.min(60.0) {
            if timer.wait().is_ok() {
                wakes += 1;
            }
        }
        let cpu = timer::thread_cpu_ns().saturating_sub(cpu0);
        Ok(WakeFloor {
            period_us,
            wakes,
            us_per_wake: cpu as f64 / 1e3 / wakes.max(1) as f64,
        })
    });
    handle
        .join()
        .map_err(|_| "the wake-up floor thread panicked".to_string())?
}

// ----------------------------------------------------------------------------------------------
// /proc readings

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of the whole process (all threads, live and exited), in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(rest) = s.rfind(')').map(|i| &s[i + 1..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: field 3 (state) is f[0]; utime is field 14, stime field 15.
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

fn tasks(pid: i32) -> Vec<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect()
}

/// Run time of the live threads, in ns (precise, but misses exited threads).
fn sched_ns(pid: i32) -> u64 {
    tasks(pid)
        .iter()
        .filter_map(|t| std::fs::read_to_string(t.join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Context switches (voluntary + involuntary) of the live threads.
fn ctx_switches(pid: i32) -> u64 {
    tasks(pid)
        .iter()
        .filter_map(|t| std::fs::read_to_string(t.join("status")).ok())
        .map(|s| {
            s.lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

fn status_kb(pid: i32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy)]
struct CpuMark {
    at: Instant,
    ticks: u64,
    sched: u64,
    ctx: u64,
}

impl CpuMark {
    fn now(pid: i32) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            ticks: cpu_ticks(pid),
            sched: sched_ns(pid),
            ctx: ctx_switches(pid),
        }
    }
}

// ----------------------------------------------------------------------------------------------
// The socket protocol (what `ocbar status` / `ocbar watch` send).

fn reply_text(line: &str) -> Res<String> {
    let v: serde_json::Value = serde_json::from_str(line.trim_end()).map_err(|e| e.to_string())?;
    if let Some(ok) = v.get("ok").and_then(|v| v.as_str()) {
        Ok(ok.to_string())
    } else {
        Err(format!("daemon answered {}", line.trim_end()))
    }
}

fn query(socket: &Path, request: &str) -> Res<String> {
    let mut s = UnixStream::connect(socket).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{request}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s);
    let mut hello = String::new();
    r.read_line(&mut hello).map_err(|e| e.to_string())?;
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    reply_text(&line)
}

/// Start `n` watch subscribers; the first forwards (time read, line) to the returned channel.
fn start_watchers(socket: &Path, format: &str, n: usize) -> Res<mpsc::Receiver<(Instant, String)>> {
    let (tx, rx) = mpsc::channel();
    for i in 0..n {
        let mut s = UnixStream::connect(socket).map_err(|e| format!("watcher {i}: {e}"))?;
        // Bounded: a silent daemon ends the watcher (the run is shorter than this).
        s.set_read_timeout(Some(Duration::from_secs(300)))
            .map_err(|e| e.to_string())?;
        s.write_all(format!("watch {format}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let tx = (i == 0).then(|| tx.clone());
        std::thread::Builder::new()
            .name(format!("watch-{i}"))
            .spawn(move || {
                let mut r = BufReader::new(s);
                let mut line = String::new();
                let _ = r.read_line(&mut line); // hello
                loop {
                    line.clear();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            let at = Instant::now();
                            if let Some(tx) = &tx
                                && let Ok(text) = reply_text(&line)
                                && tx.send((at, text)).is_err()
                            {
                                return;
                            }
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(rx)
}

// ----------------------------------------------------------------------------------------------
// The event stream writer

struct Stream {
    sink: TcpStream,
    mixer: frames::Mixer,
    sent: u64,
    last_heartbeat: Instant,
    /// Index of the probe session (after the streaming ones).
    probe_session: usize,
    /// Probes sent so far (even: next one is idle → the title shows; odd: busy → it goes).
    probes_sent: usize,
    buf: Vec<u8>,
    /// Frames are written in bursts at most this often.
    tick: Duration,
    next_tick: Instant,
}

impl Stream {
    fn write_frame(&mut self, frame: &str) -> Res<()> {
        self.buf.clear();
        fake::push_chunk(&mut self.buf, frame);
        self.sink
            .write_all(&self.buf)
            .map_err(|e| format!("the daemon stopped reading the event stream: {e}"))
    }

    /// Heartbeat every 10 s, as OpenCode does (the daemon's watchdog expects one).
    fn heartbeat_if_due(&mut self) -> Res<()> {
        if self.last_heartbeat.elapsed() >= Duration::from_secs(10) {
            self.last_heartbeat = Instant::now();
            let e = self.mixer.take_event();
            self.write_frame(&frames::heartbeat(e))?;
        }
        Ok(())
    }

    /// Write the frames due at `rate` since `start` (one chunk each).
    fn pump(&mut self, rate: u64, start: Instant, sent_at_start: u64) -> Res<()> {
        let now = Instant::now();
        if now < self.next_tick {
            return Ok(());
        }
        self.next_tick = now + self.tick;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while self.sent - sent_at_start < due {
            let (_, f) = self.mixer.next();
            self.write_frame(&f)?;
            self.sent += 1;
        }
        self.heartbeat_if_due()
    }

    /// The next probe frame and whether the line must then show the probe title.
    fn probe_frame(&mut self) -> (String, bool) {
        let idle = self.probes_sent.is_multiple_of(2);
        self.probes_sent += 1;
        let e = self.mixer.take_event();
        let kind = if idle { "idle" } else { "busy" };
        (frames::status(self.probe_session, e, kind), idle)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One-second windows of a phase's CPU, for the table.
fn spread(w: &windows::Windows) -> String {
    format!(
        "{:.2} / {:.2} / {:.2} % of a core ({} windows)",
        w.min,
        w.median,
        w.max,
        w.cpu_percent.len()
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Wait (bounded) until the watcher shows a line for which `want` holds; its arrival time.
fn wait_line(
    rx: &mpsc::Receiver<(Instant, String)>,
    timeout: Duration,
    want: impl Fn(&str) -> bool,
) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok((at, line)) if want(&line) => return Some(at),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn run(args: &Args) -> Res<Report> {
    let ocbar = ocbar_path(args)?;
    // Before anything else runs: the machine's cost of a bare wake-up.
    let floor = if args.floor_secs > 0.0 {
        Some(wake_floor(args.floor_secs, args.floor_period_us)?)
    } else {
        None
    };
    // …and of receiving the steady stream with nothing done with it.
    let recv_floor = if args.recv_floor_secs > 0.0 && args.rate > 0 {
        Some(recv_floor::measure(
            args.rate,
            args.sessions,
            args.tick_us,
            args.recv_floor_period_us,
            args.recv_floor_secs,
        )?)
    } else {
        None
    };
    let tmp = TempDir::new()?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut world = fake::World {
        sessions: (0..args.sessions)
            .map(|i| {
                (
                    frames::session_id(i),
                    frames::directory(i),
                    frames::title(i),
                )
            })
            .collect(),
        now_ms,
    };
    let probe_session = args.sessions;
    world.sessions.push((
        frames::session_id(probe_session),
        frames::directory(probe_session),
        PROBE_TITLE.to_string(),
    ));
    let total_sessions = world.sessions.len();
    let fake = fake::Fake::start(world).map_err(|e| format!("fake server: {e}"))?;
    let mut daemon = start_daemon(&ocbar, &tmp.0, &fake.url())?;
    let pid = daemon.pid();
    let socket = tmp.0.join("run/ocbar.sock");

    let hits = fake.hits.clone();
    let fail = |daemon: &Daemon, msg: String| -> String {
        let log = daemon.log_text();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let asked = hits
            .by_path
            .lock()
            .map(|m| format!("{:?}", *m))
            .unwrap_or_default();
        format!(
            "{msg}\nfake server requests: {asked}\n--- daemon log (last lines) ---\n{}",
            tail.join("\n")
        )
    };

    // The daemon connects to the event stream…
    let sink = match fake.streams.recv_timeout(Duration::from_secs(15)) {
        Ok(s) => s,
        Err(_) => {
            return Err(fail(
                &daemon,
                "the daemon never opened /global/event".into(),
            ));
        }
    };
    sink.set_nodelay(true).map_err(|e| e.to_string())?;
    sink.set_write_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    // …and resyncs: wait until it lists every session and its server is in sync.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(json) = query(&socket, "status json")
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&json)
        {
            let n = v["sessions"].as_array().map_or(0, Vec::len);
            let synced = v["servers"]
                .as_array()
                .is_some_and(|s| s.iter().all(|s| s["stale"] == false));
            if n == total_sessions && synced {
                break;
            }
        }
        if Instant::now() > deadline || !daemon.alive() {
            return Err(fail(
                &daemon,
                format!("the daemon did not list the {total_sessions} sessions within 30 s"),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let watch_rx = start_watchers(&socket, &args.format, args.watchers.max(1))?;
    // The first line: the probe session is busy, so its title is not shown.
    if wait_line(&watch_rx, Duration::from_secs(5), |l| {
        !l.contains(PROBE_TITLE)
    })
    .is_none()
    {
        return Err(fail(
            &daemon,
            "the watch subscriber got no first line".into(),
        ));
    }

    let mut stream = Stream {
        sink,
        mixer: frames::Mixer::new(args.sessions, 7),
        sent: 0,
        last_heartbeat: Instant::now(),
        probe_session,
        probes_sent: 0,
        buf: Vec::with_capacity(4096),
        tick: Duration::from_micros(args.tick_us.max(50)),
        next_tick: Instant::now(),
    };
    let mut report = Report {
        ocbar: ocbar.display().to_string(),
        sessions: total_sessions,
        watchers: args.watchers.max(1),
        format: args.format.clone(),
        rate_target: args.rate,
        wake_floor: floor,
        recv_floor,
        ..Report::default()
    };

    // 1. idle
    if args.idle_secs > 0.0 {
        std::thread::sleep(Duration::from_millis(300)); // let the start-up settle
        let a = CpuMark::now(pid);
        let end = a.at + Duration::from_secs_f64(args.idle_secs.min(600.0));
        while Instant::now() < end {
            stream.heartbeat_if_due()?;
            std::thread::sleep(
                Duration::from_millis(50).min(end.saturating_duration_since(Instant::now())),
            );
        }
        let b = CpuMark::now(pid);
        let secs = (b.at - a.at).as_secs_f64();
        report.idle = Some(Idle {
            secs,
            context_switches_per_sec: (b.ctx - a.ctx) as f64 / secs,
            cpu_ms: (b.sched - a.sched) as f64 / 1e6,
        });
    }

    // 2. steady
    if args.secs > 0.0 {
        let a = CpuMark::now(pid);
        let sent0 = stream.sent;
        let end = a.at + Duration::from_secs_f64(args.secs.min(3600.0));
        let mut windows = windows::WindowClock::new(a.sched);
        while Instant::now() < end {
            stream.pump(args.rate, a.at, sent0)?;
            let since = a.at.elapsed().as_secs_f64();
            if windows.due(since) {
                windows.mark(since, sched_ns(pid));
            }
            std::thread::sleep(stream.next_tick.saturating_duration_since(Instant::now()));
        }
        let b = CpuMark::now(pid);
        let secs = (b.at - a.at).as_secs_f64();
        let events = stream.sent - sent0;
        report.steady = Some(Steady {
            secs,
            events,
            rate: events as f64 / secs,
            cpu_percent: (b.ticks - a.ticks) as f64 / clk_tck() / secs * 100.0,
            cpu_ticks: b.ticks - a.ticks,
            cpu_percent_schedstat: (b.sched - a.sched) as f64 / 1e9 / secs * 100.0,
            cpu_windows: windows.finish(),
            context_switches_per_sec: (b.ctx - a.ctx) as f64 / secs,
        });
    }

    // 3. latency
    if args.probes > 0 {
        let start = Instant::now();
        let sent0 = stream.sent;
        let bound = start
            + Duration::from_millis(args.probe_ms.max(1) * args.probes as u64 * 3)
            + Duration::from_secs(10);
        let mut lat = Vec::new();
        let mut lost = 0;
        let mut outstanding: Option<(Instant, bool)> = None;
        let mut next_probe = start + Duration::from_millis(args.probe_ms);
        while lat.len() + lost < args.probes && Instant::now() < bound {
            stream.pump(args.rate, start, sent0)?;
            if outstanding.is_none() && Instant::now() >= next_probe {
                let (frame, shows) = stream.probe_frame();
                // Drop lines that arrived before the probe.
                while watch_rx.try_recv().is_ok() {}
                stream.write_frame(&frame)?;
                outstanding = Some((Instant::now(), shows));
                next_probe = Instant::now() + Duration::from_millis(args.probe_ms);
            }
            if let Some((t0, shows)) = outstanding {
                while let Ok((at, line)) = watch_rx.try_recv() {
                    if line.contains(PROBE_TITLE) == shows {
                        lat.push(ms(at.saturating_duration_since(t0)));
                        outstanding = None;
                        break;
                    }
                }
                if outstanding.is_some() && t0.elapsed() > Duration::from_secs(2) {
                    lost += 1;
                    outstanding = None;
                }
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        report.latency = Some(Latency::of(lat, lost));
        // Leave the probe session busy (title hidden) for the next phases.
        if stream.probes_sent % 2 == 1 {
            let (frame, _) = stream.probe_frame();
            stream.write_frame(&frame)?;
        }
        while watch_rx.try_recv().is_ok() {}
    }

    // 3b. the first event after a quiet spell
    if args.quiet_probes > 0 {
        let mut lat = Vec::new();
        let mut lost = 0;
        for _ in 0..args.quiet_probes {
            let until = Instant::now() + Duration::from_millis(args.quiet_ms);
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                stream.heartbeat_if_due()?;
                std::thread::sleep(left.min(Duration::from_millis(50)));
            }
            while watch_rx.try_recv().is_ok() {}
            let (frame, shows) = stream.probe_frame();
            stream.write_frame(&frame)?;
            let t0 = Instant::now();
            match wait_line(&watch_rx, Duration::from_secs(2), |l| {
                l.contains(PROBE_TITLE) == shows
            }) {
                Some(at) => lat.push(ms(at.saturating_duration_since(t0))),
                None => lost += 1,
            }
        }
        report.quiet_latency = Some(Latency::of(lat, lost));
        // Leave the probe session busy (title hidden) for the next phases.
        if stream.probes_sent % 2 == 1 {
            let (frame, _) = stream.probe_frame();
            stream.write_frame(&frame)?;
        }
        while watch_rx.try_recv().is_ok() {}
    }

    // 4. queries (the stream keeps flowing meanwhile)
    if args.clients > 0 && args.rounds > 0 {
        report.queries = Some(
            queries_while_streaming(&mut stream, args, &socket, pid)
                .map_err(|e| fail(&daemon, e))?,
        );
        // The same rounds with the daemon on a core of its own. Each `connect` of the one
        // thread that starts 1,000 clients wakes the daemon with the kernel's "the waker will
        // sleep soon" hint, so the scheduler keeps putting the daemon on that thread's core,
        // which does not sleep; both then share one core while the other idles. A bar's
        // client is a process that does sleep, waiting for its reply. This measures the
        // daemon's own latency; the row above, what this machine's scheduler made of the storm.
        if let Some((tool_cpus, daemon_cpu)) = own_core_split() {
            let pinned = pin_process(std::process::id() as i32, &tool_cpus)
                .and_then(|()| pin_process(pid, &[daemon_cpu]));
            let result = match pinned {
                Ok(()) => queries_while_streaming(&mut stream, args, &socket, pid).map(Some),
                Err(e) => {
                    eprintln!("ocbar-load: cannot give the daemon a core of its own: {e}");
                    Ok(None)
                }
            };
            let all: Vec<usize> = tool_cpus.iter().copied().chain([daemon_cpu]).collect();
            let _ = pin_process(std::process::id() as i32, &all);
            let _ = pin_process(pid, &all);
            report.queries_own_core = result.map_err(|e| fail(&daemon, e))?;
        }
    }

    // 4b. sequential queries, one client, no event stream: the cost of one query
    if args.seq_queries > 0 {
        let request = format!("status {}", args.format);
        let a = CpuMark::now(pid);
        let mut lat = Vec::with_capacity(args.seq_queries);
        let bound = Instant::now() + Duration::from_secs(60);
        for _ in 0..args.seq_queries {
            if Instant::now() > bound {
                break;
            }
            let t0 = Instant::now();
            query(&socket, &request).map_err(|e| fail(&daemon, format!("query: {e}")))?;
            lat.push(t0.elapsed().as_secs_f64() * 1e6);
            stream.heartbeat_if_due()?;
        }
        let b = CpuMark::now(pid);
        lat.sort_by(f64::total_cmp);
        report.sequential = Some(Sequential {
            queries: lat.len(),
            p50_us: percentile(&lat, 0.5),
            p99_us: percentile(&lat, 0.99),
            daemon_cpu_us_per_query: (b.sched - a.sched) as f64 / 1e3 / lat.len().max(1) as f64,
        });
    }

    // 4c. whole client processes, interleaved so that machine load hits all alike
    if args.spawn_runs > 0 {
        let format = format!("--format={}", args.format);
        let sock = socket.display().to_string();
        let down = tmp.0.join("run/nobody.sock").display().to_string();
        let ocbar_s = ocbar.display().to_string();
        let mut cmds: Vec<(String, Vec<String>)> = vec![
            ("/bin/true".into(), vec!["/bin/true".into()]),
            (
                format!("ocbar status {format} (daemon up)"),
                vec![
                    ocbar_s.clone(),
                    "status".into(),
                    format.clone(),
                    "--socket".into(),
                    sock,
                ],
            ),
            (
                format!("ocbar status {format} (daemon down)"),
                vec![
                    ocbar_s,
                    "status".into(),
                    format.clone(),
                    "--socket".into(),
                    down,
                ],
            ),
        ];
        if let Some(url) = &args.curl_url {
            let url = format!("{}/session/status", url.trim_end_matches('/'));
            cmds.push((
                format!("curl -s {url}"),
                vec!["curl".into(), "-s".into(), url],
            ));
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); cmds.len()];
        let bound = Instant::now() + Duration::from_secs(300);
        for _ in 0..args.spawn_runs {
            if Instant::now() > bound {
                break;
            }
            for (i, (_, argv)) in cmds.iter().enumerate() {
                let t0 = Instant::now();
                let st = Command::new(&argv[0])
                    .args(&argv[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
                times[i].push(ms(t0.elapsed()));
                if !st.success() && i < 3 {
                    return Err(fail(&daemon, format!("{} failed: {st}", cmds[i].0)));
                }
            }
            stream.heartbeat_if_due()?;
        }
        let base = {
            let mut t = times[0].clone();
            t.sort_by(f64::total_cmp);
            percentile(&t, 0.5)
        };
        for ((name, _), mut t) in cmds.into_iter().zip(times) {
            t.sort_by(f64::total_cmp);
            let median = percentile(&t, 0.5);
            report.spawn.push(Spawned {
                command: name,
                runs: t.len(),
                p10_ms: percentile(&t, 0.1),
                median_ms: median,
                p90_ms: percentile(&t, 0.9),
                ratio: median / base,
            });
        }
    }

    // 5. burst
    if args.burst > 0 {
        let mut buf = Vec::with_capacity(args.burst * 400);
        for _ in 0..args.burst {
            let (_, f) = stream.mixer.next();
            fake::push_chunk(&mut buf, &f);
        }
        let (probe, shows) = stream.probe_frame();
        fake::push_chunk(&mut buf, &probe);
        while watch_rx.try_recv().is_ok() {}
        let a = CpuMark::now(pid);
        stream
            .sink
            .write_all(&buf)
            .map_err(|e| format!("burst: {e}"))?;
        stream.sent += args.burst as u64;
        let seen = wait_line(&watch_rx, Duration::from_secs(120), |l| {
            l.contains(PROBE_TITLE) == shows
        });
        let b = CpuMark::now(pid);
        let Some(seen) = seen else {
            return Err(fail(
                &daemon,
                "burst: the final status change never showed".into(),
            ));
        };
        let secs = (seen - a.at).as_secs_f64();
        let cpu = (b.sched - a.sched) as f64 / 1e9;
        report.burst = Some(Burst {
            events: args.burst,
            bytes: buf.len(),
            secs,
            events_per_sec: args.burst as f64 / secs,
            cpu_ms: cpu * 1000.0,
            events_per_cpu_sec: args.burst as f64 / cpu.max(1e-9),
        });
    }

    if let (Some(s), Some(b)) = (&report.steady, &report.burst)
        && s.events > 0
        && b.events > 0
    {
        let steady_us = s.cpu_percent_schedstat / 100.0 * s.secs * 1e6 / s.events as f64;
        let burst_us = b.cpu_ms * 1e3 / b.events as f64;
        report.per_event = Some(PerEvent {
            steady_us,
            burst_us,
            ratio: steady_us / burst_us.max(1e-9),
        });
    }

    // Memory, with every subscriber still connected.
    report.memory = Memory {
        vm_rss_kb: status_kb(pid, "VmRSS:"),
        vm_hwm_kb: status_kb(pid, "VmHWM:"),
        threads: status_kb(pid, "Threads:"),
        tracked_sessions: query(&socket, "status json")
            .ok()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
            .and_then(|v| v["sessions"].as_array().map(Vec::len))
            .unwrap_or(0),
    };
    if !daemon.alive() {
        return Err(fail(&daemon, "the daemon died during the run".into()));
    }
    report.daemon_log_lines = daemon.log_text().lines().count();
    report.http_requests = fake
        .hits
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    report.event_streams = fake.hits.streams.load(std::sync::atomic::Ordering::Relaxed);
    drop(daemon);
    drop(tmp);
    Ok(report)
}

/// The query rounds on their own thread while this one keeps the event stream flowing.
fn queries_while_streaming(
    stream: &mut Stream,
    args: &Args,
    socket: &Path,
    pid: i32,
) -> Res<Queries> {
    let (tx, rx) = mpsc::channel();
    let (socket, format, clients, rounds) = (
        socket.to_path_buf(),
        args.format.clone(),
        args.clients,
        args.rounds,
    );
    std::thread::Builder::new()
        .name("queries".into())
        .spawn(move || {
            let _ = tx.send(query_rounds(&socket, &format, clients, rounds, pid));
        })
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let sent0 = stream.sent;
    loop {
        stream.pump(args.rate, start, sent0)?;
        match rx.recv_timeout(Duration::from_millis(1)) {
            Ok(r) => return r,
            Err(mpsc::RecvTimeoutError::Timeout) if start.elapsed() < Duration::from_secs(120) => {}
            Err(_) => return Err("the query phase did not finish in 120 s".into()),
        }
    }
}

/// `rounds` rounds of `clients` one-shot queries started at once, from one thread: every client
/// connects and writes its request in a tight loop (harvesting replies in between), then the
/// rest of the replies are collected with epoll. A query's latency runs from just before its
/// `connect` to the end of its reply, so the time the tool spends starting the other clients is
/// not charged to it; the daemon's CPU over the rounds is measured from its schedstat.
fn query_rounds(
    socket: &Path,
    format: &str,
    clients: usize,
    rounds: usize,
    pid: i32,
) -> Res<Queries> {
    let request = format!("status {format}\n");
    let mut lat = Vec::with_capacity(clients * rounds);
    let mut failed = 0;
    let mut first_error = None;
    let cpu0 = sched_ns(pid);
    for _ in 0..rounds {
        let mut round = Round::new(clients)?;
        for i in 0..clients {
            if let Err(e) = round.start(i, socket, request.as_bytes()) {
                failed += 1;
                first_error.get_or_insert(e);
            }
            round.harvest(0, &mut lat, &mut failed, &mut first_error)?;
        }
        let bound = Instant::now() + Duration::from_secs(10);
        while round.pending > 0 {
            if Instant::now() > bound {
                failed += round.pending;
                first_error.get_or_insert("no reply within 10 s".to_string());
                break;
            }
            round.harvest(100, &mut lat, &mut failed, &mut first_error)?;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let cpu1 = sched_ns(pid);
    lat.sort_by(f64::total_cmp);
    Ok(Queries {
        clients,
        rounds,
        ok: lat.len(),
        failed,
        first_error,
        p50_ms: percentile(&lat, 0.50),
        p90_ms: percentile(&lat, 0.90),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(f64::NAN),
        daemon_cpu_us_per_query: cpu1.saturating_sub(cpu0) as f64 / 1e3 / lat.len().max(1) as f64,
    })
}

/// The CPUs this tool may use, split into the tool's and one for the daemon (the last);
/// `None` on a machine with one.
fn own_core_split() -> Option<(Vec<usize>, usize)> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: our own process, a live set and its size.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None;
    }
    // SAFETY: CPU_ISSET reads the set we own, for indexes below CPU_SETSIZE.
    let mut cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect();
    let daemon = cpus.pop()?;
    (!cpus.is_empty()).then_some((cpus, daemon))
}

/// Restrict every thread of process `pid` to `cpus`.
fn pin_process(pid: i32, cpus: &[usize]) -> Res<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: CPU_SET writes into the set we own; `c` came from sched_getaffinity.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|e| format!("/proc/{pid}/task: {e}"))?;
    for t in tasks.flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: a thread id from /proc, a live set and its size; a thread that exited
        // meanwhile only makes the call fail.
        let rc =
            unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(format!("sched_setaffinity({tid}): {e}"));
            }
        }
    }
    Ok(())
}

/// One round of concurrent queries: the open connections, watched by one epoll instance.
struct Round {
    epoll: std::os::fd::OwnedFd,
    conns: Vec<Option<(UnixStream, Instant, Vec<u8>)>>,
    pending: usize,
}

impl Round {
    fn new(clients: usize) -> Res<Round> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain epoll_create1; a non-negative result is a new descriptor we own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(format!(
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Round {
            // SAFETY: `fd` was just returned by epoll_create1 and is owned by nobody else.
            epoll: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
            conns: (0..clients).map(|_| None).collect(),
            pending: 0,
        })
    }

    /// Connect client `i` and send its request.
    fn start(&mut self, i: usize, socket: &Path, request: &[u8]) -> Res<()> {
        use std::os::fd::AsRawFd;
        let t0 = Instant::now();
        let mut s = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
        s.write_all(request).map_err(|e| format!("write: {e}"))?;
        s.set_nonblocking(true)
            .map_err(|e| format!("set_nonblocking: {e}"))?;
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: registering a live socket we own with our own epoll instance.
        let rc = unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                s.as_raw_fd(),
                &mut ev,
            )
        };
        if rc != 0 {
            return Err(format!("epoll_ctl: {}", std::io::Error::last_os_error()));
        }
        self.conns[i] = Some((s, t0, Vec::with_capacity(512)));
        self.pending += 1;
        Ok(())
    }

    /// Read what has arrived (waiting up to `timeout_ms`); record every finished query.
    fn harvest(
        &mut self,
        timeout_ms: i32,
        lat: &mut Vec<f64>,
        failed: &mut usize,
        first_error: &mut Option<String>,
    ) -> Res<()> {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 256];
        // SAFETY: epoll_wait into our own array, at most its length.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(format!("epoll_wait: {e}"));
        }
        for ev in &events[..n as usize] {
            let i = ev.u64 as usize;
            let Some((s, t0, buf)) = self.conns.get_mut(i).and_then(|c| c.as_mut()) else {
                continue;
            };
            let mut chunk = [0u8; 4096];
            let finished = loop {
                match s.read(&mut chunk) {
                    Ok(0) => break true,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break true,
                }
            };
            let lines = buf.iter().filter(|&&b| b == b'\n').count();
            if lines < 2 && !finished {
                continue;
            }
            let elapsed = t0.elapsed();
            let reply = String::from_utf8_lossy(buf);
            match reply.lines().nth(1).map(reply_text) {
                Some(Ok(_)) => lat.push(ms(elapsed)),
                Some(Err(e)) => {
                    *failed += 1;
                    first_error.get_or_insert(e);
                }
                None => {
                    *failed += 1;
                    first_error.get_or_insert("the daemon closed without a reply".into());
                }
            }
            self.conns[i] = None; // closes the socket (and leaves the epoll set)
            self.pending -= 1;
        }
        Ok(())
    }
}

fn print_table(args: &Args, r: &Report) {
    println!(
        "ocbar-load: {} sessions ({} streaming + 1 probe), {} watch subscriber(s), format {}, daemon {}",
        r.sessions, args.sessions, r.watchers, r.format, r.ocbar
    );
    println!("{:<9} {:<46} value", "phase", "figure");
    let row = |p: &str, f: &str, v: String| println!("{p:<9} {f:<46} {v}");
    if let Some(i) = &r.idle {
        row(
            "idle",
            "daemon context switches/s (all threads)",
            format!(
                "{:.1} over {:.1} s (cpu {:.2} ms)",
                i.context_switches_per_sec, i.secs, i.cpu_ms
            ),
        );
    }
    if let Some(s) = &r.steady {
        row(
            "steady",
            "events sent, achieved rate",
            format!(
                "{} in {:.1} s = {:.0}/s (target {}/s)",
                s.events, s.secs, s.rate, r.rate_target
            ),
        );
        row(
            "steady",
            "daemon CPU (utime+stime, /proc/pid/stat)",
            format!("{:.2} % of a core ({} ticks)", s.cpu_percent, s.cpu_ticks),
        );
        row(
            "steady",
            "daemon CPU (schedstat, live threads)",
            format!("{:.2} % of a core", s.cpu_percent_schedstat),
        );
        if let Some(w) = &s.cpu_windows {
            row(
                "steady",
                "daemon CPU per second: min / median / max",
                spread(w),
            );
        }
        row(
            "steady",
            "daemon context switches/s",
            format!("{:.0}", s.context_switches_per_sec),
        );
    }
    if let Some(l) = &r.latency {
        row(
            "latency",
            "event -> watch line p50 / p90 / p99 / max",
            format!(
                "{:.2} / {:.2} / {:.2} / {:.2} ms ({} probes, {} lost)",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.probes, l.lost
            ),
        );
    }
    if let Some(l) = &r.quiet_latency {
        row(
            "latency",
            "event after quiet -> watch line p50 / p90 / p99 / max",
            format!(
                "{:.2} / {:.2} / {:.2} / {:.2} ms ({} probes, {} lost)",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.probes, l.lost
            ),
        );
    }
    for (q, where_) in [
        (&r.queries, "shared cores"),
        (&r.queries_own_core, "daemon on its own core"),
    ] {
        let Some(q) = q else { continue };
        row(
            "queries",
            &format!(
                "{} concurrent x {} rounds ({where_}): p50 / p90 / p99 / max",
                q.clients, q.rounds
            ),
            format!(
                "{:.2} / {:.2} / {:.2} / {:.2} ms ({} ok, {} failed; daemon CPU {:.1} us per query{})",
                q.p50_ms,
                q.p90_ms,
                q.p99_ms,
                q.max_ms,
                q.ok,
                q.failed,
                q.daemon_cpu_us_per_query,
                q.first_error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(q) = &r.sequential {
        row(
            "queries",
            &format!("{} one after another: p50 / p99", q.queries),
            format!(
                "{:.0} / {:.0} us; daemon CPU {:.1} us per query",
                q.p50_us, q.p99_us, q.daemon_cpu_us_per_query
            ),
        );
    }
    for s in &r.spawn {
        row(
            "client",
            &s.command,
            format!(
                "median {:.3} ms (p10 {:.3}, p90 {:.3}; {} runs) = {:.2}x /bin/true",
                s.median_ms, s.p10_ms, s.p90_ms, s.runs, s.ratio
            ),
        );
    }
    if let Some(b) = &r.burst {
        row(
            "burst",
            "ingest end to end (one chunk per frame)",
            format!(
                "{} events ({:.1} MB) in {:.3} s = {:.0} events/s",
                b.events,
                b.bytes as f64 / 1e6,
                b.secs,
                b.events_per_sec
            ),
        );
        row(
            "burst",
            "events per daemon CPU-second",
            format!("{:.0} (cpu {:.0} ms)", b.events_per_cpu_sec, b.cpu_ms),
        );
    }
    if let Some(p) = &r.per_event {
        row(
            "ratio",
            "daemon CPU per event: steady / burst",
            format!(
                "{:.2} us / {:.2} us = {:.1}x",
                p.steady_us, p.burst_us, p.ratio
            ),
        );
    }
    if let Some(w) = &r.wake_floor {
        row(
            "floor",
            &format!("bare timerfd wake-up every {} us, CPU each", w.period_us),
            format!("{:.1} us ({} wake-ups)", w.us_per_wake, w.wakes),
        );
    }
    if let Some(f) = &r.recv_floor {
        row(
            "floor",
            &format!(
                "bare reader of the steady stream ({} events/s, timerfd every {} us), CPU",
                f.rate, f.period_us
            ),
            format!(
                "{:.2} % of a core ({:.2} us per event, {:.0} wake-ups/s)",
                f.cpu_percent,
                f.us_per_event,
                f.wakes as f64 / f.secs.max(1e-9)
            ),
        );
        if let Some(w) = &f.cpu_windows {
            row(
                "floor",
                "bare reader CPU per second: min / median / max",
                spread(w),
            );
        }
    }
    row(
        "memory",
        "daemon VmRSS / VmHWM, threads",
        format!(
            "{:.1} MB / {:.1} MB, {} threads, {} sessions tracked",
            r.memory.vm_rss_kb as f64 / 1024.0,
            r.memory.vm_hwm_kb as f64 / 1024.0,
            r.memory.threads,
            r.memory.tracked_sessions
        ),
    );
    row(
        "fake",
        "HTTP requests / event streams opened",
        format!("{} / {}", r.http_requests, r.event_streams),
    );
}
