//! The OpenCode 2 stand-in (`tests/support/opencode2_standin.py`): a server written from
//! OpenCode 2's published protocol, for what no installable OpenCode 2 build can show here.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::process::{kill_group, spawn_owned, watch_stdout};
use super::tools::{repo_dir, require_tool};

/// A running stand-in; killed (with its process group) on drop.
pub struct OpenCode2 {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its Basic-auth password (user `opencode`).
    pub password: String,
    control: String,
    agent: ureq::Agent,
}

impl OpenCode2 {
    /// A stand-in with this password and `extra` arguments (`--heartbeat 1`,
    /// `--service-file PATH`, `--no-info`, `--version V`).
    pub fn start(password: &str, extra: &[&str]) -> OpenCode2 {
        let mut cmd = Command::new(require_tool("python3"));
        cmd.arg(repo_dir().join("tests/support/opencode2_standin.py"))
            .arg("--password")
            .arg(password)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = spawn_owned(cmd).expect("spawn opencode2_standin.py");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let rx = watch_stdout(
            child.stdout.take().expect("stdout"),
            "STANDIN_PORTS=",
            lines,
        );
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            kill_group(&mut child);
            panic!("opencode2_standin.py did not start within 20 s");
        };
        let ports: Vec<u16> = line
            .trim()
            .trim_start_matches("STANDIN_PORTS=")
            .split(' ')
            .filter_map(|p| p.parse().ok())
            .collect();
        assert_eq!(ports.len(), 2, "stand-in printed {line}");
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .timeout_global(Some(Duration::from_secs(10)))
                .build(),
        );
        OpenCode2 {
            url: format!("http://127.0.0.1:{}", ports[0]),
            control: format!("http://127.0.0.1:{}", ports[1]),
            password: password.to_owned(),
            child,
            agent,
        }
    }

    /// One state change (see the script's header), published as a real server would.
    pub fn op(&self, op: Value) {
        let r = self
            .agent
            .post(format!("{}/op", self.control))
            .send_json(&op)
            .expect("stand-in control");
        assert_eq!(r.status(), 200, "stand-in refused {op}");
    }

    /// A session in `directory`, announced with `session.created`.
    pub fn create(&self, id: &str, title: &str, directory: &Path, parent: Option<&str>) {
        let mut op = json!({"op": "create", "id": id, "title": title,
                            "directory": directory.to_string_lossy()});
        if let Some(p) = parent {
            op["parentID"] = json!(p);
        }
        self.op(op);
    }

    /// How often `GET /api/event` was opened so far.
    pub fn event_connections(&self) -> u64 {
        self.stats()["event_connections"].as_u64().unwrap_or(0)
    }

    /// `{event_connections, requests: {path: n}, auth_failures}`.
    pub fn stats(&self) -> Value {
        let mut r = self
            .agent
            .get(format!("{}/stats", self.control))
            .call()
            .expect("stand-in stats");
        r.body_mut().read_json().expect("stats json")
    }
}

impl Drop for OpenCode2 {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}
