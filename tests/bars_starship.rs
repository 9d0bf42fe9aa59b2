//! The starship segment, in real starship, driven by a real OpenCode server + fake LLM + a real
//! `ocbar daemon`.
//!
//! `starship prompt` runs from an empty temp dir with a fresh `STARSHIP_CACHE`, with
//! `STARSHIP_CONFIG` = `integrations/starship/starship.toml` unchanged and the `ocbar` under
//! test first on PATH (docs/testing.md):
//! 1. a finished session: its title (bold, green) and the done glyph in the prompt;
//! 2. a busy session: the busy glyph;
//! 3. a hostile title: shown literally; every ESC in the prompt starts an SGR, no other control
//!    character from data gets through;
//! 4. the daemon down: the prompt still renders at once, without the segment (not even its
//!    space), and the module costs far less than starship's 500 ms `command_timeout`.
//!
//! One OpenCode server for all of it (one #[test]); missing tools fail the test.

mod bars_common;
mod common;
mod daemon_harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bars_common::*;
use common::{Env, Options, require_tool, secs};
use daemon_harness::Daemon;

struct Starship {
    bin: PathBuf,
    config: PathBuf,
    cwd: PathBuf,
    root: PathBuf,
    path: String,
    runs: u32,
}

/// What one `starship` call printed, and how long it took.
struct Run {
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Starship {
    fn new(root: &Path, bin_dir: &Path) -> Starship {
        let cwd = root.join("empty");
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::create_dir_all(root.join("home")).unwrap();
        Starship {
            bin: require_tool("starship"),
            config: integration("starship/starship.toml"),
            cwd,
            root: root.to_path_buf(),
            path: path_with(bin_dir),
            runs: 0,
        }
    }

    /// `starship ARGS` against `socket`, with a fresh cache each time.
    fn run(&mut self, args: &[&str], socket: &Path) -> Run {
        self.runs += 1;
        let cache = self.root.join(format!("cache-{}", self.runs));
        let t0 = Instant::now();
        let out = Command::new(&self.bin)
            .args(args)
            .current_dir(&self.cwd)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", self.root.join("home"))
            .env("LANG", "C.UTF-8")
            .env("TERM", "xterm-256color")
            .env("STARSHIP_CONFIG", &self.config)
            .env("STARSHIP_CACHE", &cache)
            .env("OCBAR_SOCKET", socket)
            .output()
            .expect("run starship");
        let took = t0.elapsed();
        assert!(out.status.success(), "starship {args:?} failed: {out:?}");
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took,
        }
    }

    fn prompt(&mut self, socket: &Path) -> Run {
        self.run(&["prompt"], socket)
    }

    /// The prompt once it satisfies `pred` (the daemon may need a moment to publish).
    fn wait_prompt(&mut self, socket: &Path, what: &str, pred: impl Fn(&str) -> bool) -> Run {
        let mut last = String::new();
        let deadline = Instant::now() + secs(15);
        while Instant::now() < deadline {
            let r = self.prompt(socket);
            if pred(&r.stdout) {
                return r;
            }
            last = r.stdout;
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the starship prompt never showed {what}; last: {last:?}");
    }

    /// The custom module in `starship timings`: its own time in ms, and its output as shown
    /// there (quoted).
    fn module_timing(&mut self, socket: &Path) -> (u64, String) {
        let r = self.run(&["timings"], socket);
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("custom.ocbar"))
            .unwrap_or_else(|| panic!("no custom.ocbar in starship timings: {}", r.stdout));
        let mut parts = line.splitn(3, " - ");
        parts.next();
        let t = parts.next().unwrap_or("").trim();
        let shown = parts.next().unwrap_or("").trim().to_string();
        let ms = if t.starts_with('<') {
            0
        } else {
            t.trim_end_matches("ms")
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("cannot read the time in {line:?}"))
        };
        (ms, shown)
    }
}

#[test]
fn starship_prompt_renders_the_segment_and_stays_fast_without_a_daemon() {
    let started = Instant::now();
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let tmp = tempfile::Builder::new()
        .prefix("ocbar-bars-starship-")
        .tempdir()
        .unwrap();
    let t = tmp.path().canonicalize().unwrap();
    let bin = ocbar_bin_dir(&t);
    let mut st = Starship::new(&t, &bin);

    let d = Daemon::start_with(
        &[&oc.url],
        &[],
        Some("[render]\ntitle_width = 0\n[notify]\nenabled = false\n"),
    );
    let socket = d.socket.clone();

    // 1. a finished session, unvisited: its title and the done glyph, coloured
    let sid = oc.create_session(&dir, Some("starship alpha"));
    oc.prompt(&dir, &sid, "quick");
    d.wait_state("starship alpha", "done", secs(30));
    let r = st.wait_prompt(&socket, "the finished title", |p| {
        strip_sgr(p).contains("starship alpha")
    });
    let plain = strip_sgr(&r.stdout);
    assert!(plain.contains(DEFAULT_DONE), "done glyph: {plain:?}");
    assert!(
        r.stdout.contains("\u{1b}[32m") || r.stdout.contains("\u{1b}[1;32m"),
        "the segment is coloured (done: green): {:?}",
        r.stdout
    );
    assert!(
        r.stdout.contains("\u{1b}[39m"),
        "colours reset to the default: {:?}",
        r.stdout
    );

    // 2. a busy session: the busy glyph
    let sid = oc.create_session(&dir, Some("starship beta"));
    oc.prompt(&dir, &sid, "work a bit [slow 4]");
    d.wait_state("starship beta", "busy", secs(30));
    st.wait_prompt(&socket, "the busy glyph", |p| p.contains(DEFAULT_BUSY));
    d.wait_state("starship beta", "done", secs(30));
    assert!(d.run(&["seen", "--all"]).status.success());

    // 3. a hostile title: literal, and no control character from data in the prompt
    let pwned = t.join("pwned");
    let title = hostile_title(&pwned);
    let sid = oc.create_session(&dir, Some(&title));
    oc.prompt(&dir, &sid, "quick");
    d.wait_state(&title, "done", secs(30));
    let want = cleaned(&title);
    let r = st.wait_prompt(&socket, "the hostile title", |p| {
        strip_sgr(p).contains(want.as_str())
    });
    let plain = strip_sgr(&r.stdout);
    assert!(
        !plain.chars().any(|c| c.is_control() && c != '\n'),
        "a control character other than starship's own SGR and line break: {:?}",
        r.stdout
    );
    assert!(!pwned.exists());

    // 4. the daemon down: the prompt renders at once, without the segment
    drop(d);
    st.prompt(&socket); // warm the page cache for the binaries
    let r = st.prompt(&socket);
    let plain = strip_sgr(&r.stdout);
    assert!(
        plain.contains('❯'),
        "the rest of the prompt renders: {plain:?}"
    );
    assert!(
        !plain.contains(DEFAULT_DONE) && !plain.contains("starship alpha"),
        "no segment without a daemon: {plain:?}"
    );
    assert!(
        !r.stderr.contains("timed out"),
        "starship timed the module out: {}",
        r.stderr
    );
    let (module, shown) = st.module_timing(&socket);
    assert_eq!(
        shown, "\"\"",
        "the module renders nothing, not even its space"
    );
    assert!(
        module < 200,
        "the segment costs {module} ms without a daemon (command_timeout is 500 ms)"
    );
    assert!(
        r.took < Duration::from_millis(450),
        "starship prompt took {:?} without a daemon",
        r.took
    );
    eprintln!(
        "bars_starship: no daemon: prompt {} ms, the ocbar module {} ms; whole test {:.1?}",
        ms(r.took),
        module,
        started.elapsed()
    );
}
