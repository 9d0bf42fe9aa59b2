//! `ocbar daemon --background`: start the daemon detached from the terminal, its log in a
//! file, and say in one line whether it started.
//!
//! A user who types `ocbar daemon &` gets the daemon's log in their shell and a job that dies
//! with the terminal. This starts the same program in a session of its own (`setsid`), stdin
//! from `/dev/null`, stdout and stderr appended to the log file, waits until its socket
//! answers, and exits: 0 once it answers (or another daemon already does), 1 with the
//! daemon's own error lines when it exits at start.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::wire::Request;

/// How long the daemon may take to answer on its socket before this gives up waiting (it
/// loads the state file and binds the socket before anything slow; a loaded machine is slow).
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The default log file: `$XDG_STATE_HOME/ocbar/daemon.log`, else
/// `~/.local/state/ocbar/daemon.log` (the same file the tmux plugin's autostart appends to).
pub fn default_log() -> Option<PathBuf> {
    crate::paths::state_home().map(|d| d.join("ocbar/daemon.log"))
}

/// Start `ocbar <daemon_args>` in the background, logging to `log` (else [`default_log`]),
/// and report on stdout/stderr whether it answers on `socket`.
pub fn start(socket: &Path, daemon_args: Vec<OsString>, log: Option<PathBuf>) -> ExitCode {
    if answers(socket) {
        say!(
            "ocbar: a daemon is already running on {} ('ocbar doctor' shows it)",
            socket.display()
        );
        return ExitCode::SUCCESS;
    }
    let Some(log) = log.or_else(default_log) else {
        eprintln!(
            "ocbar: no log file: HOME and XDG_STATE_HOME are unset; give one with --log FILE"
        );
        return ExitCode::FAILURE;
    };
    match spawn(socket, daemon_args, &log) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ocbar: cannot start the daemon in the background: {e}");
            ExitCode::FAILURE
        }
    }
}

fn spawn(socket: &Path, daemon_args: Vec<OsString>, log: &Path) -> std::io::Result<ExitCode> {
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", log.display())))?;
    let from = file.seek(SeekFrom::End(0))?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--socket")
        .arg(socket)
        .arg("daemon")
        .args(daemon_args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    // SAFETY: setsid is async-signal-safe and touches no memory of this process.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            // It may have exited because another daemon won the race to the socket.
            if answers(socket) {
                say!(
                    "ocbar: a daemon is already running on {} ('ocbar doctor' shows it)",
                    socket.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "ocbar: the daemon exited at start ({status}); from its log {}:",
                log.display()
            );
            eprint!("{}", written_since(log, from));
            return Ok(ExitCode::FAILURE);
        }
        if answers(socket) {
            say!(
                "ocbar: daemon running (pid {}) on {}; log: {}",
                child.id(),
                socket.display(),
                log.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if Instant::now() >= deadline {
            eprintln!(
                "ocbar: the daemon (pid {}) has not answered on {} after {} s; it keeps starting, see its log {}",
                child.id(),
                socket.display(),
                START_TIMEOUT.as_secs(),
                log.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// An ocbar daemon answers on `socket` (its greeting and a reply to a cheap request).
fn answers(socket: &Path) -> bool {
    super::request(socket, &Request::List).is_ok()
}

/// What was appended to `log` after byte `from` (the daemon's own lines, its error among them).
fn written_since(log: &Path, from: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(log)
        && f.seek(SeekFrom::Start(from)).is_ok()
    {
        let mut bytes = Vec::new();
        let _ = f.take(64 * 1024).read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
