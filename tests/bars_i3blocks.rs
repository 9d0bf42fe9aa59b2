//! i3blocks: Debian's real `i3blocks` runs the shipped block (`integrations/i3blocks/ocbar.conf`,
//! with its `signal=` set to the number this test's daemon uses), with a real OpenCode server +
//! fake LLM + a real `ocbar daemon`. The test plays i3bar: it reads i3blocks' stdout (the i3bar
//! protocol) and writes clicks to its stdin as i3bar writes them.
//!
//! 1. a finished session: `full_text` shows its title, after the daemon's signal (the block has
//!    `interval=once`: nothing polls), with `short_text` and `color`;
//! 2. a session waiting for a question: `urgent` is true;
//! 3. a Pango-hostile title: escaped in `full_text`, shown literally;
//! 4. a left click (button 1) opens the newest unvisited session: it is marked visited and the
//!    block shows the next one;
//! 5. the README's picture: the same block through i3bar, under i3 on `Xvfb`
//!    (`tests/artifacts/i3bar.png`; `OCBAR_UPDATE_DOCS=1` also `docs/i3bar.png`).
//!
//! Missing tools fail the test.

mod bars_common;
mod common;
mod daemon_harness;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bars_common::xvfb::{Display, KillOnDrop, update_doc_picture};
use bars_common::*;
use common::{Env, Options, require_tool, secs, spawn_owned, wait_until};
use daemon_harness::Daemon;
use serde_json::Value;

/// The signal this test's daemon and block use (not the shipped 11, which other daemons of
/// the same user, in tests running at the same time, also send).
const SIGNAL: u8 = 23;

/// i3blocks' output so far: every status line i3bar would get, parsed.
struct Bar {
    lines: Arc<Mutex<Vec<Value>>>,
    stdin: ChildStdin,
    child: std::process::Child,
    clicks_started: bool,
}

impl Bar {
    /// Our block in the newest status line.
    fn block(&self) -> Option<Value> {
        let lines = self.lines.lock().unwrap();
        lines
            .last()?
            .as_array()?
            .iter()
            .find(|b| b["name"] == "ocbar")
            .cloned()
    }

    fn runs(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    fn wait_block(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let mut last = None;
        let ok = wait_until(secs(30), || {
            last = self.block();
            last.as_ref().is_some_and(&pred)
        });
        assert!(ok, "i3blocks never showed {what}; last block: {last:?}");
        last.unwrap()
    }

    /// A click on the block, as i3bar writes it (an endless JSON array, one event a line).
    fn click(&mut self, button: u32) {
        if !self.clicks_started {
            self.stdin.write_all(b"[\n").unwrap();
            self.clicks_started = true;
        }
        let ev = format!(
            "{{\"name\":\"ocbar\",\"instance\":\"\",\"button\":{button},\"x\":10,\"y\":5,\"relative_x\":4,\"relative_y\":5,\"width\":200,\"height\":20}}\n"
        );
        self.stdin.write_all(ev.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn full_text(b: &Value) -> &str {
    b["full_text"].as_str().unwrap_or("")
}

#[test]
fn i3blocks_follows_changes_marks_urgency_escapes_and_opens_on_click() {
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let (_tmp, t, bin) = scratch("ocbar-bars-i3blocks-");

    let d = Daemon::start_with(
        &[&oc.url],
        &[],
        Some(&format!(
            "[render]\nascii = true\ntitle_width = 0\n[notify]\nenabled = false\n[i3blocks]\nsignal = {SIGNAL}\n"
        )),
    );

    // The shipped block, its signal number set to this test's.
    let shipped = std::fs::read_to_string(integration("i3blocks/ocbar.conf")).unwrap();
    assert!(shipped.contains("\nsignal=11\n") && shipped.contains("\ninterval=once\n"));
    let conf = t.join("i3blocks.conf");
    std::fs::write(
        &conf,
        shipped.replace("\nsignal=11\n", &format!("\nsignal={SIGNAL}\n")),
    )
    .unwrap();

    let mut cmd = Command::new(require_tool("i3blocks"));
    cmd.arg("-c")
        .arg(&conf)
        .current_dir(&t)
        .env_clear()
        .env("PATH", path_with(&bin))
        .env("HOME", &t)
        .env("LANG", "C.UTF-8")
        .env("OCBAR_SOCKET", &d.socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = spawn_owned(cmd).expect("start i3blocks");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        let mut header = true;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if header {
                let h: Value = serde_json::from_str(&line).expect("i3bar header");
                assert_eq!(h["click_events"], true, "{line}");
                header = false;
                continue;
            }
            // `[` opens the endless array (alone, or before the first line), `,` separates.
            let body = line.strip_prefix(',').unwrap_or(&line);
            let body = if body.starts_with("[[") {
                &body[1..]
            } else {
                body
            };
            if body == "[" || body.is_empty() {
                continue;
            }
            if let Ok(v) = serde_json::from_str::<Value>(body) {
                sink.lock().unwrap().push(v);
            }
        }
    });
    let mut bar = Bar {
        lines,
        stdin,
        child,
        clicks_started: false,
    };
    // Once connected nothing is relevant (before: the offline marker): i3blocks leaves the
    // empty block out of the line.
    assert!(
        wait_until(secs(30), || bar.runs() > 0
            && bar.block().is_none_or(|b| full_text(&b).is_empty())),
        "i3blocks never showed an empty block; last: {:?}",
        bar.block()
    );

    // 1. a finished session: its title, after the daemon's signal
    let sid = oc.create_session(&dir, Some("i3 alpha"));
    oc.prompt(&dir, &sid, "quick");
    let b = bar.wait_block("the finished title", |b| full_text(b).contains("i3 alpha"));
    assert!(
        full_text(&b).contains("<span foreground='#a6e3a1' weight='bold'>i3 alpha</span>"),
        "the title in bold, in done's colour: {b}"
    );
    assert_eq!(b["color"], "#a6e3a1", "{b}");
    assert_eq!(b["markup"], "pango", "{b}");
    assert!(
        b["short_text"]
            .as_str()
            .is_some_and(|s| !s.contains("i3 alpha") && !s.is_empty()),
        "short_text: the counts without the title: {b}"
    );
    assert!(b.get("urgent").is_none_or(|u| u == false), "{b}");
    let runs = bar.runs();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        bar.runs(),
        runs,
        "nothing changed, so the block did not run again (no polling)"
    );

    // 2. a session waiting on a question: urgent
    let sid_q = oc.create_session(&dir, Some("i3 asks"));
    oc.prompt(&dir, &sid_q, "need input [question]");
    let b = bar.wait_block("urgent while a question waits", |b| b["urgent"] == true);
    eprintln!("i3blocks, waiting: {b}");
    let q = oc.pending_questions(&dir);
    let id = q
        .iter()
        .find(|q| q["sessionID"] == sid_q.as_str())
        .and_then(|q| q["id"].as_str())
        .expect("the pending question");
    oc.reject_question(&dir, id);
    bar.wait_block("no longer urgent", |b| {
        b.get("urgent").is_none_or(|u| u == false)
    });
    assert!(
        wait_until(secs(30), || d
            .session("i3 asks")
            .is_some_and(|s| s["unvisited"] == true)),
        "the rejected question ends the turn"
    );
    assert!(d.run(&["seen", "i3 asks"]).status.success());

    // 3. a Pango-hostile title: escaped, shown literally
    let title = "<span foreground=\"red\">x</span> & <b>bold</b>";
    let sid_h = oc.create_session(&dir, Some(title));
    oc.prompt(&dir, &sid_h, "quick");
    let b = bar.wait_block("the hostile title", |b| full_text(b).contains("&lt;span"));
    assert!(
        full_text(&b).contains(
            "&lt;span foreground=&quot;red&quot;&gt;x&lt;/span&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
        ),
        "every Pango special escaped: {b}"
    );

    // 4. a left click opens the newest unvisited session (the hostile one): the block then
    //    shows the one before it.
    bar.click(1);
    let b = bar.wait_block("the next title after the click", |b| {
        !full_text(b).contains("&lt;span") && full_text(b).contains("i3 alpha")
    });
    eprintln!("i3blocks, after the click: {b}");
    assert_eq!(d.session(title).unwrap()["unvisited"], false, "opened");
    assert_eq!(d.session("i3 alpha").unwrap()["unvisited"], true);
    drop(bar);

    // 5. The picture: the same block through i3bar, under i3 on a virtual X server.
    let png = i3bar_picture(&t, &conf, &path_with(&bin), &d.socket);
    update_doc_picture(&png, "i3bar.png");
    eprintln!("i3bar picture: {}", png.display());
}

/// i3 with one bar whose status line is i3blocks running `conf`; returns the bar's right end
/// (where the block is) as a PNG, once something is drawn there.
fn i3bar_picture(t: &Path, conf: &Path, path: &str, socket: &Path) -> PathBuf {
    const W: usize = 1280;
    const H: usize = 200;
    let x = Display::start(W, H);
    let i3conf = t.join("i3.conf");
    std::fs::write(
        &i3conf,
        format!(
            "# i3 config file (v4)\nfont pango:DejaVu Sans Mono 12\nbar {{\n  status_command {} -c {}\n  position bottom\n  tray_output none\n  colors {{\n    background #1e1e2e\n    statusline #cdd6f4\n  }}\n}}\n",
            require_tool("i3blocks").display(),
            conf.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(require_tool("i3"));
    cmd.arg("-c")
        .arg(&i3conf)
        .current_dir(t)
        .env_clear()
        .env("PATH", path)
        .env("HOME", t)
        .env("LANG", "C.UTF-8")
        .env("DISPLAY", &x.name)
        .env("OCBAR_SOCKET", socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _i3 = KillOnDrop(spawn_owned(cmd).expect("start i3"));
    // The bar's right end, where i3bar draws the block's text (not the bar's colour). At the
    // bottom: i3's error bar, if any, would be at the top.
    let bar_h = 22;
    let drawn = |px: &[u8]| {
        (H - bar_h..H).any(|y| {
            (W - 300..W).any(|x| {
                let i = (y * W + x) * 3;
                px.get(i..i + 3)
                    .is_some_and(|p| p != [0x1e, 0x1e, 0x2e] && p != [0, 0, 0])
            })
        })
    };
    assert!(
        wait_until(secs(30), || drawn(&x.grab())),
        "i3bar never drew the block"
    );
    std::thread::sleep(Duration::from_millis(300));
    let png = artifacts_dir().join("i3bar.png");
    x.png(&format!("420x{bar_h}+{}+{}", W - 420, H - bar_h), &png);
    png
}
