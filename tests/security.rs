//! Security checks of the real `ocbar daemon`:
//! - the socket is 0600 inside a 0700 directory; a `--socket` in a directory others can write
//!   (0777, the sticky /tmp) or that belongs to another user is refused with exit 1 and a
//!   reason; a non-socket file at the socket path is never deleted;
//! - `OPENCODE_SERVER_PASSWORD` never shows in the daemon's argv (/proc/PID/cmdline), its
//!   log, `doctor`, the JSON snapshot or an error, against a real password-protected OpenCode:
//!   the right password connects and follows a turn, a wrong or missing one is explained by
//!   `doctor` (how to fix it) without printing the password;
//! - `https://` server URLs are accepted and spoken as TLS (rustls); a self-signed certificate
//!   is refused with a clear error in `doctor`, not a panic, and the daemon keeps serving.
//!
//! Every HTTP call of the daemon has a timeout: see README "Reliability and security" (read
//! off src/daemon/source/api.rs, connection.rs, daemon.rs and notify/toast.rs).

mod common;
mod daemon_harness;

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Env, Options, secs, wait_or_fail};
use daemon_harness::{Daemon, ocbar_bin};

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `ocbar daemon --socket SOCKET` with no server reachable; returns its output once it exits
/// (within 10 s, or the test fails: it should have refused at once).
fn daemon_refusal(socket: &std::path::Path) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(ocbar_bin())
        .args(["daemon", "--socket"])
        .arg(socket)
        .args([
            "--server",
            &format!("http://127.0.0.1:{}", common::free_port()),
        ])
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .env_remove("OCBAR_SERVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stdout = Vec::new();
            let mut stderr = Vec::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_end(&mut stderr)
                .unwrap();
            return std::process::Output {
                status,
                stdout,
                stderr,
            };
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the daemon started on an unsafe socket path {}",
                socket.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn socket_permissions_and_unsafe_socket_directories() {
    // A daemon on a socket in a 0700 directory, started with umask 000: the socket is still
    // 0600 (the daemon sets the mode itself).
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = private.path().join("ocbar.sock");
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" daemon --socket \"$1\" --server \"$2\"")
        .arg(ocbar_bin())
        .arg(&socket)
        .arg(format!("http://127.0.0.1:{}", common::free_port()))
        .env("XDG_CONFIG_HOME", private.path())
        .env("XDG_STATE_HOME", private.path())
        .env_remove("OCBAR_SERVER")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_or_fail(secs(10), "the daemon's socket", || socket.exists());
    let sock = std::fs::symlink_metadata(&socket).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        std::os::unix::fs::FileTypeExt::is_socket(&sock.file_type()),
        "not a socket"
    );
    assert_eq!(sock.permissions().mode() & 0o777, 0o600, "socket mode");
    assert_eq!(sock.uid(), common_uid());
    let dir = std::fs::metadata(private.path()).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o700, "socket dir mode");

    // A directory everyone can write: refused, with the reason and the fix.
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = daemon_refusal(&open.path().join("ocbar.sock"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("writable by others") && msg.contains("chmod 700"),
        "{msg}"
    );
    assert!(
        !open.path().join("ocbar.sock").exists(),
        "a socket was created"
    );

    // Group-writable is as bad.
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let out = daemon_refusal(&open.path().join("ocbar.sock"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // The sticky, world-writable /tmp itself.
    let out = daemon_refusal(std::path::Path::new("/tmp/ocbar-security-test.sock"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("writable by others"), "{}", text(&out));

    // A directory of another user (we are root in CI: chown works; otherwise skip this part).
    let theirs = tempfile::tempdir().unwrap();
    std::fs::set_permissions(theirs.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    if std::os::unix::fs::chown(theirs.path(), Some(65534), Some(65534)).is_ok() {
        let out = daemon_refusal(&theirs.path().join("ocbar.sock"));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains("belongs to uid 65534"),
            "{}",
            text(&out)
        );
    }

    // A regular file where the socket should be is not a stale socket: never deleted.
    let mine = tempfile::tempdir().unwrap();
    let precious = mine.path().join("notes.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let out = daemon_refusal(&precious);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&precious).ok().as_deref(),
        Some("keep me"),
        "the daemon deleted a regular file given as --socket"
    );
    assert!(text(&out).contains("not a socket"), "{}", text(&out));
}

fn common_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// The daemon's argv as the kernel shows it to every user.
fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

fn doctor(d: &Daemon) -> String {
    let out = d.run(&["doctor"]);
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

#[test]
fn the_server_password_never_leaks() {
    const PW: &str = "pw-Zq8sEcret-4711";
    const WRONG: &str = "wrong-Kx93-guess";
    let env = Env::start(Options::default().password(PW));
    let oc = &env.oc;

    // The right password: connected, a turn is followed to the end.
    let good = Daemon::start(&[&oc.url], &[("OPENCODE_SERVER_PASSWORD", PW)]);
    // A wrong one, and none at all.
    let wrong = Daemon::start(&[&oc.url], &[("OPENCODE_SERVER_PASSWORD", WRONG)]);
    let none = Daemon::start(&[&oc.url], &[]);

    wait_or_fail(secs(30), "connected with the right password", || {
        let j = good.json();
        j["servers"][0]["connected"] == true && j["servers"][0]["stale"] == false
    });
    let sid = oc.create_session(oc.dir(0), Some("behind a password"));
    oc.prompt(oc.dir(0), &sid, "hello");
    good.wait_state("behind a password", "done", secs(45));

    wait_or_fail(secs(20), "the wrong password explained", || {
        doctor(&wrong).contains("auth failures")
    });
    wait_or_fail(secs(20), "the missing password explained", || {
        doctor(&none).contains("auth failures")
    });
    let wrong_doc = doctor(&wrong);
    assert!(wrong_doc.contains("NOT CONNECTED"), "{wrong_doc}");
    assert!(
        wrong_doc.contains("authentication failed (401)")
            && wrong_doc.contains("OPENCODE_SERVER_PASSWORD"),
        "doctor does not say what is wrong and how to fix it:\n{wrong_doc}"
    );
    let none_doc = doctor(&none);
    assert!(
        none_doc.contains("authentication required (401)")
            && none_doc.contains("set OPENCODE_SERVER_PASSWORD"),
        "{none_doc}"
    );
    assert_eq!(wrong.json()["servers"][0]["connected"], false);
    assert!(
        wrong.log_text().contains("refused the credentials"),
        "{}",
        wrong.log_text()
    );
    assert!(
        none.log_text().contains("requires a password"),
        "{}",
        none.log_text()
    );

    // Nowhere: argv, log, doctor, JSON, bar lines, the panel, error replies.
    for (d, secret) in [(&good, PW), (&wrong, WRONG)] {
        let mut seen = vec![
            ("argv", cmdline(d.child.id())),
            ("log", d.log_text()),
            ("doctor", doctor(d)),
            ("json", d.json().to_string()),
            ("list", text(&d.run(&["list"]))),
            ("open error", text(&d.run(&["open", "no such session"]))),
            ("seen error", text(&d.run(&["seen", "nothing-like-this"]))),
        ];
        for f in ["plain", "tmux", "starship", "waybar"] {
            seen.push(("status", text(&d.run(&["status", "--format", f]))));
        }
        for (what, s) in seen {
            assert!(
                !s.contains(secret),
                "the password shows in the {what}:\n{s}"
            );
        }
    }
    // `open` makes an authenticated HTTP call; its answer carries no secret either.
    let out = good.run(&["open", "behind a password"]);
    assert!(!text(&out).contains(PW), "{}", text(&out));
}

/// A TLS server with a self-signed certificate (openssl s_server); killed on drop.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_server() -> TlsServer {
    let openssl = common::require_tool("openssl");
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new(&openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl req");
    for _ in 0..5 {
        let port = common::free_port();
        let mut child = Command::new(&openssl)
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(port.to_string())
            .arg("-cert")
            .arg(dir.path().join("cert.pem"))
            .arg("-key")
            .arg(dir.path().join("key.pem"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let up = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if up {
            return TlsServer {
                child,
                port,
                _dir: dir,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("openssl s_server did not start");
}

#[test]
fn https_urls_are_spoken_as_tls_and_bad_certificates_are_explained() {
    // A listener that records the first bytes the daemon sends to an https:// URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let raw_port = listener.local_addr().unwrap().port();
    let first = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = first.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 5];
            if conn.read_exact(&mut buf).is_ok() {
                let mut f = sink.lock().unwrap();
                if f.is_empty() {
                    f.extend_from_slice(&buf);
                }
            }
            // Then hang up: a TLS handshake that fails.
        }
    });
    let tls = tls_server();
    let raw_url = format!("https://127.0.0.1:{raw_port}");
    let tls_url = format!("https://127.0.0.1:{}", tls.port);
    let d = Daemon::start(&[&raw_url, &tls_url], &[]);
    wait_or_fail(secs(20), "both TLS failures reported", || {
        let doc = doctor(&d);
        doc.matches("last error:").count() == 2
    });
    let hello = first.lock().unwrap().clone();
    assert_eq!(
        hello.first(),
        Some(&0x16),
        "not a TLS handshake record: {hello:?}"
    );
    assert_eq!(hello.get(1), Some(&0x03), "not TLS: {hello:?}");

    let doc = doctor(&d);
    let line = doc
        .lines()
        .skip_while(|l| !l.contains(&tls_url))
        .find(|l| l.contains("last error:"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.to_lowercase().contains("certificate"),
        "a self-signed certificate is not explained: {line:?}\n{doc}"
    );
    assert!(!doc.contains("panicked") && !d.log_text().contains("panicked"));
    let j = d.json();
    assert!(
        j["servers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["connected"] == false),
        "{j}"
    );
    // Still serving.
    assert!(d.run(&["status", "--format", "tmux"]).status.success());
    assert!(d.child.try_wait_alive());
}

trait AliveExt {
    fn try_wait_alive(&self) -> bool;
}

impl AliveExt for std::process::Child {
    fn try_wait_alive(&self) -> bool {
        std::path::Path::new(&format!("/proc/{}/status", self.id())).exists()
            && !std::fs::read_to_string(format!("/proc/{}/status", self.id()))
                .unwrap_or_default()
                .contains("State:\tZ")
    }
}
