//! Shell prompts: `eval "$(ocbar init bash|zsh)"` and `ocbar init fish | source` in real,
//! interactive bash, zsh (with and without `PROMPT_SUBST`) and fish, each in a tmux pane, with a
//! real OpenCode server + fake LLM + a real `ocbar daemon`.
//!
//! Each shell starts from a user prompt of its own (`user-prompt`), then:
//! 1. a finished session titled `$(touch pwned)`: every prompt shows the title as text, the
//!    user's prompt is still there after it, and no file `pwned` appears;
//! 2. a finished session titled with a backquoted command, `%F{red}`, a backslash and `\u`:
//!    shown as written (zsh does not turn it red, bash does not run or decode it);
//! 3. the daemon down: the segment is gone, the user's prompt stays.
//!
//! One OpenCode server and one tmux server for all of it; missing tools fail the test.

mod bars_common;
mod common;
mod daemon_harness;

use std::path::Path;

use bars_common::xvfb::{Display, KillOnDrop, update_doc_picture};
use bars_common::*;
use common::tmux::Tmux;
use common::{Env, Options, require_tool, secs, spawn_owned, wait_until};
use daemon_harness::Daemon;

/// The shells under test, one tmux session each (`zsh-subst`: zsh with `PROMPT_SUBST`).
const SHELLS: [&str; 4] = ["bash", "zsh", "zsh-subst", "fish"];

/// The user's own prompt in every shell.
const USER_PROMPT: &str = "user-prompt";

/// Write each shell's start-up file under `home` and return the command line of its pane.
fn shell_argv(name: &str, home: &Path, path: &str, socket: &Path) -> Vec<String> {
    let dir = home.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut env = vec![
        "env".to_string(),
        "-i".to_string(),
        format!("PATH={path}"),
        format!("HOME={}", dir.display()),
        "TERM=tmux-256color".to_string(),
        "LANG=C.UTF-8".to_string(),
        format!("OCBAR_SOCKET={}", socket.display()),
    ];
    let shell = |s: &str| require_tool(s).to_string_lossy().into_owned();
    match name {
        "bash" => {
            let rc = dir.join("bashrc");
            std::fs::write(
                &rc,
                format!("PS1='{USER_PROMPT} bash\\$ '\neval \"$(ocbar init bash)\"\n"),
            )
            .unwrap();
            env.extend([
                shell("bash"),
                "--noprofile".into(),
                "--rcfile".into(),
                rc.display().to_string(),
                "-i".into(),
            ]);
        }
        "zsh" | "zsh-subst" => {
            let subst = if name == "zsh-subst" {
                "setopt prompt_subst\n"
            } else {
                ""
            };
            std::fs::write(
                dir.join(".zshrc"),
                format!("{subst}PROMPT='{USER_PROMPT} {name}%# '\neval \"$(ocbar init zsh)\"\n"),
            )
            .unwrap();
            env.extend([
                format!("ZDOTDIR={}", dir.display()),
                shell("zsh"),
                "-i".into(),
            ]);
        }
        "fish" => {
            let conf = dir.join("config/fish");
            std::fs::create_dir_all(&conf).unwrap();
            std::fs::write(
                conf.join("config.fish"),
                format!(
                    "set -g fish_greeting\nfunction fish_prompt; printf '{USER_PROMPT} fish> '; end\nocbar init fish | source\n"
                ),
            )
            .unwrap();
            env.extend([
                format!("XDG_CONFIG_HOME={}", dir.join("config").display()),
                format!("XDG_DATA_HOME={}", dir.join("data").display()),
                shell("fish"),
                "-i".into(),
            ]);
        }
        other => panic!("no shell {other}"),
    }
    env
}

/// The last line of a screen that has the user's prompt on it.
fn prompt_line(screen: &str) -> Option<&str> {
    screen.lines().rev().find(|l| l.contains(USER_PROMPT))
}

/// Wait until the newest prompt line of every shell satisfies `pred`; returns the lines.
fn wait_prompts(tmux: &Tmux, what: &str, pred: impl Fn(&str) -> bool) -> Vec<String> {
    SHELLS
        .iter()
        .map(|name| {
            let screen =
                tmux.wait_screen(name, secs(30), what, |s| prompt_line(s).is_some_and(&pred));
            prompt_line(&screen).unwrap_or_default().to_string()
        })
        .collect()
}

/// A new prompt in every shell (an empty command line).
fn enter_all(tmux: &Tmux) {
    for name in SHELLS {
        tmux.keys(name, &["C-l"]);
        tmux.keys(name, &["Enter"]);
    }
}

#[test]
fn shell_prompts_show_titles_as_text_and_keep_the_users_prompt() {
    let env = Env::start(Options::default());
    let oc = &env.oc;
    let dir = oc.dir(0).to_path_buf();
    let (_tmp, t, bin) = scratch("ocbar-bars-shells-");
    let path = path_with(&bin);
    let cwd = t.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let pwned = cwd.join("pwned");

    let d = Daemon::start_with(
        &[&oc.url],
        &[],
        Some("[render]\nascii = true\ntitle_width = 0\n[notify]\nenabled = false\n"),
    );
    let tmux = Tmux::start(&[]);
    for name in SHELLS {
        let argv = shell_argv(name, &t.join("home"), &path, &d.socket);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        tmux.spawn(name, &cwd, &argv);
    }
    // Nothing relevant yet: the user's prompt alone, at the start of the line.
    for line in wait_prompts(&tmux, "the user's prompt", |l| l.contains(USER_PROMPT)) {
        assert!(line.starts_with(USER_PROMPT), "no segment yet: {line:?}");
    }

    // 1. `$(touch pwned)`: text in every prompt, nothing runs.
    let title = "$(touch pwned)";
    finish_and_show(oc, &dir, &d, &tmux, title);
    assert!(!pwned.exists(), "a prompt ran the title");
    prompts_picture(&tmux, &t, &cwd, &path, &d.socket, title);

    // 2. A backquoted command, zsh's colour sequence, a backslash and bash's `\u`.
    let title = "`touch pwned` %F{red}red%f \\u 100%";
    finish_and_show(oc, &dir, &d, &tmux, title);
    for name in ["zsh", "zsh-subst"] {
        let coloured = tmux.ok(&["capture-pane", "-p", "-e", "-t", name]);
        let line = prompt_line(&coloured).unwrap_or_default();
        assert!(
            !line.contains("\x1b[31m") && !line.contains("\x1b[91m"),
            "{name}: the title's %F{{red}} coloured the prompt: {line:?}"
        );
    }
    assert!(!pwned.exists(), "a prompt ran the title");

    // 3. The daemon down: the segment goes, the user's prompt stays.
    drop(d);
    enter_all(&tmux);
    for line in wait_prompts(&tmux, "the prompt without a daemon", |l| {
        !l.contains("touch pwned")
    }) {
        assert!(line.contains(USER_PROMPT), "{line:?}");
    }
    assert!(!pwned.exists(), "a prompt ran the title");
}

/// A session titled `title` finishes; then every shell's next prompt shows it, as text, in
/// front of (fish: right of) the user's own prompt.
fn finish_and_show(oc: &common::OpenCode, dir: &Path, d: &Daemon, tmux: &Tmux, title: &str) {
    let sid = oc.create_session(dir, Some(title));
    oc.prompt(dir, &sid, "quick");
    d.wait_state(title, "done", secs(40));
    enter_all(tmux);
    let lines = wait_prompts(tmux, &format!("the title {title:?}"), |l| l.contains(title));
    for (name, line) in SHELLS.iter().zip(&lines) {
        eprintln!("{name}: {line}");
        assert_segment_then_user_prompt(name, line, title);
    }
}

/// bash and zsh: `<segment> user-prompt…` on one line; fish: `user-prompt> … <segment>` (the
/// right prompt). The segment is the done mark and `title`, as text.
fn assert_segment_then_user_prompt(name: &str, line: &str, title: &str) {
    let at_title = line.find(title).expect("title on the line");
    let at_user = line.find(USER_PROMPT).expect("user prompt on the line");
    if name == "fish" {
        assert!(
            at_user < at_title,
            "fish: the user's prompt on the left, ocbar on the right: {line:?}"
        );
    } else {
        assert!(
            at_title < at_user,
            "{name}: ocbar's segment before the user's own prompt: {line:?}"
        );
        assert!(
            line.starts_with('+'),
            "{name}: the segment (ascii glyphs) starts the line: {line:?}"
        );
    }
}

/// The README's picture: bash, zsh and fish one above the other in a tmux window (its status
/// line off), drawn by `xterm` on a virtual X server. `tests/artifacts/prompts.png`; with
/// `OCBAR_UPDATE_DOCS=1` also `docs/prompts.png`.
fn prompts_picture(tmux: &Tmux, t: &Path, cwd: &Path, path: &str, socket: &Path, title: &str) {
    let home = t.join("home");
    let cwd_s = cwd.to_string_lossy();
    let argv = |name: &str| shell_argv(name, &home, path, socket);
    let mut args: Vec<String> = [
        "new-session",
        "-d",
        "-s",
        "picture",
        "-x",
        "90",
        "-y",
        "9",
        "-c",
    ]
    .map(String::from)
    .to_vec();
    args.push(cwd_s.to_string());
    args.push("--".into());
    args.extend(argv("bash"));
    tmux.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for name in ["zsh", "fish"] {
        let mut args: Vec<String> = ["split-window", "-v", "-t", "picture", "-c"]
            .map(String::from)
            .to_vec();
        args.push(cwd_s.to_string());
        args.push("--".into());
        args.extend(argv(name));
        tmux.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    tmux.ok(&["select-layout", "-t", "picture", "even-vertical"]);
    tmux.ok(&["set-option", "-t", "picture", "status", "off"]);
    tmux.ok(&[
        "set-option",
        "-t",
        "picture",
        "pane-border-style",
        "fg=colour238",
    ]);
    for pane in 0..3 {
        let target = format!("picture.{pane}");
        tmux.wait_screen(&target, secs(30), "the title in the picture", |s| {
            s.contains(title)
        });
    }
    let sock = tmux.ok(&["display-message", "-p", "-t", "picture", "#{socket_path}"]);
    let x = Display::start(1000, 400);
    let mut cmd = std::process::Command::new(require_tool("xterm"));
    cmd.args([
        "-geometry",
        "90x9+0+0",
        "-fa",
        "DejaVu Sans Mono",
        "-fs",
        "11",
        "-bg",
        "#1e1e2e",
        "-fg",
        "#cdd6f4",
        "-e",
    ])
    .arg(require_tool("tmux"))
    .args(["-S", sock.trim(), "attach", "-t", "picture"])
    .env_clear()
    .env("PATH", path)
    .env("LANG", "C.UTF-8")
    .env("DISPLAY", &x.name)
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let _xterm = KillOnDrop(spawn_owned(cmd).expect("start xterm"));
    let xdotool = require_tool("xdotool");
    let found = std::process::Command::new(&xdotool)
        .args(["search", "--sync", "--class", "xterm"])
        .env("DISPLAY", &x.name)
        .output()
        .expect("run xdotool");
    let window = String::from_utf8_lossy(&found.stdout)
        .split_whitespace()
        .next()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no xterm window: {found:?}"));
    // The window's size now, asked again on every look: found at once (`--sync`), xterm's
    // window may not have its final size yet, and a size read too early put the "lower third"
    // below the window (seen once under the full suite's load: "never drew").
    let size = || -> Option<(usize, usize)> {
        let out = std::process::Command::new(&xdotool)
            .args(["getwindowgeometry", "--shell", &window])
            .env("DISPLAY", &x.name)
            .output()
            .ok()?;
        let vars = String::from_utf8_lossy(&out.stdout).into_owned();
        let var = |k: &str| -> Option<usize> {
            vars.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.trim().parse().ok())
        };
        Some((var("WIDTH")?, var("HEIGHT")?))
    };
    // Drawn once most of the window is not the background: wait for text in its lower third.
    let ink_below = |px: &[u8], (w, h): (usize, usize)| {
        (h * 2 / 3..h).any(|y| {
            (0..w).any(|x| {
                let i = (y * 1000 + x) * 3;
                px.get(i..i + 3).is_some_and(|p| p[0] > 0x80)
            })
        })
    };
    let mut last_size = None;
    let drawn = wait_until(secs(20), || {
        let Some(wh) = size() else { return false };
        last_size = Some(wh);
        ink_below(&x.grab(), wh)
    });
    if !drawn {
        x.png(
            "1000x400+0+0",
            &artifacts_dir().join("prompts-not-drawn.png"),
        );
    }
    assert!(
        drawn,
        "xterm never drew the three prompts (its window's last size: {last_size:?}; the screen is \
         tests/artifacts/prompts-not-drawn.png)"
    );
    let (w, h) = last_size.unwrap_or((0, 0));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let png = artifacts_dir().join("prompts.png");
    x.png(&format!("{w}x{h}+0+0"), &png);
    update_doc_picture(&png, "prompts.png");
    tmux.ok(&["kill-session", "-t", "picture"]);
}
