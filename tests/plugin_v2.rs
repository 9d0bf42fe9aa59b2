//! ocbar's OpenCode 2 plugin (`integrations/opencode/ocbar/tui.tsx` over `core.tsx`), loaded
//! and exercised in a stand-in for OpenCode 2's TUI (`tests/support/plugin_v2_harness.mjs`,
//! which implements the plugin `context` from OpenCode 2's published plugin API: no 2.x build
//! can be installed here), against a real `ocbar daemon` following a real OpenCode server
//! (1.18.33, driven by the fake LLM) that the TUI is attached to (`--server URL`).
//!
//! What a user of OpenCode 2 would see: the panel in `sidebar.content` with the finished,
//! unvisited session; the TUI in `doctor` with its pid, tmux pane, screen and focus; `<leader>o`
//! ("open newest unvisited") switching the TUI to it through the daemon (`open` down the TUI
//! channel -> `ui.router.navigate`), which marks it visited; the toast when nothing is left;
//! the session picker (`ui.dialog.select`); and the channel gone when the plugin is disposed.
//!
//! A second test typechecks the plugin with TypeScript against OpenCode 2's plugin types
//! (`tests/support/opencode2-types/`, written from its source: no package with them is
//! reachable).

mod common;
mod daemon_harness;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{require_tool, secs, shared_env, tools_dir, wait_or_fail};
use daemon_harness::Daemon;
use serde_json::{Value, json};

/// Where `scripts/install-test-deps.sh` puts TypeScript and Solid for the harness.
fn harness_modules() -> PathBuf {
    let p = tools_dir().join("plugin-harness/node_modules");
    assert!(
        p.join("typescript").is_dir() && p.join("solid-js").is_dir(),
        "missing {}: run scripts/install-test-deps.sh",
        p.display()
    );
    p
}

fn plugin_dir() -> PathBuf {
    common::repo_dir().join("integrations/opencode/ocbar")
}

/// The harness process: commands in, reports out (read on a thread, so waits can time out).
struct Harness {
    child: Child,
    stdin: ChildStdin,
    reports: mpsc::Receiver<Value>,
}

impl Harness {
    fn start(d: &Daemon, argv: &[&str], env: &[(&str, &std::path::Path)]) -> Harness {
        let node = require_tool("node");
        let mut child = common::spawn_owned({
            let mut c = Command::new(node);
            c.arg(common::repo_dir().join("tests/support/plugin_v2_harness.mjs"))
                .arg(harness_modules())
                .arg(plugin_dir())
                .args(argv)
                .env("OCBAR_SOCKET", &d.socket)
                .env("TMUX", "/tmp/tmux-ocbar-test/default,4242,0")
                .env("TMUX_PANE", "%7")
                .envs(env.iter().copied())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            c
        })
        .expect("start node");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, reports) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("harness said {line:?}: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Harness {
            child,
            stdin,
            reports,
        }
    }

    fn send(&mut self, cmd: Value) {
        writeln!(self.stdin, "{cmd}").expect("harness stdin");
    }

    /// The next report that has `key`; earlier ones are dropped. Fails after `timeout`.
    fn wait_for(&mut self, key: &str, timeout: Duration) -> Value {
        let end = std::time::Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.reports.recv_timeout(left) {
                Ok(v) if v.get("error").is_some() => panic!("harness: {v}"),
                Ok(v) if v.get(key).is_some() => return v,
                Ok(_) => {}
                Err(e) => panic!("no {key:?} from the harness within {timeout:?}: {e}"),
            }
        }
    }

    /// The panel's lines, rendered again until `pred` holds.
    fn render_until(&mut self, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
        let end = std::time::Instant::now() + secs(30);
        loop {
            self.send(json!({"cmd": "render"}));
            let lines: Vec<String> =
                serde_json::from_value(self.wait_for("render", secs(10))["render"].clone())
                    .unwrap();
            if pred(&lines) {
                return lines;
            }
            assert!(
                std::time::Instant::now() < end,
                "the panel never showed {what}: {lines:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn doctor(d: &Daemon) -> String {
    String::from_utf8_lossy(&d.run(&["doctor"]).stdout).into_owned()
}

#[test]
fn the_opencode_2_plugin_in_a_tui() {
    let env = shared_env();
    let oc = &env.oc;
    let d = Daemon::start_with(&[&oc.url], &[], Some("[notify]\nenabled = false\n"));
    let dir = oc.dir(0);
    let sid = oc.create_session(dir, Some("v2 plugin: the finished one"));
    oc.prompt(dir, &sid, "hello");
    d.wait_state("v2 plugin: the finished one", "done", secs(90));

    let mut h = Harness::start(&d, &["--server", &oc.url], &[]);
    let ready = h.wait_for("ready", secs(60));
    assert_eq!(ready["id"], "ocbar", "{ready}");
    assert_eq!(
        ready["slots"],
        json!([{"append": "sidebar.content"}]),
        "{ready}"
    );
    let commands = ready["commands"].as_array().unwrap();
    let open_unvisited = commands
        .iter()
        .find(|c| c["id"] == "ocbar.open-unvisited")
        .unwrap_or_else(|| panic!("{ready}"));
    assert_eq!(open_unvisited["bind"], "<leader>o");
    assert_eq!(open_unvisited["palette"], true);
    assert!(
        commands
            .iter()
            .any(|c| c["id"] == "ocbar.sessions" && c["palette"] == true),
        "{ready}"
    );

    // The panel: the finished session, unvisited (●), with its state.
    let panel = h.render_until("the unvisited session", |l| {
        l.iter()
            .any(|l| l.starts_with("● ") && l.contains("v2 plugin: the finished one"))
    });
    assert!(panel[0].starts_with("ocbar"), "{panel:#?}");
    assert!(
        panel.iter().any(|l| l.trim_start().starts_with("done")),
        "{panel:#?}"
    );

    // The TUI, as the daemon sees it: its pid and tmux pane, attached to the server it shows,
    // on its home screen, on screen (its tmux server is made up: nothing says otherwise).
    let pid = h.child.id();
    wait_or_fail(secs(10), "the TUI in doctor", || {
        doctor(&d).contains(&format!(
            "tui {pid} (tmux pane %7 on /tmp/tmux-ocbar-test/default): attached to {}; shows no session (on screen: the tmux server on /tmp/tmux-ocbar-test/default does not answer",
            oc.url
        ))
    });

    // Focus: the terminal loses it (a blur: from then on the plugin's focus counts), then
    // regains it.
    h.send(json!({"cmd": "focus", "focused": false}));
    wait_or_fail(secs(10), "not focused in doctor", || {
        doctor(&d).contains("shows no session (not on screen: its terminal reported a blur")
    });
    h.send(json!({"cmd": "focus", "focused": true}));

    // <leader>o: the daemon picks this TUI and sends `open` down its channel; the plugin
    // navigates; the session on screen is reported and becomes visited.
    h.send(json!({"cmd": "run", "id": "ocbar.open-unvisited"}));
    let nav = h.wait_for("navigate", secs(15));
    assert_eq!(
        nav["navigate"],
        json!({"type": "session", "sessionID": sid}),
        "{nav}"
    );
    // `open` answers once it has done what it could (here tmux fails: the test's $TMUX names no
    // server); the plugin shows that answer as a toast, which must not be taken for the next
    // one's below.
    let opened = h.wait_for("toast", secs(15));
    assert!(
        opened["toast"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("TUI pid {pid} → {sid}"))),
        "{opened}"
    );
    wait_or_fail(secs(10), "the session visited", || {
        d.session("v2 plugin: the finished one")
            .is_some_and(|s| s["unvisited"] == false)
    });
    assert!(
        doctor(&d).contains(&format!("shows {sid} (on screen: ")),
        "{}",
        doctor(&d)
    );
    let panel = h.render_until("the session as the one on screen", |l| {
        l.iter()
            .any(|l| l.starts_with("▸ ") && l.contains("v2 plugin: the finished one"))
    });
    assert!(!panel.iter().any(|l| l.starts_with("● ")), "{panel:#?}");

    // Nothing left to open: a toast says so.
    h.send(json!({"cmd": "run", "id": "ocbar.open-unvisited"}));
    let toast = h.wait_for("toast", secs(10));
    assert_eq!(toast["toast"]["message"], "no unvisited session", "{toast}");

    // The picker: every session, this TUI's marked as such; choosing one opens it.
    h.send(json!({"cmd": "run", "id": "ocbar.sessions"}));
    let select = h.wait_for("select", secs(10));
    let option = select["select"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["value"] == sid.as_str())
        .unwrap_or_else(|| panic!("{select}"))
        .clone();
    assert_eq!(option["title"], "v2 plugin: the finished one", "{select}");
    assert_eq!(option["category"], "this TUI", "{select}");
    assert!(
        option["description"].as_str().unwrap().starts_with("done"),
        "{select}"
    );
    h.send(json!({"cmd": "choose", "value": sid}));
    let toast = h.wait_for("toast", secs(15));
    assert_eq!(toast["toast"]["title"], "ocbar", "{toast}");

    // Disposed (the TUI exits or reloads the plugin): its slot and its channel are gone.
    h.send(json!({"cmd": "dispose"}));
    let disposed = h.wait_for("disposed", secs(10));
    assert_eq!(disposed["slots"], 0, "{disposed}");
    wait_or_fail(secs(10), "the TUI gone from doctor", || {
        !doctor(&d).contains(&format!("tui {pid}"))
    });
    drop(h);

    // Without --server, the TUI shows the shared background service, as recorded in
    // $XDG_STATE_HOME/opencode/service.json: the daemon is told to follow that.
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(state.path().join("opencode")).unwrap();
    std::fs::write(
        state.path().join("opencode/service.json"),
        json!({"url": format!("{}/", oc.url), "pid": 1, "password": "x", "version": "2.0.26"})
            .to_string(),
    )
    .unwrap();
    let mut h = Harness::start(&d, &[], &[("XDG_STATE_HOME", state.path())]);
    h.wait_for("ready", secs(60));
    let pid = h.child.id();
    wait_or_fail(secs(10), "the service's TUI in doctor", || {
        doctor(&d).contains(&format!("): attached to {}; shows no session", oc.url))
            && doctor(&d).contains(&format!("tui {pid} "))
    });
    drop(h);

    // --standalone: a private server nobody else reaches; the daemon bridges the TUI.
    let mut h = Harness::start(&d, &["--standalone"], &[("XDG_STATE_HOME", state.path())]);
    h.wait_for("ready", secs(60));
    let pid = h.child.id();
    wait_or_fail(secs(10), "the standalone TUI bridged in doctor", || {
        doctor(&d).contains(&format!("plain TUI, bridged as tui://{pid}"))
    });
}

/// The plugin typechecks (strict) against OpenCode 2's plugin API
/// (`tests/support/opencode2-types/plugin-tui.d.ts`) and OpenTUI's JSX elements and Solid (the
/// real `@opentui/solid` and `solid-js` packages): a misspelt slot, route or prop, or a toast
/// without a message, fails here. The OpenCode 1 shell is checked against the same core.
#[test]
fn the_plugin_typechecks_against_opencode_2s_plugin_types() {
    let node = require_tool("node");
    let nm = harness_modules();
    assert!(
        nm.join("@opentui/solid/jsx-runtime.d.ts").is_file() && nm.join("@types/node").is_dir(),
        "missing @opentui/solid or @types/node in {}: run scripts/install-test-deps.sh",
        nm.display()
    );
    let repo = common::repo_dir();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({
        "compilerOptions": {
            "strict": true,
            "noEmit": true,
            "target": "ES2022",
            "module": "ESNext",
            "moduleResolution": "bundler",
            "allowImportingTsExtensions": true,
            "verbatimModuleSyntax": true,
            "jsx": "preserve",
            "jsxImportSource": "@opentui/solid",
            "skipLibCheck": true,
            "types": ["node"],
            "typeRoots": [nm.join("@types")],
            "baseUrl": "/",
            "paths": {
                "@opencode/plugin/tui": [repo.join("tests/support/opencode2-types/plugin-tui.d.ts")],
                "*": [nm.join("*"), nm.join("@types/*")],
            },
        },
        "files": [
            plugin_dir().join("tui.tsx"),
            plugin_dir().join("core.tsx"),
            repo.join("integrations/opencode/ocbar.tsx"),
        ],
    });
    let tsconfig = dir.path().join("tsconfig.json");
    std::fs::write(&tsconfig, config.to_string()).unwrap();
    let out = Command::new(node)
        .arg(nm.join("typescript/bin/tsc"))
        .arg("-p")
        .arg(&tsconfig)
        .output()
        .expect("run tsc");
    assert!(
        out.status.success(),
        "tsc:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
