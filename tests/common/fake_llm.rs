//! The fake model: `tests/support/fake_llm.py` on a free loopback port.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::process::{kill_group, spawn_owned, watch_stdout};
use super::tempdir::owned_tempdir;
use super::tools::{repo_dir, require_tool};

/// `tests/support/fake_llm.py` on a free loopback port; killed on drop.
pub struct FakeLlm {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _tmp: tempfile::TempDir,
}

impl FakeLlm {
    pub fn start() -> FakeLlm {
        let python = require_tool("python3");
        let tmp = owned_tempdir("ocbar-fake-llm-");
        let log = tmp.path().join("requests.jsonl");
        let mut cmd = Command::new(python);
        cmd.arg(repo_dir().join("tests/support/fake_llm.py"))
            .arg("0")
            .env("FAKE_LLM_LOG", &log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = spawn_owned(cmd).expect("spawn fake_llm.py");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let rx = watch_stdout(child.stdout.take().unwrap(), "FAKE_LLM_PORT=", lines);
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                kill_group(&mut child);
                panic!("fake_llm.py did not print FAKE_LLM_PORT= within 20 s");
            }
        };
        let port = line
            .trim()
            .trim_start_matches("FAKE_LLM_PORT=")
            .parse()
            .expect("port number");
        FakeLlm {
            child,
            port,
            log,
            _tmp: tmp,
        }
    }

    /// The OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Every request body received so far (chat completions), oldest first.
    pub fn requests(&self) -> Vec<Value> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}
