//! The client side of the socket: synchronous, no async runtime, no config file.
//!
//! A bar runs `ocbar status` many times a minute, so this path does the least it can:
//! connect, write one line, read the greeting and one reply, print.

/// `println!` for the command line: a closed stdout (`ocbar list | head -1`, a bar that went
/// away) ends the output quietly. SIGPIPE is ignored (see `main`), so `println!` would panic
/// there and dump a trace on stderr, where a person or a bar's log looks.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::client::say_line(format_args!($($arg)*))
    };
}

pub mod background;
pub mod bars;
pub mod install;
pub mod remote_bridge;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;

use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{GenericFilePath, Stream};

use crate::wire::{Action, Hello, PROTOCOL, Reply, Request, Style};

/// The function behind [`say!`]: one line on stdout; a write error is ignored (the reader is
/// gone, nobody is left to tell).
pub fn say_line(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout().lock(), "{args}");
}

/// How long a one-shot request may take before the client gives up (a bar must never hang).
pub const REPLY_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long `seen` and `mute` may take: the daemon answers once the change is on disk (2 s at
/// most on a slow disk). A person waits for it; no bar does.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(4);

/// Why a request did not produce an answer.
#[derive(Debug)]
pub enum ClientError {
    /// No daemon is listening on the socket.
    DaemonDown(String),
    /// Something answered, but not in a way we understand (or too slowly).
    Protocol(String),
    /// The daemon understood and refused, with its reason.
    Refused(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::DaemonDown(m) | ClientError::Protocol(m) | ClientError::Refused(m) => {
                f.write_str(m)
            }
        }
    }
}

/// An open connection that has read the daemon's greeting.
pub struct Connection {
    reader: BufReader<Stream>,
    /// The daemon's greeting.
    pub hello: Hello,
}

impl Connection {
    /// Connect and send `request`; the greeting is read after the request is on its way,
    /// so a one-shot query costs one round trip.
    pub fn open(
        socket: &Path,
        request: &Request,
        timeout: Option<Duration>,
    ) -> Result<Self, ClientError> {
        let name = socket.to_fs_name::<GenericFilePath>().map_err(|e| {
            ClientError::DaemonDown(format!("bad socket path {}: {e}", socket.display()))
        })?;
        let stream = Stream::connect(name).map_err(|e| {
            ClientError::DaemonDown(format!(
                "the ocbar daemon is not running (cannot connect to {}: {e}). Start it with 'ocbar daemon --background'",
                socket.display()
            ))
        })?;
        let _ = stream.set_recv_timeout(timeout);
        let _ = stream.set_send_timeout(timeout);
        let mut stream = stream;
        stream
            .write_all(request.to_line().as_bytes())
            .map_err(|e| ClientError::Protocol(format!("cannot send to the daemon: {e}")))?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        read_line(&mut reader, &mut line)?;
        let hello: Hello = serde_json::from_str(line.trim_end()).map_err(|_| {
            ClientError::Protocol(format!(
                "{} is not an ocbar daemon socket",
                socket.display()
            ))
        })?;
        if hello.protocol != PROTOCOL {
            return Err(ClientError::Protocol(format!(
                "the running daemon (ocbar {}) speaks protocol {}, this client speaks {PROTOCOL}: restart the daemon",
                hello.version, hello.protocol
            )));
        }
        Ok(Connection { reader, hello })
    }

    /// The next reply line. `Ok(None)` when the daemon closed the connection.
    pub fn next_reply(&mut self) -> Result<Option<String>, ClientError> {
        let mut line = String::new();
        let n = read_line(&mut self.reader, &mut line)?;
        if n == 0 {
            return Ok(None);
        }
        match serde_json::from_str::<Reply>(line.trim_end()) {
            Ok(Reply::Ok(text)) => Ok(Some(text)),
            Ok(Reply::Error(msg)) => Err(ClientError::Refused(msg)),
            Err(_) => Err(ClientError::Protocol(
                "the daemon sent a line this client cannot read".into(),
            )),
        }
    }
}

fn read_line(reader: &mut BufReader<Stream>, line: &mut String) -> Result<usize, ClientError> {
    reader.read_line(line).map_err(|e| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            ClientError::Protocol("the daemon did not answer in time".into())
        } else {
            ClientError::Protocol(format!("reading from the daemon failed: {e}"))
        }
    })
}

/// One request, one reply.
pub fn request(socket: &Path, request: &Request) -> Result<String, ClientError> {
    request_within(socket, request, REPLY_TIMEOUT)
}

/// Run a command-line request that prints the daemon's answer (`list` and the actions): exit
/// 0 with its text on stdout, 1 with the error on stderr. Each request waits as long as its
/// work may take (`open` brings windows on screen; `seen`/`mute` wait for the state file).
pub fn run(socket: &Path, request: Request) -> std::process::ExitCode {
    let timeout = match request {
        Request::Action(Action::Open(_)) => crate::wire::OPEN_REPLY_TIMEOUT,
        Request::Action(Action::Seen(_) | Action::SeenAll | Action::Mute(..)) => ACTION_TIMEOUT,
        _ => REPLY_TIMEOUT,
    };
    match request_within(socket, &request, timeout) {
        Ok(text) => {
            if !text.is_empty() {
                say!("{text}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocbar: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One request, one reply, waiting up to `timeout` (`open` runs programs before it answers).
pub fn request_within(
    socket: &Path,
    request: &Request,
    timeout: Duration,
) -> Result<String, ClientError> {
    let mut conn = Connection::open(socket, request, Some(timeout))?;
    conn.next_reply()?.ok_or_else(|| {
        ClientError::Protocol("the daemon closed the connection without answering".into())
    })
}

/// Follow mode: print the snapshot, then one line per change, forever.
///
/// Survives daemon restarts by reconnecting (printing `offline` while it is down). Returns
/// when stdout is gone (a bar that ignores SIGPIPE still closes the pipe) or the parent
/// process exits, so it never outlives its bar.
pub fn watch(socket: &Path, style: Style, offline: &str) -> std::io::Result<()> {
    die_with_parent();
    let parent = parent_pid();
    let mut out = std::io::stdout().lock();
    let mut last: Option<String> = None;
    let mut emit = |line: &str, out: &mut std::io::StdoutLock| -> std::io::Result<()> {
        if last.as_deref() == Some(line) {
            return Ok(());
        }
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        out.flush()?;
        last = Some(line.to_string());
        Ok(())
    };
    loop {
        match Connection::open(socket, &Request::Watch(style), None) {
            Ok(mut conn) => loop {
                if conn.reader.buffer().is_empty() && !wait_readable(&conn) {
                    // stdout is gone: the bar closed its end of the pipe.
                    return Ok(());
                }
                match conn.next_reply() {
                    Ok(Some(line)) => emit(&line, &mut out)?,
                    Ok(None) | Err(_) => break,
                }
            },
            Err(ClientError::Refused(msg)) => {
                eprintln!("ocbar: {msg}");
                return Err(std::io::Error::other(msg));
            }
            Err(_) => {}
        }
        emit(offline, &mut out)?;
        // Retry about once a second; leave when the bar that started us is gone.
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(100));
            if parent_pid() != parent {
                return Ok(());
            }
        }
    }
}

/// Block until the daemon sends something; false when stdout's reader went away meanwhile.
fn wait_readable(conn: &Connection) -> bool {
    use std::os::fd::{AsFd, AsRawFd};
    let sock = match conn.reader.get_ref() {
        Stream::UdSocket(s) => s.as_fd().as_raw_fd(),
    };
    let mut fds = [
        libc::pollfd {
            fd: sock,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: libc::STDOUT_FILENO,
            events: 0,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: fds is a valid array of two pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return true;
        }
        if fds[1].revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            return false;
        }
        return true;
    }
}

/// Ask the kernel to end this process when its parent (the bar) exits.
fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag on this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
}

fn parent_pid() -> i32 {
    // SAFETY: getppid has no preconditions and cannot fail.
    unsafe { libc::getppid() }
}
