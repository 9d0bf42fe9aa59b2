//! polybar: Debian's real `polybar` under `Xvfb` runs the module exactly as shipped
//! (`integrations/polybar/ocbar.ini`, included by the test's bar), with a real OpenCode server +
//! fake LLM + a real `ocbar daemon`.
//!
//! What polybar draws is read from outside polybar, from the screen: a second bar of the same
//! font draws every printable ASCII character once (a plain script line), which gives the look
//! of each character cell; the ocbar bar's cells are then read back by matching them against
//! those (the segment uses ASCII glyphs, `ascii = true`). It must show:
//! 1. a busy session (`*1`), then its title after the turn finishes (`+1 + pb alpha`);
//! 2. a hostile title (`%{A1:touch pwned:}x%{A} %{F#f00}red`) as that very text, with no
//!    action: a click on it runs the module's own `click-left`, which opens the session (it
//!    leaves the bar), and no file `pwned` appears;
//! 3. the daemon down: the module is empty.
//!
//! Missing tools fail the test.

mod bars_common;
mod common;
mod daemon_harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bars_common::xvfb::{Display, KillOnDrop, update_doc_picture};
use bars_common::*;
use common::{Env, Options, require_tool, secs, spawn_owned, wait_until};
use daemon_harness::Daemon;

const WIDTH: usize = 1280;
const BAR_H: usize = 28;
/// The reference bar's offset from the top of the screen.
const REF_Y: usize = 40;
const BG: (u8, u8, u8) = (0x1e, 0x1e, 0x2e);
/// How many `|` the reference line starts with, to measure the cell width.
const PIPES: usize = 10;

/// Every printable ASCII character, in order (no `%{` among them).
fn ascii_set() -> String {
    (0x21u8..=0x7e).map(char::from).collect()
}

/// One character cell as ink / no ink, the bottom rows (the underline) left out.
type Cell = Vec<bool>;

/// Reads polybar's text off the screen by cell, from the reference bar's glyphs.
struct Reader {
    x0: f64,
    w: f64,
    atlas: Vec<(char, Cell)>,
}

fn ink(px: &[u8], x: usize, y: usize) -> bool {
    let i = (y * WIDTH + x) * 3;
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
    d(px[i], BG.0) + d(px[i + 1], BG.1) + d(px[i + 2], BG.2) > 60
}

fn cell(px: &[u8], top: usize, x0: f64, w: f64, i: usize) -> Cell {
    let left = (x0 + w * i as f64).round() as usize;
    let right = (x0 + w * (i + 1) as f64).round() as usize;
    let mut c = Vec::new();
    for y in top + 2..top + BAR_H - 4 {
        for x in left..right.min(WIDTH) {
            c.push(ink(px, x, y));
        }
    }
    c
}

impl Reader {
    /// From the reference bar: `PIPES` `|` (their spacing is the cell width), then
    /// [`ascii_set`].
    fn new(px: &[u8]) -> Option<Reader> {
        let mid = REF_Y + BAR_H / 2;
        let cols: Vec<usize> = (0..WIDTH).filter(|&x| ink(px, x, mid)).collect();
        // the pipes' ink columns, grouped
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for x in cols {
            match groups.last_mut() {
                Some((_, end)) if *end + 1 == x => *end = x,
                _ => groups.push((x, x)),
            }
        }
        if groups.len() < PIPES + 1 {
            return None;
        }
        let center = |g: (usize, usize)| (g.0 + g.1) as f64 / 2.0;
        let w = (center(groups[PIPES - 1]) - center(groups[0])) / (PIPES - 1) as f64;
        if !(5.0..30.0).contains(&w) {
            return None;
        }
        let x0 = center(groups[0]) - w / 2.0;
        let atlas = ascii_set()
            .chars()
            .enumerate()
            .map(|(i, ch)| (ch, cell(px, REF_Y, x0, w, PIPES + i)))
            .collect();
        Some(Reader { x0, w, atlas })
    }

    /// The text of the ocbar bar (at the top), trailing blanks trimmed.
    fn read(&self, px: &[u8]) -> String {
        let n = ((WIDTH as f64 - self.x0) / self.w) as usize;
        let mut text = String::new();
        for i in 0..n {
            let c = cell(px, 0, self.x0, self.w, i);
            if !c.iter().any(|&b| b) {
                text.push(' ');
                continue;
            }
            let best = self
                .atlas
                .iter()
                .map(|(ch, a)| {
                    let diff = a.iter().zip(&c).filter(|(x, y)| x != y).count();
                    (diff, *ch)
                })
                .min()
                .map_or('?', |(_, ch)| ch);
            text.push(best);
        }
        text.trim_end().to_string()
    }
}

fn polybar_config(dir: &Path, ref_script: &Path) -> PathBuf {
    let bar = |name: &str, y: usize, modules: &str| {
        format!(
            "[bar/{name}]\nwidth = {WIDTH}\nheight = {BAR_H}\noffset-y = {y}\n\
             background = #1e1e2e\nforeground = #cdd6f4\nline-size = 2\ndpi = 96\n\
             font-0 = DejaVu Sans Mono:pixelsize=16;3\npadding-left = 0\nmodule-margin = 0\n\
             override-redirect = true\nmodules-left = {modules}\n\n"
        )
    };
    let conf = format!(
        "include-file = {}\n\n{}{}[module/ref]\ntype = custom/script\nexec = {}\ntail = true\n",
        integration("polybar/ocbar.ini").display(),
        bar("ocbar", 0, "ocbar"),
        bar("ref", REF_Y, "ref"),
        ref_script.display()
    );
    let p = dir.join("polybar.ini");
    std::fs::write(&p, conf).unwrap();
    p
}

#[test]
fn polybar_draws_titles_as_text_and_a_click_opens_the_session() {
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let (_tmp, t, bin) = scratch("ocbar-bars-polybar-");
    let xdotool = require_tool("xdotool");

    let d = Daemon::start_with(
        &[&oc.url],
        &[],
        Some(
            "[render]\nascii = true\ntitle_width = 0\n[notify]\nenabled = false\n[i3blocks]\nsignal = 0\n",
        ),
    );
    let x = Display::start(WIDTH, 100);

    let ref_script = t.join("ref.sh");
    std::fs::write(
        &ref_script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' '{}{}'\nexec sleep 3600\n",
            "|".repeat(PIPES),
            ascii_set().replace('\'', "'\\''")
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &ref_script,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let conf = polybar_config(&t, &ref_script);
    let log = std::fs::File::create(t.join("polybar.log")).unwrap();
    let mut bars = Vec::new();
    let polybar_log = || std::fs::read_to_string(t.join("polybar.log")).unwrap_or_default();
    let bg_at = |px: &[u8], y: usize| {
        let i = (y * WIDTH + WIDTH - 2) * 3;
        px.get(i..i + 3) == Some(&[BG.0, BG.1, BG.2][..])
    };
    let start_bar = |name: &str| {
        let mut cmd = Command::new(require_tool("polybar"));
        cmd.args(["-c"])
            .arg(&conf)
            .arg(name)
            .current_dir(&t)
            .env_clear()
            .env("PATH", path_with(&bin))
            .env("HOME", &t)
            .env("LANG", "C.UTF-8")
            .env("DISPLAY", &x.name)
            .env("OCBAR_SOCKET", &d.socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.try_clone().unwrap());
        KillOnDrop(spawn_owned(cmd).expect("start polybar"))
    };
    // One bar after the other, each once mapped (its background at its right end). A polybar
    // that gave up at start (an X connection error, seen once in many runs under load) is
    // started again, once.
    for (name, y) in [("ref", REF_Y), ("ocbar", 0)] {
        let mut bar = start_bar(name);
        let mut restarted = false;
        let shown = wait_until(secs(30), || {
            if !restarted && bar.0.try_wait().is_ok_and(|s| s.is_some()) {
                eprintln!(
                    "polybar {name} exited at start; again. Its log:\n{}",
                    polybar_log()
                );
                bar = start_bar(name);
                restarted = true;
            }
            bg_at(&x.grab(), y + 2)
        });
        assert!(
            shown,
            "polybar's bar {name} never showed; polybar's log:\n{}",
            polybar_log()
        );
        bars.push(bar);
    }
    let mut reader = None;
    assert!(
        wait_until(secs(30), || {
            reader = Reader::new(&x.grab());
            reader.is_some()
        }),
        "the reference bar never showed its characters; polybar's log:\n{}",
        std::fs::read_to_string(t.join("polybar.log")).unwrap_or_default()
    );
    let reader = reader.unwrap();
    let shot = |name: &str| {
        let p = artifacts_dir().join(format!("polybar-{name}.png"));
        x.png(&format!("{WIDTH}x{BAR_H}+0+0"), &p);
        p
    };
    let wait_text = |what: &str, pred: &dyn Fn(&str) -> bool| -> String {
        let mut last = String::new();
        let ok = wait_until(secs(40), || {
            last = reader.read(&x.grab());
            pred(&last)
        });
        if !ok {
            x.png("1280x100+0+0", &artifacts_dir().join("polybar-failed.png"));
        }
        assert!(
            ok,
            "polybar never drew {what}; it drew {last:?} (tests/artifacts/polybar-failed.png); polybar's log:\n{}",
            polybar_log()
        );
        last
    };
    // The reader reads the reference bar's own characters back.
    let px = x.grab();
    let again: String = (0..ascii_set().len())
        .map(|i| {
            let c = cell(&px, REF_Y, reader.x0, reader.w, PIPES + i);
            reader
                .atlas
                .iter()
                .map(|(ch, a)| (a.iter().zip(&c).filter(|(p, q)| p != q).count(), *ch))
                .min()
                .map_or('?', |(_, ch)| ch)
        })
        .collect();
    assert_eq!(again, ascii_set(), "the cell reader reads the reference");

    // 1. busy, then the title once the turn finishes
    let sid = oc.create_session(&dir, Some("pb alpha"));
    oc.prompt(&dir, &sid, "work a bit [slow 4]");
    let busy = wait_text("the busy count", &|s| s.starts_with("*1"));
    eprintln!("polybar, busy: {busy:?}");
    let done = wait_text("the finished title", &|s| s.contains("pb alpha"));
    assert_eq!(
        done, "+1 + pb alpha",
        "what polybar draws once the turn finished"
    );
    shot("done");
    let picture = artifacts_dir().join("polybar-docs.png");
    x.png(&format!("360x{BAR_H}+0+0"), &picture);
    update_doc_picture(&picture, "polybar.png");

    // 2. a hostile title: drawn as text, with no action of its own
    let title = "%{A1:touch pwned:}x%{A} %{F#f00}red";
    let sid = oc.create_session(&dir, Some(title));
    oc.prompt(&dir, &sid, "quick");
    let drawn = wait_text("the hostile title", &|s| s.contains("red"));
    assert_eq!(
        drawn,
        format!("+2 + {title} (+1)"),
        "the title's tags are drawn as text"
    );
    let png = shot("hostile");
    eprintln!("polybar, hostile: {drawn:?} ({})", png.display());

    // A click on the title: the module's click-left opens it (it leaves the bar).
    let x_title = (reader.x0 + reader.w * 8.5) as u32;
    let click = Command::new(&xdotool)
        .args(["mousemove", &x_title.to_string(), "14", "click", "1"])
        .env("DISPLAY", &x.name)
        .output()
        .expect("run xdotool");
    assert!(click.status.success(), "xdotool: {click:?}");
    let after = wait_text("the next title after the click", &|s| !s.contains("touch"));
    assert_eq!(after, "+2 + pb alpha", "the click opened the hostile one");
    assert_eq!(d.session(title).unwrap()["unvisited"], false, "opened");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!t.join("pwned").exists(), "the title's action ran");

    // 3. The daemon down: the module empties (and polybar keeps running).
    drop(d);
    wait_text("an empty module without a daemon", &|s| s.is_empty());
    assert!(
        bars.iter_mut()
            .all(|b| b.0.try_wait().is_ok_and(|st| st.is_none())),
        "polybar exited"
    );
}

/// `ocbar watch` (what the module runs) ends once the bar's end of its stdout is gone, even
/// while the daemon is down and nothing is written (a bar killed hard can leave the shell
/// between them alive, so the parent check alone would not end it).
#[test]
fn watch_ends_when_its_reader_is_gone_while_the_daemon_is_down() {
    let (_tmp, t, _bin) = scratch("ocbar-bars-watch-");
    let mut cmd = Command::new(daemon_harness::ocbar_bin());
    cmd.args(["watch", "--format", "polybar"])
        .env("OCBAR_SOCKET", t.join("no-daemon.sock"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut watch = spawn_owned(cmd).expect("start ocbar watch");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(watch.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "\n", "the offline line (empty)");
    drop(watch.stdout.take());
    assert!(
        wait_until(secs(10), || watch.try_wait().is_ok_and(|s| s.is_some())),
        "ocbar watch still runs with nobody reading it"
    );
}
