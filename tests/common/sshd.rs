//! A real OpenSSH server on loopback, for the remote-machine tests: Debian's `sshd` with a
//! config, host key, user keys, `authorized_keys` and pid file of its own in a temp dir, in the
//! foreground (`-D -e`), and an ssh client config (`ssh -F`) naming it by aliases.
//!
//! Aliases in the client config:
//! - `devbox`: logs in with the authorized key; `SetEnv` passes the far side's `OCBAR_SOCKET`
//!   (sshd's `AcceptEnv` takes it), so `ocbar remote-bridge` there finds the dev box's daemon.
//! - `badkey`: the same server with a key that is not authorized (ssh's "Permission denied").
//! - `garbage`: a key whose `authorized_keys` line forces a command that prints a banner
//!   instead of running ocbar.
//! - `nohost`: a host name that does not resolve (`.invalid`, RFC 2606).
//!
//! Runs as root (the tests do) and logs in as the current user. Connection processes of sshd
//! call `setsid`, so they are found through `/proc` and killed with the listener on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, require_tool, spawn_owned, wait_or_fail};

/// A running sshd and the client config that reaches it.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// `ssh -F` this file.
    pub client_config: PathBuf,
    child: Option<Child>,
    sshd: PathBuf,
}

fn keygen(path: &Path) {
    let st = Command::new(require_tool("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ocbar-test", "-f"])
        .arg(path)
        .status()
        .expect("run ssh-keygen");
    assert!(st.success(), "ssh-keygen failed for {}", path.display());
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

impl Sshd {
    /// Start sshd; `far_socket` is the dev box daemon's socket (sent as `OCBAR_SOCKET`).
    pub fn start(far_socket: &Path) -> Sshd {
        // sshd lives in /usr/sbin, which a non-root PATH may lack.
        let sshd = Some(PathBuf::from("/usr/sbin/sshd"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| require_tool("sshd"));
        require_tool("ssh");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        keygen(&d.join("other_key"));
        keygen(&d.join("garbage_key"));
        // sshd's privilege separation directory (Debian creates it at service start only).
        let _ = std::fs::create_dir_all("/run/sshd");
        // The user this test runs as ($USER may be unset under CI).
        let user = Command::new("id").arg("-un").output().expect("run id -un");
        let user = String::from_utf8_lossy(&user.stdout).trim().to_string();
        assert!(!user.is_empty(), "id -un printed nothing");
        std::fs::write(
            d.join("authorized_keys"),
            format!(
                "{}command=\"echo 'Welcome to the dev box!'; sleep 2\",restrict {}",
                read(&d.join("user_key.pub")),
                read(&d.join("garbage_key.pub"))
            ),
        )
        .expect("authorized_keys");
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nUsePAM no\nStrictModes no\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nAcceptEnv OCBAR_SOCKET\nPrintMotd no\n\
                 LogLevel VERBOSE\n",
                dir = d.display()
            ),
        )
        .expect("sshd_config");
        let host_pub = read(&d.join("host_key.pub"));
        let host_pub: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", host_pub.join(" ")),
        )
        .expect("known_hosts");
        let common = |key: &str| {
            format!(
                "  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {dir}/{key}\n  IdentitiesOnly yes\n  \
                 UserKnownHostsFile {dir}/known_hosts\n  StrictHostKeyChecking yes\n  \
                 SetEnv OCBAR_SOCKET={sock}\n  LogLevel ERROR\n",
                dir = d.display(),
                sock = far_socket.display()
            )
        };
        let client_config = d.join("ssh_config");
        std::fs::write(
            &client_config,
            format!(
                "Host devbox\n{}Host badkey\n{}Host garbage\n{}Host nohost\n  HostName nohost.invalid\n  LogLevel ERROR\n",
                common("user_key"),
                common("other_key"),
                common("garbage_key")
            ),
        )
        .expect("ssh_config");
        let mut s = Sshd {
            dir,
            port,
            client_config,
            child: None,
            sshd,
        };
        s.start_again();
        s.check_login_time();
        s
    }

    /// A login through this sshd runs the user's login shell and its start-up files before the
    /// command (`~/.bashrc` is emptied for it, see [`Sshd::start_again`]; others remain). The
    /// link under test gives up on a far side that says nothing for 20 s, so a slow start-up
    /// would fail the test with no visible cause: say it here instead. (Seen on the dev
    /// machines: a stale pyenv lock in `~/.pyenv/shims`, left by a shell killed during `pyenv
    /// rehash`, makes every bash start wait 60 s.)
    fn check_login_time(&self) {
        let started = std::time::Instant::now();
        let mut cmd = Command::new(require_tool("ssh"));
        cmd.arg("-F")
            .arg(&self.client_config)
            .args(["-o", "BatchMode=yes", "devbox", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn_owned(cmd).expect("spawn ssh");
        let limit = Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    assert!(
                        status.success(),
                        "ssh devbox true failed ({status}): {err}\nsshd log:\n{}",
                        self.log()
                    );
                    return;
                }
                Ok(None) if started.elapsed() > limit => {
                    let _ = child.kill();
                    panic!(
                        "a login through the test's sshd took over {limit:?} (ssh devbox true): the \
                         login shell's start-up files of this user are slow (for bash: ~/.bashrc; \
                         a stale lock such as ~/.pyenv/shims/.pyenv-shim makes pyenv wait 60 s). \
                         The remote link gives up after 20 s of silence, so the test cannot run."
                    );
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("waiting for ssh: {e}"),
            }
        }
    }

    /// (Re)start the listener on the same port, with the same keys.
    pub fn start_again(&mut self) {
        let d = self.dir.path();
        // The sessions run the user's login shell, which reads the user's own start-up files
        // (root's `~/.bashrc` on the test machines starts pyenv, which can wait a minute on a
        // stale lock). The dev box is not about the tester's shell set-up: sshd runs in a mount
        // namespace of its own where `~/.bashrc` is an empty file (when it exists; nothing else
        // of the machine changes).
        let bashrc = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".bashrc"))
            .filter(|p| p.exists());
        let mut cmd = Command::new(require_tool("unshare"));
        cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "if [ -n \"$3\" ]; then mount --bind /dev/null \"$3\" || exit 1; fi; \
                 exec \"$1\" -D -e -f \"$2\"",
            )
            .arg("sshd-ns")
            .arg(&self.sshd)
            .arg(d.join("sshd_config"))
            .arg(bashrc.unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(d.join("sshd.log"))
                    .expect("sshd.log"),
            );
        self.child = Some(spawn_owned(cmd).expect("spawn sshd"));
        let port = self.port;
        wait_or_fail(Duration::from_secs(10), "sshd listening", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Kill sshd and every connection it serves: each ssh link drops at once, and nothing
    /// answers on the port until [`Sshd::start_again`].
    pub fn kill_all(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut pids = descendants(child.id());
        pids.push(child.id());
        for pid in pids {
            // SAFETY: plain kill(2) on processes this sshd started.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = child.wait();
    }

    /// sshd's log so far (`-e`: its messages on stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Every process below `root` (children of children…), from `/proc/*/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == p && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}
