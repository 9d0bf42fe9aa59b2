//! Child processes that never outlive the test process (process groups, parent-death signal).

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

type SpawnJob = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawn `cmd` in a new process group, with SIGKILL as its parent-death signal.
///
/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so every child is
/// forked by one spawner thread that lives as long as the test process.
pub fn spawn_owned(mut cmd: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        thread::Builder::new()
            .name("test-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // never reached while the sender lives in the static; keep the thread anyway
                loop {
                    thread::park();
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    cmd.process_group(0);
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (rtx, rrx) = mpsc::channel();
    tx.lock().unwrap().send((cmd, rtx)).expect("spawner alive");
    rrx.recv().expect("spawner reply")
}

/// Send `sig` to the process group led by `pid`.
pub(crate) fn signal_group(pid: u32, sig: libc::c_int) {
    unsafe {
        libc::kill(-(pid as libc::pid_t), sig);
    }
}

/// SIGKILL the group of `child` and reap it.
pub(crate) fn kill_group(child: &mut Child) {
    signal_group(child.id(), libc::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERM the group, wait up to `grace`, then SIGKILL.
pub(crate) fn stop_group(child: &mut Child, grace: Duration) {
    signal_group(child.id(), libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            signal_group(child.id(), libc::SIGKILL); // leftovers of the group
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    kill_group(child);
}

/// A free TCP port on 127.0.0.1 (not 4096, so a developer's own OpenCode is never hit).
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        if port != 4096 {
            return port;
        }
    }
}

/// Read `stdout` line by line in a thread: the first line containing `marker` is sent back, every
/// line is appended to `lines`, and the pipe keeps being drained so the child never blocks.
pub(crate) fn watch_stdout(
    stdout: impl Read + Send + 'static,
    marker: &'static str,
    lines: Arc<Mutex<Vec<String>>>,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent && line.contains(marker) {
                let _ = tx.send(line.clone());
                sent = true;
            }
            lines.lock().unwrap().push(line);
        }
    });
    rx
}

/// The command for a session of real desktop programs (sway, waybar, foot): `sh script args…`
/// as `nobody` in a PID namespace of its own (`unshare --pid --fork --kill-child
/// --mount-proc`, then `setpriv`), in a private D-Bus session when `dbus`, with nothing of this
/// process's environment: only `env` (`NAME=value`, `PATH` among them), `LANG=C.UTF-8` and
/// `HOME=out`. stdin is empty and stderr goes to `out/session.err`. Spawn it with
/// [`spawn_owned`]; end it with [`end_session`].
pub fn session_command(
    out: &std::path::Path,
    env: &[String],
    dbus: bool,
    script: &std::path::Path,
    args: &[&std::ffi::OsStr],
) -> Command {
    let mut cmd = Command::new(super::require_tool("unshare"));
    cmd.args(["--pid", "--fork", "--kill-child", "--mount-proc"])
        .arg(super::require_tool("setpriv"))
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .args(["env", "-i"])
        .args(env)
        .arg("LANG=C.UTF-8")
        .arg(format!("HOME={}", out.display()));
    if dbus {
        cmd.args(["dbus-run-session", "--"]);
    }
    cmd.arg("/bin/sh")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(
            std::fs::File::create(out.join("session.err")).expect("create session.err"),
        ));
    cmd
}

/// End a session the test started in its own PID namespace (`unshare --pid --fork
/// --kill-child`, then `setpriv` to another user): create `out/stop`, which the session's
/// script waits for, and give it 5 s to exit, which ends the namespace and everything in it.
/// Past that, kill the namespace's first process (the same effect), then `unshare`.
///
/// Killing `unshare` alone is not enough: `setpriv` changes the user, and that clears the
/// parent-death signal `--kill-child` set, so sway, foot, tmux and a daemon outlived the tests
/// that only did that (found still running hours later, one set per run).
pub fn end_session(out: &std::path::Path, child: &mut Child) {
    let _ = std::fs::write(out.join("stop"), "");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    for pid in std::fs::read_to_string(children)
        .unwrap_or_default()
        .split_whitespace()
    {
        if let Ok(pid) = pid.parse::<i32>() {
            // SAFETY: kill(2) with a pid read from /proc; no memory is passed.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
