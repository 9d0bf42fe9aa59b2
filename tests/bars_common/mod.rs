//! What the tests of the real bars (`tests/bars_*.rs`) share: the client on a PATH, a hostile
//! session title and what it must look like once cleaned, SGR stripping, timing helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Glyphs of the default (Unicode) set, as the renderers write them.
pub const DEFAULT_BUSY: char = '\u{25d4}';
pub const DEFAULT_DONE: char = '\u{2713}';

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `integrations/`, which the tests use unchanged.
pub fn integration(rel: &str) -> PathBuf {
    let p = repo().join("integrations").join(rel);
    assert!(p.is_file(), "missing {}", p.display());
    p
}

/// `DIR/bin/ocbar` → the binary under test (a symlink), for bars that find `ocbar` on PATH.
/// Returns `DIR/bin`.
pub fn ocbar_bin_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    let link = bin.join("ocbar");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ocbar"), &link).expect("symlink ocbar");
    bin
}

/// `bin` in front of the system PATH.
pub fn path_with(bin: &Path) -> String {
    format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display())
}

/// A session title that tries every trick on every bar: tmux styles and `#()` commands, Pango
/// markup and entities, terminal escapes (CSI colour, OSC window title, BEL), a newline, a
/// trailing `;` (tmux's command separator). `pwned` is created if anything runs the command.
pub fn hostile_title(pwned: &Path) -> String {
    format!(
        "#[fg=red]x #(touch {}) <b>&amp;</b> \u{1b}[31mred \u{1b}]0;evil\u{7} bell\u{7}\nline2 ##{{pane_title}} end;",
        pwned.display()
    )
}

/// What every bar must show for `title`: control characters and whitespace runs become one
/// space, ends trimmed (the renderers' `escape::clean`).
pub fn cleaned(title: &str) -> String {
    title
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` without SGR sequences (`ESC [ … m`).
pub fn strip_sgr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            let mut seq = String::new();
            for d in chars.by_ref() {
                if d.is_ascii_digit() || d == ';' || d == ':' {
                    seq.push(d);
                    continue;
                }
                if d != 'm' {
                    // not an SGR: keep it visible so the caller's check sees it
                    out.push('\u{1b}');
                    out.push('[');
                    out.push_str(&seq);
                    out.push(d);
                }
                break;
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Poll `f` every `step` until it returns `Some`, or `None` after `timeout`.
pub fn poll<T>(timeout: Duration, step: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(step);
    }
}

/// Where tests keep screenshots and logs for humans (`tests/artifacts/`, gitignored).
pub fn artifacts_dir() -> PathBuf {
    let d = repo().join("tests/artifacts");
    std::fs::create_dir_all(&d).expect("mkdir tests/artifacts");
    d
}

/// Milliseconds, for reports.
pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}
