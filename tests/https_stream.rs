//! An `https://` server is followed like an `http://` one: a real OpenCode 1.18.33 (driven by
//! the fake LLM) behind a TLS terminator (`socat`, with the test certificate of
//! `tests/fixtures/tls/`, whose CA the daemon trusts through `OCBAR_CA_FILE`), a real
//! `ocbar daemon` given only the `https://` URL, and a real `watch` subscriber that sees a turn
//! run and finish. The event stream and the resync both go through TLS.
//!
//! Needs socat and OpenCode (`scripts/install-test-deps.sh`); a missing tool fails the test.

mod common;
mod daemon_harness;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Env, Options, free_port, require_tool, secs, spawn_owned, wait_or_fail};
use daemon_harness::Daemon;

const T: Duration = Duration::from_secs(45);

/// `socat` terminating TLS on a free port and forwarding to `target_port`.
struct Terminator {
    child: Child,
    port: u16,
}

impl Terminator {
    fn start(target_port: u16) -> Terminator {
        let socat = require_tool("socat");
        let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
        let port = free_port();
        let mut cmd = Command::new(socat);
        cmd.arg(format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
            tls.join("server.pem").display(),
            tls.join("server.key").display()
        ))
        .arg(format!("TCP:127.0.0.1:{target_port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = spawn_owned(cmd).expect("spawn socat");
        wait_or_fail(secs(10), "socat listening", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Terminator { child, port }
    }
}

impl Drop for Terminator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_https_server_is_followed_through_tls() {
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let oc_port: u16 = oc
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("OpenCode's port");
    let tls = Terminator::start(oc_port);
    let url = format!("https://127.0.0.1:{}", tls.port);
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    let d = Daemon::start(&[&url], &[("OCBAR_CA_FILE", ca.to_str().unwrap())]);
    wait_or_fail(secs(30), "connected over https", || {
        let j = d.json();
        j["servers"][0]["connected"] == true && j["servers"][0]["stale"] == false
    });
    let servers = d.json()["servers"].clone();
    assert_eq!(servers.as_array().map(Vec::len), Some(1), "{servers}");
    let h = d.history();
    let sid = oc.create_session(&dir, Some("over tls"));
    oc.prompt(&dir, &sid, "take a moment [slow 2]");
    h.wait_seen("over tls", "busy", T);
    let s = d.wait_state("over tls", "done", T);
    assert_eq!(s["unvisited"], true, "{s}");
    let doctor = String::from_utf8_lossy(&d.run(&["doctor"]).stdout).to_string();
    assert!(doctor.contains(&url), "{doctor}");
    assert!(
        !d.log_text().contains("lost the event stream"),
        "{}",
        d.log_text()
    );
}
