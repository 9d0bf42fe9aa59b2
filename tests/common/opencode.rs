//! A real `opencode serve` with isolated HOME and XDG dirs, and blocking HTTP helpers for it.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::encode::{base64, percent_encode};
use super::fake_llm::FakeLlm;
use super::process::{free_port, kill_group, spawn_owned, stop_group, watch_stdout};
use super::slots::Slot;
use super::tempdir::owned_tempdir;
use super::time::wait_until;
use super::tools::{is_executable, require_tool, tools_dir};

/// How to set up an [`OpenCode`] server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Names of the project directories (created under the server's temp dir). The first one is
    /// the server's cwd. Default: `["proj-a"]`.
    pub projects: Vec<String>,
    /// Make the FIRST project directory a git repository with one commit (OpenCode then gives
    /// it a project id, the root commit hash); the others stay plain directories, which OpenCode
    /// files under the project `"global"`. Default: false.
    pub git: bool,
    /// `"permission": {"bash": "ask"}` in every project's opencode.json. Default: false.
    pub bash_ask: bool,
    /// `OPENCODE_SERVER_PASSWORD` for the server (username `opencode`). Default: none.
    pub password: Option<String>,
    /// Create each project's instance before returning (its boot noise then precedes the test).
    /// Default: true.
    pub warm: bool,
    /// Extra environment for the server process.
    pub env: Vec<(String, String)>,
    /// The server's `argv[0]` (default: the binary's path). Another name hides it from
    /// process discovery, as a server in a container is hidden.
    pub argv0: Option<String>,
    /// Run this OpenCode release (installed by `scripts/install-test-deps.sh` into
    /// `.tools/opencode-VERSION/`) instead of the pinned newest `.tools/bin/opencode`.
    pub version: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            projects: vec!["proj-a".into()],
            git: false,
            bash_ask: false,
            password: None,
            warm: true,
            env: vec![],
            argv0: None,
            version: None,
        }
    }
}

impl Options {
    /// `n` project directories named `proj-a`, `proj-b`, …
    pub fn dirs(mut self, n: usize) -> Options {
        self.projects = (0..n)
            .map(|i| format!("proj-{}", (b'a' + i as u8) as char))
            .collect();
        self
    }
    pub fn bash_ask(mut self) -> Options {
        self.bash_ask = true;
        self
    }
    pub fn password(mut self, pw: &str) -> Options {
        self.password = Some(pw.into());
        self
    }
    pub fn git(mut self) -> Options {
        self.git = true;
        self
    }
    /// Run OpenCode `v` (one of the matrix versions of `scripts/install-test-deps.sh`).
    pub fn version(mut self, v: &str) -> Options {
        self.version = Some(v.into());
        self
    }
}

/// The `opencode` binary of release `version` (`None`: the pinned newest, `.tools/bin/opencode`).
/// Panics (fails the test) when it is not installed.
pub fn opencode_bin(version: Option<&str>) -> PathBuf {
    let Some(v) = version else {
        return require_tool("opencode");
    };
    let bin = tools_dir()
        .join(format!("opencode-{v}"))
        .join("node_modules/opencode-linux-x64/bin/opencode");
    if !is_executable(&bin) {
        panic!(
            "missing {}: run scripts/install-test-deps.sh",
            bin.display()
        );
    }
    bin
}

/// A running `opencode serve --port PORT --hostname 127.0.0.1` with isolated HOME and XDG dirs.
///
/// The port is picked free up front (never 4096, OpenCode's first choice with `--port 0`), so that
/// [`OpenCode::restart`] can come back on the same URL.
pub struct OpenCode {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    pub port: u16,
    /// The project directories (canonical paths, as OpenCode reports them in `directory`).
    pub dirs: Vec<PathBuf>,
    /// The server password, if any (username is `opencode`).
    pub password: Option<String>,
    /// The temp dir holding `home/`, the projects and `opencode.stderr.log`.
    pub root: PathBuf,
    opts: Options,
    llm_url: String,
    child: Option<Child>,
    stdout_lines: Arc<Mutex<Vec<String>>>,
    agent: ureq::Agent,
    _slot: Slot,
    _tmp: tempfile::TempDir,
}

/// What a blocking HTTP call returned.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl OpenCode {
    /// Start a server whose projects use `llm` as their model provider.
    pub fn start(llm: &FakeLlm, opts: Options) -> OpenCode {
        let opencode = opencode_bin(opts.version.as_deref());
        let slot = Slot::acquire();
        let tmp = owned_tempdir("ocbar-opencode-");
        let root = tmp.path().canonicalize().expect("canonical tempdir");
        let home = root.join("home");
        for d in [".config/opencode", ".local/share", ".local/state", ".cache"] {
            fs::create_dir_all(home.join(d)).expect("mkdir home");
        }
        seed_config_dir(&home.join(".config/opencode"), opts.version.as_deref());
        let mut dirs = Vec::new();
        for name in &opts.projects {
            let d = root.join(name);
            fs::create_dir_all(&d).expect("mkdir project");
            let mut cfg = json!({
                "$schema": "https://opencode.ai/config.json",
                "provider": {"fake": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "Fake",
                    "options": {"baseURL": llm.base_url(), "apiKey": "x"},
                    "models": {"fake-model": {"name": "Fake Model"}}
                }},
                "model": "fake/fake-model",
                "small_model": "fake/fake-model",
                "share": "disabled",
                "autoupdate": false,
                "lsp": false,
                "formatter": false
            });
            if opts.bash_ask {
                cfg["permission"] = json!({"bash": "ask"});
            }
            fs::write(
                d.join("opencode.json"),
                serde_json::to_string_pretty(&cfg).unwrap(),
            )
            .expect("write opencode.json");
            if opts.git && dirs.is_empty() {
                let ok = Command::new(require_tool("git"))
                    .args(["-c", "user.email=t@t", "-c", "user.name=t", "init", "-q"])
                    .current_dir(&d)
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
                    && Command::new("git")
                        .args([
                            "-c",
                            "user.email=t@t",
                            "-c",
                            "user.name=t",
                            "commit",
                            "-q",
                            "--allow-empty",
                            "-m",
                            "init",
                        ])
                        .current_dir(&d)
                        .status()
                        .map(|s| s.success())
                        .unwrap_or(false);
                assert!(ok, "git init in {}", d.display());
            }
            dirs.push(d);
        }
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        let mut oc = OpenCode {
            url: String::new(),
            port: 0,
            dirs,
            password: opts.password.clone(),
            root,
            opts,
            llm_url: llm.base_url(),
            child: None,
            stdout_lines: Arc::new(Mutex::new(Vec::new())),
            agent,
            _slot: slot,
            _tmp: tmp,
        };
        let _ = opencode;
        let t0 = Instant::now();
        // A port picked free can be taken again before OpenCode binds it: try a few.
        let mut last_err = String::new();
        for _ in 0..3 {
            oc.port = free_port();
            match oc.spawn_server() {
                Ok(()) => {
                    if oc.opts.warm {
                        for i in 0..oc.dirs.len() {
                            let d = oc.dirs[i].clone();
                            let r = oc.call("GET", "/session/status", Some(&d), None);
                            assert_eq!(r.status, 200, "warm-up of {}: {r:?}", d.display());
                        }
                    }
                    eprintln!(
                        "common: OpenCode {} ready in {:.1?} ({} project dirs)",
                        oc.url,
                        t0.elapsed(),
                        oc.dirs.len()
                    );
                    return oc;
                }
                Err(e) => last_err = e,
            }
        }
        panic!("OpenCode did not start: {last_err}");
    }

    /// Spawn `opencode serve` on `self.port` and wait until `/global/health` answers.
    fn spawn_server(&mut self) -> Result<(), String> {
        let opencode = opencode_bin(self.opts.version.as_deref());
        let home = self.root.join("home");
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(self.root.join("opencode.stderr.log"))
            .map_err(|e| e.to_string())?;
        let mut cmd = Command::new(opencode);
        if let Some(a) = &self.opts.argv0 {
            cmd.arg0(a);
        }
        cmd.args([
            "serve",
            "--port",
            &self.port.to_string(),
            "--hostname",
            "127.0.0.1",
        ])
        .current_dir(&self.dirs[0])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("OPENCODE") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
            .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
            .env("OPENCODE_DISABLE_LSP_DOWNLOAD", "1");
        if let Some(pw) = &self.password {
            cmd.env("OPENCODE_SERVER_PASSWORD", pw);
        }
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        let mut child = spawn_owned(cmd).map_err(|e| format!("spawn opencode: {e}"))?;
        self.stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let rx = watch_stdout(
            child.stdout.take().unwrap(),
            "server listening on",
            self.stdout_lines.clone(),
        );
        let started = Instant::now();
        let line = loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => break line,
                Err(mpsc::RecvTimeoutError::Timeout)
                    if started.elapsed() < Duration::from_secs(60) =>
                {
                    if let Ok(Some(st)) = child.try_wait() {
                        let log = self.log_tail();
                        return Err(format!(
                            "opencode exited ({st}) before listening; stderr:\n{log}"
                        ));
                    }
                }
                Err(_) => {
                    kill_group(&mut child);
                    return Err(format!(
                        "opencode did not print its URL within 60 s; stderr:\n{}",
                        self.log_tail()
                    ));
                }
            }
        };
        let listening_after = started.elapsed();
        let url = line[line
            .find("http://")
            .ok_or_else(|| format!("no URL in {line:?}"))?..]
            .trim()
            .trim_end_matches('/')
            .to_string();
        self.url = url;
        self.child = Some(child);
        // The health endpoint can hang while the server boots: short per-call timeouts.
        // OpenCode 1.0.x has no /global/health (500): ask it for /path instead.
        let health = match self.opts.version.as_deref() {
            Some(v) if v.starts_with("1.0.") => "/path",
            _ => "/global/health",
        };
        let healthy = wait_until(Duration::from_secs(30), || {
            let mut req = self
                .agent
                .get(format!("{}{health}", self.url))
                .config()
                .timeout_global(Some(Duration::from_secs(2)))
                .build();
            if let Some(h) = self.auth_header() {
                req = req.header("authorization", h);
            }
            matches!(req.call(), Ok(r) if r.status() == 200)
        });
        eprintln!(
            "common: opencode listening after {listening_after:.1?}, healthy after {:.1?}",
            started.elapsed()
        );
        if !healthy {
            let mut child = self.child.take().unwrap();
            kill_group(&mut child);
            return Err(format!(
                "{}{health} never answered 200; stderr:\n{}",
                self.url,
                self.log_tail()
            ));
        }
        Ok(())
    }

    /// The last 40 lines of the server's stderr (for failure messages).
    pub fn log_tail(&self) -> String {
        let s = fs::read_to_string(self.root.join("opencode.stderr.log")).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Project directory `i` (panics if there is none).
    pub fn dir(&self, i: usize) -> &Path {
        &self.dirs[i]
    }

    /// The process id of the running server (None while stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `Basic base64(opencode:PASSWORD)` when a password is set.
    pub fn auth_header(&self) -> Option<String> {
        self.password
            .as_ref()
            .map(|pw| format!("Basic {}", base64(format!("opencode:{pw}").as_bytes())))
    }

    /// Stop the server gracefully (SIGTERM to the group, SIGKILL after 10 s).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_group(&mut c, Duration::from_secs(10));
        }
    }

    /// Kill the server at once (SIGKILL to the group): a crash as the daemon sees it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(&mut c);
        }
    }

    /// Start the server again on the same port, HOME and projects (after `stop`/`kill`).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "start_again: the server still runs");
        let mut last = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match self.spawn_server() {
                Ok(()) => return,
                Err(e) => last = e, // e.g. the port still in use for a moment
            }
            thread::sleep(Duration::from_millis(500));
        }
        panic!("OpenCode did not come back on port {}: {last}", self.port);
    }

    /// Start the server again (after `stop`/`kill`) on a NEW free port, same HOME and projects:
    /// what a user sees when OpenCode comes back under another address. `url` and `port` change.
    pub fn start_on_new_port(&mut self) {
        assert!(
            self.child.is_none(),
            "start_on_new_port: the server still runs"
        );
        let old = self.port;
        while self.port == old {
            self.port = free_port();
        }
        self.url = format!("http://127.0.0.1:{}", self.port);
        self.start_again();
    }

    /// `stop()` then `start_again()`: same URL, same sessions on disk, all status reset to idle.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    // -- HTTP ------------------------------------------------------------------------------------

    /// One blocking request. `path` starts with `/` and may carry its own query; `dir` adds
    /// `directory=`. The status is returned, never turned into an error.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        dir: Option<&Path>,
        body: Option<&Value>,
    ) -> Reply {
        self.call_as(self.auth_header().as_deref(), method, path, dir, body)
    }

    /// [`OpenCode::call`] with an explicit `authorization` header (`None`: none at all), to test
    /// what a client without (or with wrong) credentials gets.
    pub fn call_as(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        dir: Option<&Path>,
        body: Option<&Value>,
    ) -> Reply {
        let mut url = format!("{}{}", self.url, path);
        if let Some(d) = dir {
            url.push(if path.contains('?') { '&' } else { '?' });
            url.push_str("directory=");
            url.push_str(&percent_encode(&d.to_string_lossy()));
        }
        let auth = auth.map(str::to_string);
        let result = match method {
            "GET" | "DELETE" => {
                let mut r = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                r.call()
            }
            _ => {
                let mut r = match method {
                    "POST" => self.agent.post(&url),
                    "PATCH" => self.agent.patch(&url),
                    "PUT" => self.agent.put(&url),
                    m => panic!("method {m}"),
                };
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                match body {
                    Some(b) => r.send_json(b),
                    None => r.send_empty(),
                }
            }
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// GET returning JSON; panics unless 200.
    pub fn get_json(&self, path: &str, dir: Option<&Path>) -> Value {
        let r = self.call("GET", path, dir, None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    /// POST returning JSON (or `null` for an empty body); panics unless 2xx.
    pub fn post_json(&self, path: &str, dir: Option<&Path>, body: &Value) -> Value {
        let r = self.call("POST", path, dir, Some(body));
        assert!(
            (200..300).contains(&r.status),
            "POST {path}: {} {}",
            r.status,
            r.body
        );
        if r.body.trim().is_empty() {
            Value::Null
        } else {
            r.json()
        }
    }

    /// `POST /session` in `dir`; `None` leaves OpenCode's default title, so that the first
    /// prompt makes the fake LLM's title generator name it (see `[title=...]`). Returns the id.
    pub fn create_session(&self, dir: &Path, title: Option<&str>) -> String {
        let body = match title {
            Some(t) => json!({"title": t}),
            None => json!({}),
        };
        let v = self.post_json("/session", Some(dir), &body);
        v["id"].as_str().expect("session id").to_string()
    }

    /// `POST /session/{id}/prompt_async` with one text part (the turn runs in the background).
    pub fn prompt(&self, dir: &Path, sid: &str, text: &str) {
        let r = self.call(
            "POST",
            &format!("/session/{sid}/prompt_async"),
            Some(dir),
            Some(&json!({"parts": [{"type": "text", "text": text}]})),
        );
        assert_eq!(r.status, 204, "prompt_async: {}", r.body);
    }

    /// `POST /session/{id}/abort` (the user stops the turn). Returns the server's boolean.
    pub fn abort(&self, dir: &Path, sid: &str) -> bool {
        self.post_json(&format!("/session/{sid}/abort"), Some(dir), &json!({})) == Value::Bool(true)
    }

    /// `GET /session/status?directory=`: non-idle sessions only, `{sid: {type, …}}`.
    pub fn session_status(&self, dir: &Path) -> Map<String, Value> {
        match self.get_json("/session/status", Some(dir)) {
            Value::Object(m) => m,
            v => panic!("session/status: {v}"),
        }
    }

    /// The status `type` of one session: `busy`, `retry`, or `idle` when it is not listed.
    pub fn status_of(&self, dir: &Path, sid: &str) -> String {
        self.session_status(dir)
            .get(sid)
            .and_then(|s| s["type"].as_str())
            .unwrap_or("idle")
            .to_string()
    }

    /// `GET /session/{id}` (works without a directory).
    pub fn session(&self, sid: &str) -> Value {
        self.get_json(&format!("/session/{sid}"), None)
    }

    /// `GET /session/{id}/message[?limit=N]`: the LAST `limit` messages, oldest first.
    pub fn messages(&self, dir: &Path, sid: &str, limit: Option<u32>) -> Vec<Value> {
        let path = match limit {
            Some(n) => format!("/session/{sid}/message?limit={n}"),
            None => format!("/session/{sid}/message"),
        };
        match self.get_json(&path, Some(dir)) {
            Value::Array(a) => a,
            v => panic!("messages: {v}"),
        }
    }

    /// The newest message (`{info, parts}`) of a session, cheaply (`?limit=1`).
    pub fn last_message(&self, dir: &Path, sid: &str) -> Option<Value> {
        self.messages(dir, sid, Some(1)).pop()
    }

    /// `GET /permission?directory=`: pending permission requests.
    pub fn pending_permissions(&self, dir: &Path) -> Vec<Value> {
        match self.get_json("/permission", Some(dir)) {
            Value::Array(a) => a,
            v => panic!("permission: {v}"),
        }
    }

    /// OpenCode 1.0.x: `POST /session/{sid}/permissions/{id}` with `{"response": reply}`.
    pub fn reply_permission_1_0(&self, dir: &Path, sid: &str, id: &str, reply: &str) {
        let v = self.post_json(
            &format!("/session/{sid}/permissions/{id}"),
            Some(dir),
            &json!({"response": reply}),
        );
        assert_eq!(v, Value::Bool(true), "permission reply");
    }

    /// `POST /permission/{id}/reply` with `once`, `always` or `reject`.
    pub fn reply_permission(&self, dir: &Path, id: &str, reply: &str) {
        let v = self.post_json(
            &format!("/permission/{id}/reply"),
            Some(dir),
            &json!({"reply": reply}),
        );
        assert_eq!(v, Value::Bool(true), "permission reply");
    }

    /// `GET /question?directory=`: pending questions.
    pub fn pending_questions(&self, dir: &Path) -> Vec<Value> {
        match self.get_json("/question", Some(dir)) {
            Value::Array(a) => a,
            v => panic!("question: {v}"),
        }
    }

    /// `POST /question/{id}/reply`: one list of chosen labels per question, e.g. `&[&["A"]]`.
    pub fn reply_question(&self, dir: &Path, id: &str, answers: &[&[&str]]) {
        let v = self.post_json(
            &format!("/question/{id}/reply"),
            Some(dir),
            &json!({"answers": answers}),
        );
        assert_eq!(v, Value::Bool(true), "question reply");
    }

    /// `POST /question/{id}/reject`.
    pub fn reject_question(&self, dir: &Path, id: &str) {
        let v = self.post_json(&format!("/question/{id}/reject"), Some(dir), &json!({}));
        assert_eq!(v, Value::Bool(true), "question reject");
    }

    /// Wait until `sid` shows `state` in `/session/status` (`"idle"` = not listed).
    pub fn wait_status(&self, dir: &Path, sid: &str, state: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.status_of(dir, sid) == state)
    }
}

impl Drop for OpenCode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Pre-fill an isolated `~/.config/opencode` from `.tools/opencode-config-seed` (or, for an
/// older release, `.tools/opencode-VERSION/config-seed`: the package.json must name the
/// server's own version; see the install script) so that OpenCode skips its own
/// `npm install @opencode-ai/plugin`.
/// Seed an OpenCode config directory `cfg` with the installed plugin SDK (offline), as every
/// test home gets it: for a TUI started with a config directory of its own.
pub fn seed_config_dir(cfg: &Path, version: Option<&str>) {
    let seed = match version {
        None => tools_dir().join("opencode-config-seed"),
        Some(v) => tools_dir()
            .join(format!("opencode-{v}"))
            .join("config-seed"),
    };
    if !seed.join("node_modules/@opencode-ai/plugin").is_dir() {
        panic!(
            "missing {}: run scripts/install-test-deps.sh",
            seed.display()
        );
    }
    for f in ["package.json", "package-lock.json"] {
        fs::copy(seed.join(f), cfg.join(f)).expect("copy config seed");
    }
    std::os::unix::fs::symlink(seed.join("node_modules"), cfg.join("node_modules"))
        .expect("symlink seed node_modules");
}
